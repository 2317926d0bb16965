//! The sequential models, one per file. Each file also parses its own initial
//! value (`from_initial`) and exports its registry entry (`CHECKER`, listed in
//! [`crate::registry::ALL`]).

pub mod cas_register;
pub mod catalog;
pub mod fenced_lock;
pub mod kv;
pub mod multi_register;
pub mod mutex;
pub mod register;
pub mod session_lock;

pub use cas_register::CasRegister;
pub use catalog::Catalog;
pub use fenced_lock::FencedLock;
pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use register::Register;
pub use session_lock::SessionLock;
