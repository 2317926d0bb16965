//! The client APIs' contract, checked on every registered system that claims the API
//! (so a new system is held to it by its registry line alone): each system is
//! started on loopback (3 nodes), and its client must behave as `workloads::api`
//! documents. Needs etcd (`apt-get install etcd-server`) and a built
//! `faultline-node` (`cargo build -p node`).

mod common;

use std::sync::Arc;

use harness::node_host::LoopbackHost;
use harness::system::{NodeEnv, SystemConfig};
use harness::systems::{ALL, ReadMode};
use workloads::api::{Api, Client, Versioned};

fn config() -> SystemConfig {
    SystemConfig { read_mode: ReadMode::Linearizable, bugs: vec![], pre_vote: true }
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
        });
        system.teardown().unwrap_or_else(|e| panic!("{}: teardown: {e}", def.name));
    }
    // The systems that claim each API were really checked.
    for want in ["builtin kv", "builtin txn", "etcd kv", "etcd txn", "memory kv", "memory txn"] {
        assert!(checked.iter().any(|c| c == want), "{want} was not checked: {checked:?}");
    }
    assert!(common::processes_under(dir.path()).is_empty(), "nothing left running");
}
