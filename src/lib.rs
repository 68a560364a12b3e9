//! mosaic-fleet: run a fleet of long-lived AI coding agents in detached tmux
//! sessions, durably and observably.
//!
//! Two halves. [`core`] is the library: it neither parses arguments nor
//! prints, and the CLI, the supervisor and the dashboards all call it.
//! [`cli`] is the view at the edge: clap, rendering, exit codes.

pub mod cli;
pub mod core;

pub use cli::run;
