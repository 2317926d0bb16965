//! The agent's check runner: this node runs the HTTP and TCP checks registered on it (as a
//! Consul agent runs its own checks), every `Interval`, each bounded by `Timeout`, and
//! reports a changed status or output through the leader. It also reaps a service whose
//! check has been critical for longer than its `DeregisterCriticalServiceAfter`.
//!
//! Results follow Consul's `CheckHTTP` and `CheckTCP`: an HTTP answer 2xx is `passing`,
//! 429 `warning`, anything else (or no answer) `critical`, with output `HTTP GET <url>:
//! <code> <reason> Output: <body, at most 4 KiB>`; a TCP connect that succeeds is `passing`
//! (`TCP connect <addr>: Success`), else `critical` with the error. Consul reaps critical
//! services every 30 s with a 1 minute minimum; this node checks every tick and has no
//! minimum (a documented deviation, so tests can be short).

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use crate::api::Ctx;
use crate::state::CatalogCommand;
use crate::state::CheckStatus;
use crate::state::Command;
use crate::state::catalog::CheckDefinition;

const TICK: Duration = Duration::from_millis(100);
const MAX_OUTPUT: usize = 4096;

/// Runs this node's checks until the process ends.
pub async fn run(ctx: Ctx) {
    let last_run: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let running: Arc<Mutex<HashSet<String>>> = Default::default();
    let me = ctx.cfg.node_name();
    loop {
        tokio::time::sleep(TICK).await;
        let now_ms = ctx.clock.now_ms();
        let (active, reap) = ctx.read_state(|s| {
            let mine = s.catalog.checks.get(&me);
            let active: Vec<(String, CheckDefinition)> = mine
                .into_iter()
                .flatten()
                .filter(|(_, k)| k.definition.is_active())
                .map(|(id, k)| (id.clone(), k.definition.clone()))
                .collect();
            let reap: Vec<String> = mine
                .into_iter()
                .flatten()
                .filter(|(_, k)| {
                    !k.service_id.is_empty()
                        && k.status == CheckStatus::Critical
                        && matches!(
                            (k.critical_since_ms, k.definition.deregister_critical_after_ms),
                            (Some(since), Some(after)) if now_ms.saturating_sub(since) >= after
                        )
                })
                .map(|(_, k)| k.service_id.clone())
                .collect();
            (active, reap)
        });
        for service_id in reap.into_iter().collect::<HashSet<_>>() {
            tracing::info!(service_id, "deregistering a service critical for too long");
            let cmd = CatalogCommand::Deregister {
                node: me.clone(),
                service_id: Some(service_id),
                check_id: None,
                now_ms,
            };
            let _ = ctx.propose_anywhere(Command::Catalog(cmd)).await;
        }
        let known: HashSet<&String> = active.iter().map(|(id, _)| id).collect();
        if let Ok(mut l) = last_run.lock() {
            l.retain(|id, _| known.contains(id));
        }
        for (id, def) in active {
            let due = last_run.lock().ok().is_some_and(|l| {
                l.get(&id).is_none_or(|t| t.elapsed() >= Duration::from_millis(def.interval_ms))
            });
            let idle = running.lock().ok().is_some_and(|mut r| due && r.insert(id.clone()));
            if !due || !idle {
                continue;
            }
            if let Ok(mut l) = last_run.lock() {
                l.insert(id.clone(), Instant::now());
            }
            let (ctx, running, me) = (ctx.clone(), running.clone(), me.clone());
            tokio::spawn(async move {
                let (status, output) = probe(&ctx, &def).await;
                let changed = ctx.read_state(|s| {
                    s.catalog
                        .checks
                        .get(&me)
                        .and_then(|m| m.get(&id))
                        .is_some_and(|k| k.status != status || k.output != output)
                });
                if changed {
                    let cmd = CatalogCommand::UpdateCheck {
                        node: Some(me),
                        check_id: id.clone(),
                        status,
                        output,
                        now_ms: ctx.clock.now_ms(),
                    };
                    if let Err(e) = ctx.propose_anywhere(Command::Catalog(cmd)).await {
                        tracing::debug!(check = id, error = %e, "check update not recorded");
                    }
                }
                if let Ok(mut r) = running.lock() {
                    r.remove(&id);
                }
            });
        }
    }
}

/// Runs one HTTP or TCP check.
async fn probe(ctx: &Ctx, def: &CheckDefinition) -> (CheckStatus, String) {
    let timeout = Duration::from_millis(def.timeout_ms.max(1));
    if !def.http.is_empty() {
        let method =
            if def.method.is_empty() { "GET".to_owned() } else { def.method.to_uppercase() };
        let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return (CheckStatus::Critical, format!("invalid method {method:?}"));
        };
        let sent = ctx
            .http
            .request(m, &def.http)
            .header("User-Agent", "Consul Health Check")
            .header("Accept", "text/plain, text/*, */*")
            .timeout(timeout)
            .send()
            .await;
        return match sent {
            Err(e) => (CheckStatus::Critical, format!("{method} {}: {e}", def.http)),
            Ok(r) => {
                let code = r.status();
                let mut body = r.text().await.unwrap_or_default();
                if body.len() > MAX_OUTPUT {
                    let mut cut = MAX_OUTPUT;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    body.truncate(cut);
                }
                let output = format!(
                    "HTTP {method} {}: {} {} Output: {body}",
                    def.http,
                    code.as_u16(),
                    code.canonical_reason().unwrap_or("")
                );
                let status = if code.is_success() {
                    CheckStatus::Passing
                } else if code == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    CheckStatus::Warning
                } else {
                    CheckStatus::Critical
                };
                (status, output)
            }
        };
    }
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&def.tcp)).await {
        Ok(Ok(_)) => (CheckStatus::Passing, format!("TCP connect {}: Success", def.tcp)),
        Ok(Err(e)) => (CheckStatus::Critical, format!("dial tcp {}: {e}", def.tcp)),
        Err(_) => (CheckStatus::Critical, format!("dial tcp {}: i/o timeout", def.tcp)),
    }
}
