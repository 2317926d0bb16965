//! Wires a node together and runs it: store and Raft, the HTTP server (Consul API plus the
//! peer routes), gossip, bootstrap, and the leader's reaper that expires sessions and TTL
//! checks by the injected clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api;
use crate::clock::Clock;
use crate::config::Bug;
use crate::config::NodeConfig;
use crate::gossip::Gossip;
use crate::raft::RaftNode;
use crate::raft::RaftTiming;
use crate::state::CatalogCommand;
use crate::state::Command;
use crate::state::SessionCommand;

/// How often the leader looks for expired sessions and TTL checks.
const REAP_EVERY: Duration = Duration::from_millis(200);

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    for bug in &cfg.bugs {
        tracing::warn!(
            "BUG SWITCH ON: {} (test fixture: this node is deliberately incorrect)",
            bug.name()
        );
    }
    let clock = Clock::new();
    let timing = RaftTiming {
        heartbeat_ms: cfg.heartbeat_ms,
        election_timeout_min_ms: cfg.election_timeout_ms,
        election_timeout_max_ms: cfg.election_timeout_ms * 2,
        snapshot_logs: cfg.snapshot_logs,
    };
    let raft =
        RaftNode::start(cfg.id, &cfg.data_dir, timing, !cfg.has_bug(Bug::NoFsync), clock.clone())
            .await
            .with_context(|| format!("starting raft in {}", cfg.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("binding HTTP on {}", cfg.bind))?;
    let advertise: SocketAddr = cfg
        .advertise
        .parse()
        .with_context(|| format!("--advertise {:?} is not HOST:PORT", cfg.advertise))?;
    let seeds: Vec<(u64, SocketAddr)> =
        cfg.peers.iter().filter_map(|(id, a)| a.parse().ok().map(|a| (*id, a))).collect();
    let gossip = Gossip::start(cfg.id, cfg.bind, advertise, seeds)
        .await
        .with_context(|| format!("binding gossip UDP on {}", cfg.bind))?;
    // No pooled connections: a request forwarded to a leader that just died then fails to
    // connect (safe to retry, see `api::forward`) instead of dying on a stale connection
    // after it may have been sent.
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()?;
    let batcher = api::batch::Batcher::start(raft.clone());
    let ctx =
        Arc::new(api::Node { cfg: cfg.clone(), raft: raft.clone(), clock, gossip, http, batcher });
    let app = api::router(ctx.clone()).merge(crate::raft::http::routes(&raft));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(id = cfg.id, bind = %cfg.bind, peers = ?cfg.peers, "node listening");
    if !cfg.join {
        raft.bootstrap(&cfg.peers).await?;
    }
    tokio::spawn(crate::serf::reconcile(ctx.clone()));
    tokio::spawn(crate::checks::run(ctx.clone()));
    tokio::spawn(reaper(ctx));

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        r = server => { r??; }
    }
    let _ = raft.raft.shutdown().await;
    Ok(())
}

/// On the leader, proposes session and TTL-check expiry when the clock says they are due.
async fn reaper(ctx: api::Ctx) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        if !ctx.raft.believes_leader() || !ctx.raft.applied_own_term() {
            continue;
        }
        let now_ms = ctx.clock.now_ms();
        let (sessions, checks) =
            ctx.read_state(|s| (s.has_expired_sessions(now_ms), s.has_expired_checks(now_ms)));
        if sessions {
            let _ = ctx.propose(Command::Session(SessionCommand::Expire { now_ms })).await;
        }
        if checks {
            let _ = ctx.propose(Command::Catalog(CatalogCommand::ExpireChecks { now_ms })).await;
        }
    }
}
