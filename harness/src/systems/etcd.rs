//! etcd 3.4 (Debian's `etcd-server`) as a system under test, and its client's [`Kv`]
//! and [`Txn`] APIs over the JSON gateway; [`Watch`] in [`super::etcd_watch`],
//! [`Locks`] (lease + txn, fenced by the lock key's revision) in [`super::etcd_lock`],
//! [`Election`] in [`super::etcd_election`], the leases both use in
//! [`super::etcd_lease`].
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
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use workloads::api::{
    Api, BoxFuture, CallError, Client, Election, Kv, Locks, Txn, Versioned, Watch,
};

use nemesis::control::Membership;

use crate::client::{Reply, exchange, http_client, probe};
use crate::node_host::{ProcessSpec, node_name};
use crate::system::{
    Capabilities, ClockMethod, MembershipMethod, NodeEnv, Nodes, System, SystemConfig, SystemDef,
    SystemError,
};
use crate::systems::ReadMode;
use crate::systems::cluster::{Cluster, ClusterOptions, program_version};
use crate::systems::etcd_membership::EtcdMembership;

pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;

/// etcd in the registry.
pub static SYSTEM: SystemDef = SystemDef {
    name: "etcd",
    summary: "Debian's etcd-server 3.4, a widely used Raft KV store (apt-get install etcd-server)",
    caps: Capabilities {
        apis: &[Api::Kv, Api::Txn, Api::Watch, Api::Locks, Api::Election],
        read_modes: &[ReadMode::Linearizable, ReadMode::Serializable],
        bugs: &[],
        clock: ClockMethod::Unsupported(
            "etcd is a Go program: it reads time through the vDSO, which libfaketime cannot \
             change",
        ),
        membership: MembershipMethod::Supported,
        nodes: Nodes::Processes,
        lease_ttl: Some(super::etcd_lock::LOCK_TTL_S),
    },
    make,
};

fn make(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let options = EtcdOptions {
        pre_vote: config.pre_vote,
        read_mode: config.read_mode,
        lock_ttl_s: config.lease_ttl.unwrap_or(super::etcd_lock::LOCK_TTL_S),
        ..EtcdOptions::default()
    };
    Ok(Box::new(Etcd::new(options, env)?))
}

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub binary: PathBuf,
    pub pre_vote: bool,
    pub heartbeat_ms: u32,
    pub election_ms: u32,
    pub read_mode: ReadMode,
    /// The TTL of the lock workload's leases, in seconds (`--lease-ttl`).
    pub lock_ttl_s: u64,
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
            lock_ttl_s: super::etcd_lock::LOCK_TTL_S,
            health_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(1),
            remove_data: true,
        }
    }
}

/// An etcd cluster on a node host.
pub struct Etcd {
    options: EtcdOptions,
    cluster: Cluster,
    http: reqwest::Client,
    /// Distinguishes this run's cluster from any other on the machine.
    token: String,
}

impl Etcd {
    /// A cluster with one member per host node, its files under the run directory.
    pub fn new(options: EtcdOptions, env: NodeEnv) -> Result<Etcd, SystemError> {
        let cluster = Cluster::new(
            env,
            ClusterOptions {
                what: "etcd member",
                log_name: "etcd.log",
                health_timeout: options.health_timeout,
                stop_grace: options.stop_grace,
                remove_data: options.remove_data,
            },
        );
        let token = format!("faultline-{}", std::process::id());
        Ok(Etcd { options, cluster, http: http_client()?, token })
    }

    fn client_url(&self, node: usize) -> String {
        format!("http://{}:{CLIENT_PORT}", self.cluster.address(node))
    }

    fn peer_url(&self, node: usize) -> String {
        format!("http://{}:{PEER_PORT}", self.cluster.address(node))
    }

    fn spec(&self, node: usize) -> ProcessSpec {
        let cluster: Vec<String> = (0..self.cluster.node_count())
            .map(|i| format!("{}={}", node_name(i), self.peer_url(i)))
            .collect();
        let o = &self.options;
        let mut spec = ProcessSpec::new(o.binary.display().to_string(), &[]);
        spec.args = vec![
            format!("--name={}", node_name(node)),
            format!("--data-dir={}", self.cluster.data_dir(node).display()),
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
        spec
    }

    async fn member_status(&self, node: usize) -> Option<(String, String)> {
        let url = format!("{}/v3/maintenance/status", self.client_url(node));
        let req = self.http.post(url).json(&json!({})).timeout(Duration::from_millis(500));
        let Reply::Answer { status: 200, body } = exchange(req).await else { return None };
        let body: Json = serde_json::from_str(&body).ok()?;
        let member = body.pointer("/header/member_id")?.as_str()?.to_string();
        let leader = body.get("leader")?.as_str()?.to_string();
        Some((member, leader))
    }
}

impl System for Etcd {
    fn version(&self) -> Result<String, SystemError> {
        let parse = |out: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix("etcd Version:"))
                .map(|v| format!("etcd {}", v.trim()))
        };
        program_version(&self.options.binary, "run `apt-get install etcd-server` (as root)", parse)
            .map_err(|e| SystemError::NotInstalled(format!("etcd is not installed ({e})")))
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        // One linearizable read through each member.
        let probe = |n: usize| {
            let body = json!({ "key": B64.encode("faultline-health") });
            probe(self.http.post(format!("{}/v3/kv/range", self.client_url(n))).json(&body), None)
        };
        Box::pin(self.cluster.start_all(|n| self.spec(n), probe))
    }

    fn teardown(&self) -> Result<(), SystemError> {
        self.cluster.teardown()
    }

    fn log_files(&self, node: usize) -> Vec<PathBuf> {
        self.cluster.log_files(node)
    }

    fn leader(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async move {
            // The member a majority of all members name (a deposed leader cut off
            // from the rest may still name itself).
            let n = self.cluster.node_count();
            let mut members = Vec::new();
            let mut named: std::collections::BTreeMap<String, usize> = Default::default();
            for node in 0..n {
                if let Some((member, leader)) = self.member_status(node).await {
                    members.push((node, member));
                    *named.entry(leader).or_default() += 1;
                }
            }
            let (leader, _) = named.into_iter().find(|(l, votes)| votes * 2 > n && l != "0")?;
            members.into_iter().find(|(_, m)| *m == leader).map(|(node, _)| node)
        })
    }

    fn membership(&self) -> Option<Arc<dyn Membership>> {
        let n = self.cluster.node_count();
        let template = |node: usize| {
            let mut spec = self.spec(node).log(self.cluster.log_file(node));
            spec.args.retain(|a| {
                !a.starts_with("--initial-cluster=") && !a.starts_with("--initial-cluster-state=")
            });
            spec
        };
        Some(Arc::new(EtcdMembership {
            http: self.http.clone(),
            client_urls: (0..n).map(|i| self.client_url(i)).collect(),
            peer_urls: (0..n).map(|i| self.peer_url(i)).collect(),
            host: self.cluster.host().clone(),
            specs: (0..n).map(template).collect(),
            data_dirs: (0..n).map(|i| self.cluster.data_dir(i)).collect(),
            stop_grace: self.options.stop_grace,
        }))
    }

    fn client(&self, node: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(EtcdClient {
            http: self.http.clone(),
            base: self.client_url(node),
            node: node_name(node),
            serializable: self.options.read_mode == ReadMode::Serializable,
            lock_ttl_s: self.options.lock_ttl_s,
            holds: Default::default(),
            elections: Default::default(),
        }))
    }
}

/// A client of one etcd member.
pub struct EtcdClient {
    /// Shared pool (cloning a reqwest client shares it).
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) node: String,
    serializable: bool,
    /// The TTL of the leases its locks hold ([`super::etcd_lock`]), in seconds.
    pub(super) lock_ttl_s: u64,
    /// Locks held through leases ([`super::etcd_lock`]).
    pub(super) holds: super::etcd_lease::Holds,
    /// Candidacies ([`super::etcd_election`]).
    pub(super) elections: super::etcd_lease::Holds,
}

/// What a gateway exchange came to: the reply's JSON, or the exchange as it was.
pub(super) enum Gateway {
    Body(Json),
    Failed(Reply),
}

/// The gateway's error text: its JSON `message` (or `error`) when it has one.
pub(super) fn gateway_error(status: u16, body: &str) -> Reply {
    let msg = serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|j| j.get("message").or(j.get("error")).cloned())
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    Reply::Answer { status, body: msg }
}

/// The key just after every key that starts with `prefix` (etcd's `range_end` for a
/// prefix): its last byte below 0xff incremented, the rest dropped.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

/// A kv of a range reply: key, value (text) and `mod_revision` (int64 as a string).
pub(super) fn kv_entry(kv: &Json) -> Result<(String, String, u64), String> {
    let key = decode_text(kv.get("key").and_then(Json::as_str).unwrap_or(""))?;
    let value = decode_text(kv.get("value").and_then(Json::as_str).unwrap_or(""))?;
    let revision = kv
        .get("mod_revision")
        .and_then(Json::as_str)
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| format!("no mod_revision in {kv}"))?;
    Ok((key, value, revision))
}

/// A stored value's text.
pub(super) fn decode_text(b64: &str) -> Result<String, String> {
    let bytes = B64.decode(b64).map_err(|e| format!("bad base64 value {b64:?}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl EtcdClient {
    pub(super) async fn post(&self, path: &str, body: Json) -> Gateway {
        let req = self.http.post(format!("{}{path}", self.base)).json(&body);
        match exchange(req).await {
            Reply::Answer { status: 200, body } => match serde_json::from_str::<Json>(&body) {
                Ok(j) => Gateway::Body(j),
                Err(e) => Gateway::Failed(Reply::Lost(format!("unreadable reply {body:?}: {e}"))),
            },
            Reply::Answer { status, body } => Gateway::Failed(gateway_error(status, &body)),
            other => Gateway::Failed(other),
        }
    }
}

impl Client for EtcdClient {
    fn node(&self) -> &str {
        &self.node
    }

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }

    fn txn(&mut self) -> Option<&mut dyn Txn> {
        Some(self)
    }

    fn watch(&mut self) -> Option<&mut dyn Watch> {
        Some(self)
    }

    fn locks(&mut self) -> Option<&mut dyn Locks> {
        Some(self)
    }

    fn election(&mut self) -> Option<&mut dyn Election> {
        Some(self)
    }
}

impl Kv for EtcdClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move {
            let mut body = json!({ "key": B64.encode(key) });
            if self.serializable {
                body["serializable"] = Json::Bool(true);
            }
            match self.post("/v3/kv/range", body).await {
                Gateway::Body(j) => match j.get("kvs").and_then(|k| k.get(0)) {
                    None => Ok(None),
                    // An empty value is omitted like every default field.
                    Some(kv) => decode_text(kv.get("value").and_then(Json::as_str).unwrap_or(""))
                        .map(Some)
                        .map_err(CallError::refused),
                },
                Gateway::Failed(reply) => Err(reply.read_error()),
            }
        })
    }

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let body = json!({ "key": B64.encode(key), "value": B64.encode(value) });
            match self.post("/v3/kv/put", body).await {
                Gateway::Body(_) => Ok(()),
                // etcd may have proposed the write before failing ("request timed out",
                // "leader changed"): unknown unless it was never sent.
                Gateway::Failed(reply) => Err(reply.write_error()),
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
            let key = B64.encode(key);
            let body = json!({
                "compare": [{ "key": key, "target": "VALUE", "result": "EQUAL", "value": B64.encode(from) }],
                "success": [{ "requestPut": { "key": key, "value": B64.encode(to) } }],
            });
            match self.post("/v3/kv/txn", body).await {
                // `succeeded` is omitted when false.
                Gateway::Body(j) => Ok(j.get("succeeded").and_then(Json::as_bool).unwrap_or(false)),
                Gateway::Failed(reply) => Err(reply.write_error()),
            }
        })
    }
}

impl Txn for EtcdClient {
    fn read<'a>(
        &'a mut self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Versioned>, CallError>> {
        Box::pin(async move {
            // One txn of ranges, no compares: every range reads the same revision.
            let ranges: Vec<Json> = keys
                .iter()
                .map(|k| {
                    let mut range = json!({ "key": B64.encode(k) });
                    if self.serializable {
                        range["serializable"] = Json::Bool(true);
                    }
                    json!({ "requestRange": range })
                })
                .collect();
            let reply = match self.post("/v3/kv/txn", json!({ "success": ranges })).await {
                Gateway::Body(j) => j,
                Gateway::Failed(reply) => return Err(reply.read_error()),
            };
            let responses = reply.get("responses").and_then(Json::as_array);
            let mut out = Vec::with_capacity(keys.len());
            for i in 0..keys.len() {
                let kv = responses
                    .and_then(|r| r.get(i))
                    .and_then(|r| r.pointer("/response_range/kvs/0"));
                out.push(match kv {
                    None => Versioned { value: None, version: 0 },
                    Some(kv) => {
                        let (_, value, version) = kv_entry(kv).map_err(CallError::refused)?;
                        Versioned { value: Some(value), version }
                    }
                });
            }
            Ok(out)
        })
    }

    fn scan<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, CallError>> {
        Box::pin(async move {
            let mut body =
                json!({ "key": B64.encode(prefix), "range_end": B64.encode(prefix_end(prefix)) });
            if self.serializable {
                body["serializable"] = Json::Bool(true);
            }
            let reply = match self.post("/v3/kv/range", body).await {
                Gateway::Body(j) => j,
                Gateway::Failed(reply) => return Err(reply.read_error()),
            };
            let mut found = Vec::new();
            for kv in reply.get("kvs").and_then(Json::as_array).into_iter().flatten() {
                let (key, value, _) = kv_entry(kv).map_err(CallError::refused)?;
                found.push((key, value));
            }
            Ok(found)
        })
    }

    fn commit<'a>(
        &'a mut self,
        guards: &'a [(String, u64)],
        writes: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            // mod_revision is 0 for an absent key, so one compare covers both cases.
            let compare: Vec<Json> = guards
                .iter()
                .map(|(k, v)| {
                    json!({ "key": B64.encode(k), "target": "MOD", "result": "EQUAL",
                            "mod_revision": v.to_string() })
                })
                .collect();
            let success: Vec<Json> = writes
                .iter()
                .map(|(k, v)| {
                    json!({ "requestPut": { "key": B64.encode(k), "value": B64.encode(v) } })
                })
                .collect();
            match self.post("/v3/kv/txn", json!({ "compare": compare, "success": success })).await {
                // `succeeded` is omitted when false.
                Gateway::Body(j) => Ok(j.get("succeeded").and_then(Json::as_bool).unwrap_or(false)),
                Gateway::Failed(reply) => Err(reply.write_error()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_read_the_message() {
        let r = gateway_error(503, r#"{"error":"etcdserver: request timed out","code":14}"#);
        assert_eq!(r.describe(), "HTTP 503: etcdserver: request timed out");
        assert_eq!(decode_text("NDI=").as_deref(), Ok("42"));
        assert!(decode_text("!!").is_err());
    }

    #[test]
    fn prefix_ends_bound_every_key_with_the_prefix() {
        assert_eq!(prefix_end("set/"), b"set0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
    }
}
