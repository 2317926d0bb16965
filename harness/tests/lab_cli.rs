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
