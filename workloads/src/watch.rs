//! The watch workload: writers change a few keys, watchers follow them (Jepsen's etcd
//! watch test, and Consul's blocking queries), checked by the `watch` checker.
//!
//! Even workers write, odd workers watch (so every node has both with three nodes
//! and ten workers). A writer writes a unique value (`worker * 10^6 + n`) to one of
//! `keys` keys at random; the completion records the revision the system says it was
//! written at (`{:value v, :revision r}`), when it says so. A watcher takes the keys
//! in turn and watches one for a drawn time (`{:watcher w, :wait-ms ms}`), resuming
//! from the position it reached on that key (the workload keeps each watcher's
//! position; only a watch that completes `ok` moves it, so a watcher that reconnects
//! after a fault resumes exactly where it stood). Its completion records what it
//! saw: `{:after a, :position p, :delivery "every-revision" | "latest", :events
//! [[revision value] ...]}`.
//!
//! After the final heal each watcher runs one `final-watch` per key: it reads the
//! key's head linearizably, then watches until it has caught up with it (recorded
//! with `:head [revision value]`); a watcher that cannot catch up within the op
//! timeout ends `info`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, CallError, Client, Completion, Delivery, Watch, WatchEvent};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};
use crate::{key_text, parse_value, value_text};

/// The watch workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "watch",
    summary: "writers change a few keys with unique values; watchers follow them (watch \
              streams, blocking queries) and must see every change the API promises",
    needs: &[Api::Watch],
    checker: "watch",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; watch keeps its keys".into(),
        ));
    }
    Ok(Box::new(WatchWorkload::new(options.seed, options.concurrency, WatchOptions::default())?))
}

/// Tuning of the watch workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    pub keys: i64,
    /// A watch call waits between these many milliseconds (drawn per call).
    pub wait_ms: (u64, u64),
    /// Each wait of a final watch's calls.
    pub final_wait_ms: u64,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { keys: 3, wait_ms: (100, 600), final_wait_ms: 250 }
    }
}

/// Where one watcher stands on one key.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    /// The position to resume from.
    position: u64,
    /// The newest revision it has seen.
    seen: u64,
}

/// The watch workload for one seed.
pub struct WatchWorkload {
    seed: u64,
    options: WatchOptions,
    cursors: Mutex<HashMap<(i64, String), Cursor>>,
}

impl WatchWorkload {
    pub fn new(
        seed: u64,
        concurrency: usize,
        options: WatchOptions,
    ) -> Result<WatchWorkload, WorkloadError> {
        if concurrency < 2 {
            return Err(WorkloadError::BadOption(
                "watch needs at least 2 workers (one writes, one watches)".into(),
            ));
        }
        if options.keys < 1 || options.wait_ms.0 > options.wait_ms.1 {
            return Err(WorkloadError::BadOption("watch: keys >= 1 and a wait range".into()));
        }
        Ok(WatchWorkload { seed, options, cursors: Mutex::new(HashMap::new()) })
    }

    fn cursor(&self, watcher: i64, key: &str) -> Cursor {
        let map = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(watcher, key.to_string())).copied().unwrap_or_default()
    }

    fn advance(&self, watcher: i64, key: &str, cursor: Cursor) {
        let mut map = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((watcher, key.to_string()), cursor);
    }
}

impl Workload for WatchWorkload {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(WatchStream { rng, worker, options: self.options.clone(), n: 0 })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(self.perform(op, client))
    }
}

fn kw_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (Value::kw(k), v)).collect())
}

fn event_value(e: &WatchEvent) -> Value {
    let value = e.value.as_deref().map_or(Value::Nil, parse_value);
    Value::List(vec![Value::Int(e.revision as i64), value])
}

fn int_field(v: &Value, name: &str) -> Option<i64> {
    v.get(&Value::kw(name)).and_then(Value::as_int)
}

impl WatchWorkload {
    async fn perform(&self, op: &Invocation, client: &mut dyn Client) -> Completion {
        let Some(watch) = client.watch() else { return Completion::missing(op, Api::Watch) };
        let key = format!("watch/{}", key_text(&op.key, "key"));
        match op.f {
            "write" => match watch.write(&key, &value_text(&op.value)).await {
                Ok(Some(rev)) => Completion::ok(kw_map(vec![
                    ("value", op.value.clone()),
                    ("revision", Value::Int(rev as i64)),
                ])),
                Ok(None) => Completion::ok(op.value.clone()),
                Err(e) => Completion::of_error(op, e),
            },
            "watch" | "final-watch" => {
                let Some(watcher) = int_field(&op.value, "watcher") else {
                    return Completion::fail(op, "a watch needs {:watcher n}");
                };
                let result = if op.f == "watch" {
                    let wait = Duration::from_millis(
                        int_field(&op.value, "wait-ms").unwrap_or(300) as u64,
                    );
                    self.watch_once(watch, watcher, &key, wait).await
                } else {
                    self.catch_up(watch, watcher, &key).await
                };
                match result {
                    Ok(v) => Completion::ok(v),
                    Err(e) => Completion::of_error(op, e),
                }
            }
            other => Completion::fail(op, format!("watch: unknown f {other:?}")),
        }
    }

    /// One watch call from where the watcher stands; moves it on success.
    async fn watch_once(
        &self,
        watch: &mut dyn Watch,
        watcher: i64,
        key: &str,
        wait: Duration,
    ) -> Result<Value, CallError> {
        let cursor = self.cursor(watcher, key);
        let batch = watch.watch(key, cursor.position, wait).await?;
        let seen = batch.events.iter().map(|e| e.revision).max().unwrap_or(0).max(cursor.seen);
        self.advance(watcher, key, Cursor { position: batch.position, seen });
        Ok(kw_map(vec![
            ("after", Value::Int(cursor.position as i64)),
            ("position", Value::Int(batch.position as i64)),
            ("delivery", Value::Str(batch.delivery.name().into())),
            ("events", Value::List(batch.events.iter().map(event_value).collect())),
        ]))
    }

    /// Reads the head, then watches until the watcher has seen it.
    async fn catch_up(
        &self,
        watch: &mut dyn Watch,
        watcher: i64,
        key: &str,
    ) -> Result<Value, CallError> {
        let (_, head) = watch.head(key).await?;
        let start = self.cursor(watcher, key);
        let mut cursor = start;
        let mut events: Vec<WatchEvent> = Vec::new();
        let mut delivery;
        loop {
            let wait = Duration::from_millis(self.options.final_wait_ms);
            let batch = watch.watch(key, cursor.position, wait).await?;
            delivery = batch.delivery;
            let top = batch.events.iter().map(|e| e.revision).max().unwrap_or(0);
            cursor = Cursor { position: batch.position, seen: cursor.seen.max(top) };
            let caught_up = match delivery {
                Delivery::EveryRevision => {
                    events.extend(batch.events);
                    cursor.seen >= head.revision
                }
                Delivery::Latest => {
                    let state = batch.events.last().cloned();
                    let at_head =
                        state.as_ref().map_or(head.revision == 0, |s| s.revision == head.revision);
                    events = state.into_iter().collect();
                    at_head
                }
            };
            if caught_up {
                break;
            }
        }
        // Moved only now: a cancelled final watch leaves the cursor where the last
        // recorded watch left it.
        self.advance(watcher, key, cursor);
        Ok(kw_map(vec![
            ("after", Value::Int(start.position as i64)),
            ("position", Value::Int(cursor.position as i64)),
            ("delivery", Value::Str(delivery.name().into())),
            ("events", Value::List(events.iter().map(event_value).collect())),
            ("head", event_value(&head)),
        ]))
    }
}

/// One worker's operations: writes (even workers) or watches (odd workers).
struct WatchStream {
    rng: ChaCha8Rng,
    worker: usize,
    options: WatchOptions,
    n: u64,
}

impl WatchStream {
    fn watcher(&self) -> bool {
        self.worker % 2 == 1
    }

    fn watch_value(&self, wait_ms: Option<u64>) -> Value {
        let mut m = vec![("watcher", Value::Int(self.worker as i64))];
        if let Some(w) = wait_ms {
            m.push(("wait-ms", Value::Int(w as i64)));
        }
        kw_map(m)
    }
}

impl OpStream for WatchStream {
    fn next_op(&mut self) -> Invocation {
        self.n += 1;
        if self.watcher() {
            let key = ((self.n - 1) % self.options.keys as u64) as i64;
            let (lo, hi) = self.options.wait_ms;
            let wait = self.rng.random_range(lo..=hi);
            return Invocation {
                f: "watch",
                key: Some(Value::Int(key)),
                value: self.watch_value(Some(wait)),
            };
        }
        let key = self.rng.random_range(0..self.options.keys);
        let value = self.worker as i64 * 1_000_000 + self.n as i64;
        Invocation { f: "write", key: Some(Value::Int(key)), value: Value::Int(value) }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        if !self.watcher() {
            return Vec::new();
        }
        (0..self.options.keys)
            .map(|k| Invocation {
                f: "final-watch",
                key: Some(Value::Int(k)),
                value: self.watch_value(None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_write_unique_values_and_watchers_cycle_keys() {
        let w = WatchWorkload::new(7, 4, WatchOptions::default()).unwrap();
        let mut writer = w.stream(2);
        let writes: Vec<Invocation> = (0..50).map(|_| writer.next_op()).collect();
        assert!(writes.iter().all(|op| op.f == "write"));
        let mut values: Vec<_> = writes.iter().map(|op| op.value.clone()).collect();
        values.dedup();
        assert_eq!(values.len(), 50);
        assert!(writer.final_ops().is_empty());
        let mut watcher = w.stream(1);
        let keys: Vec<_> = (0..6).map(|_| watcher.next_op().key.unwrap()).collect();
        assert_eq!(keys, [0, 1, 2, 0, 1, 2].map(Value::Int).to_vec());
        let finals = watcher.final_ops();
        assert_eq!(finals.len(), 3);
        assert!(finals.iter().all(|op| op.f == "final-watch"));
        // Deterministic per seed and worker.
        let a: Vec<_> = (0..20).map(|_| w.stream(1).next_op()).collect();
        assert_eq!(a, (0..20).map(|_| w.stream(1).next_op()).collect::<Vec<_>>());
        assert!(WatchWorkload::new(1, 1, WatchOptions::default()).is_err());
    }
}
