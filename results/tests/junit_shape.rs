//! `junit.xml` parses back with an XML parser into the shape CI systems read:
//! `testsuites` > `testsuite` (with counts) > `testcase`, where an invalid check has
//! a `failure` child, an unknown one an `error` child, a valid one neither, each
//! non-success carrying the explanation as its message.

mod common;

use quick_xml::Reader;
use quick_xml::events::Event;
use results::{CheckView, Verdict};

/// (element path, attributes) of every start / empty element, in document order.
fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.push(name);
                out.push((stack.join("/"), attrs(&e)));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                out.push((
                    format!("{}/{name}", stack.join("/")).trim_start_matches('/').to_string(),
                    attrs(&e),
                ));
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    out
}

fn attrs(e: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .map(|a| {
            let a = a.expect("attribute");
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                a.unescape_value().expect("attribute value").into_owned(),
            )
        })
        .collect()
}

fn attr<'a>(a: &'a [(String, String)], k: &str) -> Option<&'a str> {
    a.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn one_case_per_checker_with_failure_and_error_children() {
    let checks = vec![
        CheckView::new(
            "linearizable register",
            Verdict::Invalid,
            "The read of 2 <by process 11> cannot be linearized.\nMore words.",
            Default::default(),
        ),
        CheckView::new("set", Verdict::Unknown, "time limit of 5 s reached", Default::default()),
        CheckView::new("stats", Verdict::Valid, String::new(), Default::default()),
    ];
    let xml = results::junit::run_xml("etcd-register/20261126T160000.000Z", &checks).expect("xml");
    let els = elements(&xml);
    let paths: Vec<&str> = els.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths[0], "testsuites");
    assert_eq!(paths[1], "testsuites/testsuite");
    let suite = &els[1].1;
    assert_eq!(attr(suite, "tests"), Some("3"));
    assert_eq!(attr(suite, "failures"), Some("1"));
    assert_eq!(attr(suite, "errors"), Some("1"));
    let cases: Vec<&(String, Vec<(String, String)>)> =
        els.iter().filter(|(p, _)| p == "testsuites/testsuite/testcase").collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(attr(&cases[0].1, "name"), Some("linearizable register"));
    let failures: Vec<_> = els.iter().filter(|(p, _)| p.ends_with("testcase/failure")).collect();
    let errors: Vec<_> = els.iter().filter(|(p, _)| p.ends_with("testcase/error")).collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        attr(&failures[0].1, "message"),
        Some("The read of 2 <by process 11> cannot be linearized."),
        "the message is the explanation's first line, unescaped back"
    );
    assert_eq!(attr(&errors[0].1, "message"), Some("time limit of 5 s reached"));
    assert!(xml.contains("More words."), "the full explanation is the failure's text");
}

#[test]
fn stored_invalid_run_writes_a_failing_junit_and_unchecked_run_errors() {
    let store = tempfile::tempdir().expect("store");
    let dir = common::invalid_run(store.path(), "20261126T160000.000Z");
    let (_, _, junit) = results::regenerate(&dir).expect("regenerate");
    let xml = std::fs::read_to_string(junit).expect("junit.xml");
    let els = elements(&xml);
    assert!(els.iter().any(|(p, a)| p == "testsuites/testsuite/testcase"
        && attr(a, "name") == Some("linearizable cas-register")));
    assert_eq!(els.iter().filter(|(p, _)| p.ends_with("testcase/failure")).count(), 1);

    // A run without results.json is not green: one errored case.
    std::fs::remove_file(dir.join("results.json")).expect("rm");
    let (loaded, _, junit) = results::regenerate(&dir).expect("regenerate");
    assert!(loaded.notes.iter().any(|n| n.contains("results.json")));
    let els = elements(&std::fs::read_to_string(junit).expect("junit.xml"));
    assert_eq!(els.iter().filter(|(p, _)| p.ends_with("testcase/error")).count(), 1);
}
