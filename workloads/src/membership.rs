//! The membership workload: every worker keeps asking its node for its gossip view of
//! the members, so that after each kill, restart, partition and heal the history
//! shows every node's view over time. Checked by the `membership` checker (views
//! converge after each heal, live reachable nodes are not left dead, dead ones are
//! detected).
//!
//! Each operation is `members` (no key, value `nil`), completing with a map of member
//! to state, `{"n1" "alive", "n2" "suspect", "n3" "dead"}`, by the run's node names;
//! the completion's `node` says whose view it is. After the final heal each worker
//! asks once more.

use history::Value;

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The membership workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "membership",
    summary: "every node's gossip view of the members (alive / suspect / dead), polled over \
              time: views converge after faults heal",
    needs: &[Api::Members],
    checker: "membership",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is not for the membership workload".into(),
        ));
    }
    Ok(Box::new(Membership))
}

/// The membership workload (it draws nothing: every operation is the same).
#[derive(Debug, Clone)]
pub struct Membership;

fn poll() -> Invocation {
    Invocation { f: "members", key: None, value: Value::Nil }
}

impl Workload for Membership {
    fn stream(&self, _worker: usize) -> Box<dyn OpStream> {
        Box::new(Polls)
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let Some(members) = client.members() else {
                return Completion::missing(op, Api::Members);
            };
            match members.members().await {
                Ok(list) => Completion::ok(Value::Map(
                    list.into_iter()
                        .map(|(n, s)| (Value::Str(n), Value::Str(s.name().into())))
                        .collect(),
                )),
                Err(e) => Completion::of_error(op, e),
            }
        })
    }
}

struct Polls;

impl OpStream for Polls {
    fn next_op(&mut self) -> Invocation {
        poll()
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![poll()]
    }
}
