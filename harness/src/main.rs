//! `faultline`: see the `harness` crate docs.

fn main() {
    // Piped into `head`, end quietly as Unix tools do instead of panicking on EPIPE.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(harness::cli::main());
}
