//! `serve` over HTTP on 127.0.0.1 (an ephemeral port): it lists runs newest first,
//! filters them, serves reports and files, refuses paths outside the store, and
//! serves a `.tar.gz` bundle that unpacks to the run directory.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

/// A minimal HTTP/1.1 GET (Connection: close): (status, headers, body).
fn get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status");
    (status, head, raw[split + 4..].to_vec())
}

/// `serve` over `store` on an ephemeral port of 127.0.0.1: its runtime, the port, and
/// the server task.
fn start(
    store: &Path,
) -> (tokio::runtime::Runtime, u16, tokio::task::JoinHandle<std::io::Result<()>>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = rt.spawn(results::serve::serve(store.to_path_buf(), listener));
    (rt, port, server)
}

fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("prefix").to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    out
}

#[test]
fn lists_filters_and_bundles_runs() {
    let store = tempfile::tempdir().expect("store");
    let old = common::valid_run(store.path(), "20261126T150000.000Z");
    let new = common::invalid_run(store.path(), "20261126T160000.000Z");
    results::regenerate(&new).expect("report");
    // A run whose harness is still going: no results yet.
    let running = store.path().join("builtin-register/20261126T170000.000Z");
    std::fs::create_dir_all(&running).expect("dir");
    std::fs::write(running.join("harness.pid"), "{}").expect("pid");
    std::fs::write(
        running.join("test.json"),
        r#"{"args":{"system":"builtin","workload":"register"}}"#,
    )
    .expect("test.json");
    std::os::unix::fs::symlink("20261126T160000.000Z", store.path().join("etcd-register/latest"))
        .expect("latest link");

    let (rt, port, server) = start(store.path());

    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    let page = String::from_utf8(body).expect("utf8");
    let rows: Vec<&str> = page.split(r#"<tr class="run "#).skip(1).collect();
    assert_eq!(rows.len(), 3, "the latest link is not a run: {page}");
    assert!(rows[0].contains("20261126T170000.000Z") && rows[0].contains("running"));
    assert!(rows[1].starts_with("invalid") && rows[1].contains("20261126T160000.000Z"));
    assert!(rows[1].contains(r#"class="report""#), "the invalid run has a report");
    assert!(rows[2].starts_with("valid") && rows[2].contains("20261126T150000.000Z"));

    let (_, _, body) = get(port, "/?verdict=invalid");
    let page = String::from_utf8(body).expect("utf8");
    assert_eq!(page.matches(r#"<tr class="run "#).count(), 1);
    assert!(page.contains("20261126T160000.000Z"));
    let (_, _, body) = get(port, "/?system=builtin");
    assert_eq!(String::from_utf8(body).expect("utf8").matches(r#"<tr class="run "#).count(), 1);
    let (_, _, body) = get(port, "/?system=etcd&workload=register&verdict=valid");
    let page = String::from_utf8(body).expect("utf8");
    assert_eq!(page.matches(r#"<tr class="run "#).count(), 1);
    assert!(page.contains("20261126T150000.000Z"));

    let (status, head, body) = get(port, "/runs/etcd-register/20261126T160000.000Z/report.html");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-type: text/html"));
    assert!(String::from_utf8_lossy(&body).contains(r#"data-verdict="invalid""#));
    let (status, _, body) = get(port, "/runs/etcd-register/20261126T160000.000Z/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("n1/node.log"));
    let (status, _, body) = get(port, "/runs/etcd-register/20261126T160000.000Z/n1/node.log");
    assert_eq!((status, body.as_slice()), (200, &b"etcd started\n"[..]));
    for bad in [
        "/runs/etcd-register/20261126T160000.000Z/../../etc/passwd",
        "/runs/etcd-register/..%2F..%2F/x",
        "/runs/etcd-register/nope/",
        "/bundle/etcd-register/nope.tar.gz",
    ] {
        assert_eq!(get(port, bad).0, 404, "{bad} must be refused");
    }

    let (status, head, body) = get(port, "/bundle/etcd-register/20261126T150000.000Z.tar.gz");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("application/gzip"));
    let unpack = tempfile::tempdir().expect("unpack dir");
    tar::Archive::new(flate2::read::GzDecoder::new(body.as_slice()))
        .unpack(unpack.path())
        .expect("unpack");
    let got = files_under(&unpack.path().join("20261126T150000.000Z"));
    let want = files_under(&old);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    assert!(got == want, "the bundle's files differ from the run directory's");

    server.abort();
    rt.shutdown_background();
}

/// `serve`'s timeline pages: every entry of the run's history.jsonl, a page at a
/// time, in history order, linked page to page and filtered by process; bad
/// parameters are refused naming the parameter.
#[test]
fn pages_through_every_operation_of_a_run() {
    let store = tempfile::tempdir().expect("store");
    let run = common::invalid_run(store.path(), "20261126T160000.000Z");
    let lines = std::fs::read_to_string(run.join("history.jsonl")).expect("history.jsonl");
    let total = lines.lines().count();
    assert!(total > 100, "{total} entries");
    let (rt, port, server) = start(store.path());
    let base = "/runs/etcd-register/20261126T160000.000Z/timeline";

    // Walk every page by its "next" link: each entry exactly once, in order.
    let (mut seen, mut path, mut pages) = (Vec::new(), format!("{base}?count=40"), 0);
    loop {
        let (status, _, body) = get(port, &path);
        assert_eq!(status, 200, "{path}");
        let page = String::from_utf8(body).expect("utf8");
        for row in page.split(r#"" id="op"#).skip(1) {
            seen.push(row.split('"').next().unwrap().parse::<usize>().expect("position"));
        }
        pages += 1;
        match page.split(r#"<a class="next" href="timeline"#).nth(1) {
            Some(rest) => {
                path = format!("{base}{}", rest.split('"').next().unwrap().replace("&amp;", "&"))
            }
            None => {
                assert!(page.contains("end of the history"));
                break;
            }
        }
    }
    assert_eq!(seen, (0..total).collect::<Vec<_>>());
    assert_eq!(pages, total.div_ceil(40));

    // The nemesis's entries only: the three faults' invokes and completions.
    let (status, _, body) = get(port, &format!("{base}?process=nemesis"));
    assert_eq!(status, 200);
    let page = String::from_utf8(body).expect("utf8");
    assert_eq!(page.matches(r#"<tr class="invoke nemesis""#).count(), 3, "{page}");
    assert!(page.contains("start-partition") && page.contains("kill"));

    for (bad, says) in [("?count=0", "count=0"), ("?from=x", "from=")] {
        let (status, _, body) = get(port, &format!("{base}{bad}"));
        assert_eq!(status, 400, "{bad}");
        assert!(String::from_utf8_lossy(&body).contains(says), "{bad}");
    }
    assert_eq!(get(port, "/runs/etcd-register/nope/timeline").0, 404);
    server.abort();
    rt.shutdown_background();
}
