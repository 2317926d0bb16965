//! One module per subcommand family.

pub mod history;
pub mod report;
pub mod serve;
