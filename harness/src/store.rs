//! The store: one directory per run, `store/<test>/<timestamp>/`, holding
//! `history.jsonl` (written as the run goes), `test.json` (every option, the seed,
//! versions, the fault schedule), `results.json`, `harness.log` and each node's
//! folder with its log. `store/<test>/latest` and `store/latest` point at the newest
//! run.
//!
//! A running harness marks its run with `harness.pid` (its pid and start time); a
//! loopback host keeps `node-pids.json` (pid and command line per node) up to date.
//! A harness killed with SIGKILL leaves both behind, and its node processes running;
//! the next run's [`Store::sweep_leftovers`] finds such runs, kills their node
//! processes (only those whose command line still carries the run's marker, so a
//! reused pid is never hit), removes their data dirs and the marker.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::node_host::{NodeProcess, NodeSignal, pid_alive, pid_cmdline, signal_pid};
use crate::options::TestArgs;

/// The run directory's files (their names are the results crate's: it owns the
/// layout).
pub use results::run_dir::{
    HARNESS_LOG, HARNESS_PID_FILE as HARNESS_PID, HISTORY, NODE_PIDS, RESULTS_JSON, TEST_JSON,
};

/// `test.json`: every option of the run (its seed resolved), the versions, where the
/// nodes were, the checker and the fault schedule.
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

impl TestRecord {
    /// Reads `test.json` of a run directory (the error says what is wrong).
    pub fn read(dir: &Path) -> Result<TestRecord, String> {
        let path = dir.join(TEST_JSON);
        let text = fs::read_to_string(&path).map_err(|e| {
            format!("{}: not a run directory (cannot read {TEST_JSON}: {e})", dir.display())
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The root of the store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Who runs a run: enough to tell a live harness from a dead one whose pid was reused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct HarnessMark {
    pid: u32,
    /// Field 22 of /proc/PID/stat (clock ticks since boot).
    start_time: u64,
}

fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    stat.rsplit(')').next()?.split_whitespace().nth(19)?.parse().ok()
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates `root/<test>/<timestamp>/`, marks it as running and points the
    /// `latest` links at it.
    pub fn create_run(&self, test: &str) -> io::Result<RunDir> {
        let test_dir = self.root.join(test);
        fs::create_dir_all(&test_dir)?;
        let stamp = timestamp_utc(SystemTime::now());
        let mut name = stamp.clone();
        let mut n = 1;
        // Two runs in one millisecond (parallel runs): the later one gets a suffix.
        // create_dir is the arbiter, so concurrent runs never share a directory.
        let path = loop {
            let path = test_dir.join(&name);
            match fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    n += 1;
                    name = format!("{stamp}-{n}");
                }
                Err(e) => return Err(e),
            }
        };
        let me = std::process::id();
        let mark = HarnessMark { pid: me, start_time: process_start_time(me).unwrap_or(0) };
        fs::write(path.join(HARNESS_PID), serde_json::to_string(&mark).unwrap_or_default())?;
        relink(&test_dir.join("latest"), Path::new(&name))?;
        relink(&self.root.join("latest"), &Path::new(test).join(&name))?;
        Ok(RunDir { path })
    }

    /// Cleans up after runs whose harness died: kills their node processes, removes
    /// their data dirs and their running mark. Returns one line per run swept.
    pub fn sweep_leftovers(&self) -> Vec<String> {
        let mut swept = Vec::new();
        let Ok(tests) = fs::read_dir(&self.root) else { return swept };
        for test in tests.flatten() {
            if test.file_type().map(|t| !t.is_dir()).unwrap_or(true) {
                continue; // the `latest` link, stray files
            }
            let Ok(runs) = fs::read_dir(test.path()) else { continue };
            for run in runs.flatten() {
                if run.file_type().map(|t| t.is_dir()).unwrap_or(false)
                    && let Some(line) = sweep_run(&run.path())
                {
                    swept.push(line);
                }
            }
        }
        swept
    }
}

fn sweep_run(run: &Path) -> Option<String> {
    let mark_text = fs::read_to_string(run.join(HARNESS_PID)).ok()?;
    if let Ok(mark) = serde_json::from_str::<HarnessMark>(&mark_text) {
        let alive = pid_alive(mark.pid) && process_start_time(mark.pid) == Some(mark.start_time);
        if alive {
            return None; // a live run (possibly this very process)
        }
    }
    let procs: Vec<NodeProcess> = fs::read_to_string(run.join(NODE_PIDS))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut killed = Vec::new();
    for p in &procs {
        if pid_alive(p.pid) && pid_cmdline(p.pid).contains(&p.marker) {
            let _ = signal_pid(p.pid, NodeSignal::Kill);
            killed.push(format!("{} (pid {})", p.node, p.pid));
        }
    }
    // They are not our children: their new parent reaps them. Wait until they are gone
    // so that their ports are free.
    let deadline = Instant::now() + Duration::from_secs(5);
    while procs.iter().any(|p| pid_alive(p.pid) && pid_cmdline(p.pid).contains(&p.marker))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every node's data directory (`<run>/<node>/data`): the dead run made them.
    for node in fs::read_dir(run).into_iter().flatten().flatten() {
        let data = node.path().join("data");
        if node.file_type().is_ok_and(|t| t.is_dir()) && data.is_dir() {
            let _ = fs::remove_dir_all(data);
        }
    }
    let _ = fs::remove_file(run.join(NODE_PIDS));
    let _ = fs::remove_file(run.join(HARNESS_PID));
    let line = if killed.is_empty() {
        format!("{}: its harness died; no node process was left", run.display())
    } else {
        format!("{}: its harness died; killed {}", run.display(), killed.join(", "))
    };
    let _ = fs::OpenOptions::new().append(true).open(run.join(HARNESS_LOG)).and_then(|mut f| {
        io::Write::write_all(&mut f, format!("swept by a later run: {line}\n").as_bytes())
    });
    Some(line)
}

/// Points `link` at `target` atomically (a new link renamed over the old one).
fn relink(link: &Path, target: &Path) -> io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = link.with_extension(format!("tmp{}-{n}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link)
}

/// One run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn open(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The store root this run lives in (`<root>/<test>/<run>`).
    pub fn store_root(&self) -> Option<PathBuf> {
        Some(self.path.parent()?.parent()?.to_path_buf())
    }

    /// Writes a JSON file of the run (pretty, via a rename so it is never half there).
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        let tmp = self.path.join(format!(".{name}.tmp"));
        fs::write(&tmp, text + "\n")?;
        fs::rename(tmp, self.file(name))
    }

    /// The run ended (however): drop the running mark.
    pub fn finish(&self) {
        let _ = fs::remove_file(self.file(HARNESS_PID));
    }
}

/// `20261126T161500.123Z`: sortable, no characters a shell or a file system minds.
pub fn timestamp_utc(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_dates() {
        assert_eq!(timestamp_utc(UNIX_EPOCH), "19700101T000000.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_706_154_321);
        assert_eq!(timestamp_utc(t), "20261126T151554.321Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp_utc(leap), "20000229T000000.000Z");
    }

    #[test]
    fn runs_get_latest_links_and_live_runs_are_not_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let a = store.create_run("etcd-register").unwrap();
        let b = store.create_run("etcd-register").unwrap();
        assert_ne!(a.path, b.path);
        let latest = fs::canonicalize(dir.path().join("etcd-register/latest")).unwrap();
        assert_eq!(latest, fs::canonicalize(&b.path).unwrap());
        let top = fs::canonicalize(dir.path().join("latest")).unwrap();
        assert_eq!(top, fs::canonicalize(&b.path).unwrap());
        // Both runs belong to this live process: nothing to sweep.
        assert!(store.sweep_leftovers().is_empty());
        assert!(a.file(HARNESS_PID).exists());
    }

    #[test]
    fn a_dead_runs_node_processes_are_killed_only_when_the_marker_matches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let run = store.create_run("t").unwrap();
        // Pretend the harness was a process that is gone.
        fs::write(run.file(HARNESS_PID), r#"{"pid":4000000,"start_time":1}"#).unwrap();
        let marker_dir = run.path.join("n1/data");
        fs::create_dir_all(&marker_dir).unwrap();
        // A "node" whose command line is the marker, and a bystander that is not.
        let mut node = std::process::Command::new("sh")
            // `; true` keeps sh from exec-ing sleep in its place (dash does that for a
            // lone command), which would change the command line.
            .args(["-c", "sleep 30; true", marker_dir.to_str().unwrap()])
            .spawn()
            .unwrap();
        let marker = format!("sh -c sleep 30; true {}", marker_dir.display());
        let mut bystander = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let procs = vec![
            NodeProcess { node: "n1".into(), pid: node.id(), marker },
            NodeProcess { node: "n2".into(), pid: bystander.id(), marker: "/nowhere/n2".into() },
        ];
        fs::write(run.file(NODE_PIDS), serde_json::to_string(&procs).unwrap()).unwrap();
        let swept = store.sweep_leftovers();
        assert_eq!(swept.len(), 1, "{swept:?}");
        assert!(swept[0].contains("n1") && !swept[0].contains("n2"), "{swept:?}");
        assert!(node.wait().is_ok()); // it was killed, so wait returns
        assert!(bystander.try_wait().unwrap().is_none(), "the bystander must live");
        let _ = bystander.kill();
        let _ = bystander.wait();
        assert!(!marker_dir.exists());
        assert!(!run.file(HARNESS_PID).exists());
        assert!(store.sweep_leftovers().is_empty());
    }
}
