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

/// Beyond the detail budget the timeline aggregates: a history with a hundred
/// thousand `fail`s and `info`s still gives a report under 10 MB, says it
/// aggregated, and keeps full detail (a bar with its tooltip) for the breaking
/// operation and for the operations around it and around every fault edge.
#[test]
fn a_million_ops_aggregate_beyond_the_budget_and_keep_the_detail_that_matters() {
    let run = results::synthetic::run(1_000_000, 50);
    let iv = Intervals::from_history(&run.history);
    let not_ok = iv.ops.iter().filter(|o| o.outcome != Outcome::Ok).count();
    assert!(not_ok > results::timeline::DETAIL_BUDGET, "{not_ok} fail/info: over the budget");
    let html = results::render_html(&run, &results::ReportOptions::default());
    assert!(html.len() < 10_000_000, "report is {} bytes", html.len());
    let timeline = html
        .split(r#"id="timeline-svg""#)
        .nth(1)
        .expect("timeline")
        .split("</svg>")
        .next()
        .expect("svg end");
    assert!(timeline.contains("operations drawn aggregated"), "the timeline says so");
    // ... and where every operation is: serve's timeline pages, beside report.html.
    assert!(timeline.contains(r#"<a class="timeline-pages" href="timeline">"#));
    assert_eq!(timeline.matches(r#"id="breaking-op-bar""#).count(), 1);
    let titled = timeline.matches("</title></rect>").count();
    assert!(titled <= results::timeline::DETAIL_BUDGET + iv.faults.len(), "{titled} titled");
    // Every fault edge keeps its nearest fail / info operation in full detail.
    let window = iv.span() * results::timeline::DETAIL_WINDOW;
    let mut checked = 0;
    for w in &iv.faults {
        for edge in [w.start, w.end] {
            let distance = |o: &&results::intervals::ClientOp| {
                if o.end < edge { edge - o.end } else { (o.start - edge).max(0.0) }
            };
            let nearest = iv
                .ops
                .iter()
                .filter(|o| o.outcome != Outcome::Ok)
                .min_by(|a, b| distance(a).total_cmp(&distance(b)));
            if let Some(o) = nearest.filter(|o| distance(o) <= window) {
                let place = run.history.place(o.invoke);
                assert!(timeline.contains(&format!(", {place}</title>")), "{place} near {edge}");
                checked += 1;
            }
        }
    }
    assert!(checked > iv.faults.len(), "{checked} fault edges checked");
}
