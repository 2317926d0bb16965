//! The recorder: gives every operation its index and time and appends it to
//! `history.jsonl` while the run goes.
//!
//! Index and time are assigned under one lock, so the file's order is the order in
//! which operations were recorded and times never go backwards. Workers record an
//! invocation *before* calling the client and a completion *after* it returns, so
//! the recorded order never claims a precedence that did not happen (it can only
//! make operations look more concurrent than they were, which is safe for checkers).
//!
//! Recording is a push onto an in-memory batch; a flusher thread writes the batch
//! out every [`FLUSH_EVERY`] (at least every second, as the design asks) and
//! the runtime flushes at every phase change, so a harness killed mid-run leaves a
//! history that is complete up to the last flush (plus perhaps one cut line, which
//! the reader tolerates).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use history::Op;
use history::jsonl::push_op_line;

/// How often the flusher thread writes the pending batch.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Lines are handed to the file in chunks of about this many bytes.
const LINE_CHUNK: usize = 256 * 1024;

struct Pending {
    next_index: u64,
    ops: Vec<Op>,
}

/// The file side: the open file, a reused line buffer, and a spare batch vector
/// (swapped with the pending one, so batches do not regrow from empty each time).
struct Writer {
    file: BufWriter<File>,
    line_buf: Vec<u8>,
    spare: Vec<Op>,
}

struct Shared {
    start: Instant,
    pending: Mutex<Pending>,
    /// Taken while writing, so batches reach the file in order.
    writer: Mutex<Option<Writer>>,
    /// The first write error; recording goes on (in memory) but the run is marked.
    error: Mutex<Option<String>>,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn flush(&self) {
        let mut writer = lock(&self.writer);
        let Some(w) = writer.as_mut() else { return };
        std::mem::swap(&mut lock(&self.pending).ops, &mut w.spare);
        let mut result = Ok(());
        let Writer { file, line_buf, spare } = w;
        line_buf.clear();
        for op in spare.drain(..) {
            push_op_line(line_buf, &op);
            // Written in chunks: a small buffer stays in cache and never regrows.
            if line_buf.len() >= LINE_CHUNK && result.is_ok() {
                result = file.write_all(line_buf);
                line_buf.clear();
            }
        }
        let result = result.and_then(|_| file.write_all(line_buf)).and_then(|_| file.flush());
        if let Err(e) = result {
            lock(&self.error).get_or_insert_with(|| format!("cannot write the history: {e}"));
        }
    }
}

impl Drop for Shared {
    /// A recorder dropped without `close` (a panic) still writes what it holds.
    fn drop(&mut self) {
        self.flush();
    }
}

/// A cheap, clonable handle to the run's history.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
    flusher: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Recorder {
    /// Creates (truncates) `path` and starts the flusher; time 0 is now.
    pub fn create(path: &Path) -> io::Result<Recorder> {
        let file = File::create(path)?;
        let shared = Arc::new(Shared {
            start: Instant::now(),
            pending: Mutex::new(Pending { next_index: 0, ops: Vec::with_capacity(16 * 1024) }),
            writer: Mutex::new(Some(Writer {
                file: BufWriter::with_capacity(1 << 16, file),
                line_buf: Vec::with_capacity(LINE_CHUNK + 4096),
                spare: Vec::with_capacity(16 * 1024),
            })),
            error: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        let flusher =
            std::thread::Builder::new().name("history-flusher".into()).spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let Some(shared) = weak.upgrade() else { return };
                    if shared.closed.load(Ordering::Acquire) {
                        return;
                    }
                    shared.flush();
                }
            })?;
        Ok(Recorder { shared, flusher: Arc::new(Mutex::new(Some(flusher))) })
    }

    /// Nanoseconds since the run started.
    pub fn elapsed_ns(&self) -> u64 {
        self.shared.start.elapsed().as_nanos() as u64
    }

    pub fn started(&self) -> Instant {
        self.shared.start
    }

    /// Appends `op`, setting its index and time; returns the index.
    pub fn record(&self, mut op: Op) -> u64 {
        let mut pending = lock(&self.shared.pending);
        let index = pending.next_index;
        pending.next_index += 1;
        op.index = index;
        op.time_ns = self.shared.start.elapsed().as_nanos() as u64;
        pending.ops.push(op);
        index
    }

    /// How many operations were recorded so far.
    pub fn count(&self) -> u64 {
        lock(&self.shared.pending).next_index
    }

    /// Writes everything recorded so far to the file (phase changes call this).
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Stops the flusher, writes the rest and syncs the file. Returns the number of
    /// operations recorded, or the first write error.
    pub fn close(&self) -> Result<u64, String> {
        self.shared.closed.store(true, Ordering::Release);
        if let Some(handle) = lock(&self.flusher).take() {
            let _ = handle.join();
        }
        self.shared.flush();
        if let Some(w) = lock(&self.shared.writer).take() {
            let synced = w.file.into_inner().map_err(|e| e.into_error()).and_then(|f| f.sync_all());
            if let Err(e) = synced {
                lock(&self.shared.error)
                    .get_or_insert_with(|| format!("cannot sync the history: {e}"));
            }
        }
        match lock(&self.shared.error).clone() {
            Some(e) => Err(e),
            None => Ok(self.count()),
        }
    }
}

#[cfg(test)]
mod tests {
    use history::{Op, Value};

    use super::*;

    #[test]
    fn records_in_order_and_flushes_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let rec = Recorder::create(&path).unwrap();
        for i in 0..10 {
            rec.record(Op::invoke(i, "read", Value::Nil));
        }
        // No explicit flush: the flusher writes within FLUSH_EVERY (we allow 5 s).
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap().lines().count() < 10 {
            assert!(Instant::now() < deadline, "the flusher did not write within 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        rec.record(Op::ok(0, "read", Value::Int(3)));
        assert_eq!(rec.close().unwrap(), 11);
        let read = history::read_path(&path, None).unwrap();
        let ops = &read.history.ops;
        assert_eq!(ops.len(), 11);
        assert!(ops.windows(2).all(|w| w[0].index < w[1].index && w[0].time_ns <= w[1].time_ns));
        assert_eq!(ops[10].value, Value::Int(3));
    }
}
