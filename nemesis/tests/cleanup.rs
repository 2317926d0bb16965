//! Cleanup that always happens: after a panic, after SIGTERM and SIGINT (the
//! signal watcher removes the lab), and after SIGKILL (the next sweep removes the
//! leftovers, recognised by their marker). Also: a missing prerequisite fails with
//! a message saying what to do. Needs root, iproute2 and nftables.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::Signal;

use common::held::{hold_lab, signal_and_wait};

#[test]
fn sigterm_and_sigint_remove_the_lab() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut held = hold_lab(3);
        let status = signal_and_wait(&mut held, signal);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(signal as i32), "ended by {signal}: {status:?}");
        common::assert_gone(&held.prefix, &held.pids);
    }
}

#[test]
fn sweep_leaves_live_labs_alone() {
    let e = common::echo_lab(2);
    let (swept, _) = nemesis::cleanup::sweep_stale();
    assert!(swept.iter().all(|r| r.prefix != e.lab.prefix()), "swept a live lab");
    common::wait_answering(&e.lab, 0);
    common::destroy_and_check(e);
}

#[test]
fn a_panic_removes_the_lab() {
    let result = std::panic::catch_unwind(|| {
        let e = common::echo_lab(2);
        let prefix = e.lab.prefix().to_string();
        let pids = common::pids(&e.lab, &e.echo);
        std::panic::panic_any((prefix, pids));
    });
    let payload = result.expect_err("the closure panics");
    let (prefix, pids) = payload.downcast_ref::<(String, Vec<u32>)>().expect("payload").clone();
    common::assert_gone(&prefix, &pids);
}

/// The fixture, copied where user `nobody` may run it (the checkout may sit in a
/// directory only root can enter).
fn fixture_for_nobody() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exe = dir.path().join("faultline-fixture");
    std::fs::copy(common::FIXTURE, &exe).expect("copy fixture");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, exe)
}

/// Runs `cmd`, retrying while the kernel says ETXTBSY: the fixture was just copied,
/// and a child forked meanwhile by a parallel test may still hold the copy's write
/// descriptor for a moment.
fn output_retrying(cmd: &mut Command) -> std::process::Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // The same race one exec later, inside `unshare ... sh -c 'exec fixture'`.
            Ok(out) if String::from_utf8_lossy(&out.stderr).contains("Text file busy") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.expect("run the fixture"),
        }
    }
    panic!("the fixture copy stayed busy (ETXTBSY)");
}

#[test]
fn not_root_is_told_how_to_run_rootless() {
    let (_dir, exe) = fixture_for_nobody();
    let out = output_retrying(Command::new(&exe).arg("prereq").uid(65534).gid(65534));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_ADMIN") && err.contains("unshare -Urnm"), "{err}");
}

/// The rootless recipe the error message gives really works: as `nobody`, inside
/// `unshare -Urnm` with a private /run, a lab is built, cut, verified and removed.
#[test]
fn the_rootless_recipe_works() {
    let (_dir, exe) = fixture_for_nobody();
    let script = format!("mount -t tmpfs none /run && exec {} lab-roundtrip 3", exe.display());
    let out = output_retrying(
        Command::new("unshare")
            .args(["-Urnm", "--propagation", "private", "sh", "-c", &script])
            .uid(65534)
            .gid(65534),
    );
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("ok"), "rootless lab failed: {text}");
}

#[test]
fn missing_nft_is_named_with_its_package() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ip = nemesis::prereq::find_program("ip", &std::env::var("PATH").unwrap_or_default())
        .expect("ip on PATH");
    std::os::unix::fs::symlink(ip, dir.path().join("ip")).expect("symlink");
    let out = Command::new(common::FIXTURE)
        .arg("prereq")
        .env("PATH", dir.path())
        .output()
        .expect("run fixture");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nft") && err.contains("apt-get install -y nftables"), "{err}");
    // And with the real PATH, this machine passes.
    let ok = Command::new(common::FIXTURE).arg("prereq").output().expect("run fixture");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}
