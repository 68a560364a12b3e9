//! Signals: evidence of what a running agent is doing, and the one pure
//! decision that turns it into an activity.
//!
//! Theory of operation. Every piece of evidence is a [`Signal`]: where it
//! came from ([`Source`]), when, what it says ([`Says`]) and the evidence
//! itself (the prompt line, the time of the last output). Gathering
//! signals does the I/O (reading screens, in [`screens`]); [`decide`] does
//! none: given the signals, the time and the idle threshold it answers a
//! [`Decision`] that names the signal that decided, so `fleet explain` can
//! say why. A source this fleet does not have yet (a runtime's hook, its
//! own report) is one more [`Source`] with its place in [`AUTHORITY`].

pub mod screen;
pub mod screens;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::core::observe::ObservedSession;
use crate::core::vocab::{ActivityKind, Status};
use screens::ScreenCache;

/// What a running agent is doing, with how long it has been idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Working,
    /// Idle for this many seconds.
    Idle(u64),
    Waiting,
}

impl Activity {
    /// Its word: `working`, `idle`, `waiting`.
    pub fn kind(self) -> ActivityKind {
        match self {
            Activity::Working => ActivityKind::Working,
            Activity::Idle(_) => ActivityKind::Idle,
            Activity::Waiting => ActivityKind::Waiting,
        }
    }
}

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A screen rule matched the pane's screen.
    Screen,
    /// The multiplexer's time of the pane's last output.
    OutputTiming,
}

/// Which source wins when several speak: the first in this list that has
/// a claim decides; the others are cross-checks.
pub const AUTHORITY: [Source; 2] = [Source::Screen, Source::OutputTiming];

/// What a signal says about the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Says {
    /// It needs a human.
    Waiting,
    /// It wrote something at the signal's time.
    Output,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    pub source: Source,
    /// Unix seconds when the evidence was true.
    pub at: u64,
    pub says: Says,
    /// What was seen: the prompt line, or the output time.
    pub evidence: String,
}

/// An activity and the signal that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub activity: Activity,
    pub by: Signal,
}

/// Decides a running agent's activity from its signals: a claim that it
/// waits for a human decides, by [`AUTHORITY`]; else the last output makes
/// it working until `idle_after` seconds of quiet, then idle. `None` when
/// nothing speaks.
pub fn decide(signals: &[Signal], now: u64, idle_after: u64) -> Option<Decision> {
    let by_authority = |says: Says| {
        AUTHORITY.iter().find_map(|source| {
            signals
                .iter()
                .filter(|s| s.source == *source && s.says == says)
                .max_by_key(|s| s.at)
        })
    };
    if let Some(waiting) = by_authority(Says::Waiting) {
        return Some(Decision {
            activity: Activity::Waiting,
            by: waiting.clone(),
        });
    }
    let output = by_authority(Says::Output)?;
    let quiet = now.saturating_sub(output.at);
    let activity = if quiet < idle_after {
        Activity::Working
    } else {
        Activity::Idle(quiet)
    };
    Some(Decision {
        activity,
        by: output.clone(),
    })
}

/// The multiplexer's own evidence: when the pane last wrote. A pane that
/// never said counts as writing now (it has just started).
pub fn output_timing(session: &ObservedSession, now: u64) -> Signal {
    let at = session.pane.last_output.unwrap_or(now);
    Signal {
        source: Source::OutputTiming,
        at,
        says: Says::Output,
        evidence: format!("last output at {at}"),
    }
}

/// The activity of every running managed session, from its signals: what
/// the screens showed and when each pane last wrote.
pub fn decide_all(
    sessions: &BTreeMap<String, ObservedSession>,
    screens: &ScreenCache,
    now: u64,
    idle_after: u64,
) -> BTreeMap<String, Decision> {
    sessions
        .iter()
        .filter(|(_, s)| s.status() == Status::Running && s.is_managed())
        .filter_map(|(name, s)| {
            let signals: Vec<Signal> = screens
                .signal(s)
                .into_iter()
                .chain([output_timing(s, now)])
                .collect();
            Some((name.clone(), decide(&signals, now, idle_after)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(source: Source, at: u64, says: Says) -> Signal {
        Signal {
            source,
            at,
            says,
            evidence: format!("{source:?} at {at}"),
        }
    }

    #[test]
    fn working_then_idle_by_the_last_output() {
        let out = |at| [signal(Source::OutputTiming, at, Says::Output)];
        let activity = |signals: &[Signal]| decide(signals, 100, 15).map(|d| d.activity);
        assert_eq!(activity(&out(95)), Some(Activity::Working));
        assert_eq!(activity(&out(86)), Some(Activity::Working));
        assert_eq!(activity(&out(85)), Some(Activity::Idle(15)));
        assert_eq!(activity(&out(40)), Some(Activity::Idle(60)));
        assert_eq!(activity(&[]), None);
    }

    #[test]
    fn a_waiting_screen_decides_and_says_so() {
        let signals = [
            signal(Source::OutputTiming, 99, Says::Output),
            signal(Source::Screen, 98, Says::Waiting),
        ];
        let decision = decide(&signals, 100, 15);
        assert_eq!(
            decision.as_ref().map(|d| d.activity),
            Some(Activity::Waiting)
        );
        assert_eq!(decision.map(|d| d.by.source), Some(Source::Screen));
    }

    #[test]
    fn the_decision_names_its_signal() {
        let signals = [signal(Source::OutputTiming, 10, Says::Output)];
        let decision = decide(&signals, 100, 15);
        assert_eq!(decision.map(|d| d.by), Some(signals[0].clone()));
        assert_eq!(Activity::Idle(720).kind(), ActivityKind::Idle);
    }
}
