//! One module per subcommand family.

pub mod check;
pub mod history;
