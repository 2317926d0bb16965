//! `faultline lab fault NAME`: one fault of every registered family, applied to a
//! hand-made lab the way a test run would, held, then healed; the output is the
//! history's nemesis operations. Needs root, iproute2, nftables and iptables.

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

/// Removes the lab however the test ends.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        if std::path::Path::new(&format!("/run/faultline/{}", self.0)).exists() {
            let _ = lab(Some(&self.0), &["down"]);
        }
    }
}

fn running(prefix: &str) -> usize {
    lab(Some(prefix), &["status"]).1.lines().filter(|l| l.contains(": running (pid")).count()
}

#[test]
fn every_family_plays_one_fault_in_a_hand_made_lab_and_heals() {
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
    for node in ["n1", "n2", "n3"] {
        let (code, out) = lab(p, &["spawn", node, "--", "sleep", "600"]);
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(running(&prefix), 3);

    for (name, f) in [
        ("partition", "start-partition"),
        ("loss", "start-loss"),
        ("delay", "start-delay"),
        ("pause", "pause"),
        ("kill", "kill"),
        ("kill-all", "kill"),
        ("stop", "stop"),
        ("clock", "clock-skew"),
    ] {
        let (code, out) = lab(p, &["fault", name, "--seed", "4", "--for", "1"]);
        assert_eq!(code, 0, "{name}: {out}");
        let invoke = format!(r#""type":"invoke","process":"nemesis","f":"{f}""#);
        let info = format!(r#""type":"info","process":"nemesis","f":"{f}""#);
        assert!(out.contains(&invoke) && out.contains(&info), "{name}: {out}");
        assert!(out.contains(r#""f":"heal-all""#), "{name}: {out}");
        if name == "clock" {
            // `sleep` was not started under libfaketime: said, not pretended.
            assert!(out.contains("skipped:") && out.contains("libfaketime"), "{out}");
        } else {
            assert!(out.contains(": installed"), "{name}: {out}");
        }
        assert!(!out.contains("INDETERMINATE"), "{name}: {out}");
        assert_eq!(running(&prefix), 3, "{name}: healed means every node runs again");
        assert!(lab(p, &["status"]).1.contains("blocked links: none"), "{name}");
    }
    // The partition was verified by probes, and so was the heal.
    let (_, out) = lab(p, &["fault", "partition", "--seed", "5", "--for", "0"]);
    let verified_ok = r##""verified":{"#map":[[{"#kw":"ok"},true]"##;
    assert_eq!(out.matches(verified_ok).count(), 2, "{out}");

    let (code, out) = lab(p, &["fault", "flood"]);
    assert_eq!(code, 254, "{out}");
    assert!(out.contains("unknown nemesis \"flood\"") && out.contains("kill-all"), "{out}");
    let (code, out) = lab(p, &["down"]);
    assert_eq!(code, 0, "{out}");
}
