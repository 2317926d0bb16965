//! The results of a test matrix (`faultline test-all`: systems × workloads ×
//! nemeses × repetitions): one summary table (tabled) and one JUnit report with a
//! test suite per cell. A cell whose harness crashed or could not set up is an
//! errored suite, never a pass, and makes the whole matrix a crash.

use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::junit;
use crate::view::{CheckView, Verdict};

/// How one cell ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutcome {
    /// The run finished and was checked.
    Checked { run_dir: Option<PathBuf>, checks: Vec<CheckView> },
    /// The harness crashed or could not set up (exit 255), or the cell's options
    /// were unusable (254): no verdict.
    Crashed { run_dir: Option<PathBuf>, message: String },
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub system: String,
    pub workload: String,
    pub nemesis: String,
    /// 1-based repetition number.
    pub repetition: usize,
    pub seconds: f64,
    pub outcome: CellOutcome,
}

impl Cell {
    /// `etcd/register/partition#2`.
    pub fn name(&self) -> String {
        format!("{}/{}/{}#{}", self.system, self.workload, self.nemesis, self.repetition)
    }

    /// `None` for a crashed cell.
    pub fn verdict(&self) -> Option<Verdict> {
        match &self.outcome {
            CellOutcome::Checked { checks, .. } => Some(crate::view::verdict_of(checks)),
            CellOutcome::Crashed { .. } => None,
        }
    }
}

/// What the whole matrix comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixVerdict {
    /// At least one cell crashed: the matrix is a crash, whatever else happened.
    Crashed,
    Checked(Verdict),
}

pub fn overall(cells: &[Cell]) -> MatrixVerdict {
    if cells.iter().any(|c| c.verdict().is_none()) {
        return MatrixVerdict::Crashed;
    }
    MatrixVerdict::Checked(
        cells.iter().filter_map(Cell::verdict).reduce(Verdict::merge).unwrap_or(Verdict::Unknown),
    )
}

/// The summary table, one row per cell.
pub fn table(cells: &[Cell]) -> String {
    let mut b = Builder::default();
    b.push_record(["system", "workload", "nemesis", "#", "verdict", "time", "run / why"]);
    for c in cells {
        let (verdict, detail) = match &c.outcome {
            CellOutcome::Checked { run_dir, checks } => (
                crate::view::verdict_of(checks).name().to_string(),
                run_dir.as_ref().map_or_else(String::new, |d| d.display().to_string()),
            ),
            CellOutcome::Crashed { message, .. } => {
                ("CRASHED".to_string(), message.lines().next().unwrap_or("").to_string())
            }
        };
        b.push_record([
            c.system.clone(),
            c.workload.clone(),
            c.nemesis.clone(),
            c.repetition.to_string(),
            verdict,
            format!("{:.1} s", c.seconds),
            detail,
        ]);
    }
    b.build().with(Style::sharp()).to_string()
}

/// One suite per cell; a crashed cell is a suite with one errored `harness` case.
pub fn junit_report(name: &str, cells: &[Cell]) -> Report {
    let suites = cells
        .iter()
        .map(|c| match &c.outcome {
            CellOutcome::Checked { checks, .. } => junit::suite(&c.name(), checks),
            CellOutcome::Crashed { message, .. } => {
                let mut s = TestSuite::new(c.name());
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(message.lines().next().unwrap_or("the harness crashed"));
                status.set_type("crash");
                status.set_description(message.clone());
                let mut case = TestCase::new("harness", status);
                case.set_classname("faultline");
                s.add_test_case(case);
                s
            }
        })
        .collect();
    junit::report(name, suites)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(nemesis: &str, outcome: CellOutcome) -> Cell {
        Cell {
            system: "etcd".into(),
            workload: "register".into(),
            nemesis: nemesis.into(),
            repetition: 1,
            seconds: 1.5,
            outcome,
        }
    }

    fn checked(v: Verdict) -> CellOutcome {
        CellOutcome::Checked {
            run_dir: Some("store/x/1".into()),
            checks: vec![CheckView::new("lin", v, "why", Default::default())],
        }
    }

    #[test]
    fn a_crash_anywhere_makes_the_matrix_a_crash() {
        let ok = cell("none", checked(Verdict::Valid));
        let bad = cell("kill", checked(Verdict::Invalid));
        assert_eq!(overall(std::slice::from_ref(&ok)), MatrixVerdict::Checked(Verdict::Valid));
        assert_eq!(overall(&[ok.clone(), bad.clone()]), MatrixVerdict::Checked(Verdict::Invalid));
        let crash = cell(
            "pause",
            CellOutcome::Crashed { run_dir: None, message: "etcd did not start".into() },
        );
        assert_eq!(overall(&[ok.clone(), bad.clone(), crash.clone()]), MatrixVerdict::Crashed);
        assert_eq!(overall(&[]), MatrixVerdict::Checked(Verdict::Unknown));

        let text = table(&[ok.clone(), bad.clone(), crash.clone()]);
        assert!(text.contains("CRASHED") && text.contains("etcd did not start"));
        assert!(text.contains("invalid"));
        let xml = junit_report("matrix", &[ok, bad, crash]).to_string().expect("xml");
        assert_eq!(xml.matches("<testsuite ").count(), 3);
        assert_eq!(xml.matches("<failure").count(), 1);
        assert_eq!(xml.matches("<error").count(), 1);
        assert!(xml.contains("etcd/register/pause#1"));
    }
}
