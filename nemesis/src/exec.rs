//! Running the external tools the lab drives (`ip`, `nft`, `iptables`), with their
//! error output kept so a failure says exactly which command broke and why.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{NemesisError, Result};

/// Runs `program args...`, feeding `stdin` when given; fails with the command line
/// and its stderr when it exits non-zero.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let shown = || format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child =
        cmd.spawn().map_err(|e| NemesisError::io(format!("starting `{}`", shown()), e))?;
    if let Some(input) = stdin {
        // Take the pipe so it closes when written: the tool reads until EOF.
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(input.as_bytes())
                .map_err(|e| NemesisError::io(format!("writing to `{}`", shown()), e))?;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NemesisError::io(format!("waiting for `{}`", shown()), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if let Some(input) = stdin {
            stderr.push_str(&format!("\n--- input was:\n{input}"));
        }
        Err(NemesisError::Command { command: shown(), status: out.status.to_string(), stderr })
    }
}

/// Runs an `nft` script atomically inside network namespace `ns` (`nft -f -` applies
/// the whole script as one transaction, or nothing of it).
pub fn nft_in(ns: &str, script: &str) -> Result<()> {
    run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(script)).map(|_| ())
}

/// Runs `iptables args...` inside namespace `ns`.
pub fn iptables_in(ns: &str, args: &[&str]) -> Result<()> {
    let mut full = vec!["netns", "exec", ns, "iptables", "-w"];
    full.extend_from_slice(args);
    run("ip", &full, None).map(|_| ())
}

/// Runs an `ip -batch` script, in namespace `ns` when given (`ip -n ns -batch -`).
pub fn ip_batch(ns: Option<&str>, script: &str) -> Result<()> {
    match ns {
        Some(ns) => run("ip", &["-n", ns, "-batch", "-"], Some(script)).map(|_| ()),
        None => run("ip", &["-batch", "-"], Some(script)).map(|_| ()),
    }
}
