//! Client namespaces: a client on the bridge reaches every node until a client
//! cut separates it from some, while other clients and node links are untouched;
//! heal restores it, and the client namespaces go with the lab. Needs root,
//! iproute2 and nftables.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

fn reach(lab: &nemesis::Lab, client: usize) -> Vec<bool> {
    let n = lab.node_count();
    lab.in_client(client, move || {
        (0..n).map(|d| common::ask(d, "ping", Duration::from_millis(400)).is_some()).collect()
    })
    .expect("enter client ns")
}

#[test]
fn client_cuts_separate_one_client_from_chosen_nodes() {
    let e = common::echo_lab(3);
    let (c1, c2) = (e.lab.add_client().expect("c1"), e.lab.add_client().expect("c2"));
    assert_eq!((c1, c2), (0, 1));
    assert!(std::path::Path::new(&format!("/run/netns/{}-c2", e.lab.prefix())).exists());
    assert_eq!(reach(&e.lab, c1), vec![true, true, true]);

    e.lab.set_client_cuts(&BTreeSet::from([(c1, 1), (c1, 2)])).expect("cut");
    assert_eq!(reach(&e.lab, c1), vec![true, false, false]);
    assert_eq!(reach(&e.lab, c2), vec![true, true, true], "the other client is untouched");
    assert!(e.lab.verify_partition().expect("probe").ok(), "node links are untouched");
    // A node partition keeps the client cuts, and vice versa.
    let g = nemesis::Grudge { blocked: BTreeSet::from([(0, 1), (1, 0)]) };
    e.lab.set_partition(&g).expect("partition");
    assert_eq!(reach(&e.lab, c1), vec![true, false, false]);
    assert_eq!(e.lab.current_partition_from_rules().expect("rules"), g);
    assert!(e.lab.set_client_cuts(&BTreeSet::from([(5, 0)])).is_err());

    e.lab.heal_network().expect("heal");
    assert_eq!(reach(&e.lab, c1), vec![true, true, true]);
    common::destroy_and_check_with(e, 2);
}
