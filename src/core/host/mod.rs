//! The host seam: the terminal multiplexer of a fleet on one host.

pub mod hostname;
pub mod launch;
pub mod tmux;
