//! The core: everything fleet knows and does, with no argument parsing and
//! no printing, so that the CLI, the supervisor and the dashboards all call
//! the same code and never disagree.
//!
//! Theory of operation. The flow of data runs through the folders:
//!
//! - [`desired`]: the fleet file becomes the desired state, every agent
//!   resolved to an `AgentSpec`;
//! - [`host`]: the seam to a fleet's terminal multiplexer on one host (tmux
//!   behind it), which reports panes and carries out launches;
//! - [`observe`]: panes become sessions with a status (pure);
//! - [`signals`]: evidence of what a running agent is doing becomes its
//!   activity (pure decisions over typed signals);
//! - [`monitor`]: what changed between two looks (one diff engine for the
//!   history and for `watch`);
//! - [`reconcile`]: what to do about each agent (pure);
//! - [`ops`]: the operations the views call, on a [`ops::Core`], answering
//!   typed outcomes;
//! - [`store`] and [`transcript`]: what the fleet keeps.
//!
//! Settings are read once ([`settings`]); time comes from a [`clock`] the
//! tests can set; errors are typed ([`error`]) and the views decide how
//! they end a process.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod boot;
pub mod checks;
pub mod child;
pub mod clock;
pub mod desired;
pub mod error;
pub mod host;
pub mod monitor;
pub mod observe;
pub mod ops;
pub mod reconcile;
pub mod rows;
pub mod settings;
pub mod signals;
pub mod store;
pub mod supervise;
pub mod transcript;
pub mod vocab;

pub use error::{Error, ErrorKind, Warning};
pub use ops::Core;
