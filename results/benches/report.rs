//! Report generation for a 100,000-entry synthetic history (the bound: under
//! 5 s and under 10 MB). Prints the HTML size once, then lets criterion time it.
//! And `serve`'s timeline pages on a 1M-entry history.

use criterion::{Criterion, criterion_group, criterion_main};

fn report_100k(c: &mut Criterion) {
    let run = results::synthetic::run(100_000, 20);
    let options = results::ReportOptions::default();
    let html = results::render_html(&run, &options);
    eprintln!(
        "report for {} history entries: {} bytes ({:.2} MB)",
        run.history.len(),
        html.len(),
        html.len() as f64 / 1e6
    );
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("render_html 100k ops", |b| {
        b.iter(|| results::render_html(&run, &options))
    });
    // The whole `faultline report`: read history.jsonl and results.json, render,
    // write report.html and junit.xml.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = history::format::to_string(&run.history, history::Format::Jsonl).expect("jsonl");
    std::fs::write(dir.path().join("history.jsonl"), text).expect("write history");
    std::fs::write(dir.path().join("test.json"), run.test.to_string()).expect("write test.json");
    let checks = serde_json::json!({ "checks": run.checks });
    std::fs::write(dir.path().join("results.json"), checks.to_string()).expect("write results");
    group.bench_function("regenerate run dir 100k ops", |b| {
        b.iter(|| results::regenerate(dir.path()).expect("regenerate"))
    });
    group.bench_function("junit xml", |b| {
        b.iter(|| results::junit::run_xml("synthetic", &run.checks))
    });
    group.finish();
}

/// `serve`'s timeline pages on a 1M-entry history.jsonl: the first page, and the
/// last (one scan of the file's line ends to get there).
fn timeline_pages_1m(c: &mut Criterion) {
    let run = results::synthetic::run(1_000_000, 50);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.jsonl");
    let text = history::format::to_string(&run.history, history::Format::Jsonl).expect("jsonl");
    std::fs::write(&path, &text).expect("write history");
    let total = run.history.len() as u64;
    eprintln!("timeline pages over {total} entries, {:.0} MB", text.len() as f64 / 1e6);
    drop((run, text));
    let mut group = c.benchmark_group("timeline pages");
    group.sample_size(10);
    for (name, from) in [("first page", 0), ("last page", total - 500)] {
        let q = results::timeline_pages::PageQuery { from, count: 500, process: None, key: None };
        group.bench_function(name, |b| {
            b.iter(|| {
                let file = std::fs::File::open(&path).expect("open");
                let page = results::timeline_pages::read_page(file, &q).expect("page");
                results::timeline_pages::render("bench", &q, &page)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, report_100k, timeline_pages_1m);
criterion_main!(benches);
