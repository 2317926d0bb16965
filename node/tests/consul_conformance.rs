//! Conformance with Consul as an independently written client sees it: py-consul 1.8.0
//! (installed by `scripts/install-deps`) drives a real 3-node cluster through every call
//! of issue 11 (KV with flags, CAS, indexes, 413; txn; blocking queries that wake only for
//! what they watch; headers; unknown endpoints and `?dc=`; the servers as catalog nodes
//! with `serfHealth`; catalog register with py-consul's lowercase fields; sessions and
//! locks, TTL bounds; agent services with HTTP, TCP and TTL checks the node runs and
//! `DeregisterCriticalServiceAfter`; writes and a blocking query across a leader kill;
//! a dead node's sessions invalidated per `Behavior`), checking Consul's answers.
//!
//! The script is `tests/conformance/consul_client.py`. A missing py-consul is a failure
//! that says what to install, never a skip.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Cluster;
use common::TestResult;

const PY_CONSUL: &str = "py-consul==1.8.0";

fn python() -> String {
    std::env::var("FAULTLINE_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn py_consul_sees_consul_behaviour() -> TestResult {
    let probe = Command::new(python())
        .args(["-c", "import consul, requests; print(consul.__file__)"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "py-consul is not installed for {}: run scripts/install-deps, or `{} -m pip install \
             {PY_CONSUL}` ({})",
            python(),
            python(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => {
            panic!("cannot run {} ({e}): install Python 3 and `pip install {PY_CONSUL}`", python())
        }
    }
    let c = Cluster::start(3, &[]);
    c.wait_serf_healthy(Duration::from_secs(15)).await?;
    let nodes: Vec<String> = c.addrs.iter().map(|(id, a)| format!("{id}={a}")).collect();
    let pids: Vec<String> = c.children.iter().map(|(id, ch)| format!("{id}={}", ch.id())).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/consul_client.py");
    let out = tokio::task::spawn_blocking({
        let logdir = c.dir.path().to_path_buf();
        move || {
            Command::new(python())
                .arg(script)
                .env("FL_NODES", nodes.join(","))
                .env("FL_PIDS", pids.join(","))
                .env("FL_LOGDIR", logdir)
                .env("NO_PROXY", "127.0.0.1,localhost")
                .env_remove("CONSUL_HTTP_ADDR")
                .env_remove("CONSUL_HTTP_TOKEN")
                .output()
        }
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "py-consul conformance failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    Ok(())
}
