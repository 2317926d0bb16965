//! `faultline test`: one run from start to verdict. Sweeps leftovers of killed runs,
//! creates the run directory, records every option in `test.json`, runs the phases
//! (with a watchdog and Ctrl-C handling), always tears the system down, then
//! analyses the recorded history and writes `results.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use workloads::Workload;

use crate::analysis;
use crate::commands::run_results::{RunSummary, print_summary, verdict_name, write_results};
use crate::exit::{Exit, Failure};
use crate::lab_host::{self, LabHost, SwitchGuard};
use crate::lab_nemesis::{self, ScheduleRequest};
use crate::node_host::{LoopbackHost, NodeHost, node_name};
use crate::runtime::control::Stats;
use crate::runtime::nemesis_hook::{NemesisHook, NoNemesis};
use crate::runtime::progress::{Progress, RunLog};
use crate::runtime::recorder::Recorder;
use crate::runtime::{RunOptions, RunReport, SharedReport, execute};
use crate::store::{self, RunDir, Store};
use crate::system::{System, SystemError};
use crate::systems::ReadMode;
use crate::systems::builtin::{Builtin, BuiltinOptions, NODE_BUGS};
use crate::systems::etcd::{Etcd, EtcdOptions};
use crate::systems::memory::Memory;
use nemesis::{Lab, LabConfig};

/// Every option of a test run; recorded in `test.json`, so `replay` can repeat it.
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
pub struct TestArgs {
    /// The system under test: `builtin` (faultline's own Consul-like node, built
    /// from the workspace), `etcd` (Debian's etcd-server), `memory` (in-process, for
    /// testing the harness itself) or `memory-stale` (the same with a stale-read bug:
    /// a negative control that must come out invalid).
    #[arg(long, default_value = "builtin")]
    pub system: String,
    /// A bug switch every builtin node starts with (repeatable): stale-default-reads,
    /// ack-before-commit, no-fsync, lock-no-session-check. Test fixtures: a run
    /// with one should come out invalid.
    #[arg(long = "node-bug")]
    #[serde(default)]
    pub node_bug: Vec<String>,
    /// The workload: `register`, or `lock` (builtin only: Consul sessions and locks).
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// Faults, comma separated: `none`, or any of `partition`, `kill`, `kill-all`
    /// (every node at once), `pause`.
    #[arg(long, value_delimiter = ',', default_value = "none")]
    pub nemesis: Vec<String>,
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Register workload: about how many operations one key gets before its workers
    /// move to a fresh key (default 100). Long-lived keys (say 2000) let a whole-
    /// cluster crash show lost writes: a retired key is never read again.
    #[arg(long)]
    #[serde(default)]
    pub ops_per_key: Option<usize>,
    /// Worker processes issuing operations.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Target operations per second over all workers (0: as fast as possible).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of the main phase.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Main-phase operations per worker (default: until the time limit).
    #[arg(long)]
    pub ops_per_worker: Option<u64>,
    /// The seed of the operation streams and the fault schedule (random when absent;
    /// always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How the system serves reads: `linearizable` (alias `consistent`),
    /// `serializable` (alias `stale`), or `default` (Consul's lease reads; builtin
    /// only).
    #[arg(long, value_enum, default_value_t = ReadMode::Linearizable)]
    pub read_mode: ReadMode,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// A name for the test (default `<system>-<workload>`).
    #[arg(long)]
    pub name: Option<String>,
    /// An operation that takes longer is recorded as `info`.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Seconds of quiet between heal and the final reads (default: 5 with faults,
    /// 0 without).
    #[arg(long)]
    pub recovery: Option<f64>,
    /// etcd's pre-vote (keeps a rejoining node from disrupting the leader).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pre_vote: bool,
    /// Loopback nodes listen on 127.0.NET.(10+i): pick NET so that concurrent runs on
    /// one machine do not collide.
    #[arg(long, default_value_t = 0)]
    pub loopback_net: u8,
    /// Seconds between fault changes: a fault starts, lasts this long, everything
    /// heals, and after this long the next fault starts (Jepsen's rhythm).
    #[arg(long, default_value_t = 5.0)]
    #[serde(default = "default_nemesis_interval")]
    pub nemesis_interval: f64,
    /// Partition shapes to draw from, comma separated: isolate-one, random-halves,
    /// majorities-ring (5 nodes or more), bridge, primaries (cut the leader off).
    /// Default: every shape but primaries that fits the cluster.
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Where nodes run: `auto` (the lab when there are faults, else loopback),
    /// `loopback` or `lab` (network namespaces; needs root).
    #[arg(long, default_value = "auto")]
    #[serde(default = "default_host")]
    pub host: String,
    /// No progress line and no log echo on stderr (the summary is still printed).
    #[arg(long)]
    #[serde(default)]
    pub quiet: bool,
}

fn default_nemesis_interval() -> f64 {
    5.0
}

fn default_host() -> String {
    "auto".into()
}

pub const PARTITION_SHAPES: [&str; 5] =
    ["isolate-one", "random-halves", "majorities-ring", "bridge", "primaries"];

/// `test.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRecord {
    pub name: String,
    pub args: TestArgs,
    pub seed: u64,
    pub versions: BTreeMap<String, String>,
    pub node_host: String,
    pub nodes: BTreeMap<String, String>,
    pub checker: String,
    pub fault_schedule: Json,
    pub started_at: String,
    pub argv: Vec<String>,
}

/// `kill-all` kills every node at once (a whole-cluster crash) instead of a random
/// subset.
pub const NEMESES: [&str; 5] = ["none", "partition", "kill", "kill-all", "pause"];

/// Checks the options that need no system; 254 on any problem.
pub fn validate(args: &TestArgs) -> Result<Vec<String>, Failure> {
    let bad = |m: String| Err(Failure::bad_input(m));
    if args.nodes == 0 || args.nodes > 200 {
        return bad(format!("--nodes must be 1..=200, got {}", args.nodes));
    }
    if args.concurrency == 0 {
        return bad("--concurrency must be at least 1".into());
    }
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return bad(format!("--rate must be a number >= 0, got {}", args.rate));
    }
    if !(args.time_limit > 0.0 && args.time_limit.is_finite()) {
        return bad(format!("--time-limit must be > 0 seconds, got {}", args.time_limit));
    }
    if args.op_timeout_ms == 0 {
        return bad("--op-timeout-ms must be at least 1".into());
    }
    if let Some(r) = args.recovery
        && !(r >= 0.0 && r.is_finite())
    {
        return bad(format!("--recovery must be >= 0 seconds, got {r}"));
    }
    if !(args.nemesis_interval > 0.0 && args.nemesis_interval.is_finite()) {
        return bad(format!(
            "--nemesis-interval must be > 0 seconds, got {}",
            args.nemesis_interval
        ));
    }
    if let Some(p) = args.partitions.iter().find(|p| !PARTITION_SHAPES.contains(&p.trim())) {
        return bad(format!(
            "unknown partition shape {p:?} (known: {})",
            PARTITION_SHAPES.join(", ")
        ));
    }
    if !["auto", "loopback", "lab"].contains(&args.host.as_str()) {
        return bad(format!("unknown host {:?} (known: auto, loopback, lab)", args.host));
    }
    // The system's name is checked where it is chosen (`run_test`): `run_with` runs
    // any `System`, named as the caller likes.
    if !args.node_bug.is_empty() && args.system != "builtin" {
        return bad(format!("--node-bug is for the builtin system, not {}", args.system));
    }
    if let Some(b) = args.node_bug.iter().find(|b| !NODE_BUGS.contains(&b.as_str())) {
        return bad(format!("unknown node bug {b:?} (known: {})", NODE_BUGS.join(", ")));
    }
    if args.workload == "lock" && args.system != "builtin" {
        return bad(format!(
            "the lock workload needs sessions and locks, which only the builtin system has \
             a client for (not {})",
            args.system
        ));
    }
    if args.read_mode == ReadMode::Default && args.system != "builtin" {
        return bad(format!(
            "--read-mode default is Consul's lease read (builtin only); {} has linearizable \
             and serializable",
            args.system
        ));
    }
    let mut faults: Vec<String> = Vec::new();
    for n in &args.nemesis {
        let n = n.trim();
        if !NEMESES.contains(&n) {
            return bad(format!("unknown nemesis {n:?} (known: {})", NEMESES.join(", ")));
        }
        if n != "none" && !faults.iter().any(|f| f == n) {
            faults.push(n.to_string());
        }
    }
    if faults.iter().any(|f| f == "kill") && faults.iter().any(|f| f == "kill-all") {
        return bad("--nemesis kill and kill-all exclude each other: pick one".into());
    }
    if !faults.is_empty() && args.system.starts_with("memory") {
        return bad(format!(
            "the {} system runs inside the harness: it has no nodes to fault; use --nemesis none",
            args.system
        ));
    }
    if !faults.is_empty() && args.host == "loopback" {
        return bad(
            "faults need the lab (--host lab or auto): loopback nodes share one network".into()
        );
    }
    Ok(faults)
}

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    // splitmix64 of time and pid: only needs to differ between runs.
    let mut z = t ^ (u64::from(std::process::id()) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The workload `args` name, with `--ops-per-key` applied to the register workload.
fn workload(args: &TestArgs, seed: u64) -> Result<Box<dyn Workload>, Failure> {
    match (args.workload.as_str(), args.ops_per_key) {
        ("register", Some(ops_per_key)) => {
            let options = workloads::register::RegisterOptions {
                ops_per_key,
                ..workloads::register::RegisterOptions::default()
            };
            workloads::register::Register::new(seed, args.concurrency, options)
                .map(|w| Box::new(w) as Box<dyn Workload>)
                .map_err(Failure::bad_input)
        }
        (other, Some(_)) => Err(Failure::bad_input(format!(
            "--ops-per-key is for the register workload, not {other}"
        ))),
        _ => workloads::by_name(&args.workload, seed, args.concurrency).map_err(Failure::bad_input),
    }
}

/// `faultline test`: returns the exit and the run directory.
pub fn run_test(args: TestArgs) -> Result<(Exit, PathBuf), Failure> {
    let nodes = args.nodes;
    match args.system.as_str() {
        "etcd" => {
            let options = EtcdOptions {
                pre_vote: args.pre_vote,
                read_mode: args.read_mode,
                ..EtcdOptions::default()
            };
            run_with(args, move |host, dir| Etcd::new(options, host, dir.to_path_buf()))
        }
        "builtin" => {
            let options = BuiltinOptions {
                read_mode: args.read_mode,
                bugs: args.node_bug.clone(),
                ..BuiltinOptions::default()
            };
            run_with(args, move |host, dir| Builtin::new(options, host, dir.to_path_buf()))
        }
        "memory" => run_with(args, move |_, _| Ok(Memory::new(nodes))),
        "memory-stale" => run_with(args, move |_, _| Ok(Memory::with_stale_reads(nodes))),
        other => Err(Failure::bad_input(format!(
            "unknown system {other:?} (known: builtin, etcd, memory, memory-stale)"
        ))),
    }
}

/// `faultline test` with any [`System`]: `make` builds it from where its nodes run
/// and the run directory (its data and logs go there). Everything else (the store,
/// the lab and nemesis when faults are asked for, the phases, teardown, analysis,
/// `results.json`) is the same as for the built-in systems.
pub fn run_with<S: System>(
    args: TestArgs,
    make: impl FnOnce(Arc<dyn NodeHost>, &Path) -> Result<S, SystemError>,
) -> Result<(Exit, PathBuf), Failure> {
    let faults = validate(&args)?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let workload = workload(&args, seed)?;
    let store = Store::new(&args.store);
    let swept = store.sweep_leftovers();
    for line in &swept {
        eprintln!("swept leftovers of a killed run: {line}");
    }
    let name = args.name.clone().unwrap_or_else(|| format!("{}-{}", args.system, args.workload));
    let run = store.create_run(&name).map_err(|e| {
        Failure::crash(format!("cannot create a run directory under {}: {e}", args.store.display()))
    })?;
    let use_lab = args.host == "lab" || (args.host == "auto" && !faults.is_empty());
    let no_runtime =
        |e: std::io::Error| Failure::crash(format!("cannot start the async runtime: {e}"));
    // In the lab, every thread that talks to nodes lives in its switch namespace: the
    // runtime's threads from their start, this thread for the run (the guard).
    let (lab, runtime, guard) = if use_lab {
        let lab = Lab::create(LabConfig::nodes(args.nodes))
            .map_err(|e| Failure::crash(format!("cannot build the lab: {e}")))?;
        let runtime = lab_host::runtime_in_switch(&lab).map_err(no_runtime)?;
        let guard = SwitchGuard::enter(&lab).map_err(Failure::crash)?;
        (Some(lab), runtime, Some(guard))
    } else {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(no_runtime)?;
        (None, runtime, None)
    };
    let ctx = RunCtx { args, seed, name, run, workload, faults, swept };
    let host: Arc<dyn NodeHost> = match &lab {
        Some(lab) => Arc::new(LabHost::new(lab.clone())),
        None => Arc::new(LoopbackHost::new(ctx.args.nodes, ctx.args.loopback_net)),
    };
    let result = match make(host.clone(), &ctx.run.path) {
        Ok(system) => run_system(system, host.as_ref(), lab.as_ref(), &ctx, &runtime),
        Err(e) => Err(Failure::crash(format!("cannot set up the system: {e}"))),
    };
    // The runtime's threads first, then this thread leaves the lab, then the lab goes
    // (when the last handle on it is dropped).
    drop(runtime);
    drop(guard);
    drop(host);
    drop(lab);
    ctx.run.finish();
    result.map(|exit| (exit, ctx.run.path.clone()))
}

struct RunCtx {
    args: TestArgs,
    seed: u64,
    name: String,
    run: RunDir,
    workload: Box<dyn Workload>,
    faults: Vec<String>,
    swept: Vec<String>,
}

fn run_options(args: &TestArgs, seed: u64, has_faults: bool) -> RunOptions {
    let op_timeout = Duration::from_millis(args.op_timeout_ms);
    RunOptions {
        concurrency: args.concurrency,
        rate: (args.rate > 0.0).then_some(args.rate),
        time_limit: Duration::from_secs_f64(args.time_limit),
        op_limit: args.ops_per_worker,
        op_timeout,
        setup_timeout: Duration::from_secs(60),
        heal_timeout: Duration::from_secs(30),
        recovery: Duration::from_secs_f64(args.recovery.unwrap_or(if has_faults {
            5.0
        } else {
            0.0
        })),
        final_ops: true,
        watchdog_slack: Duration::from_secs(5),
        seed,
    }
}

fn run_system<S: System>(
    system: S,
    host: &dyn NodeHost,
    lab: Option<&Lab>,
    ctx: &RunCtx,
    runtime: &tokio::runtime::Runtime,
) -> Result<Exit, Failure> {
    let started = Instant::now();
    let run = &ctx.run;
    let echo = !ctx.args.quiet;
    let log = RunLog::open(Some(&run.file(store::HARNESS_LOG)), echo).map_err(|e| {
        Failure::crash(format!("cannot open {}: {e}", run.file(store::HARNESS_LOG).display()))
    })?;
    log.line(&format!("run {} seed {}", run.path.display(), ctx.seed));
    let system = Arc::new(system);
    let mut nemesis: Box<dyn NemesisHook> =
        match lab {
            Some(lab) if !ctx.faults.is_empty() => {
                let request = ScheduleRequest {
                    seed: ctx.seed,
                    nodes: system.node_count(),
                    faults: &ctx.faults,
                    shapes: &ctx.args.partitions,
                    interval: Duration::from_secs_f64(ctx.args.nemesis_interval),
                    duration: Duration::from_secs_f64(ctx.args.time_limit),
                    clock_unsupported: "etcd is a Go program: it reads time through the vDSO, \
                                    which libfaketime cannot change",
                };
                Box::new(lab_nemesis::build(lab, &request, system.clone()).map_err(|e| {
                    Failure::bad_input(format!("the fault schedule cannot run: {e}"))
                })?)
            }
            _ => Box::new(NoNemesis),
        };
    let mut versions = BTreeMap::new();
    versions.insert("faultline".to_string(), env!("CARGO_PKG_VERSION").to_string());
    let installed = system.check_installed();
    if let Ok(v) = &installed {
        versions.insert(system.name().to_string(), v.clone());
    }
    let record = TestRecord {
        name: ctx.name.clone(),
        args: TestArgs { seed: Some(ctx.seed), ..ctx.args.clone() },
        seed: ctx.seed,
        versions,
        node_host: host.kind().to_string(),
        nodes: (0..system.node_count())
            .map(|n| (node_name(n), host.address(n).to_string()))
            .collect(),
        checker: ctx.workload.checker().model.to_string(),
        fault_schedule: nemesis.schedule(),
        started_at: store::timestamp_utc(std::time::SystemTime::now()),
        argv: std::env::args().collect(),
    };
    run.write_json(store::TEST_JSON, &record).map_err(|e| {
        Failure::crash(format!("cannot write test.json in {}: {e}", run.path.display()))
    })?;
    if let Err(e) = installed {
        log.line(&format!("setup failed: {e}"));
        let summary = RunSummary {
            report: serde_json::json!({ "setup_error": e.to_string() }),
            swept_leftovers: ctx.swept.clone(),
            ..RunSummary::default()
        };
        write_results(
            run,
            Exit::Crash,
            "the system is not installed".into(),
            None,
            None,
            Some(summary),
        );
        return Err(Failure::crash(e));
    }

    let recorder = Recorder::create(&run.file(store::HISTORY)).map_err(|e| {
        Failure::crash(format!("cannot create {}: {e}", run.file(store::HISTORY).display()))
    })?;
    let stats = Arc::new(Stats::default());
    let options = run_options(&ctx.args, ctx.seed, !ctx.faults.is_empty());
    let report: SharedReport = Arc::new(Mutex::new(RunReport::default()));
    let progress = runtime.block_on(async { Progress::start(stats.clone(), &log, echo) });
    runtime.block_on(async {
        let run_phases = execute(
            system.clone(),
            ctx.workload.as_ref(),
            nemesis.as_mut(),
            recorder.clone(),
            stats.clone(),
            &options,
            &log,
            report.clone(),
        );
        tokio::select! {
            finished = tokio::time::timeout(options.deadline(), run_phases) => {
                if finished.is_err() {
                    let msg = format!(
                        "the run did not finish within {:?}; ended it and analysed what was recorded",
                        options.deadline()
                    );
                    log.line(&msg);
                    report.lock().unwrap_or_else(|p| p.into_inner()).watchdog.push(msg);
                }
            }
            _ = tokio::signal::ctrl_c() => {
                let msg = "interrupted (Ctrl-C): ended the run and analysed what was recorded".to_string();
                log.line(&msg);
                report.lock().unwrap_or_else(|p| p.into_inner()).watchdog.push(msg);
            }
        }
    });
    progress.finish(&log);
    let history_error = recorder.close().err();
    let recorded_ops = recorder.count();

    log.line("teardown");
    let tearing = system.clone();
    let teardown = runtime.block_on(async {
        let job = tokio::task::spawn_blocking(move || tearing.teardown());
        match tokio::time::timeout(Duration::from_secs(60), job).await {
            Ok(Ok(Ok(()))) => Vec::new(),
            Ok(Ok(Err(e))) => vec![e.to_string()],
            Ok(Err(e)) => vec![format!("teardown panicked: {e}")],
            Err(_) => vec!["teardown did not finish within 60 s".to_string()],
        }
    });
    for e in &teardown {
        log.line(&format!("teardown error: {e}"));
    }

    log.line("analysis");
    let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let analysed = analysis::analyze_file(&run.file(store::HISTORY), &ctx.workload.checker());
    let (mut exit, mut explanation, analysis, analysis_error) = match analysed {
        Ok(a) => (Exit::of(a.verdict), a.explanation.clone(), Some(a), None),
        Err(e) => {
            (Exit::Crash, format!("the recorded history is unusable: {e}"), None, Some(e.message))
        }
    };
    let crash = report
        .setup_error
        .as_ref()
        .map(|e| format!("setup failed: {e}"))
        .or_else(|| {
            history_error.as_ref().map(|e| format!("the history was not fully written: {e}"))
        })
        .or_else(|| report.worker_panics.first().map(|e| format!("the harness crashed: {e}")));
    if let Some(why) = &crash
        && exit != Exit::Invalid
    {
        exit = Exit::Crash;
        explanation = why.clone();
    }
    let summary = RunSummary {
        report: serde_json::to_value(&report).unwrap_or(Json::Null),
        teardown_errors: teardown.clone(),
        history_error,
        recorded_ops,
        wall_seconds: started.elapsed().as_secs_f64(),
        swept_leftovers: ctx.swept.clone(),
    };
    write_results(
        run,
        exit,
        explanation.clone(),
        analysis.clone(),
        analysis_error,
        Some(summary.clone()),
    );
    log.line(&format!("verdict: {} ({explanation})", verdict_name(exit)));
    print_summary(&ctx.run.path, &record, analysis.as_ref(), Some(&summary), exit, &explanation);
    if exit == Exit::Crash {
        return Err(Failure::crash(format!("{explanation} (see {})", run.path.display())));
    }
    Ok(exit)
}
