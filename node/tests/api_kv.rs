//! Black-box tests of `/v1/kv` against a real 3-node cluster: Consul's JSON, indices, 404,
//! CAS, recurse / keys / raw, deletes, blocking queries, and the three read modes.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;
use serde_json::Value;

async fn put_q(c: &Cluster, id: u64, path: &str, body: &str) -> TestResult<String> {
    let r = c.http.put(c.url(id, path)).body(body.to_owned()).send().await?;
    Ok(r.text().await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn get_put_delete_with_consul_shapes_and_indices() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    let (status, index, body) = c.get(follower, "/v1/kv/missing").await?;
    assert_eq!(status, 404, "{body}");
    assert!(index.is_some_and(|i| i >= 1), "404 carries X-Consul-Index");

    assert_eq!(put_q(&c, follower, "/v1/kv/app/a?flags=42", "hello").await?, "true");
    let (status, index, body) = c.get(follower, "/v1/kv/app/a").await?;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body)?;
    let e = &v[0];
    assert_eq!(e["Key"], "app/a");
    assert_eq!(e["Value"], "aGVsbG8="); // base64("hello")
    assert_eq!(e["Flags"], 42);
    assert_eq!(e["LockIndex"], 0);
    assert!(e.get("Session").is_none());
    let modify = e["ModifyIndex"].as_u64().ok_or("ModifyIndex")?;
    assert_eq!(e["CreateIndex"], modify);
    assert_eq!(index, Some(modify), "X-Consul-Index is the key's ModifyIndex");

    // Update keeps CreateIndex, moves ModifyIndex.
    assert_eq!(put_q(&c, leader, "/v1/kv/app/a", "again").await?, "true");
    let (_, _, body) = c.get(leader, "/v1/kv/app/a").await?;
    let v: Value = serde_json::from_str(&body)?;
    assert_eq!(v[0]["CreateIndex"], modify);
    assert!(v[0]["ModifyIndex"].as_u64() > Some(modify));
    // A PUT without ?flags stores Flags 0, as Consul's KVSPut does.
    assert_eq!(v[0]["Flags"], 0);

    // ?raw gives the bare value.
    let (_, _, raw) = c.get(leader, "/v1/kv/app/a?raw").await?;
    assert_eq!(raw, "again");

    let r = c.http.delete(c.url(follower, "/v1/kv/app/a")).send().await?;
    assert_eq!(r.text().await?, "true");
    assert_eq!(c.get(leader, "/v1/kv/app/a").await?.0, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cas_semantics() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    // cas=0: only if absent.
    assert_eq!(put_q(&c, leader, "/v1/kv/r?cas=0", "1").await?, "true");
    assert_eq!(put_q(&c, leader, "/v1/kv/r?cas=0", "2").await?, "false");
    let (_, _, body) = c.get(leader, "/v1/kv/r").await?;
    let idx = serde_json::from_str::<Value>(&body)?[0]["ModifyIndex"].as_u64().ok_or("idx")?;
    assert_eq!(put_q(&c, leader, &format!("/v1/kv/r?cas={}", idx + 100), "3").await?, "false");
    assert_eq!(put_q(&c, leader, &format!("/v1/kv/r?cas={idx}"), "4").await?, "true");
    // The old index is now stale.
    assert_eq!(put_q(&c, leader, &format!("/v1/kv/r?cas={idx}"), "5").await?, "false");
    assert_eq!(c.value(leader, "r", "consistent").await?, Some("4".into()));
    // Delete with a stale cas fails, with the current one succeeds.
    let (_, _, body) = c.get(leader, "/v1/kv/r").await?;
    let cur = serde_json::from_str::<Value>(&body)?[0]["ModifyIndex"].as_u64().ok_or("idx")?;
    let del = |i: u64| c.http.delete(c.url(leader, &format!("/v1/kv/r?cas={i}"))).send();
    assert_eq!(del(idx).await?.text().await?, "false");
    assert_eq!(del(cur).await?.text().await?, "true");
    assert_eq!(c.value(leader, "r", "").await?, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn recurse_keys_and_delete_tree() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    for k in ["cfg/a", "cfg/b", "cfg/sub/c", "other"] {
        assert_eq!(put_q(&c, leader, &format!("/v1/kv/{k}"), k).await?, "true");
    }
    let (status, _, body) = c.get(leader, "/v1/kv/cfg/?recurse").await?;
    assert_eq!(status, 200);
    let keys: Vec<String> = serde_json::from_str::<Vec<Value>>(&body)?
        .iter()
        .map(|e| e["Key"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys, ["cfg/a", "cfg/b", "cfg/sub/c"]);
    let (_, _, body) = c.get(leader, "/v1/kv/cfg/?keys&separator=/").await?;
    assert_eq!(serde_json::from_str::<Vec<String>>(&body)?, ["cfg/a", "cfg/b", "cfg/sub/"]);
    let (_, _, body) = c.get(leader, "/v1/kv/?keys").await?;
    assert_eq!(serde_json::from_str::<Vec<String>>(&body)?.len(), 4);
    let r = c.http.delete(c.url(leader, "/v1/kv/cfg/?recurse")).send().await?;
    assert_eq!(r.text().await?, "true");
    assert_eq!(c.get(leader, "/v1/kv/cfg/?recurse").await?.0, 404);
    assert_eq!(c.value(leader, "other", "").await?, Some("other".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_query_returns_on_change_or_after_wait() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    c.put(leader, "watched", "1").await?;
    let (_, index, _) = c.get(follower, "/v1/kv/watched").await?;
    let index = index.ok_or("index")?;

    // Nothing changes: the query returns after `wait` with the same index.
    let t = Instant::now();
    let (status, same, _) =
        c.get(follower, &format!("/v1/kv/watched?index={index}&wait=300ms")).await?;
    assert_eq!(status, 200);
    assert_eq!(same, Some(index));
    assert!(t.elapsed() >= Duration::from_millis(250), "returned early: {:?}", t.elapsed());

    // A write wakes a waiting query.
    let watcher = {
        let http = c.http.clone();
        let url = c.url(follower, &format!("/v1/kv/watched?index={index}&wait=10s"));
        tokio::spawn(async move {
            let r = http.get(url).send().await?;
            let idx: Option<u64> =
                r.headers().get("X-Consul-Index").and_then(|v| v.to_str().ok()?.parse().ok());
            Ok::<_, reqwest::Error>((idx, r.text().await?))
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    c.put(leader, "watched", "2").await?;
    let (new_index, body) = watcher.await??;
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(new_index > Some(index));
    assert!(body.contains("\"Mg==\""), "{body}"); // base64("2")
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn read_modes() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    c.put(follower, "m", "v").await?;
    // consistent and default are forwarded to the leader from a follower; all see the write.
    assert_eq!(c.value(follower, "m", "consistent").await?, Some("v".into()));
    assert_eq!(c.value(follower, "m", "").await?, Some("v".into()));
    assert_eq!(c.value(leader, "m", "").await?, Some("v".into()));
    // ?stale and ?consistent together are rejected, as in Consul.
    assert_eq!(c.get(leader, "/v1/kv/m?stale&consistent").await?.0, 400);

    // With both followers paused, the leader loses its lease: default and consistent reads
    // no longer succeed there, while a stale read on the leader still answers locally.
    let others: Vec<u64> = (1..=3).filter(|i| *i != leader).collect();
    for o in &others {
        c.pause(*o);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let s = c.status(leader).await?;
    assert_eq!(s["LeaseHeld"], false, "{s}");
    assert_eq!(c.value(leader, "m", "stale").await?, Some("v".into()));
    let (status, _, _) = c.get(leader, "/v1/kv/m").await?;
    assert_eq!(status, 500, "default read without lease or quorum must not answer");
    let (status, _, _) = c.get(leader, "/v1/kv/m?consistent").await?;
    assert_eq!(status, 500);
    for o in &others {
        c.resume(*o);
    }
    Ok(())
}

/// Concurrent writes are group-committed; each keeps its own outcome: of 24 concurrent
/// `cas=0` writes to one key, through different nodes, exactly one succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cas_has_exactly_one_winner() -> TestResult {
    let c = Cluster::start(3, &[]);
    c.wait_leader(Duration::from_secs(10)).await?;
    let mut tasks = Vec::new();
    for i in 0..24u64 {
        let http = c.http.clone();
        let url = c.url(i % 3 + 1, "/v1/kv/race?cas=0");
        tasks.push(tokio::spawn(async move {
            let r = http.put(url).body(format!("w{i}")).send().await?;
            Ok::<_, reqwest::Error>((r.status().as_u16(), r.text().await?, i))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (status, body, i) = t.await??;
        assert_eq!(status, 200, "{body}");
        if body == "true" {
            winners.push(i);
        } else {
            assert_eq!(body, "false");
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let leader = c.wait_leader(Duration::from_secs(5)).await?;
    assert_eq!(c.value(leader, "race", "consistent").await?, Some(format!("w{}", winners[0])));
    Ok(())
}
