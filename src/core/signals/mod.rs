//! Signals of an agent's activity.

pub mod activity;
pub mod cache;
