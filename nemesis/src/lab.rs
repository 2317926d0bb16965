//! The lab: one network namespace per node plus a switch namespace whose bridge
//! joins them, all named `<prefix>-…` with a prefix unique to the run.
//!
//! ```text
//!   <prefix>-n1 [eth0 198.18.0.1] ──veth── p1 ┐
//!   <prefix>-n2 [eth0 198.18.0.2] ──veth── p2 ├─ br0 198.18.0.254  (<prefix>-sw)
//!   ...                                       │   + table bridge faultline
//!   <prefix>-c1 [eth0 198.18.0.201] ─veth── c1 ┘   (client namespaces, optional)
//! ```
//!
//! Every lab has its own switch, so all labs may use the same addresses without
//! meeting. Clients reach nodes from the switch namespace ([`Lab::in_switch`]; the
//! bridge's own traffic is never forwarded, so never cut), or from client
//! namespaces ([`Lab::add_client`], [`Lab::in_client`]) that client cuts can
//! separate from nodes. The nemesis cuts links with one nftables table in the
//! switch namespace.
//! A lab is removed when dropped (see [`crate::cleanup`] for signals and crashes),
//! except a lab brought up by hand for a developer, which lives until `lab down`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cleanup::{self, TeardownReport};
use crate::error::{NemesisError, Result};
use crate::exec;
use crate::faults::NetFaults;
use crate::netns;
use crate::prereq;
use crate::state::{LabState, NodeRecord, Owner, PREFIX_STEM, run_dir};

/// The most nodes a lab holds (one /24, the switch takes .254).
pub const MAX_NODES: usize = 200;

/// A node's address: 198.18.0.<index+1>, in the benchmarking range nobody routes.
pub fn node_addr(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, (index + 1) as u8)
}

/// The most client namespaces a lab holds (198.18.0.201 to .250).
pub const MAX_CLIENTS: usize = 50;

/// A client namespace's address: 198.18.0.<201+index>.
pub fn client_addr(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, (201 + index) as u8)
}

/// The bridge's address in the switch namespace, where clients live.
pub const SWITCH_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);

/// How to build a lab.
#[derive(Debug, Clone)]
pub struct LabConfig {
    pub nodes: usize,
    /// A lab brought up by hand: it survives this process and `Drop`.
    pub persistent: bool,
}

impl LabConfig {
    pub fn nodes(nodes: usize) -> LabConfig {
        LabConfig { nodes, persistent: false }
    }
}

/// A handle on one process spawned in the lab; stays valid across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcHandle {
    pub id: usize,
    pub node: usize,
}

/// A lab, shared by the harness, its clients and the nemesis.
#[derive(Clone)]
pub struct Lab {
    pub(crate) inner: Arc<LabInner>,
}

pub(crate) struct LabInner {
    pub(crate) state: Mutex<LabState>,
    /// Children this process started, so we can reap them.
    pub(crate) children: Mutex<HashMap<usize, Child>>,
    /// The lab's network faults as currently applied.
    pub(crate) net: Mutex<NetFaults>,
    persistent: bool,
    torn_down: AtomicBool,
    prefix: String,
}

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop cleanup: the data is still meaningful.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

impl Lab {
    /// Builds a lab: checks prerequisites, sweeps stale labs of crashed runs,
    /// claims a unique prefix, records the marker, then creates the namespaces.
    pub fn create(config: LabConfig) -> Result<Lab> {
        if config.nodes == 0 || config.nodes > MAX_NODES {
            return Err(NemesisError::Invalid(format!(
                "a lab has 1 to {MAX_NODES} nodes, not {}",
                config.nodes
            )));
        }
        prereq::check(prereq::LAB_TOOLS)?;
        let (_, errors) = cleanup::sweep_stale();
        for e in errors {
            eprintln!("faultline: warning: {e}");
        }
        let dir_root = run_dir();
        std::fs::create_dir_all(&dir_root)
            .map_err(|e| NemesisError::io(format!("creating {}", dir_root.display()), e))?;
        // Claim a prefix with mkdir, which is atomic: pid + per-process counter make
        // collisions rare, mkdir makes them impossible.
        let prefix = loop {
            let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
            let candidate =
                format!("{PREFIX_STEM}{}x{}", base36(std::process::id() as u64), base36(n as u64));
            match std::fs::create_dir(dir_root.join(&candidate)) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(NemesisError::io("claiming a lab prefix", e)),
            }
        };
        let owner = if config.persistent {
            Owner::User { created_by_pid: std::process::id() }
        } else {
            Owner::this_process()
        };
        let state = LabState {
            prefix: prefix.clone(),
            owner,
            switch_ns: format!("{prefix}-sw"),
            switch_addr: SWITCH_ADDR,
            nodes: (0..config.nodes)
                .map(|i| NodeRecord {
                    name: format!("n{}", i + 1),
                    ns: format!("{prefix}-n{}", i + 1),
                    addr: node_addr(i),
                })
                .collect(),
            clients: Vec::new(),
            processes: Vec::new(),
        };
        state.save()?;
        let lab = Lab::from_state(state, config.persistent);
        if !config.persistent {
            cleanup::register(&lab.inner);
        }
        // Remove whatever was created if building fails (a persistent lab's Drop
        // would leave it).
        let built = build_network(&lock(&lab.inner.state));
        if let Err(e) = built {
            if let Err(cleanup) = lab.inner.teardown() {
                eprintln!("faultline: removing the half-built lab {prefix}: {cleanup}");
            }
            return Err(e);
        }
        Ok(lab)
    }

    fn from_state(state: LabState, persistent: bool) -> Lab {
        let prefix = state.prefix.clone();
        Lab {
            inner: Arc::new(LabInner {
                state: Mutex::new(state),
                children: Mutex::new(HashMap::new()),
                net: Mutex::new(NetFaults::default()),
                persistent,
                torn_down: AtomicBool::new(false),
                prefix,
            }),
        }
    }

    /// Re-opens a lab another command created (for `faultline lab ...`). Dropping
    /// the handle leaves the lab up; [`Lab::destroy`] removes it.
    pub fn attach(prefix: &str) -> Result<Lab> {
        let state = LabState::load(prefix)?;
        for ns in state.namespaces() {
            if netns::ns_inode(&ns).is_none() {
                return Err(NemesisError::State {
                    path: state.dir().display().to_string(),
                    message: format!("namespace {ns} is gone; remove the lab with `lab down`"),
                });
            }
        }
        let switch_ns = state.switch_ns.clone();
        let lab = Lab::from_state(state, true);
        // Another command may have left a partition: start from what the kernel holds.
        let grudge = crate::netfilter::read_partition(&switch_ns)?;
        lock(&lab.inner.net).grudge = grudge;
        Ok(lab)
    }

    /// Removes the lab now (also what `Drop` does for a run's lab).
    pub fn destroy(self) -> Result<TeardownReport> {
        self.inner.teardown()
    }

    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// A copy of the marker (nodes, namespaces, processes).
    pub fn state(&self) -> LabState {
        lock(&self.inner.state).clone()
    }

    pub fn node_count(&self) -> usize {
        lock(&self.inner.state).nodes.len()
    }

    /// The namespace of node `index` (0-based).
    pub fn node_ns(&self, index: usize) -> Result<String> {
        let state = lock(&self.inner.state);
        state.nodes.get(index).map(|n| n.ns.clone()).ok_or_else(|| {
            NemesisError::UnknownNode(format!("index {index} of {}", state.nodes.len()))
        })
    }

    pub fn node_addr(&self, index: usize) -> Result<Ipv4Addr> {
        self.check_node(index)?;
        Ok(node_addr(index))
    }

    pub fn switch_ns(&self) -> String {
        lock(&self.inner.state).switch_ns.clone()
    }

    fn check_node(&self, index: usize) -> Result<()> {
        let n = self.node_count();
        if index < n {
            Ok(())
        } else {
            Err(NemesisError::UnknownNode(format!("index {index} of {n}")))
        }
    }

    /// Parses a node name as users write it: `n3` or `3` (1-based) to an index.
    pub fn node_index(&self, name: &str) -> Result<usize> {
        parse_node(name, self.node_count())
    }

    /// Runs `f` on a thread inside the switch namespace (where clients live).
    pub fn in_switch<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        netns::run_in(&self.switch_ns(), f)
    }

    /// Runs `f` on a thread inside node `index`'s namespace.
    pub fn in_node<T, F>(&self, index: usize, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        netns::run_in(&self.node_ns(index)?, f)
    }

    /// Adds a client namespace `<prefix>-c<k>` on the bridge (for clients that a
    /// client partition may cut off); returns its 0-based index. Recorded in the
    /// marker before it is created, removed with the lab.
    pub fn add_client(&self) -> Result<usize> {
        let (index, ns, switch_ns) = {
            let mut state = lock(&self.inner.state);
            let index = state.clients.len();
            if index >= MAX_CLIENTS {
                return Err(NemesisError::Invalid(format!(
                    "a lab has at most {MAX_CLIENTS} clients"
                )));
            }
            let ns = format!("{}-c{}", state.prefix, index + 1);
            let name = format!("c{}", index + 1);
            state.clients.push(NodeRecord { name, ns: ns.clone(), addr: client_addr(index) });
            state.save()?;
            (index, ns, state.switch_ns.clone())
        };
        let port = format!("c{}", index + 1);
        exec::ip_batch(None, &format!("netns add {ns}\n"))?;
        exec::ip_batch(
            Some(&switch_ns),
            &format!(
                "link add {port} type veth peer name eth0 netns {ns}\nlink set {port} master br0\n\
                 link set {port} up\n"
            ),
        )?;
        exec::ip_batch(
            Some(&ns),
            &format!(
                "link set lo up\naddr add {}/24 dev eth0\nlink set eth0 up\n",
                client_addr(index)
            ),
        )?;
        Ok(index)
    }

    /// The namespace of client `index` (0-based).
    pub fn client_ns(&self, index: usize) -> Result<String> {
        let state = lock(&self.inner.state);
        state.clients.get(index).map(|c| c.ns.clone()).ok_or_else(|| {
            NemesisError::Invalid(format!(
                "no client {index} (this lab has {})",
                state.clients.len()
            ))
        })
    }

    pub fn client_count(&self) -> usize {
        lock(&self.inner.state).clients.len()
    }

    /// Runs `f` on a thread inside client `index`'s namespace.
    pub fn in_client<T, F>(&self, index: usize, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        netns::run_in(&self.client_ns(index)?, f)
    }
}

impl LabInner {
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Removes the lab once; later calls do nothing.
    pub(crate) fn teardown(&self) -> Result<TeardownReport> {
        if self.torn_down.swap(true, Ordering::SeqCst) {
            return Ok(TeardownReport { prefix: self.prefix.clone(), ..Default::default() });
        }
        // Delayer threads hold netlink sockets inside node namespaces: stop them first.
        lock(&self.net).stop_delayers();
        let state = lock(&self.state).clone();
        let mut children = lock(&self.children);
        cleanup::teardown_state(&state, |id| children.remove(&id))
    }
}

impl Drop for LabInner {
    fn drop(&mut self) {
        if self.persistent {
            return;
        }
        if let Err(e) = self.teardown() {
            eprintln!("faultline: removing lab {}: {e}", self.prefix);
        }
    }
}

/// Parses `n3` or `3` (1-based) into an index below `count`.
pub fn parse_node(name: &str, count: usize) -> Result<usize> {
    let digits = name.strip_prefix('n').unwrap_or(name);
    match digits.parse::<usize>() {
        Ok(k) if k >= 1 && k <= count => Ok(k - 1),
        _ => Err(NemesisError::UnknownNode(format!("{name} (this lab has n1..n{count})"))),
    }
}

/// Creates the namespaces, the bridge, the veths and the base nftables table.
/// Few `ip` processes: one batch for the namespaces, one for the switch side, one
/// per node (run in parallel).
fn build_network(state: &LabState) -> Result<()> {
    let mut ns_script = format!("netns add {}\n", state.switch_ns);
    for n in &state.nodes {
        ns_script.push_str(&format!("netns add {}\n", n.ns));
    }
    exec::ip_batch(None, &ns_script)?;
    let mut sw = format!(
        "link set lo up\nlink add br0 type bridge\nlink set br0 up\naddr add {}/24 dev br0\n",
        state.switch_addr
    );
    for (i, n) in state.nodes.iter().enumerate() {
        let port = format!("p{}", i + 1);
        sw.push_str(&format!(
            "link add {port} type veth peer name eth0 netns {}\nlink set {port} master br0\nlink set {port} up\n",
            n.ns
        ));
    }
    exec::ip_batch(Some(&state.switch_ns), &sw)?;
    let handles: Vec<_> = state
        .nodes
        .iter()
        .map(|n| {
            let (ns, addr) = (n.ns.clone(), n.addr);
            std::thread::spawn(move || {
                exec::ip_batch(
                    Some(&ns),
                    &format!("link set lo up\naddr add {addr}/24 dev eth0\nlink set eth0 up\n"),
                )
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|_| Err(NemesisError::Invalid("ip thread panicked".into())))?;
    }
    crate::netfilter::install_base_table(&state.switch_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_parse_one_based() {
        assert_eq!(parse_node("n1", 5).ok(), Some(0));
        assert_eq!(parse_node("5", 5).ok(), Some(4));
        assert!(parse_node("n6", 5).is_err());
        assert!(parse_node("n0", 5).is_err());
        assert!(parse_node("x", 5).is_err());
    }

    #[test]
    fn prefixes_are_short_enough_for_names() {
        // Interfaces are named p<i>, eth0 and br0 inside the lab's own namespaces, so
        // only namespace names carry the prefix; keep those readable.
        let p = format!("{PREFIX_STEM}{}x{}", base36(4_194_304), base36(100_000));
        assert!(format!("{p}-n200").len() <= 20, "{p}");
        assert!(format!("p{MAX_NODES}").len() <= 15);
    }
}
