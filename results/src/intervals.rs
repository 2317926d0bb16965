//! From a history to what the pictures draw: client operations as time intervals
//! (invocation to completion, with their outcome) and fault windows (from a nemesis
//! fault to the operation that healed it, or to the end of the run).
//!
//! The pairing here is deliberately more forgiving than the linter: a report is
//! also wanted for histories that break Jepsen's rules (a harness killed mid-write,
//! an older recorder), so stray completions are counted and skipped, never fatal.

use std::collections::HashMap;

use history::{History, OpKind, Process};

/// How a client operation ended, as the pictures colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Fail,
    /// `info`, or never completed: it may or may not have happened.
    Info,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }

    /// Fail and info are what a reader looks for: decimation keeps every one.
    pub fn is_anomaly(self) -> bool {
        self != Outcome::Ok
    }
}

/// One client operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOp {
    pub process: u64,
    /// Position of the invocation in `history.ops`.
    pub invoke: usize,
    pub completion: Option<usize>,
    pub start: f64,
    /// Completion time; the end of the run for operations that never completed.
    pub end: f64,
    pub outcome: Outcome,
    pub node: Option<String>,
}

/// A span of time in which a fault was in force.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    /// The nemesis `f` that started it (`start-partition`, `kill`, `pause`...).
    pub f: String,
    /// A short rendering of the fault's value (which nodes, which links).
    pub detail: String,
    /// Position of the nemesis op that started it.
    pub position: usize,
    pub start: f64,
    pub end: f64,
    /// False when the run ended before anything healed it.
    pub healed: bool,
}

impl FaultWindow {
    pub fn contains(&self, t: f64) -> bool {
        t >= self.start && t < self.end
    }
}

/// Everything the timeline, plots and availability table need, in one pass.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    pub ops: Vec<ClientOp>,
    pub faults: Vec<FaultWindow>,
    /// First and last time in the history (in `unit`s).
    pub t0: f64,
    pub t1: f64,
    /// True when the history records real times; Porcupine's logs only record the
    /// order, and then every "time" is a position in the history.
    pub timed: bool,
    /// Completions with no open invocation, skipped.
    pub stray_completions: usize,
}

impl Intervals {
    /// The axis label for times.
    pub fn unit(&self) -> &'static str {
        if self.timed { "s" } else { "position" }
    }

    pub fn span(&self) -> f64 {
        (self.t1 - self.t0).max(1e-9)
    }

    /// Time of op `position`, in the unit of the axes.
    fn time_of(history: &History, position: usize, timed: bool) -> f64 {
        let op = &history.ops[position];
        if timed { op.time_ns as f64 / 1e9 } else { position as f64 }
    }

    pub fn from_history(history: &History) -> Intervals {
        let timed = history.ops.iter().enumerate().any(|(i, o)| {
            o.time_ns != o.index && o.time_ns != i as u64 // not a line-order "time"
        });
        let n = history.ops.len();
        let t = |i: usize| Intervals::time_of(history, i, timed);
        let (t0, t1) = if n == 0 {
            (0.0, 1.0)
        } else {
            let times = (0..n).map(t);
            let lo = times.clone().fold(f64::INFINITY, f64::min);
            let hi = times.fold(f64::NEG_INFINITY, f64::max);
            (lo, if hi > lo { hi } else { lo + 1.0 })
        };
        let mut out = Intervals { t0, t1, timed, ..Intervals::default() };
        let mut open: HashMap<u64, usize> = HashMap::new(); // process -> index in out.ops
        let mut nemesis = NemesisPairing::default();
        for (i, op) in history.ops.iter().enumerate() {
            match op.process {
                Process::Nemesis => nemesis.step(history, i, t(i), &mut out.faults),
                Process::Client(p) => match op.kind {
                    OpKind::Invoke => {
                        if let Some(prev) = open.insert(p, out.ops.len()) {
                            // A second invoke: the first never completed.
                            out.ops[prev].end = t(i);
                        }
                        out.ops.push(ClientOp {
                            process: p,
                            invoke: i,
                            completion: None,
                            start: t(i),
                            end: t1,
                            outcome: Outcome::Info,
                            node: op.node.clone(),
                        });
                    }
                    kind => match open.remove(&p) {
                        Some(k) => {
                            let c = &mut out.ops[k];
                            c.completion = Some(i);
                            c.end = t(i).max(c.start);
                            c.outcome = match kind {
                                OpKind::Ok => Outcome::Ok,
                                OpKind::Fail => Outcome::Fail,
                                _ => Outcome::Info,
                            };
                            if c.node.is_none() {
                                c.node = op.node.clone();
                            }
                        }
                        None => out.stray_completions += 1,
                    },
                },
            }
        }
        nemesis.finish(t1, &mut out.faults);
        out
    }

    /// Fault windows in force at time `t`.
    pub fn faults_at(&self, t: f64) -> impl Iterator<Item = &FaultWindow> {
        self.faults.iter().filter(move |w| w.contains(t))
    }
}

/// Turns the nemesis' operations into windows. Jepsen's nemesis logs `info` for
/// both halves of a fault (and faultline's logs invoke + info), so an op opens a
/// step when nothing of the nemesis is open and the next op with the same `f`
/// closes it.
#[derive(Default)]
struct NemesisPairing {
    open_step: Option<String>,
    /// Faults in force: index into the output windows.
    active: Vec<usize>,
}

impl NemesisPairing {
    fn step(&mut self, history: &History, i: usize, t: f64, out: &mut Vec<FaultWindow>) {
        let op = &history.ops[i];
        let closes = op.kind != OpKind::Invoke && self.open_step.as_deref() == Some(op.f.as_str());
        if closes {
            self.open_step = None;
            return;
        }
        self.open_step = Some(op.f.clone());
        if !is_heal(&op.f) {
            self.active.push(out.len());
            out.push(FaultWindow {
                f: op.f.clone(),
                detail: short(&op.value.to_string(), 80),
                position: i,
                start: t,
                end: t,
                healed: false,
            });
            return;
        }
        self.active.retain(|&w| {
            let window = &mut out[w];
            if heals(&op.f, &window.f) {
                window.end = t;
                window.healed = true;
                false
            } else {
                true
            }
        });
    }

    fn finish(self, t1: f64, out: &mut [FaultWindow]) {
        for w in self.active {
            out[w].end = t1;
        }
    }
}

/// True when `f` undoes faults rather than causing one. Jepsen's names
/// (`stop-partition`, `start` after `kill`, `resume` after `pause`) and faultline's
/// (`heal-all`); faultline's bare `stop` is a fault (SIGTERM), not a heal.
fn is_heal(f: &str) -> bool {
    matches!(
        f,
        "heal-all"
            | "heal"
            | "stop-all"
            | "reset"
            | "resume"
            | "cont"
            | "restart"
            | "start"
            | "recover"
            | "reset-clock"
            | "clock-reset"
    ) || f.starts_with("stop-")
}

/// Whether the heal `heal` ends the fault `fault`.
fn heals(heal: &str, fault: &str) -> bool {
    match heal {
        "heal-all" | "heal" | "stop-all" | "reset" => true,
        "resume" | "cont" => fault == "pause",
        "restart" | "start" | "recover" => matches!(fault, "kill" | "stop"),
        "reset-clock" | "clock-reset" => matches!(fault, "clock-skew" | "bump-clock"),
        _ => heal
            .strip_prefix("stop-")
            .is_some_and(|rest| fault.strip_prefix("start-") == Some(rest)),
    }
}

/// `text` cut to `max` characters with an ellipsis.
pub fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{Op, Value};

    fn nem(kind: OpKind, f: &str) -> Op {
        Op::new(Process::Nemesis, kind, f, Value::Nil)
    }

    #[test]
    fn pairs_clients_and_fault_windows() {
        let h = History::from_ops(vec![
            Op::invoke(0, "read", Value::Nil),
            nem(OpKind::Invoke, "start-partition"),
            nem(OpKind::Info, "start-partition"),
            Op::ok(0, "read", Value::Int(1)),
            Op::invoke(1, "write", Value::Int(2)),
            nem(OpKind::Info, "stop-partition"),
            nem(OpKind::Info, "stop-partition"),
            Op::info(1, "write", Value::Int(2)),
            nem(OpKind::Invoke, "kill"),
            nem(OpKind::Info, "kill"),
            Op::invoke(2, "read", Value::Nil),
        ]);
        let iv = Intervals::from_history(&h);
        assert!(!iv.timed);
        assert_eq!(iv.ops.len(), 3);
        assert_eq!(iv.ops[0].outcome, Outcome::Ok);
        assert_eq!((iv.ops[0].start, iv.ops[0].end), (0.0, 3.0));
        assert_eq!(iv.ops[1].outcome, Outcome::Info);
        assert_eq!(iv.ops[2].outcome, Outcome::Info, "never completed counts as info");
        assert_eq!(iv.faults.len(), 2);
        assert_eq!((iv.faults[0].start, iv.faults[0].end, iv.faults[0].healed), (1.0, 5.0, true));
        assert_eq!(iv.faults[1].f, "kill");
        assert!(!iv.faults[1].healed);
        assert_eq!(iv.faults[1].end, iv.t1);
    }

    #[test]
    fn heal_all_ends_every_fault_but_bare_stop_is_a_fault() {
        let h = History::from_ops(vec![
            nem(OpKind::Invoke, "pause"),
            nem(OpKind::Info, "pause"),
            nem(OpKind::Invoke, "stop"),
            nem(OpKind::Info, "stop"),
            nem(OpKind::Invoke, "heal-all"),
            nem(OpKind::Info, "heal-all"),
            Op::invoke(0, "read", Value::Nil),
        ]);
        let iv = Intervals::from_history(&h);
        assert_eq!(iv.faults.len(), 2);
        assert!(iv.faults.iter().all(|w| w.healed && w.end == 4.0));
    }
}
