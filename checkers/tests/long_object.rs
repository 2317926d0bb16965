//! One object, a long history: the search's memory follows the operations still
//! concurrent, not the length of the history (the linearized set is stored as a
//! window above a fixed prefix). Sizes here are small enough for an unoptimized CI
//! build; `benches/long_object.rs` runs the million-operation versions.

#[path = "support/long.rs"]
mod long;

use checkers::registry::{self, CheckerOptions};
use checkers::{Outcome, Verdict};
use long::Object;

fn check(model: &str, object: Object, ops: usize, concurrency: usize, seq: bool) -> Outcome {
    let h = long::history(object, ops, concurrency, seq, 7).lint().expect("well-formed");
    let options = CheckerOptions { threads: Some(1), ..CheckerOptions::default() };
    registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { initial: None, ..options })
        .unwrap()
        .check(&h)
        .expect("checkable")
}

/// Before the window, this history needed 25 KB per cache entry and gave up with
/// "memory limit of 4096 MB reached" after 1.5 s.
#[test]
fn sequential_register_of_200k_ops_is_valid_in_little_memory() {
    let out = check("register", Object::Register, 200_000, 50, true);
    assert_eq!(out.verdict, Verdict::Valid, "{}", out.reason);
    // every entry's window is a word or two: a few tens of bytes per operation
    let per_op = out.stats.counter("peak_cache_bytes") as f64 / 200_000.0;
    eprintln!(
        "200k sequential: {:?}, peak cache {} bytes ({per_op:.1} per op)",
        out.stats.elapsed,
        out.stats.counter("peak_cache_bytes")
    );
    assert!(per_op < 100.0, "{per_op} cache bytes per op");
}

#[test]
fn concurrent_objects_of_100k_ops_are_valid_in_little_memory() {
    // Registers at concurrency 10: at 50, one register is still exponential for
    // the WGL search at some points of long histories (see benches/long_object.rs).
    for (model, object, concurrency) in [
        ("register", Object::Register, 10),
        ("cas-register", Object::Register, 10),
        ("mutex", Object::Mutex, 50),
        ("session-lock", Object::Mutex, 50),
        ("fenced-lock", Object::FencedLock, 50),
    ] {
        let out = check(model, object, 100_000, concurrency, false);
        assert_eq!(out.verdict, Verdict::Valid, "{model}: {}", out.reason);
        let per_op = out.stats.counter("peak_cache_bytes") as f64 / 100_000.0;
        eprintln!(
            "{model} c{concurrency}: {:?}, {} steps, peak cache {per_op:.1} bytes per op",
            out.stats.elapsed,
            out.stats.counter("steps")
        );
        assert!(per_op < 400.0, "{model}: {per_op} cache bytes per op");
    }
}

/// The simulated histories are not trivially valid: break one and it is caught.
#[test]
fn a_broken_long_history_is_invalid() {
    let mut h = long::history(Object::Register, 100_000, 10, false, 7);
    // make a late read return a value nobody wrote
    let at = h.ops.iter().rposition(|o| o.f == "read" && o.kind == history::OpKind::Ok).unwrap();
    h.ops[at].value = 99.into();
    let options = CheckerOptions { threads: Some(1), ..CheckerOptions::default() };
    let out = registry::by_name("register")
        .unwrap()
        .checker(&CheckerOptions { initial: None, ..options })
        .unwrap()
        .check(&h.lint().unwrap())
        .unwrap();
    assert_eq!(out.verdict, Verdict::Invalid, "{}", out.reason);
    // a lock held twice
    let mut h = long::history(Object::Mutex, 100_000, 50, false, 7);
    let at =
        h.ops.iter().rposition(|o| o.f == "release" && o.kind == history::OpKind::Invoke).unwrap();
    h.ops[at].f = "acquire".into();
    let process = h.ops[at].process;
    if let Some(done) = h.ops[at + 1..].iter_mut().find(|o| o.process == process) {
        done.f = "acquire".into();
    }
    let out = registry::by_name("mutex")
        .unwrap()
        .checker(&CheckerOptions { initial: None, ..options_one() })
        .unwrap()
        .check(&h.lint().unwrap())
        .unwrap();
    assert_eq!(out.verdict, Verdict::Invalid, "{}", out.reason);
}

fn options_one() -> CheckerOptions {
    CheckerOptions { threads: Some(1), ..CheckerOptions::default() }
}

/// Diagnostic, not a requirement: `PROBE=model:ops:concurrency cargo test --release
/// --test long_object probe -- --ignored --nocapture` prints what a check costs.
#[test]
#[ignore]
fn probe() {
    let spec = std::env::var("PROBE").unwrap_or_else(|_| "register:10000:10".into());
    let parts: Vec<&str> = spec.split(':').collect();
    let model: &str = registry::by_name(parts[0]).unwrap().name;
    let object = match model {
        "register" | "cas-register" => Object::Register,
        "fenced-lock" => Object::FencedLock,
        _ => Object::Mutex,
    };
    let (ops, conc) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
    let h = long::history(object, ops, conc, false, 7).lint().unwrap();
    let options = CheckerOptions {
        threads: Some(1),
        time_limit: std::env::var_os("NOLIMIT")
            .is_none()
            .then(|| std::time::Duration::from_secs(20)),
        ..CheckerOptions::default()
    };
    let out = registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { initial: None, ..options })
        .unwrap()
        .check(&h)
        .unwrap();
    eprintln!(
        "{spec}: {} ({}) in {:?}, {} steps, {} entries, peak cache {} KB",
        out.verdict,
        out.reason,
        out.stats.elapsed,
        out.stats.counter("steps"),
        out.stats.counter("cache_entries"),
        out.stats.counter("peak_cache_bytes") >> 10
    );
}
