//! Shared test fixtures: a lab with the echo fixture running on every node, and
//! measurements over real TCP connections between the nodes' namespaces.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use nemesis::lab::node_addr;
use nemesis::{Lab, LabConfig, ProcHandle, ProcessSpec, netns};

pub mod held;

pub const ECHO_PORT: u16 = 7000;
pub const FIXTURE: &str = env!("CARGO_BIN_EXE_faultline-fixture");

pub struct EchoLab {
    pub lab: Lab,
    pub echo: Vec<ProcHandle>,
}

/// A lab of `nodes` nodes with an echo server on each, all answering.
pub fn echo_lab(nodes: usize) -> EchoLab {
    echo_lab_with(nodes, |_, _| Vec::new())
}

/// Same, with extra environment per node (libfaketime).
pub fn echo_lab_with(nodes: usize, env: impl Fn(&Lab, usize) -> Vec<(String, String)>) -> EchoLab {
    let lab = match Lab::create(LabConfig::nodes(nodes)) {
        Ok(lab) => lab,
        Err(e) => {
            panic!("cannot build a lab (these tests need root, iproute2, nftables, iptables): {e}")
        }
    };
    let mut echo = Vec::new();
    for node in 0..nodes {
        let mut spec = ProcessSpec::new(FIXTURE, &["echo", &ECHO_PORT.to_string()]);
        spec.env = env(&lab, node);
        echo.push(lab.spawn_in(node, spec).expect("spawn echo"));
    }
    for node in 0..nodes {
        wait_answering(&lab, node);
    }
    EchoLab { lab, echo }
}

/// Waits until node `node`'s echo answers from the switch namespace.
pub fn wait_answering(lab: &Lab, node: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask_from_switch(lab, node, "ping").as_deref() != Some("ping") {
        assert!(Instant::now() < deadline, "echo on n{} never answered", node + 1);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one line and reads one line back, with `timeout` on each step.
pub fn ask(dst: usize, line: &str, timeout: Duration) -> Option<String> {
    let addr = SocketAddr::V4(SocketAddrV4::new(node_addr(dst), ECHO_PORT));
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_nodelay(true).ok()?;
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).ok()?;
    let reply = reply.trim().to_string();
    if reply.is_empty() { None } else { Some(reply) }
}

pub fn ask_from_switch(lab: &Lab, dst: usize, line: &str) -> Option<String> {
    let line = line.to_string();
    lab.in_switch(move || ask(dst, &line, Duration::from_millis(500))).ok().flatten()
}

/// Measures, over TCP between node namespaces, which node reaches which echo
/// server: `m[src][dst]` (the diagonal is true). All pairs run in parallel.
pub fn tcp_matrix(lab: &Lab, timeout: Duration) -> Vec<Vec<bool>> {
    let n = lab.node_count();
    let rows: Vec<_> = (0..n)
        .map(|src| {
            let ns = lab.node_ns(src).expect("ns");
            netns::spawn_in(&ns, move || {
                // Threads inherit the namespace of the thread that creates them.
                let cells: Vec<_> = (0..n)
                    .map(|dst| {
                        std::thread::spawn(move || {
                            src == dst || ask(dst, "ping", timeout).as_deref() == Some("ping")
                        })
                    })
                    .collect();
                cells.into_iter().map(|c| c.join().unwrap_or(false)).collect::<Vec<bool>>()
            })
        })
        .collect();
    rows.into_iter().map(|r| r.join().expect("row thread").expect("enter ns")).collect()
}

/// [`tcp_matrix`] with a quick timeout, then every cell that failed where
/// `expected` says open is tried again with a patient one, so a loaded machine
/// does not pass for a cut link (cut links still fail fast and are not retried).
pub fn tcp_matrix_expecting(lab: &Lab, expected: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let mut m = tcp_matrix(lab, Duration::from_millis(300));
    for (src, row) in m.iter_mut().enumerate() {
        for (dst, cell) in row.iter_mut().enumerate() {
            if !*cell && expected[src][dst] {
                let ns = lab.node_ns(src).expect("ns");
                *cell = netns::run_in(&ns, move || {
                    ask(dst, "ping", Duration::from_secs(3)).as_deref() == Some("ping")
                })
                .expect("enter ns");
            }
        }
    }
    m
}

/// Asserts nothing of lab `prefix` remains: namespaces, marker, listed pids.
pub fn assert_gone(prefix: &str, pids: &[u32]) {
    let netns = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("{prefix}-")))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(netns.is_empty(), "namespaces of {prefix} remain: {netns:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(!mounts.contains(&format!("/run/netns/{prefix}-")), "netns mounts of {prefix} remain");
    // Rules only ever live inside the lab's namespaces; the root namespace never
    // gets a table of ours.
    let root_tables = std::process::Command::new("nft").args(["list", "tables"]).output();
    if let Ok(out) = root_tables {
        let tables = String::from_utf8_lossy(&out.stdout);
        assert!(!tables.contains("faultline"), "a faultline table in the root namespace: {tables}");
    }
    let dir = nemesis::state::run_dir().join(prefix);
    assert!(!dir.exists(), "marker {} remains", dir.display());
    for &pid in pids {
        assert!(
            nemesis::state::proc_start_time(pid).is_none(),
            "process {pid} of {prefix} still runs"
        );
    }
}

/// Every pid the lab's processes currently have.
pub fn pids(lab: &Lab, handles: &[ProcHandle]) -> Vec<u32> {
    handles.iter().filter_map(|&h| lab.pid(h)).collect()
}

/// Tears a lab down and checks that nothing of it remains.
pub fn destroy_and_check(e: EchoLab) {
    destroy_and_check_with(e, 0);
}

/// Same, for a lab that also has `clients` client namespaces.
pub fn destroy_and_check_with(e: EchoLab, clients: usize) {
    let prefix = e.lab.prefix().to_string();
    let pids = pids(&e.lab, &e.echo);
    let report = e.lab.destroy().expect("teardown");
    assert_eq!(report.deleted_namespaces.len(), e.echo.len() + clients + 1);
    assert_gone(&prefix, &pids);
}
