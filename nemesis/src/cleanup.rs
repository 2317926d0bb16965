//! Cleanup that always happens.
//!
//! - Normal end, error and panic: [`crate::Lab`]'s `Drop` tears the lab down.
//! - SIGINT / SIGTERM / SIGHUP: a handler (installed once, with the first lab)
//!   writes the signal number into a pipe; a watcher thread reads it, tears down
//!   every live lab of this process, then restores the default action and re-raises
//!   the signal so the process ends as the signal says; unless the embedding
//!   program said it handles them from now on ([`leave_signals_to_caller`]).
//! - SIGKILL cannot be caught: the next lab created on this machine (or `faultline
//!   lab down --stale`) sweeps labs whose marker names a dead owner.
//!
//! Teardown only removes what the marker lists: the processes it spawned (checked
//! by start time), then its namespaces (which takes their veths, nftables tables and
//! iptables rules with them), then the marker itself.

use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::error::{NemesisError, Result};
use crate::exec;
use crate::lab::LabInner;
use crate::netns::ns_path;
use crate::process::{signal_checked, wait_gone};
use crate::state::{LabState, list_labs};

/// Labs alive in this process, torn down by the signal watcher.
static LIVE: Mutex<Vec<Weak<LabInner>>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
/// Write end of the signal pipe (set once, read by the async-signal-safe handler).
static PIPE_WRITE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Set when the embedding program handles signals itself.
static WATCHER_DISABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For programs that handle SIGINT / SIGTERM themselves (to finish writing a
/// history, say): call before creating the first lab, and call
/// [`teardown_all_live`] from your own handling before exiting.
pub fn disable_signal_watcher() {
    WATCHER_DISABLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Set once the embedding program handles SIGINT / SIGTERM itself.
static LEFT_TO_CALLER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on the watcher leaves SIGINT / SIGTERM / SIGHUP to the embedding
/// program, which must tear its labs down itself (drop them). For a program that
/// starts handling signals once a lab exists, as `faultline test` does when its run
/// begins (it heals, tears down, then writes its results): without this the watcher
/// would end the process first. Call it after the program's own handler is in place,
/// so no signal falls between the two. One way: signal-hook-based handlers (tokio's)
/// stay installed for the life of the process.
pub fn leave_signals_to_caller() {
    LEFT_TO_CALLER.store(true, std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn register(lab: &Arc<LabInner>) {
    if !WATCHER_DISABLED.load(std::sync::atomic::Ordering::SeqCst) {
        install_signal_watcher();
    }
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(lab));
}

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

fn install_signal_watcher() {
    INSTALL.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid two-element array for pipe(2).
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            eprintln!("faultline: cannot create the signal pipe; Ctrl-C will not clean up");
            return;
        }
        PIPE_WRITE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
        let read_fd = fds[0];
        let spawned =
            std::thread::Builder::new().name("faultline-signals".into()).spawn(move || {
                let mut byte = 0u8;
                loop {
                    // SAFETY: reading one byte into a live local from our own pipe.
                    let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
                    if n != 1 {
                        return;
                    }
                    if !LEFT_TO_CALLER.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                }
                let signal = Signal::try_from(byte as i32).unwrap_or(Signal::SIGTERM);
                eprintln!("faultline: got {signal}, removing the lab(s) before exiting");
                teardown_all_live();
                // SAFETY: restoring the default disposition, then re-raising, so the exit
                // status says which signal ended us.
                unsafe {
                    let _ = nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl);
                }
                let _ = nix::sys::signal::raise(signal);
                std::process::exit(128 + signal as i32);
            });
        if spawned.is_err() {
            eprintln!("faultline: cannot start the signal watcher; Ctrl-C will not clean up");
            return;
        }
        for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            let action = nix::sys::signal::SigAction::new(
                nix::sys::signal::SigHandler::Handler(on_signal),
                nix::sys::signal::SaFlags::SA_RESTART,
                nix::sys::signal::SigSet::empty(),
            );
            // SAFETY: the handler only calls write(2) on a pipe.
            unsafe {
                let _ = nix::sys::signal::sigaction(signal, &action);
            }
        }
    });
}

/// Removes every lab of this process that is still alive (what the signal
/// watcher does before the process dies).
pub fn teardown_all_live() {
    let labs: Vec<Arc<LabInner>> = {
        let live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.iter().filter_map(Weak::upgrade).collect()
    };
    for lab in labs {
        if let Err(e) = lab.teardown() {
            eprintln!("faultline: cleanup of lab {}: {e}", lab.prefix());
        }
    }
}

/// What a teardown removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TeardownReport {
    pub prefix: String,
    pub killed_pids: Vec<u32>,
    pub deleted_namespaces: Vec<String>,
}

/// Removes everything `state` lists: its processes (those still the processes we
/// started), its namespaces, its marker directory. `reap` waits for children this
/// process owns so none stays a zombie.
pub(crate) fn teardown_state(
    state: &LabState,
    mut reap: impl FnMut(usize) -> Option<std::process::Child>,
) -> Result<TeardownReport> {
    let mut report = TeardownReport { prefix: state.prefix.clone(), ..Default::default() };
    // Go on after a failure: the namespaces and the marker should still go, and
    // the first problem is reported at the end.
    let mut first_error: Option<NemesisError> = None;
    for p in &state.processes {
        let Some(pid) = p.pid else { continue };
        // SIGCONT first so stopped helpers in its group are reaped promptly too.
        let _ = signal_checked(pid, p.start_time, Signal::SIGCONT);
        match signal_checked(pid, p.start_time, Signal::SIGKILL) {
            Ok(true) => report.killed_pids.push(pid),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        let mut child = reap(p.id);
        if !wait_gone(pid, p.start_time, child.as_mut(), Duration::from_secs(5)) {
            first_error.get_or_insert(NemesisError::Invalid(format!(
                "pid {pid} of lab {} did not die after SIGKILL",
                state.prefix
            )));
        }
    }
    let existing: Vec<String> = state
        .namespaces()
        .into_iter()
        .filter(|ns| std::path::Path::new(&ns_path(ns)).exists())
        .collect();
    if !existing.is_empty() {
        let script: String = existing.iter().map(|ns| format!("netns del {ns}\n")).collect();
        if let Err(e) = exec::ip_batch(None, &script) {
            // A concurrent sweep may have removed some first: only what is still there
            // is a failure.
            if existing.iter().any(|ns| std::path::Path::new(&ns_path(ns)).exists()) {
                return Err(e);
            }
        }
        report.deleted_namespaces = existing;
    }
    let dir = state.dir();
    if let Some(e) = first_error {
        // Keep the marker: a later sweep or `lab down` can try again.
        return Err(e);
    }
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(NemesisError::io(format!("removing {}", dir.display()), e)),
    }
    Ok(report)
}

/// Removes a lab by its marker alone (for `lab down` on a lab whose namespaces
/// were partly removed by hand).
pub fn remove_by_marker(state: &LabState) -> Result<TeardownReport> {
    teardown_state(state, |_| None)
}

/// Removes every lab on this machine whose marker names a dead owner process.
/// Labs of live processes, labs brought up by hand, and anything without a readable
/// marker are left alone (unreadable markers are returned as errors to show).
pub fn sweep_stale() -> (Vec<TeardownReport>, Vec<NemesisError>) {
    let (labs, mut errors) = list_labs();
    let mut swept = Vec::new();
    for state in labs.into_iter().filter(|s| s.owner.is_dead()) {
        match teardown_state(&state, |_| None) {
            Ok(report) => swept.push(report),
            Err(e) => errors.push(e),
        }
    }
    (swept, errors)
}
