//! A run directory as a `.tar.gz` (tar + flate2's pure-Rust miniz_oxide backend),
//! for attaching to a bug report. The archive holds one top-level folder named
//! after the run, so it unpacks to a copy of the run directory. Symbolic links are
//! stored as links, never followed, so nothing outside the run gets in.

use std::io;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// The gzipped tar of `dir`, with its contents under `top/`.
pub fn tar_gz(dir: &Path, top: &str) -> io::Result<Vec<u8>> {
    let gz = GzEncoder::new(Vec::new(), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(top, dir)?;
    tar.into_inner()?.finish()
}
