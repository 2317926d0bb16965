//! One worker: a loop that draws the next operation from its own stream, records
//! the invocation, calls its client (bounded by the op timeout), records the
//! completion, and takes a fresh process id after every `info` (the old process's
//! operation may still be in flight, so it must never invoke again).

use std::sync::Arc;
use std::time::Duration;

use history::{Op, OpKind, Process, Value};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use workloads::api::{Client, Completion};
use workloads::{Invocation, OpStream, Workload};

use crate::runtime::control::{Stats, Stop};
use crate::runtime::recorder::Recorder;

/// Set on the invocations of the final phase (`"phase": "final"` in the history), so
/// replay can compare the main-phase streams alone.
pub const FINAL_PHASE: &str = "final";

/// What every worker shares.
pub struct WorkerCtx {
    /// Carries out each operation through the worker's client.
    pub workload: Arc<dyn Workload>,
    pub recorder: Recorder,
    pub stats: Arc<Stats>,
    pub stop: Arc<Stop>,
    pub concurrency: usize,
    pub op_timeout: Duration,
    /// Mean pause between one worker's operations (`None`: as fast as possible).
    pub interval: Option<Duration>,
    /// Stop after this many main-phase operations per worker.
    pub op_limit: Option<u64>,
}

/// One worker's own things; handed back when the main phase ends so the final phase
/// can continue with the same process, client and stream.
pub struct WorkerState {
    pub worker: usize,
    pub process: u64,
    pub client: Box<dyn Client>,
    pub stream: Box<dyn OpStream>,
    /// Draws the pauses between operations: a separate stream, so timing never
    /// shifts which operations are drawn.
    timing: ChaCha8Rng,
    pub issued: u64,
}

impl WorkerState {
    pub fn new(
        worker: usize,
        client: Box<dyn Client>,
        stream: Box<dyn OpStream>,
        seed: u64,
    ) -> Self {
        let mut timing = ChaCha8Rng::seed_from_u64(seed ^ 0x7469_6d69_6e67); // "timing"
        timing.set_stream(worker as u64);
        WorkerState { worker, process: worker as u64, client, stream, timing, issued: 0 }
    }

    /// Performs one operation and records both halves.
    pub async fn perform(&mut self, ctx: &WorkerCtx, inv: Invocation, phase: Option<&str>) {
        let mut invoke =
            Op::new(Process::Client(self.process), OpKind::Invoke, inv.f, inv.value.clone());
        invoke.key = inv.key.clone();
        if let Some(p) = phase {
            invoke.extra.insert("phase".into(), Value::Str(p.into()));
        }
        ctx.recorder.record(invoke);
        ctx.stats.completed(OpKind::Invoke);
        let call = ctx.workload.invoke(&inv, self.client.as_mut());
        let completion = match tokio::time::timeout(ctx.op_timeout, call).await {
            Ok(c) => c,
            Err(_) => Completion::info(&inv, Value::kw("timeout")),
        };
        // A client must never answer with an invocation; if it does, that is a bug in
        // the client and the outcome is unknown.
        let kind = if completion.kind == OpKind::Invoke { OpKind::Info } else { completion.kind };
        let mut done = Op::new(Process::Client(self.process), kind, inv.f, completion.value);
        done.key = inv.key;
        done.node = Some(self.client.node().to_string());
        done.error = completion.error;
        ctx.recorder.record(done);
        ctx.stats.completed(kind);
        if kind == OpKind::Info {
            self.process += ctx.concurrency as u64;
        }
    }

    /// The main phase: operations until the stop signal or the op limit.
    pub async fn main_loop(mut self, ctx: Arc<WorkerCtx>) -> Self {
        loop {
            if ctx.stop.is_stopped() || ctx.op_limit.is_some_and(|l| self.issued >= l) {
                break;
            }
            if let Some(interval) = ctx.interval {
                // Jepsen's stagger: uniform in [0, 2 * interval), mean `interval`.
                let pause = interval.mul_f64(self.timing.random_range(0.0..2.0));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = ctx.stop.wait() => break,
                }
            }
            let inv = self.stream.next_op();
            self.issued += 1;
            self.perform(&ctx, inv, None).await;
            if ctx.interval.is_none() && self.issued.is_multiple_of(32) {
                // A client that never waits would otherwise hold its thread forever.
                tokio::task::yield_now().await;
            }
        }
        self
    }

    /// The final phase: the stream's final operations, one after another.
    pub async fn final_ops(mut self, ctx: Arc<WorkerCtx>) -> Self {
        for inv in self.stream.final_ops() {
            self.perform(&ctx, inv, Some(FINAL_PHASE)).await;
        }
        self
    }
}
