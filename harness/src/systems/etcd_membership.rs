//! etcd's membership hook (the `membership` nemesis), as `etcdctl member remove` /
//! `member add` do it (through the JSON gateway's `/v3/cluster/member/*`), and as
//! Jepsen's etcd tests grow and shrink the cluster:
//!
//! - **remove**: `member/remove` of the node's member ID, asked of another member;
//!   then the process is stopped and its data dir wiped (etcd refuses a removed
//!   member's data: it can only come back as a new member, with a new ID).
//! - **add**: `member/add` with the node's peer URL, then the node starts with
//!   empty data, `--initial-cluster-state=existing` and the cluster as `member/add`
//!   answered it; it is a member once it has started and published its name.
//! - **members**: `member/list`, the members that have started (named ones).
//!
//! Calls come from the nemesis's blocking thread, inside the run's runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nemesis::NemesisError;
use nemesis::control::{Acted, Membership};
use serde_json::{Value as Json, json};

use crate::client::{Reply, exchange};
use crate::node_host::{NodeHost, ProcessSpec, node_name};
use crate::systems::cluster::retire;

/// How long a new member may take to start and publish its name.
const START_WAIT: Duration = Duration::from_secs(30);

/// How long a removal waits while etcd refuses it as unsafe.
const UNHEALTHY_WAIT: Duration = Duration::from_secs(8);

/// etcd's answers to a reconfiguration it refused before changing anything
/// (`ErrUnhealthy`, `ErrNotEnoughStartedMembers` in etcdserver).
fn refused(reply: &Reply) -> bool {
    let Reply::Answer { body, .. } = reply else { return false };
    body.contains("unhealthy cluster") || body.contains("not enough started members")
}

/// Removes etcd members and adds them back.
pub struct EtcdMembership {
    pub(super) http: reqwest::Client,
    pub(super) client_urls: Vec<String>,
    pub(super) peer_urls: Vec<String>,
    pub(super) host: Arc<dyn NodeHost>,
    /// Each member's command line without `--initial-cluster` and
    /// `--initial-cluster-state` (added when it joins), with its log.
    pub(super) specs: Vec<ProcessSpec>,
    pub(super) data_dirs: Vec<PathBuf>,
    pub(super) stop_grace: Duration,
}

/// One entry of `member/list`: (ID as the gateway writes it, name, peer URLs).
type Member = (String, String, Vec<String>);

fn members_of(body: &Json) -> Vec<Member> {
    body.get("members")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            let id = match m.get("ID") {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let name = m.get("name").and_then(Json::as_str).unwrap_or("").to_string();
            let peers = m
                .get("peerURLs")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect();
            (id, name, peers)
        })
        .collect()
}

fn command_error(what: String, reply: &Reply) -> NemesisError {
    NemesisError::Command { command: what, status: "failed".into(), stderr: reply.describe() }
}

impl EtcdMembership {
    fn block<F: std::future::Future>(&self, f: F) -> nemesis::Result<F::Output> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            NemesisError::Invalid(format!("no async runtime to reach the members: {e}"))
        })?;
        Ok(handle.block_on(f))
    }

    /// `POST path` on the first member other than `not` that answers 200; a
    /// request that may change the cluster goes to the next member only when it was
    /// not sent (`read_only`: whatever went wrong).
    async fn ask(
        &self,
        path: &str,
        body: &Json,
        not: Option<usize>,
        read_only: bool,
    ) -> Result<Json, Reply> {
        let mut last = Reply::NotSent("no member to ask".into());
        for (n, base) in self.client_urls.iter().enumerate() {
            if Some(n) == not {
                continue;
            }
            let req = self.http.post(format!("{base}{path}")).json(body);
            match exchange(req.timeout(Duration::from_secs(5))).await {
                Reply::Answer { status: 200, body } => {
                    return serde_json::from_str(&body)
                        .map_err(|e| Reply::Lost(format!("unreadable reply {body:?}: {e}")));
                }
                // A member that refused the request changed nothing: try another.
                reply @ Reply::NotSent(_) => last = reply,
                reply if read_only => last = reply,
                reply => return Err(reply),
            }
        }
        Err(last)
    }

    async fn list(&self) -> nemesis::Result<Vec<Member>> {
        self.ask("/v3/cluster/member/list", &json!({}), None, true)
            .await
            .map(|b| members_of(&b))
            .map_err(|r| NemesisError::Invalid(format!("member list: {}", r.describe())))
    }

    fn peer(&self, node: usize) -> nemesis::Result<&str> {
        self.peer_urls.get(node).map(String::as_str).ok_or_else(|| {
            NemesisError::UnknownNode(format!("n{} of {}", node + 1, self.peer_urls.len()))
        })
    }

    async fn remove_async(&self, node: usize) -> nemesis::Result<Acted> {
        let peer = self.peer(node)?.to_string();
        let Some((id, _, _)) = self.list().await?.into_iter().find(|m| m.2.contains(&peer)) else {
            return Ok(Acted::Unchanged);
        };
        let start = Instant::now();
        loop {
            let body = json!({ "ID": id });
            match self.ask("/v3/cluster/member/remove", &body, Some(node), false).await {
                Ok(_) => return Ok(Acted::Done),
                Err(Reply::NotSent(e)) => {
                    return Err(NemesisError::Invalid(format!("member remove: {e}")));
                }
                // etcd's strict reconfiguration check refused it, changing nothing:
                // the remaining members have not all been connected for 5 s (its
                // HealthInterval), e.g. just after a start or a heal. Wait for them.
                Err(reply) if refused(&reply) && start.elapsed() < UNHEALTHY_WAIT => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(reply) if refused(&reply) => {
                    return Err(NemesisError::Invalid(format!(
                        "member remove {id} (n{}) refused for {UNHEALTHY_WAIT:?}: {}",
                        node + 1,
                        reply.describe()
                    )));
                }
                Err(reply) => {
                    return Err(command_error(
                        format!("member remove {id} (n{})", node + 1),
                        &reply,
                    ));
                }
            }
        }
    }

    async fn add_async(&self, node: usize) -> nemesis::Result<Acted> {
        let peer = self.peer(node)?.to_string();
        let listed = self.list().await?;
        let already = listed.iter().any(|m| m.2.contains(&peer));
        if already && self.host.pid(node).is_some() {
            return Ok(Acted::Unchanged);
        }
        let members = if already {
            listed
        } else {
            let body = json!({ "peerURLs": [peer] });
            match self.ask("/v3/cluster/member/add", &body, Some(node), false).await {
                Ok(reply) => members_of(&reply),
                Err(Reply::NotSent(e)) => {
                    return Err(NemesisError::Invalid(format!("member add: {e}")));
                }
                Err(reply) => {
                    return Err(command_error(format!("member add n{}", node + 1), &reply));
                }
            }
        };
        let cluster: Vec<String> = members
            .iter()
            .filter_map(|(_, name, peers)| {
                let url = peers.first()?;
                let name = if url == &peer { node_name(node) } else { name.clone() };
                (!name.is_empty()).then(|| format!("{name}={url}"))
            })
            .collect();
        let mut spec = self.specs.get(node).cloned().ok_or_else(|| {
            NemesisError::UnknownNode(format!("n{} has no command line", node + 1))
        })?;
        spec.args.push(format!("--initial-cluster={}", cluster.join(",")));
        spec.args.push("--initial-cluster-state=existing".into());
        if let Some(dir) = self.data_dirs.get(node)
            && dir.exists()
        {
            std::fs::remove_dir_all(dir)
                .map_err(|e| NemesisError::io(format!("wiping {}", dir.display()), e))?;
        }
        self.host.start(node, spec).map_err(|e| NemesisError::Command {
            command: format!("starting n{} as a new member", node + 1),
            status: "failed".into(),
            stderr: e.to_string(),
        })?;
        let start = Instant::now();
        while start.elapsed() < START_WAIT {
            let started = self.list().await.is_ok_and(|list| {
                list.iter().any(|(_, name, peers)| peers.contains(&peer) && !name.is_empty())
            });
            if started {
                return Ok(Acted::Done);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(NemesisError::Command {
            command: format!("starting n{} as a new member", node + 1),
            status: format!("not started after {START_WAIT:?}"),
            stderr: "it never published its name to the cluster".into(),
        })
    }
}

impl Membership for EtcdMembership {
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
        let list = self.block(self.list())??;
        Ok((0..self.peer_urls.len())
            .filter(|&n| {
                list.iter()
                    .any(|(_, name, peers)| peers.contains(&self.peer_urls[n]) && !name.is_empty())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_lists_read_ids_names_and_urls() {
        let body: Json = serde_json::from_str(
            r#"{"members":[{"ID":"1234","name":"n1","peerURLs":["http://a:2380"]},
                           {"ID":"99","peerURLs":["http://b:2380"]}]}"#,
        )
        .expect("json");
        let members = members_of(&body);
        assert_eq!(members[0], ("1234".into(), "n1".into(), vec!["http://a:2380".into()]));
        assert_eq!(members[1].1, "", "an unstarted member has no name yet");
        assert!(members_of(&json!({})).is_empty());
    }
}
