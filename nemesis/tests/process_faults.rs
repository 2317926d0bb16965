//! Kill, pause, resume, graceful stop and restart, observed on echo servers in a
//! real lab; then the nemesis's targets (majority, primaries) and heal-all.
//! Needs root and iproute2 / nftables.

mod common;

use std::time::Duration;

use nemesis::clock::ClockSupport;
use nemesis::families::kill::Kill;
use nemesis::families::pause::Pause;
use nemesis::inject::{Nemesis, Outcome};
use nemesis::schedule::{FaultParams, Target};

#[test]
fn kill_pause_resume_stop_restart_on_echo_servers() {
    let e = common::echo_lab(2);
    let (lab, h) = (&e.lab, e.echo[0]);
    let pid = lab.pid(h).expect("running");
    // The pid is the server itself (ip netns exec execs in place), inside the node's namespace.
    assert_eq!(common::ask_from_switch(lab, 0, "pid"), Some(pid.to_string()));
    let ns_link = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link");
    let inode = nemesis::netns::ns_inode(&lab.node_ns(0).expect("ns")).expect("inode");
    assert_eq!(ns_link.to_string_lossy(), format!("net:[{inode}]"));

    assert!(lab.pause(h).expect("pause"));
    assert!(lab.is_paused(h));
    assert_eq!(common::ask_from_switch(lab, 0, "ping"), None, "a paused server answered");
    assert_eq!(
        common::ask_from_switch(lab, 1, "ping").as_deref(),
        Some("ping"),
        "n2 is not paused"
    );
    assert!(lab.resume(h).expect("resume"));
    common::wait_answering(lab, 0);

    assert!(lab.kill(h).expect("kill"));
    assert_eq!(lab.pid(h), None);
    assert!(nemesis::state::proc_start_time(pid).is_none(), "killed pid {pid} still exists");
    assert_eq!(common::ask_from_switch(lab, 0, "ping"), None, "a killed server answered");
    assert!(!lab.kill(h).expect("second kill"), "killing a dead process reports false");

    assert!(lab.restart(h).expect("restart"));
    common::wait_answering(lab, 0);
    let new_pid = lab.pid(h).expect("restarted");
    assert_ne!(new_pid, pid);
    assert_eq!(common::ask_from_switch(lab, 0, "pid"), Some(new_pid.to_string()));

    // Graceful stop: the echo server dies of SIGTERM well within the grace period.
    assert!(lab.stop(h, Duration::from_secs(5)).expect("stop"));
    assert_eq!(lab.pid(h), None);
    assert!(lab.restart(h).expect("restart after stop"));
    common::wait_answering(lab, 0);
    common::destroy_and_check(e);
}

#[test]
fn nemesis_targets_then_heal_all_brings_everyone_back() {
    let e = common::echo_lab(5);
    let nemesis =
        Nemesis::new(e.lab.clone(), ClockSupport::Unsupported { reason: "test".into() }, 9);
    let answering = |lab: &nemesis::Lab| -> Vec<bool> {
        (0..5).map(|n| common::ask_from_switch(lab, n, "ping").is_some()).collect()
    };

    let report = nemesis
        .apply(&Kill { target: Target::Majority, nodes: None }.fault(), &[])
        .expect("kill majority");
    let resolved = report.fault.as_ref().map(Kill::of);
    let Some(Ok(Kill { nodes: Some(killed), .. })) = &resolved else { panic!("{report:?}") };
    assert_eq!(killed.len(), 3);
    assert!(killed.iter().all(|n| report.nodes[n] == Outcome::Installed), "{report:?}");
    let up = answering(&e.lab);
    for n in 0..5 {
        assert_eq!(up[n], !killed.contains(&n), "n{} after killing {killed:?}: {up:?}", n + 1);
    }
    nemesis.heal_all().expect("heal");
    for n in 0..5 {
        common::wait_answering(&e.lab, n);
    }

    let report = nemesis
        .apply(&Pause { target: Target::Primaries, nodes: None }.fault(), &[3])
        .expect("pause primaries");
    assert_eq!(report.nodes.keys().copied().collect::<Vec<_>>(), vec![3]);
    assert!(e.lab.is_paused(e.echo[3]));
    assert_eq!(answering(&e.lab), vec![true, true, true, false, true]);
    nemesis.heal_all().expect("heal");
    assert!(!e.lab.is_paused(e.echo[3]));
    common::wait_answering(&e.lab, 3);

    // A node without processes is skipped, and says so.
    let report = nemesis
        .apply(&Kill { target: Target::Nodes(vec![0]), nodes: None }.fault(), &[])
        .expect("kill n1");
    assert_eq!(report.nodes[&0], Outcome::Installed);
    let again = nemesis
        .apply(&Kill { target: Target::Nodes(vec![0]), nodes: None }.fault(), &[])
        .expect("kill n1 again");
    assert!(matches!(again.nodes[&0], Outcome::Skipped(_)), "{again:?}");
    nemesis.heal_all().expect("heal");
    common::wait_answering(&e.lab, 0);
    common::destroy_and_check(e);
}

#[test]
fn nodes_start_with_no_signal_blocked_whatever_the_spawner_blocks() {
    use nix::sys::signal::{SigSet, Signal};
    let e = common::echo_lab(1);
    // A command holding a fault blocks SIGTERM (to heal before it exits); the nodes
    // it restarts must still die of a graceful stop.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.thread_block().expect("block");
    let restarted = e.lab.kill(e.echo[0]).and_then(|_| e.lab.restart(e.echo[0]));
    term.thread_unblock().expect("unblock");
    assert!(restarted.expect("restart"));
    let pid = e.lab.pid(e.echo[0]).expect("running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let blocked = status.lines().find_map(|l| l.strip_prefix("SigBlk:")).expect("SigBlk");
    assert_eq!(u64::from_str_radix(blocked.trim(), 16).ok(), Some(0), "{status}");
    common::destroy_and_check(e);
}
