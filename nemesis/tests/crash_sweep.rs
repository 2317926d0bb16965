//! After a run is killed with SIGKILL (no handler can run), its lab stays until
//! a sweep finds its marker naming a dead owner and removes everything it lists.
//! Alone in its test binary so that no other lab creation (which sweeps too) can
//! race it. Needs root, iproute2 and nftables.

mod common;

use common::held::{hold_lab, signal_and_wait};
use nix::sys::signal::Signal;

#[test]
fn sigkill_leaves_leftovers_that_the_sweep_removes() {
    let mut held = hold_lab(3);
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
