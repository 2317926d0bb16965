//! Every history in `testdata/histories` (Porcupine's etcd and kv logs) reads in its
//! detected format, and survives JSONL -> EDN -> JSONL and EDN -> JSONL -> EDN unchanged.

use std::path::{Path, PathBuf};

use history::{Format, History, format};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories")
}

/// (path, expected verdict) rows of expected.tsv.
fn table() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string(data_dir().join("expected.tsv")).expect("expected.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (data_dir().join(cols[0]), cols[1].to_string())
        })
        .collect()
}

fn reread(h: &History, f: Format) -> History {
    let text = format::to_string(h, f).expect("write");
    format::read_str(&text, f).expect("read back").history
}

#[test]
fn every_shared_history_reads_and_round_trips() {
    let rows = table();
    assert_eq!(rows.len(), 109, "expected.tsv lists 103 etcd + 6 kv files");
    let mut total_ops = 0;
    for (path, _) in &rows {
        let read = history::read_path(path, None).unwrap_or_else(|e| panic!("{e}"));
        let is_log = path.extension().is_some_and(|e| e == "log");
        let expected = if is_log { Format::PorcupineLog } else { Format::Edn };
        // etcd_095.log is empty: any format reads it as empty.
        if !read.history.is_empty() {
            assert_eq!(read.format, expected, "{}", path.display());
        }
        assert!(read.warnings.is_empty(), "{}: {:?}", path.display(), read.warnings);
        let h = read.history;
        total_ops += h.len();
        if let Err(e) = h.clone().lint() {
            panic!("{}: {e}", path.display());
        }

        // JSONL -> EDN -> JSONL
        let via_jsonl = reread(&h, Format::Jsonl);
        assert_eq!(via_jsonl.ops, h.ops, "{}: jsonl", path.display());
        let via_edn = reread(&via_jsonl, Format::Edn);
        assert_eq!(via_edn.ops, h.ops, "{}: jsonl->edn", path.display());
        let back = reread(&via_edn, Format::Jsonl);
        assert_eq!(
            format::to_string(&back, Format::Jsonl).unwrap(),
            format::to_string(&h, Format::Jsonl).unwrap(),
            "{}: jsonl text",
            path.display()
        );
        // EDN -> JSONL -> EDN, compared as text too
        let edn_text = format::to_string(&h, Format::Edn).unwrap();
        let again = reread(&reread(&h, Format::Jsonl), Format::Edn);
        assert_eq!(format::to_string(&again, Format::Edn).unwrap(), edn_text);
    }
    assert!(total_ops > 20_000, "read only {total_ops} ops");
}

#[test]
fn porcupine_log_fields_are_typed() {
    let read = history::read_path(&data_dir().join("porcupine/jepsen/etcd_100.log"), None).unwrap();
    let h = read.history;
    // "INFO  jepsen.util - 4   :invoke :cas    [1 2]" uses runs of spaces.
    let cas = h.ops.iter().find(|o| o.f == "cas").expect("a cas");
    assert!(matches!(&cas.value, history::Value::List(v) if v.len() == 2));
    assert!(h.ops.iter().any(|o| o.value == history::Value::kw("timed-out")));
}

#[test]
fn kv_lines_carry_keys() {
    let read = history::read_path(&data_dir().join("porcupine/kv/c01-ok.txt"), None).unwrap();
    let linted = read.history.lint().unwrap();
    let groups = linted.by_key();
    assert!(groups.len() >= 8, "c01-ok uses 10 keys, got {}", groups.len());
    assert!(groups.keys().all(|k| matches!(k, Some(history::Value::Str(_)))));
}
