//! `fleet wait`: block until agents reach a state, the primitive scripts
//! and other agents build on. It looks the way `ps` does (one listing, the
//! screens that changed, the agents' own reports) until every named agent
//! is there, or the time is up. Between looks it sleeps on a watch of the
//! host: a report, a death or a session made or ended wakes it at once;
//! otherwise it looks again after a second (an agent turning idle by the
//! clock alone).

use std::time::{Duration, Instant};

use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::ops::Core;
use crate::core::rows::AgentRow;
use crate::core::vocab::{ActivityKind, Status};

/// How long `wait` sleeps at most between looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// A state an agent can be waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Running,
    Exited,
    Working,
    Idle,
    Waiting,
}

impl Until {
    pub fn word(self) -> &'static str {
        match self {
            Until::Running => "running",
            Until::Exited => "exited",
            Until::Working => "working",
            Until::Idle => "idle",
            Until::Waiting => "waiting",
        }
    }

    /// Whether an agent in `row`'s state can still get there by itself: an
    /// agent that has exited, is missing or is not fleet's will not start
    /// working (nor, missing, exit).
    pub fn reachable(self, row: &AgentRow) -> bool {
        matches!(
            (self, row.status),
            (_, Status::Running | Status::Drift) | (Until::Exited, Status::Exited)
        )
    }

    /// Whether a row is in this state.
    pub fn holds(self, row: &AgentRow) -> bool {
        let activity = |a| row.status == Status::Running && row.activity == Some(a);
        match self {
            Until::Running => row.status == Status::Running,
            Until::Exited => row.status == Status::Exited,
            Until::Working => activity(ActivityKind::Working),
            Until::Idle => activity(ActivityKind::Idle),
            Until::Waiting => activity(ActivityKind::Waiting),
        }
    }
}

/// How a wait ended: the agents' rows when it ended, and whether all of
/// them got there.
#[derive(Debug, Clone)]
pub struct Waited {
    pub reached: bool,
    /// Some agent can no longer get there by itself (it exited, or its
    /// session went away): the wait ended early.
    pub unreachable: bool,
    pub rows: Vec<AgentRow>,
}

impl Core {
    /// Waits until every named agent is in the state `until`, or `timeout`
    /// passes (never, without one), or some agent can no longer get there
    /// by itself.
    pub fn wait(
        &self,
        names: &[AgentName],
        until: Until,
        timeout: Option<Duration>,
    ) -> Result<Waited, Error> {
        let started = Instant::now();
        let mut first = true;
        let mut watch = self.watch();
        loop {
            let rows: Vec<AgentRow> = self.ps()?;
            let mut mine = Vec::new();
            for name in names {
                match rows.iter().find(|r| r.name == name.as_str()) {
                    Some(row) => mine.push(row.clone()),
                    // Unknown from the start is bad input; gone since is
                    // an agent that will not get there.
                    None if first => return Err(Error::NoSuchAgent { name: name.clone() }),
                    None => mine.push(AgentRow::missing(name.as_str(), self.host().name())),
                }
            }
            first = false;
            let reached = mine.iter().all(|row| until.holds(row));
            let unreachable = mine
                .iter()
                .any(|row| !until.holds(row) && !until.reachable(row));
            let out_of_time = timeout.is_some_and(|t| started.elapsed() >= t);
            if reached || unreachable || out_of_time {
                return Ok(Waited {
                    reached,
                    unreachable: unreachable && !reached,
                    rows: mine,
                });
            }
            let left = timeout.map_or(LOOK_EVERY, |t| t.saturating_sub(started.elapsed()));
            watch.wait(left.min(LOOK_EVERY));
        }
    }
}
