//! `faultline replay` generates the same operations as the run it replays, even
//! when timing (and so which operations end `info`, and how many each worker gets to
//! issue) differs; a different seed does not.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use harness::commands::replay::{compare_generated, generated_ops};
use harness::runtime::control::Stats;
use harness::runtime::nemesis_hook::NoNemesis;
use harness::runtime::progress::RunLog;
use harness::runtime::recorder::Recorder;
use harness::runtime::{RunOptions, execute};
use harness::system::{System, SystemError};
use harness::systems::memory::{Memory, MemoryClient};
use history::OpKind;
use workloads::api::{BoxFuture, CallError, Client, Kv};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// A memory store whose client sleeps a time-dependent while and sometimes ends an
/// operation `info`: two runs differ in timing and in process ids.
struct Jittery(Memory);

struct JitteryClient(MemoryClient);

fn clock_noise() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        as u64
}

/// Sleeps a little; `Err` (unknown outcome) now and then.
async fn jitter() -> Result<(), CallError> {
    tokio::time::sleep(Duration::from_micros(clock_noise() % 3000)).await;
    if clock_noise().is_multiple_of(7) {
        return Err(CallError::unknown("jitter"));
    }
    Ok(())
}

impl Client for JitteryClient {
    fn node(&self) -> &str {
        self.0.node()
    }
    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }
}

impl Kv for JitteryClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move {
            jitter().await?;
            self.0.get(key).await
        })
    }
    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            jitter().await?;
            self.0.put(key, value).await
        })
    }
    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            jitter().await?;
            self.0.cas(key, from, to).await
        })
    }
}

impl System for Jittery {
    fn version(&self) -> Result<String, SystemError> {
        Ok("jittery".into())
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        Box::pin(async { Ok(()) })
    }
    fn teardown(&self) -> Result<(), SystemError> {
        Ok(())
    }
    fn client(&self, n: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(JitteryClient(self.0.memory_client(n))))
    }
}

fn jittery_run(dir: &std::path::Path, name: &str, seed: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    let workload =
        Arc::new(workloads::register::Register::new(seed, 8, Default::default()).unwrap());
    let recorder = Recorder::create(&path).unwrap();
    let options = RunOptions {
        nodes: 3,
        concurrency: 8,
        rate: None,
        time_limit: Duration::from_millis(700),
        op_limit: None,
        op_timeout: Duration::from_secs(2),
        setup_timeout: Duration::from_secs(5),
        heal_timeout: Duration::from_secs(5),
        recovery: Duration::ZERO,
        final_ops: true,
        watchdog_slack: Duration::from_secs(5),
        seed,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(execute(
        Arc::new(Jittery(Memory::new(3))),
        workload,
        &mut NoNemesis,
        recorder.clone(),
        Arc::new(Stats::default()),
        &options,
        &RunLog::open(None, false).unwrap(),
        Arc::default(),
    ));
    recorder.close().unwrap();
    path
}

#[test]
fn same_seed_same_operations_despite_different_timing_and_infos() {
    let dir = tempfile::tempdir().unwrap();
    let a = jittery_run(dir.path(), "a.jsonl", 11);
    let b = jittery_run(dir.path(), "b.jsonl", 11);
    let c = jittery_run(dir.path(), "c.jsonl", 12);
    let read = history::read_path(&a, None).unwrap();
    let infos = read.history.ops.iter().filter(|o| o.kind == OpKind::Info).count();
    assert!(infos > 5, "the jitter produced info operations (fresh process ids): {infos}");
    let (ga, gb, gc) = (
        generated_ops(&a, 8).unwrap(),
        generated_ops(&b, 8).unwrap(),
        generated_ops(&c, 8).unwrap(),
    );
    assert_eq!(ga.len(), 8);
    let compared = compare_generated(&ga, &gb).expect("same seed, same operations");
    assert!(compared > 100, "compared {compared}");
    // The negative control: another seed generates other operations.
    assert!(compare_generated(&ga, &gc).is_err());
}

#[test]
fn faultline_replay_of_an_etcd_run_generates_the_same_operations() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let store_arg = dir.path().to_str().unwrap();
    let first = Command::new(FAULTLINE)
        .args(["test", "--system", "etcd", "--time-limit", "2", "--rate", "150", "--seed", "77"])
        .args(["--loopback-net", "103", "--quiet", "--store", store_arg])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let run = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    let replay = Command::new(FAULTLINE).arg("replay").arg(&run).output().unwrap();
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    assert!(stdout.contains("same operations"), "{stdout}");
    let again = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    assert_ne!(run, again, "the replay is a run of its own");
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("test.json")).unwrap()).unwrap();
    assert_eq!(test_json["seed"], 77);
}
