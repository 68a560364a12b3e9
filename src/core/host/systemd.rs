//! The systemd adapter: the one place that runs `systemctl` and `loginctl`.
//!
//! Theory of operation. Boot survival on a systemd host is three things
//! systemd keeps: a user unit, its enablement, and the user's linger flag
//! (so the user manager starts at boot without a login). Everything that
//! asks or changes them goes through [`Systemd::run`], which
//!
//! - pins what would change the answers: `LC_ALL=C` (messages fleet reads
//!   are English), no pager, no colour, no polkit prompt
//!   (`--no-ask-password`), stdin from /dev/null; it keeps the rest of the
//!   environment, because `systemctl --user` finds the user manager through
//!   `XDG_RUNTIME_DIR` and `DBUS_SESSION_BUS_ADDRESS`;
//! - says every command line before it runs when `FLEET_LOG` is set;
//! - collects stdout and stderr without deadlocking, within a bound (a
//!   wedged bus must not hang `fleet init`);
//! - turns failures into a typed [`SystemdError`]: the program missing, a
//!   failed spawn, a non-zero exit (with systemd's first line), a signal,
//!   a timeout.
//!
//! Parsers are pure functions over what the programs printed.

use std::ffi::OsStr;
use std::io;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Told every command line before it runs (`FLEET_LOG`).
pub type Tracer = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// How long one `systemctl` or `loginctl` call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong running `systemctl` or `loginctl`.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("{program} was not found on PATH")]
    NotFound { program: &'static str },
    #[error("could not run {program}: {source}")]
    Spawn {
        program: &'static str,
        source: io::Error,
    },
    #[error("`{command}` failed ({status}){}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Exit {
        command: String,
        status: String,
        /// systemd's first line on stderr.
        message: Option<String>,
    },
    #[error("`{command}` was killed by signal {signal}")]
    Signal { command: String, signal: i32 },
    #[error("`{command}` did not answer within {}s", secs)]
    Timeout { command: String, secs: u64 },
}

impl SystemdError {
    /// systemd's own words, when it said something.
    pub fn message(&self) -> Option<&str> {
        match self {
            SystemdError::Exit { message, .. } => message.as_deref(),
            _ => None,
        }
    }
}

/// `systemctl --user` and `loginctl` on this machine.
#[derive(Clone)]
pub struct Systemd {
    trace: Option<Tracer>,
    timeout: Duration,
}

impl std::fmt::Debug for Systemd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Systemd").finish_non_exhaustive()
    }
}

impl Default for Systemd {
    fn default() -> Self {
        Self::new()
    }
}

/// What a unit's state queries answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitState {
    /// `systemctl --user is-enabled`: `enabled`, `disabled`, `static`,
    /// `not-found`, ….
    pub enabled: String,
    /// `systemctl --user is-active`: `active`, `inactive`, `failed`, ….
    pub active: String,
    /// systemd's copy of the unit is older than its file.
    pub needs_reload: bool,
}

impl UnitState {
    pub fn is_enabled(&self) -> bool {
        self.enabled == "enabled"
    }

    pub fn is_active(&self) -> bool {
        // A unit being (re)started counts: systemd is on it.
        matches!(self.active.as_str(), "active" | "activating" | "reloading")
    }
}

impl Systemd {
    pub fn new() -> Self {
        Self {
            trace: None,
            timeout: TIMEOUT,
        }
    }

    /// Tells `trace` every command line before it runs.
    pub fn traced(mut self, trace: Tracer) -> Self {
        self.trace = Some(trace);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `program args…`; stdout on success.
    fn run(&self, program: &'static str, args: &[&str]) -> Result<String, SystemdError> {
        let command = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(trace) = &self.trace {
            trace(&command);
        }
        let mut cmd = Command::new(program);
        cmd.args(args.iter().map(OsStr::new))
            .env("LC_ALL", "C")
            .env("SYSTEMD_PAGER", "")
            .env("SYSTEMD_COLORS", "0")
            .env("SYSTEMD_LOG_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = self.output_within(program, &command, cmd)?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(stdout);
        }
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = output.status.signal() {
            return Err(SystemdError::Signal { command, signal });
        }
        Err(SystemdError::Exit {
            command,
            status: output
                .status
                .code()
                .map(|c| format!("exit status {c}"))
                .unwrap_or_else(|| "no exit status".into()),
            message: first_line(&output.stderr).or_else(|| first_line(&output.stdout)),
        })
    }

    fn output_within(
        &self,
        program: &'static str,
        command: &str,
        mut cmd: Command,
    ) -> Result<Output, SystemdError> {
        let child = cmd.spawn().map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => SystemdError::NotFound { program },
            _ => SystemdError::Spawn { program, source },
        })?;
        match crate::core::child::output_within(child, self.timeout, false) {
            Some(output) => output.map_err(|source| SystemdError::Spawn { program, source }),
            None => Err(SystemdError::Timeout {
                command: command.to_string(),
                secs: self.timeout.as_secs(),
            }),
        }
    }

    /// Whether a systemd user manager answers: its version.
    pub fn user_manager(&self) -> Result<String, SystemdError> {
        self.run(
            "systemctl",
            &["--user", "show", "--property=Version", "--value"],
        )
        .map(|out| out.trim().to_string())
    }

    /// What systemd says of `unit`. `is-enabled` and `is-active` answer
    /// with a non-zero status for every state but the good one: their
    /// word is the answer either way.
    pub fn unit_state(&self, unit: &str) -> Result<UnitState, SystemdError> {
        let word = |verb: &'static str| -> Result<String, SystemdError> {
            match self.run("systemctl", &["--user", verb, unit]) {
                Ok(out) => Ok(first_word(&out)),
                Err(SystemdError::Exit { message, .. }) => Ok(message
                    .as_deref()
                    .map(first_word)
                    .filter(|w| is_state_word(w))
                    .unwrap_or_else(|| "not-found".into())),
                Err(e) => Err(e),
            }
        };
        let enabled = word("is-enabled")?;
        let active = word("is-active")?;
        let reload = self.run(
            "systemctl",
            &[
                "--user",
                "show",
                "--property=NeedDaemonReload",
                "--value",
                unit,
            ],
        )?;
        Ok(UnitState {
            enabled,
            active,
            needs_reload: reload.trim() == "yes",
        })
    }

    pub fn daemon_reload(&self) -> Result<(), SystemdError> {
        self.run(
            "systemctl",
            &["--user", "--no-ask-password", "daemon-reload"],
        )
        .map(drop)
    }

    pub fn enable_now(&self, unit: &str) -> Result<(), SystemdError> {
        self.run(
            "systemctl",
            &["--user", "--no-ask-password", "enable", "--now", unit],
        )
        .map(drop)
    }

    pub fn restart(&self, unit: &str) -> Result<(), SystemdError> {
        self.run(
            "systemctl",
            &["--user", "--no-ask-password", "restart", unit],
        )
        .map(drop)
    }

    pub fn disable_now(&self, unit: &str) -> Result<(), SystemdError> {
        self.run(
            "systemctl",
            &["--user", "--no-ask-password", "disable", "--now", unit],
        )
        .map(drop)
    }

    /// Whether `user`'s manager starts at boot: logind's answer, `None`
    /// when logind cannot say (not running, or the user is neither logged
    /// in nor lingering).
    pub fn linger(&self, user: &str) -> Result<Option<bool>, SystemdError> {
        match self.run(
            "loginctl",
            &["show-user", user, "--property=Linger", "--value"],
        ) {
            Ok(out) => Ok(parse_bool(&out)),
            Err(SystemdError::Exit { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` lingers: logind's answer, else the flag file logind
    /// keeps (it answers only for users logged in or lingering, and not at
    /// all where it does not run).
    pub fn lingers(&self, user: &str) -> bool {
        match self.linger(user) {
            Ok(Some(on)) => on,
            _ => std::path::Path::new("/var/lib/systemd/linger")
                .join(user)
                .exists(),
        }
    }

    pub fn enable_linger(&self, user: &str) -> Result<(), SystemdError> {
        self.run("loginctl", &["--no-ask-password", "enable-linger", user])
            .map(drop)
    }

    pub fn disable_linger(&self, user: &str) -> Result<(), SystemdError> {
        self.run("loginctl", &["--no-ask-password", "disable-linger", user])
            .map(drop)
    }
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

fn first_word(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A word `is-enabled` or `is-active` answers with (lowercase and dashes),
/// not an error message.
fn is_state_word(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

/// `yes`/`no`, as systemd prints booleans.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_words_read_as_systemd_means_them() {
        assert_eq!(parse_bool("yes\n"), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool(""), None);
        assert!(is_state_word("not-found"));
        assert!(!is_state_word("Failed"));
        assert_eq!(first_word("disabled\n"), "disabled");
        assert_eq!(
            first_line(b"\n  Failed to connect to bus: No medium found\nmore").as_deref(),
            Some("Failed to connect to bus: No medium found")
        );
        let state = UnitState {
            enabled: "enabled".into(),
            active: "activating".into(),
            needs_reload: false,
        };
        assert!(state.is_enabled() && state.is_active());
    }
}
