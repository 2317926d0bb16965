//! The properties the fuzz targets check (`history/fuzz`), shared with the tests that
//! replay the kept corpus and every crasher found (`tests/fuzz_regressions.rs`), so CI
//! checks the same thing on the same inputs. Each function panics when a property
//! fails; a reader error is fine, a panic inside a reader is the bug being hunted.
//!
//! - [`edn`]: the EDN reader never panics; what it reads survives EDN -> JSON Lines
//!   and EDN -> EDN unchanged, and lints and prints without panicking.
//! - [`jsonl`]: the JSON Lines reader never panics; its fast line parser agrees with
//!   serde_json + `op_from_json` on every line (same op, or both refuse); what it
//!   reads survives a write and a read.
//! - [`porcupine`]: the Porcupine log reader and format detection never panic.
//! - [`options`]: what the command line hands the history crate (`--format`, an EDN
//!   `--initial`) never panics, and a value read from EDN prints back to itself.

use crate::format::{self, Format};
use crate::history::History;
use crate::op::Op;
use crate::{edn as edn_reader, jsonl as jsonl_reader};

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn round_trip(ops: &[Op], through: Format) {
    // not `from_ops`, which numbers all-zero indices
    let h = History::with_lines(ops.to_vec(), (1..=ops.len()).collect());
    let written = format::to_string(&h, through).expect("writable");
    let back = format::read_str(&written, through)
        .unwrap_or_else(|e| panic!("{through} written by us does not read back: {e}\n{written}"));
    assert_eq!(back.history.ops, ops, "changed by a trip through {through}:\n{written}");
}

fn use_it(h: History) {
    for op in &h.ops {
        let _ = op.to_string();
    }
    let _ = h.lint().map(|l| l.by_key().len());
}

pub fn edn(data: &[u8]) {
    let text = text(data);
    if let Ok(read) = format::read_str(&text, Format::Edn) {
        round_trip(&read.history.ops, Format::Jsonl);
        round_trip(&read.history.ops, Format::Edn);
        use_it(read.history);
    }
}

pub fn jsonl(data: &[u8]) {
    let text = text(data);
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fast = jsonl_reader::fast_parse_line(line, i as u64);
        let used = jsonl_reader::parse_line(line, i as u64);
        let slow = serde_json::from_str::<serde_json::Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|j| jsonl_reader::op_from_json(&j, i as u64));
        // serde_json stops at 128 levels, we at MAX_JSON_DEPTH
        let slow_too_deep = matches!(&slow, Err(m) if m.contains("recursion limit"));
        match (&fast, &slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{line}"),
            (Err(_), Err(_)) => {}
            (Ok(_), Err(_)) if slow_too_deep => {}
            // the fast reader leaves ops with a repeated field to serde_json
            (Err(_), Ok(_)) if has_repeated_key(line) => {}
            _ => panic!("{line:?}: fast {fast:?}, serde_json {slow:?}"),
        }
        match (&used, &slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{line}"),
            (Err(_), Err(_)) => {}
            (Ok(_), Err(_)) if slow_too_deep => {}
            _ => panic!("{line:?}: reader {used:?}, serde_json {slow:?}"),
        }
    }
    if let Ok(read) = format::read_str(&text, Format::Jsonl) {
        round_trip(&read.history.ops, Format::Jsonl);
        use_it(read.history);
    }
}

pub fn porcupine(data: &[u8]) {
    let text = text(data);
    let _ = Format::detect(None, &text);
    if let Ok(read) = format::read_str(&text, Format::PorcupineLog) {
        round_trip(&read.history.ops, Format::Jsonl);
        use_it(read.history);
    }
}

pub fn options(data: &[u8]) {
    let text = text(data);
    let _ = text.parse::<Format>();
    let _ = Format::detect(Some(std::path::Path::new(&*text)), &text);
    if let Ok(v) = edn_reader::parse_value(&text) {
        let printed = v.to_string();
        let again = edn_reader::parse_value(&printed)
            .unwrap_or_else(|e| panic!("{printed:?} (printed from {text:?}) does not read: {e}"));
        assert_eq!(again, v, "{text:?} printed as {printed:?}");
        let json = v.to_json();
        assert_eq!(crate::Value::from_json(&json).as_ref(), Ok(&v), "{text:?}");
    }
}

/// Whether the line's top-level object names a key twice (read by serde, not by the
/// parser under test).
fn has_repeated_key(line: &str) -> bool {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut repeated = false;
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                repeated |= !seen.insert(k);
            }
            Ok(repeated)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    de.deserialize_map(Keys).unwrap_or(false)
}
