//! Watching a host: a long-lived look that sleeps until something may have
//! changed, for the monitor (`fleet watch`, and what comes after it).
//!
//! A one-shot command (`ps`) asks the host once. Something that looks for
//! hours must not pay for a new look several times a second: a [`Watch`]
//! keeps its way to the host open, and [`Watch::wait`] returns when the
//! host says that something changed, or when the caller's own deadline
//! comes (an agent that will turn idle by the clock alone). A host that
//! cannot say (the fake one, or tmux with no server yet) is [`Polling`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::core::host::{Host, HostError, ObservedPane};

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The host said (or may have said) that something changed.
    Changed,
    /// The time was up and nothing was said.
    Timeout,
}

/// A long-lived look at one host.
pub trait Watch: Send {
    /// Every pane of the fleet's server; none when no server runs.
    fn list_panes(&mut self) -> Result<Vec<ObservedPane>, HostError>;
    /// The visible screens of these panes (id, height). A pane gone since
    /// it was listed is left out.
    fn capture_screens(
        &mut self,
        panes: &[(u32, usize)],
    ) -> Result<BTreeMap<u32, String>, HostError>;
    /// Blocks until something may have changed on the host, or `timeout`.
    fn wait(&mut self, timeout: Duration) -> Wake;
}

/// How often a host that cannot say what changed is looked at.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// Watches a host by asking it again, every [`POLL_EVERY`].
pub struct Polling {
    host: Arc<dyn Host>,
}

impl Polling {
    pub fn new(host: Arc<dyn Host>) -> Self {
        Self { host }
    }
}

impl Watch for Polling {
    fn list_panes(&mut self) -> Result<Vec<ObservedPane>, HostError> {
        self.host.list_panes()
    }

    fn capture_screens(
        &mut self,
        panes: &[(u32, usize)],
    ) -> Result<BTreeMap<u32, String>, HostError> {
        self.host.capture_screens(panes)
    }

    fn wait(&mut self, timeout: Duration) -> Wake {
        if timeout < POLL_EVERY {
            std::thread::sleep(timeout);
            return Wake::Timeout;
        }
        std::thread::sleep(POLL_EVERY);
        Wake::Changed
    }
}
