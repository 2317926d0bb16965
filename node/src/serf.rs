//! The servers as catalog nodes, kept in step with gossip by the leader, as Consul's leader
//! does in `reconcileMember`: every member the gossip layer knows is a catalog node with the
//! `consul` service and a `serfHealth` check ("Serf Health Status"), passing while the
//! member is alive (or suspect) and critical once gossip declares it dead. A critical
//! `serfHealth` invalidates the sessions on that node (see `state::session`), which is how a
//! dead lock holder loses its locks.

use std::time::Duration;

use crate::api::Ctx;
use crate::config::node_name;
use crate::gossip::MemberState;
use crate::state::CatalogCommand;
use crate::state::CheckStatus;
use crate::state::Command;
use crate::state::catalog::CheckDef;
use crate::state::catalog::ServiceDef;

/// Consul's `structs.SerfCheckID`.
pub const SERF_CHECK: &str = "serfHealth";
const SERF_CHECK_NAME: &str = "Serf Health Status";
const ALIVE_OUTPUT: &str = "Agent alive and reachable";
const DEAD_OUTPUT: &str = "Agent not live or unreachable";

/// How often the leader compares gossip with the catalog.
const RECONCILE_EVERY: Duration = Duration::from_millis(250);

/// On the leader, registers or updates every gossip member whose catalog entry is behind.
pub async fn reconcile(ctx: Ctx) {
    loop {
        tokio::time::sleep(RECONCILE_EVERY).await;
        if !ctx.raft.believes_leader() || !ctx.raft.applied_own_term() {
            continue;
        }
        for m in ctx.gossip.members() {
            let node = node_name(m.id);
            let address = m.addr.ip().to_string();
            let status = match m.state {
                MemberState::Dead => CheckStatus::Critical,
                MemberState::Alive | MemberState::Suspect => CheckStatus::Passing,
            };
            let up_to_date = ctx.read_state(|s| {
                let c = &s.catalog;
                c.nodes.get(&node).is_some_and(|n| n.address == address)
                    && c.services.get(&node).is_some_and(|m| m.contains_key("consul"))
                    && c.checks
                        .get(&node)
                        .and_then(|m| m.get(SERF_CHECK))
                        .is_some_and(|k| k.status == status)
            });
            if up_to_date {
                continue;
            }
            let output = if status == CheckStatus::Passing { ALIVE_OUTPUT } else { DEAD_OUTPUT };
            let cmd = CatalogCommand::Register {
                node: node.clone(),
                address,
                service: Some(ServiceDef {
                    id: "consul".into(),
                    service: "consul".into(),
                    tags: vec![],
                    address: String::new(),
                    port: m.addr.port(),
                    meta: Default::default(),
                }),
                checks: vec![CheckDef {
                    check_id: SERF_CHECK.into(),
                    name: SERF_CHECK_NAME.into(),
                    status,
                    service_id: String::new(),
                    ttl_ms: None,
                    notes: String::new(),
                    output: output.into(),
                    definition: Default::default(),
                }],
                now_ms: ctx.clock.now_ms(),
            };
            if let Err(e) = ctx.propose(Command::Catalog(cmd)).await {
                tracing::debug!(node, error = %e, "serf reconcile failed");
                break;
            }
            tracing::info!(node, status = status.as_str(), "catalog: serfHealth updated");
        }
    }
}
