//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use harness::options::{HostChoice, TestArgs};
use harness::systems::ReadMode;

/// Every process whose command line mentions `dir` (node processes of runs stored
/// there), excluding zombies.
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if harness::node_host::pid_alive(pid)
            && harness::node_host::pid_cmdline(pid).contains(&needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Kills every process under `dir` when dropped: a failing test leaves nothing.
pub struct KillUnder<'a>(pub &'a Path);

impl Drop for KillUnder<'_> {
    fn drop(&mut self) {
        for pid in processes_under(self.0) {
            let _ = harness::node_host::signal_pid(pid, harness::node_host::NodeSignal::Kill);
        }
    }
}

/// Waits until `cond` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Options for a short test run stored under `store`.
pub fn args(system: &str, store: &Path, net: u8) -> TestArgs {
    TestArgs {
        system: system.into(),
        workload: "register".into(),
        nemesis: vec!["none".into()],
        nodes: 3,
        concurrency: 10,
        rate: 100.0,
        time_limit: 3.0,
        ops_per_worker: None,
        seed: Some(1),
        read_mode: ReadMode::Linearizable,
        node_bug: vec![],
        lease_ttl: None,
        ops_per_key: None,
        store: store.to_path_buf(),
        name: None,
        op_timeout_ms: 2000,
        recovery: None,
        pre_vote: true,
        loopback_net: net,
        nemesis_interval: 5.0,
        checker_option: vec![],
        partitions: Vec::new(),
        host: HostChoice::Auto,
        quiet: true,
        faults: Default::default(),
    }
}

/// Fails with the install hint when etcd is missing (never a silent skip).
pub fn require_etcd() {
    assert!(
        Path::new("/usr/bin/etcd").exists(),
        "this test needs etcd: run `apt-get install etcd-server` (scripts/install-deps does)"
    );
}
