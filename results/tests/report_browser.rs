//! The reports of a valid and an invalid run open in headless Chromium without
//! script errors and show what a reader needs: the verdict, the timeline, the fault
//! bands and (for the invalid one) the failing operation; so does the report of a
//! checker this crate has never heard of (the test-only `fake`), drawn from its
//! section's primitives. Screenshots are kept under `target/tmp/results-artifacts/`.
//!
//! Needs Debian's `chromium` (`apt-get install chromium`); without it the test fails
//! and says so.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed to check the HTML report: install it with `apt-get install chromium`"
    );
}

/// Runs Chromium with `args` on `url`, killing it (by its pid, our own child) if it
/// takes longer than a minute. Returns (stdout, stderr).
fn run_chromium(profile: &Path, args: &[String], url: &str) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (out_t.join().expect("stdout thread"), err_t.join().expect("stderr thread"))
}

/// Dumps the DOM after scripts ran and takes a screenshot; checks no script error
/// was recorded. Returns the dumped DOM.
fn open_in_browser(report: &Path, shot_name: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", report.display());
    let (dom, stderr) = run_chromium(profile.path(), &["--dump-dom".to_string()], &url);
    assert!(
        dom.contains(r#"data-report-ready="1""#),
        "the report's script did not run to its end in Chromium; stderr:\n{stderr}"
    );
    assert!(
        !dom.contains("data-js-errors=\""),
        "script errors in the report: {}",
        dom.split("data-js-errors=\"").nth(1).unwrap_or("").split('"').next().unwrap_or("")
    );
    assert!(!stderr.contains("Uncaught"), "console errors:\n{stderr}");
    let shot = common::artifacts().join(shot_name);
    let _ = std::fs::remove_file(&shot);
    let (_, stderr) = run_chromium(
        profile.path(),
        &[format!("--screenshot={}", shot.display()), "--window-size=1400,2600".to_string()],
        &url,
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "no screenshot at {} ({size} bytes); stderr:\n{stderr}", shot.display());
    dom
}

#[test]
fn invalid_run_report_shows_verdict_timeline_faults_and_failing_op() {
    let store = tempfile::tempdir().expect("store");
    let dir = common::invalid_run(store.path(), "20261126T160000.000Z");
    let (loaded, report, junit) = results::regenerate(&dir).expect("regenerate");
    assert!(junit.is_file());
    let breaking = loaded.view.checks[0].linearization.as_ref().expect("lin view").breaking_op;
    assert_eq!(loaded.view.history.ops[breaking].f, "read", "the checker named a read");
    std::fs::copy(&report, common::artifacts().join("invalid-report.html")).expect("keep report");

    let dom = open_in_browser(&report, "invalid-report.png");
    assert!(dom.contains(r#"id="verdict" class="badge v-invalid" data-verdict="invalid""#));
    assert!(dom.contains(r#"id="timeline-svg""#), "timeline missing");
    assert!(dom.contains(r#"class="fault-band" data-fault="start-partition""#), "partition band");
    assert!(dom.contains(r#"class="fault-band" data-fault="kill""#), "kill band");
    assert!(dom.contains(r#"id="breaking-op-bar""#), "breaking op not highlighted in the timeline");
    assert!(dom.contains(r#"id="breaking-op-lin""#), "breaking op not in the linearization view");
    assert!(dom.contains("process 11 read"), "the failing op is not described");
    // The breaking read (original line 85) happened during the partition: the
    // linearization view draws that fault too.
    let lin = dom.split(r#"id="linearization""#).nth(1).expect("linearization section");
    assert!(lin.contains(r#"data-fault="start-partition""#), "faults missing from the lin view");
    assert!(dom.contains("faultline replay"), "replay command missing");
    assert!(dom.contains(r#"id="latency""#) && dom.contains(r#"id="throughput""#));
    assert!(dom.contains(r#"id="availability-table""#));
}

#[test]
fn valid_run_report_opens_clean() {
    let store = tempfile::tempdir().expect("store");
    let dir = common::valid_run(store.path(), "20261126T160100.000Z");
    let (_, report, _) = results::regenerate(&dir).expect("regenerate");
    std::fs::copy(&report, common::artifacts().join("valid-report.html")).expect("keep report");
    let dom = open_in_browser(&report, "valid-report.png");
    assert!(dom.contains(r#"data-verdict="valid""#));
    assert!(dom.contains(r#"id="timeline-svg""#));
    assert!(dom.contains(r#"class="fault-band" data-fault="pause""#));
    assert!(!dom.contains(r#"id="breaking-op"#), "a valid run has no failing operation");
    assert!(!dom.contains(r#"id="linearization""#));
}

/// The error hook the checks above rely on does catch a script error: a copy of a
/// report with a broken script shows it in the dumped DOM.
#[test]
fn error_hook_catches_script_errors() {
    let store = tempfile::tempdir().expect("store");
    let dir = common::valid_run(store.path(), "20261126T160200.000Z");
    let (_, report, _) = results::regenerate(&dir).expect("regenerate");
    let html = std::fs::read_to_string(&report).expect("read report");
    let broken = dir.join("broken.html");
    std::fs::write(&broken, html.replace("</body>", "<script>noSuchFunction();</script></body>"))
        .expect("write");
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", broken.display());
    let (dom, _) = run_chromium(profile.path(), &["--dump-dom".to_string()], &url);
    assert!(dom.contains("data-js-errors=\""), "the hook missed a ReferenceError");
    assert!(dom.contains("noSuchFunction"));
}

/// A checker this crate knows nothing of (`checkers::fake`, a paragraph, a table, a
/// plot on a time axis and a highlighted culprit): its section renders in the
/// browser, the culprit is highlighted in the timeline, the plot draws the fault.
#[test]
fn any_checkers_section_renders_from_its_primitives() {
    use checkers::Checker;
    use history::{OpKind, Value};
    let (mut h, _) = common::timed_with_faults(
        &common::etcd_log("002"),
        &[(
            20,
            vec![
                history::Op::new(history::Process::Nemesis, OpKind::Invoke, "pause", "n1".into()),
                history::Op::new(history::Process::Nemesis, OpKind::Info, "pause", "n1".into()),
            ],
        )],
    );
    // The 30th completion returns the forbidden value.
    let done = h.ops.iter().position(|o| o.kind == OpKind::Ok && o.index >= 30).expect("an ok");
    h.ops[done].value = Value::Str(checkers::fake::FORBIDDEN.into());
    let outcome = checkers::fake::Fake.check(&h.clone().lint().expect("lint")).expect("check");
    assert_eq!(outcome.verdict, results::Verdict::Invalid);
    let culprit = outcome.section.culprits()[0];
    let check =
        results::CheckView::new("fake", outcome.verdict, outcome.summary(), outcome.section);
    let run = results::RunView { test: serde_json::Value::Null, history: h, checks: vec![check] };
    let html = results::render_html(&run, &results::ReportOptions::default());
    let dir = tempfile::tempdir().expect("tmp");
    let report = dir.path().join("fake-report.html");
    std::fs::write(&report, &html).expect("write");
    std::fs::copy(&report, common::artifacts().join("fake-report.html")).expect("keep report");
    let dom = open_in_browser(&report, "fake-report.png");
    let section = dom.split(r#"data-check="fake""#).nth(1).expect("the fake section");
    assert!(section.contains(r#"<p class="table-caption">ok operations by function</p>"#));
    assert!(section.contains(&format!(r#"data-position="{culprit}" data-role="culprit""#)));
    let plot = section.split(r#"class="scroll plot check-plot""#).nth(1).expect("plot");
    assert!(plot.contains("<svg") && plot.contains("ok operations so far"));
    assert!(dom.contains(r#"id="breaking-op-bar""#), "the culprit is highlighted");
    assert!(!dom.contains(r#"id="linearization""#));
}
