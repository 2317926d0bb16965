//! `faultline serve [--store DIR] [--port P] [--bind ADDR]`: the web UI over a
//! store (see `results::serve`), until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::exit::{CmdResult, Exit, Failure};

pub fn serve(store: &Path, bind: IpAddr, port: u16) -> CmdResult {
    if !store.is_dir() {
        return Err(Failure::bad_input(format!(
            "{}: no such store directory (runs are stored by `faultline test --store DIR`)",
            store.display()
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::crash(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        let addr = SocketAddr::new(bind, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::bad_input(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().map_err(Failure::crash)?;
        println!("serving {} at http://{local}/ (Ctrl-C to stop)", store.display());
        tokio::select! {
            r = results::serve::serve(store.to_path_buf(), listener) => {
                r.map_err(|e| Failure::crash(format!("the web server stopped: {e}")))
            }
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(Exit::Valid)
}
