//! Entering a lab's network namespaces from inside this process.
//!
//! `setns` moves only the calling thread, so every helper here runs its work on a
//! fresh thread that joins the namespace first and then binds or connects its
//! sockets: the harness's clients use this to talk to nodes from the switch
//! namespace (or a client namespace), the nemesis to probe links and to run its
//! packet delayer next to a node's netfilter queue.
//!
//! Threads inherit the namespace of the thread that creates them, and sockets
//! keep the namespace they were created in: a current-thread tokio runtime driven
//! on such a thread opens every socket inside the namespace.

use std::fs::File;
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, setns};

use crate::error::{NemesisError, Result};

/// The file `ip netns` keeps for a named namespace.
pub fn ns_path(name: &str) -> String {
    format!("/run/netns/{name}")
}

/// Moves the calling thread into network namespace `name`. Only for threads this
/// crate or its callers created for the purpose; use [`spawn_in`] or [`run_in`].
pub fn enter(name: &str) -> Result<()> {
    let path = ns_path(name);
    let file = File::open(&path).map_err(|e| NemesisError::io(format!("opening {path}"), e))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| NemesisError::io(format!("setns into {path}"), e.into()))
}

/// Spawns a thread that runs `f` inside namespace `name`. The thread fails with the
/// namespace error before `f` runs if it cannot enter.
pub fn spawn_in<T, F>(name: &str, f: F) -> JoinHandle<Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = name.to_string();
    std::thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || {
            enter(&name)?;
            Ok(f())
        })
        .unwrap_or_else(|e| {
            // Thread creation only fails when the process is out of resources; report it
            // through the handle instead of panicking.
            let err = NemesisError::io("spawning a namespace thread", e);
            std::thread::spawn(move || Err(err))
        })
}

/// Runs `f` inside namespace `name` on a helper thread and waits for its result.
pub fn run_in<T, F>(name: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match spawn_in(name, f).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The inode that identifies namespace `name` (what `/proc/<pid>/ns/net` links to),
/// used to check that a recorded pid still lives in the namespace we gave it.
pub fn ns_inode(name: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(ns_path(name)).ok().map(|m| m.ino())
}
