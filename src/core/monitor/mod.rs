//! The monitor: what changed between two looks at the fleet.

pub mod transitions;
