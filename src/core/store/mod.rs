//! What the fleet keeps: the state directory, its lock, the event store.

pub mod events;
pub mod home;
pub mod pending;
pub mod private;
