//! A 100,000-entry history renders into a report under 10 MB, and decimation keeps
//! every anomaly: each fail / info operation has its own bar in the timeline, and
//! the breaking operation is highlighted. (Speed is measured by `cargo bench -p
//! results`, not asserted here.)

use results::intervals::{Intervals, Outcome};

#[test]
fn hundred_thousand_ops_stay_small_and_keep_every_anomaly() {
    let run = results::synthetic::run(100_000, 20);
    assert!(run.history.len() >= 100_000);
    let iv = Intervals::from_history(&run.history);
    assert!(iv.faults.len() >= 3, "the synthetic run has faults");
    let fails = iv.ops.iter().filter(|o| o.outcome == Outcome::Fail).count();
    let infos = iv.ops.iter().filter(|o| o.outcome == Outcome::Info).count();
    assert!(fails > 100 && infos > 100, "fails {fails}, infos {infos}");

    let html = results::render_html(&run, &results::ReportOptions::default());
    assert!(html.len() < 10_000_000, "report is {} bytes", html.len());
    let timeline = html
        .split(r#"id="timeline-svg""#)
        .nth(1)
        .expect("timeline")
        .split("</svg>")
        .next()
        .expect("svg end");
    assert_eq!(timeline.matches(r#"<rect class="fail""#).count(), fails);
    assert_eq!(timeline.matches(r#"<rect class="info""#).count(), infos);
    assert_eq!(timeline.matches(r#"id="breaking-op-bar""#).count(), 1);
    let ok_bars = timeline.matches(r#"<rect class="ok""#).count();
    let oks = iv.ops.len() - fails - infos;
    assert!(ok_bars < oks, "ok bars are decimated ({ok_bars} of {oks})");
    assert!(ok_bars > 1000, "but the timeline is not empty ({ok_bars})");
}
