//! What a person watching sees: an indicatif progress line (elapsed, ops/s, ok /
//! fail / info, phase, active fault) when stderr is a terminal, and the harness log
//! (`harness.log` in the run directory), whose lines also go to stderr when there is
//! no progress line (CI logs).

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runtime::control::Stats;

/// The harness log of one run.
pub struct RunLog {
    file: Mutex<Option<File>>,
    started: Instant,
    bar: Mutex<Option<ProgressBar>>,
    /// Echo lines to stderr (off in tests and benchmarks).
    echo: bool,
}

impl RunLog {
    /// Appends to `path` (or only echoes, with `None`).
    pub fn open(path: Option<&Path>, echo: bool) -> std::io::Result<RunLog> {
        let file = match path {
            Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
            None => None,
        };
        Ok(RunLog { file: Mutex::new(file), started: Instant::now(), bar: Mutex::new(None), echo })
    }

    pub fn line(&self, message: &str) {
        let text = format!("[{:>8.3}s] {message}", self.started.elapsed().as_secs_f64());
        if let Some(f) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let _ = writeln!(f, "{text}");
        }
        if self.echo {
            match self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                Some(bar) => bar.println(&text),
                None => eprintln!("{text}"),
            }
        }
    }
}

/// The live progress line; drawn only on a terminal.
pub struct Progress {
    ticker: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts the line when stderr is a terminal and `enabled`; otherwise does nothing.
    pub fn start(stats: Arc<Stats>, log: &RunLog, enabled: bool) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { ticker: None, bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        *log.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let c = stats.counts();
                let done = c.ok + c.fail + c.info;
                let now = Instant::now();
                let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, done);
                let fault = stats.fault().unwrap_or_else(|| "none".into());
                ticking.set_message(format!(
                    "{} | {rate:>7.0} ops/s | ok {} fail {} info {} | fault: {fault}",
                    stats.phase(),
                    c.ok,
                    c.fail,
                    c.info
                ));
                ticking.tick();
            }
        });
        Progress { ticker: Some(ticker), bar: Some(bar) }
    }

    pub fn finish(self, log: &RunLog) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        *log.bar.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
