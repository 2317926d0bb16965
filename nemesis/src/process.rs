//! Processes inside a lab: started with `ip netns exec <ns> program ...`, which
//! enters the namespace and then *execs* the program, so the pid we get is the
//! server's own. Each gets its own process group so that a signal to the group
//! reaches helpers it forks, never our own process.
//!
//! The fault verbs are plain signals sent by pid after checking the pid still
//! belongs to the process we started (its start time): kill (SIGKILL), pause
//! (SIGSTOP), resume (SIGCONT), graceful stop (SIGTERM, then SIGKILL after a grace
//! period). A restart re-runs the same [`ProcessSpec`], so the same data directory.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, sigprocmask};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{NemesisError, Result};
use crate::state::{proc_start_time, proc_state};

/// What to run on a node: enough to start it again identically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment (added to the lab owner's environment).
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// stdout and stderr are appended here; discarded when absent.
    pub log: Option<PathBuf>,
}

impl ProcessSpec {
    pub fn new(program: impl Into<String>, args: &[&str]) -> ProcessSpec {
        ProcessSpec {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..ProcessSpec::default()
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> ProcessSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn log(mut self, path: impl Into<PathBuf>) -> ProcessSpec {
        self.log = Some(path.into());
        self
    }

    /// The shell line a developer can paste to start it by hand.
    pub fn command_line(&self, ns: &str) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = if env.is_empty() { String::new() } else { format!("env {} ", env.join(" ")) };
        format!("ip netns exec {ns} {env}{} {}", self.program, self.args.join(" "))
    }
}

/// Starts `spec` inside namespace `ns`; returns the child (its pid is the program's).
pub fn spawn(ns: &str, spec: &ProcessSpec) -> Result<Child> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, &spec.program]).args(&spec.args);
    cmd.envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    cmd.stdin(Stdio::null());
    match &spec.log {
        Some(path) => {
            let open = || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| NemesisError::io(format!("opening log {}", path.display()), e))
            };
            cmd.stdout(open()?).stderr(open()?);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    // Its own group: Ctrl-C in the terminal reaches only us, and we decide.
    cmd.process_group(0);
    // A blocked signal mask survives fork and exec: a node restarted by a command
    // that blocks SIGTERM while it holds a fault (`lab fault`, `lab delay`) would
    // ignore every graceful stop. Start it with nothing blocked.
    // SAFETY: sigprocmask is async-signal-safe, and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn().map_err(|e| NemesisError::io(format!("starting `{}`", spec.command_line(ns)), e))
}

/// Whether `pid` is still the process that started at `start_time` (alive, not a
/// zombie, not a recycled pid).
pub fn is_same_process(pid: u32, start_time: u64) -> bool {
    proc_start_time(pid) == Some(start_time)
}

/// Sends `signal` to the process group led by `pid`, only if `pid` is still the
/// process we started. Returns whether a signal was sent.
pub fn signal_checked(pid: u32, start_time: u64, signal: Signal) -> Result<bool> {
    if !is_same_process(pid, start_time) {
        return Ok(false);
    }
    let raw = i32::try_from(pid).map_err(|_| NemesisError::Invalid(format!("pid {pid}")))?;
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(e) => Err(NemesisError::io(format!("sending {signal} to pid {pid}"), e.into())),
    }
}

/// Waits until `pid` is gone (or a zombie), reaping it through `child` when we own
/// it. Returns whether it went away within `timeout`.
pub fn wait_gone(pid: u32, start_time: u64, child: Option<&mut Child>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut child = child;
    loop {
        if let Some(c) = child.as_deref_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
        } else if !is_same_process(pid, start_time) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `pid` shows state `T` (stopped) or `timeout` passes.
pub fn wait_stopped(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if matches!(proc_state(pid), Some('T') | Some('t')) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
