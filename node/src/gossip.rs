//! Gossip membership and failure detection: SWIM (with suspicion) via foca, over UDP on the
//! same address and port as the node's HTTP API.
//!
//! foca is sans-IO: this module owns the socket and the timers and feeds foca what arrives.
//! Each process start uses a fresh identity (`bump` = start time), so a restarted node rejoins
//! even if the others declared its previous incarnation dead; foca renews the identity the
//! same way when it learns the cluster declared it dead (e.g. after a partition heals).
//! [`Gossip::members`] gives one entry per node id: alive, suspect or dead.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use foca::AccumulatingRuntime;
use foca::Config;
use foca::Foca;
use foca::Identity;
use foca::PostcardCodec;
use foca::State;
use foca::Timer;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A member's identity on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GossipId {
    pub id: u64,
    pub addr: SocketAddr,
    /// Distinguishes incarnations of the same node: higher wins.
    pub bump: u64,
}

impl Identity for GossipId {
    type Addr = u64;

    fn renew(&self) -> Option<Self> {
        Some(GossipId { bump: self.bump + 1, ..self.clone() })
    }

    fn addr(&self) -> u64 {
        self.id
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.bump > adversary.bump
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Alive,
    Suspect,
    Dead,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub id: u64,
    pub addr: SocketAddr,
    pub state: MemberState,
}

/// A handle on the running gossip agent.
#[derive(Clone)]
pub struct Gossip {
    view: Arc<Mutex<Vec<MemberView>>>,
}

/// Timings tuned for a local test cluster: failures are suspected within ~1 s and declared
/// dead ~3 s later; dead members stay listed (as dead) and are re-probed every 2 s, so a
/// healed partition converges within a few seconds.
fn config(cluster_size: usize) -> Config {
    let size = NonZeroU32::new(cluster_size.max(1) as u32).unwrap_or(NonZeroU32::MIN);
    let mut c = Config::new_lan(size);
    c.probe_period = Duration::from_millis(500);
    c.probe_rtt = Duration::from_millis(200);
    c.suspect_to_down_after = Duration::from_secs(3);
    c.remove_down_after = Some(Duration::from_secs(24 * 3600));
    c.periodic_announce = Some(foca::PeriodicParams {
        frequency: Duration::from_secs(5),
        num_members: NonZeroUsize::MIN,
    });
    c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
        frequency: Duration::from_secs(2),
        num_members: NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
    });
    c
}

impl Gossip {
    /// Binds the UDP socket and starts the agent, announcing itself to `seeds`.
    pub async fn start(
        id: u64,
        bind: SocketAddr,
        advertise: SocketAddr,
        seeds: Vec<(u64, SocketAddr)>,
    ) -> anyhow::Result<Gossip> {
        let socket = Arc::new(UdpSocket::bind(bind).await?);
        let bump = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let me = GossipId { id, addr: advertise, bump };
        let view = Arc::new(Mutex::new(Vec::new()));
        let gossip = Gossip { view: view.clone() };
        let rng = StdRng::seed_from_u64(bump ^ id.rotate_left(32));
        let mut foca: Agent = Foca::new(me.clone(), config(seeds.len() + 1), rng, PostcardCodec);
        let mut rt = AccumulatingRuntime::new();
        let seeds: Vec<(u64, SocketAddr)> =
            seeds.into_iter().filter(|(sid, _)| *sid != id).collect();
        announce_to_missing(&mut foca, &mut rt, &seeds);
        let (timer_tx, mut timer_rx) = mpsc::unbounded_channel::<Timer<GossipId>>();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            let mut reconnect = tokio::time::interval(RECONNECT_EVERY);
            loop {
                flush(&mut rt, &socket, &timer_tx).await;
                publish(&foca, &view);
                tokio::select! {
                    recv = socket.recv_from(&mut buf) => {
                        if let Ok((n, _)) = recv
                            && let Err(e) = foca.handle_data(&buf[..n], &mut rt)
                        {
                            tracing::debug!(error = %e, "gossip: bad packet");
                        }
                    }
                    Some(timer) = timer_rx.recv() => {
                        if let Err(e) = foca.handle_timer(timer, &mut rt) {
                            tracing::debug!(error = %e, "gossip: timer");
                        }
                    }
                    _ = reconnect.tick() => announce_to_missing(&mut foca, &mut rt, &seeds),
                }
            }
        });
        Ok(gossip)
    }

    /// One entry per node id (the newest incarnation), this node included, sorted by id.
    pub fn members(&self) -> Vec<MemberView> {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// How often a node announces itself again to every configured peer it does not see
/// alive. Serf does the same for failed members (its `ReconnectInterval`, 30 s by
/// default; Consul's `retry_join` retries the initial join likewise): without it, a
/// restarted node whose first announce was lost (a peer cut off or not yet listening)
/// waited for someone's periodic announce to pick it, and one peer could list it dead
/// for over 10 s after it was back and reachable. 1 s suits a local test cluster.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// Announces this node to each peer in `seeds` that its view does not hold alive.
fn announce_to_missing(
    foca: &mut Agent,
    rt: &mut AccumulatingRuntime<GossipId>,
    seeds: &[(u64, SocketAddr)],
) {
    for &(sid, addr) in seeds {
        let alive =
            foca.iter_membership_state().any(|m| m.id().id == sid && m.state() == State::Alive);
        if !alive && let Err(e) = foca.announce(GossipId { id: sid, addr, bump: 0 }, &mut *rt) {
            tracing::warn!(error = %e, "gossip announce failed");
        }
    }
}

async fn flush(
    rt: &mut AccumulatingRuntime<GossipId>,
    socket: &UdpSocket,
    timers: &mpsc::UnboundedSender<Timer<GossipId>>,
) {
    while let Some((dst, data)) = rt.to_send() {
        // Loss is what the protocol is for: a failed send is just a lost packet.
        let _ = socket.send_to(&data, dst.addr).await;
    }
    while let Some((after, timer)) = rt.to_schedule() {
        let tx = timers.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(timer);
        });
    }
    while rt.to_notify().is_some() {}
}

type Agent = Foca<GossipId, PostcardCodec, StdRng, foca::NoCustomBroadcast>;

fn publish(foca: &Agent, view: &Mutex<Vec<MemberView>>) {
    let me = foca.identity();
    let mut best: std::collections::BTreeMap<u64, (u64, MemberView)> = Default::default();
    best.insert(
        me.id,
        (me.bump, MemberView { id: me.id, addr: me.addr, state: MemberState::Alive }),
    );
    for m in foca.iter_membership_state() {
        let id = m.id();
        let state = match m.state() {
            State::Alive => MemberState::Alive,
            State::Suspect => MemberState::Suspect,
            State::Down => MemberState::Dead,
        };
        let entry = (id.bump, MemberView { id: id.id, addr: id.addr, state });
        match best.get(&id.id) {
            Some((bump, _)) if *bump >= id.bump => {}
            _ => {
                best.insert(id.id, entry);
            }
        }
    }
    if let Ok(mut v) = view.lock() {
        *v = best.into_values().map(|(_, m)| m).collect();
    }
}
