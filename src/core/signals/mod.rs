//! Signals: evidence of what a running agent is doing, and the one pure
//! decision that turns it into an activity.
//!
//! Theory of operation. Every piece of evidence is a [`Signal`]: where it
//! came from ([`Source`]), when, what it says ([`Says`]) and the evidence
//! itself (the prompt line, the time of the last output). Gathering
//! signals does the I/O (reading screens, in [`screens`]); [`decide`] does
//! none: given the signals, the time and the idle threshold it answers a
//! [`Decision`] that names the signal that decided, so `fleet explain` can
//! say why, and what the other sources said. The runtimes' own word (a
//! hook, an extension, `fleet report`: see [`report`]) is stored on the
//! session, so reading it costs nothing beyond the listing.

pub mod hooks;
pub mod report;
pub mod screen;
pub mod screens;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The runtime's own lifecycle hooks (Claude Code, Codex).
    Hook,
    /// An extension loaded into the runtime (pi).
    Extension,
    /// `fleet report`: a wrapper or an operator said so.
    Report,
    /// A screen rule matched the pane's screen.
    Screen,
    /// The multiplexer's time of the pane's last output.
    OutputTiming,
}

impl Source {
    /// The runtime (or something speaking for it) said this itself.
    pub fn is_reported(self) -> bool {
        matches!(self, Source::Hook | Source::Extension | Source::Report)
    }
}

/// What a signal says about the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Says {
    /// It needs a human.
    Waiting,
    /// It is at work.
    Working,
    /// It finished and waits for its next task.
    Idle,
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
    /// What was seen: the prompt line, the hook's event, the output time.
    pub evidence: String,
}

/// An activity and the signal that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub activity: Activity,
    pub by: Signal,
    /// Unix seconds when, with no new signal, the clock alone turns this
    /// `working` into `idle`: when a watcher must look again.
    pub until: Option<u64>,
}

/// Seconds after a report during which the pane's own output is still the
/// report's doing (a hook fires, then the screen redraws). Output later
/// than that means the agent moved on: a report of `idle` or `waiting` no
/// longer holds (hooks miss interrupts and approval outcomes).
pub const SUPERSEDE_AFTER: u64 = 2;

/// Decides a running agent's activity from its signals, in this order:
///
/// 1. a screen that shows a needs-a-human prompt: that is what a person
///    looking at the pane sees now;
/// 2. the newest report of the runtime itself (hook, extension, `fleet
///    report`), unless the pane has written since (then it moved on), and a
///    report of `working` only while output or the report is recent (a
///    missed interrupt must not read `working` forever);
/// 3. the time of the last output: working until `idle_after` seconds of
///    quiet, then idle.
///
/// `None` when nothing speaks.
pub fn decide(signals: &[Signal], now: u64, idle_after: u64) -> Option<Decision> {
    let newest =
        |keep: &dyn Fn(&Signal) -> bool| signals.iter().filter(|s| keep(s)).max_by_key(|s| s.at);
    let decision = |activity, by: &Signal| Decision {
        activity,
        by: by.clone(),
        until: None,
    };
    if let Some(screen) = newest(&|s| s.source == Source::Screen && s.says == Says::Waiting) {
        return Some(decision(Activity::Waiting, screen));
    }
    let output = newest(&|s| s.says == Says::Output);
    let last_output = output.map(|s| s.at);
    if let Some(report) = newest(&|s| s.source.is_reported()) {
        let moved_on = last_output.is_some_and(|at| at > report.at + SUPERSEDE_AFTER);
        let since = last_output.map_or(report.at, |at| at.max(report.at));
        let quiet = now.saturating_sub(since);
        match report.says {
            Says::Waiting if !moved_on => return Some(decision(Activity::Waiting, report)),
            Says::Idle if !moved_on => return Some(decision(Activity::Idle(quiet), report)),
            Says::Working if quiet < idle_after => {
                return Some(Decision {
                    until: Some(since + idle_after),
                    ..decision(Activity::Working, report)
                });
            }
            _ => {}
        }
    }
    let output = output?;
    let quiet = now.saturating_sub(output.at);
    if quiet < idle_after {
        return Some(Decision {
            until: Some(output.at + idle_after),
            ..decision(Activity::Working, output)
        });
    }
    Some(decision(Activity::Idle(quiet), output))
}

/// The multiplexer's own evidence: when the pane last wrote. tmux keeps
/// that time per window, and a relaunched pane keeps its window: nothing
/// from before the current launch counts, so a restart starts the clock
/// again. A pane that never said counts as writing now.
pub fn output_timing(session: &ObservedSession, now: u64) -> Signal {
    let launched = session.meta.as_ref().map(|m| m.started_at);
    let at = match (session.pane.last_output, launched) {
        (Some(out), Some(launch)) => out.max(launch),
        (Some(out), None) => out,
        (None, _) => now,
    };
    Signal {
        source: Source::OutputTiming,
        at,
        says: Says::Output,
        evidence: "the pane last wrote (tmux window_activity)".into(),
    }
}

/// Everything known about one agent's activity: its own report for this
/// launch, what its screen shows, when it last wrote.
pub fn signals_of(session: &ObservedSession, screens: &ScreenCache, now: u64) -> Vec<Signal> {
    let now_ms = i64::try_from(now.saturating_mul(1000)).unwrap_or(i64::MAX);
    let raw = session.pane.state.as_deref();
    let reported = report::Reported::current(raw, session.meta.as_ref(), now_ms);
    reported
        .map(|r| r.signal())
        .into_iter()
        .chain(screens.signal(session))
        .chain([output_timing(session, now)])
        .collect()
}

/// The activity of every running managed session, decided from its signals.
pub fn decide_all(
    sessions: &BTreeMap<String, ObservedSession>,
    screens: &ScreenCache,
    now: u64,
    idle_after: u64,
) -> BTreeMap<String, Decision> {
    sessions
        .iter()
        .filter(|(_, s)| s.status() == Status::Running && s.is_managed() && !s.is_exiting())
        .filter_map(|(name, s)| {
            let signals = signals_of(s, screens, now);
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
            signal(Source::Hook, 99, Says::Working),
            signal(Source::Screen, 98, Says::Waiting),
        ];
        let decision = decide(&signals, 100, 15);
        assert_eq!(
            decision.as_ref().map(|d| d.activity),
            Some(Activity::Waiting)
        );
        assert_eq!(decision.map(|d| d.by.source), Some(Source::Screen));
    }

    /// (what the runtime reported and when, last output) -> activity, by.
    #[test]
    fn the_runtimes_word_holds_until_the_pane_moves_on() {
        let at = |report: Option<(Says, u64)>, output: u64| {
            let mut signals = vec![signal(Source::OutputTiming, output, Says::Output)];
            signals.extend(report.map(|(says, t)| signal(Source::Hook, t, says)));
            decide(&signals, 100, 15).map(|d| (d.activity, d.by.source))
        };
        use Activity::*;
        use Source::{Hook, OutputTiming};
        let table = [
            // A permission request with the screen still on it: waiting.
            (Some((Says::Waiting, 90)), 91, (Waiting, Hook)),
            // Answered since (the pane wrote well after): it moved on.
            (Some((Says::Waiting, 90)), 97, (Working, OutputTiming)),
            // Stop: idle since its last output, even if that was recent.
            (Some((Says::Idle, 98)), 99, (Idle(1), Hook)),
            (Some((Says::Idle, 60)), 99, (Working, OutputTiming)),
            // A prompt was submitted: working while anything is recent...
            (Some((Says::Working, 95)), 50, (Working, Hook)),
            // ...but an interrupt the hooks missed does not read working
            // forever: quiet for long, it is idle.
            (Some((Says::Working, 60)), 50, (Idle(50), OutputTiming)),
            (None, 99, (Working, OutputTiming)),
        ];
        for (report, output, want) in table {
            assert_eq!(
                at(report, output),
                Some(want),
                "{report:?} output at {output}"
            );
        }
    }

    #[test]
    fn the_decision_names_its_signal() {
        let signals = [signal(Source::OutputTiming, 10, Says::Output)];
        let decision = decide(&signals, 100, 15);
        assert_eq!(decision.map(|d| d.by), Some(signals[0].clone()));
        assert_eq!(Activity::Idle(720).kind(), ActivityKind::Idle);
    }
}
