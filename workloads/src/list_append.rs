//! The list-append workload: Jepsen's `elle.list-append` transactions (appends of
//! unique integers to lists, reads of whole lists, 1 to 4 per transaction over a
//! small rotating key set), checked by the Elle-style `list-append` checker. Each
//! list is kept as one value (space-separated integers) and appended to under a
//! guard on the versions read; see [`crate::txn_gen`] for the shared machinery.

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::txn_gen::{Flavor, TxnWorkload, perform};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The list-append workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "list-append",
    summary: "Elle's list-append transactions: appends and reads of lists over rotating \
              keys, checked for isolation anomalies",
    needs: &[Api::Txn],
    checker: "list-append",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(Box::new(ListAppend(TxnWorkload::new(Flavor::Append, options)?)))
}

/// The list-append workload for one seed and concurrency.
#[derive(Debug, Clone)]
pub struct ListAppend(pub TxnWorkload);

impl Workload for ListAppend {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        Box::new(self.0.txn_stream(worker))
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(Flavor::Append, op, client))
    }
}
