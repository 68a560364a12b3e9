//! Another host, reached with the system's OpenSSH: the operator's own
//! config, keys and agent, one shared connection per host.
//!
//! Theory of operation. Every command for a host is one `ssh` run of the
//! remote `fleet remote`, with the [`Request`] on its stdin (so nothing
//! but the `fleet` path crosses the remote shell, quoted once). The first
//! line back must be fleet's [`Hello`] within the host's timeout; until
//! then nothing is shown, and a host that does not say it in time (down,
//! refusing the key, hanging, without fleet, of another protocol) is
//! [`Unreachable`] with the reason. After it, the remote command's stdout
//! and stderr lines are handed to the caller as they come.
//!
//! `ssh` runs with `BatchMode` (it never asks), a `ConnectTimeout`, and
//! connection sharing (`ControlMaster=auto`, `ControlPersist`) on a socket
//! under `$FLEET_HOME/ssh`, so the next command to the host costs no new
//! handshake.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::core::desired::fleetfile;
use crate::core::host::remote::{self, Hello, PRODUCT, PROTOCOL, Request};

/// How long a shared connection outlives its last command.
const PERSIST: &str = "60";

/// The longest line a host may answer with: beyond, the answer is refused
/// rather than held in memory.
const MAX_LINE: usize = 1024 * 1024;

/// What one line costs to keep besides its text, counted against an
/// answer's limit so that a flood of empty lines is one too.
const LINE_COST: usize = 64;

/// Lines read ahead of the caller: the readers wait beyond this, so a
/// host that floods never runs this process out of memory.
const READ_AHEAD: usize = 64;

/// The lines a host may say before fleet's hello (a login script's
/// greeting): skipped, then the host is not fleet's.
const MAX_PREAMBLE: usize = 50;

/// The longest unix socket path ssh can bind (`sun_path` less the random
/// suffix ssh adds while it makes the socket).
const MAX_CONTROL_PATH: usize = 107 - 17;

/// Why a host gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing within the bound: down behind a firewall, or hanging.
    Timeout(Duration),
    /// Its fleet said hello, then did not finish within the bound.
    Stalled(Duration),
    /// Its fleet answered, with an error of its own.
    Failed(String),
    /// The host refused the key, or its host key is not the known one.
    Auth(String),
    /// Nothing listens there, or the name does not resolve.
    Down(String),
    /// It answered, but `fleet` is not there.
    NoFleet(String),
    /// Its `fleet` speaks another protocol.
    Version(String),
    /// It answered something that is not fleet's.
    BadAnswer(String),
    /// ssh failed otherwise, or the connection broke mid-answer.
    Ssh(String),
}

impl Unreachable {
    /// One word for the reason, as `ps` and `watch` show it.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Timeout(_) | Self::Stalled(_) => "timeout",
            Self::Failed(_) => "fleet failed",
            Self::Auth(_) => "auth",
            Self::Down(_) => "down",
            Self::NoFleet(_) => "no fleet",
            Self::Version(_) => "version mismatch",
            Self::BadAnswer(_) => "bad answer",
            Self::Ssh(_) => "ssh",
        }
    }
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(d) => write!(
                f,
                "timeout: no answer within {} (FLEET_HOST_TIMEOUT or [hosts.NAME] timeout sets the bound)",
                humantime::format_duration(*d)
            ),
            Self::Stalled(d) => write!(
                f,
                "timeout: its fleet answered, then did not finish within {}",
                humantime::format_duration(*d)
            ),
            Self::Failed(why) => write!(f, "its fleet failed: {why}"),
            Self::Auth(why) | Self::Down(why) | Self::NoFleet(why) | Self::Version(why) => {
                write!(f, "{}: {why}", self.word())
            }
            Self::BadAnswer(why) | Self::Ssh(why) => write!(f, "{}: {why}", self.word()),
        }
    }
}

/// Which of the remote command's streams a line came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
    /// The host said hello (an empty line): it is reachable.
    Hello,
}

/// A host of the fleet file, and how to reach it.
#[derive(Debug, Clone)]
pub struct SshHost {
    name: String,
    host: fleetfile::Host,
    timeout: Duration,
    /// Where shared connections' sockets live; `None` shares none.
    control_dir: Option<PathBuf>,
    /// `ssh -F`, when fleet is told to use another config.
    config: Option<PathBuf>,
}

impl SshHost {
    pub fn new(
        name: &str,
        host: &fleetfile::Host,
        default_timeout: Duration,
        control_dir: Option<PathBuf>,
        config: Option<PathBuf>,
    ) -> Self {
        let control_dir = control_dir.filter(|d| control_path(d, host).is_some());
        Self {
            name: name.to_string(),
            timeout: host.timeout.unwrap_or(default_timeout),
            host: host.clone(),
            control_dir,
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn spec(&self) -> &fleetfile::Host {
        &self.host
    }

    /// Whether its connection is shared between commands.
    pub fn shares(&self) -> bool {
        self.control_dir.is_some()
    }

    /// `ssh` with fleet's options, up to the destination.
    fn ssh(&self, tty: bool) -> Command {
        let mut cmd = Command::new("ssh");
        if let Some(config) = &self.config {
            cmd.arg("-F").arg(config);
        }
        let secs = self.timeout.as_secs_f64().ceil().max(1.0);
        let mut options = vec![
            format!("ConnectTimeout={secs}"),
            "ServerAliveInterval=5".into(),
            "ServerAliveCountMax=3".into(),
        ];
        if !tty {
            options.push("BatchMode=yes".into());
        }
        if let Some(path) = self
            .control_dir
            .as_deref()
            .and_then(|d| control_path(d, &self.host))
        {
            options.push("ControlMaster=auto".into());
            options.push(format!("ControlPath={path}"));
            options.push(format!("ControlPersist={PERSIST}"));
        }
        for option in options {
            cmd.arg("-o").arg(option);
        }
        if let Some(port) = self.host.port {
            cmd.arg("-p").arg(port.to_string());
        }
        cmd.arg(if tty { "-t" } else { "-T" });
        // The destination cannot start with '-' (the fleet file refuses
        // it), and `--` ends ssh's options for sure.
        cmd.arg("--").arg(&self.host.ssh);
        cmd
    }

    /// The remote shell's command line: `fleet` (as the file names it),
    /// then `args`, each quoted once for a POSIX shell.
    fn remote_line(&self, args: &[String]) -> String {
        let fleet = self.host.fleet.as_deref().unwrap_or("fleet");
        let program = match fleet.strip_prefix("~/") {
            Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
            None => quote(fleet),
        };
        std::iter::once(program)
            .chain(args.iter().map(|a| quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command that runs `fleet ARGS` there on this terminal (attach):
    /// the one case where an argv crosses the remote shell, quoted once.
    pub fn interactive(&self, args: &[String]) -> Command {
        let mut full: Vec<String> = Vec::new();
        if let Some(socket) = &self.host.socket {
            full.extend(["--socket".into(), socket.clone()]);
        }
        full.extend(args.iter().cloned());
        let mut line = self.remote_line(&full);
        if let Some(home) = &self.host.home {
            line = format!("FLEET_HOME={} {line}", home_word(home));
        }
        let mut cmd = self.ssh(true);
        cmd.arg(line);
        cmd
    }

    /// Runs `request` there: `each` gets every line the remote command
    /// prints after the hello (and may stop it by answering false).
    /// `bound` limits how long the answer may take after the hello
    /// (`None` for commands that follow: `watch`, `logs -f`, `wait`).
    /// Answers the remote command's exit status.
    /// `limit` bounds what the caller keeps (bytes, with a cost per line):
    /// an answer beyond it is refused.
    pub fn call(
        &self,
        request: &Request,
        bound: Option<Duration>,
        limit: Option<usize>,
        each: &mut dyn FnMut(Stream, &str) -> bool,
    ) -> Result<i32, Unreachable> {
        let body = serde_json::to_vec(request)
            .map_err(|e| Unreachable::Ssh(format!("cannot write the request: {e}")))?;
        let mut cmd = self.ssh(false);
        cmd.arg(self.remote_line(&["remote".to_string()]));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Unreachable::Ssh("ssh was not found on PATH: install openssh-client".into())
            }
            _ => Unreachable::Ssh(format!("cannot run ssh: {e}")),
        })?;
        let (lines, keep) = pump(&mut child, body);
        let outcome = self.converse(&lines, bound, limit, each);
        let killed = outcome.is_err() || matches!(outcome, Ok(Flow::Stopped));
        if killed {
            let _ = child.kill();
        }
        let status = wait_briefly(&mut child);
        drop(keep);
        match outcome {
            Err(Early::Timeout) => Err(Unreachable::Timeout(self.timeout)),
            Err(Early::Stalled(after)) => Err(Unreachable::Stalled(after)),
            Err(Early::Refused(why)) => Err(why),
            Err(Early::NoHello(stderr)) => Err(classify(
                &self.name,
                status,
                &stderr,
                self.host.fleet.as_deref(),
                self.timeout,
            )),
            Ok(Flow::Stopped) => Ok(0),
            Ok(Flow::Done) => match status {
                Some(255) => Err(Unreachable::Ssh(
                    "the connection ended before the answer did".into(),
                )),
                Some(code) => Ok(code),
                None => Err(Unreachable::Ssh(
                    "the remote fleet was killed before it answered".into(),
                )),
            },
        }
    }

    /// Reads the hello, then hands on lines until both streams end.
    fn converse(
        &self,
        lines: &mpsc::Receiver<Piped>,
        bound: Option<Duration>,
        limit: Option<usize>,
        each: &mut dyn FnMut(Stream, &str) -> bool,
    ) -> Result<Flow, Early> {
        let started = Instant::now();
        let mut hello_at: Option<Instant> = None;
        let mut early_stderr: Vec<String> = Vec::new();
        let mut open = 2;
        let mut bytes = 0usize;
        let mut preamble = 0usize;
        let mut first_noise: Option<String> = None;
        while open > 0 {
            let deadline = match hello_at {
                None => Some(started + self.timeout),
                Some(at) => bound.map(|b| at + b),
            };
            let next = match deadline {
                Some(d) => match lines.recv_timeout(d.saturating_duration_since(Instant::now())) {
                    Ok(next) => next,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        return Err(match (hello_at, bound) {
                            (Some(_), Some(b)) => Early::Stalled(b),
                            _ => Early::Timeout,
                        });
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match lines.recv() {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let (stream, line) = match next {
                Piped::End => {
                    open -= 1;
                    continue;
                }
                Piped::TooLong => {
                    return Err(Early::Refused(Unreachable::BadAnswer(
                        "it answered a line longer than fleet reads".into(),
                    )));
                }
                Piped::Line(stream, line) => (stream, line),
            };
            bytes += line.len() + LINE_COST;
            if limit.is_some_and(|max| bytes > max) {
                return Err(Early::Refused(Unreachable::BadAnswer(format!(
                    "it answered more than fleet reads ({} MiB)",
                    limit.unwrap_or_default() / (1024 * 1024)
                ))));
            }
            if hello_at.is_some() {
                if !each(stream, &line) {
                    return Ok(Flow::Stopped);
                }
                continue;
            }
            match stream {
                Stream::Err => {
                    if early_stderr.len() < 64 {
                        early_stderr.push(plain(&line, 4096));
                    }
                }
                Stream::Hello => {}
                // A login script's greeting before the hello: skipped.
                Stream::Out if !looks_like_hello(&line) && preamble < MAX_PREAMBLE => {
                    preamble += 1;
                    first_noise.get_or_insert(line);
                }
                Stream::Out => {
                    read_hello(&self.name, &line).map_err(|why| {
                        Early::Refused(match (&why, first_noise.take()) {
                            (Unreachable::BadAnswer(_), Some(first)) => {
                                Unreachable::BadAnswer(format!(
                                    "its first line is not fleet's: {:?}",
                                    first.chars().take(80).collect::<String>()
                                ))
                            }
                            _ => why,
                        })
                    })?;
                    hello_at = Some(Instant::now());
                    if !each(Stream::Hello, "") {
                        return Ok(Flow::Stopped);
                    }
                    // What the remote said before its hello is its own
                    // (warnings), not ssh's chatter about known hosts.
                    for early in early_stderr.drain(..) {
                        if !early.starts_with("Warning: Permanently added") {
                            each(Stream::Err, &early);
                        }
                    }
                }
            }
        }
        match (hello_at, first_noise) {
            (Some(_), _) => Ok(Flow::Done),
            (None, Some(first)) => Err(Early::Refused(Unreachable::BadAnswer(format!(
                "its first line is not fleet's: {:?}",
                plain(&first, 80)
            )))),
            (None, None) => Err(Early::NoHello(early_stderr)),
        }
    }
}

/// How a conversation ended when it ended well.
enum Flow {
    Done,
    /// The caller had heard enough.
    Stopped,
}

/// How it ended before an answer.
enum Early {
    Timeout,
    /// Its hello came; the rest did not within this long.
    Stalled(Duration),
    Refused(Unreachable),
    /// Both streams ended with no hello: what ssh said is the reason.
    NoHello(Vec<String>),
}

enum Piped {
    Line(Stream, String),
    TooLong,
    End,
}

/// Writes the request and reads both streams on threads of their own, so
/// that neither a slow reader nor a full pipe stalls the other.
///
/// The remote's stdin stays open after the request until the returned
/// sender is dropped: a remote command that follows (`watch`, `logs -f`)
/// ends when it sees that end, so none outlives the operator's side.
fn pump(child: &mut Child, body: Vec<u8>) -> (mpsc::Receiver<Piped>, mpsc::Sender<()>) {
    // Bounded: readers wait for the caller rather than pile up lines.
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
    let (keep, held) = mpsc::channel::<()>();
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
            let _ = stdin.write_all(b"\n");
            let _ = stdin.flush();
            // Until the call is over (the sender dropped).
            let _ = held.recv();
        });
    }
    let readers: [(Stream, Option<Box<dyn Read + Send>>); 2] = [
        (
            Stream::Out,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            Stream::Err,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ];
    for (stream, reader) in readers {
        let tx = tx.clone();
        match reader {
            Some(reader) => {
                std::thread::spawn(move || read_lines(stream, reader, &tx));
            }
            None => {
                let _ = tx.send(Piped::End);
            }
        }
    }
    (rx, keep)
}

fn read_lines(stream: Stream, reader: Box<dyn Read + Send>, tx: &mpsc::SyncSender<Piped>) {
    let mut reader = BufReader::new(reader.take(u64::MAX));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let limit = (MAX_LINE + 1) as u64;
        match (&mut reader).take(limit).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if buf.len() > MAX_LINE {
                    let _ = tx.send(Piped::TooLong);
                    break;
                }
                while buf.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if tx.send(Piped::Line(stream, line)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Piped::End);
}

/// Whether a line may be fleet's hello (else, before one, it is a login
/// script's noise).
fn looks_like_hello(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('{') && line.contains("\"fleet\"")
}

/// A host's words made one plain line of at most `max` characters.
fn plain(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The hello line, checked: fleet's, of our protocol, not refusing.
fn read_hello(host: &str, line: &str) -> Result<Hello, Unreachable> {
    let hello: Hello = serde_json::from_str(line.trim()).map_err(|_| {
        Unreachable::BadAnswer(format!(
            "its first line is not fleet's: {:?}",
            line.chars().take(80).collect::<String>()
        ))
    })?;
    if hello.fleet != PRODUCT {
        return Err(Unreachable::BadAnswer(format!(
            "it answered as {:?}, not {PRODUCT}",
            hello.fleet.chars().take(40).collect::<String>()
        )));
    }
    if hello.protocol != PROTOCOL {
        return Err(Unreachable::Version(remote::mismatch(
            host,
            hello.protocol,
            &plain(&hello.version, 40),
        )));
    }
    if let Some(error) = hello.error {
        let error = plain(&error, 300);
        return Err(if error.contains("speaks protocol") {
            Unreachable::Version(error)
        } else {
            Unreachable::BadAnswer(format!("it refused the request: {error}"))
        });
    }
    Ok(hello)
}

/// ssh's status is in: at most a moment more (a stream ends a moment
/// before the process does), else it is killed.
fn wait_briefly(child: &mut Child) -> Option<i32> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                return child.wait().ok().and_then(|s| s.code());
            }
        }
    }
}

/// Why a host gave no hello, from ssh's exit status and what was said.
fn classify(
    host: &str,
    status: Option<i32>,
    stderr: &[String],
    fleet: Option<&str>,
    timeout: Duration,
) -> Unreachable {
    let said = stderr
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("Warning: Permanently added"))
        .map(|l| plain(l.trim(), 200))
        .unwrap_or_default();
    let all = stderr.join("\n");
    // ssh's own words count only when ssh itself failed (255): the remote
    // shell may say anything.
    let ssh_failed = status == Some(255);
    let has = |needle: &str| ssh_failed && all.contains(needle);
    if matches!(status, Some(126 | 127)) {
        return Unreachable::NoFleet(format!(
            "`{}` cannot be run there ({said}): install fleet on {host}, or set fleet = \"PATH\" in [hosts.{host}]",
            plain(fleet.unwrap_or("fleet"), 200)
        ));
    }
    if has("Permission denied") || has("Too many authentication failures") {
        Unreachable::Auth(format!(
            "{host} refused the key ({said}): check ssh {host} works"
        ))
    } else if has("Host key verification failed") || has("HOST IDENTIFICATION HAS CHANGED") {
        Unreachable::Auth(format!(
            "{host}'s host key is not the known one ({said}): check ssh {host} works"
        ))
    } else if has("Connection refused") {
        Unreachable::Down("connection refused (is sshd running there?)".into())
    } else if has("timed out") {
        Unreachable::Timeout(timeout)
    } else if has("Could not resolve hostname") || has("No route to host") {
        Unreachable::Down(said)
    } else if all.contains("unrecognized subcommand") {
        Unreachable::Version(format!(
            "the fleet on {host} is too old to speak protocol {PROTOCOL}: upgrade fleet on {host}"
        ))
    } else if status == Some(255) {
        Unreachable::Ssh(if said.is_empty() {
            "ssh failed".into()
        } else {
            said
        })
    } else {
        Unreachable::BadAnswer(format!(
            "no hello from fleet (exit {}){}",
            status.map_or("by a signal".into(), |c| c.to_string()),
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ))
    }
}

/// The shared connection's socket for `host` in `dir`, as ssh's
/// `ControlPath` option reads it (quoted, `%` doubled): named by a short
/// hash of where it leads, so that a longer `FLEET_HOME` still fits ssh's
/// limit. `None` when it cannot fit or be said.
pub fn control_path(dir: &std::path::Path, host: &fleetfile::Host) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let dir = dir.to_str()?;
    if dir.contains('"') || dir.chars().any(char::is_control) {
        return None;
    }
    let mut hasher = std::hash::DefaultHasher::new();
    (&host.ssh, host.port).hash(&mut hasher);
    let name = format!("{:016x}", hasher.finish());
    if dir.len() + 1 + name.len() > MAX_CONTROL_PATH {
        return None;
    }
    Some(format!("\"{}/{name}\"", dir.replace('%', "%%")))
}

/// One word for a POSIX shell, quoted only when it needs to be.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A `home` for the remote shell: `~/…` from its own home.
fn home_word(home: &str) -> String {
    match home.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None => quote(home),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_once_for_the_remote_shell() {
        assert_eq!(quote("fleet"), "fleet");
        assert_eq!(quote("/opt/fleet bin/fleet"), "'/opt/fleet bin/fleet'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$HOME;rm -rf /"), "'$HOME;rm -rf /'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn the_remote_line_runs_fleet_remote_and_nothing_else() {
        let host = SshHost::new(
            "h1",
            &fleetfile::Host {
                ssh: "op@h1".into(),
                fleet: Some("~/bin/fleet $(x)".into()),
                ..Default::default()
            },
            Duration::from_secs(3),
            None,
            None,
        );
        assert_eq!(
            host.remote_line(&["remote".into()]),
            "\"$HOME\"/'bin/fleet $(x)' remote"
        );
    }

    #[test]
    fn ssh_failures_are_named() {
        let said = |s: &str| vec![s.to_string()];
        let r = classify(
            "h1",
            Some(255),
            &said("op@h1: Permission denied (publickey)."),
            None,
            Duration::ZERO,
        );
        assert_eq!(r.word(), "auth");
        let r = classify(
            "h1",
            Some(255),
            &said("ssh: connect to host 127.0.0.1 port 1: Connection refused"),
            None,
            Duration::ZERO,
        );
        assert_eq!(r.word(), "down");
        let r = classify(
            "h1",
            Some(127),
            &said("sh: 1: fleet: not found"),
            None,
            Duration::ZERO,
        );
        assert_eq!(r.word(), "no fleet");
        let r = classify(
            "h1",
            Some(2),
            &said("error: unrecognized subcommand 'remote'"),
            None,
            Duration::ZERO,
        );
        assert_eq!(r.word(), "version mismatch");
    }

    #[test]
    fn a_hello_is_checked() {
        assert!(read_hello("h1", "SSH banner").is_err());
        let theirs = format!(
            "{{\"fleet\":\"{PRODUCT}\",\"protocol\":{},\"version\":\"9\"}}",
            PROTOCOL + 1
        );
        assert_eq!(
            read_hello("h1", &theirs).map_err(|e| e.word()).err(),
            Some("version mismatch")
        );
        let ours = serde_json::to_string(&Hello::ours(None)).unwrap_or_default();
        assert!(read_hello("h1", &ours).is_ok());
    }
}
