//! The builtin node's [`Txn`] API over Consul's `/v1/txn` and recursive KV reads.
//!
//! - `read`: one transaction of `get-tree` operations, one per key, filtered to the
//!   exact key (Consul's `get` fails the whole transaction on a missing key, so it
//!   cannot read "absent" in a snapshot). A transaction is applied through Raft, so
//!   the snapshot is linearizable whatever the run's read mode.
//! - `scan`: `GET /v1/kv/<prefix>?recurse` in the run's read mode (404: nothing).
//! - `commit`: `check-index` (or `check-not-exists` for version 0) per guard, then
//!   `set` per write, in one transaction. 200: applied. 409: rolled back (Consul
//!   transactions are atomic); when every error is at a guard, a guard failed
//!   (`Ok(false)`), else the node refused the transaction (`Refused`, with its words).
//!   Anything else after sending may have been applied (`Unknown`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Txn, Versioned};

use super::builtin::BuiltinClient;
use crate::client::{Reply, exchange};

/// A Consul KV entry's key, value (base64-decoded) and `ModifyIndex`.
pub(super) fn entry(e: &Json) -> Result<(String, String, u64), String> {
    let key = e.get("Key").and_then(Json::as_str).ok_or_else(|| format!("no Key in {e}"))?;
    let index = e
        .get("ModifyIndex")
        .and_then(Json::as_u64)
        .ok_or_else(|| format!("no ModifyIndex in {e}"))?;
    let value = match e.get("Value") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(b64)) => {
            let bytes = B64.decode(b64).map_err(|err| format!("bad base64 {b64:?}: {err}"))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Some(other) => return Err(format!("Value is not a string: {other}")),
    };
    Ok((key.to_string(), value, index))
}

/// The entries of a transaction's `Results` (each `{"KV": {...}}`).
fn results(body: &str) -> Result<Vec<(String, String, u64)>, String> {
    let json: Json = serde_json::from_str(body).map_err(|e| format!("unreadable {body:?}: {e}"))?;
    let list = json.get("Results").and_then(Json::as_array).cloned().unwrap_or_default();
    list.iter()
        .map(|r| r.get("KV").ok_or_else(|| format!("no KV in {r}")).and_then(entry))
        .collect()
}

/// Whether every error of a 409 is at one of the first `guards` operations.
fn only_guards_failed(body: &str, guards: usize) -> bool {
    let Ok(json) = serde_json::from_str::<Json>(body) else { return false };
    let Some(errors) = json.get("Errors").and_then(Json::as_array) else { return false };
    !errors.is_empty()
        && errors
            .iter()
            .all(|e| e.get("OpIndex").and_then(Json::as_u64).is_some_and(|i| (i as usize) < guards))
}

impl BuiltinClient {
    async fn txn_read(&self, keys: &[String]) -> Result<Vec<Versioned>, CallError> {
        let ops: Vec<Json> =
            keys.iter().map(|k| json!({ "KV": { "Verb": "get-tree", "Key": k } })).collect();
        let reply = exchange(self.http.put(format!("{}/v1/txn", self.base)).json(&ops)).await;
        let body = match &reply {
            Reply::Answer { status: 200, body } => body,
            other => return Err(other.read_error()),
        };
        let found = results(body).map_err(CallError::refused)?;
        Ok(keys
            .iter()
            .map(|k| match found.iter().find(|(key, _, _)| key == k) {
                Some((_, value, index)) => {
                    Versioned { value: Some(value.clone()), version: *index }
                }
                None => Versioned { value: None, version: 0 },
            })
            .collect())
    }

    async fn txn_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, CallError> {
        let sep = if self.read_query.is_empty() { "?" } else { "&" };
        let url = format!("{}/v1/kv/{prefix}{}{sep}recurse", self.base, self.read_query);
        let reply = exchange(self.http.get(url)).await;
        let body = match &reply {
            Reply::Answer { status: 404, .. } => return Ok(Vec::new()),
            Reply::Answer { status: 200, body } => body,
            other => return Err(other.read_error()),
        };
        let json: Json = serde_json::from_str(body)
            .map_err(|e| CallError::refused(format!("unreadable {body:?}: {e}")))?;
        let mut found = Vec::new();
        for e in json.as_array().into_iter().flatten() {
            let (key, value, _) = entry(e).map_err(CallError::refused)?;
            found.push((key, value));
        }
        found.sort();
        Ok(found)
    }

    async fn txn_commit(
        &self,
        guards: &[(String, u64)],
        writes: &[(String, String)],
    ) -> Result<bool, CallError> {
        let checks = guards.iter().map(|(k, version)| match version {
            0 => json!({ "KV": { "Verb": "check-not-exists", "Key": k } }),
            v => json!({ "KV": { "Verb": "check-index", "Key": k, "Index": v } }),
        });
        let sets = writes
            .iter()
            .map(|(k, v)| json!({ "KV": { "Verb": "set", "Key": k, "Value": B64.encode(v) } }));
        let ops: Vec<Json> = checks.chain(sets).collect();
        let reply = exchange(self.http.put(format!("{}/v1/txn", self.base)).json(&ops)).await;
        match &reply {
            Reply::Answer { status: 200, .. } => Ok(true),
            Reply::Answer { status: 409, body } if only_guards_failed(body, guards.len()) => {
                Ok(false)
            }
            Reply::Answer { status: 409, .. } => Err(CallError::refused(reply.describe())),
            other => Err(other.write_error()),
        }
    }
}

impl Txn for BuiltinClient {
    fn read<'a>(
        &'a mut self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Versioned>, CallError>> {
        Box::pin(self.txn_read(keys))
    }

    fn scan<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, CallError>> {
        Box::pin(self.txn_scan(prefix))
    }

    fn commit<'a>(
        &'a mut self,
        guards: &'a [(String, u64)],
        writes: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.txn_commit(guards, writes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_transaction_results_and_tells_guard_failures_apart() {
        let body =
            r#"{"Results":[{"KV":{"Key":"a","Value":"MQ==","ModifyIndex":4}}],"Errors":null}"#;
        assert_eq!(results(body), Ok(vec![("a".into(), "1".into(), 4)]));
        assert_eq!(results(r#"{"Results":null,"Errors":null}"#), Ok(vec![]));
        let guard =
            r#"{"Results":null,"Errors":[{"OpIndex":1,"What":"current modify index 7 != 5"}]}"#;
        assert!(only_guards_failed(guard, 2));
        assert!(!only_guards_failed(guard, 1), "an error at a write is not a guard failure");
        assert!(!only_guards_failed("not json", 2));
    }
}
