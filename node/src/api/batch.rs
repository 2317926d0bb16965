//! Group commit for client writes.
//!
//! openraft 0.9 appends (and fsyncs) each proposal separately and waits for the flush before
//! taking the next, so concurrent writes would cost one leader fsync each. The batcher keeps
//! one proposal in flight; the writes that arrive meanwhile are proposed together next, as
//! one [`Command::Batch`] entry, and each caller gets its own response. A lone write goes
//! through unwrapped, with no added wait.
//!
//! A caller that gave up (its request timed out) is dropped from the queue before proposing,
//! so a write answered "unknown" does not reach Raft long after its client stopped waiting.
//!
//! A batch is bounded by count and by bytes ([`MAX_BATCH_BYTES`]), so one entry never grows
//! past what a single append should carry.

use tokio::sync::mpsc;
use tokio::sync::oneshot;

use super::ApiError;
use super::RAFT_TIMEOUT;
use crate::raft::RaftNode;
use crate::state::Command;
use crate::state::CommandResponse;

/// At most this many commands per entry, to bound entry size.
const MAX_BATCH: usize = 256;
/// A batch closes once its commands add up to this many bytes (a lone command may be
/// bigger: up to one 512 KiB value, or one transaction of up to 512 KiB), so an entry stays
/// well under what one append carries (`raft::network::APPEND_BYTES`).
const MAX_BATCH_BYTES: usize = 1 << 20;

type Reply = oneshot::Sender<Result<(u64, CommandResponse), ApiError>>;

#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<(Command, Reply)>,
}

impl Batcher {
    pub fn start(raft: RaftNode) -> Batcher {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Command, Reply)>();
        tokio::spawn(async move {
            let mut carry: Option<(Command, Reply)> = None;
            loop {
                let first = match carry.take() {
                    Some(c) => c,
                    None => match rx.recv().await {
                        Some(c) => c,
                        None => break,
                    },
                };
                let mut bytes = first.0.approx_bytes();
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(next) => {
                            let size = next.0.approx_bytes();
                            if bytes + size > MAX_BATCH_BYTES {
                                carry = Some(next);
                                break;
                            }
                            bytes += size;
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                batch.retain(|(_, reply)| !reply.is_closed());
                propose_batch(&raft, batch).await;
            }
        });
        Batcher { tx }
    }

    /// Proposes `cmd` (possibly together with others) and waits for its own result.
    pub async fn propose(&self, cmd: Command) -> Result<(u64, CommandResponse), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((cmd, reply))
            .map_err(|_| ApiError::Internal("the write batcher stopped".into()))?;
        match tokio::time::timeout(RAFT_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ApiError::Internal("the write batcher dropped a write".into())),
            Err(_) => Err(ApiError::Timeout),
        }
    }
}

async fn propose_batch(raft: &RaftNode, mut batch: Vec<(Command, Reply)>) {
    let outcome = |r: Result<Result<_, crate::raft::RaftOpError>, _>| match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from(e)),
        Err(_) => Err(ApiError::Timeout),
    };
    match batch.len() {
        0 => {}
        1 => {
            let (cmd, reply) = batch.remove(0);
            let r = tokio::time::timeout(RAFT_TIMEOUT, raft.propose(cmd)).await;
            let _ = reply.send(outcome(r));
        }
        _ => {
            let (cmds, replies): (Vec<Command>, Vec<Reply>) = batch.into_iter().unzip();
            let r = tokio::time::timeout(RAFT_TIMEOUT, raft.propose(Command::Batch(cmds))).await;
            match outcome(r) {
                Ok((index, CommandResponse::Batch(responses)))
                    if responses.len() == replies.len() =>
                {
                    for (reply, resp) in replies.into_iter().zip(responses) {
                        let _ = reply.send(Ok((index, resp)));
                    }
                }
                Ok((_, other)) => {
                    for reply in replies {
                        let _ = reply.send(Err(ApiError::Internal(format!(
                            "unexpected batch response {other:?}"
                        ))));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for reply in replies {
                        let err = match &e {
                            ApiError::Timeout => ApiError::Timeout,
                            ApiError::NoLeader => ApiError::NoLeader,
                            _ => ApiError::Internal(msg.clone()),
                        };
                        let _ = reply.send(Err(err));
                    }
                }
            }
        }
    }
}
