//! The results of a bug-catalog run (`faultline test-all --profile nightly`): per
//! scenario (a bug switch with the faults that should expose it, or a control that
//! must stay valid), how many runs came out as expected, how long detection took
//! (the test time of the first operation a checker names), false alarms; one
//! table and one JUnit report with a test case per scenario.
//!
//! The rule (what makes a catalog green): a scenario that expects `invalid` (a bug,
//! a negative control) passes when at least `floor` of its runs were invalid; one
//! that expects `valid` (a bug-free control, a positive control) passes only when
//! every run was valid. A run whose harness crashed fails its scenario whatever it
//! expects.

use std::path::PathBuf;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::view::Verdict;

/// One run of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRun {
    /// `None`: the harness crashed or could not set up (no verdict).
    pub verdict: Option<Verdict>,
    pub seconds: f64,
    /// Test time (seconds since the run started) of the first operation a checker
    /// named, for an invalid run.
    pub detected_at_s: Option<f64>,
    pub seed: Option<u64>,
    pub run_dir: Option<PathBuf>,
    /// Why it crashed, or the checker's words.
    pub message: String,
}

/// A scenario and its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    pub name: String,
    /// `bug`, `control`, `positive-control`, `negative-control`.
    pub kind: String,
    /// What every run should come out as.
    pub expect: Verdict,
    /// For `expect: invalid`: the share of runs that must be invalid.
    pub floor: f64,
    pub runs: Vec<ScenarioRun>,
}

fn count(runs: &[ScenarioRun], v: Verdict) -> usize {
    runs.iter().filter(|r| r.verdict == Some(v)).count()
}

/// Nearest-rank median and the maximum.
fn median_and_worst(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let median = values[(values.len() - 1) / 2];
    Some((median, values[values.len() - 1]))
}

impl ScenarioResult {
    pub fn detected(&self) -> usize {
        count(&self.runs, Verdict::Invalid)
    }

    pub fn crashed(&self) -> usize {
        self.runs.iter().filter(|r| r.verdict.is_none()).count()
    }

    /// Invalid runs of a scenario that expects valid ones.
    pub fn false_alarms(&self) -> Option<usize> {
        (self.expect == Verdict::Valid).then(|| self.detected())
    }

    /// Median and worst time to detect, over the detected runs.
    pub fn time_to_detect(&self) -> Option<(f64, f64)> {
        median_and_worst(
            self.runs
                .iter()
                .filter(|r| r.verdict == Some(Verdict::Invalid))
                .filter_map(|r| r.detected_at_s)
                .collect(),
        )
    }

    /// Whether the scenario met its rule (module docs).
    pub fn passes(&self) -> bool {
        if self.runs.is_empty() || self.crashed() > 0 {
            return false;
        }
        match self.expect {
            Verdict::Invalid => {
                self.detected() as f64 + 1e-9 >= self.floor * self.runs.len() as f64
            }
            _ => count(&self.runs, Verdict::Valid) == self.runs.len(),
        }
    }

    /// Why it failed, in words (`None` when it passed).
    pub fn failure(&self) -> Option<String> {
        if self.passes() {
            return None;
        }
        let n = self.runs.len();
        if self.crashed() > 0 {
            let why = self.runs.iter().find(|r| r.verdict.is_none()).map_or("", |r| &r.message);
            return Some(format!("{} of {n} runs crashed: {why}", self.crashed()));
        }
        Some(match self.expect {
            Verdict::Invalid => format!(
                "detected in {} of {n} runs, below the floor of {:.0}%",
                self.detected(),
                self.floor * 100.0
            ),
            _ => format!(
                "{} of {n} runs were not valid ({} invalid: false alarms)",
                n - count(&self.runs, Verdict::Valid),
                self.detected()
            ),
        })
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.1} s")
}

/// The table: one row per scenario.
pub fn table(scenarios: &[ScenarioResult]) -> String {
    let mut b = Builder::default();
    b.push_record([
        "scenario",
        "kind",
        "expected",
        "detected / runs",
        "median detect",
        "worst detect",
        "false alarms",
        "unknown / crashed",
        "result",
    ]);
    for s in scenarios {
        let ttd = s.time_to_detect();
        b.push_record([
            s.name.clone(),
            s.kind.clone(),
            s.expect.name().to_string(),
            format!("{}/{}", s.detected(), s.runs.len()),
            ttd.map_or("–".into(), |(m, _)| seconds(m)),
            ttd.map_or("–".into(), |(_, w)| seconds(w)),
            s.false_alarms().map_or("–".into(), |f| f.to_string()),
            format!("{}/{}", count(&s.runs, Verdict::Unknown), s.crashed()),
            if s.passes() { "pass".into() } else { "FAIL".into() },
        ]);
    }
    b.build().with(Style::sharp()).to_string()
}

/// One test case per scenario, in one suite named `name`.
pub fn junit_report(name: &str, scenarios: &[ScenarioResult]) -> quick_junit::Report {
    let mut suite = TestSuite::new(name);
    for s in scenarios {
        let status = match s.failure() {
            None => TestCaseStatus::success(),
            Some(why) => {
                let kind =
                    if s.crashed() > 0 { NonSuccessKind::Error } else { NonSuccessKind::Failure };
                let mut status = TestCaseStatus::non_success(kind);
                status.set_message(why);
                status.set_type(if s.crashed() > 0 { "crash" } else { "expectation" });
                status
            }
        };
        let mut case = TestCase::new(s.name.clone(), status);
        case.set_classname(format!("faultline.catalog.{}", s.kind));
        case.set_time(std::time::Duration::from_secs_f64(
            s.runs.iter().map(|r| r.seconds).sum::<f64>().max(0.0),
        ));
        let runs: Vec<String> = s
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{} seed {} in {:.1} s{}: {}",
                    r.verdict.map_or("crashed", Verdict::name),
                    r.seed.map_or("?".into(), |s| s.to_string()),
                    r.seconds,
                    r.detected_at_s.map_or(String::new(), |t| format!(", detected at {t:.1} s")),
                    r.run_dir.as_ref().map_or(String::new(), |d| d.display().to_string())
                )
            })
            .collect();
        case.set_system_out(runs.join("\n"));
        suite.add_test_case(case);
    }
    crate::junit::report(name, vec![suite])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Option<Verdict>, at: Option<f64>) -> ScenarioRun {
        ScenarioRun {
            verdict: v,
            seconds: 30.0,
            detected_at_s: at,
            seed: Some(1),
            run_dir: None,
            message: "boom".into(),
        }
    }

    fn scenario(expect: Verdict, runs: Vec<ScenarioRun>) -> ScenarioResult {
        ScenarioResult { name: "s".into(), kind: "bug".into(), expect, floor: 0.8, runs }
    }

    #[test]
    fn floors_controls_and_crashes() {
        let inv = |t| run(Some(Verdict::Invalid), Some(t));
        let valid = || run(Some(Verdict::Valid), None);
        let bug =
            scenario(Verdict::Invalid, vec![inv(9.0), inv(3.0), inv(5.0), inv(20.0), valid()]);
        assert!(bug.passes(), "4 of 5 meets 80%");
        assert_eq!(bug.time_to_detect(), Some((5.0, 20.0)));
        assert_eq!(bug.false_alarms(), None);
        let weak = scenario(Verdict::Invalid, vec![inv(1.0), inv(1.0), inv(1.0), valid(), valid()]);
        assert!(!weak.passes());
        assert!(weak.failure().expect("fails").contains("3 of 5"));
        let control = scenario(Verdict::Valid, vec![valid(), valid(), inv(2.0)]);
        assert!(!control.passes());
        assert_eq!(control.false_alarms(), Some(1));
        let unknown = scenario(Verdict::Valid, vec![valid(), run(Some(Verdict::Unknown), None)]);
        assert!(!unknown.passes(), "an unknown run is not a valid one");
        let clean = scenario(Verdict::Valid, vec![valid(), valid()]);
        assert!(clean.passes());
        let crashed = scenario(Verdict::Invalid, vec![inv(1.0), run(None, None)]);
        assert!(!crashed.passes() && crashed.failure().expect("fails").contains("crashed"));
        assert!(!scenario(Verdict::Valid, vec![]).passes(), "no runs is never green");

        let all = [bug, weak, control, clean, crashed];
        let text = table(&all);
        assert!(text.contains("4/5") && text.contains("FAIL") && text.contains("5.0 s"), "{text}");
        let xml = junit_report("catalog", &all).to_string().expect("xml");
        assert_eq!(xml.matches("<testcase ").count(), 5);
        assert_eq!(xml.matches("<failure").count(), 2);
        assert_eq!(xml.matches("<error").count(), 1);
    }
}
