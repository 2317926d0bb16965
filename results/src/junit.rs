//! JUnit XML (quick-junit), the format CI systems read: one test suite per run,
//! one test case per checker. Invalid is a `<failure>`, unknown an `<error>` (a
//! check that could not decide is not a pass), each with the explanation as its
//! message and full text.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::view::{CheckView, Verdict};

/// One run's test suite. A run without any check gets one errored case, so that
/// an unchecked run never shows green.
pub fn suite(name: &str, checks: &[CheckView]) -> TestSuite {
    let mut suite = TestSuite::new(name);
    if checks.is_empty() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message("no checker results were recorded for this run");
        status.set_type("unknown");
        suite.add_test_case(TestCase::new("checks", status));
    }
    for c in checks {
        suite.add_test_case(case(c));
    }
    suite
}

/// One checker's case.
pub fn case(c: &CheckView) -> TestCase {
    let status = match c.verdict {
        Verdict::Valid => TestCaseStatus::success(),
        Verdict::Invalid | Verdict::Unknown => {
            let kind = if c.verdict == Verdict::Invalid {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut status = TestCaseStatus::non_success(kind);
            let first_line = c.explanation.lines().next().unwrap_or("").to_string();
            status.set_message(if first_line.is_empty() {
                c.verdict.name().to_string()
            } else {
                first_line
            });
            status.set_type(c.verdict.name());
            status.set_description(c.explanation.clone());
            status
        }
    };
    let mut case = TestCase::new(c.name.clone(), status);
    case.set_classname("faultline");
    case
}

/// A whole report from several suites (one for a run, many for a matrix).
pub fn report(name: &str, suites: Vec<TestSuite>) -> Report {
    let mut r = Report::new(name);
    r.add_test_suites(suites);
    r
}

/// The XML text of a single run's `junit.xml`.
pub fn run_xml(name: &str, checks: &[CheckView]) -> Result<String, quick_junit::SerializeError> {
    report(name, vec![suite(name, checks)]).to_string()
}
