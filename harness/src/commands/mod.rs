//! One module per subcommand family.

pub mod analyze;
pub mod check;
pub mod elle;
pub mod elle_input;
pub mod history;
pub mod lab;
pub mod lab_cli;
pub mod list;
pub mod replay;
pub mod report;
pub mod run_results;
pub mod serve;
pub mod test;
pub mod test_all;
