//! One module per subcommand family.

pub mod analyze;
pub mod history;
pub mod replay;
pub mod test;
