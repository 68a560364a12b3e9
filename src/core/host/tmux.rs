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
//! - turns failures into a typed [`TmuxError`]: tmux missing from PATH, no
//!   server on the socket, or a command tmux refused (with its message).
//!
//! Many commands travel in one invocation as a [`Batch`]; tmux runs them in
//! order and stops at the first that fails. tmux reads an argument ending in
//! `;` as a command separator, so every argument is escaped here, once, and a
//! batch is split into invocations that fit tmux's 16 KiB message limit.
//!
//! Parsers are pure functions over the bytes tmux printed, unit-tested on
//! canned output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// tmux 3.2: multi-argument pane commands (3.0) and `attach -f` client
/// flags for read-only observers (3.2). On 3.2 a runtime killed by a signal
/// reads as `exited` with no code (`pane_dead_signal` is 3.3).
pub const MIN_VERSION: (u32, u32) = (3, 2);

/// tmux refuses a command whose arguments exceed 16 KiB in all; keep a margin.
const MAX_INVOCATION_BYTES: usize = 12 * 1024;

/// Field separator in list formats. Session names and process names never
/// contain a tab; the fleet metadata, which could, is JSON and comes last.
const SEP: char = '\t';

/// What `list-panes -a` reports for every pane on the socket.
const PANE_FORMAT: &str = "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t\
#{pane_dead_status}\t#{pane_dead_signal}\t#{pane_current_command}\t#{session_created}\t\
#{window_activity}\t#{pane_height}\t#{pane_in_mode}\t#{@fleet}";

/// The user option that carries the fleet's metadata on each session.
pub const META_OPTION: &str = "@fleet";

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error("tmux was not found on PATH: install it (apt-get install tmux) or add it to PATH")]
    NotFound,
    #[error("could not run tmux: {0}")]
    Spawn(io::Error),
    #[error("no tmux server is running on socket \"{0}\"")]
    NoServer(String),
    #[error("tmux {version} is too old: fleet needs tmux 3.2 or newer")]
    TooOld { version: String },
    #[error(
        "{what} is too long for tmux ({size} bytes with its metadata; tmux takes about {MAX_INVOCATION_BYTES}): shorten it"
    )]
    TooLong { what: String, size: usize },
    #[error("tmux refused: {message}")]
    Failed { message: String },
}

/// A handle on the fleet's tmux server.
#[derive(Debug, Clone)]
pub struct Tmux {
    socket: String,
}

/// A pane as tmux reports it: plain data, no interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPane {
    pub session: String,
    /// The number in tmux's `%N` pane id; lower is older.
    pub pane_id: u32,
    pub pid: Option<u32>,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub dead_signal: Option<i32>,
    /// The name of the pane's foreground process, as tmux sees it.
    pub current_command: String,
    pub session_created: Option<u64>,
    /// Unix seconds of the last output in the pane's window.
    pub last_output: Option<u64>,
    /// Rows of the pane's screen.
    pub height: usize,
    /// In copy mode (someone scrolling back), where keys are not typed.
    pub in_mode: bool,
    /// The raw value of the `@fleet` user option, if the fleet set one.
    pub meta: Option<String>,
}

impl ObservedPane {
    /// Dead, but tmux has not reaped the process yet.
    pub fn awaits_status(&self) -> bool {
        self.dead && self.dead_status.is_none() && self.dead_signal.is_none()
    }
}

/// Commands to send to tmux in as few invocations as possible.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    commands: Vec<Vec<String>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push<I, S>(&mut self, command: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands
            .push(command.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Whether this batch, with `prelude`, fits one tmux invocation.
    pub fn fits_with(&self, prelude: &Batch) -> Result<(), usize> {
        let size: usize = prelude
            .to_args()
            .iter()
            .chain(self.to_args().iter())
            .map(|a| a.len() + 1)
            .sum();
        if size + 2 > MAX_INVOCATION_BYTES {
            Err(size)
        } else {
            Ok(())
        }
    }

    /// Splits `groups` (each a list of commands that must run together) into
    /// argument vectors that each fit one tmux invocation; every invocation
    /// begins with the commands of `prelude`.
    fn invocations(prelude: &Batch, groups: &[Batch]) -> Result<Vec<Vec<String>>, TmuxError> {
        let prelude = prelude.to_args();
        let size_of = |args: &[String]| args.iter().map(|a| a.len() + 1).sum::<usize>();
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut current = prelude.clone();
        let mut has_group = false;
        for group in groups {
            let args = group.to_args();
            let size = size_of(&args) + 2;
            if size + size_of(&prelude) > MAX_INVOCATION_BYTES {
                return Err(TmuxError::TooLong {
                    what: "a tmux command".into(),
                    size,
                });
            }
            if has_group && size_of(&current) + size > MAX_INVOCATION_BYTES {
                out.push(std::mem::replace(&mut current, prelude.clone()));
            }
            if !current.is_empty() {
                current.push(";".to_string());
            }
            current.extend(args);
            has_group = true;
        }
        if has_group {
            out.push(current);
        }
        Ok(out)
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (i, command) in self.commands.iter().enumerate() {
            if i > 0 {
                args.push(";".to_string());
            }
            args.extend(command.iter().map(|a| escape_arg(a)));
        }
        args
    }
}

/// tmux ends a command at an argument that ends in `;` and turns a final
/// `\;` into a literal `;`. Escaping the last `;` keeps any argument data.
pub fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_string(),
    }
}

/// How much of a pane to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The visible screen.
    Screen,
    /// The last `n` lines of history and screen together.
    Last(usize),
}

impl Tmux {
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
        }
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
    fn run_args(&self, args: &[String]) -> Result<Vec<u8>, TmuxError> {
        let mut cmd = self.command();
        cmd.args(args.iter().map(OsString::from));
        if std::env::var_os("FLEET_LOG").is_some() {
            eprintln!("fleet: tmux -L {} {}", self.socket, args.join(" "));
        }
        let output = cmd.output().map_err(spawn_error)?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if is_no_server(&stderr) {
            return Err(TmuxError::NoServer(self.socket.clone()));
        }
        let message = if stderr.is_empty() {
            format!("exit status {}", output.status)
        } else {
            stderr.lines().next().unwrap_or_default().to_string()
        };
        Err(TmuxError::Failed { message })
    }

    /// Runs one batch in a single invocation, or as few as fit.
    pub fn run(&self, batch: &Batch) -> Result<Vec<u8>, TmuxError> {
        self.run_groups(&Batch::new(), std::slice::from_ref(batch))
    }

    /// Runs groups of commands, packing many groups into each invocation,
    /// each invocation led by `prelude`. A group is never split.
    pub fn run_groups(&self, prelude: &Batch, groups: &[Batch]) -> Result<Vec<u8>, TmuxError> {
        let mut stdout = Vec::new();
        for args in Batch::invocations(prelude, groups)? {
            stdout.extend(self.run_args(&args)?);
        }
        Ok(stdout)
    }

    /// `tmux -V`, checked against [`MIN_VERSION`].
    pub fn check_version(&self) -> Result<(), TmuxError> {
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
            Some(_) => Err(TmuxError::TooOld { version: text }),
        }
    }

    /// Every pane on the socket, in one invocation. No server means no panes.
    ///
    /// tmux learns a pane's exit status when it reaps the process on
    /// SIGCHLD, and under load it can miss that signal: the pane reads as
    /// dead with no status until some other child of the server exits. So
    /// when a dead pane has no status yet, a throwaway `run-shell true` makes
    /// the server reap, and the panes are listed again in the same call.
    pub fn list_panes(&self) -> Result<Vec<ObservedPane>, TmuxError> {
        let mut batch = Batch::new();
        batch.push(["list-panes", "-a", "-F", PANE_FORMAT]);
        let panes = match self.run(&batch) {
            Ok(out) => parse_panes(&out),
            Err(TmuxError::NoServer(_)) => return Ok(Vec::new()),
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
            Err(TmuxError::NoServer(_)) => Ok(Vec::new()),
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
    ) -> Result<BTreeMap<u32, String>, TmuxError> {
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

    /// Types `text` into a pane literally (`send-keys -l`: key names such as
    /// `C-c` and a leading `-` are just characters), then Enter if asked.
    /// A pane in copy mode would take the keys as copy-mode commands, so
    /// that mode is left first. One invocation.
    pub fn send_text(&self, pane: &ObservedPane, text: &str, enter: bool) -> Result<(), TmuxError> {
        let target = format!("%{}", pane.pane_id);
        let mut batch = Batch::new();
        if pane.in_mode {
            batch.push(["send-keys", "-X", "-t", target.as_str(), "cancel"]);
        }
        if !text.is_empty() {
            batch.push(["send-keys", "-t", target.as_str(), "-l", "--", text]);
        }
        if enter {
            batch.push(["send-keys", "-t", target.as_str(), "Enter"]);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.run(&batch).map(|_| ())
    }

    /// Replaces this process with a tmux client attached to `session`.
    /// Read-only clients cannot type, and give way to other clients on the
    /// window's size. Returns only if tmux could not be started.
    pub fn attach(&self, session: &str, read_only: bool) -> io::Error {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.client();
        cmd.arg("attach-session");
        if read_only {
            cmd.args(["-r", "-f", "ignore-size"]);
        }
        cmd.args(["-t", &format!("={session}")]);
        cmd.exec()
    }

    /// The tmux server's global PATH (what a pane starts with).
    pub fn server_path(&self) -> Result<Option<String>, TmuxError> {
        let mut batch = Batch::new();
        batch.push(["show-environment", "-g", "PATH"]);
        match self.run(&batch) {
            Ok(out) => Ok(String::from_utf8_lossy(&out)
                .trim()
                .strip_prefix("PATH=")
                .map(ToString::to_string)),
            Err(TmuxError::NoServer(_)) => Ok(None),
            Err(TmuxError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether each pane's start command exports a PATH before it `exec`s
    /// (the fleet's launch script does), in one invocation.
    pub fn exports_path(&self, pane_ids: &[u32]) -> Result<BTreeMap<u32, bool>, TmuxError> {
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
    ) -> Result<BTreeMap<u32, String>, TmuxError> {
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

/// Splits consecutive screens by their heights; `None` if they do not fit.
fn split_by_heights(text: &str, panes: &[(u32, usize)]) -> Option<BTreeMap<u32, String>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total: usize = panes.iter().map(|(_, h)| h).sum();
    if lines.len() != total {
        return None;
    }
    let mut map = BTreeMap::new();
    let mut at = 0;
    for (id, height) in panes {
        map.insert(*id, lines[at..at + height].concat());
        at += height;
    }
    Some(map)
}

/// Splits `capture_many` output at its marker lines.
fn split_captures(out: &str, nonce: &str) -> BTreeMap<u32, String> {
    let mut map = BTreeMap::new();
    let mut current: Option<(u32, String)> = None;
    for line in out.split_inclusive('\n') {
        let marker = line
            .trim_end_matches('\n')
            .strip_prefix(nonce)
            .and_then(|rest| rest.trim().parse::<u32>().ok());
        match marker {
            Some(id) => {
                if let Some((prev, text)) = current.take() {
                    map.insert(prev, text);
                }
                current = Some((id, String::new()));
            }
            None => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(line);
                }
            }
        }
    }
    if let Some((id, text)) = current {
        map.insert(id, text);
    }
    map
}

fn spawn_error(e: io::Error) -> TmuxError {
    if e.kind() == io::ErrorKind::NotFound {
        TmuxError::NotFound
    } else {
        TmuxError::Spawn(e)
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

/// Parses `tmux -V` output such as `tmux 3.3a` or `tmux 3.4`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let version = text.strip_prefix("tmux ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor_text: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor_text.parse().ok()?))
}

/// Parses the output of `list-panes -a -F PANE_FORMAT`.
pub fn parse_panes(out: &[u8]) -> Vec<ObservedPane> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(parse_pane_line)
        .collect()
}

fn parse_pane_line(line: &str) -> Option<ObservedPane> {
    let mut fields = line.splitn(12, SEP);
    let session = fields.next()?.to_string();
    let pane_id = fields.next()?.strip_prefix('%')?.parse().ok()?;
    let pid = fields.next()?.parse().ok();
    let dead = fields.next()? == "1";
    let dead_status = fields.next()?.parse().ok();
    let dead_signal = fields.next()?.parse().ok();
    let current_command = fields.next()?.to_string();
    let session_created = fields.next()?.parse().ok();
    let last_output = fields.next()?.parse().ok();
    let height = fields.next()?.parse().unwrap_or(0);
    let in_mode = fields.next()? == "1";
    let meta = fields
        .next()
        .filter(|m| !m.is_empty())
        .map(ToString::to_string);
    Some(ObservedPane {
        session,
        pane_id,
        pid,
        dead,
        dead_status,
        dead_signal,
        current_command,
        session_created,
        last_output,
        height,
        in_mode,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_a_trailing_semicolon() {
        assert_eq!(escape_arg("a;b"), "a;b");
        assert_eq!(escape_arg("a;"), "a\\;");
        assert_eq!(escape_arg(";"), "\\;");
        assert_eq!(escape_arg("a\\;"), "a\\\\;");
        assert_eq!(escape_arg(""), "");
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.4"), Some((3, 4)));
        assert_eq!(parse_version("tmux 2.9a"), Some((2, 9)));
        assert_eq!(parse_version("tmux next-3.5"), None);
    }

    #[test]
    fn parses_live_and_dead_panes() {
        let out = b"builder\t%3\t4242\t0\t\t\tnode\t1795601410\t1795601415\t50\t0\t{\"v\":1}\n\
                    ghost\t%7\t4243\t1\t127\t\tsh\t1795601411\t1795601411\t50\t1\t\n";
        let panes = parse_panes(out);
        assert_eq!(panes.len(), 2);
        assert_eq!(panes[0].session, "builder");
        assert_eq!(panes[0].pane_id, 3);
        assert!(!panes[0].dead);
        assert_eq!(panes[0].current_command, "node");
        assert_eq!(panes[0].last_output, Some(1795601415));
        assert_eq!(panes[0].meta.as_deref(), Some("{\"v\":1}"));
        assert!(panes[1].dead);
        assert_eq!(panes[1].dead_status, Some(127));
        assert_eq!(panes[1].meta, None);
    }

    #[test]
    fn metadata_with_tabs_stays_whole() {
        let out = b"a\t%1\t1\t0\t\t\tpi\t1\t1\t24\t0\t{\"m\":\"x\ty\"}\n";
        assert_eq!(
            parse_panes(out)[0].meta.as_deref(),
            Some("{\"m\":\"x\ty\"}")
        );
    }

    #[test]
    fn splits_captures_at_markers_only() {
        let out = "N 3\nline one\nN 4 is not me\n\nN 4\n$ \n";
        let map = split_captures(out, "N");
        assert_eq!(map.len(), 2);
        assert_eq!(map[&3], "line one\nN 4 is not me\n\n");
        assert_eq!(map[&4], "$ \n");
    }

    #[test]
    fn splits_screens_by_height() {
        let map = split_by_heights("a\nb\n\nc\n", &[(1, 3), (2, 1)]);
        assert_eq!(map.as_ref().map(|m| m[&1].as_str()), Some("a\nb\n\n"));
        assert_eq!(map.as_ref().map(|m| m[&2].as_str()), Some("c\n"));
        assert_eq!(split_by_heights("a\n", &[(1, 2)]), None);
    }

    #[test]
    fn packs_groups_without_splitting_them() {
        let mut groups = Vec::new();
        for i in 0..100 {
            let mut b = Batch::new();
            b.push([
                "new-session",
                "-d",
                "-s",
                &format!("agent{i}"),
                &"x".repeat(300),
            ]);
            b.push(["set-option", "-t", &format!("=agent{i}"), "@fleet", "{}"]);
            groups.push(b);
        }
        let mut prelude = Batch::new();
        prelude.push(["set-option", "-wg", "remain-on-exit", "on"]);
        let invocations = Batch::invocations(&prelude, &groups).unwrap_or_default();
        assert!(invocations.len() > 1 && invocations.len() < 10);
        for args in &invocations {
            let size: usize = args.iter().map(|a| a.len() + 1).sum();
            assert!(size <= MAX_INVOCATION_BYTES);
            assert_eq!(args.first().map(String::as_str), Some("set-option"));
            assert_eq!(args.get(5).map(String::as_str), Some("new-session"));
        }
        let sessions: usize = invocations
            .iter()
            .map(|a| a.iter().filter(|x| *x == "new-session").count())
            .sum();
        assert_eq!(sessions, 100);
    }
}
