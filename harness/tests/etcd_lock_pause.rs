//! etcd's lock (lease + txn, fenced by the lock key's revision) under process pauses
//! (needs etcd: scripts/install-deps installs it), on both sides of the lease: Jepsen's
//! 2020 finding (etcd issue 11457) and its control.
//!
//! **Pauses longer than the lease** (the default 2 s lease, 10 s pauses): a holder
//! whose member is paused, or cut off from a quorum by a paused majority, for longer
//! than the lease keeps believing it holds the lock after etcd expired the lease and
//! granted the key to someone else; the `session-lock` checker (with the fenced-lock
//! rule) finds two holders at once. Measured by hand (debug build, 2 loaded cores;
//! 60 s, 30 workers at 3 ops/s so holds last seconds, `--nemesis pause
//! --nemesis-interval 10`): 5 of 6 runs invalid (seeds 301-306). E.g. seed 303: p26
//! took key 0 through n3 at 2.83 s (token 5), n3 was paused from 10.59 s to 21.24 s
//! (10.7 s), p27 took key 0 at 14.54 s (token 12), and p26 released only at 16.09 s;
//! seed 301: p7 held key 1 through n2 while n1 and n3 were paused for 11.1 s (n2 alone
//! cannot renew a lease), p18 took it at 21.46 s, p7 released at 21.77 s. The three
//! runs here go in parallel; one invalid is enough (a run is valid when no holder
//! happened to sit across a pause); by hand they were 3 of 3 invalid.
//!
//! **Pauses shorter than the lease** (the control): the same workload with
//! `--lease-ttl 10` and `--nemesis-interval 2` (each pause 2 s, then heal-all, then
//! 2 s of quiet). "Shorter" is checked, not hoped for: the test measures each pause
//! from the history, from the pause's invocation to the completion of the heal-all
//! that resumed it (an upper bound on how long any member was frozen, heal-all's own
//! verification included), and requires every one to be under the lease, and
//! requires holds that certainly spanned a whole pause (acquired before it began,
//! released after it ended), so the control exercised what it claims. Measured by
//! hand (debug build, 2 loaded cores shared with another build, 60 s, four runs at a
//! time): valid in 13 of 13 runs (seeds 501 and 503-510 by hand, and 501-502 twice
//! inside this test beside the three long-pause runs, which stayed 6 of 6 invalid);
//! every run had 15 pauses, the longest window 3.64-3.73 s (heal-all takes up to
//! 1.7 s) against
//! the 10 s lease, 10-15 holds and 16-25 (hold, pause) pairs where the hold spanned
//! the whole pause. The two control runs go beside the three runs above (distinct
//! `loopback_net`), so they add no wall time (the test took 68.7 s and 67.8 s).
//!
//! Shorter pauses on the 2 s lease, by hand (not in CI): `--nemesis-interval 0.3`:
//! 3 of 3 runs valid (seeds 401-403, 40 s, 10 workers at 3 ops/s); at
//! `--nemesis-interval 1` 5 of 5 invalid: there heal-all completed up to 2.7 s after
//! pauses of all three nodes, so those pauses were not shorter than the lease. That
//! is why the control takes a longer lease rather than shorter pauses.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::thread;

use harness::commands::test::run_test;
use harness::exit::Exit;
use harness::options::TestArgs;
use harness::store;
use history::{Op, OpKind, Process};

/// The lease of the control runs, and their pause rhythm (each pause lasts this
/// interval, then heal-all).
const CONTROL_LEASE_S: u64 = 10;
const CONTROL_INTERVAL_S: f64 = 2.0;

/// A pause window: from a pause's invocation to the completion of the heal-all after
/// it (or the history's end), in ns.
fn pause_windows(ops: &[Op]) -> Vec<(u64, u64)> {
    let mut windows = Vec::new();
    let mut open = None;
    for op in ops.iter().filter(|o| o.process == Process::Nemesis) {
        match (op.f.as_str(), op.kind) {
            ("pause", OpKind::Invoke) => open = open.or(Some(op.time_ns)),
            ("heal-all", k) if k != OpKind::Invoke => {
                if let Some(start) = open.take() {
                    windows.push((start, op.time_ns));
                }
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        windows.push((start, ops.last().map_or(start, |o| o.time_ns)));
    }
    windows
}

/// Holds that certainly spanned a whole pause window: `(acquired, released)`, from
/// the ok acquire's completion to the next release's invocation by the same process
/// on the same key.
fn holds(ops: &[Op]) -> Vec<(u64, u64)> {
    let mut invoked: HashMap<u64, &Op> = HashMap::new();
    let mut held: HashMap<(u64, String), u64> = HashMap::new();
    let mut out = Vec::new();
    for op in ops {
        let Process::Client(p) = op.process else { continue };
        if op.kind == OpKind::Invoke {
            invoked.insert(p, op);
            continue;
        }
        let Some(inv) = invoked.remove(&p) else { continue };
        let key = (p, format!("{:?}", op.key));
        match (op.f.as_str(), op.kind) {
            ("acquire", OpKind::Ok) => {
                held.insert(key, op.time_ns);
            }
            ("release", _) => {
                if let Some(at) = held.remove(&key) {
                    out.push((at, inv.time_ns));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn etcd_lock_is_unsafe_exactly_when_pauses_outlast_the_lease() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let lock_run = |net: u8, seed: u64| {
        let mut args = common::args("etcd", dir.path(), net);
        args.workload = "lock".into();
        args.nemesis = vec!["pause".into()];
        args.concurrency = 30;
        args.rate = 3.0;
        args.time_limit = 60.0;
        args.seed = Some(seed);
        args
    };
    let spawn = |args: TestArgs| thread::spawn(move || run_test(args).map_err(|f| f.message));
    let long: Vec<_> = [301, 303, 304]
        .into_iter()
        .enumerate()
        .map(|(i, seed)| {
            let mut args = lock_run(150 + i as u8, seed);
            args.nemesis_interval = 10.0;
            spawn(args)
        })
        .collect();
    let short: Vec<_> = [501, 502]
        .into_iter()
        .enumerate()
        .map(|(i, seed)| {
            let mut args = lock_run(153 + i as u8, seed);
            args.nemesis_interval = CONTROL_INTERVAL_S;
            args.lease_ttl = Some(CONTROL_LEASE_S);
            spawn(args)
        })
        .collect();
    let finish = |handles: Vec<thread::JoinHandle<Result<(Exit, PathBuf), String>>>| {
        handles
            .into_iter()
            .map(|h| {
                let (exit, run) = h.join().expect("no panic").expect("the run completes");
                let r: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap(),
                )
                .unwrap();
                let why = r["explanation"].as_str().unwrap_or_default().to_string();
                (exit, run, why)
            })
            .collect::<Vec<_>>()
    };
    let long = finish(long);
    let short = finish(short);

    let mut seen = Vec::new();
    for (exit, run, why) in &long {
        assert!(matches!(exit, Exit::Valid | Exit::Invalid), "{}: {exit:?} {why}", run.display());
        if *exit == Exit::Invalid {
            // The second grant cannot be linearized while the first holder still holds.
            assert!(why.contains("acquire returning fencing token"), "{why}");
            assert!(why.contains("leaves the lock at held"), "{why}");
        }
        seen.push((*exit, why.clone()));
    }
    let invalid = seen.iter().filter(|(e, _)| *e == Exit::Invalid).count();
    eprintln!(
        "etcd lock, pauses of 10 s against a 2 s lease: {invalid} of {} runs invalid",
        seen.len()
    );
    assert!(invalid >= 1, "no run found two holders: {seen:?}");

    for (exit, run, why) in &short {
        let read = history::read_path(&run.join(store::HISTORY), None)
            .unwrap_or_else(|e| panic!("{}: {e}", run.display()));
        let ops = &read.history.ops;
        let windows = pause_windows(ops);
        let longest = windows.iter().map(|(a, b)| b - a).max().unwrap_or(0);
        let spanning: usize = holds(ops)
            .iter()
            .map(|(acq, rel)| windows.iter().filter(|(p0, p1)| acq < p0 && rel > p1).count())
            .sum();
        eprintln!(
            "etcd lock, {CONTROL_LEASE_S} s lease, {} pauses, the longest {:.2} s, {spanning} \
             (hold, pause) pairs spanning one: {exit:?}",
            windows.len(),
            longest as f64 / 1e9
        );
        assert!(windows.len() >= 5, "{}: only {} pauses", run.display(), windows.len());
        assert!(
            longest < CONTROL_LEASE_S * 1_000_000_000,
            "{}: a pause window of {:.2} s is not shorter than the {CONTROL_LEASE_S} s lease",
            run.display(),
            longest as f64 / 1e9
        );
        assert!(spanning >= 1, "{}: no hold spanned a whole pause", run.display());
        assert_eq!(*exit, Exit::Valid, "{}: pauses shorter than the lease: {why}", run.display());
    }
}
