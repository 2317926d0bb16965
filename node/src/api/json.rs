//! Request bodies decoded the way Consul decodes them: object keys are matched to field
//! names case-insensitively (Go's `encoding/json` rule: "Unmarshal matches incoming object
//! keys to the keys used by Marshal, preferring an exact match but also accepting a
//! case-insensitive match"), and the snake_case spellings Consul's agent endpoints translate
//! (`deregister_critical_service_after`, `service_id`, `tls_skip_verify`, ...) are accepted
//! too. So `{"ttl":"10s","behavior":"delete"}` (what py-consul sends) means
//! `{"TTL":"10s","Behavior":"delete"}`.
//!
//! [`canonical`] rewrites every key it knows to its canonical spelling, recursively, except
//! inside free-form maps whose keys are user data (`Meta`, `NodeMeta`, `Header`,
//! `TaggedAddresses`, `ServiceMeta`), then the handlers deserialize fixed PascalCase names.

use serde_json::Map;
use serde_json::Value;

use super::ApiError;

/// Field names of the request bodies this node reads, as Consul spells them.
const FIELDS: &[&str] = &[
    "Address",
    "Args",
    "Behavior",
    "Body",
    "Check",
    "CheckID",
    "Checks",
    "Datacenter",
    "Definition",
    "DeregisterCriticalServiceAfter",
    "EnableTagOverride",
    "Flags",
    "HTTP",
    "Header",
    "ID",
    "Index",
    "Interval",
    "KV",
    "Key",
    "LockDelay",
    "Meta",
    "Method",
    "Name",
    "Node",
    "NodeChecks",
    "NodeMeta",
    "Notes",
    "Output",
    "Port",
    "Service",
    "ServiceChecks",
    "ServiceID",
    "ServiceMeta",
    "ServiceName",
    "ServiceTags",
    "Session",
    "SkipNodeUpdate",
    "Status",
    "TCP",
    "TLSSkipVerify",
    "TTL",
    "TaggedAddresses",
    "Tags",
    "Timeout",
    "Token",
    "Verb",
    "Weights",
    "WriteRequest",
];

/// Maps whose keys are the user's, not field names.
const FREE_FORM: &[&str] = &["Meta", "NodeMeta", "Header", "TaggedAddresses", "ServiceMeta"];

fn fold(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

fn canonical_name(key: &str) -> Option<&'static str> {
    if let Some(exact) = FIELDS.iter().find(|f| **f == key) {
        return Some(exact);
    }
    let folded = fold(key);
    FIELDS.iter().copied().find(|f| fold(f) == folded)
}

/// Rewrites known keys to their canonical spelling (an exact match wins over a folded one).
pub fn canonical(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            // Exact spellings first, so they win over case variants of the same field.
            let (exact, other): (Vec<_>, Vec<_>) =
                map.into_iter().partition(|(k, _)| FIELDS.contains(&k.as_str()));
            for (k, val) in exact.into_iter().chain(other) {
                let name = canonical_name(&k).map(str::to_owned).unwrap_or(k);
                if out.contains_key(&name) {
                    continue;
                }
                let val = if FREE_FORM.contains(&name.as_str()) { val } else { canonical(val) };
                out.insert(name, val);
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Parses a JSON body Consul's way, naming what was wrong with it.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let raw: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    serde_json::from_value(canonical(raw))
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_case_insensitively_and_snake_case_but_not_inside_user_maps() {
        let v = canonical(json!({
            "ttl": "10s", "lockdelay": "1s", "behavior": "delete",
            "service": {"id": "w1", "name": "web", "meta": {"ttl": "x"}},
            "check": {"deregister_critical_service_after": "1m", "serviceid": "w1",
                      "http": "http://x", "header": {"x-ttl": ["1"]}},
            "unknown_thing": 1,
        }));
        assert_eq!(
            v,
            json!({
                "TTL": "10s", "LockDelay": "1s", "Behavior": "delete",
                "Service": {"ID": "w1", "Name": "web", "Meta": {"ttl": "x"}},
                "Check": {"DeregisterCriticalServiceAfter": "1m", "ServiceID": "w1",
                          "HTTP": "http://x", "Header": {"x-ttl": ["1"]}},
                "unknown_thing": 1,
            })
        );
        // The exact spelling wins over a case variant.
        assert_eq!(canonical(json!({"ttl": "1s", "TTL": "2s"})), json!({"TTL": "2s"}));
    }
}
