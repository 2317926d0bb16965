//! `faultline lab ...` end to end: up, spawn, partition (verified), pause, kill,
//! start, heal, down, and nothing left behind. Needs root, iproute2 and nftables.

use std::process::Command;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn lab(prefix: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(FAULTLINE);
    cmd.arg("lab");
    if let Some(p) = prefix {
        cmd.args(["--lab", p]);
    }
    cmd.args(args);
    let out = cmd.output().expect("run faultline");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn process_line(status: &str) -> String {
    status.lines().find(|l| l.contains("#0 n1")).unwrap_or_default().to_string()
}

/// Removes the lab however the test ends.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        if std::path::Path::new(&format!("/run/faultline/{}", self.0)).exists() {
            let _ = lab(Some(&self.0), &["down"]);
        }
    }
}

#[test]
fn a_hand_made_lab_from_up_to_down() {
    let (code, out) = lab(None, &["up", "--nodes", "3"]);
    assert_eq!(code, 0, "{out}");
    let prefix = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("lab "))
        .and_then(|l| l.split_whitespace().next())
        .expect("prefix line")
        .to_string();
    let _down = Down(prefix.clone());
    let p = Some(prefix.as_str());
    assert!(out.contains(&format!("ip netns exec {prefix}-n1")), "{out}");
    assert!(std::path::Path::new(&format!("/run/netns/{prefix}-sw")).exists());

    let (code, out) = lab(p, &["spawn", "n1", "--", "sleep", "600"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab(p, &["partition", "isolate", "--node", "n2"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("blocked n1>n2 n2>n1 n2>n3 n3>n2") && out.contains("verified"), "{out}");
    let (_, status) = lab(p, &["status"]);
    assert!(status.contains("blocked links: n1>n2 n2>n1 n2>n3 n3>n2"), "{status}");

    assert_eq!(lab(p, &["pause", "n1"]).0, 0);
    assert!(process_line(&lab(p, &["status"]).1).contains("paused"));
    assert_eq!(lab(p, &["resume", "n1"]).0, 0);
    assert!(process_line(&lab(p, &["status"]).1).contains("running"));
    assert_eq!(lab(p, &["kill", "n1"]).0, 0);
    assert!(process_line(&lab(p, &["status"]).1).contains("not running"));
    assert_eq!(lab(p, &["start", "n1"]).0, 0);
    assert!(process_line(&lab(p, &["status"]).1).contains("running"));

    let (code, out) = lab(p, &["partition", "no-such-shape"]);
    assert_eq!(code, 254, "{out}");
    let (code, out) = lab(p, &["kill", "n7"]);
    assert_eq!(code, 254, "{out}");
    assert!(out.contains("unknown node n7"), "{out}");

    let (code, out) = lab(p, &["heal"]);
    assert_eq!(code, 0, "{out}");
    assert!(lab(p, &["status"]).1.contains("blocked links: none"));
    let pid_line = process_line(&lab(p, &["status"]).1);
    let (code, out) = lab(p, &["down"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 namespaces, 1 processes killed"), "{out} ({pid_line})");
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| !n.starts_with(&format!("{prefix}-"))), "{left:?}");
    assert!(!std::path::Path::new(&format!("/run/faultline/{prefix}")).exists());
}

/// Without privileges, `lab up` fails as a setup failure (255) and says how to run
/// rootless.
#[test]
fn lab_up_without_root_says_how_to_run_rootless() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy `nobody` may run (the checkout may sit where only root can enter).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exe = dir.path().join("faultline");
    std::fs::copy(FAULTLINE, &exe).expect("copy");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut attempt = 0;
    let out = loop {
        // A parallel fork may briefly hold the fresh copy open for writing.
        match Command::new(&exe).args(["lab", "up", "--nodes", "2"]).uid(65534).gid(65534).output()
        {
            Err(e) if e.raw_os_error() == Some(26) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.expect("run faultline as nobody"),
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("CAP_NET_ADMIN") && err.contains("unshare -Urnm"), "{err}");
}

/// Milliseconds a TCP connect from n1 to a listener on n2 takes (median of 5).
fn connect_ms(prefix: &str) -> f64 {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    let (tx, rx) = std::sync::mpsc::channel();
    let n2 = format!("{prefix}-n2");
    let listener = nemesis::netns::spawn_in(&n2, move || {
        let l = TcpListener::bind("198.18.0.2:7100").expect("bind");
        let _ = tx.send(());
        for _ in 0..5 {
            let _ = l.accept();
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).expect("listener");
    let mut times = nemesis::netns::run_in(&format!("{prefix}-n1"), || {
        let addr: SocketAddr = "198.18.0.2:7100".parse().expect("addr");
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                let s = TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3));
                assert!(s.is_ok(), "connect n1 -> n2: {s:?}");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect::<Vec<f64>>()
    })
    .expect("enter n1");
    let _ = listener.join();
    times.sort_by(|a, b| a.total_cmp(b));
    times[2]
}

#[test]
fn lab_delay_holds_while_it_runs_and_cleans_up_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let (code, out) = lab(None, &["up", "--nodes", "2"]);
    assert_eq!(code, 0, "{out}");
    let prefix = out.split_whitespace().nth(1).expect("prefix").to_string();
    let _down = Down(prefix.clone());
    let before = connect_ms(&prefix);
    let mut child = Command::new(FAULTLINE)
        .args(["lab", "--lab", &prefix, "delay", "50", "--links", "n1>n2", "--for", "60"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start delay");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("read");
    assert!(line.contains("delaying n1>n2 by 50 ms"), "{line}");
    let during = connect_ms(&prefix);
    assert!(during - before >= 45.0, "connect {before:.1} -> {during:.1} ms under a 50 ms delay");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("ctrl-c");
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    assert!(status.success() && rest.contains("delays removed"), "{status:?} {rest}");
    let after = connect_ms(&prefix);
    assert!(after < before + 20.0, "delay not removed: {after:.1} ms");
    let rules = std::process::Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}-n2"), "iptables", "-S", "INPUT"])
        .output()
        .expect("iptables");
    assert!(!String::from_utf8_lossy(&rules.stdout).contains("NFQUEUE"), "NFQUEUE rule left");
}
