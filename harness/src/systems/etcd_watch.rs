//! etcd's [`Watch`] API through the JSON gateway.
//!
//! - `write`: `POST /v3/kv/put`; the reply's `header.revision` is the revision of the
//!   write.
//! - `watch`: the gateway's streaming `POST /v3/watch` with a `create_request` from
//!   `start_revision = after + 1` ([`Delivery::EveryRevision`]: etcd delivers every
//!   revision of the key from there, in order). The stream is read for `wait`, then
//!   closed (etcd cancels the watch). Each message is `{"result": {...}}` with
//!   `events: [{"kv": {...}, "type": "DELETE"?}]`; the position is the last event's
//!   `mod_revision` (as Jepsen's etcd watch test resumes, not the header revision).
//!   A watch etcd cancels (a compacted `start_revision`) or an error message ends the
//!   call with an error.
//! - `head`: a linearizable `POST /v3/kv/range`: `header.revision` and the key's
//!   `mod_revision` and value.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Delivery, Watch, WatchBatch, WatchEvent};

use super::etcd::{EtcdClient, Gateway, kv_entry};
use crate::client::Reply;

/// A header's revision (int64 as a string).
fn header_revision(j: &Json) -> Option<u64> {
    j.pointer("/header/revision").and_then(Json::as_str).and_then(|r| r.parse().ok())
}

/// The events of one watch message, checked to be in order after `after`.
fn message_events(msg: &Json, out: &mut Vec<WatchEvent>) -> Result<(), CallError> {
    if let Some(err) = msg.get("error") {
        return Err(CallError::refused(format!("the watch failed: {err}")));
    }
    let Some(result) = msg.get("result") else { return Ok(()) };
    if result.get("canceled").and_then(Json::as_bool).unwrap_or(false) {
        let why = result.get("cancel_reason").and_then(Json::as_str).unwrap_or("");
        let compacted = result.get("compact_revision").and_then(Json::as_str).unwrap_or("0");
        return Err(CallError::refused(format!(
            "etcd cancelled the watch ({why}; compacted to revision {compacted})"
        )));
    }
    for ev in result.get("events").and_then(Json::as_array).into_iter().flatten() {
        let kv =
            ev.get("kv").ok_or_else(|| CallError::refused(format!("an event without kv: {ev}")))?;
        let deleted = ev.get("type").and_then(Json::as_str) == Some("DELETE");
        let (_, value, revision) = kv_entry(kv).map_err(CallError::refused)?;
        out.push(WatchEvent { revision, value: (!deleted).then_some(value) });
    }
    Ok(())
}

impl EtcdClient {
    async fn stream_watch(
        &self,
        key: &str,
        after: u64,
        wait: Duration,
    ) -> Result<WatchBatch, CallError> {
        let body = json!({ "create_request": {
            "key": B64.encode(key),
            "start_revision": (after + 1).to_string(),
        }});
        let req = self.http.post(format!("{}/v3/watch", self.base)).json(&body);
        let deadline = tokio::time::Instant::now() + wait;
        // The stream must open (its first message says `created`) within the wait too.
        let mut resp =
            match tokio::time::timeout_at(deadline + Duration::from_secs(1), req.send()).await {
                Err(_) => return Err(Reply::Lost("timeout opening the watch".into()).read_error()),
                Ok(Err(e)) if e.is_connect() => {
                    return Err(Reply::NotSent(format!("connect: {e}")).read_error());
                }
                Ok(Err(e)) => return Err(Reply::Lost(e.to_string()).read_error()),
                Ok(Ok(r)) => r,
            };
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            return Err(super::etcd::gateway_error(status, &text).read_error());
        }
        let mut buf: Vec<u8> = Vec::new();
        let mut events = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = tokio::time::sleep_until(deadline) => break,
            };
            match chunk {
                Ok(Some(bytes)) => buf.extend_from_slice(&bytes),
                Ok(None) => break, // the server ended the stream
                Err(e) if events.is_empty() => return Err(Reply::Lost(e.to_string()).read_error()),
                Err(_) => break, // keep what arrived: a watch is a read
            }
            let mut stream = serde_json::Deserializer::from_slice(&buf).into_iter::<Json>();
            let mut used = 0;
            while let Some(next) = stream.next() {
                match next {
                    Ok(msg) => {
                        message_events(&msg, &mut events)?;
                        used = stream.byte_offset();
                    }
                    Err(e) if e.is_eof() => break,
                    Err(e) => {
                        return Err(CallError::refused(format!("unreadable watch message: {e}")));
                    }
                }
            }
            buf.drain(..used);
        }
        let position = events.iter().map(|e| e.revision).max().unwrap_or(after).max(after);
        Ok(WatchBatch { delivery: Delivery::EveryRevision, position, events })
    }
}

impl Watch for EtcdClient {
    fn write<'a>(
        &'a mut self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>> {
        Box::pin(async move {
            let body = json!({ "key": B64.encode(key), "value": B64.encode(value) });
            match self.post("/v3/kv/put", body).await {
                Gateway::Body(j) => Ok(header_revision(&j)),
                Gateway::Failed(reply) => Err(reply.write_error()),
            }
        })
    }

    fn watch<'a>(
        &'a mut self,
        key: &'a str,
        after: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<WatchBatch, CallError>> {
        Box::pin(self.stream_watch(key, after, wait))
    }

    fn head<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<(u64, WatchEvent), CallError>> {
        Box::pin(async move {
            let reply = match self.post("/v3/kv/range", json!({ "key": B64.encode(key) })).await {
                Gateway::Body(j) => j,
                Gateway::Failed(reply) => return Err(reply.read_error()),
            };
            let revision = header_revision(&reply)
                .ok_or_else(|| CallError::refused(format!("no header revision in {reply}")))?;
            let event = match reply.pointer("/kvs/0") {
                None => WatchEvent { revision: 0, value: None },
                Some(kv) => {
                    let (_, value, rev) = kv_entry(kv).map_err(CallError::refused)?;
                    WatchEvent { revision: rev, value: Some(value) }
                }
            };
            Ok((revision, event))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_messages_become_events_or_errors() {
        let msg: Json = serde_json::from_str(
            r#"{"result":{"header":{"revision":"3"},"events":[
                {"kv":{"key":"dzA=","mod_revision":"2","value":"MQ=="}},
                {"type":"DELETE","kv":{"key":"dzA=","mod_revision":"3"}}]}}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        message_events(&msg, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                WatchEvent { revision: 2, value: Some("1".into()) },
                WatchEvent { revision: 3, value: None }
            ]
        );
        let created: Json = serde_json::from_str(r#"{"result":{"created":true}}"#).unwrap();
        message_events(&created, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let cancelled: Json = serde_json::from_str(
            r#"{"result":{"canceled":true,"compact_revision":"9","cancel_reason":"compacted"}}"#,
        )
        .unwrap();
        assert!(matches!(message_events(&cancelled, &mut out), Err(CallError::Refused(_))));
        // A reply's header is at its top; a watch message's under `result`.
        assert_eq!(header_revision(&msg["result"]), Some(3));
    }
}
