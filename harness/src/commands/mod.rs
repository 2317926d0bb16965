//! One module per subcommand family.

pub mod analyze;
pub mod check;
pub mod history;
pub mod replay;
pub mod test;
