//! `faultline-node`: the builtin Consul-like node. See the `node` crate docs for the API,
//! the read modes and the bug switches; `faultline-node --help` for the flags.

use clap::Parser;
use node::config::NodeArgs;
use node::config::NodeConfig;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .init();
    let args = NodeArgs::parse();
    let cfg = match NodeConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("faultline-node: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("faultline-node: cannot start the runtime: {e}");
                return std::process::ExitCode::from(1);
            }
        };
    match rt.block_on(node::server::run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline-node: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
