//! Test fixture: a real cluster of `faultline-node` child processes on 127.0.0.1, on ports
//! chosen free at test time, each with its own data directory. Nodes are killed by pid
//! (SIGKILL) when the fixture is dropped, whatever way the test ends; when a test panics, the
//! tail of every node's log is printed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub addrs: BTreeMap<u64, SocketAddr>,
    pub children: BTreeMap<u64, Child>,
    pub bugs: Vec<String>,
    pub extra_args: Vec<String>,
    pub http: reqwest::Client,
}

/// A port free for both TCP and UDP right now (the node uses both).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral TCP port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Cluster {
    /// Starts `n` nodes (ids 1..=n) with the given bug switches.
    pub fn start(n: u64, bugs: &[&str]) -> Cluster {
        Cluster::start_with(n, bugs, &[])
    }

    pub fn start_with(n: u64, bugs: &[&str], extra_args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let addrs: BTreeMap<u64, SocketAddr> =
            (1..=n).map(|id| (id, SocketAddr::from(([127, 0, 0, 1], free_port())))).collect();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("http client");
        let mut c = Cluster {
            dir,
            addrs,
            children: BTreeMap::new(),
            bugs: bugs.iter().map(|s| s.to_string()).collect(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            http,
        };
        for id in 1..=n {
            c.spawn(id, false);
        }
        c
    }

    pub fn peers_flag(&self) -> String {
        self.addrs.iter().map(|(id, a)| format!("{id}={a}")).collect::<Vec<_>>().join(",")
    }

    pub fn log_path(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("n{id}.log"))
    }

    /// Spawns node `id` (again, with the same data directory after a kill).
    pub fn spawn(&mut self, id: u64, join: bool) {
        let addr = self.addrs[&id];
        let log =
            File::options().create(true).append(true).open(self.log_path(id)).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline-node"));
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--peers")
            .arg(self.peers_flag())
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("n{id}")));
        if join {
            cmd.arg("--join");
        }
        for b in &self.bugs {
            cmd.arg("--bug").arg(b);
        }
        cmd.args(&self.extra_args);
        cmd.stdout(log.try_clone().expect("log")).stderr(log);
        let child = cmd.spawn().expect("spawn faultline-node");
        self.children.insert(id, child);
    }

    /// Adds a fresh node id to the address book (not started).
    pub fn add_address(&mut self) -> u64 {
        let id = self.addrs.keys().max().copied().unwrap_or(0) + 1;
        self.addrs.insert(id, SocketAddr::from(([127, 0, 0, 1], free_port())));
        id
    }

    pub fn pid(&self, id: u64) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.children[&id].id() as i32)
    }

    /// SIGKILL by pid, and reap.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children.remove(&id) {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    pub fn pause(&self, id: u64) {
        let _ = nix::sys::signal::kill(self.pid(id), nix::sys::signal::Signal::SIGSTOP);
    }

    pub fn resume(&self, id: u64) {
        let _ = nix::sys::signal::kill(self.pid(id), nix::sys::signal::Signal::SIGCONT);
    }

    pub fn url(&self, id: u64, path: &str) -> String {
        format!("http://{}{}", self.addrs[&id], path)
    }

    pub async fn status(&self, id: u64) -> TestResult<Value> {
        let r = self
            .http
            .get(self.url(id, "/v1/faultline/status"))
            .timeout(Duration::from_secs(1))
            .send()
            .await?;
        Ok(r.json().await?)
    }

    /// Waits until the running nodes agree on a leader that holds its lease; returns its id.
    pub async fn wait_leader(&self, within: Duration) -> TestResult<u64> {
        let deadline = Instant::now() + within;
        loop {
            for id in self.children.keys() {
                if let Ok(s) = self.status(*id).await
                    && s["State"] == "Leader"
                    && s["LeaseHeld"] == true
                {
                    return Ok(*id);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no leader within {within:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the leader's catalog lists every running node with `serfHealth` passing
    /// (the leader registers them from gossip; sessions need it).
    pub async fn wait_serf_healthy(&self, within: Duration) -> TestResult {
        let deadline = Instant::now() + within;
        loop {
            let want: Vec<String> = self.children.keys().map(|id| format!("node-{id}")).collect();
            if let Ok(leader) = self.wait_leader(Duration::from_secs(1)).await
                && let Ok((200, _, body)) = self.get(leader, "/v1/health/state/passing").await
            {
                let checks: Vec<Value> = serde_json::from_str(&body)?;
                let healthy = |n: &String| {
                    checks.iter().any(|k| k["Node"] == n.as_str() && k["CheckID"] == "serfHealth")
                };
                if want.iter().all(healthy) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(
                    format!("serfHealth not passing for all nodes within {within:?}").into()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Some running node other than `not`.
    pub fn other_than(&self, not: u64) -> u64 {
        *self.children.keys().find(|id| **id != not).expect("another node")
    }

    pub async fn put(&self, id: u64, key: &str, value: &str) -> TestResult<(u16, String)> {
        let r = self
            .http
            .put(self.url(id, &format!("/v1/kv/{key}")))
            .body(value.to_owned())
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    /// GET a path; returns status, X-Consul-Index, body text.
    pub async fn get(&self, id: u64, path: &str) -> TestResult<(u16, Option<u64>, String)> {
        let r = self.http.get(self.url(id, path)).send().await?;
        let index = r
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((r.status().as_u16(), index, r.text().await?))
    }

    /// The decoded value of `key` read from node `id` in `mode` ("", "stale", "consistent").
    pub async fn value(&self, id: u64, key: &str, mode: &str) -> TestResult<Option<String>> {
        let q = if mode.is_empty() { String::new() } else { format!("?{mode}") };
        let (status, _, body) = self.get(id, &format!("/v1/kv/{key}{q}")).await?;
        match status {
            404 => Ok(None),
            200 => {
                let v: Value = serde_json::from_str(&body)?;
                let b64 = v[0]["Value"].as_str().unwrap_or("");
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64)?;
                Ok(Some(String::from_utf8(bytes)?))
            }
            s => Err(format!("GET {key} on node {id}: {s} {body}").into()),
        }
    }

    fn dump_logs(&self) {
        for id in self.addrs.keys() {
            let text = std::fs::read_to_string(self.log_path(*id)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(100)..];
            eprintln!("----- node {id} log (last {} lines) -----\n{}", tail.len(), tail.join("\n"));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Paused nodes must be continued or SIGKILL still works; SIGKILL works on stopped ones.
        let ids: Vec<u64> = self.children.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
        if std::thread::panicking() {
            self.dump_logs();
        }
    }
}
