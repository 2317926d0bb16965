//! `faultline list [--json]`: what a run can be made of, read from the registries
//! (so the listing cannot drift from the code): systems with their capabilities,
//! workloads with the APIs they need and the systems that run them, nemeses (fault
//! families) with what they need, checkers and models, and bug switches.

use serde::Serialize;
use workloads::WorkloadDef;

use crate::controller::Registry;
use crate::exit::{CmdResult, Exit, Failure};
use crate::system::{ClockMethod, MembershipMethod, Nodes, SystemDef};

/// The registries, as `faultline list --json` prints them.
#[derive(Debug, Serialize)]
pub struct Listing {
    systems: Vec<SystemEntry>,
    workloads: Vec<WorkloadEntry>,
    nemeses: Vec<Entry>,
    checkers: Vec<Entry>,
    bug_switches: Vec<BugEntry>,
}

#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    summary: String,
}

#[derive(Debug, Serialize)]
struct SystemEntry {
    name: &'static str,
    summary: &'static str,
    apis: Vec<&'static str>,
    read_modes: Vec<&'static str>,
    clock: String,
    /// Whether members can be removed and added back (the membership nemesis).
    membership: String,
    /// Whether it has node processes the nemesis can fault.
    faultable: bool,
    /// The lock leases' default TTL in seconds when `--lease-ttl` can set it.
    lease_ttl: Option<u64>,
    workloads: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct WorkloadEntry {
    name: &'static str,
    summary: &'static str,
    needs: Vec<&'static str>,
    checker: &'static str,
    systems: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct BugEntry {
    system: &'static str,
    name: &'static str,
    summary: &'static str,
}

fn clock(method: ClockMethod) -> String {
    match method {
        ClockMethod::Libfaketime => "libfaketime".into(),
        ClockMethod::Injected => "injected".into(),
        ClockMethod::Unsupported(why) => format!("unsupported ({why})"),
    }
}

fn membership(method: MembershipMethod) -> String {
    match method {
        MembershipMethod::Supported => "supported".into(),
        MembershipMethod::Unsupported(why) => format!("unsupported ({why})"),
    }
}

fn runs(system: &SystemDef, workload: &WorkloadDef) -> bool {
    system.lacks(workload.needs).is_none()
}

/// What `registry` offers, as `faultline list` prints it.
pub fn listing(registry: &Registry) -> Listing {
    let systems = registry
        .systems
        .iter()
        .map(|s| SystemEntry {
            name: s.name,
            summary: s.summary,
            apis: s.caps.apis.iter().map(|a| a.name()).collect(),
            read_modes: s.caps.read_modes.iter().map(|m| m.name()).collect(),
            clock: clock(s.caps.clock),
            membership: membership(s.caps.membership),
            faultable: s.caps.nodes == Nodes::Processes,
            lease_ttl: s.caps.lease_ttl,
            workloads: registry.workloads.iter().filter(|w| runs(s, w)).map(|w| w.name).collect(),
        })
        .collect();
    let workloads = registry
        .workloads
        .iter()
        .map(|w| WorkloadEntry {
            name: w.name,
            summary: w.summary,
            needs: w.needs.iter().map(|a| a.name()).collect(),
            checker: w.checker,
            systems: registry.systems.iter().filter(|s| runs(s, w)).map(|s| s.name).collect(),
        })
        .collect();
    let nemeses = registry
        .faults
        .families()
        .iter()
        .map(|f| Entry {
            name: f.name().into(),
            summary: format!("{} (needs {})", f.summary(), f.needs()),
        })
        .collect();
    let checkers = registry
        .checkers
        .iter()
        .map(|c| Entry { name: c.name.into(), summary: c.summary.into() })
        .collect();
    let bug_switches = registry
        .systems
        .iter()
        .flat_map(|s| {
            s.caps.bugs.iter().map(|b| BugEntry {
                system: s.name,
                name: b.name,
                summary: b.summary,
            })
        })
        .collect();
    Listing { systems, workloads, nemeses, checkers, bug_switches }
}

fn print_text(l: &Listing) {
    let width = 22;
    println!("systems (--system):");
    for s in &l.systems {
        println!("  {:width$}{}", s.name, s.summary);
        println!(
            "  {:width$}apis: {}; read modes: {}; clock: {}; membership: {}; faults: {}{}",
            "",
            s.apis.join(", "),
            s.read_modes.join(", "),
            s.clock,
            s.membership,
            if s.faultable { "yes" } else { "none (no node processes)" },
            s.lease_ttl
                .map(|t| format!("; lock lease TTL: {t} s (--lease-ttl)"))
                .unwrap_or_default()
        );
        println!("  {:width$}workloads: {}", "", s.workloads.join(", "));
    }
    println!("\nworkloads (--workload):");
    for w in &l.workloads {
        println!("  {:width$}{}", w.name, w.summary);
        println!(
            "  {:width$}needs: {}; checker: {}; systems: {}",
            "",
            w.needs.join(", "),
            w.checker,
            w.systems.join(", ")
        );
    }
    println!("\nnemeses (--nemesis; `all`: every one the run supports):");
    for n in &l.nemeses {
        println!("  {:width$}{}", n.name, n.summary);
    }
    println!(
        "  {:width$}--targets {}; --partitions {} (one-way-SHAPE: one direction)",
        "",
        nemesis::schedule::Target::names().join(","),
        crate::lab_nemesis::shape_names().join(",")
    );
    println!("\ncheckers and models (check --model):");
    for c in &l.checkers {
        println!("  {:width$}{}", c.name, c.summary);
    }
    println!("\nbug switches (--node-bug):");
    for b in &l.bug_switches {
        println!("  {:width$}{} ({})", b.name, b.summary, b.system);
    }
}

/// Prints the listing of `registry`, as text or as JSON.
pub fn list(registry: &Registry, json: bool) -> CmdResult {
    let l = listing(registry);
    if json {
        let text = serde_json::to_string_pretty(&l).map_err(Failure::crash)?;
        println!("{text}");
    } else {
        print_text(&l);
    }
    Ok(Exit::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: `faultline list` says which system runs which coordination workload
    /// (read from the APIs each needs), and which system's lock lease `--lease-ttl`
    /// sets.
    #[test]
    fn systems_list_their_coordination_workloads_and_lease_ttl() {
        let l = listing(&Registry::default());
        let system = |name: &str| {
            l.systems.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name}"))
        };
        let coordination = ["lock", "watch", "election", "discovery", "membership"];
        let runs = |name: &str| -> Vec<&str> {
            coordination.iter().copied().filter(|w| system(name).workloads.contains(w)).collect()
        };
        assert_eq!(runs("builtin"), coordination);
        assert_eq!(runs("etcd"), ["lock", "watch", "election"]);
        assert!(runs("memory").is_empty());
        let workload = |name: &str| l.workloads.iter().find(|w| w.name == name).unwrap();
        assert_eq!(workload("discovery").systems, ["builtin"]);
        assert_eq!(workload("watch").systems, ["builtin", "etcd"]);
        assert_eq!(system("etcd").lease_ttl, Some(crate::systems::etcd_lock::LOCK_TTL_S));
        assert_eq!(system("builtin").lease_ttl, None);
    }
}
