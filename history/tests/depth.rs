//! Deeply nested input never overflows the stack: every reader stops at its depth
//! limit with an error that names the file and line, and values nested to any depth
//! are dropped without recursion.

use std::io::Write;

use history::value::{MAX_DEPTH, MAX_JSON_DEPTH};
use history::{Format, Value, format};

const DEEP: usize = 100_000;

fn edn_error(text: &str) -> String {
    let e = format::read_str(text, Format::Edn).expect_err("too deep");
    assert!(e.to_string().contains("nested deeper"), "{e}");
    e.to_string()
}

#[test]
fn deep_edn_vectors_maps_sets_tags_and_discards_are_refused() {
    let op = "{:process 0 :type :invoke :f :read :value nil}\n";
    for (open, close) in
        [("[", "]"), ("(", ")"), ("{:a ", "}"), ("#{", "}"), ("#t ", ""), ("#_ ", "")]
    {
        let text = format!("{op}{op}{}1{}", open.repeat(DEEP), close.repeat(DEEP));
        let e = edn_error(&text);
        // the third line is where the deep form starts
        assert!(e.starts_with("line 3:"), "{open}: {e}");
    }
    // nested inside an operation's value, on line 2
    let text = format!("{op}{{:process 0 :type :ok :f :read :value {}}}", "[".repeat(DEEP));
    assert!(edn_error(&text).starts_with("line 2:"));
}

#[test]
fn the_error_names_the_file() {
    let dir = std::env::temp_dir().join(format!("faultline-depth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deep.edn");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{{:process 0 :type :invoke :f :read :value nil}}").unwrap();
    write!(f, "{}", "[".repeat(DEEP)).unwrap();
    drop(f);
    let e = history::read_path(&path, None).expect_err("too deep");
    let text = e.to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.starts_with(&format!("{}:2: ", path.display())), "{text}");
    assert_eq!(e.line, Some(2));
}

#[test]
fn the_limit_itself_is_readable_and_survives_jsonl() {
    // MAX_DEPTH levels of the deepest JSON shape: maps with non-string keys
    let mut v = Value::Int(1);
    for _ in 0..MAX_DEPTH - 1 {
        v = Value::Map(vec![(Value::kw("k"), v)]);
    }
    let edn = format!("{{:process 0 :type :invoke :f :write :value {v}}}\n");
    let read = format::read_str(&edn, Format::Edn).expect("at the limit");
    assert_eq!(read.history.ops[0].value.depth(), MAX_DEPTH - 1);
    let jsonl = format::to_string(&read.history, Format::Jsonl).unwrap();
    let back = format::read_str(&jsonl, Format::Jsonl).expect("JSON form reads back");
    assert_eq!(back.history.ops[0].value, read.history.ops[0].value);
}

#[test]
fn deep_jsonl_is_refused_with_its_line() {
    let op = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n";
    for open in ["[", "{\"a\":", "{\"#set\":["] {
        let text = format!(
            "{op}{{\"type\":\"invoke\",\"process\":1,\"f\":\"w\",\"value\":{}1\n",
            open.repeat(DEEP)
        );
        let e = format::read_str(&text, Format::Jsonl).expect_err("too deep");
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        assert!(e.to_string().contains("nested deeper"), "{e}");
    }
}

#[test]
fn deep_porcupine_log_values_are_refused() {
    let text = format!("INFO  jepsen.util - 1\t:invoke\t:read\t{}\n", "[".repeat(DEEP));
    let e = format::read_str(&text, Format::PorcupineLog).expect_err("too deep");
    assert!(e.to_string().starts_with("line 1:") && e.to_string().contains("nested deeper"), "{e}");
}

#[test]
fn from_json_refuses_json_built_deeper_than_the_limit() {
    let mut j = serde_json::Value::Null;
    for _ in 0..MAX_JSON_DEPTH + 5 {
        j = serde_json::Value::Array(vec![j]);
    }
    let e = Value::from_json(&j).expect_err("too deep");
    assert!(e.contains("nested deeper"), "{e}");
    // serde_json's own drop of `j` is recursive, but only this deep: fine.
}

#[test]
fn values_of_any_depth_drop_without_recursion() {
    for shape in 0..4 {
        let mut v = Value::Nil;
        for _ in 0..1_000_000 {
            v = match shape {
                0 => Value::List(vec![v]),
                1 => Value::Set(vec![Value::Int(1), v]),
                2 => Value::Map(vec![(Value::Nil, v)]),
                _ => Value::Tagged("t".into(), Box::new(v)),
            };
        }
        assert_eq!(v.depth(), 1_000_000);
        drop(v);
    }
}
