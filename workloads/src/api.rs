//! The client APIs a workload drives, and how a call's outcome becomes Jepsen's
//! `ok` / `fail` / `info`.
//!
//! A system under test implements the APIs it offers ([`Kv`], [`Locks`], ...) once, on
//! its client; a workload asks the client for the API it needs and maps its
//! operations onto calls. So a new workload runs on every system that offers its
//! APIs, and a new system runs every workload whose APIs it offers, each written in
//! one file. Which APIs a system offers is a capability ([`Api`]) the controller
//! compares before a run, never a name.
//!
//! # Jepsen's rule, in types
//! A call that does not return a result ends in a [`CallError`]:
//! [`CallError::Refused`] when the operation *certainly* had no effect (the request
//! never left, or the server refused it in a way that rules an effect out), and
//! [`CallError::Unknown`] when it may have taken effect (a timeout after sending, a
//! lost reply, an ambiguous server error). The system decides which, because only it
//! knows its protocol; the workload turns `Refused` into `fail` and `Unknown` into
//! `info` ([`Completion::of_error`]). The runtime adds its own rule on top: an
//! operation that does not complete within the op timeout is `info`.

use std::future::Future;
use std::pin::Pin;

use history::{OpKind, Value};

use crate::Invocation;

/// A boxed future: the APIs are trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The APIs a client may offer: what a workload needs and a system provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    /// Single-key reads, writes and compare-and-set ([`Kv`]).
    Kv,
    /// Session-based locks ([`Locks`]).
    Locks,
    /// Multi-key snapshot reads, prefix scans and version-guarded atomic writes
    /// ([`Txn`]).
    Txn,
    /// Following a key's changes ([`Watch`]): etcd's watch stream, Consul's blocking
    /// queries.
    Watch,
    /// Leader election: campaign, confirm, resign, observe ([`Election`]).
    Election,
    /// Service instances with health checks, and the healthy instances of a service
    /// ([`Discovery`]).
    Discovery,
    /// Each node's gossip view of the members ([`Members`]).
    Members,
}

impl Api {
    /// Every API, for listings.
    pub const ALL: [Api; 7] =
        [Api::Kv, Api::Locks, Api::Txn, Api::Watch, Api::Election, Api::Discovery, Api::Members];

    /// How `faultline list` names it.
    pub fn name(self) -> &'static str {
        match self {
            Api::Kv => "kv",
            Api::Locks => "locks",
            Api::Txn => "txn",
            Api::Watch => "watch",
            Api::Election => "election",
            Api::Discovery => "discovery",
            Api::Members => "members",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a call returned no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// It certainly had no effect; the value says why (recorded as the op's error).
    Refused(Value),
    /// It may or may not have taken effect.
    Unknown(Value),
}

impl CallError {
    pub fn refused(why: impl Into<Value>) -> CallError {
        CallError::Refused(why.into())
    }

    pub fn unknown(why: impl Into<Value>) -> CallError {
        CallError::Unknown(why.into())
    }
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info` (never `Invoke`).
    pub kind: OpKind,
    /// For `ok`: what the operation returned (the value read; the value written).
    /// For `fail` / `info`: the invocation's value, as Jepsen records it.
    pub value: Value,
    /// Why it failed or is unknown.
    pub error: Option<Value>,
}

impl Completion {
    pub fn ok(value: Value) -> Completion {
        Completion { kind: OpKind::Ok, value, error: None }
    }

    /// It certainly did not happen.
    pub fn fail(op: &Invocation, error: impl Into<Value>) -> Completion {
        Completion { kind: OpKind::Fail, value: op.value.clone(), error: Some(error.into()) }
    }

    /// It may or may not have happened.
    pub fn info(op: &Invocation, error: impl Into<Value>) -> Completion {
        Completion { kind: OpKind::Info, value: op.value.clone(), error: Some(error.into()) }
    }

    /// `fail` for a refused call, `info` for one whose effect is unknown.
    pub fn of_error(op: &Invocation, error: CallError) -> Completion {
        match error {
            CallError::Refused(why) => Completion::fail(op, why),
            CallError::Unknown(why) => Completion::info(op, why),
        }
    }

    /// The operation's outcome when the client lacks an API the workload needs (the
    /// controller refuses such runs; this only guards against a system that
    /// declares an API its client does not return).
    pub fn missing(op: &Invocation, api: Api) -> Completion {
        Completion::fail(op, format!("this client offers no {api} API"))
    }
}

/// A client bound to one node, as a workload sees it. A worker owns one; calls never
/// overlap. Every method must be safe to cancel (the runtime's op timeout drops the
/// future) and must never panic on anything the network or the server does.
pub trait Client: Send + 'static {
    /// The node this client talks to (`n2`), recorded on every completion.
    fn node(&self) -> &str;

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        None
    }

    fn locks(&mut self) -> Option<&mut dyn Locks> {
        None
    }

    fn txn(&mut self) -> Option<&mut dyn Txn> {
        None
    }

    fn watch(&mut self) -> Option<&mut dyn Watch> {
        None
    }

    fn election(&mut self) -> Option<&mut dyn Election> {
        None
    }

    fn discovery(&mut self) -> Option<&mut dyn Discovery> {
        None
    }

    fn members(&mut self) -> Option<&mut dyn Members> {
        None
    }
}

/// Single-key operations on string keys and values, reads in the mode the system was
/// started with (linearizable, Consul's default, stale...).
pub trait Kv: Send {
    /// The key's value, `None` when absent.
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>>;

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>>;

    /// Sets `key` to `to` only if it holds `from`. `Ok(false)`: it did not hold `from`
    /// and nothing changed.
    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>>;
}

/// Who asks for a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The client's live session (created or renewed as the system needs).
    Live,
    /// A session the client has just lost (destroyed, expired): a correct lock
    /// service must refuse it.
    Lost,
}

/// Session locks (Consul's `?acquire=` / `?release=`, etcd's leases).
pub trait Locks: Send {
    /// `Ok(true)`: granted; `Ok(false)`: held by someone else (nothing changed).
    fn acquire<'a>(
        &'a mut self,
        lock: &'a str,
        holder: Holder,
    ) -> BoxFuture<'a, Result<bool, CallError>>;

    /// `Ok(true)`: released; `Ok(false)`: this client did not hold it.
    fn release<'a>(&'a mut self, lock: &'a str) -> BoxFuture<'a, Result<bool, CallError>>;

    /// The fencing token of the hold this client's last granted acquire of `lock`
    /// began, for a service that hands one out (etcd: the lock key's revision): every
    /// later grant of the lock must carry a larger one. `None`: no token.
    fn fencing_token(&self, _lock: &str) -> Option<u64> {
        None
    }
}

/// A key's value with the version it was read at. Version 0 means absent; any write
/// gives the key a larger version than it had (etcd's `mod_revision`, Consul's
/// `ModifyIndex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Option<String>,
    pub version: u64,
}

/// Transactions of the optimistic kind every store here can do: read several keys in
/// one snapshot, then write several keys atomically only if the keys read are still
/// at the versions read (etcd's `txn` with `mod_revision` compares, Consul's
/// `/v1/txn` with `check-index` / `check-not-exists`). Read-modify-write
/// transactions (list append, bank transfers, counters) are built on these two.
pub trait Txn: Send {
    /// The keys' values and versions, all from one snapshot.
    fn read<'a>(
        &'a mut self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Versioned>, CallError>>;

    /// Every key under `prefix` with its value, in key order, from one snapshot.
    fn scan<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, CallError>>;

    /// Writes every `(key, value)` of `writes` atomically if every `(key, version)` of
    /// `guards` still holds (version 0: the key is absent). `Ok(false)`: a guard
    /// failed and nothing was written.
    fn commit<'a>(
        &'a mut self,
        guards: &'a [(String, u64)],
        writes: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<bool, CallError>>;
}

/// How a system's watch delivers a key's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every revision, in order, none skipped (etcd's watch stream).
    EveryRevision,
    /// The key's state as of an index, waking on change: intermediate states may be
    /// skipped (Consul's blocking queries).
    Latest,
}

impl Delivery {
    /// How histories name it.
    pub fn name(self) -> &'static str {
        match self {
            Delivery::EveryRevision => "every-revision",
            Delivery::Latest => "latest",
        }
    }
}

/// One state of a watched key: the revision that wrote it (etcd's `mod_revision`,
/// Consul's `ModifyIndex`) and its value (`None`: deleted or absent, revision 0 when
/// it never existed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub revision: u64,
    pub value: Option<String>,
}

/// What one watch call saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchBatch {
    pub delivery: Delivery,
    /// Where the next call resumes (`after`): the last revision delivered (etcd), or
    /// the answer's `X-Consul-Index` (Consul). Never below the call's `after`.
    pub position: u64,
    /// The states seen, oldest first: every revision after `after` up to `position`
    /// ([`Delivery::EveryRevision`]), or the one state as of `position`
    /// ([`Delivery::Latest`]).
    pub events: Vec<WatchEvent>,
}

/// Following keys: write them, watch their changes, read their latest state.
pub trait Watch: Send {
    /// Writes `value` to `key`; `Some(revision)` when the system says at which
    /// revision it was written.
    fn write<'a>(
        &'a mut self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>>;

    /// The key's changes after position `after` (0: from the start), waiting up to
    /// `wait` for them. A read: it changes nothing.
    fn watch<'a>(
        &'a mut self,
        key: &'a str,
        after: u64,
        wait: std::time::Duration,
    ) -> BoxFuture<'a, Result<WatchBatch, CallError>>;

    /// The key's latest state, linearizably (whatever the run's read mode), and the
    /// position it was read at: where a watcher that has caught up stands.
    fn head<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<(u64, WatchEvent), CallError>>;
}

/// Leader election among candidates, each campaign with a unique candidate name (its
/// tenure), through a session (Consul: a lock key acquired with a session) or a lease
/// (etcd's election API). A term numbers elections: each is greater than every term
/// before (etcd: the leader key's create revision; Consul: the lock key's
/// `LockIndex`).
pub trait Election: Send {
    /// Tries to become the leader of `election` as `candidate`. `Ok(Some(term))`:
    /// elected; `Ok(None)`: someone else leads and nothing changed.
    fn campaign<'a>(
        &'a mut self,
        election: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>>;

    /// Whether `candidate` still leads, checked linearizably: `Ok(Some(term))` it does,
    /// `Ok(None)` it does not.
    fn confirm<'a>(
        &'a mut self,
        election: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>>;

    /// Gives the leadership up: `Ok(true)` resigned, `Ok(false)` it was not leading.
    fn resign<'a>(
        &'a mut self,
        election: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>>;

    /// Who leads, as the node says (in the run's read mode): the candidate and its
    /// term, `None` when nobody does.
    fn leader<'a>(
        &'a mut self,
        election: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, u64)>, CallError>>;
}

/// A health check's status, as discovery clients flip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Passing,
    Critical,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Passing => "passing",
            Health::Critical => "critical",
        }
    }
}

/// One instance of a service as a health read returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// Its own check (the one the client flips).
    pub health: Health,
    /// Whether its node's own checks pass too (Consul's `serfHealth`): a healthy
    /// instance on a node declared dead is not served.
    pub node_passing: bool,
}

/// How consistent a read was, as the node says (Consul's
/// `X-Consul-Effective-Consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Through a quorum round (`consistent`): linearizable.
    Consistent,
    /// From the leader's state under its lease (Consul's `default`).
    Leader,
    /// From whatever node answered (`stale`).
    Stale,
}

impl Consistency {
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Consistent => "consistent",
            Consistency::Leader => "leader",
            Consistency::Stale => "stale",
        }
    }
}

/// The instances of a service, with their health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub instances: Vec<Instance>,
    pub consistency: Consistency,
}

/// Service discovery: instances registered with a health check the client flips
/// (Consul's agent services with TTL checks), and reads of a service's instances.
pub trait Discovery: Send {
    /// Registers (or re-registers) `instance` of `service` with its check at `health`.
    fn register<'a>(
        &'a mut self,
        service: &'a str,
        instance: &'a str,
        health: Health,
    ) -> BoxFuture<'a, Result<(), CallError>>;

    /// Removes `instance`: `Ok(false)` when it was not registered (nothing changed).
    fn deregister<'a>(
        &'a mut self,
        service: &'a str,
        instance: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>>;

    /// Sets the instance's check: `Ok(false)` when there is no such instance (nothing
    /// changed).
    fn set_health<'a>(
        &'a mut self,
        service: &'a str,
        instance: &'a str,
        health: Health,
    ) -> BoxFuture<'a, Result<bool, CallError>>;

    /// Every instance of `service` with its health, in the run's read mode,
    /// unfiltered (not Consul's `?passing`): an instance on a failed node is listed,
    /// with `node_passing` false, so the checker sees the node-level state instead of
    /// guessing why an instance is missing.
    fn instances<'a>(
        &'a mut self,
        service: &'a str,
    ) -> BoxFuture<'a, Result<ServiceView, CallError>>;
}

/// A member's state in a node's gossip view (SWIM's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Alive,
    Suspect,
    Dead,
}

impl MemberState {
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
        }
    }
}

/// Gossip membership: the view of the node the client talks to.
pub trait Members: Send {
    /// Every member this node knows, by the run's node names (`n1`, ...), with its
    /// state.
    fn members<'a>(&'a mut self) -> BoxFuture<'a, Result<Vec<(String, MemberState)>, CallError>>;
}
