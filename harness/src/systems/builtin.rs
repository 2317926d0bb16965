//! The builtin system: faultline's own Consul-like node (`faultline-node`, crate
//! `node`), the default system under test, and its client over Consul's HTTP API:
//! [`Kv`] here, [`workloads::api::Locks`] in [`super::builtin_lock`],
//! [`workloads::api::Txn`] in [`super::builtin_txn`], [`workloads::api::Watch`] in
//! [`super::builtin_watch`], [`workloads::api::Election`] in [`super::builtin_election`],
//! [`workloads::api::Discovery`] in [`super::builtin_discovery`],
//! [`workloads::api::Members`] in [`super::builtin_members`].
//!
//! Each node gets its own data dir and log under the run directory and listens on its
//! host address at Consul's port (HTTP API, Raft RPCs and gossip share it). Bug
//! switches (`--node-bug`) are passed to every node as `--bug NAME`. Setup waits
//! until every node serves a consistent read and is in the catalog with its
//! `serfHealth` check passing (as a Consul client needs before it makes a session). Its clock is injected: the clock
//! nemesis moves a node's clock with `PUT /v1/faultline/clock?offset_ms=N`.
//!
//! Outcomes, the Jepsen way (see [`crate::client`]): a read that got no value is
//! refused (a read has no effect) unless its reply was lost; a write whose request was
//! sent but got no clear answer (timeout, reset, any 5xx, including `No cluster
//! leader`, which a deposed leader can also answer for a write it had already
//! appended) is unknown. A cas reads the value and its `ModifyIndex` first
//! (consistently): a value that differs is a mismatch (nothing was written), then
//! `PUT ?cas=<index>` answering `false` is refused (the index moved: nothing was
//! written).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use history::Value;
use nemesis::clock::ClockHook;
use nemesis::control::Membership;
use serde_json::Value as Json;
use workloads::api::{
    Api, BoxFuture, CallError, Client, Discovery, Election, Kv, Locks, Members, Txn, Watch,
};

use crate::client::{Reply, exchange, http_client, probe};
use crate::node_host::{ProcessSpec, node_name};
use crate::system::{
    BugSwitch, Capabilities, ClockMethod, MembershipMethod, NodeEnv, Nodes, System, SystemConfig,
    SystemDef, SystemError,
};
use crate::systems::ReadMode;
use crate::systems::builtin_membership::{BuiltinMembership, majority_leader};
use crate::systems::cluster::{Cluster, ClusterOptions, program_version};

/// Consul's HTTP port; the node serves its API, Raft and gossip there.
pub const PORT: u16 = 8500;

/// The node's program name.
pub const NODE_BINARY: &str = "faultline-node";

/// The builtin system in the registry.
pub static SYSTEM: SystemDef = SystemDef {
    name: "builtin",
    summary: "faultline's own Consul-like node (Raft KV, sessions and locks, catalog), \
              built from the workspace",
    caps: Capabilities {
        apis: &[
            Api::Kv,
            Api::Locks,
            Api::Txn,
            Api::Watch,
            Api::Election,
            Api::Discovery,
            Api::Members,
        ],
        read_modes: &[ReadMode::Linearizable, ReadMode::Default, ReadMode::Serializable],
        bugs: &[
            BugSwitch {
                name: "stale-default-reads",
                summary: "default-mode reads served by a leader whose lease has lapsed",
            },
            BugSwitch {
                name: "ack-before-commit",
                summary: "writes acknowledged before a quorum has them",
            },
            BugSwitch { name: "no-fsync", summary: "acknowledged writes not made durable" },
            BugSwitch {
                name: "lock-no-session-check",
                summary: "locks granted to destroyed sessions",
            },
            BugSwitch {
                name: "txn-unchecked-reads",
                summary: "transactions validate only the keys they write (write skew)",
            },
            BugSwitch {
                name: "watch-stale-wake",
                summary: "a blocking query woken by a change answers the state before it",
            },
            BugSwitch {
                name: "health-leader-only",
                summary: "health check updates applied on the leader only, not replicated",
            },
        ],
        clock: ClockMethod::Injected,
        membership: MembershipMethod::Supported,
        nodes: Nodes::Processes,
        lease_ttl: None,
    },
    make,
};

fn make(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let options = BuiltinOptions {
        read_mode: config.read_mode,
        bugs: config.bugs.clone(),
        ..BuiltinOptions::default()
    };
    Ok(Box::new(Builtin::new(options, env)?))
}

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
    cluster: Cluster,
    http: reqwest::Client,
}

impl Builtin {
    /// A cluster with one node per host node, its files under the run directory.
    pub fn new(options: BuiltinOptions, env: NodeEnv) -> Result<Builtin, SystemError> {
        if let Some(bad) = options.bugs.iter().find(|b| SYSTEM.bug(b).is_none()) {
            let known: Vec<&str> = SYSTEM.caps.bugs.iter().map(|b| b.name).collect();
            return Err(SystemError::Other(format!(
                "unknown node bug {bad:?} (known: {})",
                known.join(", ")
            )));
        }
        let cluster = Cluster::new(
            env,
            ClusterOptions {
                what: "faultline-node",
                log_name: "node.log",
                health_timeout: options.health_timeout,
                stop_grace: options.stop_grace,
                remove_data: options.remove_data,
            },
        );
        Ok(Builtin { options, cluster, http: http_client()? })
    }

    fn addr(&self, node: usize) -> String {
        format!("{}:{PORT}", self.cluster.address(node))
    }

    fn url(&self, node: usize) -> String {
        format!("http://{}", self.addr(node))
    }

    fn spec(&self, node: usize) -> ProcessSpec {
        let peers: Vec<String> =
            (0..self.cluster.node_count()).map(|i| format!("{}={}", i + 1, self.addr(i))).collect();
        let o = &self.options;
        let mut spec = ProcessSpec::new(o.binary.display().to_string(), &[]);
        spec.args = vec![
            format!("--id={}", node + 1),
            format!("--bind={}", self.addr(node)),
            format!("--peers={}", peers.join(",")),
            format!("--data-dir={}", self.cluster.data_dir(node).display()),
            format!("--heartbeat-ms={}", o.heartbeat_ms),
            format!("--election-timeout-ms={}", o.election_ms),
        ];
        spec.args.extend(o.bugs.iter().map(|b| format!("--bug={b}")));
        spec
    }

    /// Ready as a Consul client needs it: a consistent read goes through the leader
    /// (404: the key is absent, which is fine), and the node is in the catalog with
    /// its `serfHealth` check passing (until then Consul refuses to create a session
    /// on it: `Missing node registration`).
    async fn ready(&self, node: usize) -> Result<(), String> {
        let url = format!("{}/v1/kv/faultline-health?consistent", self.url(node));
        probe(self.http.get(url), Some(404)).await?;
        let url = format!("{}/v1/health/node/node-{}", self.url(node), node + 1);
        let reply = exchange(self.http.get(url).timeout(Duration::from_secs(1))).await;
        let Reply::Answer { status: 200, body } = &reply else { return Err(reply.describe()) };
        let checks: Json = serde_json::from_str(body).map_err(|e| format!("{body:?}: {e}"))?;
        let passing = checks.as_array().into_iter().flatten().any(|c| {
            c.get("CheckID").and_then(Json::as_str) == Some("serfHealth")
                && c.get("Status").and_then(Json::as_str) == Some("passing")
        });
        if passing { Ok(()) } else { Err(format!("serfHealth not passing yet: {body}")) }
    }
}

impl System for Builtin {
    fn version(&self) -> Result<String, SystemError> {
        let install = "run `cargo build -p node` (or `cargo build --release -p node` for a \
                       release faultline), or point $FAULTLINE_NODE at a faultline-node binary";
        let binary = &self.options.binary;
        program_version(binary, install, |out| {
            Some(out.trim().to_string()).filter(|v| !v.is_empty())
        })
        .map_err(|e| SystemError::NotInstalled(format!("the builtin node is not built: {e}")))
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        Box::pin(self.cluster.start_all(|n| self.spec(n), |n| self.ready(n)))
    }

    fn teardown(&self) -> Result<(), SystemError> {
        self.cluster.teardown()
    }

    fn log_files(&self, node: usize) -> Vec<PathBuf> {
        self.cluster.log_files(node)
    }

    fn leader(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async move {
            // The leader a majority of the nodes name (a deposed leader cut off from
            // the rest still names itself).
            let addrs: Vec<String> = (0..self.cluster.node_count()).map(|n| self.addr(n)).collect();
            let named = majority_leader(&self.http, &addrs).await?;
            addrs.iter().position(|a| *a == named)
        })
    }

    fn membership(&self) -> Option<Arc<dyn Membership>> {
        let n = self.cluster.node_count();
        Some(Arc::new(BuiltinMembership {
            http: self.http.clone(),
            addrs: (0..n).map(|i| self.addr(i)).collect(),
            host: self.cluster.host().clone(),
            join_specs: (0..n)
                .map(|i| {
                    let mut spec = self.spec(i).log(self.cluster.log_file(i));
                    spec.args.push("--join".into());
                    spec
                })
                .collect(),
            data_dirs: (0..n).map(|i| self.cluster.data_dir(i)).collect(),
            stop_grace: self.options.stop_grace,
        }))
    }

    fn client(&self, node: usize) -> Result<Box<dyn Client>, SystemError> {
        let read_query = match self.options.read_mode {
            ReadMode::Linearizable => "?consistent",
            ReadMode::Default => "",
            ReadMode::Serializable => "?stale",
        };
        Ok(Box::new(BuiltinClient {
            http: self.http.clone(),
            base: self.url(node),
            node: node_name(node),
            read_query,
            locks: Default::default(),
            election_unsure: Default::default(),
        }))
    }

    fn clock_hook(&self) -> Option<Arc<dyn ClockHook>> {
        let urls = (0..self.cluster.node_count()).map(|n| self.url(n)).collect();
        Some(Arc::new(InjectedClock { http: self.http.clone(), urls }))
    }
}

/// The node's injected clock, moved over HTTP (`PUT /v1/faultline/clock`).
struct InjectedClock {
    http: reqwest::Client,
    urls: Vec<String>,
}

impl ClockHook for InjectedClock {
    fn set_offset(&self, node: usize, offset_ms: i64) -> nemesis::Result<()> {
        let fail = |why: String| nemesis::NemesisError::Invalid(format!("n{}: {why}", node + 1));
        let base = self.urls.get(node).ok_or_else(|| fail("no such node".into()))?;
        let req = self
            .http
            .put(format!("{base}/v1/faultline/clock?offset_ms={offset_ms}"))
            .timeout(Duration::from_secs(2));
        // Called from the nemesis's blocking thread, inside the run's runtime.
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| fail(format!("no async runtime to reach the node: {e}")))?;
        match handle.block_on(exchange(req)) {
            Reply::Answer { status: 200, .. } => Ok(()),
            other => Err(fail(format!("setting the clock: {}", other.describe()))),
        }
    }

    /// `GET /v1/faultline/clock` answers `{"OffsetMs": N, "NowMs": ...}`.
    fn read_offset(&self, node: usize) -> nemesis::Result<Option<i64>> {
        let fail = |why: String| nemesis::NemesisError::Invalid(format!("n{}: {why}", node + 1));
        let base = self.urls.get(node).ok_or_else(|| fail("no such node".into()))?;
        let req =
            self.http.get(format!("{base}/v1/faultline/clock")).timeout(Duration::from_secs(2));
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| fail(format!("no async runtime to reach the node: {e}")))?;
        match handle.block_on(exchange(req)) {
            Reply::Answer { status: 200, body } => serde_json::from_str::<Json>(&body)
                .ok()
                .and_then(|j| j.get("OffsetMs").and_then(Json::as_i64))
                .map(Some)
                .ok_or_else(|| fail(format!("unreadable clock {body:?}"))),
            other => Err(fail(format!("reading the clock: {}", other.describe()))),
        }
    }
}

/// A client of one builtin node.
pub struct BuiltinClient {
    /// Shared pool (cloning a reqwest client shares it).
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    node: String,
    /// The read mode's query string (`?consistent`, `""`, `?stale`).
    pub(super) read_query: &'static str,
    /// The lock API's session and held locks (see [`super::builtin_lock`]).
    pub(super) locks: super::builtin_lock::LockState,
    /// Elections whose last campaign or resign had no known outcome (see
    /// [`super::builtin_election`]).
    pub(super) election_unsure: std::collections::HashSet<String>,
}

/// The value and `ModifyIndex` of Consul's `[{"Key", "Value" (base64 or null), ...}]`.
fn parse_entry(body: &str) -> Result<(String, u64), String> {
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
    Ok((text, index))
}

impl BuiltinClient {
    /// GET the key in `query`'s mode: `Ok(None)` when absent, else value and index.
    async fn get_entry(&self, key: &str, query: &str) -> Result<Option<(String, u64)>, CallError> {
        let reply = exchange(self.http.get(format!("{}/v1/kv/{key}{query}", self.base))).await;
        match &reply {
            Reply::Answer { status: 404, .. } => Ok(None),
            Reply::Answer { status: 200, body } => {
                parse_entry(body).map(Some).map_err(CallError::refused)
            }
            other => Err(other.read_error()),
        }
    }

    /// A PUT whose answer is Consul's `true` / `false`.
    async fn put_bool(&self, url: String, body: String) -> Result<bool, CallError> {
        let reply = exchange(self.http.put(url).body(body)).await;
        match &reply {
            Reply::Answer { status: 200, body } => match body.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(CallError::unknown(format!("unexpected reply {other:?}"))),
            },
            other => Err(other.write_error()),
        }
    }
}

impl Client for BuiltinClient {
    fn node(&self) -> &str {
        &self.node
    }

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }

    fn locks(&mut self) -> Option<&mut dyn Locks> {
        Some(self)
    }

    fn txn(&mut self) -> Option<&mut dyn Txn> {
        Some(self)
    }

    fn watch(&mut self) -> Option<&mut dyn Watch> {
        Some(self)
    }

    fn election(&mut self) -> Option<&mut dyn Election> {
        Some(self)
    }

    fn discovery(&mut self) -> Option<&mut dyn Discovery> {
        Some(self)
    }

    fn members(&mut self) -> Option<&mut dyn Members> {
        Some(self)
    }
}

impl Kv for BuiltinClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move { Ok(self.get_entry(key, self.read_query).await?.map(|(v, _)| v)) })
    }

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let url = format!("{}/v1/kv/{key}", self.base);
            match self.put_bool(url, value.to_string()).await? {
                true => Ok(()),
                false => Err(CallError::unknown("a plain PUT answered false")),
            }
        })
    }

    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            // The compare read may be in any mode: the ?cas=<index> write only succeeds
            // if nothing changed the key since that index, so a stale read can only
            // make the cas fail, never apply wrongly. Consistent keeps spurious fails
            // rare. Nothing was written yet: any error before the PUT is a refusal.
            let index = match self.get_entry(key, "?consistent").await {
                Ok(Some((value, index))) if value == from => index,
                Ok(_) => return Ok(false),
                Err(CallError::Refused(e) | CallError::Unknown(e)) => {
                    return Err(CallError::Refused(e));
                }
            };
            let url = format!("{}/v1/kv/{key}?cas={index}", self.base);
            match self.put_bool(url, to.to_string()).await? {
                true => Ok(true),
                // The index moved: nothing was written.
                false => Err(CallError::refused(Value::kw("cas-index-moved"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_consul_entries() {
        let body = r#"[{"Key":"k1","Value":"NDI=","Flags":0,"CreateIndex":3,"ModifyIndex":7}]"#;
        assert_eq!(parse_entry(body), Ok(("42".to_string(), 7)));
        let empty = r#"[{"Key":"k1","Value":null,"ModifyIndex":9}]"#;
        assert_eq!(parse_entry(empty), Ok((String::new(), 9)));
        assert!(parse_entry("[]").is_err());
        assert!(parse_entry(r#"[{"Key":"k1","Value":"NDI="}]"#).is_err());
        assert!(parse_entry("not json").is_err());
    }

    #[test]
    fn the_registry_entry_describes_the_node() {
        assert_eq!(SYSTEM.name, "builtin");
        assert!(SYSTEM.bug("no-fsync").is_some());
        assert!(SYSTEM.bug("flaky").is_none());
        assert_eq!(SYSTEM.lacks(&[Api::Kv, Api::Locks]), None);
    }
}
