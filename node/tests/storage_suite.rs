//! openraft's storage conformance suite (`openraft::testing::Suite::test_all`) against the
//! node's redb-backed log store and state machine, each case on a fresh database file.

use node::raft::TypeConfig;
use node::raft::store::LogStore;
use node::raft::store::StateMachineStore;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::testing::StoreBuilder;
use openraft::testing::Suite;

struct RedbBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for RedbBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let io = |e: String| StorageError::from(StorageIOError::write(&std::io::Error::other(e)));
        let dir = tempfile::tempdir().map_err(|e| io(e.to_string()))?;
        let db = node::raft::store::open_db(&dir.path().join("raft.redb"))
            .map_err(|e| io(e.to_string()))?;
        let (log, sm) =
            node::raft::store::open(db, dir.path(), true).map_err(|e| io(e.to_string()))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn redb_store_passes_openraft_conformance_suite() {
    if let Err(e) = Suite::test_all(RedbBuilder) {
        panic!("openraft storage suite failed on the redb store: {e}");
    }
}
