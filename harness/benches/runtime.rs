//! The generator runtime alone: how many operations per second go through the
//! generator (the register workload's per-worker streams), the workload's mapping of
//! each operation onto the client's KV API, the client calls and the recorder
//! (indices, times, JSON Lines to a file), with 100 workers and an in-process no-op
//! system whose client answers at once.
//!
//! Jepsen's generator does about 20,000 ops/s; the goal here is at least 200,000.
//! Run with `cargo bench -p harness --bench runtime`.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::runtime::control::Stats;
use harness::runtime::nemesis_hook::NoNemesis;
use harness::runtime::progress::RunLog;
use harness::runtime::recorder::Recorder;
use harness::runtime::{RunOptions, RunReport, execute};
use harness::system::{System, SystemError};
use workloads::api::{BoxFuture, CallError, Client, Kv};
use workloads::register::{Register, RegisterOptions};

const WORKERS: usize = 100;
const OPS_PER_WORKER: u64 = 2_000;

struct Noop;

/// Answers every call at once: reads find nothing, writes and cas succeed.
struct NoopClient;

impl Client for NoopClient {
    fn node(&self) -> &str {
        "n1"
    }
    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }
}

impl Kv for NoopClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        black_box(key);
        Box::pin(async { Ok(None) })
    }
    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        black_box((key, value));
        Box::pin(async { Ok(()) })
    }
    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        black_box((key, from, to));
        Box::pin(async { Ok(true) })
    }
}

impl System for Noop {
    fn version(&self) -> Result<String, SystemError> {
        Ok("noop".into())
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        Box::pin(async { Ok(()) })
    }
    fn teardown(&self) -> Result<(), SystemError> {
        Ok(())
    }
    fn client(&self, _: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(NoopClient))
    }
}

fn runtime_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let system: Arc<dyn System> = Arc::new(Noop);
    let workload =
        Arc::new(Register::new(1, WORKERS, RegisterOptions::default()).expect("workload"));
    let log = RunLog::open(None, false).expect("log");
    let options = RunOptions {
        nodes: 1,
        concurrency: WORKERS,
        rate: None,
        time_limit: Duration::from_secs(600),
        op_limit: Some(OPS_PER_WORKER),
        op_timeout: Duration::from_secs(5),
        setup_timeout: Duration::from_secs(5),
        heal_timeout: Duration::from_secs(5),
        recovery: Duration::ZERO,
        final_ops: false,
        watchdog_slack: Duration::from_secs(5),
        seed: 1,
    };
    let mut group = c.benchmark_group("runtime");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(WORKERS as u64 * OPS_PER_WORKER));
    group.bench_function("100 workers, no-op system, register ops to history.jsonl", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let path = dir.path().join(format!("history-{i}.jsonl"));
                let recorder = Recorder::create(&path).expect("recorder");
                let report = Arc::new(Mutex::new(RunReport::default()));
                let start = Instant::now();
                rt.block_on(execute(
                    system.clone(),
                    workload.clone(),
                    &mut NoNemesis,
                    recorder.clone(),
                    Arc::new(Stats::default()),
                    &options,
                    &log,
                    report,
                ));
                let recorded = recorder.close().expect("history written");
                total += start.elapsed();
                assert_eq!(recorded, 2 * WORKERS as u64 * OPS_PER_WORKER);
                let _ = std::fs::remove_file(&path);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, runtime_throughput);
criterion_main!(benches);
