//! `faultline replay RUN_DIR`: runs a test again with the options and seed of an
//! earlier run, then checks that the replay generated the same operations (and the
//! same fault schedule) as the original.
//!
//! Timing differs between runs, so each worker may get to issue a different number
//! of operations; what must agree is *which* operations: for every worker, the
//! shorter of the two main-phase sequences must be a prefix of the longer one.
//! A worker's operations are those of its processes (`process mod concurrency`,
//! since a worker takes process `p + concurrency` after an `info`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use history::{OpKind, Process, Value};

use crate::commands::analyze::read_record;
use crate::controller::run_test;
use crate::exit::{CmdResult, Failure};
use crate::options::TestArgs;
use crate::runtime::worker::FINAL_PHASE;
use crate::store::{self, RunDir};

/// One generated operation, as replay compares it: (f, key, value).
pub type Generated = (String, Option<Value>, Value);

/// The main-phase invocations of each worker, in order.
pub fn generated_ops(
    history: &Path,
    concurrency: usize,
) -> Result<BTreeMap<u64, Vec<Generated>>, Failure> {
    let read =
        history::read_path(history, Some(history::Format::Jsonl)).map_err(Failure::bad_input)?;
    let mut by_worker: BTreeMap<u64, Vec<Generated>> = BTreeMap::new();
    for op in read.history.ops {
        let Process::Client(p) = op.process else { continue };
        if op.kind != OpKind::Invoke
            || op.extra.get("phase") == Some(&Value::Str(FINAL_PHASE.into()))
        {
            continue;
        }
        by_worker.entry(p % concurrency as u64).or_default().push((op.f, op.key, op.value));
    }
    Ok(by_worker)
}

/// Compares two runs' generated operations; `Ok(compared)` or the first difference.
pub fn compare_generated(
    original: &BTreeMap<u64, Vec<Generated>>,
    replay: &BTreeMap<u64, Vec<Generated>>,
) -> Result<usize, String> {
    let mut compared = 0;
    let workers: std::collections::BTreeSet<_> = original.keys().chain(replay.keys()).collect();
    for w in workers {
        let (a, b) = (original.get(w).map_or(&[][..], |v| v), replay.get(w).map_or(&[][..], |v| v));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if x != y {
                return Err(format!(
                    "worker {w}, operation {}: the original generated {} {:?} {}, the replay {} {:?} {}",
                    i + 1,
                    x.0,
                    x.1,
                    x.2,
                    y.0,
                    y.1,
                    y.2
                ));
            }
        }
        compared += a.len().min(b.len());
    }
    Ok(compared)
}

pub fn replay(dir: &Path) -> CmdResult {
    let record = read_record(dir)?;
    let mut args: TestArgs = record.args.clone();
    args.seed = Some(record.seed);
    // Replay into the same store, whatever the working directory is now.
    if let Some(root) = RunDir::open(dir).store_root() {
        args.store = root;
    }
    let concurrency = args.concurrency;
    eprintln!("replaying {} with seed {}", dir.display(), record.seed);
    let (exit, new_dir): (_, PathBuf) = run_test(args)?;
    let new_record = read_record(&new_dir)?;
    if new_record.fault_schedule != record.fault_schedule {
        return Err(Failure::crash(format!(
            "replay diverged: the fault schedule of {} differs from the original's",
            new_dir.display()
        )));
    }
    let original = generated_ops(&dir.join(store::HISTORY), concurrency)?;
    let again = generated_ops(&new_dir.join(store::HISTORY), concurrency)?;
    match compare_generated(&original, &again) {
        Ok(0) => Err(Failure::crash("replay compared no operations: one of the runs issued none")),
        Ok(n) => {
            println!(
                "replay {}: same operations as {} ({n} compared over {} workers) and the same fault schedule",
                new_dir.display(),
                dir.display(),
                original.len().max(again.len())
            );
            Ok(exit)
        }
        Err(diff) => Err(Failure::crash(format!("replay diverged: {diff}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(f: &str, v: i64) -> Generated {
        (f.into(), Some(Value::Int(1)), Value::Int(v))
    }

    #[test]
    fn prefixes_agree_and_differences_are_named() {
        let a = BTreeMap::from([(0, vec![g("write", 1), g("write", 2)]), (1, vec![g("read", 0)])]);
        let b = BTreeMap::from([(0, vec![g("write", 1)]), (1, vec![g("read", 0), g("write", 4)])]);
        assert_eq!(compare_generated(&a, &b), Ok(2));
        let c = BTreeMap::from([(0, vec![g("write", 1), g("write", 3)])]);
        let err = compare_generated(&a, &c).unwrap_err();
        assert!(err.contains("worker 0, operation 2"), "{err}");
    }
}
