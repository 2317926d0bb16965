//! The lab's nftables table, in the switch namespace: every packet between two
//! nodes crosses the bridge, so one bridge-family table sees all of them.
//!
//! ```text
//! table bridge faultline {
//!   set blocked { type ipv4_addr . ipv4_addr; }     # the partition: directed pairs
//!   chain forward { type filter hook forward priority -10; policy accept;
//!     ether type ip6 drop                           # IPv4-only lab: no side door
//!     ip saddr . ip daddr @blocked drop
//!     jump loss }
//!   chain loss { ip saddr A ip daddr B numgen random mod 100 < P drop ... }
//! }
//! ```
//!
//! The lab is IPv4-only: the nodes' automatic IPv6 link-local addresses would
//! otherwise let a server listening on `[::]` talk around every IPv4 cut.
//!
//! Every change is one `nft -f -` script, which nftables applies as one
//! transaction: a partition appears (or heals) all at once, never link by link.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::error::Result;
use crate::exec;
use crate::lab::{client_addr, node_addr};
use crate::partition::Grudge;

const TABLE: &str = "bridge faultline";

/// Creates the (empty) table; part of building the lab.
pub fn install_base_table(switch_ns: &str) -> Result<()> {
    exec::nft_in(
        switch_ns,
        &format!(
            "table {TABLE} {{\n  set blocked {{\n    type ipv4_addr . ipv4_addr\n  }}\n  \
             chain loss {{\n  }}\n  chain forward {{\n    type filter hook forward priority -10; policy accept;\n    \
             ether type ip6 drop\n    ip saddr . ip daddr @blocked drop\n    jump loss\n  }}\n}}\n"
        ),
    )
}

/// The script that makes the blocked set exactly `grudge`.
pub fn partition_script(grudge: &Grudge) -> String {
    partition_script_with_clients(grudge, &BTreeSet::new())
}

/// Same, plus client cuts: `(client, node)` blocks both directions between
/// client namespace `client` and node `node`.
pub fn partition_script_with_clients(
    grudge: &Grudge,
    client_cuts: &BTreeSet<(usize, usize)>,
) -> String {
    let mut s = format!("flush set {TABLE} blocked\n");
    let pairs = grudge.blocked.iter().map(|&(src, dst)| (node_addr(src), node_addr(dst))).chain(
        client_cuts
            .iter()
            .flat_map(|&(c, n)| [(client_addr(c), node_addr(n)), (node_addr(n), client_addr(c))]),
    );
    let elems: Vec<String> = pairs.map(|(a, b)| format!("{a} . {b}")).collect();
    if !elems.is_empty() {
        let _ = writeln!(s, "add element {TABLE} blocked {{ {} }}", elems.join(", "));
    }
    s
}

/// The script that makes the loss chain exactly `loss` (directed link -> percent).
pub fn loss_script(loss: &BTreeMap<(usize, usize), u8>) -> String {
    let mut s = format!("flush chain {TABLE} loss\n");
    for (&(src, dst), &pct) in loss {
        let _ = writeln!(
            s,
            "add rule {TABLE} loss ip saddr {} ip daddr {} numgen random mod 100 < {pct} drop",
            node_addr(src),
            node_addr(dst)
        );
    }
    s
}

/// Applies a script in the switch namespace, atomically.
pub fn apply(switch_ns: &str, script: &str) -> Result<()> {
    exec::nft_in(switch_ns, script)
}

/// What the table holds now, as nft prints it (for `lab status`).
pub fn list(switch_ns: &str) -> Result<String> {
    exec::run(
        "ip",
        &["netns", "exec", switch_ns, "nft", "list", "table", "bridge", "faultline"],
        None,
    )
}

/// Reads the blocked set back from the kernel (for a lab attached from another
/// command, which holds no copy in memory).
pub fn read_partition(switch_ns: &str) -> Result<Grudge> {
    let text = exec::run(
        "ip",
        &["netns", "exec", switch_ns, "nft", "list", "set", "bridge", "faultline", "blocked"],
        None,
    )?;
    Ok(parse_set_elements(&text))
}

/// Parses `elements = { 198.18.0.1 . 198.18.0.2, ... }` from `nft list set`.
fn parse_set_elements(text: &str) -> Grudge {
    let mut g = Grudge::default();
    let Some(start) = text.find("elements = {") else { return g };
    let body = &text[start + "elements = {".len()..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    for elem in body.split(',') {
        let addrs: Vec<std::net::Ipv4Addr> =
            elem.split(" . ").filter_map(|a| a.trim().parse().ok()).collect();
        if let [a, b] = addrs.as_slice() {
            let (s, d) = (a.octets()[3] as usize, b.octets()[3] as usize);
            // Node addresses only: client cuts are not part of the node grudge.
            let node = 1..=crate::lab::MAX_NODES;
            if node.contains(&s) && node.contains(&d) {
                g.blocked.insert((s - 1, d - 1));
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_script_flushes_then_adds_in_one_batch() {
        let g = Grudge { blocked: BTreeSet::from([(0, 4), (4, 0)]) };
        assert_eq!(
            partition_script(&g),
            "flush set bridge faultline blocked\n\
             add element bridge faultline blocked { 198.18.0.1 . 198.18.0.5, 198.18.0.5 . 198.18.0.1 }\n"
        );
        assert_eq!(partition_script(&Grudge::default()), "flush set bridge faultline blocked\n");
        let cuts = BTreeSet::from([(0, 1)]);
        assert_eq!(
            partition_script_with_clients(&Grudge::default(), &cuts),
            "flush set bridge faultline blocked\n\
             add element bridge faultline blocked { 198.18.0.201 . 198.18.0.2, 198.18.0.2 . 198.18.0.201 }\n"
        );
    }

    #[test]
    fn set_listing_parses_back() {
        let text = "table bridge faultline {\n\tset blocked {\n\t\ttype ipv4_addr . ipv4_addr\n\t\t\
                    elements = { 198.18.0.1 . 198.18.0.5,\n\t\t\t     198.18.0.5 . 198.18.0.1 }\n\t}\n}\n";
        assert_eq!(parse_set_elements(text).blocked, BTreeSet::from([(0, 4), (4, 0)]));
        assert!(parse_set_elements("set blocked { }").is_empty());
    }

    #[test]
    fn loss_script_has_one_rule_per_link() {
        let loss = BTreeMap::from([((0, 1), 30u8)]);
        assert_eq!(
            loss_script(&loss),
            "flush chain bridge faultline loss\nadd rule bridge faultline loss ip saddr 198.18.0.1 \
             ip daddr 198.18.0.2 numgen random mod 100 < 30 drop\n"
        );
    }
}
