//! One module per subcommand.
pub mod check;
pub mod completions;
pub mod diagnostic;
pub mod export;
pub mod flags;
pub mod man;
pub mod probes;
pub mod record;
pub mod report;
pub mod require;
pub mod serve;
pub mod state;
pub mod stdout;
pub mod top;
pub mod why;
