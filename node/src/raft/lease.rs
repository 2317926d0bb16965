//! The leader lease behind Consul's `default` read mode.
//!
//! openraft's followers refuse to vote for anyone for `election_timeout_max` after they last
//! accepted a heartbeat from the leader. So if a quorum acknowledged heartbeats the leader
//! sent after time `t`, no other leader can exist before `t + election_timeout_max`; the
//! leader may serve reads from its own state until `t + lease`, with `lease` shorter than
//! that by a margin.
//!
//! A background task renews the lease every heartbeat interval while this node leads: it
//! notes `t` *before* asking openraft to confirm leadership with a quorum
//! (`ensure_linearizable`), and records `t` only when that succeeds. Taking `t` before the
//! round keeps the lease conservative even if the process is paused mid-way.
//!
//! The lease's age is measured through the injected clock ([`Clock::perceived_elapsed_since`]),
//! so a clock stepped backwards makes the lease last too long, as a real clock bug would.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use openraft::ServerState;

use super::Raft;
use crate::clock::Clock;

#[derive(Clone)]
pub struct LeaseTracker {
    /// When the last quorum-confirmed round started, and in which term.
    confirmed: Arc<Mutex<Option<(Instant, u64)>>>,
    lease: Duration,
    clock: Clock,
    raft: Raft,
}

impl LeaseTracker {
    pub fn start(raft: Raft, lease: Duration, renew_every: Duration, clock: Clock) -> LeaseTracker {
        let tracker = LeaseTracker {
            confirmed: Arc::new(Mutex::new(None)),
            lease,
            clock,
            raft: raft.clone(),
        };
        let confirmed = tracker.confirmed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(renew_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (state, term) = {
                    let m = raft.metrics().borrow().clone();
                    (m.state, m.current_term)
                };
                if state != ServerState::Leader {
                    continue;
                }
                let started = Instant::now();
                let round = tokio::time::timeout(lease, raft.ensure_linearizable()).await;
                if let Ok(Ok(_)) = round
                    && let Ok(mut slot) = confirmed.lock()
                {
                    *slot = Some((started, term));
                }
            }
        });
        tracker
    }

    /// The lease length (for status output).
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Whether a quorum confirmed this node's leadership, in its current term, recently
    /// enough for a lease read.
    pub fn holds(&self) -> bool {
        let confirmed = self.confirmed.lock().ok().and_then(|g| *g);
        let Some((at, term)) = confirmed else {
            return false;
        };
        let m = self.raft.metrics().borrow().clone();
        m.state == ServerState::Leader
            && m.current_term == term
            && self.clock.perceived_elapsed_since(at) < self.lease
    }
}
