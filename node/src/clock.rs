//! The node's injected clock: wall time plus an offset that can be changed at run time
//! (`PUT /v1/faultline/clock?offset_ms=N`), for the harness's clock nemesis.
//!
//! Everything time-dependent in the node's semantics reads this clock: session TTLs and
//! lock-delay, TTL health checks, and the leader lease. Raft's own timers (heartbeats,
//! elections) stay on the real monotonic clock, as a real node's would when its wall clock
//! is stepped.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

#[derive(Clone, Default)]
pub struct Clock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Default)]
struct ClockState {
    offset_ms: i64,
    /// Recent offset changes (when, by how much), so durations measured across a change see it.
    steps: Vec<(Instant, i64)>,
}

/// Offset changes older than this no longer matter to any lease or TTL measurement.
const STEP_MEMORY: Duration = Duration::from_secs(120);

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch, as this node believes.
    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let real = i64::try_from(real).unwrap_or(i64::MAX);
        u64::try_from(real.saturating_add(self.offset_ms()).max(0)).unwrap_or(0)
    }

    pub fn offset_ms(&self) -> i64 {
        self.inner.lock().map(|s| s.offset_ms).unwrap_or(0)
    }

    /// Steps the clock to `offset_ms` away from real time.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        if let Ok(mut s) = self.inner.lock() {
            let delta = offset_ms - s.offset_ms;
            s.offset_ms = offset_ms;
            let now = Instant::now();
            s.steps.retain(|(t, _)| now.duration_since(*t) < STEP_MEMORY);
            if delta != 0 {
                s.steps.push((now, delta));
            }
        }
    }

    /// How much time this node believes passed since `since`: real elapsed time plus every
    /// clock step made after `since` (a step back shortens it, a step forward lengthens it).
    pub fn perceived_elapsed_since(&self, since: Instant) -> Duration {
        let real = since.elapsed().as_millis() as i64;
        let steps: i64 = self
            .inner
            .lock()
            .map(|s| s.steps.iter().filter(|(t, _)| *t > since).map(|(_, d)| d).sum())
            .unwrap_or(0);
        Duration::from_millis(u64::try_from(real + steps).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_now_and_steps_count_in_elapsed_time() {
        let c = Clock::new();
        let before = c.now_ms();
        let t0 = Instant::now();
        c.set_offset_ms(60_000);
        assert!(c.now_ms() >= before + 60_000);
        assert!(c.perceived_elapsed_since(t0) >= Duration::from_secs(60));
        c.set_offset_ms(-60_000);
        // Net step -60 s since t0: perceived time went backwards, clamped at zero.
        assert_eq!(c.perceived_elapsed_since(t0), Duration::ZERO);
        assert_eq!(c.offset_ms(), -60_000);
    }
}
