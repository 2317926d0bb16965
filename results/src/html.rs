//! Small helpers for writing HTML and SVG by hand: escaping and number formatting.
//! The report is plain strings on purpose: no template engine, nothing fetched.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a URL path segment or query value (RFC 3986 unreserved
/// characters stay as they are).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A pixel coordinate with one decimal: enough for a screen, short in the file.
pub fn px(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// A time for people: `12.345 s`, or `position 1234` for untimed histories.
pub fn time_label(t: f64, timed: bool) -> String {
    if timed { format!("{t:.3} s") } else { format!("position {}", t as i64) }
}

/// A latency for people: `1.2 ms`, `3.40 s`, or positions when untimed.
pub fn latency_label(seconds: f64, timed: bool) -> String {
    if !timed {
        return format!("{} positions", seconds as i64);
    }
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

/// Appends `<tr><th>key</th><td>value</td></tr>` with the value escaped.
pub fn row(out: &mut String, key: &str, value: &str) {
    let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(key), esc(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(px(1.25), "1.3");
        assert_eq!(px(2.0), "2");
        assert_eq!(latency_label(0.0123, true), "12.3 ms");
    }
}
