//! The fleet's tmux server, watched over one control-mode connection.
//!
//! Theory of operation. Polling with a new `tmux` process several times a
//! second costs a process start per look, and the server a full listing
//! each time. A [`ControlWatch`] instead keeps one control client open, a
//! **link**: `tmux -C attach-session -f no-output,read-only,ignore-size` to
//! one of the fleet's sessions (no pane output is sent to it, it cannot
//! type, it never sizes a window; tmux 3.3 keeps a control client only
//! while it is attached). Listings and screen captures travel over it as
//! command lines ([`proto`]); no process is started per look. When its
//! session ends, tmux lets it go, and the next look makes another. Between
//! looks it asks, over the same link:
//!
//! every [`DIGEST_EVERY`], for a [`DIGEST`] of every pane (pid, death,
//! exit status, last-output second, height, mode, what is in front, the
//! reported state), and compares it with the last one: output, deaths and
//! processes in front are seen within a second. Sessions made or ended are
//! told at once (`%sessions-changed`).
//!
//! What an agent says of itself is heard at once: every report and hook
//! signals the channel [`CHANNEL`] in the same tmux call that stores it
//! ([`super::Tmux::set_state`]), and a **bell**, a plain `tmux wait-for` on
//! it, returns. The bell lives at most [`BELL_LIFETIME`] (`timeout`), so
//! one left behind by a watcher that was killed goes away by itself. The
//! watch sets nothing on the server. (tmux 3.3's own pushes were tried and
//! left: a `refresh-client -B` subscription crashes a 3.3 server when the
//! subscriber's session ends (fixed in tmux in 2026), and a client blocked
//! in `wait-for` keeps a 3.3 server from exiting once its reader is gone.)
//!
//! What a pane shows can look like protocol (`%end …`, `%exit`), and a
//! capture carries it. The parser ends a block only at its own guard, but
//! a pane can guess that guard, so every reply is checked as well: its
//! number must come after the last one's, a screen must have exactly as
//! many lines as the pane is high, a listing only pane lines. A reply that
//! fails is a connection out of step: it is dropped (with anything it
//! still had to say) and the look is taken over a one-shot tmux call.
//!
//! With no session to attach to, the watch looks again every second. Every answer is
//! awaited for at most the tmux timeout (`FLEET_TMUX_TIMEOUT`); a link
//! that closes or stops answering is dropped and made again at the next
//! look.

pub mod proto;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::Tmux;
use super::parse::{PANE_FORMAT, parse_panes};
use crate::core::host::watch::{Wake, Watch};
use crate::core::host::{HostError, ObservedPane};
use proto::{Message, Parser, Reply, command_line};

/// The channel every report signals (`wait-for -S`).
pub const CHANNEL: &str = "fleet-changed";

/// How long one bell waits before it is made again: one left behind by a
/// watcher that was killed goes away within this.
pub const BELL_LIFETIME: Duration = Duration::from_secs(15);

/// What the watch asks for once a second over the link and compares with
/// the last answer: every field of a pane that can change without a
/// notification of its own. Free text has its separators replaced, as in
/// [`PANE_FORMAT`].
pub const DIGEST: &str = "#{S:#{W:#{P:#{pane_id} #{pane_pid} #{pane_dead} #{pane_dead_status} \
#{pane_dead_signal} #{window_activity} #{pane_height} #{pane_in_mode} \
#{s/[\t\n ]/_/:pane_current_command} #{s/[\t\n]/ /:@fleet-state}\t}}}";

/// How often a missing server is looked for again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How often the digest is asked for: under a second, so that what it
/// shows is seen within one.
const DIGEST_EVERY: Duration = Duration::from_millis(900);

/// What a reader thread passes on.
#[derive(Debug)]
enum Note {
    Reply { link: u64, reply: Reply },
    Changed,
    Closed { link: u64, reason: String },
}

/// A plain `tmux wait-for` on [`CHANNEL`], made again each time it
/// returns; a return is a change.
struct Bell {
    stop: Arc<AtomicBool>,
    /// The waiting client's pid, to end it when the watch ends.
    pid: Arc<AtomicU32>,
}

impl Bell {
    fn ring(tmux: &Tmux, sender: Sender<Note>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let pid = Arc::new(AtomicU32::new(0));
        let (tmux, stopped, current) = (tmux.clone(), stop.clone(), pid.clone());
        std::thread::spawn(move || {
            // Whatever ends the loop, the bell is over.
            struct Over(Arc<AtomicBool>);
            impl Drop for Over {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _over = Over(stopped.clone());
            while !stopped.load(Ordering::SeqCst) {
                let mut cmd = Command::new("timeout");
                // In the watcher's process group: a Ctrl-C ends it too.
                cmd.arg("--foreground")
                    .arg(BELL_LIFETIME.as_secs().to_string())
                    .arg("tmux")
                    .args(["-u", "-L", tmux.socket(), "wait-for", CHANNEL])
                    .env_remove("TMUX")
                    .env_remove("TMUX_PANE")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let Ok(mut child) = cmd.spawn() else { return };
                current.store(child.id(), Ordering::SeqCst);
                let status = child.wait();
                current.store(0, Ordering::SeqCst);
                match status {
                    Ok(s) if s.success() => {
                        if sender.send(Note::Changed).is_err() {
                            return;
                        }
                    }
                    // Its lifetime was up: wait again.
                    Ok(s) if s.code() == Some(124) => {}
                    // No server, or killed: the watch makes a new bell
                    // with its next link.
                    _ => return,
                }
            }
        });
        Self { stop, pid }
    }
}

impl Bell {
    fn is_over(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if pid != 0 {
            crate::core::child::signal(pid, rustix::process::Signal::TERM, false);
        }
    }
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
    /// The number of the last reply taken on the link.
    last_number: u64,
    next_link: u64,
    notes: Receiver<Note>,
    sender: Sender<Note>,
    /// Something changed while no one was waiting.
    changed: bool,
    /// The last digest, and when to ask for the next.
    digest: Option<String>,
    next_digest: Instant,
    bell: Option<Bell>,
}

impl ControlWatch {
    pub fn new(tmux: Tmux) -> Self {
        let (sender, notes) = mpsc::channel();
        Self {
            tmux,
            link: None,
            last_number: 0,
            next_link: 0,
            notes,
            sender,
            changed: false,
            digest: None,
            next_digest: Instant::now(),
            bell: None,
        }
    }

    /// Starts a control client running `args`, its output read by a thread
    /// that turns each message into a note (`link` names replies).
    fn spawn(&self, args: &[String], link: u64) -> Result<Client, HostError> {
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
        Ok(Client {
            child,
            stdin: Some(stdin),
        })
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
        // tmux 3.3 lets a control client stay only while it is attached:
        // attach to one of the fleet's own sessions if there is one.
        let panes = self.tmux.list_panes()?;
        let mine = panes.iter().find(|p| p.meta.is_some());
        let Some(session) = mine.or(panes.first()).map(|p| p.session.clone()) else {
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
        let client = self.spawn(&args, id)?;
        self.link = Some((id, client));
        self.last_number = 0;
        // The command the client started with answers first; a session
        // gone in between fails it: look again later.
        if !matches!(self.answers(id, 1, false).as_deref(), Ok([reply]) if reply.ok) {
            self.link = None;
            return Ok(Some(panes));
        }
        // What happened before the link was made is not known: look.
        self.changed = true;
        self.digest = None;
        if self.bell.as_ref().is_none_or(Bell::is_over) {
            self.bell = Some(Bell::ring(&self.tmux, self.sender.clone()));
        }
        Ok(None)
    }

    /// Asks for the digest; says whether it changed since last asked.
    fn digest_changed(&mut self) -> Result<bool, HostError> {
        let command = ["display-message", "-p", DIGEST].map(String::from).to_vec();
        let replies = self.ask(&[command])?;
        let value = replies
            .into_iter()
            .next()
            .filter(|r| r.ok)
            .map(|r| r.lines.join("\n"));
        let changed = self.digest.is_some() && value.is_some() && value != self.digest;
        if value.is_some() {
            self.digest = value;
        }
        Ok(changed)
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
                    // Replies come in order: one that does not is forged.
                    if reply.number <= self.last_number {
                        return Err(self.out_of_step("a reply out of order"));
                    }
                    self.last_number = reply.number;
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

    /// Drops a link that is out of step with tmux.
    fn out_of_step(&mut self, what: &str) -> HostError {
        self.link = None;
        self.changed = true;
        HostError::Failed {
            message: format!("the tmux control connection got {what}; reconnecting"),
        }
    }

    fn list_over_link(&mut self) -> Result<Vec<ObservedPane>, HostError> {
        let list = || {
            ["list-panes", "-a", "-F", PANE_FORMAT]
                .map(String::from)
                .to_vec()
        };
        let replies = self.ask(&[list()])?;
        let panes = self.panes_of(&replies[0])?;
        if !panes.iter().any(ObservedPane::awaits_status) {
            return Ok(panes);
        }
        // Make the server reap (see `Tmux::list_panes`), then look again.
        let replies = self.ask(&[["run-shell", "true"].map(String::from).to_vec(), list()])?;
        self.panes_of(&replies[1])
    }

    /// The panes of a listing; every line must be one.
    fn panes_of(&mut self, reply: &Reply) -> Result<Vec<ObservedPane>, HostError> {
        if !reply.ok {
            return Err(HostError::Failed {
                message: reply.lines.first().cloned().unwrap_or_default(),
            });
        }
        let mut text = reply.lines.join("\n");
        text.push('\n');
        let panes = parse_panes(text.as_bytes());
        if panes.len() != reply.lines.len() {
            return Err(self.out_of_step("a listing with lines that are not panes"));
        }
        Ok(panes)
    }
}

impl Watch for ControlWatch {
    fn list_panes(&mut self) -> Result<Vec<ObservedPane>, HostError> {
        if let Some(panes) = self.connect()? {
            return Ok(panes);
        }
        match self.list_over_link() {
            // Out of step, or gone: this look goes the one-shot way.
            Err(HostError::Failed { .. }) if self.link.is_none() => self.tmux.list_panes(),
            other => other,
        }
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
        let replies = match self.ask(&commands) {
            Err(HostError::Failed { .. }) if self.link.is_none() => {
                return self.tmux.capture_screens(panes);
            }
            other => other?,
        };
        // A screen is exactly as many lines as its pane is high: fewer
        // means something on it ended the reply early.
        let whole = panes
            .iter()
            .zip(&replies)
            .all(|((_, height), reply)| !reply.ok || reply.lines.len() == *height);
        if !whole {
            let _ = self.out_of_step("a screen cut short");
            return self.tmux.capture_screens(panes);
        }
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
        if std::mem::take(&mut self.changed) {
            return Wake::Changed;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= self.next_digest {
                self.next_digest = now + DIGEST_EVERY;
                match self.digest_changed() {
                    Ok(false) => {}
                    // Changed, or the link is gone: look.
                    Ok(true) | Err(_) => break,
                }
                if std::mem::take(&mut self.changed) {
                    break;
                }
            }
            if now >= deadline {
                return Wake::Timeout;
            }
            let until = deadline.min(self.next_digest);
            match self
                .notes
                .recv_timeout(until.saturating_duration_since(now))
            {
                Ok(Note::Changed) => break,
                Ok(Note::Closed { link, .. })
                    if self.link.as_ref().is_some_and(|l| l.0 == link) =>
                {
                    self.link = None;
                    break;
                }
                Ok(Note::Reply { .. } | Note::Closed { .. }) => {}
                Err(RecvTimeoutError::Timeout) => {}
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
