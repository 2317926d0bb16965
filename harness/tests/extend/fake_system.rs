//! `toy`: a system in one file. Its nodes are real processes on the node host
//! (`sleep`, so the nemesis can kill and pause them) in front of one in-process map:
//! a client's call fails (`Refused`) while its node is down and is `Unknown` while
//! it is paused, as a real server's would time out. Bug switch `phantom`: every
//! seventh read returns a value nobody wrote.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::node_host::{NodeHost, ProcessSpec, node_name};
use harness::system::{
    BugSwitch, Capabilities, ClockMethod, MembershipMethod, NodeEnv, Nodes, System, SystemConfig,
    SystemDef, SystemError,
};
use harness::systems::ReadMode;
use workloads::api::{Api, BoxFuture, CallError, Client, Kv};

pub static SYSTEM: SystemDef = SystemDef {
    name: "toy",
    summary: "a test-only store whose nodes are sleep processes",
    caps: Capabilities {
        apis: &[Api::Kv],
        read_modes: &[ReadMode::Linearizable],
        bugs: &[BugSwitch { name: "phantom", summary: "some reads return a value nobody wrote" }],
        clock: ClockMethod::Unsupported("toy nodes keep no time"),
        membership: MembershipMethod::Unsupported("toy nodes have no cluster to leave"),
        nodes: Nodes::Processes,
        lease_ttl: None,
    },
    make,
};

fn make(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let phantom = config.bugs.iter().any(|b| b == "phantom");
    Ok(Box::new(Toy { env, map: Arc::default(), phantom }))
}

struct Toy {
    env: NodeEnv,
    map: Arc<Mutex<HashMap<String, String>>>,
    phantom: bool,
}

impl System for Toy {
    fn version(&self) -> Result<String, SystemError> {
        Ok("toy 1".into())
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        Box::pin(async move {
            for node in 0..self.env.host.node_count() {
                let log = self.env.run_dir.join(node_name(node)).join("toy.log");
                self.env.host.start(node, ProcessSpec::new("sleep", &["600"]).log(log))?;
            }
            Ok(())
        })
    }

    fn teardown(&self) -> Result<(), SystemError> {
        match self.env.host.stop_all(Duration::from_millis(200)).first() {
            Some(e) => Err(SystemError::Other(e.to_string())),
            None => Ok(()),
        }
    }

    fn client(&self, node: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(ToyClient {
            host: self.env.host.clone(),
            node,
            name: node_name(node),
            map: self.map.clone(),
            phantom: self.phantom,
            reads: 0,
        }))
    }
}

struct ToyClient {
    host: Arc<dyn NodeHost>,
    node: usize,
    name: String,
    map: Arc<Mutex<HashMap<String, String>>>,
    phantom: bool,
    reads: u64,
}

impl ToyClient {
    /// Whether the node serves: `Refused` when its process is gone, `Unknown` when it
    /// is stopped (SIGSTOP).
    fn serving(&self) -> Result<(), CallError> {
        let Some(pid) = self.host.pid(self.node) else {
            return Err(CallError::refused(format!("{} is down", self.name)));
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        match stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) {
            Some("T") | Some("t") => Err(CallError::unknown(format!("{} is paused", self.name))),
            _ => Ok(()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Client for ToyClient {
    fn node(&self) -> &str {
        &self.name
    }

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }
}

impl Kv for ToyClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move {
            self.serving()?;
            self.reads += 1;
            if self.phantom && self.reads.is_multiple_of(7) {
                return Ok(Some("phantom".into()));
            }
            Ok(self.map().get(key).cloned())
        })
    }

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.serving()?;
            self.map().insert(key.into(), value.into());
            Ok(())
        })
    }

    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            self.serving()?;
            let mut map = self.map();
            let holds = map.get(key).is_some_and(|v| v == from);
            if holds {
                map.insert(key.into(), to.into());
            }
            Ok(holds)
        })
    }
}
