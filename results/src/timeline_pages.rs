//! The full timeline, a page at a time, for `faultline serve`
//! (`/runs/<test>/<run>/timeline?from=N&count=M&process=P&key=K`).
//!
//! The report keeps its size bounded by aggregating the timeline beyond a budget
//! ([`crate::timeline`]); nothing is lost, because every operation stays reachable
//! here: a table of the history's entries from position `from` on, read from the
//! run's `history.jsonl` as it is on disk. Only one page is ever in memory: the
//! entries before `from` are skipped by counting line ends, and reading stops as
//! soon as the page is full (so the first page of a 1 GB history costs what a
//! small one does; a page deep in it costs one scan to get there). Filters on the
//! process (`nemesis` for the faults) and on the key (written as the history
//! writes it: `7`, `"x"`) keep only matching entries; the "next" link resumes
//! after the last entry shown. A line that does not parse is shown as such with
//! its line number, never a failed page.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};

use crate::html::{esc, percent_encode};

/// Entries on a page unless `count` asks otherwise.
pub const DEFAULT_COUNT: usize = 500;
/// The most entries one page shows.
pub const MAX_COUNT: usize = 5000;

/// What a page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// The history position (0-based line of `history.jsonl`) to start at.
    pub from: u64,
    pub count: usize,
    /// Only this process (`0`, `12`, `nemesis`).
    pub process: Option<String>,
    /// Only this key, as EDN (`7`, `"x"`).
    pub key: Option<String>,
}

impl PageQuery {
    /// From the URL's query parameters; a bad number is an error naming it.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<PageQuery, String> {
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match get(name) {
                None => Ok(default),
                Some(text) if text.is_empty() => Ok(default),
                Some(text) => text
                    .parse::<u64>()
                    .map_err(|_| format!("{name}={text:?}: not a non-negative whole number")),
            }
        };
        let from = number("from", 0)?;
        let count = number("count", DEFAULT_COUNT as u64)?;
        if count == 0 || count > MAX_COUNT as u64 {
            return Err(format!("count={count}: must be between 1 and {MAX_COUNT}"));
        }
        let nonempty = |name: &str| get(name).filter(|v| !v.is_empty());
        Ok(PageQuery {
            from,
            count: count as usize,
            process: nonempty("process"),
            key: nonempty("key"),
        })
    }

    fn link(&self, from: u64) -> String {
        let mut s = format!("timeline?from={from}&count={}", self.count);
        for (name, v) in [("process", &self.process), ("key", &self.key)] {
            if let Some(v) = v {
                let _ = write!(s, "&{name}={}", percent_encode(v));
            }
        }
        esc(&s)
    }
}

/// One page: the rows shown, and where the next page starts (`None` at the end).
#[derive(Debug, Default)]
pub struct Page {
    pub rows: Vec<Row>,
    pub next: Option<u64>,
}

/// One history entry as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The position in the history (0-based line).
    pub position: u64,
    /// `process, type, f, key, value, node, error, time` or the parse error.
    pub cells: Result<[String; 8], String>,
}

/// Reads the page `q` asks for from a history in JSONL.
pub fn read_page(input: impl Read, q: &PageQuery) -> std::io::Result<Page> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut position = 0u64;
    // Skip to `from` without parsing.
    while position < q.from {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(Page::default());
        }
        let skip = q.from - position;
        let mut used = buf.len();
        let mut seen = 0u64;
        for (i, b) in buf.iter().enumerate() {
            if *b == b'\n' {
                seen += 1;
                if seen == skip {
                    used = i + 1;
                    break;
                }
            }
        }
        position += seen;
        reader.consume(used);
    }
    let mut page = Page::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(page);
        }
        let here = position;
        position += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        if page.rows.len() == q.count {
            page.next = Some(here);
            return Ok(page);
        }
        let row = match history::jsonl::parse_line(text, here) {
            Err(e) => Row { position: here, cells: Err(e) },
            Ok(op) => {
                let process = op.process.to_string();
                let key = op.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
                if q.process.as_ref().is_some_and(|p| *p != process)
                    || q.key.as_ref().is_some_and(|k| *k != key)
                {
                    continue;
                }
                let opt = |v: &Option<history::Value>| {
                    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
                };
                Row {
                    position: here,
                    cells: Ok([
                        process,
                        op.kind.to_string(),
                        op.f.clone(),
                        key,
                        op.value.to_string(),
                        op.node.clone().unwrap_or_default(),
                        opt(&op.error),
                        format!("{:.3}", op.time_ns as f64 / 1e9),
                    ]),
                }
            }
        };
        page.rows.push(row);
    }
}

/// The page as a standalone HTML document.
pub fn render(title: &str, q: &PageQuery, page: &Page) -> String {
    let mut s = String::with_capacity(256 + page.rows.len() * 160);
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t}: timeline</title><style>body{{font:13px system-ui,sans-serif;margin:1em}}table{{border-collapse:collapse}}td,th{{padding:1px 8px;border-bottom:1px solid #eee;text-align:left;font-family:ui-monospace,monospace}}tr.ok td:nth-child(3){{color:#2a7}}tr.fail td:nth-child(3){{color:#c33}}tr.info td:nth-child(3){{color:#d80}}tr.bad td{{color:#c33}}tr.nemesis{{background:#f4f0ff}}</style></head><body><h1>{t}: every operation</h1><p><a href="report.html">report</a> · <a href="./">files</a></p><form method="get" action="timeline">from <input name="from" value="{from}" size="8"> count <input name="count" value="{count}" size="5"> process <input name="process" value="{p}" size="8"> key <input name="key" value="{k}" size="8"> <button>show</button></form>"#,
        t = esc(title),
        from = q.from,
        count = q.count,
        p = esc(q.process.as_deref().unwrap_or("")),
        k = esc(q.key.as_deref().unwrap_or("")),
    );
    let nav = |s: &mut String| {
        s.push_str("<p>");
        if q.from > 0 {
            let _ = write!(
                s,
                r#"<a class="prev" href="{}">previous</a> · "#,
                q.link(q.from.saturating_sub(q.count as u64))
            );
        }
        match page.next {
            Some(next) => {
                let _ = write!(s, r#"<a class="next" href="{}">next</a>"#, q.link(next));
            }
            None => s.push_str("end of the history"),
        }
        s.push_str("</p>");
    };
    nav(&mut s);
    s.push_str("<table><tr><th>#</th><th>process</th><th>type</th><th>f</th><th>key</th><th>value</th><th>node</th><th>error</th><th>time (s)</th></tr>");
    for row in &page.rows {
        match &row.cells {
            Ok(c) => {
                let class =
                    if c[0] == "nemesis" { format!("{} nemesis", c[1]) } else { c[1].clone() };
                let _ = write!(
                    s,
                    r#"<tr class="{}" id="op{}"><td>{}</td>"#,
                    esc(&class),
                    row.position,
                    row.position
                );
                for cell in c {
                    let _ = write!(s, "<td>{}</td>", esc(cell));
                }
                s.push_str("</tr>");
            }
            Err(e) => {
                let _ = write!(
                    s,
                    r#"<tr class="bad" id="op{p}"><td>{p}</td><td colspan="8">line {line}: {e}</td></tr>"#,
                    p = row.position,
                    line = row.position + 1,
                    e = esc(e)
                );
            }
        }
    }
    s.push_str("</table>");
    if page.rows.is_empty() {
        s.push_str("<p>No entries here.</p>");
    }
    nav(&mut s);
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(n: u64) -> String {
        let mut s = String::new();
        for i in 0..n {
            let (p, t) = (i % 3, if i % 2 == 0 { "invoke" } else { "ok" });
            let _ = writeln!(
                s,
                r#"{{"index":{i},"time":{},"process":{p},"type":"{t}","f":"write","key":{},"value":{i}}}"#,
                i * 1_000_000,
                i % 4
            );
        }
        s
    }

    fn q(from: u64, count: usize) -> PageQuery {
        PageQuery { from, count, process: None, key: None }
    }

    #[test]
    fn pages_start_where_asked_and_link_on() {
        let h = history(25);
        let page = read_page(h.as_bytes(), &q(10, 7)).unwrap();
        let at: Vec<u64> = page.rows.iter().map(|r| r.position).collect();
        assert_eq!(at, (10..17).collect::<Vec<_>>());
        assert_eq!(page.next, Some(17));
        let last = read_page(h.as_bytes(), &q(20, 7)).unwrap();
        assert_eq!(last.rows.len(), 5);
        assert_eq!(last.next, None);
        assert!(read_page(h.as_bytes(), &q(99, 7)).unwrap().rows.is_empty());
        let cells = page.rows[0].cells.as_ref().unwrap();
        assert_eq!(cells[..5], ["1", "invoke", "write", "2", "10"].map(String::from));
        let html = render("t/r", &q(10, 7), &page);
        assert!(html.contains(r#"href="timeline?from=17&amp;count=7""#), "{html}");
        assert!(html.contains(r#"href="timeline?from=3&amp;count=7""#), "{html}");
    }

    #[test]
    fn filters_keep_only_matching_entries() {
        let h = history(40);
        let mut query = q(0, 5);
        query.key = Some("3".into());
        query.process = Some("0".into());
        let page = read_page(h.as_bytes(), &query).unwrap();
        // key 3 and process 0: i % 4 == 3 and i % 3 == 0, so i = 3, 15, 27, 39
        let at: Vec<u64> = page.rows.iter().map(|r| r.position).collect();
        assert_eq!(at, [3, 15, 27, 39]);
        assert_eq!(page.next, None);
        assert!(render("t", &query, &page).contains(r#"name="key" value="3""#));
    }

    #[test]
    fn a_bad_line_is_a_row_that_says_so() {
        let h = format!("{}{{not json\n{}", history(2), history(1));
        let page = read_page(h.as_bytes(), &q(0, 10)).unwrap();
        assert_eq!(page.rows.len(), 4);
        assert!(page.rows[2].cells.is_err());
        assert!(render("t", &q(0, 10), &page).contains("line 3: "));
    }

    #[test]
    fn bad_queries_name_the_parameter() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(PageQuery::parse(get(&[])).unwrap(), q(0, DEFAULT_COUNT));
        assert!(PageQuery::parse(get(&[("from", "-1")])).unwrap_err().starts_with("from="));
        assert!(PageQuery::parse(get(&[("count", "0")])).unwrap_err().starts_with("count=0"));
        assert!(PageQuery::parse(get(&[("count", "999999")])).unwrap_err().contains("5000"));
    }
}
