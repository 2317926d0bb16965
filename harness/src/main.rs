//! `faultline`: see the `harness` crate docs.

fn main() {
    std::process::exit(harness::cli::main());
}
