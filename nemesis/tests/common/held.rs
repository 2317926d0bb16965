//! A lab held by another process (`faultline-fixture hold-lab`), for the signal
//! and crash tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub struct Held {
    pub child: std::process::Child,
    pub prefix: String,
    pub pids: Vec<u32>,
}

/// Starts `faultline-fixture hold-lab` and reads the lab it built.
pub fn hold_lab(nodes: usize) -> Held {
    hold_lab_in(nodes, None)
}

/// [`hold_lab`] with the lab's marker under `run_dir` (`FAULTLINE_RUN_DIR`).
pub fn hold_lab_in(nodes: usize, run_dir: Option<&std::path::Path>) -> Held {
    let mut cmd = Command::new(super::FIXTURE);
    if let Some(dir) = run_dir {
        cmd.env("FAULTLINE_RUN_DIR", dir);
    }
    let mut child = cmd
        .args(["hold-lab", &nodes.to_string(), "7001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fixture");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let prefix = v["prefix"].as_str().expect("prefix").to_string();
    let pids: Vec<u32> = v["pids"]
        .as_array()
        .expect("pids")
        .iter()
        .map(|p| p.as_u64().expect("pid") as u32)
        .collect();
    assert_eq!(pids.len(), nodes);
    for &pid in &pids {
        assert!(nemesis::state::proc_start_time(pid).is_some(), "echo {pid} not running");
    }
    assert!(std::path::Path::new(&format!("/run/netns/{prefix}-sw")).exists());
    Held { child, prefix, pids }
}

pub fn signal_and_wait(held: &mut Held, signal: Signal) -> std::process::ExitStatus {
    kill(Pid::from_raw(held.child.id() as i32), signal).expect("signal");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = held.child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "fixture did not exit after {signal}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
