//! The leader lease behind Consul's `default` read mode.
//!
//! openraft's followers refuse to vote for anyone for `election_timeout_max` after they last
//! heard from the leader. So if a quorum acknowledged a heartbeat the leader sent at time `t`,
//! no other leader can exist before `t + election_timeout_max`; the leader may serve reads from
//! its own state until `t + lease`, with `lease` shorter than that by a margin.
//!
//! openraft publishes `millis_since_quorum_ack` (the age of that `t`) in its metrics, on every
//! turn of its event loop. This tracker turns each published age into an instant. The age is
//! measured through the injected clock ([`Clock::perceived_elapsed_since`]), so a clock that
//! is stepped backwards makes the lease last too long, as a real clock bug would.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use openraft::ServerState;

use super::Raft;
use crate::clock::Clock;

#[derive(Clone)]
pub struct LeaseTracker {
    inner: Arc<Mutex<Option<Instant>>>,
    lease: Duration,
    clock: Clock,
}

impl LeaseTracker {
    pub fn start(raft: Raft, lease: Duration, clock: Clock) -> LeaseTracker {
        let tracker = LeaseTracker { inner: Arc::new(Mutex::new(None)), lease, clock };
        let inner = tracker.inner.clone();
        let mut rx = raft.metrics();
        tokio::spawn(async move {
            loop {
                let acked_at = {
                    let m = rx.borrow_and_update();
                    match (m.state, m.millis_since_quorum_ack) {
                        (ServerState::Leader, Some(age)) => {
                            Instant::now().checked_sub(Duration::from_millis(age))
                        }
                        _ => None,
                    }
                };
                if let Ok(mut slot) = inner.lock() {
                    *slot = acked_at;
                }
                if rx.changed().await.is_err() {
                    return; // Raft shut down.
                }
            }
        });
        tracker
    }

    /// The lease length (for status output).
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Whether a quorum acknowledged this leader recently enough for a lease read.
    pub fn holds(&self) -> bool {
        let acked_at = self.inner.lock().ok().and_then(|g| *g);
        match acked_at {
            Some(t) => self.clock.perceived_elapsed_since(t) < self.lease,
            None => false,
        }
    }
}
