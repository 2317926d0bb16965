//! The discovery workload: clients register and deregister instances of a service and
//! flip their health checks; readers ask for the service's instances. Checked by the
//! `discovery` checker (consistent reads against the `catalog` model, the others
//! timed for staleness).
//!
//! Even workers own one instance each (`web-<worker>`, registered on the node they
//! talk to, as a Consul agent's service) and change it: `register {:instance i,
//! :health h}` (a fifth of the time passing, a tenth critical), `set-health`
//! (pass or fail, a quarter each) and `deregister` (a fifth). Odd workers `read` the
//! service, completing with `{:consistency c, :instances {i h ...}, :node-critical
//! [i ...]}` (each instance's own check; the instances whose node's checks fail:
//! the read is unfiltered, so an instance Consul's `?passing` would drop for its
//! node's `serfHealth` is seen and marked, not mistaken for a lost one).
//! After the final heal every reader reads once more.

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, Client, Completion, Health};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The discovery workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "discovery",
    summary: "instances registered, deregistered and flipped passing / critical; readers query \
              the service's instances with their own and their node's health",
    needs: &[Api::Discovery],
    checker: "discovery",
    make,
};

/// The service every instance belongs to.
pub const SERVICE: &str = "web";

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is not for the discovery workload".into(),
        ));
    }
    if options.concurrency < 2 {
        return Err(WorkloadError::BadOption(
            "discovery needs at least 2 workers (an instance owner and a reader)".into(),
        ));
    }
    if options.concurrency > 64 {
        return Err(WorkloadError::BadOption(
            "discovery: at most 64 workers (32 instances: the catalog model's limit)".into(),
        ));
    }
    Ok(Box::new(DiscoveryWorkload { seed: options.seed }))
}

/// The discovery workload for one seed.
#[derive(Debug, Clone)]
pub struct DiscoveryWorkload {
    seed: u64,
}

fn health_of(v: &Value) -> Health {
    match v.get(&Value::kw("health")) {
        Some(Value::Str(s)) if s == "critical" => Health::Critical,
        _ => Health::Passing,
    }
}

impl Workload for DiscoveryWorkload {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(DiscoveryStream { rng, worker })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let Some(d) = client.discovery() else {
                return Completion::missing(op, Api::Discovery);
            };
            let instance = match op.value.get(&Value::kw("instance")) {
                Some(Value::Str(s)) => s.clone(),
                _ => String::new(),
            };
            let outcome = match op.f {
                "register" => {
                    d.register(SERVICE, &instance, health_of(&op.value)).await.map(|()| true)
                }
                "set-health" => d.set_health(SERVICE, &instance, health_of(&op.value)).await,
                "deregister" => d.deregister(SERVICE, &instance).await,
                "read" => {
                    return match d.instances(SERVICE).await {
                        Ok(view) => {
                            let instances = view
                                .instances
                                .iter()
                                .map(|i| {
                                    (Value::Str(i.id.clone()), Value::Str(i.health.name().into()))
                                })
                                .collect();
                            let node_critical = view
                                .instances
                                .iter()
                                .filter(|i| !i.node_passing)
                                .map(|i| Value::Str(i.id.clone()))
                                .collect();
                            Completion::ok(Value::Map(vec![
                                (
                                    Value::kw("consistency"),
                                    Value::Str(view.consistency.name().into()),
                                ),
                                (Value::kw("instances"), Value::Map(instances)),
                                (Value::kw("node-critical"), Value::List(node_critical)),
                            ]))
                        }
                        Err(e) => Completion::of_error(op, e),
                    };
                }
                other => return Completion::fail(op, format!("discovery: unknown f {other:?}")),
            };
            match outcome {
                Ok(true) => Completion::ok(op.value.clone()),
                Ok(false) => Completion::fail(op, Value::kw("not-registered")),
                Err(e) => Completion::of_error(op, e),
            }
        })
    }
}

/// One worker's operations.
struct DiscoveryStream {
    rng: ChaCha8Rng,
    worker: usize,
}

impl DiscoveryStream {
    fn reader(&self) -> bool {
        self.worker % 2 == 1
    }
}

impl OpStream for DiscoveryStream {
    fn next_op(&mut self) -> Invocation {
        if self.reader() {
            return Invocation { f: "read", key: None, value: Value::Nil };
        }
        let instance = (Value::kw("instance"), Value::Str(format!("{SERVICE}-{}", self.worker)));
        let health = |h: &str| (Value::kw("health"), Value::Str(h.into()));
        let roll = self.rng.random_range(0..20);
        let (f, value) = match roll {
            0..=3 => ("register", vec![instance, health("passing")]),
            4..=5 => ("register", vec![instance, health("critical")]),
            6..=10 => ("set-health", vec![instance, health("passing")]),
            11..=15 => ("set-health", vec![instance, health("critical")]),
            _ => ("deregister", vec![instance]),
        };
        Invocation { f, key: None, value: Value::Map(value) }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        if self.reader() {
            vec![Invocation { f: "read", key: None, value: Value::Nil }]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_change_their_own_instance_and_readers_read() {
        let w = DiscoveryWorkload { seed: 5 };
        let mut owner = w.stream(4);
        let ops: Vec<Invocation> = (0..200).map(|_| owner.next_op()).collect();
        for f in ["register", "set-health", "deregister"] {
            assert!(ops.iter().any(|o| o.f == f), "no {f}");
        }
        assert!(
            ops.iter()
                .all(|o| o.value.get(&Value::kw("instance")) == Some(&Value::Str("web-4".into())))
        );
        let mut reader = w.stream(3);
        assert_eq!(reader.next_op().f, "read");
        assert_eq!(reader.final_ops().len(), 1);
        assert!(owner.final_ops().is_empty());
    }
}
