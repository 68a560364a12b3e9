//! Takeover acts: typing into agents and attaching read-write. Each is an
//! explicit act, and recorded.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::host::{Input, Key, ObservedPane};
use crate::core::ops::launch::AgentOutcome;
use crate::core::ops::{Core, Sessions};
use crate::core::vocab::{EventKind, Status};

/// The pause between typing text and pressing Enter: Codex takes an Enter
/// that arrives with the text as part of a paste, not as a submit.
pub const SUBMIT_PAUSE: Duration = Duration::from_millis(150);

/// How long a screen has to show that what was typed arrived.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(3);

const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Whom to type into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    Named(Vec<AgentName>),
    /// Every agent fleet started that is alive.
    All,
    /// Every live agent of this runtime.
    Runtime(String),
}

/// What to type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Characters, then Enter (after a pause) unless `enter` is false.
    Text { text: String, enter: bool },
    /// Named keys, pressed in order.
    Keys(Vec<Key>),
}

/// Whether what was typed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The screen changed after it was typed.
    Confirmed,
    /// The screen did not change within [`CONFIRM_WITHIN`].
    Unconfirmed,
}

impl Core {
    /// `fleet send`: types into agents, all at once, records the act, and
    /// watches their screens to confirm it arrived. Every named agent is
    /// checked before anything is typed.
    pub fn send(
        &self,
        targets: &Targets,
        typed: &Typed,
    ) -> Result<Vec<AgentOutcome<Delivery>>, Error> {
        let sessions = self.observe_and_record()?;
        let panes = self.send_targets(&sessions, targets)?;
        let ids: Vec<(u32, usize)> = panes.iter().map(|(_, p)| (p.pane_id, p.height)).collect();
        let before = self.host().capture_screens(&ids)?;
        let inputs = |input: Input| -> Vec<(&ObservedPane, Input)> {
            panes.iter().map(|(_, p)| (*p, input.clone())).collect()
        };
        let detail = match typed {
            Typed::Text { text, enter } => {
                self.host().type_into(&inputs(Input::Text(text.clone())))?;
                if *enter {
                    std::thread::sleep(SUBMIT_PAUSE);
                    // Out of copy mode since the text went in.
                    let typing: Vec<ObservedPane> = panes
                        .iter()
                        .map(|(_, p)| ObservedPane {
                            in_mode: false,
                            ..(*p).clone()
                        })
                        .collect();
                    let enter: Vec<(&ObservedPane, Input)> = typing
                        .iter()
                        .map(|p| (p, Input::Keys(vec![Key::enter()])))
                        .collect();
                    self.host().type_into(&enter)?;
                    format!("{text}\u{23ce}")
                } else {
                    text.clone()
                }
            }
            Typed::Keys(keys) => {
                self.host().type_into(&inputs(Input::Keys(keys.clone())))?;
                keys.iter().map(|k| format!("<{}>", k.name())).collect()
            }
        };
        for (name, _) in &panes {
            self.record_act(name, EventKind::Send, &detail);
        }
        let changed = self.screens_changed(&ids, &before)?;
        Ok(panes
            .iter()
            .map(|(name, pane)| AgentOutcome {
                name: name.clone(),
                outcome: if changed.contains_key(&pane.pane_id) {
                    Delivery::Confirmed
                } else {
                    Delivery::Unconfirmed
                },
            })
            .collect())
    }

    /// The panes to type into: every named one must be a live agent fleet
    /// started; `All` and `Runtime` take the live ones there are.
    fn send_targets<'a>(
        &self,
        sessions: &'a Sessions,
        targets: &Targets,
    ) -> Result<Vec<(AgentName, &'a ObservedPane)>, Error> {
        // Typing into everyone goes only where the runtime is in front:
        // never into whatever else came to the front of a drifted pane.
        let live = |s: &crate::core::observe::ObservedSession| {
            s.is_managed() && s.status() == Status::Running
        };
        let panes: Vec<(AgentName, &ObservedPane)> = match targets {
            Targets::Named(names) => {
                let mut out = Vec::new();
                for name in names {
                    let session = self.managed_session(sessions, name)?;
                    if session.status() == Status::Exited {
                        return Err(Error::Exited { name: name.clone() });
                    }
                    out.push((name.clone(), &session.pane));
                }
                out
            }
            Targets::All | Targets::Runtime(_) => sessions
                .values()
                .filter(|s| live(s))
                .filter(|s| match targets {
                    Targets::Runtime(r) => s.meta.as_ref().is_some_and(|m| &m.runtime == r),
                    _ => true,
                })
                .filter_map(|s| Some((AgentName::parse(&s.name).ok()?, &s.pane)))
                .collect(),
        };
        if panes.is_empty() {
            let which = match targets {
                Targets::Runtime(r) => format!("no live agent runs {r:?}"),
                _ => "no live agent".to_string(),
            };
            return Err(Error::BadValue(format!(
                "{which}: nothing was typed (see fleet ps)"
            )));
        }
        Ok(panes)
    }

    /// Which of these panes' screens differ from `before`, looking until
    /// all do or [`CONFIRM_WITHIN`] passes.
    fn screens_changed(
        &self,
        panes: &[(u32, usize)],
        before: &BTreeMap<u32, String>,
    ) -> Result<BTreeMap<u32, ()>, Error> {
        let deadline = Instant::now() + CONFIRM_WITHIN;
        let mut changed = BTreeMap::new();
        loop {
            let waiting: Vec<(u32, usize)> = panes
                .iter()
                .filter(|(id, _)| !changed.contains_key(id))
                .copied()
                .collect();
            if waiting.is_empty() || Instant::now() >= deadline {
                return Ok(changed);
            }
            for (id, screen) in self.host().capture_screens(&waiting)? {
                if before.get(&id) != Some(&screen) {
                    changed.insert(id, ());
                }
            }
            if changed.len() < panes.len() {
                std::thread::sleep(LOOK_EVERY);
            }
        }
    }

    /// `fleet attach`: the command that attaches this terminal to an
    /// agent's session, read-only unless `takeover`.
    pub fn attach(&self, name: &AgentName, takeover: bool) -> Result<Command, Error> {
        let sessions = self.observe_and_record()?;
        if !sessions.contains_key(name.as_str()) {
            return Err(Error::NoSession {
                name: name.clone(),
                transcript: true,
            });
        }
        Ok(self.host().attach_command(name.as_str(), !takeover))
    }

    /// Records that the operator took the wheel of an agent.
    pub fn record_takeover(&self, name: &AgentName) {
        self.record_act(name, EventKind::Takeover, "attached read-write");
    }
}
