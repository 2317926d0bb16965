//! Large values against a real 3-node cluster (issue 11's replication stall): a follower
//! that was down during 50 MB of writes catches up, from the log and from a snapshot; a
//! failover after large values keeps accepting writes; a value over Consul's 512 KiB limit
//! is refused with Consul's 413 and changes nothing.
//!
//! Kept as short as the issue allows: 100 values of 500 KiB (50 MB), two clients at a time.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;

const VALUE: usize = 500 * 1024;
const COUNT: usize = 100;

fn value(i: usize) -> Vec<u8> {
    let mut v = vec![b'a' + (i % 26) as u8; VALUE];
    v[..8].copy_from_slice(format!("{i:08}").as_bytes());
    v
}

/// Writes `COUNT` large values under `prefix/` through `node`, two clients at a time; every
/// one must be acknowledged.
async fn write_large(c: &Cluster, node: u64, prefix: &str) -> TestResult {
    const WRITERS: usize = 2;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let http = c.http.clone();
        let base = c.url(node, &format!("/v1/kv/{prefix}/"));
        tasks.push(tokio::spawn(async move {
            for i in (w..COUNT).step_by(WRITERS) {
                let r = http.put(format!("{base}{i:03}")).body(value(i)).send().await?;
                let status = r.status().as_u16();
                let body = r.text().await?;
                if (status, body.as_str()) != (200, "true") {
                    return Err(format!("large write {i}: {status} {body}").into());
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Waits until `node`'s local state has all `COUNT` keys under `prefix/`, with the right
/// last value.
async fn wait_caught_up(c: &Cluster, node: u64, prefix: &str, within: Duration) -> TestResult {
    let t = Instant::now();
    loop {
        if let Ok((200, _, body)) = c.get(node, &format!("/v1/kv/{prefix}/?keys&stale")).await
            && serde_json::from_str::<Vec<String>>(&body)?.len() == COUNT
        {
            break;
        }
        if t.elapsed() > within {
            let s = c.status(node).await.ok();
            return Err(format!("node {node} did not catch up within {within:?}: {s:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = format!("/v1/kv/{prefix}/{:03}?raw&stale", COUNT - 1);
    let r = c.http.get(c.url(node, &last)).send().await?;
    assert_eq!(r.bytes().await?.as_ref(), value(COUNT - 1).as_slice(), "last value on node {node}");
    Ok(())
}

async fn lagging_follower_catches_up(extra: &[&str], by_snapshot: bool) -> TestResult {
    let mut c = Cluster::start_with(3, &[], extra);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let lagging = c.other_than(leader);
    let had = c.status(lagging).await?["LastLogIndex"].as_u64().unwrap_or(0);
    c.kill(lagging);
    let t = Instant::now();
    if let Err(e) = write_large(&c, leader, "big").await {
        panic!("writing: {e}"); // a panic prints the nodes' logs
    }
    eprintln!("{COUNT} writes of {VALUE} bytes took {:?}", t.elapsed());
    if by_snapshot {
        // The leader purged entries the lagging node never had: only a snapshot can help.
        let t = Instant::now();
        while c.status(leader).await?["Purged"].as_u64().unwrap_or(0) <= had {
            assert!(t.elapsed() < Duration::from_secs(30), "the leader never purged past {had}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    c.spawn(lagging, false);
    let t = Instant::now();
    if let Err(e) = wait_caught_up(&c, lagging, "big", Duration::from_secs(120)).await {
        panic!("catching up: {e}");
    }
    eprintln!("the lagging follower caught up in {:?}", t.elapsed());
    // Replication still works afterwards: a small write reaches it.
    assert_eq!(c.put(leader, "after", "1").await?, (200, "true".into()));
    let t = Instant::now();
    while c.value(lagging, "after", "stale").await? != Some("1".into()) {
        assert!(t.elapsed() < Duration::from_secs(10), "small write never replicated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The catch-up batch is ~67 MB of log entries: appends are bounded by bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_follower_down_during_50_mb_of_writes_catches_up_from_the_log() -> TestResult {
    lagging_follower_catches_up(&[], false).await
}

/// With a short log the leader purges what the follower missed: the state (tens of MB)
/// travels as a chunked snapshot. (Every snapshot encodes the whole state, so the interval
/// stays large enough for a debug build to take a few of them during the writes.)
#[tokio::test(flavor = "multi_thread")]
async fn a_follower_down_during_50_mb_of_writes_catches_up_from_a_snapshot() -> TestResult {
    lagging_follower_catches_up(&["--snapshot-logs", "40"], true).await
}

/// Large values, then kill -9 of the leader: the new leader replicates to the in-sync
/// follower and accepts writes, and the old leader catches up when restarted.
#[tokio::test(flavor = "multi_thread")]
async fn failover_after_large_values_keeps_writes_going() -> TestResult {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    for i in 0..3 {
        let r = c
            .http
            .put(c.url(leader, &format!("/v1/kv/fo/{i}")))
            .body(vec![b'x'; 500 * 1024])
            .send()
            .await?;
        assert_eq!((r.status().as_u16(), r.text().await?), (200, "true".into()));
    }
    c.kill(leader);
    let new_leader = c.wait_leader(Duration::from_secs(15)).await?;
    for i in 0..20 {
        let (status, body) = c.put(new_leader, &format!("fo/small/{i}"), "v").await?;
        assert_eq!((status, body.as_str()), (200, "true"), "write {i} after failover");
    }
    let r = c.http.put(c.url(new_leader, "/v1/kv/fo/big-after")).body(value(7)).send().await?;
    assert_eq!((r.status().as_u16(), r.text().await?), (200, "true".into()));
    c.spawn(leader, false);
    let t = Instant::now();
    while c.value(leader, "fo/small/19", "stale").await.ok().flatten() != Some("v".into()) {
        assert!(t.elapsed() < Duration::from_secs(20), "old leader never caught up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Consul's kv_max_value_size: 600 KiB is refused with 413 and Consul's message; the key is
/// not written and no index moves. A transaction with such a value is refused the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_value_over_512_kib_is_refused_with_413_and_nothing_changes() -> TestResult {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = c.other_than(leader);
    assert_eq!(c.put(leader, "before", "1").await?, (200, "true".into()));
    let index_before = kv_index(&c, leader).await?;
    for node in [leader, follower] {
        let r = c.http.put(c.url(node, "/v1/kv/huge")).body(vec![b'z'; 600 * 1024]).send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        assert_eq!(status, 413, "{text}");
        assert_eq!(
            text,
            "Request body(614400 bytes) too large, max size: 524288 bytes. See \
             https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
        );
    }
    let txn = serde_json::json!([{ "KV": { "Verb": "set", "Key": "huge2",
        "Value": base64_of(&vec![b'q'; 400 * 1024]) } }]);
    let r = c.http.put(c.url(leader, "/v1/txn")).json(&txn).send().await?;
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.text().await?, "Request body too large, max size: 524288 bytes");
    assert_eq!(c.get(leader, "/v1/kv/huge?consistent").await?.0, 404);
    assert_eq!(c.get(leader, "/v1/kv/huge2?consistent").await?.0, 404);
    // Nothing changed: the KV index (X-Consul-Index of a key read) did not move.
    assert_eq!(kv_index(&c, leader).await?, index_before);
    // Exactly 512 KiB is allowed.
    let r = c.http.put(c.url(leader, "/v1/kv/max")).body(vec![b'm'; 512 * 1024]).send().await?;
    assert_eq!((r.status().as_u16(), r.text().await?), (200, "true".into()));
    assert!(kv_index(&c, leader).await? > index_before);
    Ok(())
}

/// The KV table's index, as a key read reports it (X-Consul-Index).
async fn kv_index(c: &Cluster, node: u64) -> TestResult<Option<u64>> {
    Ok(c.get(node, "/v1/kv/before?consistent").await?.1)
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
