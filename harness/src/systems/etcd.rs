//! etcd 3.4 (Debian's `etcd-server`) as a system under test, and a register client
//! over its JSON gateway.
//!
//! Each member gets its own data dir and log under the run directory, short
//! heartbeat / election timeouts (fast tests), optional pre-vote, and listens on its
//! host address (`:2379` clients, `:2380` peers). Setup waits until a linearizable
//! read succeeds through every member.
//!
//! The client speaks the gRPC gateway's JSON (`POST /v3/kv/range|put|txn`): keys and
//! values are base64, int64 fields are strings, and fields at their default value are
//! omitted (a failed txn has no `succeeded`, an empty range no `kvs`). One reqwest
//! client (one connection pool) is shared by every worker.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use history::Value;
use serde_json::{Value as Json, json};
use workloads::Invocation;

use crate::client::{Client, Completion};
use crate::node_host::{NodeHost, NodeSignal, ProcessSpec, node_name};
use crate::system::{ProcessTable, System, SystemError};
use crate::systems::ReadMode;

pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub binary: PathBuf,
    pub pre_vote: bool,
    pub heartbeat_ms: u32,
    pub election_ms: u32,
    pub read_mode: ReadMode,
    /// How long setup waits for every member to serve a linearizable read.
    pub health_timeout: Duration,
    /// How long teardown waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Remove the data dirs at teardown (the WAL preallocates 64 MB per member).
    pub remove_data: bool,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            binary: PathBuf::from("/usr/bin/etcd"),
            pre_vote: true,
            heartbeat_ms: 50,
            election_ms: 500,
            read_mode: ReadMode::Linearizable,
            health_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(1),
            remove_data: true,
        }
    }
}

/// An etcd cluster on a node host.
pub struct Etcd {
    options: EtcdOptions,
    run_dir: PathBuf,
    procs: ProcessTable,
    http: reqwest::Client,
    /// Distinguishes this run's cluster from any other on the machine.
    token: String,
}

impl Etcd {
    /// A cluster with one member per host node, its files under `run_dir`.
    pub fn new(
        options: EtcdOptions,
        host: Arc<dyn NodeHost>,
        run_dir: PathBuf,
    ) -> Result<Etcd, SystemError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| SystemError::Other(format!("cannot build the HTTP client: {e}")))?;
        let pid_file = Some(run_dir.join("node-pids.json"));
        let token = format!("faultline-{}", std::process::id());
        Ok(Etcd { options, procs: ProcessTable::new(host, pid_file), run_dir, http, token })
    }

    fn host(&self) -> &Arc<dyn NodeHost> {
        self.procs.host()
    }

    fn node_dir(&self, node: usize) -> PathBuf {
        self.run_dir.join(node_name(node))
    }

    fn client_url(&self, node: usize) -> String {
        format!("http://{}:{CLIENT_PORT}", self.host().address(node))
    }

    fn peer_url(&self, node: usize) -> String {
        format!("http://{}:{PEER_PORT}", self.host().address(node))
    }

    fn spec(&self, node: usize) -> ProcessSpec {
        let cluster: Vec<String> = (0..self.node_count())
            .map(|i| format!("{}={}", node_name(i), self.peer_url(i)))
            .collect();
        let o = &self.options;
        let args = vec![
            format!("--name={}", node_name(node)),
            format!("--data-dir={}", self.data_dir(node).display()),
            format!("--listen-peer-urls={}", self.peer_url(node)),
            format!("--initial-advertise-peer-urls={}", self.peer_url(node)),
            format!("--listen-client-urls={}", self.client_url(node)),
            format!("--advertise-client-urls={}", self.client_url(node)),
            format!("--initial-cluster={}", cluster.join(",")),
            "--initial-cluster-state=new".into(),
            format!("--initial-cluster-token={}", self.token),
            format!("--heartbeat-interval={}", o.heartbeat_ms),
            format!("--election-timeout={}", o.election_ms),
            format!("--pre-vote={}", o.pre_vote),
            "--logger=zap".into(),
            "--log-outputs=stderr".into(),
        ];
        ProcessSpec {
            program: o.binary.clone(),
            args,
            env: vec![],
            log: self.node_dir(node).join("etcd.log"),
        }
    }

    fn marker(&self, node: usize) -> String {
        self.data_dir(node).display().to_string()
    }

    /// One linearizable read through `node`; `Ok` once the member serves it.
    async fn probe(&self, node: usize) -> Result<(), String> {
        let url = format!("{}/v3/kv/range", self.client_url(node));
        let body = json!({ "key": B64.encode("faultline-health") });
        let resp = self
            .http
            .post(url)
            .json(&body)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}: {}", resp.status(), resp.text().await.unwrap_or_default()))
        }
    }

    async fn member_status(&self, node: usize) -> Option<(String, String)> {
        let url = format!("{}/v3/maintenance/status", self.client_url(node));
        let resp = self
            .http
            .post(url)
            .json(&json!({}))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        let body: Json = resp.json().await.ok()?;
        let member = body.pointer("/header/member_id")?.as_str()?.to_string();
        let leader = body.get("leader")?.as_str()?.to_string();
        Some((member, leader))
    }
}

impl System for Etcd {
    type Client = EtcdClient;

    fn name(&self) -> &'static str {
        "etcd"
    }

    fn node_count(&self) -> usize {
        self.host().node_count()
    }

    fn check_installed(&self) -> Result<String, SystemError> {
        let binary = &self.options.binary;
        let not_installed = |why: String| {
            SystemError::NotInstalled(format!(
                "etcd is not installed ({why}): run `apt-get install etcd-server` (as root)"
            ))
        };
        if !binary.exists() {
            return Err(not_installed(format!("{} does not exist", binary.display())));
        }
        let out = Command::new(binary)
            .arg("--version")
            .output()
            .map_err(|e| not_installed(format!("{} does not run: {e}", binary.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version =
            text.lines().find_map(|l| l.strip_prefix("etcd Version:")).map(str::trim).ok_or_else(
                || not_installed(format!("{} --version printed {text:?}", binary.display())),
            )?;
        Ok(format!("etcd {version}"))
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
                "etcd member",
                |n| self.node_dir(n).join("etcd.log"),
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
        vec![self.node_dir(node).join("etcd.log")]
    }

    async fn leader(&self) -> Option<usize> {
        let mut members = Vec::new();
        let mut leaders = Vec::new();
        for node in 0..self.node_count() {
            if let Some((member, leader)) = self.member_status(node).await {
                members.push((node, member));
                leaders.push(leader);
            }
        }
        let first = leaders.first()?;
        if leaders.iter().any(|l| l != first) {
            return None;
        }
        members.into_iter().find(|(_, m)| m == first).map(|(n, _)| n)
    }

    fn client(&self, node: usize) -> Result<EtcdClient, SystemError> {
        Ok(EtcdClient {
            http: self.http.clone(),
            base: self.client_url(node),
            node: node_name(node),
            serializable: self.options.read_mode == ReadMode::Serializable,
        })
    }
}

/// A register client for one etcd member.
pub struct EtcdClient {
    /// Shared pool (cloning a reqwest client shares it).
    http: reqwest::Client,
    base: String,
    node: String,
    serializable: bool,
}

/// What an HTTP exchange came to, before it is read as an operation outcome.
enum Reply {
    Body(Json),
    /// The gateway answered with an error status (a gRPC error from etcd).
    ServerError(String),
    /// The request was never sent (connection refused): certainly no effect.
    NotSent(String),
    /// Sent, but no usable answer (timeout, reset, garbage): outcome unknown.
    Unknown(String),
}

fn key_bytes(key: &Option<Value>) -> String {
    match key {
        Some(Value::Int(k)) => format!("k{k}"),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "register".to_string(),
    }
}

fn value_bytes(v: &Value) -> String {
    B64.encode(match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Reads a stored value back: integers as integers, anything else as a string.
fn decode_value(b64: &str) -> Result<Value, String> {
    let bytes = B64.decode(b64).map_err(|e| format!("bad base64 value {b64:?}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(text.parse::<i64>().map(Value::Int).unwrap_or(Value::Str(text)))
}

impl EtcdClient {
    async fn post(&self, path: &str, body: Json) -> Reply {
        let sent = self.http.post(format!("{}{path}", self.base)).json(&body).send().await;
        let resp = match sent {
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
        if !status.is_success() {
            let msg = serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j.get("message").or(j.get("error")).cloned())
                .and_then(|m| m.as_str().map(str::to_string))
                .unwrap_or(text);
            return Reply::ServerError(format!("HTTP {}: {msg}", status.as_u16()));
        }
        match serde_json::from_str::<Json>(&text) {
            Ok(j) => Reply::Body(j),
            Err(e) => Reply::Unknown(format!("unreadable reply {text:?}: {e}")),
        }
    }

    async fn read(&self, op: &Invocation) -> Completion {
        let mut body = json!({ "key": B64.encode(key_bytes(&op.key)) });
        if self.serializable {
            body["serializable"] = Json::Bool(true);
        }
        match self.post("/v3/kv/range", body).await {
            Reply::Body(j) => {
                let value = j.get("kvs").and_then(|k| k.get(0)).map(|kv| {
                    // An empty value is omitted like every default field.
                    kv.get("value").and_then(Json::as_str).unwrap_or("")
                });
                match value {
                    None => Completion::ok(Value::Nil),
                    Some(b64) => match decode_value(b64) {
                        Ok(v) => Completion::ok(v),
                        Err(e) => Completion::fail(op, e),
                    },
                }
            }
            // A read has no effect: any read that returned no value can be a `fail`,
            // except a lost reply, which stays `info` (the runtime's rule).
            Reply::ServerError(e) | Reply::NotSent(e) => Completion::fail(op, e),
            Reply::Unknown(e) => Completion::info(op, e),
        }
    }

    async fn write(&self, op: &Invocation) -> Completion {
        let body =
            json!({ "key": B64.encode(key_bytes(&op.key)), "value": value_bytes(&op.value) });
        match self.post("/v3/kv/put", body).await {
            Reply::Body(_) => Completion::ok(op.value.clone()),
            Reply::NotSent(e) => Completion::fail(op, e),
            // etcd may have proposed the write before failing ("request timed out",
            // "leader changed"): unknown.
            Reply::ServerError(e) | Reply::Unknown(e) => Completion::info(op, e),
        }
    }

    async fn cas(&self, op: &Invocation) -> Completion {
        let Some([from, to]) = op.value.as_list().and_then(|l| <&[Value; 2]>::try_from(l).ok())
        else {
            return Completion::fail(op, format!("cas needs [from to], got {}", op.value));
        };
        let key = B64.encode(key_bytes(&op.key));
        let body = json!({
            "compare": [{ "key": key, "target": "VALUE", "result": "EQUAL", "value": value_bytes(from) }],
            "success": [{ "requestPut": { "key": key, "value": value_bytes(to) } }],
        });
        match self.post("/v3/kv/txn", body).await {
            Reply::Body(j) => {
                // `succeeded` is omitted when false.
                if j.get("succeeded").and_then(Json::as_bool).unwrap_or(false) {
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op, Value::kw("mismatch"))
                }
            }
            Reply::NotSent(e) => Completion::fail(op, e),
            Reply::ServerError(e) | Reply::Unknown(e) => Completion::info(op, e),
        }
    }
}

impl Client for EtcdClient {
    fn node(&self) -> &str {
        &self.node
    }

    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match op.f {
            "read" => self.read(op).await,
            "write" => self.write(op).await,
            "cas" => self.cas(op).await,
            other => Completion::fail(op, format!("etcd register client: unknown f {other:?}")),
        }
    }
}
