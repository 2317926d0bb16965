//! The bug switches `ack-before-commit` and `stale-default-reads` against a real cluster,
//! each next to the same scenario without the switch (the control). `no-fsync` and
//! `lock-no-session-check` are shown in `cluster.rs` and `api_sessions.rs`.
//!
//! Partitions need network namespaces (the harness's job); here SIGSTOP stands in for them:
//! a stopped process neither sends nor answers.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::Cluster;
use common::TestResult;

/// With both followers killed, a write cannot commit. Correct: the leader does not
/// acknowledge it (500 after its Raft timeout: outcome unknown). `ack-before-commit`:
/// acknowledged at once. Then the leader dies and the followers come back: the write, never
/// replicated (the followers were down, so no socket buffer holds it), is gone.
async fn write_without_quorum(bugs: &[&str]) -> TestResult<((u16, String), Option<String>)> {
    let mut c = Cluster::start(3, bugs);
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    c.put(leader, "x", "committed").await?;
    // Under the bug even this first write is answered before it commits: wait until it has
    // reached every node.
    let t = Instant::now();
    for id in 1..=3 {
        while c.value(id, "x", "stale").await?.as_deref() != Some("committed") {
            assert!(t.elapsed() < Duration::from_secs(5), "first write never replicated");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let followers: Vec<u64> = (1..=3).filter(|i| *i != leader).collect();
    for f in &followers {
        c.kill(*f);
    }
    let answer = c.put(leader, "x", "uncommitted").await?;
    c.kill(leader);
    for f in &followers {
        c.spawn(*f, false);
    }
    let new_leader = c.wait_leader(Duration::from_secs(10)).await?;
    let value = c.value(new_leader, "x", "consistent").await?;
    Ok((answer, value))
}

#[tokio::test(flavor = "multi_thread")]
async fn ack_before_commit_acknowledges_writes_that_are_then_lost() -> TestResult {
    let (answer, value) = write_without_quorum(&[]).await?;
    assert_eq!(answer.0, 500, "control: a write without quorum must not be acknowledged");
    assert_eq!(value.as_deref(), Some("committed"));

    let (answer, value) = write_without_quorum(&["ack-before-commit"]).await?;
    assert_eq!(answer, (200, "true".into()), "the bug acknowledges at once");
    assert_eq!(value.as_deref(), Some("committed"), "and the acknowledged write is lost");
    Ok(())
}

/// The old leader is stopped, the others elect a new leader and take a write, then they are
/// stopped and the old leader resumes, still believing it leads. A default read there is
/// correct only if refused (its lease ran out); with `stale-default-reads` it answers with
/// the old value.
async fn default_read_on_deposed_leader(bugs: &[&str]) -> TestResult<(u16, Option<String>)> {
    let c = Cluster::start(3, bugs);
    let old = c.wait_leader(Duration::from_secs(10)).await?;
    c.put(old, "k", "old").await?;
    c.pause(old);
    let t = Instant::now();
    let new = loop {
        let others: Vec<u64> = (1..=3).filter(|i| *i != old).collect();
        let mut found = None;
        for o in others {
            if let Ok(s) = c.status(o).await
                && s["State"] == "Leader"
            {
                found = Some(o);
            }
        }
        if let Some(n) = found {
            break n;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no new leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(c.put(new, "k", "new").await?, (200, "true".into()));
    for o in (1..=3).filter(|i| *i != old) {
        c.pause(o);
    }
    c.resume(old);
    let (status, _, body) = c.get(old, "/v1/kv/k").await?;
    let value = if status == 200 {
        let v: serde_json::Value = serde_json::from_str(&body)?;
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD
            .decode(v[0]["Value"].as_str().unwrap_or(""))?;
        Some(String::from_utf8(b)?)
    } else {
        None
    };
    for o in (1..=3).filter(|i| *i != old) {
        c.resume(o);
    }
    Ok((status, value))
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_default_reads_serves_old_data_from_a_deposed_leader() -> TestResult {
    let (status, value) = default_read_on_deposed_leader(&[]).await?;
    assert_eq!((status, value), (500, None), "control: the lease must refuse the read");

    let (status, value) = default_read_on_deposed_leader(&["stale-default-reads"]).await?;
    assert_eq!((status, value.as_deref()), (200, Some("old")), "the bug serves a stale value");
    Ok(())
}
