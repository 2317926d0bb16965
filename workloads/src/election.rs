//! The election workload: candidates campaign, confirm and resign; observers ask who
//! leads. Checked by the `election` checker.
//!
//! Even workers are candidates. Each tenure has a unique candidate name
//! (`c<worker>-<n>`): `campaign` (ok `{:candidate c, :term t}` when elected, `fail
//! :not-elected` when someone else leads), then one to three `confirm`s (ok with the
//! term while it still leads, `fail :not-leader` after), then `resign` (ok, or `fail
//! :not-leader`). Odd workers are observers: `leader` (`{:observer w}`), ok with
//! `nil` (nobody leads) or `{:candidate c, :term t}`. One election, named
//! [`ELECTION`].

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The election workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "election",
    summary: "candidates campaign, confirm and resign; observers ask who leads: at most one \
              leader at a time, terms grow",
    needs: &[Api::Election],
    checker: "election",
    make,
};

/// The election's name in the store.
pub const ELECTION: &str = "faultline";

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is not for the election workload".into(),
        ));
    }
    if options.concurrency < 2 {
        return Err(WorkloadError::BadOption(
            "election needs at least 2 workers (a candidate and an observer)".into(),
        ));
    }
    Ok(Box::new(ElectionWorkload { seed: options.seed }))
}

/// The election workload for one seed.
#[derive(Debug, Clone)]
pub struct ElectionWorkload {
    seed: u64,
}

fn leadership(candidate: String, term: u64) -> Value {
    Value::Map(vec![
        (Value::kw("candidate"), Value::Str(candidate)),
        (Value::kw("term"), Value::Int(term as i64)),
    ])
}

impl Workload for ElectionWorkload {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(ElectionStream { rng, worker, tenure: 0, plan: Vec::new() })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let Some(election) = client.election() else {
                return Completion::missing(op, Api::Election);
            };
            let candidate = match &op.value {
                Value::Str(s) => s.clone(),
                _ => String::new(),
            };
            match op.f {
                "campaign" => match election.campaign(ELECTION, &candidate).await {
                    Ok(Some(term)) => Completion::ok(leadership(candidate, term)),
                    Ok(None) => Completion::fail(op, Value::kw("not-elected")),
                    Err(e) => Completion::of_error(op, e),
                },
                "confirm" => match election.confirm(ELECTION, &candidate).await {
                    Ok(Some(term)) => Completion::ok(leadership(candidate, term)),
                    Ok(None) => Completion::fail(op, Value::kw("not-leader")),
                    Err(e) => Completion::of_error(op, e),
                },
                "resign" => match election.resign(ELECTION, &candidate).await {
                    Ok(true) => Completion::ok(op.value.clone()),
                    Ok(false) => Completion::fail(op, Value::kw("not-leader")),
                    Err(e) => Completion::of_error(op, e),
                },
                "leader" => match election.leader(ELECTION).await {
                    Ok(Some((who, term))) => Completion::ok(leadership(who, term)),
                    Ok(None) => Completion::ok(Value::Nil),
                    Err(e) => Completion::of_error(op, e),
                },
                other => Completion::fail(op, format!("election: unknown f {other:?}")),
            }
        })
    }
}

/// One worker's operations.
struct ElectionStream {
    rng: ChaCha8Rng,
    worker: usize,
    tenure: u64,
    /// The rest of the current tenure's operations, last first.
    plan: Vec<&'static str>,
}

impl OpStream for ElectionStream {
    fn next_op(&mut self) -> Invocation {
        if self.worker % 2 == 1 {
            let me = Value::Map(vec![(Value::kw("observer"), Value::Int(self.worker as i64))]);
            return Invocation { f: "leader", key: None, value: me };
        }
        if self.plan.is_empty() {
            self.tenure += 1;
            let confirms = self.rng.random_range(1..=3);
            self.plan.push("resign");
            self.plan.extend(std::iter::repeat_n("confirm", confirms));
            self.plan.push("campaign");
        }
        let f = self.plan.pop().unwrap_or("campaign");
        let candidate = format!("c{}-{}", self.worker, self.tenure);
        Invocation { f, key: None, value: Value::Str(candidate) }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenures_campaign_confirm_and_resign_with_one_name() {
        let w = ElectionWorkload { seed: 3 };
        let mut s = w.stream(2);
        let ops: Vec<Invocation> = (0..40).map(|_| s.next_op()).collect();
        let mut i = 0;
        let mut tenures = 0;
        while i < ops.len() {
            let name = ops[i].value.clone();
            assert_eq!(ops[i].f, "campaign");
            let mut j = i + 1;
            while j < ops.len() && ops[j].f == "confirm" {
                assert_eq!(ops[j].value, name);
                j += 1;
            }
            assert!((1..=3).contains(&(j - i - 1)) || j == ops.len());
            if j < ops.len() {
                assert_eq!((ops[j].f, &ops[j].value), ("resign", &name));
            }
            tenures += 1;
            i = j + 1;
        }
        assert!(tenures >= 8);
        let mut o = w.stream(1);
        assert_eq!(o.next_op().f, "leader");
    }
}
