//! Boot survival on a systemd host, as plain data: the user unit that runs
//! `fleet supervise`, and what `fleet init` (or `--uninstall`) must do given
//! what systemd says now. Pure: the adapter that asks and acts is
//! `host::systemd`, the operation that strings them together `ops::init`.
//!
//! Why the unit looks as it does:
//!
//! - **Environment, explicitly.** A user unit starts with almost nothing
//!   of the operator's shell: no `~/.npm-global/bin` on PATH, no
//!   `MOSAIC_RUNTIME_BIN`. That is the seed's failure (`command not found`,
//!   exit 127, the pane gone). So the PATH (runtime-bin prefix first), HOME,
//!   FLEET_HOME, MOSAIC_RUNTIME_BIN and TMUX_TMPDIR that `fleet init` ran with
//!   are written into the unit as `Environment=` lines.
//! - **`KillMode=process`.** The supervisor starts the agents' tmux server
//!   when none runs. tmux daemonizes (forks, `setsid`, forks again), which
//!   leaves the unit's session and process group but not its cgroup: a
//!   cgroup is inherited and only systemd moves processes between them.
//!   With the default `KillMode=control-group`, `systemctl --user stop` or
//!   `restart` of the supervisor (an upgrade, `fleet init` applying a new
//!   unit) would kill the tmux server and every agent with it. With
//!   `KillMode=process` systemd signals the main process (the supervisor)
//!   alone; the tmux server and the agents stay, and the next supervisor
//!   finds them on the socket. (systemd notes the left-over processes when
//!   the unit starts again; that is expected.) `Delegate=` is not needed:
//!   fleet manages no cgroups.
//! - **`Restart=on-failure`, `RestartSec=5s`.** A supervisor that crashes
//!   comes back; one stopped on purpose stays stopped. At 5 s apart the
//!   restarts stay under systemd's default start limit (5 in 10 s), so it
//!   keeps trying rather than giving up silently.
//! - **`WantedBy=default.target`**: started with the user manager, which
//!   linger starts at boot.

use std::path::{Path, PathBuf};

/// The first line of every unit `fleet init` writes: how a unit of ours is
/// told from one somebody else wrote (which init never replaces or removes).
pub const MARKER: &str = "# Written by `fleet init` (mosaic-fleet).";

/// Directories every unit's PATH ends with, so that tmux and a shell are
/// found even when the launcher's PATH was odd.
pub const BASE_PATH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

/// Seconds systemd waits before starting a failed supervisor again.
pub const RESTART_SEC: u32 = 5;

/// What the unit runs, and with what: plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// This `fleet`, by absolute path.
    pub fleet_exe: PathBuf,
    /// The fleet file, by absolute path; with `sent`, the desired state
    /// another host sent (`FLEET_SENT`) instead.
    pub fleet_file: PathBuf,
    pub sent: bool,
    pub socket: String,
    /// `Environment=` lines, in order.
    pub env: Vec<(String, String)>,
}

/// Why a unit cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("{what} {value:?} contains a control character: a unit file cannot carry it")]
    Control { what: String, value: String },
    #[error("{what} {value:?} is not an absolute path")]
    Relative { what: String, value: String },
}

/// What the agents need from the launcher, as the unit's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedEnv<'a> {
    pub home: Option<&'a Path>,
    pub fleet_home: Option<&'a Path>,
    /// The runtime-bin prefix the host derived (`a:b`), maybe empty.
    pub runtime_prefix: &'a str,
    /// The launcher's PATH.
    pub path: Option<&'a str>,
    pub runtime_bin: Option<&'a str>,
    pub tmux_tmpdir: Option<&'a Path>,
}

/// The unit's environment: HOME, FLEET_HOME, PATH (the runtime-bin prefix,
/// then the launcher's PATH, then [`BASE_PATH`]; absolute entries only,
/// each once), MOSAIC_RUNTIME_BIN and TMUX_TMPDIR when set.
pub fn unit_env(captured: &CapturedEnv<'_>) -> Vec<(String, String)> {
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let mut env = Vec::new();
    if let Some(home) = captured.home {
        env.push(("HOME".to_string(), text(home)));
    }
    if let Some(state) = captured.fleet_home {
        env.push(("FLEET_HOME".to_string(), text(state)));
    }
    env.push(("PATH".to_string(), unit_path(captured)));
    if let Some(bin) = captured.runtime_bin {
        env.push(("MOSAIC_RUNTIME_BIN".to_string(), bin.to_string()));
    }
    if let Some(dir) = captured.tmux_tmpdir {
        // tmux's socket lives under it: the supervisor must find the
        // server the operator's `fleet ps` talks to.
        env.push(("TMUX_TMPDIR".to_string(), text(dir)));
    }
    env
}

fn unit_path(captured: &CapturedEnv<'_>) -> String {
    let mut dirs: Vec<&str> = Vec::new();
    let all = captured
        .runtime_prefix
        .split(':')
        .chain(captured.path.unwrap_or_default().split(':'))
        .chain(BASE_PATH);
    for dir in all {
        // An empty or relative entry means "the current directory" to a
        // shell: never in a service's PATH.
        if dir.starts_with('/') && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.join(":")
}

/// The unit file's text: a pure function of the spec.
pub fn unit_text(spec: &UnitSpec) -> Result<String, UnitError> {
    let exe = path_text("the fleet binary", &spec.fleet_exe)?;
    let file = path_text("the fleet file", &spec.fleet_file)?;
    let workdir = spec
        .fleet_file
        .parent()
        .map(|d| path_text("the fleet file's directory", d))
        .transpose()?
        .unwrap_or_else(|| "/".into());
    no_control("the socket name", &spec.socket)?;
    let by_file = [
        exe.as_str(),
        "--file",
        &file,
        "--socket",
        &spec.socket,
        "supervise",
    ];
    let by_sent = [exe.as_str(), "--socket", &spec.socket, "supervise"];
    let mut env_lines = spec.env.clone();
    if spec.sent {
        env_lines.push(("FLEET_SENT".into(), file.clone()));
    }
    let exec = if spec.sent {
        &by_sent[..]
    } else {
        &by_file[..]
    }
    .iter()
    .map(|w| exec_word(w))
    .collect::<Vec<_>>()
    .join(" ");
    let mut env = String::new();
    for (key, value) in &env_lines {
        no_control(key, value)?;
        env.push_str(&format!("Environment={}\n", env_assignment(key, value)));
    }
    Ok(format!(
        "{MARKER}
# It runs the fleet's supervisor at login, and at boot with linger on.
# `fleet init` rewrites it when it differs; `fleet init --uninstall` removes it.
#
# KillMode=process: stopping or restarting the supervisor signals it alone.
# The agents' tmux server, which the supervisor may have started, daemonizes
# out of its session but stays in this unit's cgroup; the default
# KillMode=control-group would kill it, and every agent, on each restart.
#
# A unit starts with almost no environment: what the agents need (PATH with
# the runtime-bin prefix first, HOME, FLEET_HOME, MOSAIC_RUNTIME_BIN) was
# captured when `fleet init` ran. Run `fleet init` again after changing it.

[Unit]
Description=mosaic-fleet supervisor for {description}
StartLimitIntervalSec=10s
StartLimitBurst=5

[Service]
Type=exec
ExecStart={exec}
WorkingDirectory={workdir}
{env}KillMode=process
Restart=on-failure
RestartSec={RESTART_SEC}s

[Install]
WantedBy=default.target
",
        description = escape_specifiers(&format!("{} (socket {})", file, spec.socket)),
        // A path setting takes the rest of the line as it is: no quotes,
        // no variables; only specifiers are expanded.
        workdir = escape_specifiers(&workdir),
    ))
}

fn path_text(what: &str, path: &Path) -> Result<String, UnitError> {
    let text = path.to_string_lossy().into_owned();
    if !path.is_absolute() {
        return Err(UnitError::Relative {
            what: what.into(),
            value: text,
        });
    }
    no_control(what, &text)?;
    Ok(text)
}

fn no_control(what: &str, value: &str) -> Result<(), UnitError> {
    if value.chars().any(char::is_control) {
        return Err(UnitError::Control {
            what: what.into(),
            value: value.into(),
        });
    }
    Ok(())
}

/// `%` starts a specifier in every unit setting: `%%` is a literal one.
fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// One word of `ExecStart=` (or a path setting): bare when it holds only
/// safe characters, else double-quoted with `\` and `"` escaped; `%` and
/// `$` (specifiers, variable expansion) doubled either way.
fn exec_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@".contains(c));
    let escaped = escape_specifiers(word).replace('$', "$$");
    if safe {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `"KEY=value"` for `Environment=`: quoted whole, `\` and `"` escaped,
/// `%` doubled (systemd expands no variables there).
fn env_assignment(key: &str, value: &str) -> String {
    let text = escape_specifiers(&format!("{key}={value}"));
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether a unit file's text is one `fleet init` wrote.
pub fn is_ours(text: &str) -> bool {
    text.lines().next() == Some(MARKER)
}

/// What is there now, as systemd and the files say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    /// The unit file's text, if there is one.
    pub unit: Option<String>,
    pub enabled: bool,
    pub active: bool,
    /// systemd's copy of the unit is older than its file.
    pub needs_reload: bool,
    pub linger: bool,
}

/// What `fleet init` does, decided before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallPlan {
    /// A unit of that name that fleet did not write: nothing is touched.
    Foreign,
    Install {
        write: Write,
        reload: bool,
        /// `enable --now`: not enabled, or not running.
        enable_now: bool,
        /// Running with an older unit: restart it to apply the new one.
        restart: bool,
        linger: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The file is as it should be.
    Keep,
    Create,
    /// A unit of ours that differs (another fleet file, a new PATH…).
    Replace,
}

pub fn plan_install(present: &Present, desired: &str) -> InstallPlan {
    let write = match &present.unit {
        None => Write::Create,
        Some(text) if !is_ours(text) => return InstallPlan::Foreign,
        Some(text) if text == desired => Write::Keep,
        Some(_) => Write::Replace,
    };
    let changed = write != Write::Keep;
    let enable_now = !present.enabled || !present.active;
    InstallPlan::Install {
        write,
        reload: changed || present.needs_reload,
        enable_now,
        // `enable --now` starts a stopped unit with the new text already.
        restart: present.active && (changed || present.needs_reload),
        linger: !present.linger,
    }
}

/// What `fleet init --uninstall` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UninstallPlan {
    Foreign,
    Remove {
        /// `disable --now`: enabled or running.
        disable: bool,
        /// Remove the file (and then reload systemd).
        remove: bool,
        /// Turn linger off: `fleet init` turned it on, and it still is.
        linger_off: bool,
    },
}

/// `linger_by_init`: the record that `fleet init` turned linger on.
pub fn plan_uninstall(present: &Present, linger_by_init: bool) -> UninstallPlan {
    if present.unit.as_deref().is_some_and(|t| !is_ours(t)) {
        return UninstallPlan::Foreign;
    }
    UninstallPlan::Remove {
        disable: present.enabled || present.active,
        remove: present.unit.is_some(),
        linger_off: linger_by_init && present.linger,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> UnitSpec {
        UnitSpec {
            fleet_exe: "/home/op/.cargo/bin/fleet".into(),
            fleet_file: "/home/op/src/fleet.toml".into(),
            sent: false,
            socket: "mosaic-fleet".into(),
            env: unit_env(&CapturedEnv {
                home: Some(Path::new("/home/op")),
                fleet_home: Some(Path::new("/home/op/.local/state/mosaic-fleet")),
                runtime_prefix: "/home/op/.npm-global/bin:/home/op/.local/bin",
                path: Some("/home/op/.local/bin:.:/usr/bin:/bin:"),
                runtime_bin: None,
                tmux_tmpdir: None,
            }),
        }
    }

    fn text(spec: &UnitSpec) -> String {
        unit_text(spec).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_unit_runs_the_supervisor_with_the_agents_environment() {
        let unit = text(&spec());
        assert!(is_ours(&unit));
        let lines: Vec<&str> = unit.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "",
                "[Unit]",
                "Description=mosaic-fleet supervisor for /home/op/src/fleet.toml (socket mosaic-fleet)",
                "StartLimitIntervalSec=10s",
                "StartLimitBurst=5",
                "",
                "[Service]",
                "Type=exec",
                "ExecStart=/home/op/.cargo/bin/fleet --file /home/op/src/fleet.toml --socket mosaic-fleet supervise",
                "WorkingDirectory=/home/op/src",
                "Environment=\"HOME=/home/op\"",
                "Environment=\"FLEET_HOME=/home/op/.local/state/mosaic-fleet\"",
                "Environment=\"PATH=/home/op/.npm-global/bin:/home/op/.local/bin:/usr/bin:/bin:/usr/local/bin\"",
                "KillMode=process",
                "Restart=on-failure",
                "RestartSec=5s",
                "",
                "[Install]",
                "WantedBy=default.target",
            ]
        );
    }

    #[test]
    fn the_path_has_the_prefix_first_absolute_entries_once() {
        let env = unit_env(&CapturedEnv {
            runtime_prefix: "/rt:/npm/bin",
            path: Some("/npm/bin::relative:/opt/x"),
            runtime_bin: Some("/rt"),
            tmux_tmpdir: Some(Path::new("/tmp/t")),
            ..CapturedEnv::default()
        });
        assert_eq!(
            env,
            [
                (
                    "PATH".to_string(),
                    "/rt:/npm/bin:/opt/x:/usr/local/bin:/usr/bin:/bin".to_string()
                ),
                ("MOSAIC_RUNTIME_BIN".to_string(), "/rt".to_string()),
                ("TMUX_TMPDIR".to_string(), "/tmp/t".to_string()),
            ]
        );
    }

    #[test]
    fn odd_characters_stay_data() {
        let mut s = spec();
        s.fleet_file = "/home/op/my fleets/100%/$HOME/\"q\"\\.toml".into();
        s.env = vec![("HOME".into(), "/home/o p%n\"\\".into())];
        let unit = text(&s);
        assert!(
            unit.contains(r#"--file "/home/op/my fleets/100%%/$$HOME/\"q\"\\.toml" --socket"#),
            "{unit}"
        );
        assert!(
            unit.contains("WorkingDirectory=/home/op/my fleets/100%%/$HOME\n"),
            "{unit}"
        );
        assert!(
            unit.contains(r#"Environment="HOME=/home/o p%%n\"\\""#),
            "{unit}"
        );
        s.env = vec![("HOME".into(), "/a\nb".into())];
        assert!(matches!(unit_text(&s), Err(UnitError::Control { .. })));
        let mut r = spec();
        r.fleet_exe = "fleet".into();
        assert!(matches!(unit_text(&r), Err(UnitError::Relative { .. })));
    }

    fn present(unit: Option<&str>, enabled: bool, active: bool, linger: bool) -> Present {
        Present {
            unit: unit.map(String::from),
            enabled,
            active,
            needs_reload: false,
            linger,
        }
    }

    #[test]
    fn init_does_only_what_is_missing() {
        let desired = text(&spec());
        assert_eq!(
            plan_install(&present(None, false, false, false), &desired),
            InstallPlan::Install {
                write: Write::Create,
                reload: true,
                enable_now: true,
                restart: false,
                linger: true,
            }
        );
        // Set up already: nothing to do.
        assert_eq!(
            plan_install(&present(Some(&desired), true, true, true), &desired),
            InstallPlan::Install {
                write: Write::Keep,
                reload: false,
                enable_now: false,
                restart: false,
                linger: false,
            }
        );
        // Ours but older, running: rewrite, reload, restart to apply.
        let older = desired.replace("RestartSec=5s", "RestartSec=1s");
        assert_eq!(
            plan_install(&present(Some(&older), true, true, true), &desired),
            InstallPlan::Install {
                write: Write::Replace,
                reload: true,
                enable_now: false,
                restart: true,
                linger: false,
            }
        );
        // Somebody else's unit of the same name: hands off.
        assert_eq!(
            plan_install(
                &present(Some("[Service]\nExecStart=/bin/true\n"), true, true, true),
                &desired
            ),
            InstallPlan::Foreign
        );
    }

    #[test]
    fn uninstall_removes_only_what_init_added() {
        let ours = text(&spec());
        assert_eq!(
            plan_uninstall(&present(Some(&ours), true, true, true), false),
            UninstallPlan::Remove {
                disable: true,
                remove: true,
                linger_off: false,
            }
        );
        assert_eq!(
            plan_uninstall(&present(Some(&ours), true, false, true), true),
            UninstallPlan::Remove {
                disable: true,
                remove: true,
                linger_off: true,
            }
        );
        assert_eq!(
            plan_uninstall(&present(None, false, false, false), true),
            UninstallPlan::Remove {
                disable: false,
                remove: false,
                linger_off: false,
            }
        );
        assert_eq!(
            plan_uninstall(&present(Some("[Unit]\n"), true, true, true), true),
            UninstallPlan::Foreign
        );
    }
}
