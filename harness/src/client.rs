//! The client side every HTTP system shares: one pooled HTTP client, and [`Reply`],
//! what an exchange came to before a system reads it as an operation's outcome.
//!
//! The rule that keeps histories honest (Jepsen's) is put into types in two steps.
//! Here, an exchange is one of three things: the server answered (with a status and
//! a body), the request was never sent (connection refused: certainly no effect), or
//! it was sent and no usable answer came back (timeout, reset, garbage: unknown).
//! Then each system's API methods read an answer with one `match` per operation and
//! return a value or a [`CallError`]: `Refused` only when the operation *certainly*
//! did not take effect, `Unknown` for anything that may have. The workload turns
//! those into `ok`, `fail` and `info` (see [`workloads::api`]).

use std::time::Duration;

pub use workloads::api::{CallError, Client, Completion};

use crate::system::SystemError;

/// What an HTTP exchange came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server answered, with any status.
    Answer { status: u16, body: String },
    /// The request was never sent (connection refused): certainly no effect.
    NotSent(String),
    /// Sent, but no usable answer (timeout, reset): the outcome is unknown.
    Lost(String),
}

impl Reply {
    /// `HTTP 500: No cluster leader`, for error values.
    pub fn describe(&self) -> String {
        match self {
            Reply::Answer { status, body } => format!("HTTP {status}: {}", body.trim()),
            Reply::NotSent(e) => format!("not sent: {e}"),
            Reply::Lost(e) => e.clone(),
        }
    }

    /// For a request with no effect (a read): any failure is `Refused`, except a
    /// lost reply, which stays `Unknown` (as the runtime's own timeout does).
    pub fn read_error(&self) -> CallError {
        match self {
            Reply::Lost(e) => CallError::unknown(e.clone()),
            other => CallError::refused(other.describe()),
        }
    }

    /// For a request that may change state: only a request that never left is
    /// `Refused`; any answer the caller did not recognise may have come after the
    /// change was made (a 5xx from a deposed leader, a timeout inside the server).
    pub fn write_error(&self) -> CallError {
        match self {
            Reply::NotSent(e) => CallError::refused(format!("not sent: {e}")),
            other => CallError::unknown(other.describe()),
        }
    }
}

/// Sends a request and reads the whole answer.
pub async fn exchange(req: reqwest::RequestBuilder) -> Reply {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Reply::NotSent(format!("connect: {e}")),
        Err(e) if e.is_timeout() => return Reply::Lost("timeout".into()),
        Err(e) => return Reply::Lost(e.to_string()),
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(body) => Reply::Answer { status, body },
        Err(e) => Reply::Lost(format!("reading the reply: {e}")),
    }
}

/// Sends a request and reads the whole answer and the values of the response headers
/// `names` (`None` for each one absent), for APIs that answer in headers too
/// (Consul's `X-Consul-Index`).
pub async fn exchange_with_headers(
    req: reqwest::RequestBuilder,
    names: &[&str],
) -> (Reply, Vec<Option<String>>) {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return (Reply::NotSent(format!("connect: {e}")), vec![]),
        Err(e) if e.is_timeout() => return (Reply::Lost("timeout".into()), vec![]),
        Err(e) => return (Reply::Lost(e.to_string()), vec![]),
    };
    let status = resp.status().as_u16();
    let values = names
        .iter()
        .map(|n| resp.headers().get(*n).and_then(|v| v.to_str().ok()).map(str::to_string))
        .collect();
    match resp.text().await {
        Ok(body) => (Reply::Answer { status, body }, values),
        Err(e) => (Reply::Lost(format!("reading the reply: {e}")), values),
    }
}

/// The pooled HTTP client a system shares between all its clients (cloning a
/// reqwest client shares the pool). No TLS: every node is on loopback or in the
/// run's own namespaces.
pub fn http_client() -> Result<reqwest::Client, SystemError> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| SystemError::Other(format!("cannot build the HTTP client: {e}")))
}

/// A probe's GET or POST: `Ok` for a 2xx (or an `also_ok` status), else the reason.
pub async fn probe(req: reqwest::RequestBuilder, also_ok: Option<u16>) -> Result<(), String> {
    match exchange(req.timeout(Duration::from_secs(1))).await {
        Reply::Answer { status, .. } if (200..300).contains(&status) => Ok(()),
        Reply::Answer { status, .. } if Some(status) == also_ok => Ok(()),
        other => Err(other.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_classify_failures_the_jepsen_way() {
        let refused = Reply::NotSent("connection refused".into());
        let lost = Reply::Lost("timeout".into());
        let error = Reply::Answer { status: 500, body: "No cluster leader\n".into() };
        assert!(matches!(refused.read_error(), CallError::Refused(_)));
        assert!(matches!(error.read_error(), CallError::Refused(_)));
        assert!(matches!(lost.read_error(), CallError::Unknown(_)));
        assert!(matches!(refused.write_error(), CallError::Refused(_)));
        assert!(matches!(error.write_error(), CallError::Unknown(_)));
        assert!(matches!(lost.write_error(), CallError::Unknown(_)));
        assert_eq!(error.describe(), "HTTP 500: No cluster leader");
    }
}
