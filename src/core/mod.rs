//! The core: everything fleet knows and does, with no argument parsing and
//! no printing, so that the CLI, the supervisor and the dashboards all call
//! the same code and never disagree.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod checks;
pub mod context;
pub mod desired;
pub mod host;
pub mod monitor;
pub mod observe;
pub mod reconcile;
pub mod rows;
pub mod signals;
pub mod store;
pub mod transcript;
pub mod vocab;
