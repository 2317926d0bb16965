//! Latency and jitter on a link, without `netem` (missing from our kernels): an
//! iptables NFQUEUE rule in the receiving node's namespace hands the link's
//! packets to a delayer thread in this process, which holds each one for the delay
//! (plus or minus a random jitter) and then accepts it.
//!
//! One queue per directed link (queue number = source index + 1, queues are per
//! namespace). The rule carries `--queue-bypass`, so if the delayer is gone the
//! packets pass instead of vanishing. Stopping a delayer first removes the rule,
//! then releases every packet it still holds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{NemesisError, Result};
use crate::exec;
use crate::lab::node_addr;
use crate::netns;

/// How much to slow a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDelay {
    pub delay_ms: u32,
    /// Each packet gets `delay_ms` plus a uniform draw in `[-jitter_ms, +jitter_ms]`.
    pub jitter_ms: u32,
}

/// A running delayer for one directed link.
pub(crate) struct Delayer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    dst_ns: String,
    rule: Vec<String>,
}

fn rule_args(src: usize, queue: u16) -> Vec<String> {
    [
        "INPUT".to_string(),
        "-s".into(),
        node_addr(src).to_string(),
        "-j".into(),
        "NFQUEUE".into(),
        "--queue-num".into(),
        queue.to_string(),
        "--queue-bypass".into(),
    ]
    .to_vec()
}

/// One held packet, ordered by release time (then arrival, to keep FIFO on ties).
struct Held {
    release: Instant,
    seq: u64,
    msg: nfq::Message,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.release, self.seq).cmp(&(other.release, other.seq))
    }
}

impl Delayer {
    /// Starts delaying packets from node `src` into node `dst` (namespace `dst_ns`).
    pub(crate) fn start(dst_ns: &str, src: usize, delay: LinkDelay, seed: u64) -> Result<Delayer> {
        let queue = u16::try_from(src + 1)
            .map_err(|_| NemesisError::Invalid(format!("node index {src} too large")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let thread_stop = stop.clone();
        let handle = netns::spawn_in(dst_ns, move || {
            run_delayer(queue, delay, seed, &thread_stop, ready_tx);
        });
        // The queue must be bound before the rule exists (else packets bypass it).
        let ready = ready_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            Err(NemesisError::Invalid(format!("the delayer thread in {dst_ns} did not start")))
        });
        if let Err(e) = ready {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
            return Err(e);
        }
        let thread = handle;
        let rule = rule_args(src, queue);
        let mut delayer =
            Delayer { stop, thread: Some(thread), dst_ns: dst_ns.to_string(), rule: Vec::new() };
        let mut args: Vec<&str> = vec!["-I"];
        args.extend(rule.iter().map(String::as_str));
        exec::iptables_in(dst_ns, &args)?;
        delayer.rule = rule;
        Ok(delayer)
    }

    /// Removes the rule, releases held packets, ends the thread.
    pub(crate) fn stop(&mut self) -> Result<()> {
        let mut result = Ok(());
        if !self.rule.is_empty() {
            let mut args: Vec<&str> = vec!["-D"];
            args.extend(self.rule.iter().map(String::as_str));
            // The namespace may already be gone during teardown; that removed the rule.
            if std::path::Path::new(&netns::ns_path(&self.dst_ns)).exists() {
                result = exec::iptables_in(&self.dst_ns, &args);
            }
            self.rule.clear();
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take()
            && let Ok(Err(e)) = t.join()
        {
            eprintln!("faultline: delayer in {}: {e}", self.dst_ns);
        }
        result
    }
}

impl Drop for Delayer {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("faultline: stopping a delayer: {e}");
        }
    }
}

fn run_delayer(
    queue_num: u16,
    delay: LinkDelay,
    seed: u64,
    stop: &AtomicBool,
    ready: mpsc::Sender<Result<()>>,
) {
    let opened = (|| -> std::io::Result<nfq::Queue> {
        let mut q = nfq::Queue::open()?;
        q.bind(queue_num)?;
        q.set_nonblocking(true);
        Ok(q)
    })();
    let mut queue = match opened {
        Ok(q) => q,
        Err(e) => {
            let _ = ready
                .send(Err(NemesisError::io(format!("binding netfilter queue {queue_num}"), e)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut held: BinaryHeap<Reverse<Held>> = BinaryHeap::new();
    let mut seq = 0u64;
    let base = i64::from(delay.delay_ms);
    let jitter = i64::from(delay.jitter_ms);
    while !stop.load(Ordering::SeqCst) {
        let mut got_any = false;
        loop {
            match queue.recv() {
                Ok(mut msg) => {
                    let ms =
                        if jitter > 0 { base + rng.random_range(-jitter..=jitter) } else { base };
                    msg.set_verdict(nfq::Verdict::Accept);
                    let release = Instant::now() + Duration::from_millis(ms.max(0) as u64);
                    held.push(Reverse(Held { release, seq, msg }));
                    seq += 1;
                    got_any = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("faultline: delayer on queue {queue_num}: {e}");
                    break;
                }
            }
        }
        let now = Instant::now();
        while held.peek().is_some_and(|Reverse(h)| h.release <= now) {
            if let Some(Reverse(h)) = held.pop() {
                let _ = queue.verdict(h.msg);
            }
        }
        if !got_any {
            // No fd to poll (the crate hides it): a short sleep bounds the added error
            // to about a millisecond.
            let next = held.peek().map(|Reverse(h)| h.release.saturating_duration_since(now));
            std::thread::sleep(
                next.unwrap_or(Duration::from_millis(1)).min(Duration::from_millis(1)),
            );
        }
    }
    while let Some(Reverse(h)) = held.pop() {
        let _ = queue.verdict(h.msg);
    }
    let _ = queue.unbind(queue_num);
}
