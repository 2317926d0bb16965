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

    /// A linearizability checker for this model. `initial` is the starting value of
    /// `register` / `cas-register` (default nil) or `kv` (a string, default "").
    pub fn linearizable(
        self,
        initial: Option<Value>,
        options: Options,
    ) -> Result<Box<dyn Checker + Send + Sync>, CheckError> {
        let no_initial = |initial: &Option<Value>| match initial {
            Some(v) => Err(CheckError::BadModel(format!(
                "the {} model takes no initial value (got {v})",
                self.name()
            ))),
            None => Ok(()),
        };
        Ok(match self {
            ModelName::Register => Box::new(Linearizable::new(
                Register { initial: initial.unwrap_or(Value::Nil) },
                options,
            )),
            ModelName::CasRegister => Box::new(Linearizable::new(
                CasRegister { initial: initial.unwrap_or(Value::Nil) },
                options,
            )),
            ModelName::Kv => {
                let initial = match initial {
                    None => String::new(),
                    Some(Value::Str(s)) => s,
                    Some(other) => {
                        return Err(CheckError::BadModel(format!(
                            "the kv model's initial value must be a string, got {other}"
                        )));
                    }
                };
                Box::new(Linearizable::new(Kv { initial }, options))
            }
            ModelName::MultiRegister => {
                no_initial(&initial)?;
                Box::new(Linearizable::new(MultiRegister, options))
            }
            ModelName::Mutex => {
                no_initial(&initial)?;
                Box::new(Linearizable::new(Mutex, options))
            }
            ModelName::FencedLock => {
                no_initial(&initial)?;
                Box::new(Linearizable::new(FencedLock, options))
            }
            ModelName::SessionLock => {
                no_initial(&initial)?;
                Box::new(Linearizable::new(SessionLock, options))
            }
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
