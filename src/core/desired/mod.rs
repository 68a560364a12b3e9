//! The desired state: the fleet file, checked, with every agent resolved.

pub mod agent;
pub mod fleetfile;
pub mod precedence;
pub mod resolve;
pub mod runtime;
pub mod start;
