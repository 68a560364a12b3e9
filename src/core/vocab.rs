//! The words fleet says about agents, as types: status, activity and event
//! kind. Each serializes to exactly the word `--json` has always printed:
//! these are a stable interface (add words, never rename them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The status words of `fleet ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The runtime is the pane's foreground process.
    Running,
    /// The pane is alive but something else is in front.
    Drift,
    /// The pane died; its status and last screen are kept.
    Exited,
    /// Declared, no session.
    Missing,
    /// A session on the fleet socket the fleet did not start.
    Unmanaged,
    /// Its host did not answer.
    Unreachable,
    /// It died again and again; the supervisor stopped relaunching it
    /// until `fleet restart` or `fleet up`.
    Crashloop,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Drift => "drift",
            Status::Exited => "exited",
            Status::Missing => "missing",
            Status::Unmanaged => "unmanaged",
            Status::Unreachable => "unreachable",
            Status::Crashloop => "crashloop",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// What a running agent is doing, as a word (`ps --json`'s `activity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    Working,
    Idle,
    Waiting,
}

impl ActivityKind {
    pub fn word(self) -> &'static str {
        match self {
            ActivityKind::Working => "working",
            ActivityKind::Idle => "idle",
            ActivityKind::Waiting => "waiting",
        }
    }

    /// The event that reports a change into this activity.
    pub fn event(self) -> EventKind {
        match self {
            ActivityKind::Working => EventKind::Working,
            ActivityKind::Idle => EventKind::Idle,
            ActivityKind::Waiting => EventKind::Waiting,
        }
    }
}

impl fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The kinds of event, as `fleet events` and `fleet watch --json` name them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    Started,
    Restarted,
    Exited,
    Drift,
    DriftEnded,
    Stopped,
    Vanished,
    Unmanaged,
    Working,
    Idle,
    Waiting,
    Takeover,
    Send,
    /// Declared, with no session: only in the state `watch` starts with.
    Missing,
    /// The supervisor gave up relaunching an agent that kept dying.
    Crashloop,
    /// Another host stopped answering (`watch` across hosts), and
    /// answered again.
    Unreachable,
    Reachable,
    /// A kind this fleet does not know, written by a newer one into the
    /// same store: shown as written, never dropped.
    Other(String),
}

impl EventKind {
    /// Every kind this fleet knows, in the order the README lists them.
    pub const KNOWN: [EventKind; 17] = [
        EventKind::Started,
        EventKind::Restarted,
        EventKind::Exited,
        EventKind::Stopped,
        EventKind::Drift,
        EventKind::DriftEnded,
        EventKind::Vanished,
        EventKind::Unmanaged,
        EventKind::Working,
        EventKind::Idle,
        EventKind::Waiting,
        EventKind::Send,
        EventKind::Takeover,
        EventKind::Missing,
        EventKind::Crashloop,
        EventKind::Unreachable,
        EventKind::Reachable,
    ];

    pub fn word(&self) -> &str {
        match self {
            EventKind::Started => "started",
            EventKind::Restarted => "restarted",
            EventKind::Exited => "exited",
            EventKind::Drift => "drift",
            EventKind::DriftEnded => "drift-ended",
            EventKind::Stopped => "stopped",
            EventKind::Vanished => "vanished",
            EventKind::Unmanaged => "unmanaged",
            EventKind::Working => "working",
            EventKind::Idle => "idle",
            EventKind::Waiting => "waiting",
            EventKind::Takeover => "takeover",
            EventKind::Send => "send",
            EventKind::Missing => "missing",
            EventKind::Crashloop => "crashloop",
            EventKind::Unreachable => "unreachable",
            EventKind::Reachable => "reachable",
            EventKind::Other(word) => word,
        }
    }

    /// Changes of an agent's lifecycle (history kept in the event store),
    /// as opposed to its activity or an operator's act.
    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            EventKind::Started
                | EventKind::Restarted
                | EventKind::Exited
                | EventKind::Drift
                | EventKind::DriftEnded
                | EventKind::Stopped
                | EventKind::Vanished
                | EventKind::Unmanaged
        )
    }
}

impl FromStr for EventKind {
    type Err = std::convert::Infallible;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Ok(Self::KNOWN
            .into_iter()
            .find(|k| k.word() == word)
            .unwrap_or_else(|| EventKind::Other(word.to_string())))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Ok(word.parse().unwrap_or(EventKind::Other(word)))
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_the_json_words() {
        let json = |v: &dyn erased::Json| v.json();
        assert_eq!(json(&Status::Unreachable), "\"unreachable\"");
        assert_eq!(json(&ActivityKind::Waiting), "\"waiting\"");
        assert_eq!(json(&EventKind::DriftEnded), "\"drift-ended\"");
        for kind in EventKind::KNOWN {
            assert_eq!(kind.word().parse::<EventKind>().ok(), Some(kind.clone()));
            assert_eq!(json(&kind), format!("\"{}\"", kind.word()));
        }
        assert_eq!(
            "from-the-future".parse::<EventKind>().ok(),
            Some(EventKind::Other("from-the-future".into()))
        );
    }

    mod erased {
        pub trait Json {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Json for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }
    }
}
