//! The monitor: what changed between two looks at the fleet.
//!
//! Theory of operation. A look at the fleet becomes a [`View`]: each
//! agent's lifecycle (status, exit code, launch) and, for a running agent,
//! its activity as decided from its signals. [`step`] is pure: from the
//! previous view and this one it answers the changes, lifecycle and
//! activity alike, through one diff engine ([`transitions::diff`], which the
//! event store also uses against the last view it persisted). A relaunch
//! resets activity: what the new process does is news, whatever the old
//! one did.
//!
//! [`Monitor`] is that step kept running over the core: `fleet watch`
//! today, the supervisor and the dashboards tomorrow. It looks through a
//! long-lived [`Watch`] of the host and, between looks, sleeps until the
//! host says something changed ([`Monitor::wait`]), or until the clock
//! alone would change a state (an agent quiet long enough turns idle, a
//! launch settles), or a few seconds pass (acts recorded by other fleet
//! commands that leave no mark on tmux). Lifecycle changes are
//! history, so they reach it through the event store, which records each
//! once however many fleets look, and which also carries operators' acts
//! (a `stop`, a `send`) made elsewhere. Activity changes come straight from
//! the step.

pub mod transitions;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::core::clock::rfc3339_ms;
use crate::core::error::Error;
use crate::core::host::HostError;
use crate::core::host::watch::Watch;
use crate::core::observe::{LAUNCH_GRACE, ObservedSession};
use crate::core::ops::Core;
use crate::core::signals::screens::{self, Patterns, ScreenCache};
use crate::core::signals::{self, Activity, Decision};
use crate::core::store::events::Event;
use crate::core::vocab::{EventKind, Status};
use transitions::{Change, Lifecycle};

/// One agent, as one look saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentView {
    /// `None` while the agent is still settling (its launch script in
    /// front a moment after launch), so what it settles into counts once.
    pub lifecycle: Option<Lifecycle>,
    /// For a running agent: what it does, and the signal that says so.
    pub activity: Option<Decision>,
}

/// The fleet, as one look saw it, by session name.
pub type View = BTreeMap<String, AgentView>;

/// The view of one look: lifecycles of the settled sessions, activities of
/// the running ones.
pub fn view(
    sessions: &BTreeMap<String, ObservedSession>,
    settling: &BTreeSet<String>,
    mut activities: BTreeMap<String, Decision>,
) -> View {
    let mut lifecycles = transitions::lifecycles(sessions, settling);
    sessions
        .keys()
        .map(|name| {
            let agent = AgentView {
                lifecycle: lifecycles.remove(name),
                activity: activities.remove(name),
            };
            (name.clone(), agent)
        })
        .collect()
}

/// What changed from `prev` to `cur`, agent by agent, in name order.
pub fn step(prev: &View, cur: &View) -> Vec<(String, Change)> {
    let none = AgentView::default();
    let names: BTreeSet<&String> = prev.keys().chain(cur.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (before, now) = (
            prev.get(name).unwrap_or(&none),
            cur.get(name).unwrap_or(&none),
        );
        let lifecycle = transitions::diff(before.lifecycle.as_ref(), now.lifecycle.as_ref());
        let relaunched = lifecycle
            .iter()
            .any(|c| matches!(c.kind, EventKind::Started | EventKind::Restarted));
        let was = if relaunched {
            None
        } else {
            before.activity.as_ref()
        };
        // A new reason to wait (another approval) is news too.
        let news = |d: &&Decision| {
            was.is_none_or(|w| {
                w.activity.kind() != d.activity.kind()
                    || (d.activity == Activity::Waiting && w.by.evidence != d.by.evidence)
            })
        };
        let activity = now.activity.as_ref().filter(news).map(activity_change);
        out.extend(
            lifecycle
                .into_iter()
                .chain(activity)
                .map(|c| (name.clone(), c)),
        );
    }
    out
}

/// The state a look found, as one change per agent: what `watch` starts
/// with. Agents still settling are left out (their `started` follows);
/// declared agents with no session are `missing`.
pub fn snapshot(
    sessions: &BTreeMap<String, ObservedSession>,
    view: &View,
    declared: &[String],
) -> Vec<(String, Change)> {
    let mut out = Vec::new();
    for (name, agent) in view {
        let Some(lifecycle) = &agent.lifecycle else {
            continue;
        };
        let in_front = sessions
            .get(name)
            .map(|s| s.pane.current_command.clone())
            .unwrap_or_default();
        let change = match (lifecycle.status, &agent.activity) {
            (Status::Running, Some(decision)) => activity_change(decision),
            (Status::Running, None) => continue,
            (Status::Drift, _) => Change::new(
                EventKind::Drift,
                format!("{in_front} is in front, not the runtime"),
            ),
            (Status::Exited, _) => Change {
                kind: EventKind::Exited,
                exit_code: lifecycle.exit_code,
                detail: lifecycle
                    .exit_code
                    .map(|code| format!("exit status {code}"))
                    .unwrap_or_default(),
                at_ms: None,
            },
            (Status::Unmanaged, _) => Change::new(
                EventKind::Unmanaged,
                format!("a session fleet did not start, running {in_front}"),
            ),
            (Status::Crashloop, _) => Change {
                kind: EventKind::Crashloop,
                exit_code: lifecycle.exit_code,
                detail: "the supervisor stopped relaunching it".into(),
                at_ms: None,
            },
            (Status::Missing | Status::Unreachable, _) => continue,
        };
        out.push((name.clone(), change));
    }
    for name in declared.iter().filter(|n| !view.contains_key(*n)) {
        out.push((
            name.clone(),
            Change::new(EventKind::Missing, "declared, no session"),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn activity_change(decision: &Decision) -> Change {
    let detail = match decision.activity {
        Activity::Waiting => decision.by.evidence.clone(),
        Activity::Idle(secs) => format!("no output for {secs}s"),
        Activity::Working => String::new(),
    };
    Change {
        kind: decision.activity.kind().event(),
        exit_code: None,
        detail,
        at_ms: None,
    }
}

/// What one look found.
#[derive(Debug, Default)]
pub struct Tick {
    pub events: Vec<Event>,
    /// The host refused mid-change (a session ending as it was asked
    /// about), or did not answer: nothing was looked at, and why.
    pub skipped: Option<String>,
    /// The host did not answer at all (worth telling the operator).
    pub stalled: bool,
    /// Every session as this look saw it (none when nothing was looked at).
    pub sessions: BTreeMap<String, ObservedSession>,
}

/// The longest a monitor sleeps between looks.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How soon a pane that died with no status yet is looked at again.
const REAP_SOON: Duration = Duration::from_millis(250);

/// The step, kept running over the core.
pub struct Monitor {
    watch: Box<dyn Watch>,
    /// Unix ms when the clock alone may change what the last look saw.
    due_ms: Option<i64>,
    patterns: Patterns,
    screens: ScreenCache,
    /// `None` before the first look, which is the starting point, not news.
    view: Option<View>,
    last_lifecycles: Option<BTreeMap<String, Lifecycle>>,
    /// The newest event already reported.
    last_id: i64,
    /// When the last look was taken (unix ms).
    last_look_ms: i64,
    /// The agents the fleet file places here, for the first look.
    declared: Vec<String>,
}

impl Monitor {
    /// Starts after the newest event in the store: history is not news.
    pub fn new(core: &Core) -> Result<Self, Error> {
        let fleet = core.fleet_or_running();
        Ok(Self {
            watch: core.watch(),
            due_ms: None,
            patterns: Patterns::new(&fleet),
            screens: ScreenCache::default(),
            view: None,
            last_lifecycles: None,
            last_id: core.with_store(|store| store.last_id())?,
            last_look_ms: core.clock().now_ms(),
            declared: fleet
                .local_agents()
                .map(|a| a.spec.name.to_string())
                .collect(),
        })
    }

    /// Looks at the fleet once: one listing, screens read only where they
    /// may have changed, the lifecycle recorded when it changed.
    pub fn tick(&mut self, core: &Core) -> Result<Tick, Error> {
        let observed_ms = core.clock().now_ms();
        let sessions = match self.watch.list_panes() {
            Ok(panes) => crate::core::observe::sessions(panes),
            Err(HostError::Failed { message }) => {
                return Ok(Tick {
                    events: Vec::new(),
                    skipped: Some(message),
                    stalled: false,
                    sessions: BTreeMap::new(),
                });
            }
            // A stopped or wedged server: say so, and look again later.
            Err(e @ HostError::Timeout { .. }) => {
                return Ok(Tick {
                    events: Vec::new(),
                    skipped: Some(e.to_string()),
                    stalled: true,
                    sessions: BTreeMap::new(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let now = core.clock().now();

        let settling = transitions::settling(&sessions, now);
        let lifecycles = transitions::lifecycles(&sessions, &settling);
        // A store whose file was deleted or replaced is opened again: it
        // learns the present now, and its ids are its own, so what is news
        // in it is what was recorded since the last look.
        core.with_store(|_| Ok(()))?;
        let (since_ms, after_id) = if core.take_store_reopened() {
            self.last_lifecycles = None;
            (self.last_look_ms, 0)
        } else {
            (0, self.last_id)
        };
        if self.last_lifecycles.as_ref() != Some(&lifecycles) {
            core.record(&sessions, observed_ms);
            self.last_lifecycles = Some(lifecycles);
        }
        self.last_look_ms = observed_ms;
        // Read whole (after a reopen): its newest id is where the next look
        // starts, whatever it reports now.
        let mut events = core.with_store(|store| store.events(None, 0, after_id))?;
        if let Some(newest) = events.iter().map(|e| e.id).max() {
            self.last_id = newest;
        } else if after_id == 0 {
            self.last_id = 0;
        }
        events.retain(|e| e.at_ms >= since_ms);

        let watch = &mut self.watch;
        let mut capture = |panes: &[(u32, usize)]| watch.capture_screens(panes);
        screens::refresh(
            &mut self.screens,
            &mut capture,
            &mut self.patterns,
            &sessions,
            now,
        )?;
        let decisions =
            signals::decide_all(&sessions, &self.screens, now, core.settings.idle_after);
        self.due_ms = due_ms(&sessions, &decisions, observed_ms);
        let view = view(&sessions, &settling, decisions);
        let at_ms = core.clock().now_ms();
        let host = core.host().name();
        let event = |snapshot: bool| {
            move |(agent, change): (String, Change)| Event {
                id: 0,
                time: rfc3339_ms(at_ms),
                at_ms,
                host: host.to_string(),
                agent,
                event: change.kind,
                exit_code: change.exit_code,
                detail: change.detail,
                snapshot,
            }
        };
        match &self.view {
            // The first look is the present: every agent's state, once.
            None => {
                events = snapshot(&sessions, &view, &self.declared)
                    .into_iter()
                    .map(event(true))
                    .collect();
            }
            Some(prev) => events.extend(
                step(prev, &view)
                    .into_iter()
                    .filter(|(_, change)| !change.kind.is_lifecycle())
                    .map(event(false)),
            ),
        }
        self.view = Some(view);
        Ok(Tick {
            events,
            skipped: None,
            stalled: false,
            sessions,
        })
    }

    /// Sleeps until the next look is worth taking: the host said something
    /// changed, the clock alone may change a state, or [`HEARTBEAT`].
    /// What each running agent is doing, as the last look decided: the
    /// same decisions `ps` makes, for a view that shows rows.
    pub fn activities(&self) -> BTreeMap<String, Decision> {
        self.view
            .iter()
            .flatten()
            .filter_map(|(name, agent)| Some((name.clone(), agent.activity.clone()?)))
            .collect()
    }

    pub fn wait(&mut self, core: &Core) {
        self.wait_until(core, None);
    }

    /// [`Monitor::wait`], or until `also` (Unix ms) if that comes first.
    pub fn wait_until(&mut self, core: &Core, also: Option<i64>) {
        let now_ms = core.clock().now_ms();
        let due = match (self.due_ms, also) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = due.map_or(HEARTBEAT, |due| {
            let ms = u64::try_from(due.saturating_sub(now_ms)).unwrap_or(0);
            HEARTBEAT.min(Duration::from_millis(ms))
        });
        self.watch.wait(timeout);
    }
}

/// When the clock alone may change what a look saw: a working agent's
/// quiet turning into idle, a launch settling, a dead pane's status
/// arriving. `None` when only the host can change it.
fn due_ms(
    sessions: &BTreeMap<String, ObservedSession>,
    decisions: &BTreeMap<String, Decision>,
    now_ms: i64,
) -> Option<i64> {
    let secs_ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    // Just past the second tmux and the clock count in.
    let slack = 20;
    let now = u64::try_from(now_ms / 1000).unwrap_or(0);
    let idle = decisions
        .values()
        .filter_map(|d| d.until)
        .map(|at| secs_ms(at) + slack);
    let settled = sessions
        .values()
        .filter(|s| s.is_launching(now))
        .filter_map(|s| s.meta.as_ref())
        .map(|m| secs_ms(m.started_at + LAUNCH_GRACE + 1) + slack);
    let reaped = sessions
        .values()
        .any(|s| s.pane.awaits_status() || s.is_exiting())
        .then(|| now_ms + i64::try_from(REAP_SOON.as_millis()).unwrap_or(0));
    // tmux counts output in whole seconds: a pane that wrote in this very
    // second may write more in it (a prompt after its output) with no sign
    // in the digest. Look again once the second is over.
    let this_second = sessions
        .values()
        .any(|s| !s.pane.dead && s.pane.last_output == Some(now))
        .then(|| secs_ms(now + 1) + slack);
    idle.chain(settled).chain(reaped).chain(this_second).min()
}
