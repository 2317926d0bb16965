//! The builtin system: faultline's own Consul-like node (`faultline-node`, crate
//! `node`), the default system under test, and a register client over its Consul KV
//! API (the lock workload's client is in [`super::builtin_lock`]).
//!
//! Each node gets its own data dir and log under the run directory and listens on its
//! host address at Consul's port (HTTP API, Raft RPCs and gossip share it). Bug
//! switches (`--node-bug`) are passed to every node as `--bug NAME`. Setup waits
//! until every node serves a consistent read.
//!
//! The client maps outcomes the Jepsen way (see [`crate::client`]): a request that
//! never left (connection refused) is `fail`; a read that got no value is `fail` (a
//! read has no effect); a write or cas whose request was sent but got no clear answer
//! (timeout, reset, any 5xx, including `No cluster leader`, which a deposed leader can
//! also answer for a write it had already appended) is `info`. A cas reads the value
//! and its `ModifyIndex` first: a value that differs is `fail` (nothing was written),
//! then `PUT ?cas=<index>` answering `false` is `fail` (the index moved: nothing was
//! written).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use history::Value;
use serde_json::Value as Json;
use workloads::Invocation;

use crate::client::{Client, Completion};
use crate::node_host::{NodeHost, NodeSignal, ProcessSpec, node_name};
use crate::system::{ProcessTable, System, SystemError};
use crate::systems::ReadMode;

/// Consul's HTTP port; the node serves its API, Raft and gossip there.
pub const PORT: u16 = 8500;

/// The node's program name.
pub const NODE_BINARY: &str = "faultline-node";

/// The node's bug switches (see `node/README.md`).
pub const NODE_BUGS: [&str; 4] =
    ["stale-default-reads", "ack-before-commit", "no-fsync", "lock-no-session-check"];

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct BuiltinOptions {
    pub binary: PathBuf,
    pub read_mode: ReadMode,
    /// Bug switches every node starts with.
    pub bugs: Vec<String>,
    pub heartbeat_ms: u32,
    pub election_ms: u32,
    /// How long setup waits for every node to serve a consistent read.
    pub health_timeout: Duration,
    /// How long teardown waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Remove the data dirs at teardown.
    pub remove_data: bool,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        BuiltinOptions {
            binary: default_binary(),
            read_mode: ReadMode::Linearizable,
            bugs: Vec::new(),
            heartbeat_ms: 100,
            election_ms: 500,
            health_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(1),
            remove_data: true,
        }
    }
}

/// Where `faultline-node` is: `$FAULTLINE_NODE` if set, else next to the running
/// executable (cargo puts both binaries in `target/<profile>/`); a test binary runs
/// from `target/<profile>/deps/`, so the parent directory is tried too.
pub fn default_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FAULTLINE_NODE") {
        return PathBuf::from(path);
    }
    let Ok(exe) = std::env::current_exe() else { return PathBuf::from(NODE_BINARY) };
    let dir = exe.parent().unwrap_or(Path::new("."));
    let beside = dir.join(NODE_BINARY);
    if !beside.exists()
        && dir.file_name().is_some_and(|n| n == "deps")
        && let Some(up) = dir.parent()
    {
        return up.join(NODE_BINARY);
    }
    beside
}

/// A cluster of builtin nodes on a node host.
pub struct Builtin {
    options: BuiltinOptions,
    run_dir: PathBuf,
    procs: ProcessTable,
    http: reqwest::Client,
}

impl Builtin {
    /// A cluster with one node per host node, its files under `run_dir`.
    pub fn new(
        options: BuiltinOptions,
        host: Arc<dyn NodeHost>,
        run_dir: PathBuf,
    ) -> Result<Builtin, SystemError> {
        if let Some(bad) = options.bugs.iter().find(|b| !NODE_BUGS.contains(&b.as_str())) {
            return Err(SystemError::Other(format!(
                "unknown node bug {bad:?} (known: {})",
                NODE_BUGS.join(", ")
            )));
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| SystemError::Other(format!("cannot build the HTTP client: {e}")))?;
        let pid_file = Some(run_dir.join("node-pids.json"));
        Ok(Builtin { options, procs: ProcessTable::new(host, pid_file), run_dir, http })
    }

    fn host(&self) -> &Arc<dyn NodeHost> {
        self.procs.host()
    }

    fn node_dir(&self, node: usize) -> PathBuf {
        self.run_dir.join(node_name(node))
    }

    fn log_file(&self, node: usize) -> PathBuf {
        self.node_dir(node).join("node.log")
    }

    fn addr(&self, node: usize) -> String {
        format!("{}:{PORT}", self.host().address(node))
    }

    fn url(&self, node: usize) -> String {
        format!("http://{}", self.addr(node))
    }

    fn spec(&self, node: usize) -> ProcessSpec {
        let peers: Vec<String> =
            (0..self.node_count()).map(|i| format!("{}={}", i + 1, self.addr(i))).collect();
        let o = &self.options;
        let mut args = vec![
            format!("--id={}", node + 1),
            format!("--bind={}", self.addr(node)),
            format!("--peers={}", peers.join(",")),
            format!("--data-dir={}", self.data_dir(node).display()),
            format!("--heartbeat-ms={}", o.heartbeat_ms),
            format!("--election-timeout-ms={}", o.election_ms),
        ];
        args.extend(o.bugs.iter().map(|b| format!("--bug={b}")));
        ProcessSpec { program: o.binary.clone(), args, env: vec![], log: self.log_file(node) }
    }

    fn marker(&self, node: usize) -> String {
        self.data_dir(node).display().to_string()
    }

    /// One consistent read through `node`; `Ok` once the cluster serves it there.
    async fn probe(&self, node: usize) -> Result<(), String> {
        let url = format!("{}/v1/kv/faultline-health?consistent", self.url(node));
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        // 404: the key is absent, and the read went through the leader: healthy.
        if resp.status().is_success() || resp.status() == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!("HTTP {}: {}", resp.status(), resp.text().await.unwrap_or_default()))
        }
    }

    async fn leader_addr(&self, node: usize) -> Option<String> {
        let url = format!("{}/v1/status/leader", self.url(node));
        let resp = self.http.get(url).timeout(Duration::from_millis(500)).send().await.ok()?;
        resp.json::<String>().await.ok()
    }
}

impl System for Builtin {
    type Client = BuiltinClient;

    fn name(&self) -> &'static str {
        "builtin"
    }

    fn node_count(&self) -> usize {
        self.host().node_count()
    }

    fn check_installed(&self) -> Result<String, SystemError> {
        let binary = &self.options.binary;
        let missing = |why: String| {
            SystemError::NotInstalled(format!(
                "the builtin node is not built ({why}): run `cargo build -p node` (or \
                 `cargo build --release -p node` for a release faultline), or point \
                 $FAULTLINE_NODE at a faultline-node binary"
            ))
        };
        if !binary.exists() {
            return Err(missing(format!("{} does not exist", binary.display())));
        }
        let out = Command::new(binary)
            .arg("--version")
            .output()
            .map_err(|e| missing(format!("{} does not run: {e}", binary.display())))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || text.is_empty() {
            return Err(missing(format!(
                "{} --version failed: {}",
                binary.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(text)
    }

    async fn setup(&self) -> Result<(), SystemError> {
        for node in 0..self.node_count() {
            std::fs::create_dir_all(self.node_dir(node)).map_err(|e| SystemError::Node {
                node: node + 1,
                message: format!("cannot create {}: {e}", self.node_dir(node).display()),
            })?;
            self.start(node)?;
        }
        self.procs
            .wait_healthy(
                "faultline-node",
                |n| self.log_file(n),
                self.options.health_timeout,
                |n| self.probe(n),
            )
            .await
    }

    fn start(&self, node: usize) -> Result<(), SystemError> {
        self.procs.start(node, &self.spec(node), &self.marker(node))?;
        Ok(())
    }

    fn kill(&self, node: usize) -> Result<(), SystemError> {
        self.procs.kill(node)
    }

    fn pause(&self, node: usize) -> Result<(), SystemError> {
        self.procs.signal(node, NodeSignal::Stop)
    }

    fn resume(&self, node: usize) -> Result<(), SystemError> {
        self.procs.signal(node, NodeSignal::Cont)
    }

    fn teardown(&self) -> Result<(), SystemError> {
        let dirs = if self.options.remove_data {
            (0..self.node_count()).map(|n| self.data_dir(n)).collect()
        } else {
            Vec::new()
        };
        self.procs.stop_and_remove(self.options.stop_grace, dirs)
    }

    fn data_dir(&self, node: usize) -> PathBuf {
        self.node_dir(node).join("data")
    }

    fn log_files(&self, node: usize) -> Vec<PathBuf> {
        vec![self.log_file(node)]
    }

    async fn leader(&self) -> Option<usize> {
        // Only when every answering node names the same leader.
        let mut named: Option<String> = None;
        for node in 0..self.node_count() {
            if let Some(addr) = self.leader_addr(node).await {
                if addr.is_empty() {
                    return None;
                }
                match &named {
                    Some(n) if *n != addr => return None,
                    _ => named = Some(addr),
                }
            }
        }
        let named = named?;
        (0..self.node_count()).find(|n| self.addr(*n) == named)
    }

    fn client(&self, node: usize) -> Result<BuiltinClient, SystemError> {
        let read_query = match self.options.read_mode {
            ReadMode::Linearizable => "?consistent",
            ReadMode::Default => "",
            ReadMode::Serializable => "?stale",
        };
        Ok(BuiltinClient {
            http: self.http.clone(),
            base: self.url(node),
            node: node_name(node),
            read_query,
            locks: Default::default(),
        })
    }
}

/// A register client for one builtin node.
pub struct BuiltinClient {
    /// Shared pool (cloning a reqwest client shares it).
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    node: String,
    /// The read mode's query string (`?consistent`, `""`, `?stale`).
    read_query: &'static str,
    /// The lock workload's session and held locks (see [`super::builtin_lock`]).
    pub(super) locks: super::builtin_lock::LockState,
}

/// What an HTTP exchange came to, before it is read as an operation outcome.
pub(super) enum Reply {
    /// 2xx, with the body.
    Body(String),
    /// 404 (a read of an absent key).
    NotFound,
    /// Any other status: the node's error text.
    ServerError(String),
    /// The request was never sent (connection refused): certainly no effect.
    NotSent(String),
    /// Sent, but no usable answer (timeout, reset): outcome unknown.
    Unknown(String),
}

fn key_path(key: &Option<Value>) -> String {
    match key {
        Some(Value::Int(k)) => format!("k{k}"),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "register".to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value and `ModifyIndex` of Consul's `[{"Key", "Value" (base64 or null), ...}]`.
fn parse_entry(body: &str) -> Result<(Value, u64), String> {
    let json: Json =
        serde_json::from_str(body).map_err(|e| format!("unreadable reply {body:?}: {e}"))?;
    let entry = json.get(0).ok_or_else(|| format!("no entry in reply {body:?}"))?;
    let index = entry
        .get("ModifyIndex")
        .and_then(Json::as_u64)
        .ok_or_else(|| format!("no ModifyIndex in reply {body:?}"))?;
    let text = match entry.get("Value") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(b64)) => {
            let bytes = B64.decode(b64).map_err(|e| format!("bad base64 value {b64:?}: {e}"))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Some(other) => return Err(format!("Value is not a string: {other}")),
    };
    let value = text.parse::<i64>().map(Value::Int).unwrap_or(Value::Str(text));
    Ok((value, index))
}

impl BuiltinClient {
    pub(super) async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Reply::NotSent(format!("connect: {e}")),
            Err(e) if e.is_timeout() => return Reply::Unknown("timeout".into()),
            Err(e) => return Reply::Unknown(e.to_string()),
        };
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Reply::Unknown(format!("reading the reply: {e}")),
        };
        if status == reqwest::StatusCode::NOT_FOUND {
            Reply::NotFound
        } else if status.is_success() {
            Reply::Body(text)
        } else {
            Reply::ServerError(format!("HTTP {}: {}", status.as_u16(), text.trim()))
        }
    }

    /// GET the key in `query`'s mode: `Ok(None)` when absent, else value and index.
    async fn get(&self, key: &str, query: &str) -> Result<Option<(Value, u64)>, Reply> {
        match self.send(self.http.get(format!("{}/v1/kv/{key}{query}", self.base))).await {
            Reply::NotFound => Ok(None),
            Reply::Body(body) => match parse_entry(&body) {
                Ok(entry) => Ok(Some(entry)),
                Err(e) => Err(Reply::ServerError(e)),
            },
            other => Err(other),
        }
    }

    async fn read(&self, op: &Invocation) -> Completion {
        match self.get(&key_path(&op.key), self.read_query).await {
            Ok(None) => Completion::ok(Value::Nil),
            Ok(Some((value, _))) => Completion::ok(value),
            // A read has no effect: a read without a value is a `fail`, except a lost
            // reply, which stays `info` (the runtime's rule).
            Err(Reply::ServerError(e) | Reply::NotSent(e)) => Completion::fail(op, e),
            Err(Reply::Unknown(e)) => Completion::info(op, e),
            Err(Reply::Body(_) | Reply::NotFound) => Completion::info(op, "unexpected reply"),
        }
    }

    /// A PUT's outcome: `true` ok, `false` the node refused (fail), else as sent.
    async fn put(&self, op: &Invocation, url: String, value: &Value) -> Completion {
        let req = self.http.put(url).body(value_text(value));
        match self.send(req).await {
            Reply::Body(body) => match body.trim() {
                "true" => Completion::ok(op.value.clone()),
                "false" => Completion::fail(op, Value::kw("cas-index-moved")),
                other => Completion::info(op, format!("unexpected reply {other:?}")),
            },
            Reply::NotSent(e) => Completion::fail(op, e),
            // 5xx: Raft may have appended it before the node gave up (a timeout, or a
            // leader deposed with the entry in its log): unknown.
            Reply::ServerError(e) | Reply::Unknown(e) => Completion::info(op, e),
            Reply::NotFound => Completion::info(op, "unexpected 404 to a PUT"),
        }
    }

    async fn write(&self, op: &Invocation) -> Completion {
        let url = format!("{}/v1/kv/{}", self.base, key_path(&op.key));
        self.put(op, url, &op.value).await
    }

    async fn cas(&self, op: &Invocation) -> Completion {
        let Some([from, to]) = op.value.as_list().and_then(|l| <&[Value; 2]>::try_from(l).ok())
        else {
            return Completion::fail(op, format!("cas needs [from to], got {}", op.value));
        };
        let key = key_path(&op.key);
        // The compare read may be in any mode: the ?cas=<index> write only succeeds if
        // nothing changed the key since that index, so a stale read can only make the
        // cas fail, never apply wrongly. Consistent keeps spurious fails rare.
        let index = match self.get(&key, "?consistent").await {
            Ok(Some((value, index))) if value == *from => index,
            Ok(_) => return Completion::fail(op, Value::kw("mismatch")),
            // Nothing was written yet: any error before the PUT is a `fail`.
            Err(Reply::ServerError(e) | Reply::NotSent(e) | Reply::Unknown(e)) => {
                return Completion::fail(op, e);
            }
            Err(Reply::Body(_) | Reply::NotFound) => {
                return Completion::fail(op, "unexpected reply to the compare read");
            }
        };
        let url = format!("{}/v1/kv/{key}?cas={index}", self.base);
        self.put(op, url, to).await
    }
}

impl Client for BuiltinClient {
    fn node(&self) -> &str {
        &self.node
    }

    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match op.f {
            "read" => self.read(op).await,
            "write" => self.write(op).await,
            "cas" => self.cas(op).await,
            "acquire" => self.acquire(op).await,
            "release" => self.release(op).await,
            other => Completion::fail(op, format!("builtin client: unknown f {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_consul_entries() {
        let body = r#"[{"Key":"k1","Value":"NDI=","Flags":0,"CreateIndex":3,"ModifyIndex":7}]"#;
        assert_eq!(parse_entry(body), Ok((Value::Int(42), 7)));
        let empty = r#"[{"Key":"k1","Value":null,"ModifyIndex":9}]"#;
        assert_eq!(parse_entry(empty), Ok((Value::Str(String::new()), 9)));
        assert!(parse_entry("[]").is_err());
        assert!(parse_entry(r#"[{"Key":"k1","Value":"NDI="}]"#).is_err());
        assert!(parse_entry("not json").is_err());
    }

    #[test]
    fn keys_and_values_as_text() {
        assert_eq!(key_path(&Some(Value::Int(3))), "k3");
        assert_eq!(key_path(&None), "register");
        assert_eq!(value_text(&Value::Int(5)), "5");
    }
}
