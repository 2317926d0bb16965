//! Measuring what a fault really did: which directed links carry packets.
//!
//! Every node gets a UDP listener thread inside its namespace; every node then
//! sends a few datagrams to every other node. A datagram names its sender, so a
//! listener learns exactly which *directed* links work, with no reply needed (a
//! reply would need the reverse link too). Used to verify every partition, and by
//! the tests.

use std::collections::BTreeSet;
use std::net::{SocketAddrV4, UdpSocket};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::error::{NemesisError, Result};
use crate::lab::{Lab, node_addr};
use crate::netns;
use crate::partition::Grudge;

/// The UDP port the probe listens on (inside node namespaces only).
pub const PROBE_PORT: u16 = 47_999;

/// Datagrams sent per directed link; with loss faults active some may be dropped.
pub const PROBES_PER_LINK: usize = 8;

/// A measured reachability matrix: `m[src][dst]` is true when a datagram from
/// `src` arrived at `dst` (the diagonal is true).
pub type Matrix = Vec<Vec<bool>>;

/// Measures directed UDP reachability between all nodes. `wait` is how long
/// listeners wait after the last send (make it exceed any delay fault).
pub fn measure(lab: &Lab, wait: Duration) -> Result<Matrix> {
    let n = lab.node_count();
    let nonce: u64 = rand::random();
    // Set once every sender is done: listeners keep reading until then plus `wait`.
    let stop_at: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let (bound_tx, bound_rx) = mpsc::channel::<()>();
    let mut listeners = Vec::new();
    for dst in 0..n {
        let (stop_at, bound_tx) = (stop_at.clone(), bound_tx.clone());
        listeners.push(netns::spawn_in(&lab.node_ns(dst)?, move || -> Result<BTreeSet<usize>> {
            let sock = UdpSocket::bind(SocketAddrV4::new(node_addr(dst), PROBE_PORT))
                .map_err(|e| NemesisError::io(format!("probe bind on n{}", dst + 1), e))?;
            let _ = bound_tx.send(());
            let _ = sock.set_read_timeout(Some(Duration::from_millis(5)));
            let mut heard = BTreeSet::from([dst]);
            let mut buf = [0u8; 64];
            let mut take = |len: usize, buf: &[u8]| {
                let text = String::from_utf8_lossy(&buf[..len]);
                if let Some((got_nonce, src)) = text.split_once(' ')
                    && got_nonce == nonce.to_string()
                    && let Ok(src) = src.parse::<usize>()
                {
                    heard.insert(src);
                }
            };
            while stop_at.get().is_none_or(|&t| Instant::now() < t) {
                if let Ok((len, _)) = sock.recv_from(&mut buf) {
                    take(len, &buf);
                }
            }
            // Whatever arrived but was not read yet (a busy machine may not have
            // scheduled us) still counts: drain without waiting.
            let _ = sock.set_nonblocking(true);
            while let Ok((len, _)) = sock.recv_from(&mut buf) {
                take(len, &buf);
            }
            Ok(heard)
        }));
    }
    drop(bound_tx);
    let mut all_bound = true;
    for _ in 0..n {
        if bound_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            all_bound = false;
            break;
        }
    }
    let mut senders = Vec::new();
    if all_bound {
        for src in 0..n {
            let ns = lab.node_ns(src)?;
            senders.push(netns::spawn_in(&ns, move || -> Result<()> {
                let sock = UdpSocket::bind(SocketAddrV4::new(node_addr(src), 0))
                    .map_err(|e| NemesisError::io(format!("probe socket on n{}", src + 1), e))?;
                let msg = format!("{nonce} {src}");
                for _ in 0..PROBES_PER_LINK {
                    for dst in (0..n).filter(|&d| d != src) {
                        let target = SocketAddrV4::new(node_addr(dst), PROBE_PORT);
                        let _ = sock.send_to(msg.as_bytes(), target);
                    }
                    // The first datagrams may wait on ARP; spread the rest a little.
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(())
            }));
        }
    }
    let mut first_error = None;
    for s in senders {
        match s.join() {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e)) | Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(NemesisError::Invalid("probe sender panicked".into()));
            }
        }
    }
    let _ = stop_at.set(Instant::now() + wait);
    let mut matrix = vec![vec![false; n]; n];
    for (dst, l) in listeners.into_iter().enumerate() {
        match l.join() {
            Ok(Ok(Ok(heard))) => {
                for src in heard {
                    matrix[src][dst] = true;
                }
            }
            Ok(Ok(Err(e)) | Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(NemesisError::Invalid("probe listener panicked".into()));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(matrix),
    }
}

/// The outcome of checking a partition against the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// Links that should be cut but carried a probe.
    pub leaked: Vec<(usize, usize)>,
    /// Links that should be open but carried none.
    pub broken: Vec<(usize, usize)>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.leaked.is_empty() && self.broken.is_empty()
    }
}

/// Compares a measured matrix with what `grudge` intends.
pub fn compare(grudge: &Grudge, measured: &Matrix) -> Verification {
    let mut v = Verification { leaked: Vec::new(), broken: Vec::new() };
    for (s, row) in measured.iter().enumerate() {
        for (d, &got) in row.iter().enumerate() {
            if s == d {
                continue;
            }
            match (grudge.allows(s, d), got) {
                (false, true) => v.leaked.push((s, d)),
                (true, false) => v.broken.push((s, d)),
                _ => {}
            }
        }
    }
    v
}
