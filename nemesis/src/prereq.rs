//! Checks, before anything is created, that this machine can host a lab: the
//! privileges (CAP_NET_ADMIN and CAP_SYS_ADMIN, i.e. root or a user namespace) and
//! the tools (`ip` from iproute2, `nft` from nftables, `iptables`). A missing piece
//! is an error that says what to install or how to run rootless; never a skip.

use std::path::{Path, PathBuf};

use crate::error::{NemesisError, Result};

/// How to run without root, printed with every privilege error.
pub const ROOTLESS_HINT: &str = "run as root, or rootless inside a private user, network \
     and mount namespace where you are root: `unshare -Urnm --propagation private sh -c \
     'mount -t tmpfs none /run && exec faultline ...'` (needs \
     /proc/sys/user/max_user_namespaces > 0)";

/// A tool the lab runs, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

/// Tools every lab needs: namespaces and links, partitions and loss.
pub const LAB_TOOLS: &[Tool] =
    &[Tool { program: "ip", package: "iproute2" }, Tool { program: "nft", package: "nftables" }];

/// Tools the latency fault needs (the NFQUEUE rule is an xtables target).
pub const LATENCY_TOOLS: &[Tool] = &[Tool { program: "iptables", package: "iptables" }];

/// Where a program is found on `path_var` (a `PATH` value), if anywhere.
pub fn find_program(program: &str, path_var: &str) -> Option<PathBuf> {
    std::env::split_paths(path_var).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Whether the effective capability set holds CAP_NET_ADMIN (12) and
/// CAP_SYS_ADMIN (21), read from `/proc/self/status` (`CapEff:` line, hex).
pub fn has_admin_caps(status: &str) -> bool {
    const CAP_NET_ADMIN: u64 = 1 << 12;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & CAP_NET_ADMIN != 0 && caps & CAP_SYS_ADMIN != 0)
}

/// Checks privileges and `tools` against the given process status text and `PATH`;
/// pure so that tests can feed it a non-root status or an empty `PATH`.
pub fn check_with(status: &str, path_var: &str, tools: &[Tool]) -> Result<()> {
    let mut problems = Vec::new();
    if !has_admin_caps(status) {
        problems.push(format!(
            "the lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces: \
             {ROOTLESS_HINT}"
        ));
    }
    let missing: Vec<&Tool> =
        tools.iter().filter(|t| find_program(t.program, path_var).is_none()).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|t| t.program).collect();
        let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
        packages.dedup();
        problems.push(format!(
            "missing program(s) {} on PATH: install them with `apt-get install -y {}` \
             (they live in /usr/sbin: make sure it is on PATH)",
            names.join(", "),
            packages.join(" ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(NemesisError::Prerequisite(format!(
            "this machine cannot host a faultline lab: {}",
            problems.join("; ")
        )))
    }
}

/// Checks this process's privileges and `PATH` for `tools`.
pub fn check(tools: &[Tool]) -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| NemesisError::io("reading /proc/self/status", e))?;
    // The tools are run through PATH, so they are looked up there too (root's PATH on
    // Debian has /usr/sbin, where ip, nft and iptables live).
    let path = std::env::var("PATH").unwrap_or_default();
    check_with(&status, &path, tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "Name:\ttest\nCapEff:\t000001fffeffffff\n";
    const NOBODY: &str = "Name:\ttest\nCapEff:\t0000000000000000\n";

    #[test]
    fn root_with_tools_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        for t in LAB_TOOLS {
            let p = dir.path().join(t.program);
            std::fs::write(&p, "#!/bin/sh\n").expect("write");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let path = dir.path().to_string_lossy().into_owned();
        assert!(check_with(ROOT, &path, LAB_TOOLS).is_ok());
    }

    #[test]
    fn non_root_is_told_how_to_run_rootless() {
        let err = check_with(NOBODY, "/usr/sbin:/usr/bin:/sbin:/bin", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("CAP_NET_ADMIN"), "{msg}");
        assert!(msg.contains("unshare -Urnm"), "{msg}");
    }

    #[test]
    fn missing_nft_names_the_package() {
        let err = check_with(ROOT, "/nonexistent", LAB_TOOLS).unwrap_err().to_string();
        assert!(err.contains("apt-get install -y iproute2 nftables"), "{err}");
    }
}
