//! `faultline serve` as a user starts it: it prints the URL it listens on (an
//! ephemeral port with `--port 0`, loopback by default), answers with the list of
//! runs, and refuses a store that does not exist with 254.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

#[test]
fn serve_prints_its_url_and_lists_runs() {
    let store = tempfile::tempdir().expect("store");
    let run = store.path().join("memory-register/20261126T160000.000Z");
    std::fs::create_dir_all(&run).expect("run dir");
    std::fs::write(
        run.join("results.json"),
        r#"{"checks":[{"name":"lin","verdict":"valid","explanation":""}]}"#,
    )
    .expect("results");
    let mut child = Command::new(FAULTLINE)
        .args(["serve", "--port", "0", "--store"])
        .arg(store.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut first).expect("read the url line");
    let result = std::panic::catch_unwind(|| {
        let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("a url");
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        assert!(addr.starts_with("127.0.0.1:"), "loopback by default: {addr}");
        let mut s = TcpStream::connect(addr).expect("connect");
        write!(s, "GET /?verdict=valid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("20261126T160000.000Z") && body.contains(r#"data-verdict="valid""#));
    });
    // Our own child, by its pid.
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }

    let out = Command::new(FAULTLINE)
        .args(["serve", "--port", "0", "--store"])
        .arg(store.path().join("missing"))
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(254));
}
