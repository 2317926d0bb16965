//! The builtin node's [`Watch`] API: Consul's blocking queries on `/v1/kv/<key>`.
//!
//! - `write`: `PUT /v1/kv/<key>` (Consul answers `true`; it says no index, so the
//!   revision is unknown).
//! - `watch`: `GET /v1/kv/<key>?recurse&index=<after>&wait=<ms>ms` in the run's read
//!   mode. The key is watched as a prefix (Consul's `keyprefix` watch): a prefix
//!   read's `X-Consul-Index` is the highest index of the entries under it, the key's
//!   own, so the query blocks until this key changes (a single-key read answers the
//!   whole KV table's index and returns at once on any other key's write). The node
//!   answers at once when that index is above `after`, else when the key changes or
//!   the wait runs out. The answer is the key's state as of the index
//!   ([`Delivery::Latest`]: states in between may be skipped): one event (the
//!   entry's `ModifyIndex` and value), none for an absent key. The next call resumes
//!   from that index, as Consul's clients do. Without `after` (0) the query answers
//!   at once. Keys that merely start with the key are ignored.
//! - `head`: the same read with `?consistent`, not blocking.
//!
//! A read has no effect, so any failure is `Refused` except a lost reply (`Unknown`).

use std::time::Duration;

use workloads::api::{BoxFuture, CallError, Delivery, Watch, WatchBatch, WatchEvent};

use super::builtin::BuiltinClient;
use super::builtin_txn::entry;
use crate::client::{Reply, exchange_with_headers};

const INDEX: &str = "X-Consul-Index";

/// The entry of exactly `key` in a recursive read's `[{"Key", "Value", ...}]`.
fn entry_of(key: &str, body: &str) -> Result<Option<WatchEvent>, String> {
    let list: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("unreadable reply {body:?}: {e}"))?;
    for e in list.as_array().into_iter().flatten() {
        let (k, value, revision) = entry(e)?;
        if k == key {
            return Ok(Some(WatchEvent { revision, value: Some(value) }));
        }
    }
    Ok(None)
}

impl BuiltinClient {
    /// GET the key with `query`; the answer's index and the entry (if present).
    async fn kv_at_index(
        &self,
        key: &str,
        query: String,
        timeout: Duration,
    ) -> Result<(u64, Option<WatchEvent>), CallError> {
        let url = format!("{}/v1/kv/{key}{query}", self.base);
        let (reply, headers) =
            exchange_with_headers(self.http.get(url).timeout(timeout), &[INDEX]).await;
        let index = headers.first().cloned().flatten().and_then(|v| v.parse::<u64>().ok());
        let entry = match &reply {
            Reply::Answer { status: 404, .. } => None,
            Reply::Answer { status: 200, body } => {
                entry_of(key, body).map_err(CallError::refused)?
            }
            other => return Err(other.read_error()),
        };
        let index =
            index.ok_or_else(|| CallError::refused(format!("the answer has no {INDEX} header")))?;
        Ok((index, entry))
    }

    async fn blocking_watch(
        &self,
        key: &str,
        after: u64,
        wait: Duration,
    ) -> Result<WatchBatch, CallError> {
        let mode = self.read_query.trim_start_matches('?');
        let mut params = vec!["recurse".to_string()];
        if !mode.is_empty() {
            params.push(mode.to_string());
        }
        if after > 0 {
            params.push(format!("index={after}"));
            params.push(format!("wait={}ms", wait.as_millis().max(1)));
        }
        let query = format!("?{}", params.join("&"));
        let (index, entry) = self.kv_at_index(key, query, wait + Duration::from_secs(2)).await?;
        Ok(WatchBatch {
            delivery: Delivery::Latest,
            position: index,
            events: entry.into_iter().collect(),
        })
    }
}

impl Watch for BuiltinClient {
    fn write<'a>(
        &'a mut self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>> {
        Box::pin(async move {
            workloads::api::Kv::put(self, key, value).await?;
            Ok(None)
        })
    }

    fn watch<'a>(
        &'a mut self,
        key: &'a str,
        after: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<WatchBatch, CallError>> {
        Box::pin(self.blocking_watch(key, after, wait))
    }

    fn head<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<(u64, WatchEvent), CallError>> {
        Box::pin(async move {
            let (index, entry) = self
                .kv_at_index(key, "?consistent&recurse".into(), Duration::from_secs(10))
                .await?;
            Ok((index, entry.unwrap_or(WatchEvent { revision: 0, value: None })))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_counts() {
        let body = r#"[{"Key":"watch/k1","Value":"Nw==","ModifyIndex":7},
                       {"Key":"watch/k10","Value":"OA==","ModifyIndex":9}]"#;
        let e = entry_of("watch/k1", body).unwrap();
        assert_eq!(e, Some(WatchEvent { revision: 7, value: Some("7".into()) }));
        assert_eq!(entry_of("watch/k2", body).unwrap(), None);
        assert!(entry_of("watch/k1", "nope").is_err());
    }
}
