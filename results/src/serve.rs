//! `faultline serve`: a small web UI over a store (axum). The runs, newest first,
//! coloured by verdict and filterable by system, workload and verdict (query
//! parameters), each linking to its report, its files and a `.tar.gz` bundle.
//!
//! Routes:
//! - `/?system=S&workload=W&verdict=V`: the list of runs.
//! - `/runs/<test>/<run>/`: the run's files; `/runs/<test>/<run>/<file>`: one file.
//! - `/runs/<test>/<run>/timeline?from=N&count=M&process=P&key=K`: every operation
//!   of the run, a page at a time ([`timeline_pages`]), where the report's timeline
//!   aggregates.
//! - `/bundle/<test>/<run>.tar.gz`: the run directory as a gzipped tar.
//!
//! Paths are checked to stay inside the store (no `..`, symbolic links resolved
//! and compared), since a browser's URL is user input.

use std::collections::HashMap;
use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::bundle;
use crate::html::{esc, percent_encode};
use crate::run_dir::{self, HARNESS_PID_FILE, REPORT_HTML, RESULTS_JSON, TEST_JSON};
use crate::summary::TestSummary;
use crate::timeline_pages::{self, PageQuery};
use crate::view::Verdict;

/// One run as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    pub test: String,
    pub run: String,
    pub system: Option<String>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    /// `None`: no results recorded (still running, or the harness died).
    pub verdict: Option<Verdict>,
    pub running: bool,
    pub has_report: bool,
}

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false)
}

/// Every run in the store, newest first (run folders are named by UTC timestamp,
/// so the name orders them; ties broken by test name).
pub fn list_runs(store: &Path) -> Vec<RunEntry> {
    let mut runs = Vec::new();
    let Ok(tests) = fs::read_dir(store) else { return runs };
    for test in tests.flatten() {
        let test_path = test.path();
        if !is_real_dir(&test_path) {
            continue; // `latest` links and stray files
        }
        let Ok(dirs) = fs::read_dir(&test_path) else { continue };
        for run in dirs.flatten() {
            let path = run.path();
            if !is_real_dir(&path) {
                continue;
            }
            let test_json = read_json_quiet(&path.join(TEST_JSON));
            let summary = TestSummary::from_test(&test_json, None);
            let results = read_json_quiet(&path.join(RESULTS_JSON));
            let checks = run_dir::checks_from_results(&results);
            let verdict = if results.is_null() {
                None
            } else if checks.is_empty() {
                Some(Verdict::Unknown)
            } else {
                Some(crate::view::verdict_of(&checks))
            };
            runs.push(RunEntry {
                test: test.file_name().to_string_lossy().into_owned(),
                run: run.file_name().to_string_lossy().into_owned(),
                system: summary.system,
                workload: summary.workload,
                nemesis: summary.nemesis,
                verdict,
                running: path.join(HARNESS_PID_FILE).exists(),
                has_report: path.join(REPORT_HTML).is_file(),
            });
        }
    }
    runs.sort_by(|a, b| b.run.cmp(&a.run).then(a.test.cmp(&b.test)));
    runs
}

/// A JSON file, or `Null` when missing or unreadable (the list shows what it can).
fn read_json_quiet(path: &Path) -> serde_json::Value {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

struct AppState {
    store: PathBuf,
}

/// The router over `store`.
pub fn router(store: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs/{test}/{run}/", get(run_files))
        .route("/runs/{test}/{run}/timeline", get(run_timeline))
        .route("/runs/{test}/{run}/{*file}", get(run_file))
        .route("/bundle/{test}/{file}", get(run_bundle))
        .with_state(Arc::new(AppState { store }))
}

/// Serves `store` on an already bound listener until the task is dropped.
pub async fn serve(store: PathBuf, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(store)).await
}

fn verdict_name(v: Option<Verdict>) -> &'static str {
    v.map_or("none", Verdict::name)
}

async fn index(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html<String> {
    let runs = list_runs(&state.store);
    let want = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let shown: Vec<&RunEntry> = runs
        .iter()
        .filter(|r| want("system").is_none_or(|s| r.system.as_deref() == Some(s)))
        .filter(|r| want("workload").is_none_or(|w| r.workload.as_deref() == Some(w)))
        .filter(|r| want("verdict").is_none_or(|v| verdict_name(r.verdict) == v))
        .collect();
    let options = |f: &dyn Fn(&RunEntry) -> Option<String>, name: &str| {
        let mut vals: Vec<String> = runs.iter().filter_map(f).collect();
        vals.sort();
        vals.dedup();
        let mut s = format!(r#"<select name="{name}"><option value="">any {name}</option>"#);
        for v in vals {
            let sel = if want(name) == Some(v.as_str()) { " selected" } else { "" };
            let _ = write!(s, r#"<option{sel}>{}</option>"#, esc(&v));
        }
        s.push_str("</select>");
        s
    };
    let mut s = String::from(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>faultline runs</title><style>
body{font-family:system-ui,sans-serif;margin:16px 24px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px}tr.valid{background:#dff0d8}tr.invalid{background:#f2dede}
tr.unknown{background:#fcf8e3}tr.none{background:#eee}</style></head><body><h1>faultline runs</h1>"#,
    );
    let _ = write!(
        s,
        r#"<form method="get">{}{}{}<button>filter</button></form>"#,
        options(&|r| r.system.clone(), "system"),
        options(&|r| r.workload.clone(), "workload"),
        options(&|r| r.verdict.map(|v| v.name().to_string()), "verdict"),
    );
    let _ = write!(
        s,
        r#"<p>{} of {} runs in {}</p><table id="runs"><tr><th>run</th><th>test</th><th>system</th><th>workload</th><th>nemesis</th><th>verdict</th><th>links</th></tr>"#,
        shown.len(),
        runs.len(),
        esc(&state.store.display().to_string())
    );
    for r in shown {
        let base = format!("/runs/{}/{}/", percent_encode(&r.test), percent_encode(&r.run));
        let verdict = match (r.verdict, r.running) {
            (Some(v), _) => v.name(),
            (None, true) => "running",
            (None, false) => "no results",
        };
        let report = if r.has_report {
            format!(r#"<a class="report" href="{base}{REPORT_HTML}">report</a> · "#)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            r#"<tr class="run {cls}" data-verdict="{cls}"><td>{run}</td><td>{test}</td><td>{sys}</td><td>{wl}</td><td>{nem}</td><td>{verdict}</td><td>{report}<a class="files" href="{base}">files</a> · <a class="bundle" href="/bundle/{t}/{rn}.tar.gz">bundle</a></td></tr>"#,
            cls = verdict_name(r.verdict),
            run = esc(&r.run),
            test = esc(&r.test),
            sys = esc(r.system.as_deref().unwrap_or("")),
            wl = esc(r.workload.as_deref().unwrap_or("")),
            nem = esc(r.nemesis.as_deref().unwrap_or("")),
            t = percent_encode(&r.test),
            rn = percent_encode(&r.run),
        );
    }
    s.push_str("</table></body></html>");
    Html(s)
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("not found: {what}\n")).into_response()
}

/// `store/<test>/<run>`, refusing anything that is not a plain name or that
/// resolves outside the store.
fn run_path(store: &Path, test: &str, run: &str) -> Option<PathBuf> {
    let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\']);
    if !plain(test) || !plain(run) {
        return None;
    }
    let path = store.join(test).join(run);
    let (root, real) = (store.canonicalize().ok()?, path.canonicalize().ok()?);
    (real.starts_with(&root) && real.is_dir()).then_some(path)
}

async fn run_files(
    State(state): State<Arc<AppState>>,
    UrlPath((test, run)): UrlPath<(String, String)>,
) -> Response {
    let Some(dir) = run_path(&state.store, &test, &run) else { return not_found(&run) };
    let mut files = Vec::new();
    collect_files(&dir, &dir, &mut files);
    files.sort();
    let mut s = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t}/{r}</title></head><body><h1>{t}/{r}</h1><p><a href="/">all runs</a> · <a href="/bundle/{ts}/{rs}.tar.gz">bundle (.tar.gz)</a></p><ul>"#,
        t = esc(&test),
        r = esc(&run),
        ts = percent_encode(&test),
        rs = percent_encode(&run)
    );
    for f in files {
        let href: Vec<String> = f.split('/').map(percent_encode).collect();
        let _ = write!(s, r#"<li><a href="{}">{}</a></li>"#, href.join("/"), esc(&f));
    }
    s.push_str("</ul></body></html>");
    Html(s).into_response()
}

/// Relative paths of the regular files under `dir` (symbolic links not followed).
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() {
            collect_files(root, &p, out);
        } else if meta.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("gz") => "application/gzip",
        _ => "text/plain; charset=utf-8",
    }
}

async fn run_file(
    State(state): State<Arc<AppState>>,
    UrlPath((test, run, file)): UrlPath<(String, String, String)>,
) -> Response {
    let Some(dir) = run_path(&state.store, &test, &run) else { return not_found(&run) };
    if file.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return not_found(&file);
    }
    let path = dir.join(&file);
    let inside = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(d), Ok(p)) => p.starts_with(d) && p.is_file(),
        _ => false,
    };
    if !inside {
        return not_found(&file);
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{file}: {e}\n")).into_response(),
    }
}

async fn run_timeline(
    State(state): State<Arc<AppState>>,
    UrlPath((test, run)): UrlPath<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(dir) = run_path(&state.store, &test, &run) else { return not_found(&run) };
    let query = match PageQuery::parse(|name| q.get(name).cloned()) {
        Ok(query) => query,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("timeline: {e}\n")).into_response(),
    };
    let path = dir.join(run_dir::HISTORY);
    if !path.is_file() {
        let why = format!(
            "{test}/{run}: no {} (the timeline pages read the harness's JSONL history)\n",
            run_dir::HISTORY
        );
        return (StatusCode::NOT_FOUND, why).into_response();
    }
    let title = format!("{test}/{run}");
    let page = tokio::task::spawn_blocking(move || {
        let file = fs::File::open(&path)?;
        let page = timeline_pages::read_page(file, &query)?;
        Ok::<_, std::io::Error>(timeline_pages::render(&title, &query, &page))
    })
    .await;
    match page {
        Ok(Ok(html)) => Html(html).into_response(),
        Ok(Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{test}/{run}: {e}\n")).into_response()
        }
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("timeline crashed: {e}\n")).into_response()
        }
    }
}

async fn run_bundle(
    State(state): State<Arc<AppState>>,
    UrlPath((test, file)): UrlPath<(String, String)>,
) -> Response {
    let Some(run) = file.strip_suffix(".tar.gz") else { return not_found(&file) };
    let Some(dir) = run_path(&state.store, &test, run) else { return not_found(run) };
    let top = run.to_string();
    let name = format!("{test}-{run}.tar.gz");
    match tokio::task::spawn_blocking(move || bundle::tar_gz(&dir, &top)).await {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/gzip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", name.replace('"', "")),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot bundle {run}: {e}\n"))
            .into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("bundling crashed: {e}\n")).into_response()
        }
    }
}
