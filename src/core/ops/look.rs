//! Looking, read-only: `ps` rows, an agent's screen, its transcript, the
//! history. Looking records what changed since anyone last looked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::Fleet;
use crate::core::error::{Error, Warning};
use crate::core::host::Capture;
use crate::core::ops::{Core, Sessions};
use crate::core::rows::{self, AgentRow, Extras};
use crate::core::signals::screens::{self, Patterns, ScreenCache};
use crate::core::signals::{self, Decision};
use crate::core::store::events::Event;
use crate::core::transcript::TranscriptReader;
use crate::core::transcript::lines::last_lines;

impl Core {
    /// `fleet ps`: one row per agent, declared ones first.
    pub fn ps(&self) -> Result<Vec<AgentRow>, Error> {
        let fleet = self.fleet_or_running();
        let sessions = self.observe_and_record()?;
        let extras = Extras {
            activity: self.activities(&fleet, &sessions)?,
        };
        let now = self.clock().now();
        let host = self.host().name();
        Ok(rows::rows(Some(&fleet), &sessions, &extras, host, now))
    }

    /// Every running agent's activity, decided from its signals.
    ///
    /// Screens that may show a waiting prompt and changed since they were
    /// last read are read, all in one more call to the host; what was read
    /// is kept in `$FLEET_HOME`, so on a quiet fleet this costs no call.
    pub fn activities(
        &self,
        fleet: &Fleet,
        sessions: &Sessions,
    ) -> Result<BTreeMap<String, Decision>, Error> {
        let now = self.clock().now();
        let cache_path = self.state_file("waiting.json");
        let mut cache = cache_path
            .as_deref()
            .map(ScreenCache::load)
            .unwrap_or_default();
        let mut patterns = Patterns::new(fleet);
        let mut capture = |panes: &[(u32, usize)]| self.host().capture_screens(panes);
        if screens::refresh(&mut cache, &mut capture, &mut patterns, sessions, now)?
            && let Some(path) = &cache_path
            && let Err(e) = cache.save(path)
        {
            self.warn(Warning::NotSaved {
                path: path.clone(),
                error: e.to_string(),
            });
        }
        let idle_after = self.settings.idle_after;
        Ok(signals::decide_all(sessions, &cache, now, idle_after))
    }

    /// `fleet peek`: an agent's screen, or its last `lines` lines reaching
    /// into the scrollback; `raw` keeps escape sequences.
    pub fn peek(&self, name: &AgentName, lines: Option<usize>, raw: bool) -> Result<String, Error> {
        let sessions = self.observe_and_record()?;
        let session = sessions
            .get(name.as_str())
            .ok_or_else(|| Error::NoSession {
                name: name.clone(),
                transcript: true,
            })?;
        let height = session.pane.height.max(1);
        let (what, lines) = match lines {
            Some(0) => {
                return Err(Error::BadValue(
                    "-n 0 shows nothing: give at least 1 line".into(),
                ));
            }
            Some(n) => (Capture::Last(n), n),
            // tmux scrolls a dead pane up a line to say so: reach back for
            // what scrolled off, so the screen shows why the runtime died.
            None if session.pane.dead => (Capture::Last(height), height),
            None => (Capture::Screen, usize::MAX),
        };
        let mut text = self.host().capture(session.pane.pane_id, what, raw)?;
        if session.pane.dead {
            text = close_dead_gap(&text);
        }
        Ok(last_lines(&text, lines))
    }

    /// `fleet events`: the history of one agent or all, at most `since` old.
    pub fn events(
        &self,
        name: Option<&AgentName>,
        since: Option<Duration>,
    ) -> Result<Vec<Event>, Error> {
        let since_ms = since.map_or(0, |d| {
            self.clock()
                .now_ms()
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        });
        // Bring history up to date with what happened since anyone looked.
        self.observe_and_record()?;
        let mut events =
            self.with_store(|store| store.events(name.map(AgentName::as_str), since_ms, 0))?;
        // In the order things happened: an act kept aside while the store
        // was locked is recorded after what its holder wrote meanwhile.
        events.sort_by_key(|e| (e.at_ms, e.id));
        Ok(events)
    }

    /// `fleet logs`: an agent's transcript, opened and read so far.
    pub fn transcript(&self, name: &AgentName) -> Result<(TranscriptReader, Vec<u8>), Error> {
        let path = self.transcripts()?.path(name);
        let older = crate::core::transcript::rotated(&path);
        if !path.exists() && !older.exists() {
            return Err(Error::NoTranscript {
                name: name.clone(),
                dir: path.parent().map(PathBuf::from).unwrap_or_default(),
            });
        }
        TranscriptReader::open(&path).map_err(|source| {
            // A refusal names the path itself.
            let shown = path.display().to_string();
            let what = if source.to_string().contains(&shown) {
                format!("the transcript of {name}")
            } else {
                shown
            };
            Error::Io { what, source }
        })
    }
}

/// tmux writes `Pane is dead (…)` on the pane's bottom row, below the rows
/// the runtime never reached: the blank run between its last output and
/// that line (~48 lines on a fresh pane) is cut to one blank line.
fn close_dead_gap(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(dead) = lines.iter().rposition(|l| l.contains("Pane is dead")) else {
        return text.to_string();
    };
    let blank = |l: &&str| l.trim().is_empty();
    let gap_start = lines[..dead]
        .iter()
        .rposition(|l| !blank(l))
        .map_or(0, |i| i + 1);
    let keep = usize::from(gap_start > 0 && gap_start < dead);
    let mut out: Vec<&str> = lines[..gap_start].to_vec();
    out.extend(std::iter::repeat_n("", keep));
    out.extend(&lines[dead..]);
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

#[cfg(test)]
mod dead_gap_tests {
    use super::close_dead_gap;

    #[test]
    fn the_blank_run_above_pane_is_dead_is_one_line() {
        let screen = format!("hello\nlast\n{}Pane is dead (status 3)\n", "\n".repeat(48));
        assert_eq!(
            close_dead_gap(&screen),
            "hello\nlast\n\nPane is dead (status 3)\n"
        );
        assert_eq!(
            close_dead_gap("a\n\n\nb\nPane is dead (status 0)"),
            "a\n\n\nb\nPane is dead (status 0)"
        );
        assert_eq!(close_dead_gap("\n\n\nPane is dead\n"), "Pane is dead\n");
        assert_eq!(close_dead_gap("a\n\n\n\nb\n"), "a\n\n\n\nb\n");
    }
}
