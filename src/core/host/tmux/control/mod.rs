//! The fleet's tmux server, watched over one control-mode connection.
//!
//! Theory of operation. Polling with a new `tmux` process several times a
//! second costs a process start per look, and the server a full listing
//! each time. A [`ControlWatch`] instead keeps two control clients open:
//!
//! - a **link**: `tmux -C attach-session -f no-output,read-only,ignore-size`
//!   on any of the fleet's sessions (no pane output is sent to it, it cannot
//!   type, and it never sizes a window). Listings and screen captures travel
//!   over it as command lines ([`proto`]); no process is started per look.
//!   It subscribes (`refresh-client -B`) to a [`DIGEST`] of every pane: tmux
//!   compares it once a second, inside the server, and tells the link only
//!   when it changed (output, a death, a new process in front, a report).
//!   Sessions made or ended are told at once (`%sessions-changed`).
//! - a **bell**: a client blocked on `wait-for fleet-changed`. Reports and
//!   hooks ([`super::Tmux::set_state`]) and the server's own `pane-died`
//!   and `after-respawn-pane` hooks signal that channel, so what an agent
//!   says of itself, and its death, are heard at once rather than at the
//!   next second.
//!
//! A quiet fleet thus costs the watcher nothing and the server one digest a
//! second. With no server (or no session to attach to), the watch falls
//! back to asking again every second. Every answer is awaited for at most
//! the tmux timeout (`FLEET_TMUX_TIMEOUT`); a connection that closes or stops answering is
//! dropped and made again at the next look.

pub mod proto;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::Tmux;
use super::parse::{PANE_FORMAT, parse_panes};
use crate::core::host::watch::{Wake, Watch};
use crate::core::host::{HostError, ObservedPane};
use proto::{Message, Parser, Reply, command_line};

/// The channel that reports, hooks and deaths signal.
pub const CHANNEL: &str = "fleet-changed";

/// The subscription's name.
const SUBSCRIPTION: &str = "fleet";

/// What the server compares once a second for the link: every field of a
/// pane that can change without a notification of its own. Free text has
/// its separators replaced, as in [`PANE_FORMAT`].
pub const DIGEST: &str = "#{S:#{W:#{P:#{pane_id} #{pane_pid} #{pane_dead} #{pane_dead_status} \
#{pane_dead_signal} #{window_activity} #{pane_height} #{pane_in_mode} \
#{s/[\t\n ]/_/:pane_current_command} #{s/[\t\n]/ /:@fleet-state}\t}}}";

/// How often a server with no session to attach to is looked at again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The index the fleet's server hooks use, so that setting them again
/// replaces rather than adds.
const HOOK_INDEX: u32 = 71;

/// What a reader thread passes on.
#[derive(Debug)]
enum Note {
    Reply { link: u64, reply: Reply },
    Changed,
    Closed { link: u64, reason: String },
}

/// A control client and the thread that reads it.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Client {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Watches the fleet's tmux server over control-mode clients.
pub struct ControlWatch {
    tmux: Tmux,
    link: Option<(u64, Client)>,
    bell: Option<Client>,
    next_link: u64,
    notes: Receiver<Note>,
    sender: Sender<Note>,
    /// Something changed while no one was waiting.
    changed: bool,
}

impl ControlWatch {
    pub fn new(tmux: Tmux) -> Self {
        let (sender, notes) = mpsc::channel();
        Self {
            tmux,
            link: None,
            bell: None,
            next_link: 0,
            notes,
            sender,
            changed: false,
        }
    }

    /// Starts a control client running `args`, its output read by a thread
    /// that turns each message into a note (`link` names replies).
    fn spawn(&self, args: &[String], link: u64, bell: bool) -> Result<Client, HostError> {
        let mut cmd = self.tmux.client();
        cmd.arg("-C")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        self.trace(&format!("-C {}", args.join(" ")));
        let mut child = cmd.spawn().map_err(super::spawn_error)?;
        let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
            return Err(HostError::Failed {
                message: "tmux control client has no pipes".into(),
            });
        };
        let sender = self.sender.clone();
        // The bell's thread answers each ring by waiting again.
        let (stdin, mut bell_stdin) = if bell {
            (None, Some(stdin))
        } else {
            (Some(stdin), None)
        };
        std::thread::spawn(move || {
            let mut parser = Parser::new();
            let mut reader = BufReader::new(stdout);
            let mut bytes = Vec::new();
            let reason = loop {
                bytes.clear();
                match reader.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => break String::from("the connection closed"),
                    Ok(_) => {}
                }
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                }
                let line = String::from_utf8_lossy(&bytes);
                let note = match parser.line(&line) {
                    None => continue,
                    Some(Message::Exit { reason }) => break reason,
                    Some(Message::Reply(reply)) if bell_stdin.is_some() => {
                        // Rung (or refused): wait for the next ring.
                        let rearmed = bell_stdin.as_mut().is_some_and(|s| {
                            s.write_all(command_line(&["wait-for", CHANNEL]).as_bytes())
                                .and_then(|()| s.flush())
                                .is_ok()
                        });
                        if !rearmed || !reply.ok {
                            break String::from("the bell stopped");
                        }
                        Note::Changed
                    }
                    Some(Message::Reply(reply)) => Note::Reply { link, reply },
                    Some(Message::Subscription { .. } | Message::Notification { .. }) => {
                        Note::Changed
                    }
                };
                if sender.send(note).is_err() {
                    return;
                }
            };
            let _ = sender.send(Note::Closed { link, reason });
        });
        Ok(Client { child, stdin })
    }

    fn trace(&self, line: &str) {
        if let Some(trace) = &self.tmux.trace {
            trace(&format!("tmux -L {} {line}", self.tmux.socket));
        }
    }

    /// Makes the link if there is none: attaches to a session of the
    /// listing, subscribes, sets the server's hooks, rings the bell. `None`
    /// when there is no session to attach to (the listing says so).
    fn connect(&mut self) -> Result<Option<Vec<ObservedPane>>, HostError> {
        if self.link.is_some() {
            return Ok(None);
        }
        let panes = self.tmux.list_panes()?;
        let Some(session) = panes.first().map(|p| p.session.clone()) else {
            return Ok(Some(panes));
        };
        self.next_link += 1;
        let id = self.next_link;
        let args = [
            "attach-session",
            "-t",
            &format!("={session}"),
            "-f",
            "no-output,read-only,ignore-size",
        ]
        .map(String::from);
        let client = self.spawn(&args, id, false)?;
        self.link = Some((id, client));
        // The command the client started with answers first.
        let attached = self.answers(id, 1, false).map(|mut r| r.remove(0));
        match attached {
            Ok(reply) if reply.ok => {}
            // The session went away in between: look again later.
            Ok(_) | Err(_) => {
                self.link = None;
                return Ok(Some(panes));
            }
        }
        let hook = |name: &str| {
            vec![
                "set-hook".to_string(),
                "-g".to_string(),
                format!("{name}[{HOOK_INDEX}]"),
                format!("wait-for -S {CHANNEL}"),
            ]
        };
        self.ask(&[
            vec![
                "refresh-client".to_string(),
                "-B".to_string(),
                format!("{SUBSCRIPTION}::{DIGEST}"),
            ],
            hook("pane-died"),
            hook("after-respawn-pane"),
        ])?;
        self.ring();
        // What happened before the link was made is not known: look.
        self.changed = true;
        Ok(None)
    }

    /// Keeps a client blocked on the channel.
    fn ring(&mut self) {
        let alive = self
            .bell
            .as_mut()
            .is_some_and(|b| matches!(b.child.try_wait(), Ok(None)));
        if !alive {
            let args = ["wait-for", CHANNEL].map(String::from);
            self.bell = self.spawn(&args, 0, true).ok();
        }
    }

    /// Sends commands over the link and answers their replies, in order.
    fn ask(&mut self, commands: &[Vec<String>]) -> Result<Vec<Reply>, HostError> {
        let lines: String = commands.iter().map(|c| command_line(c)).collect();
        for command in commands {
            self.trace(&format!("-C: {}", command.join(" ")));
        }
        let Some((id, client)) = &mut self.link else {
            return Err(HostError::Failed {
                message: "no control connection".into(),
            });
        };
        let id = *id;
        let written = client.stdin.as_mut().is_some_and(|s| {
            s.write_all(lines.as_bytes())
                .and_then(|()| s.flush())
                .is_ok()
        });
        if !written {
            self.link = None;
            return Err(HostError::Failed {
                message: "the tmux control connection closed".into(),
            });
        }
        self.answers(id, commands.len(), true)
    }

    /// Waits for `count` replies on link `id` (of this client's commands,
    /// or the one it started with), noting changes that arrive meanwhile.
    fn answers(&mut self, id: u64, count: usize, ours: bool) -> Result<Vec<Reply>, HostError> {
        let deadline = Instant::now() + self.tmux.timeout;
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(left) {
                Ok(Note::Reply { link, reply }) if link == id && reply.ours == ours => {
                    replies.push(reply);
                }
                Ok(Note::Reply { .. }) => {}
                Ok(Note::Changed) => self.changed = true,
                Ok(Note::Closed { link, reason }) if link == id => {
                    self.link = None;
                    self.changed = true;
                    return Err(HostError::Failed {
                        message: format!("the tmux control connection closed: {reason}"),
                    });
                }
                Ok(Note::Closed { .. }) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    self.link = None;
                    return Err(self.tmux.timed_out());
                }
            }
        }
        Ok(replies)
    }

    fn list_over_link(&mut self) -> Result<Vec<ObservedPane>, HostError> {
        let list = || {
            ["list-panes", "-a", "-F", PANE_FORMAT]
                .map(String::from)
                .to_vec()
        };
        let replies = self.ask(&[list()])?;
        let panes = panes_of(&replies[0])?;
        if !panes.iter().any(ObservedPane::awaits_status) {
            return Ok(panes);
        }
        // Make the server reap (see `Tmux::list_panes`), then look again.
        let replies = self.ask(&[["run-shell", "true"].map(String::from).to_vec(), list()])?;
        panes_of(&replies[1])
    }
}

fn panes_of(reply: &Reply) -> Result<Vec<ObservedPane>, HostError> {
    if !reply.ok {
        return Err(HostError::Failed {
            message: reply.lines.first().cloned().unwrap_or_default(),
        });
    }
    let mut text = reply.lines.join("\n");
    text.push('\n');
    Ok(parse_panes(text.as_bytes()))
}

impl Watch for ControlWatch {
    fn list_panes(&mut self) -> Result<Vec<ObservedPane>, HostError> {
        if let Some(panes) = self.connect()? {
            return Ok(panes);
        }
        self.list_over_link()
    }

    fn capture_screens(
        &mut self,
        panes: &[(u32, usize)],
    ) -> Result<BTreeMap<u32, String>, HostError> {
        if panes.is_empty() {
            return Ok(BTreeMap::new());
        }
        if self.link.is_none() {
            return self.tmux.capture_screens(panes);
        }
        let commands: Vec<Vec<String>> = panes
            .iter()
            .map(|(id, _)| {
                ["capture-pane", "-p", "-t", &format!("%{id}")]
                    .map(String::from)
                    .to_vec()
            })
            .collect();
        let replies = self.ask(&commands)?;
        Ok(panes
            .iter()
            .zip(replies)
            .filter(|(_, reply)| reply.ok)
            .map(|((id, _), reply)| {
                let text: String = reply.lines.iter().map(|l| format!("{l}\n")).collect();
                (*id, text)
            })
            .collect())
    }

    fn wait(&mut self, timeout: Duration) -> Wake {
        if self.link.is_none() {
            // Whatever the connection failed on shows at the next look.
            let _ = self.connect();
        }
        if self.link.is_none() {
            let nap = timeout.min(RETRY_EVERY);
            std::thread::sleep(nap);
            return if nap < timeout {
                Wake::Changed
            } else {
                Wake::Timeout
            };
        }
        self.ring();
        if std::mem::take(&mut self.changed) {
            return Wake::Changed;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(left) {
                Ok(Note::Changed) => break,
                Ok(Note::Closed { link, .. })
                    if self.link.as_ref().is_some_and(|l| l.0 == link) =>
                {
                    self.link = None;
                    break;
                }
                Ok(Note::Reply { .. } | Note::Closed { .. }) => {}
                Err(RecvTimeoutError::Timeout) => return Wake::Timeout,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Whatever else arrived with it is part of the same change.
        while let Ok(note) = self.notes.try_recv() {
            if let Note::Closed { link, .. } = note
                && self.link.as_ref().is_some_and(|l| l.0 == link)
            {
                self.link = None;
            }
        }
        Wake::Changed
    }
}
