//! A real 3-node cluster of `faultline-node` processes: readiness time, election,
//! replication, surviving a leader kill, durability across SIGKILL of every node, and
//! membership change (join / leave).

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;

/// Ready = a leader holding its lease and a write acknowledged. The issue asks for 2 s; the
/// assertion allows exactly that, measured from the spawn of the first process (which
/// includes process start-up of a debug build on a loaded 2-core machine).
#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_are_ready_within_two_seconds() -> TestResult {
    let started = Instant::now();
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let (status, body) = c.put(leader, "ready", "1").await?;
    let elapsed = started.elapsed();
    assert_eq!((status, body.as_str()), (200, "true"));
    eprintln!("3-node cluster ready (leader + acknowledged write) after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "cluster took {elapsed:?} to be ready");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn elects_replicates_and_survives_a_leader_kill() -> TestResult {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    assert_eq!(c.put(leader, "k", "v1").await?, (200, "true".into()));
    // Replicated: every node's local (stale) state eventually has it.
    for id in 1..=3 {
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.value(id, "k", "stale").await? != Some("v1".into()) {
            assert!(Instant::now() < deadline, "node {id} never saw k=v1");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    c.kill(leader);
    let new_leader = c.wait_leader(Duration::from_secs(10)).await?;
    assert_ne!(new_leader, leader);
    let follower = c.other_than(new_leader);
    // Writes through a follower are forwarded to the new leader.
    assert_eq!(c.put(follower, "k", "v2").await?, (200, "true".into()));
    assert_eq!(c.value(follower, "k", "consistent").await?, Some("v2".into()));
    assert_eq!(c.value(new_leader, "k", "").await?, Some("v2".into()));
    // The killed node comes back with its data and catches up.
    c.spawn(leader, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.value(leader, "k", "stale").await.ok().flatten() != Some("v2".into()) {
        assert!(Instant::now() < deadline, "restarted node never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// 1,000 acknowledged writes survive SIGKILL of every node.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill_of_every_node() -> TestResult {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    write_keys(&c, leader, 1000).await?;
    for id in 1..=3 {
        c.kill(id);
    }
    for id in 1..=3 {
        c.spawn(id, false);
    }
    let leader = c.wait_leader(Duration::from_secs(15)).await?;
    let present = count_keys(&c, leader).await?;
    assert_eq!(present, 1000, "acknowledged keys lost across a crash of every node");
    Ok(())
}

/// The `no-fsync` bug switch is real: the same crash loses acknowledged writes.
#[tokio::test(flavor = "multi_thread")]
async fn no_fsync_bug_loses_acknowledged_writes_on_crash() -> TestResult {
    let mut c = Cluster::start(3, &["no-fsync"]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    write_keys(&c, leader, 200).await?;
    for id in 1..=3 {
        c.kill(id);
    }
    for id in 1..=3 {
        c.spawn(id, false);
    }
    let leader = c.wait_leader(Duration::from_secs(15)).await?;
    let present = count_keys(&c, leader).await?;
    assert!(present < 200, "no-fsync kept all {present} acknowledged keys");
    Ok(())
}

async fn write_keys(c: &Cluster, leader: u64, n: usize) -> TestResult {
    // 8 concurrent writers; every write must be acknowledged.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let http = c.http.clone();
        let base = c.url(leader, "/v1/kv/durable/");
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                let r = http.put(format!("{base}{i:04}")).body(format!("v{i}")).send().await?;
                let status = r.status().as_u16();
                let body = r.text().await?;
                if (status, body.as_str()) != (200, "true") {
                    return Err(format!("write {i}: {status} {body}").into());
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

async fn count_keys(c: &Cluster, leader: u64) -> TestResult<usize> {
    let (status, _, body) = c.get(leader, "/v1/kv/durable/?keys&consistent").await?;
    match status {
        404 => Ok(0),
        200 => {
            let keys: Vec<String> = serde_json::from_str(&body)?;
            let missing: Vec<String> = (0..1000)
                .map(|i| format!("durable/{i:04}"))
                .filter(|k| !keys.contains(k))
                .take(20)
                .collect();
            if !missing.is_empty() {
                eprintln!("missing keys (first 20): {missing:?}");
            }
            Ok(keys.len())
        }
        s => Err(format!("listing keys: {s} {body}").into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn membership_join_and_leave() -> TestResult {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    c.put(leader, "before-join", "x").await?;
    let new = c.add_address();
    c.spawn(new, true);
    let addr = c.addrs[&new];
    let r = c
        .http
        .put(c.url(leader, &format!("/v1/faultline/join?id={new}&addr={addr}")))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200, "join: {}", r.text().await?);
    let (_, _, peers) = c.get(leader, "/v1/status/peers").await?;
    let peers: Vec<String> = serde_json::from_str(&peers)?;
    assert_eq!(peers.len(), 4);
    assert!(peers.contains(&addr.to_string()));
    // The joined node has the data written before it joined (applied shortly after).
    let t = Instant::now();
    while c.value(new, "before-join", "stale").await? != Some("x".into()) {
        assert!(t.elapsed() < Duration::from_secs(5), "joined node never applied old data");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Remove it again (Consul's operator endpoint).
    let r =
        c.http.delete(c.url(leader, &format!("/v1/operator/raft/peer?id={new}"))).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    let (_, _, peers) = c.get(leader, "/v1/status/peers").await?;
    let peers: Vec<String> = serde_json::from_str(&peers)?;
    assert_eq!(peers.len(), 3);
    assert!(!peers.contains(&addr.to_string()));
    Ok(())
}

/// A follower that was down while the leader snapshotted and purged its log catches up by
/// snapshot installation (`--snapshot-logs 50`).
#[tokio::test(flavor = "multi_thread")]
async fn a_far_behind_follower_catches_up_from_a_snapshot() -> TestResult {
    let mut c = Cluster::start_with(3, &[], &["--snapshot-logs", "50"]);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let lagging = c.other_than(leader);
    c.kill(lagging);
    for i in 0..200 {
        assert_eq!(c.put(leader, &format!("snap/{i:03}"), &i.to_string()).await?.0, 200);
    }
    // The leader has purged log entries the lagging node never received: only a snapshot
    // can bring it up to date.
    let t = Instant::now();
    loop {
        let s = c.status(leader).await?;
        if s["Purged"].as_u64() > Some(20) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "leader never purged its log: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.spawn(lagging, false);
    let t = Instant::now();
    loop {
        // The restarted process may not be listening yet.
        if let Ok((200, _, body)) = c.get(lagging, "/v1/kv/snap/?keys&stale").await
            && serde_json::from_str::<Vec<String>>(&body)?.len() == 200
        {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "lagging node never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.value(lagging, "snap/199", "stale").await?, Some("199".into()));
    // And it serves as a voter afterwards: kill the leader, the remaining two elect.
    c.kill(leader);
    let new_leader = c.wait_leader(Duration::from_secs(10)).await?;
    assert_eq!(c.value(new_leader, "snap/042", "consistent").await?, Some("42".into()));
    Ok(())
}
