//! The run controller: one `faultline test` run from options to verdict, in phases.
//!
//! 1. **plan** ([`Plan::resolve`]): every name looked up in the registries, every
//!    option checked against what the chosen system, workload and fault families say
//!    they support; any problem is exit 254 before anything is created.
//! 2. **open**: sweep leftovers of killed runs, create the run directory.
//! 3. **environment**: the lab (when a fault needs it) or loopback, the async runtime.
//! 4. **record**: the system is built, its version read, `test.json` written.
//! 5. **run**: the runtime's phases (setup, main with the nemesis, heal, recovery,
//!    final), bounded by a watchdog and Ctrl-C; the history is appended throughout.
//! 6. **teardown**: always, bounded.
//! 7. **analyse**: the recorded history, whatever happened before.
//! 8. **write**: `results.json`, the report, the summary table.
//!
//! Each phase is a function of its own; the system, workload and nemesis are reached
//! only through their traits and registry entries.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::registry::{CheckerDef, CheckerOptions};
use serde_json::Value as Json;
use workloads::{Workload, WorkloadDef, WorkloadOptions};

use crate::analysis::{self, Analysis, CheckWith};
use crate::commands::run_results::{RunSummary, print_summary, verdict_name, write_results};
use crate::exit::{Exit, Failure};
use crate::lab_host::{self, LabHost, SwitchGuard};
use crate::lab_nemesis::{self, FaultRequest};
use crate::node_host::{HostProcesses, LoopbackHost, NodeHost, node_name};
use crate::options::{HostChoice, TestArgs};
use crate::runtime::control::Stats;
use crate::runtime::nemesis_hook::{NemesisHook, NoNemesis};
use crate::runtime::progress::{Progress, RunLog};
use crate::runtime::recorder::Recorder;
use crate::runtime::{RunOptions, RunReport, SharedReport, execute};
use crate::store::{self, RunDir, Store, TestRecord};
use crate::system::{ClockMethod, NodeEnv, Nodes, System, SystemConfig, SystemDef, SystemError};
use nemesis::clock::ClockSupport;
use nemesis::control::Controls;
use nemesis::{Lab, LabConfig};

/// What a run may choose from: the registries, passed in (a test adds its own
/// entries; the command line uses [`Registry::default`]).
#[derive(Debug, Clone)]
pub struct Registry {
    pub systems: Vec<&'static SystemDef>,
    pub workloads: Vec<&'static WorkloadDef>,
    pub faults: nemesis::families::Registry,
    pub checkers: Vec<&'static CheckerDef>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            systems: crate::systems::ALL.to_vec(),
            workloads: workloads::ALL.to_vec(),
            faults: nemesis::families::Registry::builtin(),
            checkers: checkers::registry::ALL.to_vec(),
        }
    }
}

impl Registry {
    /// The checker called `name` (a workload's checker; `check --model`).
    pub fn checker(&self, name: &str) -> Result<&'static CheckerDef, String> {
        self.checkers.iter().copied().find(|d| d.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.checkers.iter().map(|d| d.name).collect();
            format!("unknown checker (model) {name:?} (known: {})", known.join(", "))
        })
    }
}

/// How a system is built for a run (a registry entry's `make`, or a test's closure).
pub type MakeSystem<'a> =
    Box<dyn FnOnce(&SystemConfig, NodeEnv) -> Result<Box<dyn System>, SystemError> + 'a>;

/// A run with every name resolved and every option checked.
pub struct Plan {
    pub args: TestArgs,
    pub seed: u64,
    pub name: String,
    pub system: &'static SystemDef,
    pub workload_def: &'static WorkloadDef,
    pub workload: Arc<dyn Workload>,
    /// The workload's checker.
    pub checker: &'static CheckerDef,
    /// Its options (`--checker-option`), already accepted by it.
    pub checker_options: CheckerOptions,
    /// The requested fault families (none: no nemesis).
    pub faults: Vec<String>,
    pub use_lab: bool,
    pub registry: Registry,
}

fn bad<T>(message: String) -> Result<T, Failure> {
    Err(Failure::bad_input(message))
}

/// The longest span a seconds option may ask for: 10^9 s (about 31 years). Beyond it
/// a `Duration` (or an `Instant` plus the run's deadline) would overflow and panic
/// mid-run; found by the command-line fuzzer (`harness/fuzz`).
pub const MAX_SECONDS: f64 = 1e9;

/// Options that need nothing but themselves.
fn check_numbers(args: &TestArgs) -> Result<(), Failure> {
    let spans = [
        ("--time-limit", Some(args.time_limit)),
        ("--recovery", args.recovery),
        ("--nemesis-interval", Some(args.nemesis_interval)),
        // the time between one worker's operations
        (
            "--rate (as concurrency / rate seconds)",
            (args.rate > 0.0).then(|| args.concurrency as f64 / args.rate),
        ),
    ];
    for (option, value) in spans {
        if let Some(v) = value
            && v > MAX_SECONDS
        {
            return bad(format!("{option} must be at most {MAX_SECONDS} seconds, got {v}"));
        }
    }
    if args.op_timeout_ms > 1_000_000_000_000 {
        return bad(format!("--op-timeout-ms must be at most 10^12, got {}", args.op_timeout_ms));
    }
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
    if !(args.nemesis_interval >= 0.0 && args.nemesis_interval.is_finite()) {
        return bad(format!(
            "--nemesis-interval must be >= 0 seconds (0: adaptive), got {}",
            args.nemesis_interval
        ));
    }
    Ok(())
}

/// The longest `--lease-ttl`: an hour (a longer lease is a lock that never expires
/// within a run).
const MAX_LEASE_TTL_S: u64 = 3600;

/// The system's capabilities against the options: bug switches, read mode.
fn check_system(def: &SystemDef, args: &TestArgs) -> Result<(), Failure> {
    let names = |items: Vec<&str>| if items.is_empty() { "none".into() } else { items.join(", ") };
    if let Some(b) = args.node_bug.iter().find(|b| def.bug(b).is_none()) {
        return bad(format!(
            "the {} system has no bug switch {b:?} (it has: {})",
            def.name,
            names(def.caps.bugs.iter().map(|b| b.name).collect())
        ));
    }
    if let Some(ttl) = args.lease_ttl {
        if def.caps.lease_ttl.is_none() {
            return bad(format!(
                "the {} system's locks hold no lease whose TTL a run can set (--lease-ttl {ttl})",
                def.name
            ));
        }
        if !(1..=MAX_LEASE_TTL_S).contains(&ttl) {
            return bad(format!("--lease-ttl must be 1 to {MAX_LEASE_TTL_S} seconds, got {ttl}"));
        }
    }
    if !def.caps.read_modes.contains(&args.read_mode) {
        return bad(format!(
            "the {} system cannot serve --read-mode {} (it serves: {})",
            def.name,
            args.read_mode.name(),
            names(def.caps.read_modes.iter().map(|m| m.name()).collect())
        ));
    }
    Ok(())
}

/// The workload's needs against the system's APIs.
fn check_workload(system: &SystemDef, workload: &WorkloadDef) -> Result<(), Failure> {
    match system.lacks(workload.needs) {
        None => Ok(()),
        Some(api) => bad(format!(
            "the {} workload needs the {api} API, which the {} system's client does not \
             offer (it offers: {})",
            workload.name,
            system.name,
            system.caps.apis.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The requested fault families, each checked against what the run offers: network
/// control only in the lab, process control when the system's nodes are processes,
/// the clock and membership as the system says; `all` is every family the run
/// offers what it needs. Returns the families' names and whether the run goes in
/// the lab (`auto`: whenever there are faults, so runs stay isolated).
fn check_faults(
    system: &SystemDef,
    args: &TestArgs,
    registry: &Registry,
) -> Result<(Vec<String>, bool), Failure> {
    let named: Vec<String> =
        args.nemesis.iter().filter(|n| n.trim() != nemesis::plan::ALL).cloned().collect();
    let wants_all = named.len() < args.nemesis.len();
    let families = lab_nemesis::families(&registry.faults, &named).map_err(Failure::bad_input)?;
    lab_nemesis::check_shapes(&args.partitions).map_err(Failure::bad_input)?;
    let wants_faults = wants_all || !families.is_empty();
    if wants_faults && system.caps.nodes == Nodes::InProcess {
        return bad(format!(
            "the {} system runs inside the harness: it has no nodes to fault; use --nemesis none",
            system.name
        ));
    }
    let in_lab = match args.host {
        HostChoice::Lab => true,
        HostChoice::Loopback => false,
        HostChoice::Auto => wants_faults,
    };
    let processes = system.caps.nodes == Nodes::Processes;
    let offers = lab_nemesis::offers(
        system.name,
        in_lab,
        processes,
        system.caps.clock,
        system.caps.membership,
    );
    let names = lab_nemesis::expand_all(&registry.faults, &args.nemesis, &offers);
    let families = lab_nemesis::families(&registry.faults, &names).map_err(Failure::bad_input)?;
    lab_nemesis::check(&registry.faults, &families, &offers).map_err(Failure::bad_input)?;
    Ok((families.iter().map(|f| f.name().to_string()).collect(), in_lab))
}

impl Plan {
    /// Resolves `args` against `registry`; 254 on any problem, naming the option.
    pub fn resolve(mut args: TestArgs, registry: &Registry) -> Result<Plan, Failure> {
        check_numbers(&args)?;
        let system =
            crate::systems::find(&registry.systems, &args.system).map_err(Failure::bad_input)?;
        check_system(system, &args)?;
        let workload_def =
            workloads::find(&registry.workloads, &args.workload).map_err(Failure::bad_input)?;
        check_workload(system, workload_def)?;
        // A workload naming a checker that is not registered is a harness bug.
        let checker = registry.checker(workload_def.checker).map_err(|e| {
            Failure::crash(format!("the {} workload's checker: {e}", workload_def.name))
        })?;
        let checker_options = checker_options(&args, checker)?;
        let (faults, use_lab) = check_faults(system, &args, registry)?;
        let seed = args.seed.unwrap_or_else(random_seed);
        args.seed = Some(seed);
        let options =
            WorkloadOptions { seed, concurrency: args.concurrency, ops_per_key: args.ops_per_key };
        let workload: Arc<dyn Workload> =
            (workload_def.make)(&options).map_err(Failure::bad_input)?.into();
        let name =
            args.name.clone().unwrap_or_else(|| format!("{}-{}", system.name, workload_def.name));
        let registry = registry.clone();
        Ok(Plan {
            args,
            seed,
            name,
            system,
            workload_def,
            workload,
            checker,
            checker_options,
            faults,
            use_lab,
            registry,
        })
    }

    fn system_config(&self) -> SystemConfig {
        SystemConfig {
            read_mode: self.args.read_mode,
            bugs: self.args.node_bug.clone(),
            pre_vote: self.args.pre_vote,
            lease_ttl: self.args.lease_ttl,
        }
    }
}

/// The options `args` gives the workload's checker `def` (`--checker-option`),
/// parsed as `check --option` parses its own, and tried on the checker: a name it
/// does not take, or a value it cannot use, is 254 naming the option and the
/// checker. A run's analysis and `analyze` of a stored run both use this.
pub fn checker_options(args: &TestArgs, def: &CheckerDef) -> Result<CheckerOptions, Failure> {
    let extension = crate::options::checker_extension("--checker-option", &args.checker_option)
        .map_err(Failure::bad_input)?;
    let options = CheckerOptions { extension, ..CheckerOptions::default() };
    def.checker(&options).map_err(|e| {
        Failure::bad_input(format!(
            "--checker-option {}: the {} workload's checker {}: {e}",
            args.checker_option.join(" "),
            args.workload,
            def.name
        ))
    })?;
    Ok(options)
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

/// `faultline test` with the command line's registries.
pub fn run_test(args: TestArgs) -> Result<(Exit, PathBuf), Failure> {
    run_test_in(args, &Registry::default())
}

/// `faultline test` choosing from `registry`: builds the system with its entry's
/// `make`.
pub fn run_test_in(args: TestArgs, registry: &Registry) -> Result<(Exit, PathBuf), Failure> {
    let plan = Plan::resolve(args, registry)?;
    let make = plan.system.make;
    run(plan, Box::new(make))
}

/// Phases 2 to 8 for a resolved plan; `make` builds the system once its host and run
/// directory exist. Returns the exit and the run directory.
pub fn run(plan: Plan, make: MakeSystem<'_>) -> Result<(Exit, PathBuf), Failure> {
    let (run, swept) = open(&plan)?;
    let env = Environment::build(&plan, &run)?;
    let result = match make(&plan.system_config(), env.node_env(&run)) {
        Ok(system) => {
            Run { plan: &plan, run: &run, swept, env: &env, interrupted: Cell::new(None) }
                .go(Arc::from(system))
        }
        Err(e) => Err(Failure::crash(format!("cannot set up the system: {e}"))),
    };
    env.close();
    run.finish();
    result.map(|exit| (exit, run.path.clone()))
}

/// Phase 2: sweep leftovers of killed runs, create the run directory.
fn open(plan: &Plan) -> Result<(RunDir, Vec<String>), Failure> {
    let store = Store::new(&plan.args.store);
    let swept = store.sweep_leftovers();
    for line in &swept {
        eprintln!("swept leftovers of a killed run: {line}");
    }
    let run = store.create_run(&plan.name).map_err(|e| {
        Failure::crash(format!(
            "cannot create a run directory under {}: {e}",
            plan.args.store.display()
        ))
    })?;
    Ok((run, swept))
}

/// Phase 3: where the nodes run and the async runtime the clients use.
struct Environment {
    lab: Option<Lab>,
    runtime: tokio::runtime::Runtime,
    /// Keeps this thread in the lab's switch namespace for the run.
    guard: Option<SwitchGuard>,
    host: Arc<dyn NodeHost>,
}

impl Environment {
    fn build(plan: &Plan, run: &RunDir) -> Result<Environment, Failure> {
        let no_runtime =
            |e: std::io::Error| Failure::crash(format!("cannot start the async runtime: {e}"));
        let nodes = plan.args.nodes;
        // In the lab, every thread that talks to nodes lives in its switch namespace:
        // the runtime's threads from their start, this thread for the run (the guard).
        if plan.use_lab {
            let lab = Lab::create(LabConfig::nodes(nodes))
                .map_err(|e| Failure::crash(format!("cannot build the lab: {e}")))?;
            let runtime = lab_host::runtime_in_switch(&lab).map_err(no_runtime)?;
            let guard = SwitchGuard::enter(&lab).map_err(Failure::crash)?;
            let host: Arc<dyn NodeHost> = Arc::new(LabHost::new(lab.clone()));
            Ok(Environment { lab: Some(lab), runtime, guard: Some(guard), host })
        } else {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(no_runtime)?;
            let host: Arc<dyn NodeHost> = Arc::new(LoopbackHost::with_pid_file(
                nodes,
                plan.args.loopback_net,
                run.file(store::NODE_PIDS),
            ));
            Ok(Environment { lab: None, runtime, guard: None, host })
        }
    }

    fn node_env(&self, run: &RunDir) -> NodeEnv {
        NodeEnv { host: self.host.clone(), run_dir: run.path.clone() }
    }

    /// The runtime's threads first, then this thread leaves the lab, then the lab goes
    /// (when the last handle on it is dropped).
    fn close(self) {
        let Environment { lab, runtime, guard, host } = self;
        drop(runtime);
        drop(guard);
        drop(host);
        drop(lab);
    }
}

/// Phases 4 to 8 of one run.
struct Run<'a> {
    plan: &'a Plan,
    run: &'a RunDir,
    swept: Vec<String>,
    env: &'a Environment,
    /// The signal that ended the run early, if one did.
    interrupted: Cell<Option<Interrupt>>,
}

/// A signal that ends `faultline test` early: the run heals, tears down, analyses
/// what was recorded (unless the signal comes again during the analysis) and
/// writes its results, marked `interrupted`, then exits 128 + the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    Int,
    Term,
}

/// One delivery of a signal (never, when its handler could not be installed).
async fn delivery(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Interrupt {
    fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        }
    }

    fn exit(self) -> Exit {
        match self {
            Interrupt::Int => Exit::Interrupted,
            Interrupt::Term => Exit::Terminated,
        }
    }

    /// The next SIGINT or SIGTERM. Both handlers are in place when this returns (it
    /// must be called inside the runtime); from then on the lab's own signal watcher
    /// (which would tear the lab down and end the process at once, results unwritten)
    /// leaves these signals to the run.
    fn next() -> impl std::future::Future<Output = Interrupt> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        if int.is_some() && term.is_some() {
            nemesis::cleanup::leave_signals_to_caller();
        }
        async move {
            tokio::select! {
                () = delivery(int.as_mut()) => Interrupt::Int,
                () = delivery(term.as_mut()) => Interrupt::Term,
            }
        }
    }
}

impl Run<'_> {
    fn go(self, system: Arc<dyn System>) -> Result<Exit, Failure> {
        let started = Instant::now();
        let echo = !self.plan.args.quiet;
        let log_path = self.run.file(store::HARNESS_LOG);
        let log = RunLog::open(Some(&log_path), echo)
            .map_err(|e| Failure::crash(format!("cannot open {}: {e}", log_path.display())))?;
        log.line(&format!("run {} seed {}", self.run.path.display(), self.plan.seed));
        let mut nemesis = self.nemesis(&system)?;
        let version = system.version();
        let record = self.record(&version, nemesis.schedule())?;
        if let Err(e) = version {
            log.line(&format!("setup failed: {e}"));
            let summary = RunSummary {
                report: serde_json::json!({ "setup_error": e.to_string() }),
                swept_leftovers: self.swept.clone(),
                ..RunSummary::default()
            };
            write_results(
                self.run,
                Exit::Crash,
                "the system is not installed".into(),
                None,
                None,
                Some(summary),
            );
            return Err(Failure::crash(e));
        }
        let (report, recorded_ops, history_error) =
            self.phases(&system, nemesis.as_mut(), &log, echo)?;
        let teardown = self.teardown(&system, &log);
        log.line("analysis");
        let analysed = self.analyse(&log);
        let summary = RunSummary {
            report: serde_json::to_value(&report).unwrap_or(Json::Null),
            teardown_errors: teardown,
            history_error: history_error.clone(),
            recorded_ops,
            wall_seconds: started.elapsed().as_secs_f64(),
            swept_leftovers: self.swept.clone(),
        };
        self.write(&record, &report, history_error, analysed, summary, &log)
    }

    /// The nemesis for the requested faults (none without faults), acting through
    /// the lab's controls or the node host's processes, and moving clocks the way
    /// the system says.
    fn nemesis(&self, system: &Arc<dyn System>) -> Result<Box<dyn NemesisHook>, Failure> {
        if self.plan.faults.is_empty() {
            return Ok(Box::new(NoNemesis));
        }
        let clock = match self.plan.system.caps.clock {
            ClockMethod::Libfaketime => ClockSupport::Libfaketime,
            ClockMethod::Injected => match system.clock_hook() {
                Some(hook) => ClockSupport::Hook(hook),
                None => ClockSupport::Unsupported {
                    reason: format!("the {} system gave no clock hook", self.plan.system.name),
                },
            },
            ClockMethod::Unsupported(why) => ClockSupport::Unsupported { reason: why.into() },
        };
        let nodes = self.plan.args.nodes;
        let mut controls = match &self.env.lab {
            Some(lab) => Controls::lab(lab, clock),
            None => Controls::none(nodes)
                .with_processes(Arc::new(HostProcesses(self.env.host.clone())))
                .with_clock(clock),
        };
        if let Some(membership) = system.membership() {
            controls = controls.with_membership(membership);
        }
        let args = &self.plan.args;
        let request = FaultRequest {
            seed: self.plan.seed,
            nodes,
            faults: &self.plan.faults,
            shapes: &args.partitions,
            interval: args.fixed_nemesis_interval().map(Duration::from_secs_f64),
            duration: Duration::from_secs_f64(args.time_limit),
            tuning: args.faults.tuning(),
        };
        let hook = lab_nemesis::build_nemesis(
            &self.plan.registry.faults,
            controls,
            &request,
            system.clone(),
        )
        .map_err(|e| Failure::bad_input(format!("the fault schedule cannot run: {e}")))?;
        Ok(Box::new(hook))
    }

    /// Phase 4: `test.json`.
    fn record(
        &self,
        version: &Result<String, SystemError>,
        fault_schedule: Json,
    ) -> Result<TestRecord, Failure> {
        let mut versions = BTreeMap::new();
        versions.insert("faultline".to_string(), env!("CARGO_PKG_VERSION").to_string());
        if let Ok(v) = version {
            versions.insert(self.plan.system.name.to_string(), v.clone());
        }
        let host = &self.env.host;
        let record = TestRecord {
            name: self.plan.name.clone(),
            args: self.plan.args.clone(),
            seed: self.plan.seed,
            versions,
            node_host: host.kind().to_string(),
            nodes: (0..host.node_count())
                .map(|n| (node_name(n), host.address(n).to_string()))
                .collect(),
            checker: self.plan.checker.name.to_string(),
            fault_schedule,
            started_at: store::timestamp_utc(std::time::SystemTime::now()),
            argv: std::env::args().collect(),
        };
        self.run.write_json(store::TEST_JSON, &record).map_err(|e| {
            Failure::crash(format!("cannot write test.json in {}: {e}", self.run.path.display()))
        })?;
        Ok(record)
    }

    fn run_options(&self) -> RunOptions {
        let args = &self.plan.args;
        let has_faults = !self.plan.faults.is_empty();
        RunOptions {
            nodes: args.nodes,
            concurrency: args.concurrency,
            rate: (args.rate > 0.0).then_some(args.rate),
            time_limit: Duration::from_secs_f64(args.time_limit),
            op_limit: args.ops_per_worker,
            op_timeout: Duration::from_millis(args.op_timeout_ms),
            setup_timeout: Duration::from_secs(60),
            heal_timeout: Duration::from_secs(30),
            recovery: Duration::from_secs_f64(args.recovery.unwrap_or(if has_faults {
                5.0
            } else {
                0.0
            })),
            final_ops: true,
            watchdog_slack: Duration::from_secs(5),
            seed: self.plan.seed,
        }
    }

    /// Phase 5: the runtime's phases, ended early by the outer watchdog or Ctrl-C.
    /// Returns the run's report, how many operations were recorded, and the history's
    /// write error if any.
    fn phases(
        &self,
        system: &Arc<dyn System>,
        nemesis: &mut dyn NemesisHook,
        log: &RunLog,
        echo: bool,
    ) -> Result<(RunReport, u64, Option<String>), Failure> {
        let history = self.run.file(store::HISTORY);
        let recorder = Recorder::create(&history)
            .map_err(|e| Failure::crash(format!("cannot create {}: {e}", history.display())))?;
        let stats = Arc::new(Stats::default());
        let options = self.run_options();
        let report: SharedReport = Arc::new(Mutex::new(RunReport::default()));
        let runtime = &self.env.runtime;
        let progress = runtime.block_on(async { Progress::start(stats.clone(), log, echo) });
        runtime.block_on(async {
            let run_phases = execute(
                system.clone(),
                self.plan.workload.clone(),
                nemesis,
                recorder.clone(),
                stats.clone(),
                &options,
                log,
                report.clone(),
            );
            let ended_early = tokio::select! {
                finished = tokio::time::timeout(options.deadline(), run_phases) => {
                    finished.is_err().then(|| format!(
                        "the run did not finish within {:?}; ended it and analysed what was recorded",
                        options.deadline()
                    ))
                }
                signal = Interrupt::next() => {
                    self.interrupted.set(Some(signal));
                    Some(format!(
                        "interrupted ({}): ended the run and analysed what was recorded",
                        signal.name()
                    ))
                }
            };
            if let Some(msg) = ended_early {
                log.line(&msg);
                report.lock().unwrap_or_else(|p| p.into_inner()).watchdog.push(msg);
            }
        });
        progress.finish(log);
        let history_error = recorder.close().err();
        let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok((report, recorder.count(), history_error))
    }

    /// Phase 6: teardown, always, bounded; its errors (they do not cost the verdict).
    fn teardown(&self, system: &Arc<dyn System>, log: &RunLog) -> Vec<String> {
        log.line("teardown");
        let tearing = system.clone();
        let errors = self.env.runtime.block_on(async {
            let job = tokio::task::spawn_blocking(move || tearing.teardown());
            match tokio::time::timeout(Duration::from_secs(60), job).await {
                Ok(Ok(Ok(()))) => Vec::new(),
                Ok(Ok(Err(e))) => vec![e.to_string()],
                Ok(Err(e)) => vec![format!("teardown panicked: {e}")],
                Err(_) => vec!["teardown did not finish within 60 s".to_string()],
            }
        });
        for e in &errors {
            log.line(&format!("teardown error: {e}"));
        }
        errors
    }

    /// Phase 7: the workload's checker on the recorded history. In an interrupted
    /// run a second SIGINT or SIGTERM skips it (the analysis goes on in its thread
    /// until the process exits, moments later).
    fn analyse(&self, log: &RunLog) -> Result<Analysis, Failure> {
        let path = self.run.file(store::HISTORY);
        let checker =
            CheckWith { def: self.plan.checker, options: self.plan.checker_options.clone() };
        let Some(first) = self.interrupted.get() else {
            return analysis::analyze_file(&path, checker);
        };
        log.line(&format!("{} again skips the analysis", first.name()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(analysis::analyze_file(&path, checker));
        });
        self.env.runtime.block_on(async {
            tokio::select! {
                done = rx => done.unwrap_or_else(|_| Err(Failure::crash("the analysis panicked"))),
                again = Interrupt::next() => {
                    let why = format!(
                        "the analysis was skipped: {} came again while it ran",
                        again.name()
                    );
                    log.line(&why);
                    Err(Failure { exit: again.exit(), message: why })
                }
            }
        })
    }

    /// Phase 8: the verdict (a crash outranks all but a proven anomaly),
    /// `results.json`, the report and the summary table.
    fn write(
        &self,
        record: &TestRecord,
        report: &RunReport,
        history_error: Option<String>,
        analysed: Result<Analysis, Failure>,
        summary: RunSummary,
        log: &RunLog,
    ) -> Result<Exit, Failure> {
        let (mut exit, mut explanation, analysis, analysis_error) = match analysed {
            Ok(a) => (Exit::of(a.verdict), a.explanation.clone(), Some(a), None),
            // skipped by a second signal: no verdict, nothing wrong with the history
            Err(e) if matches!(e.exit, Exit::Interrupted | Exit::Terminated) => {
                (Exit::Unknown, e.message.clone(), None, Some(e.message))
            }
            Err(e) => (
                Exit::Crash,
                format!("the recorded history is unusable: {e}"),
                None,
                Some(e.message),
            ),
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
        let mut summary = summary;
        if let Some(signal) = self.interrupted.get() {
            // results.json's verdict says `interrupted`; the analysis keeps its own.
            exit = signal.exit();
            explanation = format!("interrupted by {}: {explanation}", signal.name());
            if let Json::Object(o) = &mut summary.report {
                o.insert("interrupted".into(), Json::String(signal.name().into()));
            }
        }
        write_results(
            self.run,
            exit,
            explanation.clone(),
            analysis.clone(),
            analysis_error,
            Some(summary.clone()),
        );
        log.line(&format!("verdict: {} ({explanation})", verdict_name(exit)));
        print_summary(
            &self.run.path,
            record,
            analysis.as_ref(),
            Some(&summary),
            exit,
            &explanation,
        );
        if exit == Exit::Crash {
            return Err(Failure::crash(format!("{explanation} (see {})", self.run.path.display())));
        }
        Ok(exit)
    }
}
