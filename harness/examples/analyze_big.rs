//! Measures the analysis of one history file, for `/usr/bin/time -v` (peak memory)
//! and wall time: `cargo run --release -p harness --example analyze_big -- FILE
//! [streamed|whole] [CHECKER]`. `streamed` is `analysis::analyze_file` (what
//! `faultline test` and `analyze` run); `whole` is the path before streaming: read
//! the whole file, lint it, check the linted history. Issue 12's target: the
//! 10 M-entry history of `faultline test --system memory --rate 0 --concurrency 100
//! --time-limit 5` in <= 20 s and <= 2 GB.

use std::path::Path;
use std::time::Instant;

use harness::analysis;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), mode) = (args.first(), args.get(1).map_or("streamed", String::as_str)) else {
        eprintln!("usage: analyze_big FILE [streamed|whole] [CHECKER]");
        std::process::exit(2);
    };
    let name = args.get(2).map_or("cas-register", String::as_str);
    let def = match checkers::registry::by_name(name) {
        Ok(def) => def,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let path = Path::new(file);
    let start = Instant::now();
    let result = match mode {
        "streamed" => analysis::analyze_file(path, def),
        "whole" => history::read_path(path, Some(history::Format::Jsonl))
            .map_err(|e| e.to_string())
            .and_then(|r| r.history.lint().map_err(|e| e.to_string()))
            .map_err(harness::exit::Failure::bad_input)
            .and_then(|linted| analysis::analyze(&linted, def)),
        other => {
            eprintln!("unknown mode {other}: streamed or whole");
            std::process::exit(2);
        }
    };
    match result {
        Ok(a) => println!(
            "{mode}: {:.2} s, verdict {}, {} ops, {} keys, check {:.2} s",
            start.elapsed().as_secs_f64(),
            a.verdict,
            a.ops,
            a.keys,
            a.check_seconds
        ),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
