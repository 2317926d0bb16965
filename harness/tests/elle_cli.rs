//! `faultline elle` as a drop-in for elle-cli, run as a subprocess on elle-cli's own
//! example histories (testdata/histories/elle-cli, see its README): for every line
//! of `expected.tsv`, the verdict line (`path \t valid?`), the exit code elle-cli
//! gives (0 unless a file is false, 1 when one is) and, with `-v`, the anomaly
//! types; then the input forms (EDN bare, in a vector, in a list; JSON), the exit
//! codes of errors (255) and of `--help` (0), and `-d`'s explanation files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories/elle-cli")
}

fn elle(args: &[&str], files: &[&Path]) -> Output {
    Command::new(FAULTLINE).arg("elle").args(args).args(files).output().expect("faultline runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Case {
    file: String,
    model: String,
    options: Vec<String>,
    valid: String,
    anomalies: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data().join("expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 4, "expected.tsv: {l:?}");
            Case {
                file: cols[0].into(),
                model: cols[1].into(),
                options: cols[2].split_whitespace().map(String::from).collect(),
                valid: cols[3].into(),
                anomalies: cols
                    .get(4)
                    .map(|a| a.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[test]
fn every_elle_cli_example_gives_elle_clis_line_exit_code_and_anomalies() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for c in &cases {
        let path = data().join(&c.file);
        let mut args = vec!["-m", c.model.as_str()];
        args.extend(c.options.iter().map(String::as_str));
        let out = elle(&args, &[&path]);
        let what = format!("{} {args:?}", c.file);
        assert_eq!(stdout(&out), format!("{} \t {}\n", path.display(), c.valid), "{what}: {out:?}");
        let code = if c.valid == "false" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(code), "{what}: {out:?}");

        args.push("-v");
        let out = elle(&args, &[&path]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: -v is JSON: {e}: {}", stdout(&out)));
        let valid = match c.valid.as_str() {
            "true" => serde_json::json!(true),
            "false" => serde_json::json!(false),
            _ => serde_json::json!("unknown"),
        };
        assert_eq!(json["valid?"], valid, "{what}");
        let mut types: Vec<String> = json["anomaly-types"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
            .unwrap_or_default();
        types.sort();
        let mut want = c.anomalies.clone();
        want.sort();
        assert_eq!(types, want, "{what}");
        assert_eq!(out.status.code(), Some(code), "{what}");
    }
}

#[test]
fn several_files_one_line_each_and_the_exit_code_of_the_worst() {
    let good = data().join("list-append-valid-info-read.json");
    let bad = data().join("paper-example.edn");
    let empty = data().join("list-append-valid-read-empty.json");
    let out = elle(&["--model", "list-append"], &[&good, &empty]);
    assert_eq!(
        stdout(&out),
        format!("{} \t true\n{} \t unknown\n", good.display(), empty.display())
    );
    assert_eq!(out.status.code(), Some(0), "unknown is not false");
    let out = elle(&["--model", "list-append"], &[&good, &bad]);
    assert_eq!(stdout(&out), format!("{} \t true\n{} \t false\n", good.display(), bad.display()));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn edn_bare_in_a_vector_or_a_list_and_json_are_the_same_history() {
    let dir = tempfile::tempdir().unwrap();
    // Elle's G2-item (write skew) example, four forms.
    let ops = [
        r#"{:index 0 :type :invoke :process 0 :f :txn :value [[:append 1 1] [:r 2 nil]]}"#,
        r#"{:index 1 :type :ok :process 0 :f :txn :value [[:append 1 1] [:r 2 []]]}"#,
        r#"{:index 2 :type :invoke :process 1 :f :txn :value [[:append 2 1] [:r 1 nil]]}"#,
        r#"{:index 3 :type :ok :process 1 :f :txn :value [[:append 2 1] [:r 1 []]]}"#,
    ];
    let forms = [
        ("bare.edn", ops.join("\n")),
        ("vector.edn", format!("[{}]", ops.join("\n"))),
        ("list.edn", format!("({})", ops.join("\n"))),
        (
            "ops.json",
            r#"[{"index":0,"type":"invoke","process":0,"f":"txn","value":[["append",1,1],["r",2,null]]},
               {"index":1,"type":"ok","process":0,"f":"txn","value":[["append",1,1],["r",2,[]]]},
               {"index":2,"type":"invoke","process":1,"f":"txn","value":[["append",2,1],["r",1,null]]},
               {"index":3,"type":"ok","process":1,"f":"txn","value":[["append",2,1],["r",1,[]]]}]"#
                .to_string(),
        ),
    ];
    for (name, text) in &forms {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = elle(&["-m", "list-append", "-c", "serializable"], &[&p]);
        assert_eq!(stdout(&out), format!("{} \t false\n", p.display()), "{name}: {out:?}");
        assert_eq!(out.status.code(), Some(1), "{name}");
        // Snapshot isolation allows write skew.
        let out = elle(&["-m", "list-append", "-c", "snapshot-isolation"], &[&p]);
        assert_eq!(stdout(&out), format!("{} \t true\n", p.display()), "{name}: {out:?}");
        // -f overrides the extension.
        let other = dir.path().join(format!("{name}.txt"));
        std::fs::copy(&p, &other).unwrap();
        let f = if name.ends_with(".json") { "json" } else { "edn" };
        let out = elle(&["-m", "list-append", "-f", f], &[&other]);
        assert_eq!(out.status.code(), Some(1), "{name} with -f {f}: {out:?}");
    }
}

#[test]
fn errors_exit_255_help_exits_0() {
    let good = data().join("rw-register.json");
    let missing = data().join("no-such-file.json");
    let out = elle(&["-m", "rw-register"], &[&missing]);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.json"), "{out:?}");
    let out = elle(&["-m", "no-such-model"], &[&good]);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"), "{out:?}");
    let out = elle(&["-m", "list-append", "-c", "no-such-level"], &[&good]);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    // elle-cli's models that the registry does not have yet (issue 14 adds them):
    // said so, 255. Those it has are run like any checker.
    for model in ["bank", "counter", "set", "set-full", "long-fork"] {
        if checkers::registry::by_name(model).is_ok() {
            continue;
        }
        let out = elle(&["-m", model], &[&good]);
        assert_eq!(out.status.code(), Some(255), "{model}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not available"), "{out:?}");
    }
    let out = Command::new(FAULTLINE).args(["elle", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    for flag in ["--model", "--consistency-models", "--anomalies", "--cycle-search-timeout"] {
        assert!(stdout(&out).contains(flag), "--help names {flag}");
    }
}

#[test]
fn directory_gets_the_explanations_and_a_drawn_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let h = data().join("list-append-anomaly-g2-item.json");
    let out = elle(&["-m", "list-append", "-d", out_dir.to_str().unwrap()], &[&h]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let txt = std::fs::read_to_string(out_dir.join("G2-item.txt")).unwrap();
    assert!(txt.contains("T2 < T1") && txt.contains("a contradiction"), "{txt}");
    let svg = std::fs::read_dir(out_dir.join("G2-item")).unwrap().next().unwrap().unwrap().path();
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("rw"), "{svg}");
}
