//! The builtin node's membership hook (the `membership` nemesis): a member leaves
//! the way a Consul server is removed, and comes back the way a new one joins.
//!
//! - **remove**: `DELETE /v1/operator/raft/peer?id=N` on the leader (Consul's
//!   endpoint: the voter leaves the Raft configuration; a leader may remove
//!   itself), then the node is stopped and its data dir wiped, so it can only
//!   come back as a new member.
//! - **add**: the node starts again with `--join` and empty data (it does not
//!   bootstrap), then `PUT /v1/faultline/join?id=N&addr=HOST:PORT` on the leader
//!   adds it as a learner, waits for it to catch up, and makes it a voter.
//! - **members**: the leader's `GET /v1/status/peers` (the voters).
//!
//! Who leads is what a majority of the nodes say ([`majority_leader`]). Calls
//! come from the nemesis's blocking thread, inside the run's runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nemesis::NemesisError;
use nemesis::control::{Acted, Membership};
use tokio::task::JoinSet;

use crate::client::{Reply, exchange};
use crate::node_host::{NodeHost, ProcessSpec};
use crate::systems::cluster::retire;

/// How long a membership change waits for the cluster to name a leader.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// How long adding a member back may take (it catches up before it votes).
const JOIN_WAIT: Duration = Duration::from_secs(30);

/// The address (`HOST:PORT`) that a majority of all `nodes` name as leader
/// (`GET /v1/status/leader`, asked of every node at once); `None` during an
/// election, or when no majority answers or agrees. A deposed leader cut off from
/// the rest still names itself; the majority does not.
pub async fn majority_leader(http: &reqwest::Client, addrs: &[String]) -> Option<String> {
    let mut asks = JoinSet::new();
    for addr in addrs {
        let req =
            http.get(format!("http://{addr}/v1/status/leader")).timeout(Duration::from_millis(500));
        asks.spawn(async move {
            let resp = req.send().await.ok()?;
            resp.json::<String>().await.ok().filter(|a| !a.is_empty())
        });
    }
    let mut named: std::collections::BTreeMap<String, usize> = Default::default();
    while let Some(answer) = asks.join_next().await {
        if let Ok(Some(addr)) = answer {
            *named.entry(addr).or_default() += 1;
        }
    }
    named.into_iter().find(|(_, votes)| votes * 2 > addrs.len()).map(|(addr, _)| addr)
}

/// Removes builtin nodes from the cluster and adds them back.
pub struct BuiltinMembership {
    pub(super) http: reqwest::Client,
    /// Each node's `HOST:PORT`.
    pub(super) addrs: Vec<String>,
    pub(super) host: Arc<dyn NodeHost>,
    /// Each node's command line with `--join` (and its log file).
    pub(super) join_specs: Vec<ProcessSpec>,
    pub(super) data_dirs: Vec<PathBuf>,
    pub(super) stop_grace: Duration,
}

fn may_have(what: String, reply: &Reply) -> NemesisError {
    NemesisError::Command {
        command: what,
        status: match reply {
            Reply::Answer { status, .. } => format!("HTTP {status}"),
            Reply::NotSent(_) => "not sent".into(),
            Reply::Lost(_) => "no answer".into(),
        },
        stderr: reply.describe(),
    }
}

impl BuiltinMembership {
    fn block<F: std::future::Future>(&self, f: F) -> nemesis::Result<F::Output> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            NemesisError::Invalid(format!("no async runtime to reach the nodes: {e}"))
        })?;
        Ok(handle.block_on(f))
    }

    fn addr(&self, node: usize) -> nemesis::Result<&str> {
        self.addrs.get(node).map(String::as_str).ok_or_else(|| {
            NemesisError::UnknownNode(format!("n{} of {}", node + 1, self.addrs.len()))
        })
    }

    /// The leader's address, waiting for one; refused (nothing changed) without.
    async fn leader(&self) -> nemesis::Result<String> {
        let start = Instant::now();
        loop {
            if let Some(addr) = majority_leader(&self.http, &self.addrs).await {
                return Ok(addr);
            }
            if start.elapsed() > LEADER_WAIT {
                return Err(NemesisError::Invalid(format!(
                    "no leader named by a majority of the nodes within {LEADER_WAIT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The voters the leader lists (`HOST:PORT` each).
    async fn peers(&self, leader: &str) -> nemesis::Result<Vec<String>> {
        let url = format!("http://{leader}/v1/status/peers");
        let reply = exchange(self.http.get(&url).timeout(Duration::from_secs(2))).await;
        match &reply {
            Reply::Answer { status: 200, body } => serde_json::from_str(body).map_err(|e| {
                NemesisError::Invalid(format!("{url}: unreadable peers {body:?}: {e}"))
            }),
            other => Err(NemesisError::Invalid(format!("{url}: {}", other.describe()))),
        }
    }

    async fn remove_async(&self, node: usize) -> nemesis::Result<Acted> {
        let addr = self.addr(node)?.to_string();
        let leader = self.leader().await?;
        if !self.peers(&leader).await?.contains(&addr) {
            return Ok(Acted::Unchanged);
        }
        let url = format!("http://{leader}/v1/operator/raft/peer?id={}", node + 1);
        let reply = exchange(self.http.delete(&url).timeout(JOIN_WAIT)).await;
        match &reply {
            Reply::Answer { status: 200, .. } => {}
            Reply::NotSent(e) => {
                return Err(NemesisError::Invalid(format!("DELETE {url} not sent: {e}")));
            }
            other => return Err(may_have(format!("DELETE {url}"), other)),
        }
        Ok(Acted::Done)
    }

    async fn add_async(&self, node: usize) -> nemesis::Result<Acted> {
        let addr = self.addr(node)?.to_string();
        let leader = self.leader().await?;
        if self.peers(&leader).await?.contains(&addr) && self.host.pid(node).is_some() {
            return Ok(Acted::Unchanged);
        }
        let spec = self.join_specs.get(node).cloned().ok_or_else(|| {
            NemesisError::UnknownNode(format!("n{} has no command line", node + 1))
        })?;
        if let Some(dir) = self.data_dirs.get(node) {
            std::fs::create_dir_all(dir)
                .map_err(|e| NemesisError::io(format!("creating {}", dir.display()), e))?;
        }
        self.host.start(node, spec).map_err(|e| NemesisError::Command {
            command: format!("starting n{} to join", node + 1),
            status: "failed".into(),
            stderr: e.to_string(),
        })?;
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < JOIN_WAIT {
            let leader = match self.leader().await {
                Ok(l) => l,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let url = format!("http://{leader}/v1/faultline/join?id={}&addr={addr}", node + 1);
            let reply = exchange(self.http.put(&url).timeout(JOIN_WAIT)).await;
            match &reply {
                Reply::Answer { status: 200, .. } => return Ok(Acted::Done),
                other => last = format!("PUT {url}: {}", other.describe()),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(NemesisError::Command {
            command: format!("joining n{}", node + 1),
            status: format!("not a member after {JOIN_WAIT:?}"),
            stderr: last,
        })
    }
}

impl Membership for BuiltinMembership {
    fn remove(&self, node: usize) -> nemesis::Result<Acted> {
        let acted = self.block(self.remove_async(node))??;
        if acted == Acted::Done {
            retire(self.host.as_ref(), &self.data_dirs, self.stop_grace, node)?;
        }
        Ok(acted)
    }

    fn add(&self, node: usize) -> nemesis::Result<Acted> {
        self.block(self.add_async(node))?
    }

    fn members(&self) -> nemesis::Result<Vec<usize>> {
        let peers = self.block(async {
            let leader = self.leader().await?;
            self.peers(&leader).await
        })??;
        Ok((0..self.addrs.len()).filter(|&n| peers.contains(&self.addrs[n])).collect())
    }
}
