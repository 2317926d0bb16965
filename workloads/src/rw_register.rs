//! The rw-register workload: Jepsen's `elle.rw-register` transactions (writes of
//! unique integers and reads of registers, 1 to 4 per transaction over a small
//! rotating key set), checked by the Elle-style `rw-register` checker. Writes are
//! committed under a guard on the versions read; see [`crate::txn_gen`] for the
//! shared machinery.

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::txn_gen::{Flavor, TxnWorkload, perform};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The rw-register workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "rw-register",
    summary: "Elle's rw-register transactions: writes and reads of registers over rotating \
              keys, checked for isolation anomalies",
    needs: &[Api::Txn],
    checker: "rw-register",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(Box::new(RwRegister(TxnWorkload::new(Flavor::Write, options)?)))
}

/// The rw-register workload for one seed and concurrency.
#[derive(Debug, Clone)]
pub struct RwRegister(pub TxnWorkload);

impl Workload for RwRegister {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        Box::new(self.0.txn_stream(worker))
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(Flavor::Write, op, client))
    }
}
