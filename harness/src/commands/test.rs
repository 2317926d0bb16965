//! `faultline test`: one run from start to verdict. The options are
//! [`crate::options::TestArgs`]; the run itself is the controller's
//! ([`crate::controller`]): plan, open, environment, record, run, teardown, analyse,
//! write.

pub use crate::controller::{Registry, run_test, run_test_in};
pub use crate::options::TestArgs;
