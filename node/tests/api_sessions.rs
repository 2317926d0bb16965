//! Black-box tests of sessions and locks against a real 3-node cluster: create / info /
//! list / renew / destroy, acquire / release, TTL expiry releasing a lock, lock-delay,
//! `delete` behaviour, invalid sessions, and the `lock-no-session-check` bug switch.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;
use serde_json::Value;

/// A cluster accepting 1 s session TTLs (Consul's minimum, 10 s, would make these tests
/// slow), once every node is in the catalog with `serfHealth` passing.
async fn sessions_cluster(bugs: &[&str]) -> TestResult<Cluster> {
    let c = Cluster::start_with(3, bugs, &["--session-ttl-min", "1s"]);
    c.wait_serf_healthy(Duration::from_secs(10)).await?;
    Ok(c)
}

async fn create(c: &Cluster, id: u64, body: &str) -> TestResult<String> {
    let r = c.http.put(c.url(id, "/v1/session/create")).body(body.to_owned()).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["ID"].as_str().ok_or("ID")?.to_owned())
}

async fn put(c: &Cluster, id: u64, path: &str, body: &str) -> TestResult<(u16, String)> {
    let r = c.http.put(c.url(id, path)).body(body.to_owned()).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

async fn holder(c: &Cluster, id: u64, key: &str) -> TestResult<Option<String>> {
    let (status, _, body) = c.get(id, &format!("/v1/kv/{key}?consistent")).await?;
    if status == 404 {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(&body)?;
    Ok(v[0]["Session"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn session_lifecycle() -> TestResult {
    let c = sessions_cluster(&[]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    let sid = create(&c, follower, r#"{"Name":"web-lock","TTL":"30s","LockDelay":"1s"}"#).await?;
    assert_eq!(sid.len(), 36, "a UUID: {sid}");
    let (status, _, body) = c.get(follower, &format!("/v1/session/info/{sid}")).await?;
    assert_eq!(status, 200);
    let info: Vec<Value> = serde_json::from_str(&body)?;
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["Name"], "web-lock");
    assert_eq!(info[0]["TTL"], "30s");
    assert_eq!(info[0]["LockDelay"], 1_000_000_000u64);
    assert_eq!(info[0]["Behavior"], "release");
    let (_, _, body) = c.get(leader, "/v1/session/list").await?;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body)?.len(), 1);
    let (status, body) = put(&c, leader, &format!("/v1/session/renew/{sid}"), "").await?;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body)?[0]["ID"], sid.as_str());
    assert_eq!(
        put(&c, leader, &format!("/v1/session/destroy/{sid}"), "").await?,
        (200, "true".into())
    );
    let (_, _, body) = c.get(leader, &format!("/v1/session/info/{sid}")).await?;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body)?.len(), 0);
    let (status, _) = put(&c, leader, &format!("/v1/session/renew/{sid}"), "").await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn locks_acquire_release_and_exclude() -> TestResult {
    let c = sessions_cluster(&[]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let a = create(&c, leader, r#"{"LockDelay":"0s"}"#).await?;
    let b = create(&c, leader, r#"{"LockDelay":"0s"}"#).await?;
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?acquire={a}"), "a").await?,
        (200, "true".into())
    );
    assert_eq!(holder(&c, leader, "lock").await?, Some(a.clone()));
    // Held by a: b cannot take it, and cannot release it.
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?acquire={b}"), "b").await?,
        (200, "false".into())
    );
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?release={b}"), "").await?,
        (200, "false".into())
    );
    // Re-acquire by the holder succeeds without bumping LockIndex.
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?acquire={a}"), "a2").await?,
        (200, "true".into())
    );
    let (_, _, body) = c.get(leader, "/v1/kv/lock").await?;
    assert_eq!(serde_json::from_str::<Value>(&body)?[0]["LockIndex"], 1);
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?release={a}"), "").await?,
        (200, "true".into())
    );
    assert_eq!(holder(&c, leader, "lock").await?, None);
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/lock?acquire={b}"), "b").await?,
        (200, "true".into())
    );
    let (_, _, body) = c.get(leader, "/v1/kv/lock").await?;
    assert_eq!(serde_json::from_str::<Value>(&body)?[0]["LockIndex"], 2);
    // An unknown session is an error (500), as in Consul.
    let (status, body) =
        put(&c, leader, "/v1/kv/other?acquire=00000000-0000-0000-0000-000000000000", "").await?;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("invalid session"), "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ttl_expiry_releases_the_lock_and_lock_delay_holds_it_back() -> TestResult {
    let c = sessions_cluster(&[]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let a = create(&c, leader, r#"{"TTL":"1s","LockDelay":"1500ms"}"#).await?;
    let b = create(&c, leader, r#"{"LockDelay":"0s"}"#).await?;
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/job?acquire={a}"), "").await?,
        (200, "true".into())
    );
    // Not renewed: the leader invalidates it after ~1 s and releases the lock.
    let t = Instant::now();
    while holder(&c, leader, "job").await?.is_some() {
        assert!(t.elapsed() < Duration::from_secs(5), "session never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, _, body) = c.get(leader, &format!("/v1/session/info/{a}")).await?;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body)?.len(), 0);
    // During lock-delay b cannot take the key; afterwards it can.
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/job?acquire={b}"), "").await?,
        (200, "false".into())
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/job?acquire={b}"), "").await?,
        (200, "true".into())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_behavior_and_clock_offset_expire_sessions() -> TestResult {
    let c = sessions_cluster(&[]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let a = create(&c, leader, r#"{"TTL":"60s","Behavior":"delete","LockDelay":"0s"}"#).await?;
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/eph?acquire={a}"), "x").await?,
        (200, "true".into())
    );
    // Step every node's clock 2 minutes ahead: the leader's reaper now sees the TTL passed.
    for id in 1..=3 {
        let (status, body) = put(&c, id, "/v1/faultline/clock?offset_ms=120000", "").await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body)?["OffsetMs"], 120000);
    }
    let t = Instant::now();
    while c.value(leader, "eph", "consistent").await?.is_some() {
        assert!(t.elapsed() < Duration::from_secs(5), "delete-behaviour session never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_no_session_check_bug_lets_a_dead_session_acquire() -> TestResult {
    let c = sessions_cluster(&["lock-no-session-check"]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let s = c.status(leader).await?;
    assert_eq!(s["Bugs"], serde_json::json!(["lock-no-session-check"]));
    let sid = create(&c, leader, r#"{"LockDelay":"0s"}"#).await?;
    assert_eq!(
        put(&c, leader, &format!("/v1/session/destroy/{sid}"), "").await?,
        (200, "true".into())
    );
    // The session is gone, yet the acquire succeeds: the bug.
    assert_eq!(
        put(&c, leader, &format!("/v1/kv/l?acquire={sid}"), "").await?,
        (200, "true".into())
    );
    assert_eq!(holder(&c, leader, "l").await?, Some(sid));
    Ok(())
}
