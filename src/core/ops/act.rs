//! Takeover acts: typing into agents and attaching read-write. Each is an
//! explicit act, and recorded.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::host::{HostError, Input, Key, ObservedPane};
use crate::core::ops::launch::AgentOutcome;
use crate::core::ops::{Core, Sessions};
use crate::core::signals::Source;
use crate::core::signals::report::{Reported, ReportedState};
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
                if *enter {
                    // A prompt to submit is work to do: what the agent said
                    // before it (idle, a turn complete) is no longer true.
                    // Said before anything is typed, so that whatever the
                    // agent says after (a key may finish its turn at once)
                    // is the newer word.
                    self.mark_working(&sessions, &panes, &format!("{text}\u{23ce}"));
                }
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
                let mut out: Vec<(AgentName, &ObservedPane)> = Vec::new();
                for name in names {
                    // Named twice is typed once.
                    if out.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    let session = self.managed_session(sessions, name)?;
                    match session.status() {
                        Status::Exited => return Err(Error::Exited { name: name.clone() }),
                        // Whatever else is in front would get the text.
                        Status::Drift => {
                            return Err(Error::Drift {
                                name: name.clone(),
                                in_front: session.pane.current_command.clone(),
                            });
                        }
                        _ => {}
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

    /// Stores `working` (fleet's own word, for the current launch) for
    /// agents just sent a prompt. Best effort: their own signals follow.
    fn mark_working(
        &self,
        sessions: &Sessions,
        panes: &[(AgentName, &ObservedPane)],
        detail: &str,
    ) {
        let now_ms = self.clock().now_ms();
        for (name, _) in panes {
            let launch = sessions
                .get(name.as_str())
                .and_then(|s| s.meta.as_ref())
                .map(|m| m.launched_ms);
            let detail = format!("sent {detail}");
            let report = Reported::new(
                ReportedState::Working,
                Source::Report,
                now_ms,
                launch,
                &detail,
            );
            let _ = self.host().set_state(name.as_str(), &report.to_json());
        }
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
        let mut gone: Vec<u32> = Vec::new();
        loop {
            let waiting: Vec<(u32, usize)> = panes
                .iter()
                .filter(|(id, _)| !changed.contains_key(id) && !gone.contains(id))
                .copied()
                .collect();
            if waiting.is_empty() || Instant::now() >= deadline {
                return Ok(changed);
            }
            match self.host().capture_screens(&waiting) {
                Ok(screens) => {
                    for (id, screen) in screens {
                        if before.get(&id) != Some(&screen) {
                            changed.insert(id, ());
                        }
                    }
                }
                // A pane that went away since: it cannot confirm anything;
                // the others go on being looked at.
                Err(HostError::Failed { .. } | HostError::NoServer(_)) => {
                    let alive: Vec<u32> = self
                        .host()
                        .list_panes()?
                        .iter()
                        .map(|p| p.pane_id)
                        .collect();
                    gone.extend(
                        waiting
                            .iter()
                            .map(|(id, _)| *id)
                            .filter(|id| !alive.contains(id)),
                    );
                }
                Err(e) => return Err(e.into()),
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
