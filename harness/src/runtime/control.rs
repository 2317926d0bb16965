//! Shared run state: the stop signal every worker and the nemesis watch, and the
//! live counters the progress line and the summary read.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use history::OpKind;
use tokio::sync::Notify;

/// Set once when the main phase ends; wakes every sleeper.
#[derive(Default)]
pub struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once [`Stop::stop`] has been called.
    pub async fn wait(&self) {
        loop {
            // Created before the check: a `Notified` sees every later notify_waiters.
            let notified = self.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// Live counts of client operations, the phase and the active fault.
#[derive(Default)]
pub struct Stats {
    pub invokes: AtomicU64,
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
    phase: Mutex<String>,
    fault: Mutex<Option<String>>,
}

/// A copy of the counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub invokes: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Stats {
    pub fn completed(&self, kind: OpKind) {
        let counter = match kind {
            OpKind::Ok => &self.ok,
            OpKind::Fail => &self.fail,
            OpKind::Info => &self.info,
            OpKind::Invoke => &self.invokes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            invokes: self.invokes.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            fail: self.fail.load(Ordering::Relaxed),
            info: self.info.load(Ordering::Relaxed),
        }
    }

    pub fn set_phase(&self, phase: &str) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase.to_string();
    }

    pub fn phase(&self) -> String {
        self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// What the nemesis is doing now (`None`: no fault active).
    pub fn set_fault(&self, fault: Option<String>) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    pub fn fault(&self) -> Option<String> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
