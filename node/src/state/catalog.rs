//! The service catalog and health checks (Consul's `/v1/catalog`, `/v1/health`, TTL checks).
//!
//! A TTL check must be refreshed (`/v1/agent/check/pass/<id>` and friends) within its TTL; the
//! leader proposes [`CatalogCommand::ExpireChecks`] with its clock, and every replica turns
//! the checks whose deadline passed by then `critical`.
//!
//! HTTP and TCP checks carry their [`CheckDefinition`]; the agent that owns the node runs
//! them (`crate::checks`) and reports results with [`CatalogCommand::UpdateCheck`]. A check
//! that turns critical (or is removed) invalidates the sessions that depend on it, and a
//! deregistered node takes its sessions with it, as in Consul's state store.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

use super::Dirty;
use super::StateData;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passing,
    Warning,
    #[default]
    Critical,
}

impl CheckStatus {
    pub fn parse(s: &str) -> Option<CheckStatus> {
        match s {
            "passing" => Some(CheckStatus::Passing),
            "warning" => Some(CheckStatus::Warning),
            "critical" => Some(CheckStatus::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogNode {
    pub node: String,
    pub address: String,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogService {
    pub node: String,
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub port: u16,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub node: String,
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub output: String,
    /// Empty for a node-level check.
    pub service_id: String,
    pub service_name: String,
    pub ttl_ms: Option<u64>,
    pub expires_at_ms: Option<u64>,
    pub create_index: u64,
    pub modify_index: u64,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub definition: CheckDefinition,
    /// When the check last turned critical (for `DeregisterCriticalServiceAfter`).
    #[serde(default)]
    pub critical_since_ms: Option<u64>,
}

/// How an agent runs a check (Consul's check definition): an HTTP GET (or `method`), or a
/// TCP connect, every `interval_ms`, each attempt bounded by `timeout_ms`. A TTL check has
/// none of these (its heartbeats come from the client).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDefinition {
    pub http: String,
    pub method: String,
    pub tcp: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub deregister_critical_after_ms: Option<u64>,
}

impl CheckDefinition {
    /// Whether the agent runs this check itself (HTTP or TCP).
    pub fn is_active(&self) -> bool {
        !self.http.is_empty() || !self.tcp.is_empty()
    }

    /// Consul's check type name.
    pub fn kind(&self, ttl: bool) -> &'static str {
        if !self.http.is_empty() {
            "http"
        } else if !self.tcp.is_empty() {
            "tcp"
        } else if ttl {
            "ttl"
        } else {
            ""
        }
    }
}

/// What a client registers: a service on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDef {
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub port: u16,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// What a client registers: a check on a node, optionally bound to a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub service_id: String,
    pub ttl_ms: Option<u64>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub definition: CheckDefinition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CatalogCommand {
    Register {
        node: String,
        address: String,
        service: Option<ServiceDef>,
        checks: Vec<CheckDef>,
        now_ms: u64,
    },
    /// Without a service or check id, removes the node with everything on it.
    Deregister {
        node: String,
        service_id: Option<String>,
        check_id: Option<String>,
        #[serde(default)]
        now_ms: u64,
    },
    /// A TTL check heartbeat. `node: None` updates the check with that id on every node.
    UpdateCheck {
        node: Option<String>,
        check_id: String,
        status: CheckStatus,
        output: String,
        now_ms: u64,
    },
    ExpireChecks {
        now_ms: u64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub nodes: BTreeMap<String, CatalogNode>,
    /// node -> service id -> service
    pub services: BTreeMap<String, BTreeMap<String, CatalogService>>,
    /// node -> check id -> check
    pub checks: BTreeMap<String, BTreeMap<String, HealthCheck>>,
}

impl StateData {
    pub(super) fn apply_catalog(
        &mut self,
        index: u64,
        cmd: &CatalogCommand,
        dirty: &mut Dirty,
    ) -> Result<(), String> {
        // (node, check) pairs that turned critical or went away (check None: the whole node).
        let mut lost: Vec<(String, Option<String>)> = Vec::new();
        let now = match cmd {
            CatalogCommand::Register { now_ms, .. }
            | CatalogCommand::UpdateCheck { now_ms, .. }
            | CatalogCommand::ExpireChecks { now_ms }
            | CatalogCommand::Deregister { now_ms, .. } => *now_ms,
        };
        let c = &mut self.catalog;
        match cmd {
            CatalogCommand::Register { node, address, service, checks, now_ms } => {
                if node.is_empty() {
                    return Err("Must provide node".into());
                }
                if address.is_empty() && !c.nodes.contains_key(node) {
                    return Err("Must provide address".into());
                }
                if let Some(svc) = service
                    && svc.service.is_empty()
                {
                    return Err("Must provide service name".into());
                }
                for def in checks {
                    let known = def.service_id.is_empty()
                        || service.as_ref().is_some_and(|s| {
                            def.service_id == s.id
                                || (s.id.is_empty() && def.service_id == s.service)
                        })
                        || c.services.get(node).is_some_and(|m| m.contains_key(&def.service_id));
                    if !known {
                        return Err(format!(
                            "Failed to register check: {:?}: Unknown service ID {:?}",
                            def.check_id, def.service_id
                        ));
                    }
                }
                let n = c.nodes.entry(node.clone()).or_insert_with(|| CatalogNode {
                    node: node.clone(),
                    address: address.clone(),
                    create_index: index,
                    modify_index: index,
                });
                if !address.is_empty() && n.address != *address {
                    n.address = address.clone();
                    n.modify_index = index;
                }
                if let Some(svc) = service {
                    let id = if svc.id.is_empty() { svc.service.clone() } else { svc.id.clone() };
                    let on_node = c.services.entry(node.clone()).or_default();
                    let new = CatalogService {
                        node: node.clone(),
                        id: id.clone(),
                        service: svc.service.clone(),
                        tags: svc.tags.clone(),
                        address: svc.address.clone(),
                        port: svc.port,
                        meta: svc.meta.clone(),
                        create_index: on_node.get(&id).map(|s| s.create_index).unwrap_or(index),
                        modify_index: index,
                    };
                    // Consul's ensureServiceTxn: an unchanged registration keeps its indexes.
                    let same = on_node.get(&id).is_some_and(|old| {
                        CatalogService { modify_index: old.modify_index, ..new.clone() } == *old
                    });
                    if !same {
                        on_node.insert(id, new);
                    }
                }
                for def in checks {
                    let service = c.services.get(node).and_then(|m| m.get(&def.service_id));
                    let service_name = service.map(|s| s.service.clone()).unwrap_or_default();
                    let on_node = c.checks.entry(node.clone()).or_default();
                    let old = on_node.get(&def.check_id);
                    let critical_since = match (def.status, old) {
                        (CheckStatus::Critical, Some(k)) if k.status == CheckStatus::Critical => {
                            k.critical_since_ms
                        }
                        (CheckStatus::Critical, _) => Some(*now_ms),
                        _ => None,
                    };
                    let new = HealthCheck {
                        node: node.clone(),
                        check_id: def.check_id.clone(),
                        name: def.name.clone(),
                        status: def.status,
                        output: def.output.clone(),
                        service_id: def.service_id.clone(),
                        service_name,
                        ttl_ms: def.ttl_ms,
                        expires_at_ms: def.ttl_ms.map(|t| now_ms + t),
                        create_index: old.map(|k| k.create_index).unwrap_or(index),
                        modify_index: index,
                        notes: def.notes.clone(),
                        definition: def.definition.clone(),
                        critical_since_ms: critical_since,
                    };
                    let same = old.is_some_and(|k| {
                        HealthCheck {
                            modify_index: k.modify_index,
                            expires_at_ms: k.expires_at_ms,
                            ..new.clone()
                        } == *k
                    });
                    if def.status == CheckStatus::Critical {
                        lost.push((node.clone(), Some(def.check_id.clone())));
                    }
                    if !same || def.ttl_ms.is_some() {
                        on_node.insert(def.check_id.clone(), new);
                    }
                }
            }
            CatalogCommand::Deregister { node, service_id, check_id, .. } => {
                match (service_id, check_id) {
                    (None, None) => {
                        c.nodes.remove(node);
                        c.services.remove(node);
                        c.checks.remove(node);
                        lost.push((node.clone(), None));
                    }
                    (sid, cid) => {
                        if let Some(sid) = sid {
                            if let Some(m) = c.services.get_mut(node) {
                                m.remove(sid);
                            }
                            if let Some(m) = c.checks.get_mut(node) {
                                let gone: Vec<String> = m
                                    .values()
                                    .filter(|k| k.service_id == *sid)
                                    .map(|k| k.check_id.clone())
                                    .collect();
                                for g in gone {
                                    m.remove(&g);
                                    lost.push((node.clone(), Some(g)));
                                }
                            }
                        }
                        if let Some(cid) = cid
                            && let Some(m) = c.checks.get_mut(node)
                        {
                            m.remove(cid);
                            lost.push((node.clone(), Some(cid.clone())));
                        }
                    }
                }
            }
            CatalogCommand::UpdateCheck { node, check_id, status, output, now_ms } => {
                let mut found = false;
                let mut changed_any = false;
                for (n, checks) in c.checks.iter_mut() {
                    if node.as_ref().is_some_and(|want| want != n) {
                        continue;
                    }
                    if let Some(k) = checks.get_mut(check_id) {
                        found = true;
                        let expires = k.ttl_ms.map(|t| now_ms + t);
                        if k.status == *status && k.output == *output {
                            // Unchanged: a heartbeat only moves the TTL deadline. Consul's
                            // agent does not write it to the catalog, so nothing visible (no
                            // index, no blocking query) moves.
                            k.expires_at_ms = expires;
                            continue;
                        }
                        if *status == CheckStatus::Critical {
                            if k.status != CheckStatus::Critical {
                                k.critical_since_ms = Some(*now_ms);
                            }
                            lost.push((n.clone(), Some(check_id.clone())));
                        } else {
                            k.critical_since_ms = None;
                        }
                        k.status = *status;
                        k.output = output.clone();
                        k.expires_at_ms = expires;
                        k.modify_index = index;
                        changed_any = true;
                    }
                }
                if !found {
                    return Err(format!("Unknown check ID {check_id:?}"));
                }
                if !changed_any {
                    dirty.catalog = true;
                    return Ok(());
                }
            }
            CatalogCommand::ExpireChecks { now_ms } => {
                for k in c.checks.values_mut().flat_map(|m| m.values_mut()) {
                    if k.expires_at_ms.is_some_and(|t| t <= *now_ms) {
                        if k.status != CheckStatus::Critical {
                            k.critical_since_ms = Some(*now_ms);
                        }
                        k.status = CheckStatus::Critical;
                        k.output = "TTL expired".into();
                        k.expires_at_ms = None;
                        k.modify_index = index;
                        lost.push((k.node.clone(), Some(k.check_id.clone())));
                    }
                }
            }
        }
        self.indexes.catalog = index;
        dirty.catalog = true;
        for (node, check) in lost {
            self.invalidate_sessions_on(index, &node, check.as_deref(), now, dirty);
        }
        Ok(())
    }

    /// Whether some TTL check's deadline has passed at `now_ms` (the leader's reaper asks).
    pub fn has_expired_checks(&self, now_ms: u64) -> bool {
        self.catalog
            .checks
            .values()
            .flat_map(|m| m.values())
            .any(|k| k.expires_at_ms.is_some_and(|t| t <= now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_check_goes_critical_when_not_refreshed() {
        let mut s = StateData::default();
        let reg = CatalogCommand::Register {
            node: "n1".into(),
            address: "10.0.0.1".into(),
            service: Some(ServiceDef {
                id: "web1".into(),
                service: "web".into(),
                tags: vec![],
                address: String::new(),
                port: 80,
                meta: Default::default(),
            }),
            checks: vec![CheckDef {
                check_id: "c1".into(),
                name: "ttl".into(),
                status: CheckStatus::Passing,
                service_id: "web1".into(),
                ttl_ms: Some(1000),
                notes: String::new(),
                output: String::new(),
                definition: Default::default(),
            }],
            now_ms: 0,
        };
        s.apply_catalog(1, &reg, &mut Dirty::default()).unwrap();
        assert!(!s.has_expired_checks(999));
        assert!(s.has_expired_checks(1000));
        s.apply_catalog(2, &CatalogCommand::ExpireChecks { now_ms: 1000 }, &mut Dirty::default())
            .unwrap();
        assert_eq!(s.catalog.checks["n1"]["c1"].status, CheckStatus::Critical);
        let pass = CatalogCommand::UpdateCheck {
            node: None,
            check_id: "c1".into(),
            status: CheckStatus::Passing,
            output: String::new(),
            now_ms: 1500,
        };
        s.apply_catalog(3, &pass, &mut Dirty::default()).unwrap();
        assert_eq!(s.catalog.checks["n1"]["c1"].status, CheckStatus::Passing);
        assert_eq!(s.catalog.checks["n1"]["c1"].expires_at_ms, Some(2500));
    }
}
