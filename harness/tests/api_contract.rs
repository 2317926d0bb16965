//! The client APIs' contract, checked on every registered system that claims the API
//! (so a new system is held to it by its registry line alone): each system is
//! started on loopback (3 nodes), and its client must behave as `workloads::api`
//! documents. Needs etcd (`apt-get install etcd-server`) and a built
//! `faultline-node` (`cargo build -p node`).

mod common;

use std::sync::Arc;

use std::time::Duration;

use harness::node_host::LoopbackHost;
use harness::system::{NodeEnv, System, SystemConfig};
use harness::systems::{ALL, ReadMode};
use workloads::api::{Api, Client, Delivery, Health, Holder, MemberState, Versioned, WatchEvent};

fn config() -> SystemConfig {
    SystemConfig {
        read_mode: ReadMode::Linearizable,
        bugs: vec![],
        pre_vote: true,
        lease_ttl: None,
    }
}

fn absent() -> Versioned {
    Versioned { value: None, version: 0 }
}

async fn kv_contract(name: &str, client: &mut dyn Client) {
    let kv = client.kv().unwrap_or_else(|| panic!("{name} claims kv but its client has none"));
    assert_eq!(kv.get("contract/k").await, Ok(None), "{name}: absent key");
    kv.put("contract/k", "1").await.unwrap_or_else(|e| panic!("{name}: put: {e:?}"));
    assert_eq!(kv.get("contract/k").await, Ok(Some("1".into())), "{name}");
    assert_eq!(kv.cas("contract/k", "2", "3").await, Ok(false), "{name}: cas from a wrong value");
    assert_eq!(kv.get("contract/k").await, Ok(Some("1".into())), "{name}: a failed cas wrote");
    assert_eq!(kv.cas("contract/k", "1", "3").await, Ok(true), "{name}: cas");
    assert_eq!(kv.get("contract/k").await, Ok(Some("3".into())), "{name}");
}

async fn txn_contract(name: &str, client: &mut dyn Client) {
    let txn = client.txn().unwrap_or_else(|| panic!("{name} claims txn but its client has none"));
    let keys = vec!["t/a".to_string(), "t/b".to_string()];
    assert_eq!(txn.read(&keys).await, Ok(vec![absent(), absent()]), "{name}: absent keys");
    let writes = vec![("t/a".to_string(), "1".to_string()), ("t/b".to_string(), "2".to_string())];
    let guards = vec![("t/a".to_string(), 0), ("t/b".to_string(), 0)];
    assert_eq!(txn.commit(&guards, &writes).await, Ok(true), "{name}: guarded on absence");
    let read = txn.read(&keys).await.unwrap_or_else(|e| panic!("{name}: read: {e:?}"));
    assert_eq!(read[0].value.as_deref(), Some("1"), "{name}");
    assert_eq!(read[1].value.as_deref(), Some("2"), "{name}");
    assert!(read[0].version > 0 && read[1].version > 0, "{name}: versions {read:?}");
    // The same guards are stale now: nothing is written.
    let again = vec![("t/a".to_string(), "9".to_string())];
    assert_eq!(txn.commit(&guards, &again).await, Ok(false), "{name}: stale guard");
    assert_eq!(txn.read(&keys).await.map(|r| r[0].value.clone()), Ok(Some("1".into())), "{name}");
    // Guards at the versions read hold; the write moves the version forward.
    let fresh: Vec<(String, u64)> =
        keys.iter().cloned().zip(read.iter().map(|v| v.version)).collect();
    assert_eq!(txn.commit(&fresh, &again).await, Ok(true), "{name}: fresh guards");
    let after = txn.read(&keys).await.unwrap_or_else(|e| panic!("{name}: read: {e:?}"));
    assert_eq!(after[0].value.as_deref(), Some("9"), "{name}");
    assert!(after[0].version > read[0].version, "{name}: {after:?} after {read:?}");
    assert_eq!(after[1], read[1], "{name}: an unwritten key keeps its version");
    // Scan: every key under the prefix, in key order, and nothing else.
    let other = vec![("u/c".to_string(), "5".to_string()), ("t/c".to_string(), "3".to_string())];
    assert_eq!(txn.commit(&[], &other).await, Ok(true), "{name}: unguarded");
    let scanned = txn.scan("t/").await.unwrap_or_else(|e| panic!("{name}: scan: {e:?}"));
    let want: Vec<(String, String)> =
        [("t/a", "9"), ("t/b", "2"), ("t/c", "3")].map(|(k, v)| (k.into(), v.into())).to_vec();
    assert_eq!(scanned, want, "{name}: scan");
    assert_eq!(txn.scan("nothing/").await, Ok(vec![]), "{name}: empty scan");
}

async fn watch_contract(name: &str, client: &mut dyn Client) {
    let w = client.watch().unwrap_or_else(|| panic!("{name} claims watch but its client has none"));
    let key = "contract/w";
    let (_, head) = w.head(key).await.unwrap_or_else(|e| panic!("{name}: head: {e:?}"));
    assert_eq!(head, WatchEvent { revision: 0, value: None }, "{name}: an absent key's head");
    let r1 = w.write(key, "1").await.unwrap_or_else(|e| panic!("{name}: write: {e:?}"));
    let b1 = w
        .watch(key, 0, Duration::from_millis(300))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let last = b1.events.last().cloned().unwrap_or_else(|| panic!("{name}: no event: {b1:?}"));
    assert_eq!(last.value.as_deref(), Some("1"), "{name}: {b1:?}");
    assert!(b1.position >= last.revision, "{name}: position before the events: {b1:?}");
    if let Some(r) = r1 {
        assert_eq!(last.revision, r, "{name}: the write's revision is the event's");
    }
    for v in ["2", "3", "4"] {
        w.write(key, v).await.unwrap_or_else(|e| panic!("{name}: write: {e:?}"));
    }
    let b2 = w
        .watch(key, b1.position, Duration::from_millis(500))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let values: Vec<Option<&str>> = b2.events.iter().map(|e| e.value.as_deref()).collect();
    match b2.delivery {
        // Every revision after the resume point, in order.
        Delivery::EveryRevision => {
            assert_eq!(values, [Some("2"), Some("3"), Some("4")], "{name}: {b2:?}")
        }
        // The state as of the answer's index.
        Delivery::Latest => assert_eq!(values, [Some("4")], "{name}: {b2:?}"),
    }
    assert!(
        b2.events.iter().all(|e| e.revision > last.revision),
        "{name}: old revisions again: {b2:?}"
    );
    let top = b2.events.last().cloned().unwrap_or_else(|| panic!("{name}: nothing new"));
    // Nothing changed since: nothing new (or the same state again, for Latest).
    let b3 = w
        .watch(key, b2.position, Duration::from_millis(300))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert!(b3.events.iter().all(|e| *e == top), "{name}: a change that did not happen: {b3:?}");
    assert!(b3.position >= b2.position, "{name}: the position went back");
    let (_, head) = w.head(key).await.unwrap_or_else(|e| panic!("{name}: head: {e:?}"));
    assert_eq!(head, top, "{name}: the head is the last state");
}

async fn locks_contract(name: &str, system: &dyn System) {
    let (mut a, mut b) = (system.client(1).unwrap(), system.client(2).unwrap());
    let (a, b) = (a.locks().expect("claims locks"), b.locks().expect("claims locks"));
    let lock = "lock/contract";
    assert_eq!(a.acquire(lock, Holder::Live).await, Ok(true), "{name}: a free lock");
    let first = a.fencing_token(lock);
    assert_eq!(b.acquire(lock, Holder::Live).await, Ok(false), "{name}: a held lock");
    assert_eq!(a.release(lock).await, Ok(true), "{name}: release");
    assert_eq!(a.release(lock).await, Ok(false), "{name}: release of nothing");
    assert_eq!(b.acquire(lock, Holder::Live).await, Ok(true), "{name}: freed");
    if let (Some(t1), Some(t2)) = (first, b.fencing_token(lock)) {
        assert!(t2 > t1, "{name}: fencing tokens must grow ({t1} then {t2})");
    }
    assert_eq!(b.release(lock).await, Ok(true), "{name}");
    let lost = a.acquire(lock, Holder::Lost).await;
    assert!(
        matches!(lost, Err(workloads::api::CallError::Refused(_))),
        "{name}: a lost session took a lock: {lost:?}"
    );
}

async fn election_contract(name: &str, system: &dyn System) {
    let (mut a, mut b) = (system.client(1).unwrap(), system.client(2).unwrap());
    let (a, b) = (a.election().expect("claims election"), b.election().expect("claims election"));
    let e = "contract";
    assert_eq!(a.leader(e).await, Ok(None), "{name}: nobody leads yet");
    let t1 = a.campaign(e, "a1").await.unwrap_or_else(|err| panic!("{name}: campaign: {err:?}"));
    let t1 = t1.unwrap_or_else(|| panic!("{name}: not elected in an empty election"));
    assert_eq!(b.campaign(e, "b1").await, Ok(None), "{name}: a second leader");
    assert_eq!(
        b.leader(e).await,
        Ok(Some(("a1".to_string(), t1))),
        "{name}: the leader as others see it"
    );
    assert_eq!(a.confirm(e, "a1").await, Ok(Some(t1)), "{name}: confirm");
    assert_eq!(b.confirm(e, "b1").await, Ok(None), "{name}: a non-leader confirms");
    assert_eq!(a.resign(e, "a1").await, Ok(true), "{name}: resign");
    assert_eq!(a.confirm(e, "a1").await, Ok(None), "{name}: leads after resigning");
    assert_eq!(b.leader(e).await, Ok(None), "{name}: nobody leads after the resign");
    let t2 = b.campaign(e, "b2").await.unwrap_or_else(|err| panic!("{name}: campaign: {err:?}"));
    assert!(t2.is_some_and(|t2| t2 > t1), "{name}: terms must grow ({t1} then {t2:?})");
    assert_eq!(b.resign(e, "b2").await, Ok(true), "{name}");
}

async fn discovery_contract(name: &str, client: &mut dyn Client) {
    let d = client.discovery().unwrap_or_else(|| panic!("{name} claims discovery but has none"));
    let (svc, i) = ("contract", "contract-1");
    let view = d.instances(svc).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert!(view.instances.is_empty(), "{name}: {view:?}");
    d.register(svc, i, Health::Passing).await.unwrap_or_else(|e| panic!("{name}: register: {e:?}"));
    let view = d.instances(svc).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(view.instances.len(), 1, "{name}: {view:?}");
    assert_eq!(
        (view.instances[0].id.as_str(), view.instances[0].health),
        (i, Health::Passing),
        "{name}"
    );
    assert_eq!(
        view.consistency,
        workloads::api::Consistency::Consistent,
        "{name}: the run's read mode"
    );
    assert_eq!(d.set_health(svc, i, Health::Critical).await, Ok(true), "{name}: fail its check");
    let view = d.instances(svc).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(view.instances[0].health, Health::Critical, "{name}: {view:?}");
    assert_eq!(d.deregister(svc, i).await, Ok(true), "{name}: deregister");
    let view = d.instances(svc).await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert!(view.instances.is_empty(), "{name}: still there: {view:?}");
    assert_eq!(
        d.set_health(svc, i, Health::Passing).await,
        Ok(false),
        "{name}: a gone instance's check"
    );
    assert_eq!(d.deregister(svc, i).await, Ok(false), "{name}: deregister of nothing");
}

async fn members_contract(name: &str, client: &mut dyn Client, nodes: usize) {
    let m = client.members().unwrap_or_else(|| panic!("{name} claims members but has none"));
    let want: Vec<(String, MemberState)> =
        (1..=nodes).map(|i| (format!("n{i}"), MemberState::Alive)).collect();
    let mut last = None;
    for _ in 0..50 {
        let got = m.members().await.unwrap_or_else(|e| panic!("{name}: members: {e:?}"));
        if got == want {
            return;
        }
        last = Some(got);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}: every node alive by its run name, expected {want:?}, last saw {last:?}");
}

#[test]
fn every_system_keeps_the_contract_of_the_apis_it_claims() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut checked = Vec::new();
    for (i, def) in ALL.iter().enumerate() {
        if def.name == "memory-stale" {
            continue; // a negative control: its reads are stale by design
        }
        let host = Arc::new(LoopbackHost::new(3, 110 + i as u8));
        let env = NodeEnv { host, run_dir: dir.path().join(def.name) };
        let system = (def.make)(&config(), env).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        system.version().unwrap_or_else(|e| panic!("{}: {e}", def.name));
        rt.block_on(async {
            system.setup().await.unwrap_or_else(|e| panic!("{}: setup: {e}", def.name));
            let mut client = system.client(1).unwrap();
            if def.caps.apis.contains(&Api::Kv) {
                kv_contract(def.name, client.as_mut()).await;
                checked.push(format!("{} kv", def.name));
            }
            if def.caps.apis.contains(&Api::Txn) {
                txn_contract(def.name, client.as_mut()).await;
                checked.push(format!("{} txn", def.name));
            }
            if def.caps.apis.contains(&Api::Watch) {
                watch_contract(def.name, client.as_mut()).await;
                checked.push(format!("{} watch", def.name));
            }
            if def.caps.apis.contains(&Api::Locks) {
                locks_contract(def.name, system.as_ref()).await;
                checked.push(format!("{} locks", def.name));
            }
            if def.caps.apis.contains(&Api::Election) {
                election_contract(def.name, system.as_ref()).await;
                checked.push(format!("{} election", def.name));
            }
            if def.caps.apis.contains(&Api::Discovery) {
                discovery_contract(def.name, client.as_mut()).await;
                checked.push(format!("{} discovery", def.name));
            }
            if def.caps.apis.contains(&Api::Members) {
                members_contract(def.name, client.as_mut(), 3).await;
                checked.push(format!("{} members", def.name));
            }
        });
        system.teardown().unwrap_or_else(|e| panic!("{}: teardown: {e}", def.name));
    }
    // The systems that claim each API were really checked.
    for want in [
        "builtin kv",
        "builtin txn",
        "builtin watch",
        "builtin locks",
        "builtin election",
        "builtin discovery",
        "builtin members",
        "etcd kv",
        "etcd txn",
        "etcd watch",
        "etcd locks",
        "etcd election",
        "memory kv",
        "memory txn",
    ] {
        assert!(checked.iter().any(|c| c == want), "{want} was not checked: {checked:?}");
    }
    assert!(common::processes_under(dir.path()).is_empty(), "nothing left running");
}
