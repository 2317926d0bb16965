//! What a run was: system, workload, nemesis, seed and the command that replays it,
//! read tolerantly from `test.json` (top-level fields or under `args`, as different
//! versions of the harness wrote them; anything missing is simply not shown).

use std::path::Path;

use serde_json::Value as Json;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestSummary {
    pub name: Option<String>,
    pub system: Option<String>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    pub seed: Option<String>,
    pub started_at: Option<String>,
    /// Commands that reproduce the run, best first.
    pub replay: Vec<String>,
}

/// A field at the top level or under `args`, rendered as text (arrays joined).
fn field(test: &Json, name: &str) -> Option<String> {
    let v = test.get(name).or_else(|| test.get("args").and_then(|a| a.get(name)))?;
    text(v)
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        other => Some(other.to_string()),
    }
}

/// Quotes an argument for a POSIX shell when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

impl TestSummary {
    pub fn from_test(test: &Json, run_dir: Option<&Path>) -> TestSummary {
        let mut s = TestSummary {
            name: field(test, "name"),
            system: field(test, "system"),
            workload: field(test, "workload"),
            nemesis: field(test, "nemesis"),
            seed: field(test, "seed"),
            started_at: field(test, "started_at").or_else(|| field(test, "start-time")),
            replay: Vec::new(),
        };
        if let Some(cmd) = field(test, "replay") {
            s.replay.push(cmd);
        }
        if let Some(dir) = run_dir {
            s.replay.push(format!("faultline replay {}", shell_quote(&dir.display().to_string())));
        }
        // The original command line with its seed made explicit.
        if let Some(Json::Array(argv)) = test.get("argv") {
            let mut args: Vec<String> = argv.iter().filter_map(text).collect();
            if !args.is_empty() {
                if let Some(seed) = &s.seed
                    && !args.iter().any(|a| a == "--seed" || a.starts_with("--seed="))
                {
                    args.push("--seed".into());
                    args.push(seed.clone());
                }
                if let Some(first) = args.first_mut()
                    && let Some(base) = Path::new(first.as_str()).file_name()
                {
                    *first = base.to_string_lossy().into_owned();
                }
                s.replay.push(args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_args_and_builds_replay_commands() {
        let t = json!({
            "name": "etcd-register", "seed": 42,
            "args": {"system": "etcd", "workload": "register", "nemesis": ["kill", "pause"]},
            "argv": ["/usr/bin/faultline", "test", "--nemesis", "kill,pause", "--name", "a b"]
        });
        let s = TestSummary::from_test(&t, Some(Path::new("store/x/1")));
        assert_eq!(s.system.as_deref(), Some("etcd"));
        assert_eq!(s.nemesis.as_deref(), Some("kill,pause"));
        assert_eq!(s.seed.as_deref(), Some("42"));
        assert_eq!(s.replay[0], "faultline replay store/x/1");
        assert_eq!(s.replay[1], "faultline test --nemesis kill,pause --name 'a b' --seed 42");
        assert_eq!(TestSummary::from_test(&Json::Null, None), TestSummary::default());
    }
}
