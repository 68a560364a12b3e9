//! Settings, read once: the global flags, the environment and the defaults
//! become one [`Settings`] before anything touches tmux. Nothing else in
//! the core reads an environment variable.
//!
//! Precedence is data here ([`FLEET_HOME_ORDER`], [`FILE_ORDER`]) and
//! tested: a flag beats the environment, which beats a default.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::desired::start::SeedEnv;
use crate::core::error::Error;

/// The environment variables the core reads, all of them. (The CLI also
/// asks the operator's terminal about `NO_COLOR` and `TERM`.)
pub const VARIABLES: [&str; 26] = [
    "HOME",
    "PATH",
    "USER",
    "LOGNAME",
    "FLEET_FILE",
    "FLEET_HOME",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "MOSAIC_TMUX_SOCKET",
    "MOSAIC_RUNTIME_BIN",
    "MOSAIC_AGENT_RUNTIME",
    "MOSAIC_AGENT_COMMAND",
    "MOSAIC_AGENT_WORKDIR",
    "FLEET_IDLE_AFTER",
    "FLEET_LOG_MAX_BYTES",
    "FLEET_LOG",
    "FLEET_AGENT",
    "FLEET_LAUNCH_MS",
    "FLEET_START_GRACE",
    "FLEET_LOCK_WAIT",
    "FLEET_TMUX_TIMEOUT",
    "FLEET_STORE_WAIT",
    "FLEET_HOST_TIMEOUT",
    "FLEET_SSH_CONFIG",
    "FLEET_SENT",
    "TMUX_TMPDIR",
];

/// The fleet's own tmux socket unless told otherwise.
pub const DEFAULT_SOCKET: &str = "mosaic-fleet";

/// Seconds without output after which a running agent is idle.
pub const DEFAULT_IDLE_AFTER: u64 = 15;

/// How long a runtime must stay alive and in front after its launch for
/// the launch to count as `started`.
pub const DEFAULT_START_GRACE: Duration = Duration::from_secs(1);

/// How long a changing command waits for another's lock before it gives
/// up (`--wait`, `FLEET_LOCK_WAIT`).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How long a write to the event store waits for another writer
/// (`FLEET_STORE_WAIT`): long enough to ride out other fleets queued on it
/// and a checkpoint of a large WAL (well under a second each) and a person
/// poking at the file with `sqlite3` for a while; bounded, because an act
/// the store cannot take is kept aside and written later, not lost.
pub const DEFAULT_STORE_WAIT: Duration = Duration::from_secs(30);

/// How long one tmux call may take (`FLEET_TMUX_TIMEOUT`): a stopped or
/// wedged server must not hang fleet.
pub const DEFAULT_TMUX_TIMEOUT: Duration = Duration::from_secs(5);

/// How long another host has to answer (`FLEET_HOST_TIMEOUT`, or
/// `timeout` in its `[hosts.NAME]`): a host that is down or hangs is
/// `unreachable` after this, and never holds up the others.
pub const DEFAULT_HOST_TIMEOUT: Duration = Duration::from_secs(3);

/// A transcript file is rotated at this size; one older file is kept, so an
/// agent's transcript never takes more than twice this.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// A snapshot of the variables in [`VARIABLES`]; empty values count as
/// unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(BTreeMap<String, OsString>);

impl Env {
    /// This process's environment (the one place it is read).
    pub fn from_process() -> Self {
        let npm = std::env::vars_os().filter_map(|(k, v)| {
            let key = k.to_str()?.to_string();
            key.to_ascii_lowercase()
                .starts_with("npm_config_")
                .then_some((key, v))
        });
        Self(
            VARIABLES
                .iter()
                .filter_map(|k| Some((k.to_string(), std::env::var_os(k)?)))
                .chain(npm)
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        )
    }

    /// npm's own settings from the environment (`npm_config_*`), which
    /// decide what `npm config get prefix` answers.
    pub fn npm(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("npm_config_"))
            .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
            .collect()
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
        )
    }

    /// The same, with `key` set to `value` (`None`: unset): what a
    /// request from the operator's host overrides.
    pub fn with(mut self, key: &str, value: Option<&str>) -> Self {
        match value.filter(|v| !v.is_empty()) {
            Some(v) => {
                self.0.insert(key.to_string(), OsString::from(v));
            }
            None => {
                self.0.remove(key);
            }
        }
        self
    }

    /// A variable's value; `None` when unset (or, for `PATH`, not UTF-8:
    /// [`Env::check`] refuses the others).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str())
    }

    /// Every variable fleet reads must be UTF-8, but `PATH` (only searched):
    /// the others end up in tmux commands and file names, which a lossy
    /// reading would silently change. One clear error instead.
    pub fn check(&self) -> Result<(), Error> {
        match self
            .0
            .iter()
            // npm's own variables only key a cache: npm reads them itself.
            .find(|(key, value)| {
                *key != "PATH"
                    && !key.to_ascii_lowercase().starts_with("npm_config_")
                    && value.to_str().is_none()
            }) {
            Some((key, _)) => Err(Error::setup(format!(
                "{key} is not valid UTF-8: fix or unset it"
            ))),
            None => Ok(()),
        }
    }
}

/// The longest `--by` name.
const MAX_BY: usize = 100;

/// What the global flags say, before the environment fills the gaps.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub file: Option<PathBuf>,
    pub socket: Option<String>,
    /// `--wait DUR`: how long a changing command waits for the lock.
    pub lock_wait: Option<String>,
    /// `--by WHO`: who acts, recorded with what this command does.
    pub by: Option<String>,
}

/// Everything the core needs to know about how it was called.
#[derive(Debug, Clone)]
pub struct Settings {
    pub socket: String,
    /// The fleet file in use, if any.
    pub file: Option<PathBuf>,
    pub cwd: PathBuf,
    pub home_dir: Option<PathBuf>,
    /// Where state lives; `None` when neither HOME nor FLEET_HOME says.
    pub fleet_home: Option<PathBuf>,
    pub idle_after: u64,
    pub start_grace: Duration,
    /// How long a changing command waits for another one's lock.
    pub lock_wait: Duration,
    /// How long any one tmux call may take before it is given up.
    pub tmux_timeout: Duration,
    /// How long a write to the event store waits for other writers.
    pub store_wait: Duration,
    /// npm's settings from the environment (`npm_config_*`).
    pub npm_env: Vec<(String, String)>,
    pub log_max_bytes: u64,
    /// `MOSAIC_RUNTIME_BIN`: first directories of the runtime-bin prefix.
    pub runtime_bin: Option<String>,
    pub seed: SeedEnv,
    /// `FLEET_LOG`: say every tmux command line.
    pub trace: bool,
    /// Where systemd user units live: `$XDG_CONFIG_HOME`, else `~/.config`.
    pub config_home: PathBuf,
    pub user: String,
    /// The launcher's PATH.
    pub path: Option<String>,
    /// `TMUX_TMPDIR`: where tmux keeps its sockets (`fleet init` hands it
    /// on to the supervisor, which must find the same server).
    pub tmux_tmpdir: Option<PathBuf>,
    /// This `fleet` binary (transcripts are written by it), if known.
    pub fleet_exe: Option<PathBuf>,
    /// The `fleet-stub` installed beside it, if any: the `stub` runtime.
    pub stub: Option<PathBuf>,
    /// Inside an agent's pane: which agent, and which launch of it
    /// (`FLEET_AGENT`, `FLEET_LAUNCH_MS`), so its reports are its own.
    pub reporter: Option<(String, u64)>,
    /// How long another host has to answer (`FLEET_HOST_TIMEOUT`).
    pub host_timeout: Duration,
    /// An ssh config file for reaching other hosts (`FLEET_SSH_CONFIG`,
    /// passed as `ssh -F`); else ssh's own.
    pub ssh_config: Option<PathBuf>,
    /// Serving another host's operator (`fleet` run over ssh): its name
    /// for its own host, and the fleet file's text it sent.
    pub control_host: Option<String>,
    pub file_text: Option<String>,
    /// `FLEET_SENT`: the desired state the operator's host last sent this
    /// one (a supervisor `fleet init --host` installed reads it).
    pub sent: Option<PathBuf>,
    /// `--by WHO`: who acts (recorded with launches, stops and sends).
    pub by: Option<String>,
}

/// Where the fleet file comes from, first that has one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSource {
    Flag,
    Upward,
    Environment,
}

pub const FILE_ORDER: [FileSource; 3] = [
    FileSource::Flag,
    FileSource::Upward,
    FileSource::Environment,
];

/// Where the state directory comes from, first that has one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeSource {
    FleetHome,
    XdgStateHome,
    Home,
}

pub const FLEET_HOME_ORDER: [HomeSource; 3] = [
    HomeSource::FleetHome,
    HomeSource::XdgStateHome,
    HomeSource::Home,
];

impl Settings {
    /// Checks the flags against the environment. Looks for the fleet file
    /// on disk; touches neither tmux nor the state directory.
    pub fn resolve(
        flags: &Flags,
        env: &Env,
        cwd: PathBuf,
        fleet_exe: Option<PathBuf>,
    ) -> Result<Self, Error> {
        env.check()?;
        let socket = flags
            .socket
            .clone()
            .or_else(|| env.get("MOSAIC_TMUX_SOCKET").map(String::from))
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        check_socket_name(&socket)?;
        let home_dir = env.get("HOME").map(PathBuf::from);
        let file = find_fleet_file(flags.file.as_deref(), &cwd, env)?;
        // A value that does not read is said so: silently taking the
        // default would make the setting look applied.
        let number = |key: &str, what: &str| -> Result<Option<u64>, Error> {
            env.get(key)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        Error::setup(format!("{key}={v} is not {what}: fix or unset {key}"))
                    })
                })
                .transpose()
        };
        let start_grace = match env.get("FLEET_START_GRACE") {
            Some(text) => duration(text).ok_or_else(|| {
                Error::setup(format!(
                    "FLEET_START_GRACE={text} is not a duration of at most a minute: use e.g. 1s, 500ms or 2.5"
                ))
            })?,
            None => DEFAULT_START_GRACE,
        };
        let lock_wait = match flags
            .lock_wait
            .as_deref()
            .map(|t| ("--wait", t))
            .or_else(|| env.get("FLEET_LOCK_WAIT").map(|t| ("FLEET_LOCK_WAIT", t)))
        {
            Some((from, text)) => {
                duration_up_to(text, Duration::from_secs(24 * 3600)).ok_or_else(|| {
                    Error::setup(format!(
                        "{from} {text} is not a duration of at most a day: use e.g. 30s, 5m or 0"
                    ))
                })?
            }
            None => DEFAULT_LOCK_WAIT,
        };
        let by = match flags.by.as_deref() {
            Some(who)
                if who.is_empty()
                    || who.len() > MAX_BY
                    || !who.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) =>
            {
                return Err(Error::setup(format!(
                    "--by must name who acts in at most {MAX_BY} printable ASCII characters, e.g. --by alice"
                )));
            }
            by => by.map(String::from),
        };
        let tmux_timeout = match env.get("FLEET_TMUX_TIMEOUT") {
            Some(text) => duration(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    Error::setup(format!(
                        "FLEET_TMUX_TIMEOUT={text} is not a duration above zero and at most a minute: use e.g. 5s"
                    ))
                })?,
            None => DEFAULT_TMUX_TIMEOUT,
        };
        let store_wait = match env.get("FLEET_STORE_WAIT") {
            Some(text) => duration_up_to(text, Duration::from_secs(600)).ok_or_else(|| {
                Error::setup(format!(
                    "FLEET_STORE_WAIT={text} is not a duration of at most 10 minutes: use e.g. 30s, 2m or 0"
                ))
            })?,
            None => DEFAULT_STORE_WAIT,
        };
        let host_timeout = match env.get("FLEET_HOST_TIMEOUT") {
            Some(text) => duration_up_to(text, Duration::from_secs(3600))
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    Error::setup(format!(
                        "FLEET_HOST_TIMEOUT={text} is not a duration above zero and at most an hour: use e.g. 3s"
                    ))
                })?,
            None => DEFAULT_HOST_TIMEOUT,
        };
        let log_max_bytes = number("FLEET_LOG_MAX_BYTES", "a size in bytes")?;
        if log_max_bytes == Some(0) {
            return Err(Error::setup(
                "FLEET_LOG_MAX_BYTES=0 would keep nothing: give a size in bytes, or unset it",
            ));
        }
        let state_dir = fleet_home(env, home_dir.as_deref(), &cwd);
        check_state_dir(state_dir.as_deref())?;
        Ok(Self {
            fleet_home: state_dir,
            idle_after: number("FLEET_IDLE_AFTER", "a number of seconds")?
                .unwrap_or(DEFAULT_IDLE_AFTER),
            start_grace,
            lock_wait,
            by,
            tmux_timeout,
            store_wait,
            log_max_bytes: log_max_bytes.unwrap_or(DEFAULT_LOG_MAX_BYTES),
            npm_env: env.npm(),
            runtime_bin: env.get("MOSAIC_RUNTIME_BIN").map(String::from),
            seed: SeedEnv {
                runtime: env.get("MOSAIC_AGENT_RUNTIME").map(String::from),
                command: env.get("MOSAIC_AGENT_COMMAND").map(String::from),
                workdir: env.get("MOSAIC_AGENT_WORKDIR").map(String::from),
            },
            trace: env.get("FLEET_LOG").is_some(),
            config_home: env
                .get("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| home_dir.as_ref().map(|h| h.join(".config")))
                .unwrap_or_else(|| PathBuf::from("~/.config")),
            user: env
                .get("USER")
                .or_else(|| env.get("LOGNAME"))
                .unwrap_or("root")
                .to_string(),
            path: env.get("PATH").map(String::from),
            tmux_tmpdir: env.get("TMUX_TMPDIR").map(PathBuf::from),
            reporter: env
                .get("FLEET_AGENT")
                .zip(env.get("FLEET_LAUNCH_MS").and_then(|v| v.parse().ok()))
                .map(|(agent, launch)| (agent.to_string(), launch)),
            stub: fleet_exe
                .as_deref()
                .and_then(Path::parent)
                .map(|dir| dir.join("fleet-stub"))
                .filter(|path| path.is_file()),
            host_timeout,
            ssh_config: env.get("FLEET_SSH_CONFIG").map(PathBuf::from),
            control_host: None,
            file_text: None,
            sent: env.get("FLEET_SENT").map(PathBuf::from),
            socket,
            file,
            home_dir,
            cwd,
            fleet_exe,
        })
    }
}

/// `1.5` (seconds), `500ms`, `2s`; at most a minute.
fn duration(text: &str) -> Option<Duration> {
    duration_up_to(text, Duration::from_secs(60))
}

/// `1.5` (seconds), `500ms`, `2m`; at most `max`.
fn duration_up_to(text: &str, max: Duration) -> Option<Duration> {
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 && secs <= max.as_secs_f64() => {
            Some(Duration::from_secs_f64(secs))
        }
        Ok(_) => None,
        Err(_) => humantime::parse_duration(text).ok(),
    };
    parsed.filter(|d| *d <= max)
}

/// `$FLEET_HOME`, else `$XDG_STATE_HOME/mosaic-fleet`, else
/// `~/.local/state/mosaic-fleet`. A relative directory is taken from `cwd`:
/// the transcript writers run under the tmux server, whose working
/// directory is not the caller's.
fn fleet_home(env: &Env, home: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    FLEET_HOME_ORDER
        .iter()
        .find_map(|source| match source {
            HomeSource::FleetHome => env.get("FLEET_HOME").map(PathBuf::from),
            HomeSource::XdgStateHome => env
                .get("XDG_STATE_HOME")
                .map(|d| Path::new(d).join("mosaic-fleet")),
            HomeSource::Home => home.map(|h| h.join(".local/state/mosaic-fleet")),
        })
        .map(|root| cwd.join(root))
}

/// The state directory must be UTF-8, as the variables are: it travels as
/// text (in the transcript writer's `pipe-pane` command, in hook and
/// extension settings), and a lossy copy put transcripts where `fleet logs`
/// could not find them. The variables are checked as read; what is left is
/// a relative one under a current directory that is not UTF-8.
fn check_state_dir(dir: Option<&Path>) -> Result<(), Error> {
    match dir {
        Some(dir) if dir.to_str().is_none() => Err(Error::setup(format!(
            "the state directory {} is not valid UTF-8: set FLEET_HOME to an absolute path that is",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// `--file`, else `fleet.toml` upward from `cwd`, else `$FLEET_FILE`.
fn find_fleet_file(flag: Option<&Path>, cwd: &Path, env: &Env) -> Result<Option<PathBuf>, Error> {
    for source in FILE_ORDER {
        match source {
            FileSource::Flag => {
                if let Some(path) = flag {
                    let problem = if path.is_dir() {
                        "is a directory, not a fleet file"
                    } else if !path.is_file() {
                        "does not exist"
                    } else {
                        return Ok(Some(path.to_path_buf()));
                    };
                    return Err(Error::setup(format!(
                        "fleet file {} {problem}: check the path given to --file",
                        path.display()
                    )));
                }
            }
            FileSource::Upward => {
                if let Some(found) = cwd
                    .ancestors()
                    .map(|dir| dir.join("fleet.toml"))
                    .find(|c| c.is_file())
                {
                    return Ok(Some(found));
                }
            }
            FileSource::Environment => {
                if let Some(path) = env.get("FLEET_FILE").map(PathBuf::from) {
                    if !path.is_file() {
                        let problem = if path.is_dir() {
                            "is a directory, not a fleet file"
                        } else {
                            "does not exist"
                        };
                        return Err(Error::setup(format!(
                            "FLEET_FILE={} {problem}: fix or unset FLEET_FILE",
                            path.display()
                        )));
                    }
                    return Ok(Some(path));
                }
            }
        }
    }
    Ok(None)
}

fn check_socket_name(socket: &str) -> Result<(), Error> {
    let ok = !socket.is_empty()
        && socket.len() <= 100
        && socket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !socket.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::setup(format!(
            "socket name {} is invalid: use letters, digits, '-', '_' and '.'",
            crate::core::error::quoted(socket)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(flags: Flags, env: &[(&str, &str)], cwd: &Path) -> Result<Settings, Error> {
        Settings::resolve(
            &flags,
            &Env::from_pairs(env.iter().copied()),
            cwd.to_path_buf(),
            Some(PathBuf::from("/bin/fleet")),
        )
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_default() {
        let cwd = Path::new("/nowhere/at/all");
        let socket = |flag: Option<&str>, env: &[(&str, &str)]| {
            let flags = Flags {
                socket: flag.map(String::from),
                ..Flags::default()
            };
            settings(flags, env, cwd).map(|s| s.socket).ok()
        };
        let env = [("MOSAIC_TMUX_SOCKET", "from-env")];
        assert_eq!(socket(Some("flag"), &env).as_deref(), Some("flag"));
        assert_eq!(socket(None, &env).as_deref(), Some("from-env"));
        assert_eq!(socket(None, &[]).as_deref(), Some(DEFAULT_SOCKET));
        assert_eq!(
            socket(None, &[("MOSAIC_TMUX_SOCKET", "")]).as_deref(),
            Some(DEFAULT_SOCKET)
        );
        assert!(socket(Some("../evil"), &[]).is_none());
    }

    #[test]
    fn the_state_directory_follows_its_order() {
        let cwd = Path::new("/work");
        let home = |env: &[(&str, &str)]| {
            fleet_home(
                &Env::from_pairs(env.iter().copied()),
                env.iter()
                    .find(|(k, _)| *k == "HOME")
                    .map(|(_, v)| Path::new(*v)),
                cwd,
            )
        };
        let all = [
            ("FLEET_HOME", "/fh"),
            ("XDG_STATE_HOME", "/xdg"),
            ("HOME", "/home/op"),
        ];
        assert_eq!(home(&all), Some(PathBuf::from("/fh")));
        assert_eq!(home(&all[1..]), Some(PathBuf::from("/xdg/mosaic-fleet")));
        assert_eq!(
            home(&all[2..]),
            Some(PathBuf::from("/home/op/.local/state/mosaic-fleet"))
        );
        assert_eq!(home(&[]), None);
        assert_eq!(
            home(&[("FLEET_HOME", "rel")]),
            Some(PathBuf::from("/work/rel"))
        );
    }

    #[test]
    fn the_fleet_file_is_the_flag_then_upward_then_the_environment() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("fleet.toml");
        let other = dir.path().join("other.toml");
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&top, "").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&other, "").unwrap_or_else(|e| panic!("{e}"));
        let env_file = other.to_string_lossy().into_owned();
        let env = [("FLEET_FILE", env_file.as_str())];
        let file = |flag: Option<&Path>, cwd: &Path, env: &[(&str, &str)]| {
            let flags = Flags {
                file: flag.map(Path::to_path_buf),
                ..Flags::default()
            };
            settings(flags, env, cwd).map(|s| s.file)
        };
        assert_eq!(
            file(Some(&other), &deep, &[]).ok(),
            Some(Some(other.clone()))
        );
        assert_eq!(file(None, &deep, &env).ok(), Some(Some(top.clone())));
        assert_eq!(
            file(None, Path::new("/"), &env).ok(),
            Some(Some(other.clone()))
        );
        assert_eq!(file(None, Path::new("/"), &[]).ok(), Some(None));
        assert!(file(Some(&dir.path().join("no.toml")), &deep, &[]).is_err());
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_refused_by_name() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"x\xffy".to_vec());
        let env = |key: &str| Env(BTreeMap::from([(key.to_string(), bad.clone())]));
        let err = env("FLEET_HOME").check().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("FLEET_HOME is not valid UTF-8: fix or unset it")
        );
        assert!(env("MOSAIC_TMUX_SOCKET").check().is_err());
        // PATH is only searched: a lossy reading harms nothing.
        assert!(env("PATH").check().is_ok());
        // A relative state directory under a current directory that is
        // not UTF-8 is not UTF-8 either.
        let cwd = PathBuf::from(OsString::from_vec(b"/tmp/h\xff".to_vec()));
        for var in ["FLEET_HOME", "XDG_STATE_HOME", "HOME"] {
            let err = settings(Flags::default(), &[(var, "rel")], &cwd)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with("the state directory /tmp/h\u{fffd}/rel")
                    && err.ends_with(
                        " is not valid UTF-8: set FLEET_HOME to an absolute path that is"
                    ),
                "{var}: {err}"
            );
        }
        assert!(settings(Flags::default(), &[("FLEET_HOME", "/abs")], &cwd).is_ok());
    }

    #[test]
    fn numbers_that_do_not_read_are_refused_by_name() {
        let error = |key: &str, value: &str| {
            settings(Flags::default(), &[(key, value)], Path::new("/"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(error("FLEET_IDLE_AFTER", "soon").starts_with("FLEET_IDLE_AFTER=soon is not"));
        assert!(error("FLEET_LOG_MAX_BYTES", "0").starts_with("FLEET_LOG_MAX_BYTES=0"));
        assert!(error("FLEET_START_GRACE", "-1").starts_with("FLEET_START_GRACE=-1"));
        assert!(error("FLEET_START_GRACE", "1e9").starts_with("FLEET_START_GRACE=1e9"));
        assert!(error("FLEET_START_GRACE", "2m").starts_with("FLEET_START_GRACE=2m"));
        let ok = |value: &str| {
            settings(
                Flags::default(),
                &[("FLEET_START_GRACE", value)],
                Path::new("/"),
            )
            .map(|s| s.start_grace)
            .ok()
        };
        assert_eq!(ok("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(ok("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(ok("0"), Some(Duration::ZERO));
    }
}
