//! 3-node write latency and throughput of the builtin node against etcd (Debian's
//! `etcd-server` 3.4, through its JSON gateway), both on loopback on this machine, in the
//! same run, so the ratio is meaningful. Both fsync every acknowledged write.
//!
//! - `write_latency/<system>`: one client, one PUT at a time, to the leader.
//! - `write_throughput/<system>`: 32 concurrent PUTs to the leader per iteration.
//!
//! Needs `etcd` on PATH (`apt-get install etcd-server`); fails with that message otherwise.

use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::UdpSocket;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use base64::Engine;
use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;

const CONCURRENCY: usize = 32;

fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Child processes killed (SIGKILL, by pid) when dropped.
struct Procs {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How to write one key to a system.
#[derive(Clone)]
enum Target {
    Builtin(SocketAddr),
    Etcd(SocketAddr),
}

impl Target {
    async fn put(&self, http: &reqwest::Client, key: &str, value: &str) {
        let ok = match self {
            Target::Builtin(a) => {
                let r =
                    http.put(format!("http://{a}/v1/kv/{key}")).body(value.to_owned()).send().await;
                matches!(r, Ok(r) if r.status().is_success())
            }
            Target::Etcd(a) => {
                let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
                let body = serde_json::json!({ "key": b64(key), "value": b64(value) });
                let r = http.post(format!("http://{a}/v3/kv/put")).json(&body).send().await;
                matches!(r, Ok(r) if r.status().is_success())
            }
        };
        assert!(ok, "a benchmark write failed");
    }
}

async fn start_builtin(http: &reqwest::Client) -> (Procs, Target) {
    let dir = tempfile::tempdir().expect("tempdir");
    let addrs: Vec<SocketAddr> =
        (0..3).map(|_| SocketAddr::from(([127, 0, 0, 1], free_port()))).collect();
    let peers: Vec<String> =
        addrs.iter().enumerate().map(|(i, a)| format!("{}={a}", i + 1)).collect();
    let mut children = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let child = Command::new(env!("CARGO_BIN_EXE_faultline-node"))
            .args([
                "--id",
                &(i + 1).to_string(),
                "--bind",
                &a.to_string(),
                "--peers",
                &peers.join(","),
            ])
            .arg("--data-dir")
            .arg(dir.path().join(format!("n{}", i + 1)))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn faultline-node");
        children.push(child);
    }
    let procs = Procs { children, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for a in &addrs {
            if let Ok(r) = http.get(format!("http://{a}/v1/faultline/status")).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["State"] == "Leader"
                && v["LeaseHeld"] == true
            {
                return (procs, Target::Builtin(*a));
            }
        }
        assert!(Instant::now() < deadline, "builtin cluster never elected a leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_etcd(http: &reqwest::Client) -> (Procs, Target) {
    let dir = tempfile::tempdir().expect("tempdir");
    let client: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peer: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let cluster: Vec<String> =
        peer.iter().enumerate().map(|(i, p)| format!("e{i}=http://127.0.0.1:{p}")).collect();
    let mut children = Vec::new();
    for i in 0..3 {
        let spawned = Command::new("etcd")
            .args(["--name", &format!("e{i}")])
            .arg("--data-dir")
            .arg(dir.path().join(format!("e{i}")))
            .args(["--listen-client-urls", &format!("http://127.0.0.1:{}", client[i])])
            .args(["--advertise-client-urls", &format!("http://127.0.0.1:{}", client[i])])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{}", peer[i])])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{}", peer[i])])
            .args(["--initial-cluster", &cluster.join(",")])
            .args(["--initial-cluster-token", "faultline-bench", "--initial-cluster-state", "new"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(c) => children.push(c),
            Err(e) => {
                panic!("cannot run etcd ({e}): install it with `apt-get install etcd-server`")
            }
        }
    }
    let procs = Procs { children, _dir: dir };
    // Find the leader: the member whose status reports itself as leader.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for p in &client {
            let url = format!("http://127.0.0.1:{p}/v3/maintenance/status");
            if let Ok(r) = http.post(url).json(&serde_json::json!({})).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["leader"].is_string()
                && v["leader"] == v["header"]["member_id"]
            {
                return (procs, Target::Etcd(SocketAddr::from(([127, 0, 0, 1], *p))));
            }
        }
        assert!(Instant::now() < deadline, "etcd cluster never elected a leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let (_builtin, builtin) = rt.block_on(start_builtin(&http));
    let (_etcd, etcd) = rt.block_on(start_etcd(&http));
    let systems = [("builtin", builtin), ("etcd", etcd)];

    let mut g = c.benchmark_group("write_latency");
    g.sample_size(200).measurement_time(Duration::from_secs(8));
    for (name, target) in &systems {
        let mut n = 0u64;
        g.bench_function(*name, |b| {
            b.iter(|| {
                n += 1;
                rt.block_on(target.put(&http, &format!("lat/{}", n % 100), "v"));
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("write_throughput");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(CONCURRENCY as u64));
    for (name, target) in &systems {
        g.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let writes = (0..CONCURRENCY).map(|i| {
                        let (http, target) = (http.clone(), target.clone());
                        async move { target.put(&http, &format!("tp/{i}"), "v").await }
                    });
                    futures_join_all(writes).await;
                })
            })
        });
    }
    g.finish();
}

/// Runs the futures concurrently on the current task (no extra dependency for join_all).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    for h in handles {
        h.await.expect("write task");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
