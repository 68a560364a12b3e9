//! `fleet dash`: the fleet on one full screen, and the acts on it.
//!
//! Theory of operation. [`app`] is the state and the keys, [`render`] draws
//! it: both pure, tested on ratatui's test backend. [`feed`] keeps the state
//! fresh from the same core as `ps` and `watch` (this host through the
//! monitor, other hosts through their own `watch` and `ps` over ssh), so the
//! dashboard and the CLI cannot disagree. [`run`] owns the terminal and the
//! loop, and carries out acts by running the `fleet` commands for them.

pub mod app;
pub mod feed;
pub mod render;
pub mod run;

pub use run::run;
