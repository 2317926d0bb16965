//! `tally`: a workload in one file. Each worker writes values nobody else writes
//! (`w<worker>-<n>`) to three shared keys and reads them back; judged by the
//! `seen-written` checker.

use history::Value;
use workloads::api::{Api, BoxFuture, Client, Completion};
use workloads::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "tally",
    summary: "test-only: unique writes and reads over three keys",
    needs: &[Api::Kv],
    checker: "seen-written",
    make,
};

fn make(_: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(Box::new(Tally))
}

struct Tally;

struct Stream {
    worker: usize,
    n: u64,
}

impl OpStream for Stream {
    fn next_op(&mut self) -> Invocation {
        self.n += 1;
        let key = Some(Value::Int((self.n % 3) as i64));
        if self.n.is_multiple_of(2) {
            Invocation { f: "read", key, value: Value::Nil }
        } else {
            let value = Value::Str(format!("w{}-{}", self.worker, self.n));
            Invocation { f: "write", key, value }
        }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        (0..3)
            .map(|k| Invocation { f: "read", key: Some(Value::Int(k)), value: Value::Nil })
            .collect()
    }
}

impl Workload for Tally {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        Box::new(Stream { worker, n: 0 })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let Some(kv) = client.kv() else { return Completion::missing(op, Api::Kv) };
            let key = workloads::key_text(&op.key, "tally");
            let done = match op.f {
                "read" => kv.get(&key).await.map(|v| v.map_or(Value::Nil, Value::Str)),
                _ => {
                    kv.put(&key, &workloads::value_text(&op.value)).await.map(|()| op.value.clone())
                }
            };
            match done {
                Ok(v) => Completion::ok(v),
                Err(e) => Completion::of_error(op, e),
            }
        })
    }
}
