//! After a run is killed with SIGKILL (no handler can run), its lab stays until
//! a sweep finds its marker naming a dead owner and removes everything it lists.
//! Its marker lives in a private run directory, so that no other lab creation on
//! the machine (which sweeps too) can race this test's sweep; alone in its test
//! binary because it sets that directory for the whole process. Needs root,
//! iproute2 and nftables.

mod common;

use common::held::{hold_lab_in, signal_and_wait};
use nix::sys::signal::Signal;

#[test]
fn sigkill_leaves_leftovers_that_the_sweep_removes() {
    let run_dir = tempfile::tempdir().expect("run dir");
    // SAFETY: this binary's only test sets it before starting any thread of its own.
    unsafe { std::env::set_var("FAULTLINE_RUN_DIR", run_dir.path()) };
    let mut held = hold_lab_in(3, Some(run_dir.path()));
    signal_and_wait(&mut held, Signal::SIGKILL);
    // SIGKILL cannot be caught: everything is still there...
    assert!(std::path::Path::new(&format!("/run/netns/{}-n1", held.prefix)).exists());
    assert!(held.pids.iter().all(|&p| nemesis::state::proc_start_time(p).is_some()));
    // ...until a sweep, which finds the marker of a dead owner.
    let (swept, errors) = nemesis::cleanup::sweep_stale();
    let ours = swept.iter().find(|r| r.prefix == held.prefix);
    assert!(ours.is_some(), "sweep missed {}: swept {swept:?}, errors {errors:?}", held.prefix);
    let ours = ours.expect("checked");
    assert_eq!(ours.deleted_namespaces.len(), 4);
    assert_eq!(ours.killed_pids.len(), 3);
    common::assert_gone(&held.prefix, &held.pids);
}
