//! Takeover acts: typing into an agent and attaching read-write. Each is an
//! explicit act, and recorded.

use std::process::Command;

use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::ops::Core;
use crate::core::vocab::{EventKind, Status};

impl Core {
    /// `fleet send`: types `text` into an agent literally, then Enter if
    /// asked, and records it.
    pub fn send(&self, name: &AgentName, text: &str, enter: bool) -> Result<(), Error> {
        let sessions = self.observe_and_record()?;
        let session = self.managed_session(&sessions, name)?;
        if session.status() == Status::Exited {
            return Err(Error::Exited { name: name.clone() });
        }
        self.host().send_text(&session.pane, text, enter)?;
        let detail = if enter {
            format!("{text}\u{23ce}")
        } else {
            text.to_string()
        };
        self.record_act(name, EventKind::Send, &detail);
        Ok(())
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
