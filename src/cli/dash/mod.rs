//! `fleet dash`: the fleet on one full screen, and the acts on it.

pub mod app;
pub mod render;
