//! The sequential models, one per file, and their command-line names.

pub mod cas_register;
pub mod fenced_lock;
pub mod kv;
pub mod multi_register;
pub mod mutex;
pub mod register;
pub mod session_lock;

use std::fmt;
use std::str::FromStr;

use history::Value;

pub use cas_register::CasRegister;
pub use fenced_lock::FencedLock;
pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use register::Register;
pub use session_lock::SessionLock;

use crate::linearizability::{Linearizable, Options};
use crate::verdict::{CheckError, Checker};

/// A model by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelName {
    Register,
    CasRegister,
    Kv,
    MultiRegister,
    Mutex,
    FencedLock,
    SessionLock,
}

impl ModelName {
    pub const ALL: [ModelName; 7] = [
        ModelName::Register,
        ModelName::CasRegister,
        ModelName::Kv,
        ModelName::MultiRegister,
        ModelName::Mutex,
        ModelName::FencedLock,
        ModelName::SessionLock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelName::Register => "register",
            ModelName::CasRegister => "cas-register",
            ModelName::Kv => "kv",
            ModelName::MultiRegister => "multi-register",
            ModelName::Mutex => "mutex",
            ModelName::FencedLock => "fenced-lock",
            ModelName::SessionLock => "session-lock",
        }
    }

    /// A linearizability checker for this model. `initial` is read by the model's own
    /// `from_initial` (each model file says what it accepts).
    pub fn linearizable(
        self,
        initial: Option<Value>,
        options: Options,
    ) -> Result<Box<dyn Checker + Send + Sync>, CheckError> {
        let initial = initial.as_ref();
        let bad = CheckError::BadModel;
        Ok(match self {
            ModelName::Register => {
                Box::new(Linearizable::new(Register::from_initial(initial).map_err(bad)?, options))
            }
            ModelName::CasRegister => Box::new(Linearizable::new(
                CasRegister::from_initial(initial).map_err(bad)?,
                options,
            )),
            ModelName::Kv => {
                Box::new(Linearizable::new(Kv::from_initial(initial).map_err(bad)?, options))
            }
            ModelName::MultiRegister => Box::new(Linearizable::new(
                MultiRegister::from_initial(initial).map_err(bad)?,
                options,
            )),
            ModelName::Mutex => {
                Box::new(Linearizable::new(Mutex::from_initial(initial).map_err(bad)?, options))
            }
            ModelName::FencedLock => Box::new(Linearizable::new(
                FencedLock::from_initial(initial).map_err(bad)?,
                options,
            )),
            ModelName::SessionLock => Box::new(Linearizable::new(
                SessionLock::from_initial(initial).map_err(bad)?,
                options,
            )),
        })
    }
}

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelName, String> {
        ModelName::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<_> = ModelName::ALL.iter().map(|m| m.name()).collect();
            format!("unknown model {s:?} (known: {})", names.join(", "))
        })
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
