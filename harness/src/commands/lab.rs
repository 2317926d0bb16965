//! `faultline lab ...`: a lab a developer brings up by hand, pokes, breaks and
//! removes. It outlives the command (its marker lives under /run/faultline/), so
//! each subcommand re-attaches to it by prefix.
//!
//! Until the `System` trait exists, `lab up` starts no system; `lab spawn NODE --
//! CMD...` starts any program inside a node, and `lab kill|pause|resume|start NODE`
//! act on what was spawned there. `lab fault NAME` plays one fault of any
//! registered family (`nemesis::families`) the way a test run would.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use nemesis::cleanup::sweep_stale;
use nemesis::clock::ClockSupport;
use nemesis::control::Controls;
use nemesis::families::Registry;
use nemesis::families::partition::default_shapes;
use nemesis::inject::{FaultReport, Nemesis, Outcome};
use nemesis::schedule::ScheduleConfig;
use nemesis::state::{LabState, Owner, list_labs};
use nemesis::{Grudge, Lab, LabConfig, NemesisError, PartitionShape, PartitionSpec, ProcessSpec};

use crate::exit::{CmdResult, Exit, Failure};

/// Maps the nemesis's errors onto exit codes: unusable arguments are 254, a
/// machine that cannot host a lab (or broke while doing so) is 255.
fn fail(e: NemesisError) -> Failure {
    match e {
        NemesisError::UnknownNode(_) | NemesisError::Invalid(_) | NemesisError::Unsupported(_) => {
            Failure::bad_input(e)
        }
        _ => Failure::crash(e),
    }
}

/// Picks the lab to act on: the one named, or the only hand-made lab there is.
fn select(prefix: Option<&str>) -> Result<Lab, Failure> {
    if let Some(p) = prefix {
        return Lab::attach(p).map_err(fail);
    }
    let (labs, _) = list_labs();
    let mine: Vec<&LabState> =
        labs.iter().filter(|l| matches!(l.owner, Owner::User { .. })).collect();
    match mine.as_slice() {
        [one] => Lab::attach(&one.prefix).map_err(fail),
        [] => Err(Failure::bad_input("no lab is up: start one with `faultline lab up --nodes 3`")),
        many => {
            let names: Vec<&str> = many.iter().map(|l| l.prefix.as_str()).collect();
            Err(Failure::bad_input(format!(
                "several labs are up ({}): pick one with --lab",
                names.join(", ")
            )))
        }
    }
}

fn describe(lab: &Lab) -> String {
    let state = lab.state();
    let mut out = String::new();
    let _ = writeln!(out, "lab {} ({} nodes)", state.prefix, state.nodes.len());
    for n in &state.nodes {
        let _ = writeln!(out, "  {:<4} {:<12} ip netns exec {} <command>", n.name, n.addr, n.ns);
    }
    let _ = writeln!(
        out,
        "  clients: ip netns exec {} <command>   (bridge {}; e.g. `ip netns exec {} ping -c1 {}`)",
        state.switch_ns,
        state.switch_addr,
        state.switch_ns,
        state.nodes.first().map(|n| n.addr.to_string()).unwrap_or_default()
    );
    if !state.processes.is_empty() {
        let _ = writeln!(out, "  processes:");
        for p in &state.processes {
            let h = nemesis::ProcHandle { id: p.id, node: p.node };
            let status = match lab.pid(h) {
                Some(pid) if lab.is_paused(h) => format!("paused (pid {pid})"),
                Some(pid) => format!("running (pid {pid})"),
                None => "not running".into(),
            };
            let ns = &state.nodes[p.node].ns;
            let _ = writeln!(
                out,
                "    #{} n{}: {status}: {}",
                p.id,
                p.node + 1,
                p.spec.command_line(ns)
            );
        }
    }
    let _ = writeln!(out, "  remove with: faultline lab down --lab {}", state.prefix);
    out
}

/// `lab up`.
pub fn up(nodes: usize, system: &str) -> CmdResult {
    if system != "none" {
        return Err(Failure::bad_input(format!(
            "--system {system}: no system can be started in a lab yet (only `none`)"
        )));
    }
    let lab = Lab::create(LabConfig { nodes, persistent: true }).map_err(fail)?;
    print!("{}", describe(&lab));
    Ok(Exit::Valid)
}

/// `lab status`: every lab on the machine, or one in detail.
pub fn status(prefix: Option<&str>) -> CmdResult {
    if let Some(p) = prefix {
        let lab = Lab::attach(p).map_err(fail)?;
        print!("{}", describe(&lab));
        let partition = lab.current_partition_from_rules().map_err(fail)?;
        println!("  blocked links: {}", show_links(&partition));
        return Ok(Exit::Valid);
    }
    let (labs, errors) = list_labs();
    if labs.is_empty() {
        println!("no labs");
    }
    for l in &labs {
        let owner = match &l.owner {
            Owner::User { .. } => "by hand".to_string(),
            Owner::Process { pid, .. } if l.owner.is_dead() => format!("STALE (pid {pid} is gone)"),
            Owner::Process { pid, .. } => format!("run, pid {pid}"),
        };
        println!("{}  {} nodes  {owner}", l.prefix, l.nodes.len());
    }
    for e in errors {
        eprintln!("warning: {e}");
    }
    Ok(Exit::Valid)
}

fn show_links(g: &Grudge) -> String {
    if g.is_empty() {
        return "none".into();
    }
    g.blocked.iter().map(|(s, d)| format!("n{}>n{}", s + 1, d + 1)).collect::<Vec<_>>().join(" ")
}

/// Parses `n1>n2,n3>n4` (directed) or `n1-n2` (both ways) links.
pub fn parse_links(text: &str, nodes: usize) -> Result<BTreeSet<(usize, usize)>, Failure> {
    let mut links = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b, both) = if let Some((a, b)) = part.split_once('>') {
            (a, b, false)
        } else if let Some((a, b)) = part.split_once('-') {
            (a, b, true)
        } else {
            return Err(Failure::bad_input(format!(
                "link {part:?}: write SRC>DST (one way) or A-B (both ways), e.g. n1>n2"
            )));
        };
        let a = nemesis::lab::parse_node(a.trim(), nodes).map_err(fail)?;
        let b = nemesis::lab::parse_node(b.trim(), nodes).map_err(fail)?;
        links.insert((a, b));
        if both {
            links.insert((b, a));
        }
    }
    Ok(links)
}

/// Options of `lab partition`.
pub struct PartitionArgs<'a> {
    pub shape: &'a str,
    pub one_way: bool,
    pub seed: u64,
    pub node: Option<&'a str>,
    pub nodes: Option<&'a str>,
    pub links: Option<&'a str>,
}

/// `lab partition SHAPE`: applies, then verifies with probes.
pub fn partition(prefix: Option<&str>, args: PartitionArgs<'_>) -> CmdResult {
    let lab = select(prefix)?;
    let n = lab.node_count();
    let parse_list = |text: &str| -> Result<Vec<usize>, Failure> {
        text.split(',').map(|t| nemesis::lab::parse_node(t.trim(), n).map_err(fail)).collect()
    };
    let mut primaries = Vec::new();
    // The shape vocabulary (names and aliases) is the partition module's; only
    // the parameters each shape takes from the command line are read here.
    let mut shape = PartitionShape::by_name(args.shape).map_err(Failure::bad_input)?;
    match &mut shape {
        PartitionShape::IsolateOne { node } => {
            *node = args.node.map(|t| nemesis::lab::parse_node(t, n).map_err(fail)).transpose()?;
        }
        PartitionShape::MajorityMinority { minority } => {
            *minority = args.nodes.map(parse_list).transpose()?;
        }
        PartitionShape::Primaries | PartitionShape::LeaderMinority => {
            primaries = parse_list(args.nodes.ok_or_else(|| {
                Failure::bad_input(format!(
                    "{}: say which nodes lead with --nodes n1[,n2]",
                    args.shape
                ))
            })?)?;
        }
        PartitionShape::Explicit { grudge } => {
            let links =
                args.links.ok_or_else(|| Failure::bad_input("grudge: give --links n1>n2,..."))?;
            grudge.blocked = parse_links(links, n)?;
        }
        PartitionShape::RandomHalves | PartitionShape::MajoritiesRing | PartitionShape::Bridge => {}
    }
    let spec = PartitionSpec { shape, one_way: args.one_way };
    let grudge = spec.grudge_seeded(n, args.seed, &primaries).map_err(fail)?;
    lab.set_partition(&grudge).map_err(fail)?;
    println!("{} (seed {}): blocked {}", spec.name(), args.seed, show_links(&grudge));
    verify(&lab)
}

fn verify(lab: &Lab) -> CmdResult {
    let v = lab.verify_partition().map_err(fail)?;
    if v.ok() {
        println!("verified: every cut link dropped the probes, every open link carried them");
        Ok(Exit::Valid)
    } else {
        let show =
            |l: &[(usize, usize)]| show_links(&Grudge { blocked: l.iter().copied().collect() });
        Err(Failure::crash(format!(
            "verification failed: open but should be cut: {}; cut but should be open: {}",
            show(&v.leaked),
            show(&v.broken)
        )))
    }
}

/// `lab loss PERCENT --links ...`.
pub fn loss(prefix: Option<&str>, percent: u8, links: &str) -> CmdResult {
    let lab = select(prefix)?;
    let links = parse_links(links, lab.node_count())?;
    let loss: BTreeMap<(usize, usize), u8> = links.into_iter().map(|l| (l, percent)).collect();
    lab.set_loss(&loss).map_err(fail)?;
    println!(
        "dropping {percent} % of packets on {}",
        show_links(&Grudge { blocked: loss.keys().copied().collect() })
    );
    Ok(Exit::Valid)
}

/// `lab delay MS --links ...`: delays packets on the links while this command
/// runs (the delayer lives in this process), until Ctrl-C, SIGTERM or `--for`.
pub fn delay(
    prefix: Option<&str>,
    delay_ms: u32,
    jitter_ms: u32,
    links: &str,
    seconds: Option<u64>,
) -> CmdResult {
    let lab = select(prefix)?;
    let links = parse_links(links, lab.node_count())?;
    let delay = nemesis::latency::LinkDelay { delay_ms, jitter_ms };
    let delays: BTreeMap<(usize, usize), nemesis::latency::LinkDelay> =
        links.iter().map(|&l| (l, delay)).collect();
    // Before any thread exists, so every thread inherits the mask and the signal
    // waits for us instead of killing us with the rules still in place.
    let stop = block_stop_signals(seconds)?;
    lab.set_delays(&delays, 0).map_err(fail)?;
    println!(
        "delaying {} by {delay_ms} ms (jitter {jitter_ms} ms) until Ctrl-C{}",
        show_links(&Grudge { blocked: links }),
        seconds.map(|s| format!(" or {s} s")).unwrap_or_default()
    );
    let got = wait_for_stop(&stop)?;
    lab.set_delays(&BTreeMap::new(), 0).map_err(fail)?;
    println!("{got}: delays removed");
    Ok(Exit::Valid)
}

/// `lab heal`: partition and loss removed, then verified.
pub fn heal(prefix: Option<&str>) -> CmdResult {
    let lab = select(prefix)?;
    lab.heal_network().map_err(fail)?;
    println!("healed");
    verify(&lab)
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it,
/// so that a stop signal waits for [`wait_for_stop`] instead of killing us with
/// faults in place; with `seconds`, a SIGTERM comes by itself after that long.
fn block_stop_signals(seconds: Option<u64>) -> Result<nix::sys::signal::SigSet, Failure> {
    use nix::sys::signal::{SigSet, Signal};
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGINT);
    stop.add(Signal::SIGTERM);
    stop.thread_block().map_err(|e| Failure::crash(format!("blocking signals: {e}")))?;
    if let Some(secs) = seconds {
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(secs));
            let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
        });
    }
    Ok(stop)
}

fn wait_for_stop(stop: &nix::sys::signal::SigSet) -> Result<nix::sys::signal::Signal, Failure> {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    stop.wait().map_err(|e| Failure::crash(format!("waiting for a signal: {e}")))
}

/// Options of `lab fault`.
pub struct FaultArgs<'a> {
    /// A fault family's `--nemesis` name.
    pub name: &'a str,
    pub seed: u64,
    /// Heal after this many seconds (else at Ctrl-C / SIGTERM).
    pub seconds: Option<u64>,
}

/// Prints a nemesis operation as the history holds it, then its per-node outcomes.
fn show_op(op: &history::Op, report: Option<&FaultReport>) {
    println!("{}", history::jsonl::op_to_json_line(op));
    for (node, outcome) in report.map(|r| &r.nodes).into_iter().flatten() {
        let what = match outcome {
            Outcome::Installed => "installed".to_string(),
            Outcome::Skipped(why) => format!("skipped: {why}"),
            Outcome::Indeterminate(why) => format!("INDETERMINATE: {why}"),
        };
        println!("  n{}: {what}", node + 1);
    }
}

fn indeterminate(report: &FaultReport) -> Vec<String> {
    report
        .nodes
        .iter()
        .filter_map(|(n, o)| match o {
            Outcome::Indeterminate(why) => Some(format!("{} on n{}: {why}", report.f, n + 1)),
            _ => None,
        })
        .collect()
}

/// `lab fault NAME`: draws one fault of the named family (seeded, as a
/// `faultline test` schedule would), applies it to the lab's nodes and what was
/// spawned in them, holds it until Ctrl-C or `--for`, then heals everything.
/// Prints the nemesis operations exactly as a run's history would hold them.
pub fn fault(prefix: Option<&str>, args: FaultArgs<'_>) -> CmdResult {
    let registry = Registry::builtin();
    let family = registry.by_name(args.name).map_err(Failure::bad_input)?;
    let lab = select(prefix)?;
    let n = lab.node_count();
    let mut config = ScheduleConfig::new(args.seed, n, 1, 1);
    config.shapes = default_shapes(n);
    let fault = nemesis::families::draw_one(family, &config).map_err(fail)?;
    // Clocks move for processes spawned under libfaketime; others say "skipped".
    let controls = Controls::lab(&lab, ClockSupport::Libfaketime);
    let nemesis = Nemesis::with_controls(controls, registry, args.seed);
    nemesis.check_supported(&fault).map_err(fail)?;
    // Before any thread exists (a delay starts delayer threads).
    let stop = block_stop_signals(args.seconds)?;
    let t0 = std::time::Instant::now();
    let now = || t0.elapsed().as_nanos() as u64;
    show_op(&nemesis.invoke_op(Some(&fault), now()), None);
    let applied = nemesis.apply(&fault, &[]);
    let mut problems = Vec::new();
    match &applied {
        Ok(report) => {
            show_op(&nemesis.completion_op(report, now()), Some(report));
            problems.extend(indeterminate(report));
        }
        Err(e) => problems.push(format!("{}: {e}", family.name())),
    }
    if applied.is_ok() {
        println!(
            "holding it until Ctrl-C{}",
            args.seconds.map(|s| format!(" or {s} s")).unwrap_or_default()
        );
        let got = wait_for_stop(&stop)?;
        println!("{got}: healing");
    }
    // Heal even after a failed apply: it may have done part of its work.
    show_op(&nemesis.invoke_op(None, now()), None);
    let healed = nemesis.heal_all().map_err(fail)?;
    show_op(&nemesis.completion_op(&healed, now()), Some(&healed));
    problems.extend(indeterminate(&healed));
    match applied {
        Err(e) => Err(fail(e)),
        Ok(_) if !problems.is_empty() => Err(Failure::crash(problems.join("; "))),
        Ok(_) => Ok(Exit::Valid),
    }
}

/// `lab spawn NODE -- CMD...`.
pub fn spawn(prefix: Option<&str>, node: &str, command: &[String]) -> CmdResult {
    let lab = select(prefix)?;
    let index = lab.node_index(node).map_err(fail)?;
    let Some((program, args)) = command.split_first() else {
        return Err(Failure::bad_input("spawn: give a command after --"));
    };
    let id = lab.state().processes.len();
    let log = lab.state().dir().join(format!("n{}-{id}.log", index + 1));
    // Absolute paths, so `lab start` from another directory runs the same thing.
    let cwd =
        std::env::current_dir().map_err(|e| Failure::crash(format!("current directory: {e}")))?;
    let program = if program.contains('/') {
        cwd.join(program).display().to_string()
    } else {
        program.clone()
    };
    let mut spec = ProcessSpec::new(program, &[]).log(&log);
    spec.args = args.to_vec();
    spec.cwd = Some(cwd);
    let h = lab.spawn_in(index, spec).map_err(fail)?;
    println!(
        "started #{} on n{}: pid {} (output: {})",
        h.id,
        index + 1,
        lab.pid(h).map(|p| p.to_string()).unwrap_or_else(|| "exited".into()),
        log.display()
    );
    Ok(Exit::Valid)
}

/// What `lab kill|pause|resume|start NODE` does.
#[derive(Debug, Clone, Copy)]
pub enum ProcessVerb {
    Kill,
    Pause,
    Resume,
    Start,
}

/// `lab kill|pause|resume|start NODE`.
pub fn process(prefix: Option<&str>, verb: ProcessVerb, node: &str) -> CmdResult {
    let lab = select(prefix)?;
    let index = lab.node_index(node).map_err(fail)?;
    let handles = lab.processes_on(index);
    if handles.is_empty() {
        return Err(Failure::bad_input(format!(
            "nothing runs on {node}: start something with `faultline lab spawn {node} -- CMD`"
        )));
    }
    for h in handles {
        let done = match verb {
            ProcessVerb::Kill => lab.kill(h),
            ProcessVerb::Pause => lab.pause(h),
            ProcessVerb::Resume => lab.resume(h),
            ProcessVerb::Start => lab.restart(h),
        }
        .map_err(fail)?;
        let what = format!("{verb:?}").to_lowercase();
        if done {
            println!("#{} on n{}: {what}: done", h.id, index + 1);
        } else {
            println!("#{} on n{}: {what}: nothing to do (state unchanged)", h.id, index + 1);
        }
    }
    Ok(Exit::Valid)
}

/// `lab down`: removes one lab, or (`--stale`) every lab whose run died.
pub fn down(prefix: Option<&str>, stale: bool) -> CmdResult {
    if stale {
        let (swept, errors) = sweep_stale();
        for r in &swept {
            println!("removed stale lab {} ({} namespaces)", r.prefix, r.deleted_namespaces.len());
        }
        if swept.is_empty() {
            println!("no stale labs");
        }
        for e in errors {
            eprintln!("warning: {e}");
        }
        return Ok(Exit::Valid);
    }
    let lab = match prefix {
        Some(p) => {
            // A half-broken lab (namespace gone) is still removable by its marker.
            match Lab::attach(p) {
                Ok(lab) => lab,
                Err(_) => {
                    let state = LabState::load(p).map_err(fail)?;
                    return nemesis::cleanup::remove_by_marker(&state)
                        .map(|r| {
                            println!(
                                "removed lab {} ({} namespaces)",
                                r.prefix,
                                r.deleted_namespaces.len()
                            );
                            Exit::Valid
                        })
                        .map_err(fail);
                }
            }
        }
        None => select(None)?,
    };
    let report = lab.destroy().map_err(fail)?;
    println!(
        "removed lab {} ({} namespaces, {} processes killed)",
        report.prefix,
        report.deleted_namespaces.len(),
        report.killed_pids.len()
    );
    Ok(Exit::Valid)
}
