//! Black-box tests of `/v1/txn`, the catalog and health endpoints, TTL checks, status and
//! gossip membership against a real 3-node cluster.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;
use serde_json::Value;
use serde_json::json;

async fn put_json(c: &Cluster, id: u64, path: &str, body: &Value) -> TestResult<(u16, String)> {
    let r = c.http.put(c.url(id, path)).json(body).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

async fn get_json(c: &Cluster, id: u64, path: &str) -> TestResult<Value> {
    let (status, _, body) = c.get(id, path).await?;
    assert_eq!(status, 200, "GET {path}: {body}");
    Ok(serde_json::from_str(&body)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn txn_applies_all_or_nothing() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    c.put(leader, "t/x", "0").await?;
    let ok = json!([
        {"KV": {"Verb": "set", "Key": "t/a", "Value": "MQ=="}},
        {"KV": {"Verb": "cas", "Key": "t/b", "Value": "Mg==", "Index": 0}},
        {"KV": {"Verb": "get", "Key": "t/x"}},
    ]);
    let (status, body) = put_json(&c, follower, "/v1/txn", &ok).await?;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body)?;
    assert_eq!(v["Errors"], Value::Null);
    let results = v["Results"].as_array().ok_or("Results")?;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["KV"]["Key"], "t/a");
    assert_eq!(results[2]["KV"]["Value"], "MA=="); // base64("0")

    // The last op fails: nothing of this transaction is applied.
    let bad = json!([
        {"KV": {"Verb": "set", "Key": "t/a", "Value": "OQ=="}},
        {"KV": {"Verb": "delete", "Key": "t/x"}},
        {"KV": {"Verb": "check-not-exists", "Key": "t/b"}},
    ]);
    let (status, body) = put_json(&c, leader, "/v1/txn", &bad).await?;
    assert_eq!(status, 409, "{body}");
    let v: Value = serde_json::from_str(&body)?;
    assert_eq!(v["Results"], Value::Null);
    assert_eq!(v["Errors"][0]["OpIndex"], 2);
    assert_eq!(c.value(leader, "t/a", "consistent").await?, Some("1".into()));
    assert_eq!(c.value(leader, "t/x", "consistent").await?, Some("0".into()));

    // Malformed input is a 400 naming the problem.
    let (status, body) =
        put_json(&c, leader, "/v1/txn", &json!([{"KV": {"Verb": "frob"}}])).await?;
    assert_eq!(status, 400);
    assert!(body.contains("frob"), "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_register_query_and_deregister() -> TestResult {
    let c = Cluster::start(3, &[]);
    c.wait_serf_healthy(Duration::from_secs(10)).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    for (node, addr, port) in [("web-1", "10.0.0.1", 80), ("web-2", "10.0.0.2", 8080)] {
        let reg = json!({
            "Node": node, "Address": addr,
            "Service": {"ID": "web", "Service": "web", "Tags": ["v1"], "Port": port},
        });
        assert_eq!(
            put_json(&c, follower, "/v1/catalog/register", &reg).await?,
            (200, "true".into())
        );
    }
    let reg = json!({"Node": "db-1", "Address": "10.0.0.3",
                     "Service": {"Service": "db", "Tags": ["primary"], "Port": 5432}});
    assert_eq!(put_json(&c, leader, "/v1/catalog/register", &reg).await?, (200, "true".into()));

    let services = get_json(&c, follower, "/v1/catalog/services").await?;
    // The servers are catalog nodes too, with the `consul` service.
    assert_eq!(services, json!({"consul": [], "db": ["primary"], "web": ["v1"]}));
    let web = get_json(&c, follower, "/v1/catalog/service/web").await?;
    let web = web.as_array().ok_or("array")?;
    assert_eq!(web.len(), 2);
    assert_eq!(web[0]["ServiceName"], "web");
    assert_eq!(web[0]["Address"], "10.0.0.1");
    assert_eq!(web[1]["ServicePort"], 8080);
    assert_eq!(get_json(&c, leader, "/v1/catalog/service/web?tag=v2").await?, json!([]));
    assert_eq!(get_json(&c, leader, "/v1/catalog/nodes").await?.as_array().map(Vec::len), Some(6));

    let dereg = json!({"Node": "web-2", "ServiceID": "web"});
    assert_eq!(put_json(&c, leader, "/v1/catalog/deregister", &dereg).await?, (200, "true".into()));
    let web = get_json(&c, leader, "/v1/catalog/service/web").await?;
    assert_eq!(web.as_array().map(Vec::len), Some(1));
    // A register without a node is rejected.
    let (status, _) = put_json(&c, leader, "/v1/catalog/register", &json!({"Node": ""})).await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn health_passing_follows_ttl_checks() -> TestResult {
    let c = Cluster::start(3, &[]);
    c.wait_serf_healthy(Duration::from_secs(10)).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    // Two agents each register an instance with a TTL check (agent API: checks are local).
    for (agent, status) in [(leader, "passing"), (follower, "passing")] {
        let reg = json!({"Name": "api", "ID": "api", "Port": 9000,
                         "Check": {"TTL": "1s", "Status": status}});
        let (code, body) = put_json(&c, agent, "/v1/agent/service/register", &reg).await?;
        assert_eq!(code, 200, "{body}");
    }
    let all = get_json(&c, follower, "/v1/health/service/api").await?;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let statuses: Vec<&str> = all[0]["Checks"]
        .as_array()
        .ok_or("checks")?
        .iter()
        .filter_map(|k| k["Status"].as_str())
        .collect();
    assert_eq!(statuses, ["passing", "passing"], "serfHealth and the TTL check");
    assert_eq!(all[0]["Service"]["Port"], 9000);
    // Keep the leader's instance alive with heartbeats; the follower's TTL runs out.
    let me = format!("node-{leader}");
    let t = Instant::now();
    loop {
        let r = c.http.put(c.url(leader, "/v1/agent/check/pass/service:api")).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        let passing = get_json(&c, follower, "/v1/health/service/api?passing").await?;
        let nodes: Vec<&str> = passing
            .as_array()
            .ok_or("array")?
            .iter()
            .filter_map(|e| e["Node"]["Node"].as_str())
            .collect();
        if nodes == [me.as_str()] {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "the TTL check never went critical: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let checks = get_json(&c, leader, &format!("/v1/health/node/node-{follower}")).await?;
    let ttl = checks.as_array().ok_or("array")?.iter().find(|k| k["CheckID"] == "service:api");
    assert_eq!(ttl.map(|k| k["Status"].clone()), Some(json!("critical")));
    assert_eq!(ttl.map(|k| k["Output"].clone()), Some(json!("TTL expired")));
    // A failing heartbeat, then a passing one, via the other endpoints.
    let r = c.http.put(c.url(leader, "/v1/agent/check/fail/service:api?note=down")).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get_json(&c, leader, "/v1/health/service/api?passing").await?, json!([]));
    let upd = json!({"Status": "passing", "Output": "ok"});
    let (status, _) = put_json(&c, follower, "/v1/agent/check/update/service:api", &upd).await?;
    assert_eq!(status, 200);
    let passing = get_json(&c, leader, "/v1/health/service/api?passing").await?;
    assert_eq!(passing[0]["Node"]["Node"], format!("node-{follower}"));
    // Unknown check ids are a 404.
    let r = c.http.put(c.url(leader, "/v1/agent/check/pass/nope")).send().await?;
    assert_eq!(r.status().as_u16(), 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_gossip_members_track_failure_and_recovery() -> TestResult {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let leader_addr = c.addrs[&leader].to_string();
    for id in 1..=3 {
        let (_, _, body) = c.get(id, "/v1/status/leader").await?;
        assert_eq!(serde_json::from_str::<String>(&body)?, leader_addr);
        let (_, _, body) = c.get(id, "/v1/status/peers").await?;
        let mut peers: Vec<String> = serde_json::from_str(&body)?;
        peers.sort();
        let mut want: Vec<String> = c.addrs.values().map(|a| a.to_string()).collect();
        want.sort();
        assert_eq!(peers, want);
    }
    let observer = c.other_than(leader);
    let all_alive: Vec<(String, String)> =
        (1..=3).map(|i| (format!("node-{i}"), "alive".into())).collect();
    wait_members(&c, observer, all_alive.clone()).await?;
    // A paused node becomes suspect, then dead; after it resumes, everyone sees it alive.
    let victim = c.other_than(observer);
    c.pause(victim);
    let mut suspect = all_alive.clone();
    suspect[(victim - 1) as usize].1 = "suspect".into();
    wait_members(&c, observer, suspect).await?;
    let mut dead = all_alive.clone();
    dead[(victim - 1) as usize].1 = "dead".into();
    let took = wait_members(&c, observer, dead).await?;
    eprintln!("paused node declared dead after {took:?}");
    c.resume(victim);
    let took = wait_members(&c, observer, all_alive.clone()).await?;
    eprintln!("membership converged {took:?} after resume");
    // Same after a kill and restart (a new incarnation replaces the dead one).
    c.kill(victim);
    let mut dead = all_alive.clone();
    dead[(victim - 1) as usize].1 = "dead".into();
    wait_members(&c, observer, dead).await?;
    c.spawn(victim, false);
    wait_members(&c, observer, all_alive).await?;
    Ok(())
}

fn member_states(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["Name"].as_str().unwrap_or("").into(),
                        m["State"].as_str().unwrap_or("").into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `observer`'s `/v1/agent/members` until it shows `want`; returns how long it took.
async fn wait_members(
    c: &Cluster,
    observer: u64,
    want: Vec<(String, String)>,
) -> TestResult<Duration> {
    let t = Instant::now();
    loop {
        let got = member_states(&get_json(c, observer, "/v1/agent/members").await?);
        if got == want {
            return Ok(t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(15) {
            return Err(format!("members never became {want:?}; last {got:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
