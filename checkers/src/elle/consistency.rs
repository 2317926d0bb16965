//! Consistency models and anomalies, as Elle relates them: which anomalies imply
//! which, which models imply which, which anomalies each model forbids, and from
//! those the verdict's vocabulary (what a set of models prohibits, which models a
//! set of anomalies rules out, the weakest of those).
//!
//! The tables are facts from the literature as collected in Elle's
//! `elle.consistency-model` (Kingsbury & Alvaro, "Elle: Inferring Isolation
//! Anomalies from Experimental Observations", VLDB 2020; sources there: Adya's
//! thesis and "Generalized Isolation Level Definitions", Bailis et al.'s "Highly
//! Available Transactions", Cerone et al., Daudjee & Salem, Fekete et al.). Model
//! names have canonical forms (`serializable` is `PL-3`, `strict-serializable` and
//! `strong-serializable` are `PL-SS`, ...) and are printed with the friendly name
//! Elle prints (`PL-SS` prints as `strong-serializable`).
//!
//! Elle's choices are kept: "serializable" means conflict serializability, and
//! snapshot isolation forbids G-nonadjacent (generalized SI forbids any cycle whose
//! anti-dependency edges are all non-adjacent). The tables follow Elle as of its
//! `update-atomic` model (Cerone et al.; parallel snapshot isolation implies it).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

/// `a -> b`: anomaly `a` is also an instance of `b` (G0 is a G1c, a process
/// anomaly is also a realtime one because processes are single-threaded, ...).
const IMPLIED: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    ("G-single-item", &["G-single", "G-single-item-process", "G-nonadjacent-item"]),
    (
        "G-single-item-process",
        &["G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"],
    ),
    ("G-single-item-realtime", &["G-single-realtime", "G-nonadjacent-item-realtime"]),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    ("G-single-process", &["G-nonadjacent-process", "G-single-realtime"]),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    ("G-nonadjacent-item", &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"]),
    (
        "G-nonadjacent-item-process",
        &["G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"],
    ),
    ("G-nonadjacent-item-realtime", &["G2-item-realtime", "G-nonadjacent-realtime"]),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    ("G-nonadjacent-process", &["G2-process", "G-nonadjacent-realtime"]),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    // Two committed reads that cannot come from one order of appends: a dirty read.
    ("incompatible-order", &["G1a"]),
    // A read of one's own later write: a trivial wr cycle.
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    // Lost update is write skew on one key (Bailis), hence also G2-item.
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Elle's extra "worse than" order (G0 before G-single, ...), used only to order
/// the cycle searches by severity.
const SEVERITY: &[(&str, &[&str])] = &[
    ("G0", &["G1c"]),
    ("G0-process", &["G1c-process"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1c", &["G-single", "G2-item"]),
    ("G1c-process", &["G-single-process", "G2-item-process"]),
    ("G1c-realtime", &["G-single-realtime", "G2-item-realtime"]),
    ("G2", &["G0-process"]),
    ("G2-process", &["G0-realtime"]),
];

/// Friendly model names and their canonical (Adya) forms.
const CANONICAL: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// `a -> b`: a history satisfying model `a` satisfies `b` (names as written here;
/// canonicalised when the graph is built).
const MODELS: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("consistent-view", &["cursor-stability", "monotonic-view"]),
    ("conflict-serializable", &["view-serializable"]),
    ("cursor-stability", &["read-committed", "PL-2"]),
    ("forward-consistent-view", &["consistent-view"]),
    ("PL-2", &["PL-1"]),
    ("PL-3", &["repeatable-read", "update-serializable"]),
    ("update-serializable", &["forward-consistent-view"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("monotonic-view", &["PL-2"]),
    ("monotonic-snapshot-read", &["PL-2"]),
    // ROLA, which in fact provides update atomicity.
    ("parallel-snapshot-isolation", &["causal-cerone", "update-atomic"]),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("read-committed", &["read-uncommitted"]),
    ("repeatable-read", &["cursor-stability", "monotonic-atomic-view"]),
    ("update-atomic", &["read-atomic"]),
    ("serializable", &["repeatable-read", "snapshot-isolation", "view-serializable"]),
    ("session-serializable", &["1SR"]),
    (
        "snapshot-isolation",
        &[
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "strict-serializable",
        &[
            "PL-3",
            "serializable",
            "linearizable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    ("strong-session-serializable", &["serializable", "strong-session-snapshot-isolation"]),
    ("strong-session-snapshot-isolation", &["snapshot-isolation", "strong-session-PL-2"]),
    ("strong-serializable", &["session-serializable"]),
    ("strong-snapshot-isolation", &["strong-session-snapshot-isolation", "strong-PL-2"]),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    ("PRAM", &["monotonic-reads", "monotonic-writes", "read-your-writes"]),
];

/// The anomalies each model forbids directly (over the models it implies).
const PROSCRIBED: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("cursor-stability", &["G1", "G-cursor", "lost-update"]),
    ("monotonic-view", &["G1", "G-monotonic"]),
    ("monotonic-snapshot-read", &["G1", "G-MSR"]),
    ("consistent-view", &["G1", "G-single"]),
    ("forward-consistent-view", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    ("PL-3", &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"]),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    ("PL-1", &["G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"]),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    ("snapshot-isolation", &["internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"]),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    ("repeatable-read", &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"]),
    ("update-atomic", &["lost-update"]),
    ("strict-serializable", &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"]),
    ("strong-session-PL-1", &["strong-session-PL-1-cycle-exists", "G0-process"]),
    ("strong-session-PL-2", &["strong-session-PL-2-cycle-exists", "G1c-process"]),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-snapshot-isolation",
        &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-session-serializable",
        &["G1-process", "G2-process", "strong-session-serializable-cycle-exists"],
    ),
    ("update-serializable", &["G1", "G-update"]),
];

/// The models faultline names when it says which models a history still may
/// satisfy: the transactional ones people ask for (`faultline elle -c` accepts any
/// model in [`all_models`]).
pub const WELL_KNOWN: &[&str] = &[
    "strict-serializable",
    "serializable",
    "strong-snapshot-isolation",
    "strong-session-serializable",
    "strong-session-snapshot-isolation",
    "snapshot-isolation",
    "repeatable-read",
    "strong-read-committed",
    "strong-session-read-committed",
    "read-committed",
    "strong-read-uncommitted",
    "strong-session-read-uncommitted",
    "read-uncommitted",
];

type Adjacency = HashMap<&'static str, Vec<&'static str>>;

struct Tables {
    implied_out: Adjacency,
    implied_in: Adjacency,
    models_out: Adjacency,
    models_in: Adjacency,
    proscribed_out: Adjacency,
    proscribed_in: Adjacency,
    all_models: BTreeSet<&'static str>,
    depth: HashMap<&'static str, usize>,
}

fn link(out: &mut Adjacency, inn: &mut Adjacency, a: &'static str, b: &'static str) {
    let o = out.entry(a).or_default();
    if !o.contains(&b) {
        o.push(b);
    }
    let i = inn.entry(b).or_default();
    if !i.contains(&a) {
        i.push(a);
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            implied_out: HashMap::new(),
            implied_in: HashMap::new(),
            models_out: HashMap::new(),
            models_in: HashMap::new(),
            proscribed_out: HashMap::new(),
            proscribed_in: HashMap::new(),
            all_models: BTreeSet::new(),
            depth: HashMap::new(),
        };
        for (a, bs) in IMPLIED {
            for b in *bs {
                link(&mut t.implied_out, &mut t.implied_in, a, b);
            }
        }
        for (a, bs) in MODELS {
            let a = canonical(a);
            t.all_models.insert(a);
            for b in *bs {
                let b = canonical(b);
                t.all_models.insert(b);
                link(&mut t.models_out, &mut t.models_in, a, b);
            }
        }
        for (friendly, canon) in CANONICAL {
            t.all_models.insert(friendly);
            t.all_models.insert(canon);
        }
        for (m, anomalies) in PROSCRIBED {
            for a in *anomalies {
                link(&mut t.proscribed_out, &mut t.proscribed_in, canonical(m), a);
            }
        }
        t.depth = depths();
        t
    })
}

/// Kahn levels of the implication and severity graphs together (a vertex no other
/// points to has depth 0), and depth 0 for every other anomaly a model forbids:
/// searches run in this order, most severe first.
fn depths() -> HashMap<&'static str, usize> {
    let mut out: Adjacency = HashMap::new();
    let mut indegree: HashMap<&'static str, usize> = HashMap::new();
    for (a, bs) in IMPLIED.iter().chain(SEVERITY) {
        indegree.entry(a).or_insert(0);
        for b in *bs {
            let o = out.entry(a).or_default();
            if !o.contains(b) {
                o.push(b);
                *indegree.entry(b).or_insert(0) += 1;
            }
        }
    }
    let mut depth = HashMap::new();
    let mut level: Vec<&'static str> =
        indegree.iter().filter(|(_, d)| **d == 0).map(|(v, _)| *v).collect();
    let mut d = 0;
    while !level.is_empty() {
        let mut next = Vec::new();
        for v in &level {
            depth.insert(*v, d);
            for w in out.get(v).into_iter().flatten() {
                if let Some(n) = indegree.get_mut(w) {
                    *n -= 1;
                    if *n == 0 {
                        next.push(*w);
                    }
                }
            }
        }
        level = next;
        d += 1;
    }
    for (_, anomalies) in PROSCRIBED {
        for a in *anomalies {
            depth.entry(a).or_insert(0);
        }
    }
    depth
}

/// The canonical name of a model (`serializable` -> `PL-3`); unknown names are
/// returned as they are.
pub fn canonical(model: &str) -> &'static str {
    let found = CANONICAL.iter().find(|(f, _)| *f == model).map(|(_, c)| *c);
    found.unwrap_or_else(|| intern(model))
}

/// The name Elle prints for a model (`PL-3` -> `serializable`, `PL-SS` ->
/// `strong-serializable`).
pub fn friendly(model: &str) -> &'static str {
    match model {
        "PL-3" => "serializable",
        "PL-SS" => "strong-serializable",
        other => CANONICAL
            .iter()
            .find(|(_, c)| *c == other)
            .map(|(f, _)| *f)
            .unwrap_or_else(|| intern(other)),
    }
}

/// Names outside the tables (only those a user typed) as `'static`: looked up in
/// the tables first, leaked once otherwise.
fn intern(name: &str) -> &'static str {
    static EXTRA: OnceLock<std::sync::Mutex<HashSet<&'static str>>> = OnceLock::new();
    let t = tables_names();
    if let Some(n) = t.get(name) {
        return n;
    }
    let extra = EXTRA.get_or_init(Default::default);
    let mut guard = extra.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = guard.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    guard.insert(leaked);
    leaked
}

/// Every name in the static tables.
fn tables_names() -> &'static HashSet<&'static str> {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut s = HashSet::new();
        for table in [IMPLIED, SEVERITY, MODELS, PROSCRIBED] {
            for (a, bs) in table {
                s.insert(*a);
                s.extend(bs.iter().copied());
            }
        }
        for (a, b) in CANONICAL {
            s.insert(*a);
            s.insert(*b);
        }
        s
    })
}

/// Every model name Elle knows (friendly and canonical).
pub fn all_models() -> &'static BTreeSet<&'static str> {
    &tables().all_models
}

/// The first unknown model among `models`, if any.
pub fn unknown_model<'a>(models: &[&'a str]) -> Option<&'a str> {
    models.iter().copied().find(|m| !all_models().contains(m))
}

fn bfs(adj: &Adjacency, start: impl IntoIterator<Item = &'static str>) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<&'static str> = start.into_iter().collect();
    while let Some(v) = queue.pop_front() {
        if seen.insert(v) {
            queue.extend(adj.get(v).into_iter().flatten().copied());
        }
    }
    seen
}

fn statics<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    names.into_iter().map(intern).collect()
}

/// The anomalies that imply any of `anomalies` (themselves included).
pub fn anomalies_implying<'a>(
    anomalies: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'static str> {
    bfs(&tables().implied_in, statics(anomalies))
}

/// The anomalies implied by `anomalies` (themselves included).
pub fn implied_anomalies<'a>(
    anomalies: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'static str> {
    bfs(&tables().implied_out, statics(anomalies))
}

/// Every model implied by `models` (themselves included), canonical.
pub fn implied_models<'a>(models: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    bfs(&tables().models_out, models.into_iter().map(canonical))
}

/// Every model that implies one of `models` (themselves included), canonical: if
/// those are impossible, so are these.
pub fn impossible_models<'a>(models: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    bfs(&tables().models_in, models.into_iter().map(canonical))
}

/// The anomalies that cannot be present if every one of `models` holds.
pub fn prohibited_by<'a>(models: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    let t = tables();
    let direct: Vec<&'static str> = implied_models(models)
        .into_iter()
        .flat_map(|m| t.proscribed_out.get(m).into_iter().flatten().copied())
        .collect();
    anomalies_implying(direct)
}

/// The models (canonical) that cannot hold when `anomalies` are present.
pub fn ruled_out_by<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'static str> {
    let t = tables();
    let direct: Vec<&'static str> = implied_anomalies(anomalies)
        .into_iter()
        .flat_map(|a| t.proscribed_in.get(a).into_iter().flatten().copied())
        .collect();
    impossible_models(direct)
}

/// Of `models`, those not implied by another of them (the weakest).
pub fn weakest(models: &BTreeSet<&'static str>) -> BTreeSet<&'static str> {
    most(models, &tables().models_out)
}

/// Of `models`, those that imply no other of them... the strongest: those not
/// implied by another of them.
pub fn strongest(models: &BTreeSet<&'static str>) -> BTreeSet<&'static str> {
    most(models, &tables().models_in)
}

fn most(models: &BTreeSet<&'static str>, dir: &Adjacency) -> BTreeSet<&'static str> {
    let mut kept: BTreeSet<&'static str> = models.iter().map(|m| canonical(m)).collect();
    for m in models.iter().map(|m| canonical(m)) {
        let reach = bfs(dir, [m]);
        if kept.iter().any(|other| *other != m && reach.contains(other)) {
            kept.remove(m);
        }
    }
    kept
}

/// Elle's boundary, in friendly names: the weakest models the anomalies rule out
/// (`not`) and the other, stronger, models they rule out (`also-not`).
pub fn boundary<'a>(
    anomalies: impl IntoIterator<Item = &'a str>,
) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let impossible = ruled_out_by(anomalies);
    let not = weakest(&impossible);
    let also_not = impossible.iter().filter(|m| !not.contains(*m)).copied().collect::<Vec<_>>();
    (not.iter().map(|m| friendly(m)).collect(), also_not.iter().map(|m| friendly(m)).collect())
}

/// Of the [`WELL_KNOWN`] models, the strongest that `anomalies` do not rule out.
pub fn strongest_possible<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let impossible = ruled_out_by(anomalies);
    let possible: BTreeSet<&'static str> =
        WELL_KNOWN.iter().map(|m| canonical(m)).filter(|m| !impossible.contains(m)).collect();
    let strong = strongest(&possible);
    WELL_KNOWN.iter().copied().filter(|m| strong.contains(canonical(m))).collect()
}

/// Orders anomalies as Elle searches them: by depth, then by name.
pub fn depth_order(a: &str, b: &str) -> std::cmp::Ordering {
    let t = tables();
    let da = t.depth.get(a).copied().unwrap_or(0);
    let db = t.depth.get(b).copied().unwrap_or(0);
    da.cmp(&db).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_serializable_forbids_realtime_cycles_and_everything_serializable_does() {
        let p = prohibited_by(["strict-serializable"]);
        for a in [
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "G-single-item",
            "G-single-item-realtime",
            "G2-item",
            "G2-item-realtime",
            "G0-realtime",
            "internal",
            "lost-update",
            "incompatible-order",
            "duplicate-elements",
            "cyclic-versions",
            "dirty-update",
            "future-read",
            "PL-SS-cycle-exists",
        ] {
            assert!(p.contains(a), "{a} not prohibited by strict-serializable");
        }
        let ser = prohibited_by(["serializable"]);
        assert!(ser.contains("G2-item") && !ser.contains("G-single-item-realtime"));
        let si = prohibited_by(["snapshot-isolation"]);
        assert!(si.contains("G-single-item") && !si.contains("G2-item"));
        let rc = prohibited_by(["read-committed"]);
        assert!(rc.contains("G1c") && rc.contains("G1a") && !rc.contains("G-single-item"));
        let ru = prohibited_by(["read-uncommitted"]);
        assert!(ru.contains("G0") && !ru.contains("G1c") && !ru.contains("G1a"));
        assert!(prohibited_by(Vec::<&str>::new()).is_empty());
    }

    /// The boundaries Elle prints for the anomalies in elle-cli's test results.
    #[test]
    fn boundaries_match_elle() {
        let (not, also) = boundary(["G-single-item"]);
        assert_eq!(not, BTreeSet::from(["consistent-view", "repeatable-read"]));
        assert_eq!(
            also,
            BTreeSet::from([
                "forward-consistent-view",
                "serializable",
                "snapshot-isolation",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "update-serializable",
            ])
        );
        let (not, also) = boundary(["G2-item", "strong-snapshot-isolation-cycle-exists"]);
        assert_eq!(not, BTreeSet::from(["repeatable-read", "strong-snapshot-isolation"]));
        assert_eq!(
            also,
            BTreeSet::from(["serializable", "strong-serializable", "strong-session-serializable"])
        );
    }

    #[test]
    fn names_and_orders() {
        assert_eq!(canonical("serializable"), "PL-3");
        assert_eq!(friendly("PL-3"), "serializable");
        assert_eq!(friendly("PL-SS"), "strong-serializable");
        assert_eq!(friendly("PL-2"), "read-committed");
        assert!(unknown_model(&["serializable", "bogus"]) == Some("bogus"));
        assert!(all_models().contains("strong-session-snapshot-isolation"));
        assert_eq!(depth_order("G0", "G1c"), std::cmp::Ordering::Less);
        assert_eq!(depth_order("G1c", "G2-item"), std::cmp::Ordering::Less);
        assert_eq!(
            strongest_possible(["G2-item"]),
            vec!["strong-snapshot-isolation"],
            "SI and stronger SI variants allow G2-item"
        );
        assert_eq!(strongest_possible(Vec::<&str>::new()), vec!["strict-serializable"]);
    }
}
