//! The tmux adapter: the one place that runs `tmux`.
//!
//! Theory of operation. The fleet's agents live on a tmux server of their own
//! (`tmux -L SOCKET`), never on the user's default server. Every call goes
//! through [`Tmux::run`], which
//!
//! - pins the environment: `TMUX` and `TMUX_PANE` are removed, so running
//!   `fleet` from inside a tmux pane never talks to the enclosing server;
//! - reads stdin from /dev/null and collects stdout and stderr without
//!   deadlocking (`Command::output`);
//! - turns failures into a typed [`HostError`]: tmux missing from PATH, no
//!   server on the socket, or a command tmux refused (with its message);
//! - gives every call a bound (`FLEET_TMUX_TIMEOUT`, 5 s by default): a
//!   stopped or wedged server is named, not waited on forever.
//!
//! Many commands travel in one invocation as a [`Batch`]; tmux runs them in
//! order and stops at the first that fails. tmux reads an argument ending in
//! `;` as a command separator, so every argument is escaped here, once, and a
//! batch is split into invocations that fit tmux's 16 KiB message limit.
//!
//! Parsers are pure functions over the bytes tmux printed, unit-tested on
//! canned output.

pub mod batch;
pub mod control;
pub mod launch;
pub mod parse;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::host::{Capture, HostError, Input, ObservedPane};
pub use batch::{Batch, TEXT_CHUNK_BYTES, escape_arg, text_chunks};
use parse::{PANE_FORMAT, parse_panes, parse_version, split_by_heights, split_captures};

/// tmux 3.2: multi-argument pane commands (3.0) and `attach -f` client
/// flags for read-only observers (3.2). On 3.2 a runtime killed by a signal
/// reads as `exited` with no code (`pane_dead_signal` is 3.3).
pub const MIN_VERSION: (u32, u32) = (3, 2);

/// The user option that carries the fleet's metadata on each session.
pub const META_OPTION: &str = "@fleet";

/// The user option the supervisor sets on a session it gave up on.
pub const CRASHLOOP_OPTION: &str = "@fleet-crashloop";

/// The user option that carries what an agent last reported of itself.
pub const STATE_OPTION: &str = "@fleet-state";

/// A handle on the fleet's tmux server.
#[derive(Clone)]
pub struct Tmux {
    socket: String,
    trace: Option<Tracer>,
    timeout: Duration,
}

/// Told every tmux command line before it runs (`FLEET_LOG`).
pub type Tracer = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Tmux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tmux")
            .field("socket", &self.socket)
            .finish()
    }
}

impl Tmux {
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            trace: None,
            timeout: crate::core::settings::DEFAULT_TMUX_TIMEOUT,
        }
    }

    /// Gives up on any one tmux call after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Tells `trace` every command line before it runs.
    pub fn traced(mut self, trace: Tracer) -> Self {
        self.trace = Some(trace);
        self
    }

    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// `tmux -u -L SOCKET`, never the enclosing session's server.
    fn client(&self) -> Command {
        let mut cmd = Command::new("tmux");
        // -u: without a UTF-8 locale (cron, systemd, `env -i`) tmux would
        // print tabs and non-ASCII as `_`, corrupting what it reports.
        cmd.arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE");
        cmd
    }

    fn command(&self) -> Command {
        let mut cmd = self.client();
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs raw tmux arguments (already escaped) and returns stdout.
    fn run_args(&self, args: &[String]) -> Result<Vec<u8>, HostError> {
        let mut cmd = self.command();
        cmd.args(args.iter().map(OsString::from));
        if let Some(trace) = &self.trace {
            trace(&format!("tmux -L {} {}", self.socket, args.join(" ")));
        }
        let output = self.output_within(cmd)?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if is_no_server(&stderr) {
            return Err(HostError::NoServer(self.socket.clone()));
        }
        let message = if stderr.is_empty() {
            format!("exit status {}", output.status)
        } else {
            stderr.lines().next().unwrap_or_default().to_string()
        };
        Err(HostError::Failed { message })
    }

    /// Runs a tmux client to its end, or kills it after the timeout.
    fn output_within(&self, mut cmd: Command) -> Result<Output, HostError> {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        match crate::core::child::output_within(child, self.timeout, false) {
            Some(output) => output.map_err(HostError::Spawn),
            None => Err(self.timed_out()),
        }
    }

    /// The error of a server that did not answer in time.
    fn timed_out(&self) -> HostError {
        HostError::Timeout {
            socket: self.socket.clone(),
            secs: self.timeout.as_secs_f64(),
        }
    }

    /// Runs one batch in a single invocation, or as few as fit.
    pub fn run(&self, batch: &Batch) -> Result<Vec<u8>, HostError> {
        self.run_groups(&Batch::new(), &batch.commands())
    }

    /// Runs groups of commands, packing many groups into each invocation,
    /// each invocation led by `prelude`. A group is never split.
    pub fn run_groups(&self, prelude: &Batch, groups: &[Batch]) -> Result<Vec<u8>, HostError> {
        let mut stdout = Vec::new();
        for args in Batch::invocations(prelude, groups)? {
            stdout.extend(self.run_args(&args)?);
        }
        Ok(stdout)
    }

    /// `tmux -V`, checked against [`MIN_VERSION`].
    /// What `tmux -V` says (`tmux 3.3a`), if tmux runs.
    pub fn version_text() -> Option<String> {
        let output = Command::new("tmux")
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    pub fn check_version(&self) -> Result<(), HostError> {
        let output = Command::new("tmux")
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .map_err(spawn_error)?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        match parse_version(&text) {
            Some(v) if v >= MIN_VERSION => Ok(()),
            // A build that prints something unexpected (e.g. "tmux next-3.5")
            // is given the benefit of the doubt.
            None => Ok(()),
            Some(_) => Err(HostError::TooOld { version: text }),
        }
    }

    /// Every pane on the socket, in one invocation. No server means no panes.
    ///
    /// tmux learns a pane's exit status when it reaps the process on
    /// SIGCHLD, and under load it can miss that signal: the pane reads as
    /// dead with no status until some other child of the server exits. So
    /// when a dead pane has no status yet, a throwaway `run-shell true` makes
    /// the server reap, and the panes are listed again in the same call.
    pub fn list_panes(&self) -> Result<Vec<ObservedPane>, HostError> {
        let mut batch = Batch::new();
        batch.push(["list-panes", "-a", "-F", PANE_FORMAT]);
        let panes = match self.run(&batch) {
            Ok(out) => parse_panes(&out),
            Err(HostError::NoServer(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if !panes.iter().any(ObservedPane::awaits_status) {
            return Ok(panes);
        }
        let mut batch = Batch::new();
        batch.push(["run-shell", "true"]);
        batch.push(["list-panes", "-a", "-F", PANE_FORMAT]);
        match self.run(&batch) {
            Ok(out) => Ok(parse_panes(&out)),
            Err(HostError::NoServer(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The contents of many panes in one invocation, keyed by pane id. Each
    /// capture is preceded by a marker line carrying a per-call nonce, so
    /// that nothing a pane shows can be mistaken for a boundary. `raw`
    /// keeps colours and attributes as escape sequences.
    pub fn capture_many(
        &self,
        pane_ids: &[u32],
        what: Capture,
        raw: bool,
    ) -> Result<BTreeMap<u32, String>, HostError> {
        if pane_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let nonce = format!(
            "fleet-capture-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut batch = Batch::new();
        for id in pane_ids {
            let target = format!("%{id}");
            batch.push([
                "display-message".to_string(),
                "-p".to_string(),
                "-t".to_string(),
                target.clone(),
                format!("{nonce} {id}"),
            ]);
            let mut capture = vec![
                "capture-pane".to_string(),
                "-p".to_string(),
                "-J".to_string(),
            ];
            if raw {
                capture.push("-e".to_string());
            }
            if let Capture::Last(n) = what {
                capture.push("-S".to_string());
                capture.push(format!("-{n}"));
            }
            capture.extend(["-t".to_string(), target]);
            batch.push(capture);
        }
        let out = self.run(&batch)?;
        Ok(split_captures(&String::from_utf8_lossy(&out), &nonce))
    }

    /// Sets the `@fleet-state` user option of a session.
    pub fn set_state(&self, session: &str, value: &str) -> Result<(), HostError> {
        let mut batch = Batch::new();
        batch.push([
            "set-option".to_string(),
            "-t".to_string(),
            format!("={session}:"),
            STATE_OPTION.to_string(),
            value.to_string(),
        ]);
        // Heard at once by whoever watches (see `control`).
        batch.push(["wait-for", "-S", control::CHANNEL]);
        self.run(&batch).map(|_| ())
    }

    /// Marks a session as given up on by the supervisor.
    pub fn mark_crashloop(&self, session: &str) -> Result<(), HostError> {
        let mut batch = Batch::new();
        batch.push([
            "set-option".to_string(),
            "-t".to_string(),
            format!("={session}:"),
            CRASHLOOP_OPTION.to_string(),
            "1".to_string(),
        ]);
        self.run(&batch).map(|_| ())
    }

    /// Types into many panes at once, in as few invocations as fit: text
    /// literally (`send-keys -l`: key names such as `C-c` and a leading `-`
    /// are just characters), keys by their names. A pane in copy mode would
    /// take them as copy-mode commands, so that mode is left first.
    ///
    /// A long text (a pasted prompt) goes in pieces of at most
    /// [`TEXT_CHUNK_BYTES`], each its own command: one invocation carries
    /// only about 16 KiB. tmux runs the invocations one after another, so
    /// the pieces arrive in order.
    pub fn type_into(&self, inputs: &[(&ObservedPane, Input)]) -> Result<(), HostError> {
        // Groups packed into as few invocations as fit.
        let mut groups = Vec::new();
        for (pane, input) in inputs {
            let mut batch = Batch::new();
            let target = format!("%{}", pane.pane_id);
            if pane.in_mode {
                batch.push(["send-keys", "-X", "-t", target.as_str(), "cancel"]);
            }
            match input {
                Input::Text(text) => {
                    for chunk in text_chunks(text, TEXT_CHUNK_BYTES) {
                        batch.push(["send-keys", "-t", target.as_str(), "-l", "--", chunk]);
                        groups.push(std::mem::take(&mut batch));
                    }
                }
                Input::Keys(keys) if !keys.is_empty() => {
                    let mut command = vec!["send-keys".to_string(), "-t".to_string(), target];
                    command.extend(keys.iter().map(|k| k.name().to_string()));
                    batch.push(command);
                }
                Input::Keys(_) => {}
            }
            if !batch.is_empty() {
                groups.push(batch);
            }
        }
        if groups.is_empty() {
            return Ok(());
        }
        self.run_groups(&Batch::new(), &groups).map(|_| ())
    }

    /// A tmux client that attaches to `session`. Read-only clients cannot
    /// type, and give way to other clients on the window's size.
    pub fn attach_command(&self, session: &str, read_only: bool) -> Command {
        let mut cmd = self.client();
        cmd.arg("attach-session");
        if read_only {
            cmd.args(["-r", "-f", "ignore-size"]);
        }
        cmd.args(["-t", &format!("={session}")]);
        cmd
    }

    /// The tmux server's global PATH (what a pane starts with).
    pub fn server_path(&self) -> Result<Option<String>, HostError> {
        let mut batch = Batch::new();
        batch.push(["show-environment", "-g", "PATH"]);
        match self.run(&batch) {
            Ok(out) => Ok(String::from_utf8_lossy(&out)
                .trim()
                .strip_prefix("PATH=")
                .map(ToString::to_string)),
            Err(HostError::NoServer(_)) => Ok(None),
            Err(HostError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether each pane's start command exports a PATH before it `exec`s
    /// (the fleet's launch script does), in one invocation.
    pub fn exports_path(&self, pane_ids: &[u32]) -> Result<BTreeMap<u32, bool>, HostError> {
        let mut batch = Batch::new();
        for id in pane_ids {
            batch.push([
                "display-message".to_string(),
                "-p".to_string(),
                "-t".to_string(),
                format!("%{id}"),
                "#{pane_id} #{m:*export PATH=*exec *,#{pane_start_command}}".to_string(),
            ]);
        }
        if batch.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self.run(&batch)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| {
                let (id, yes) = l.split_once(' ')?;
                Some((id.strip_prefix('%')?.parse().ok()?, yes == "1"))
            })
            .collect())
    }

    /// The visible screens of many panes in one invocation, keyed by pane
    /// id. `capture-pane -p` prints exactly one line per screen row, so the
    /// output splits by the heights `list-panes` reported, with no marker
    /// commands in between (half the work for tmux). Should the count not
    /// add up (a pane resized in between), it falls back to markers.
    pub fn capture_screens(
        &self,
        panes: &[(u32, usize)],
    ) -> Result<BTreeMap<u32, String>, HostError> {
        if panes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut batch = Batch::new();
        for (id, _) in panes {
            batch.push([
                "capture-pane".to_string(),
                "-p".to_string(),
                "-t".to_string(),
                format!("%{id}"),
            ]);
        }
        let out = self.run(&batch)?;
        let text = String::from_utf8_lossy(&out);
        match split_by_heights(&text, panes) {
            Some(map) => Ok(map),
            None => {
                let ids: Vec<u32> = panes.iter().map(|(id, _)| *id).collect();
                self.capture_many(&ids, Capture::Screen, false)
            }
        }
    }
}

fn spawn_error(e: io::Error) -> HostError {
    if e.kind() == io::ErrorKind::NotFound {
        HostError::NotFound
    } else {
        HostError::Spawn(e)
    }
}

/// A server that is not there, or is going away as its last session ends
/// (then a `list-panes -a` finds "no current target").
fn is_no_server(stderr: &str) -> bool {
    stderr.starts_with("no server running")
        || (stderr.starts_with("error connecting to") && stderr.contains("No such file"))
        || stderr.starts_with("server exited unexpectedly")
        || stderr.starts_with("no current target")
}
