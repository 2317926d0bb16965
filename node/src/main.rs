//! `faultline-node`: the builtin Consul-like node (Raft-replicated KV with CAS,
//! Consul's read modes, sessions and locks, a service catalog with health checks,
//! gossip membership, and bug switches that re-create known real bugs).
//!
//! Not built yet: this binary only says so.

fn main() {
    eprintln!("faultline-node: the builtin node is not implemented yet");
    std::process::exit(255);
}
