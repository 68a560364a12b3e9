//! `fleet init`: boot survival for this host's fleet. It asks systemd what
//! is there, decides what is missing (`core::boot`, pure) before it changes
//! anything, then does only that, one step at a time, and says of each
//! step whether it was already so, was changed, or failed (with the fix).
//!
//! Linger is the user's, not only fleet's: `--uninstall` turns it off only
//! when `fleet init` turned it on, which it records in `$FLEET_HOME/boot.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::boot::{self, CapturedEnv, InstallPlan, Present, UninstallPlan, UnitSpec, Write};
use crate::core::error::Error;
use crate::core::host::Probe;
use crate::core::host::local::UNIT_NAME;
use crate::core::host::systemd::{Systemd, SystemdError};
use crate::core::ops::Core;
use crate::core::store::{home::write_atomic, private};

/// What was asked of `fleet init`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitOptions {
    pub dry_run: bool,
    pub uninstall: bool,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already as it should be: nothing done.
    Ok,
    Changed,
    /// `--dry-run`: this would be changed.
    WouldChange,
    Failed,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Changed => "changed",
            Outcome::WouldChange => "would change",
            Outcome::Failed => "failed",
        }
    }
}

/// One step of `fleet init`, as it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// How to fix a failure.
    pub fix: Option<String>,
}

/// What `fleet init` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    pub unit_path: PathBuf,
    /// The unit as `fleet init` writes it (empty for `--uninstall`).
    pub unit_text: String,
    pub steps: Vec<Step>,
    /// No systemd user manager here: nothing was touched.
    pub no_systemd: Option<NoSystemd>,
}

impl InitReport {
    pub fn failed(&self) -> bool {
        self.no_systemd.is_some() || self.steps.iter().any(|s| s.outcome == Outcome::Failed)
    }

    pub fn changed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Changed | Outcome::WouldChange))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSystemd {
    /// What systemd (or its absence) said.
    pub reason: String,
    /// The command to run under another service manager instead.
    pub instead: String,
}

/// The record that `fleet init` turned linger on, in `$FLEET_HOME`.
#[derive(Debug, Serialize, Deserialize)]
struct BootRecord {
    /// The user whose linger `fleet init` turned on.
    linger_enabled_for: Option<String>,
}

const RECORD: &str = "boot.json";

impl Core {
    /// Installs (or with `uninstall` removes) the systemd user unit that
    /// runs `fleet supervise` for this fleet file, and linger.
    pub fn init(&self, systemd: &Systemd, options: InitOptions) -> Result<InitReport, Error> {
        // A broken fleet file is refused, as `up` refuses it: the unit
        // would run a supervisor that cannot read it.
        let fleet = self.require_fleet("init")?;
        let file = fleet
            .path
            .clone()
            .or_else(|| self.settings.file.clone())
            .ok_or(Error::NoFleetFile { command: "init" })?;
        let mut file = absolute(&file, "the fleet file")?;
        // Serving the operator's host: the supervisor here reads what it
        // sent (kept before this ran), not a file of this host.
        let sent = self.settings.control_host.is_some();
        if sent {
            file = self.state_file("sent.json").ok_or(Error::NoStateDir)?;
        }
        let exe = self
            .settings
            .fleet_exe
            .as_deref()
            .ok_or(Error::NoFleetBinary)
            .and_then(|p| absolute(p, "the fleet binary"))?;
        let fleet_home = self.settings.fleet_home.clone().ok_or(Error::NoStateDir)?;
        let config_home = &self.settings.config_home;
        if !config_home.is_absolute() {
            return Err(Error::setup(format!(
                "cannot tell where systemd user units live ({}): set HOME or XDG_CONFIG_HOME",
                config_home.display()
            )));
        }
        let unit_path = config_home.join("systemd/user").join(UNIT_NAME);
        let prefix = self
            .host()
            .facts(&Probe {
                runtime_prefix: !options.uninstall,
                ..Probe::default()
            })
            .runtime_prefix;
        let spec = UnitSpec {
            fleet_exe: exe.clone(),
            fleet_file: file.clone(),
            sent,
            socket: self.settings.socket.clone(),
            env: boot::unit_env(&CapturedEnv {
                home: self.settings.home_dir.as_deref(),
                fleet_home: Some(&fleet_home),
                runtime_prefix: &prefix,
                path: self.settings.path.as_deref(),
                runtime_bin: self.settings.runtime_bin.as_deref(),
                tmux_tmpdir: self.settings.tmux_tmpdir.as_deref(),
            }),
        };
        let unit_text = boot::unit_text(&spec).map_err(|e| {
            Error::BadValue(format!(
                "cannot write the unit: {e}: fleet init needs it plain"
            ))
        })?;
        let mut report = InitReport {
            unit_path: unit_path.clone(),
            unit_text: if options.uninstall {
                String::new()
            } else {
                unit_text.clone()
            },
            steps: Vec::new(),
            no_systemd: None,
        };

        // No user manager: say so and what to do instead; touch nothing.
        if let Err(e) = systemd.user_manager() {
            report.no_systemd = Some(NoSystemd {
                reason: match &e {
                    SystemdError::NotFound { .. } => "systemctl is not installed".into(),
                    other => other
                        .message()
                        .map(String::from)
                        .unwrap_or(other.to_string()),
                },
                instead: if sent {
                    format!(
                        "FLEET_SENT={} {} --socket {} supervise",
                        shell_word(&file.to_string_lossy()),
                        shell_word(&exe.to_string_lossy()),
                        self.settings.socket
                    )
                } else {
                    format!(
                        "{} --file {} --socket {} supervise",
                        shell_word(&exe.to_string_lossy()),
                        shell_word(&file.to_string_lossy()),
                        self.settings.socket
                    )
                },
            });
            return Ok(report);
        }

        let user = self.settings.user.clone();
        // Without USER or LOGNAME the settings say "root": never turn on
        // root's linger for somebody else.
        if user == "root" && private::me() != 0 {
            return Err(Error::setup(
                "cannot tell which user to enable linger for: set USER to your user name",
            ));
        }
        let present = self.present(systemd, &unit_path, &user)?;
        let record = fleet_home.join(RECORD);
        if options.uninstall {
            self.uninstall(systemd, &mut report, &present, &record, &user, options);
        } else {
            self.install(systemd, &mut report, &present, &record, &user, options);
        }
        Ok(report)
    }

    fn present(&self, systemd: &Systemd, unit_path: &Path, user: &str) -> Result<Present, Error> {
        let unit = match std::fs::read(unit_path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(Error::Io {
                    what: format!("cannot read {}", unit_path.display()),
                    source,
                });
            }
        };
        let state = systemd.unit_state(UNIT_NAME).map_err(systemd_failed)?;
        Ok(Present {
            unit,
            enabled: state.is_enabled(),
            active: state.is_active(),
            needs_reload: state.needs_reload,
            linger: systemd.lingers(user),
        })
    }

    fn install(
        &self,
        systemd: &Systemd,
        report: &mut InitReport,
        present: &Present,
        record: &Path,
        user: &str,
        options: InitOptions,
    ) {
        let unit_path = report.unit_path.clone();
        let shown = unit_path.display().to_string();
        let (write, reload, enable_now, restart, linger) = match boot::plan_install(
            present,
            &report.unit_text,
        ) {
            InstallPlan::Foreign => {
                report.steps.push(Step {
                        name: "unit file",
                        outcome: Outcome::Failed,
                        detail: format!("{shown} exists and was not written by fleet init"),
                        fix: Some(
                            "move it aside (or remove it) if it is not needed, then run fleet init again; nothing was changed"
                                .to_string(),
                        ),
                    });
                return;
            }
            InstallPlan::Install {
                write,
                reload,
                enable_now,
                restart,
                linger,
            } => (write, reload, enable_now, restart, linger),
        };
        let text = report.unit_text.clone();
        let mut steps = Steps::new(report, options.dry_run);
        steps.step(
            "unit file",
            write != Write::Keep,
            match write {
                Write::Keep => format!("{shown} is as fleet init writes it"),
                Write::Create => format!("write {shown}"),
                Write::Replace => format!("rewrite {shown} (it differed)"),
            },
            || write_unit(&unit_path, &text),
            || format!("check that {} is writable", parent(&unit_path)),
        );
        steps.step(
            "daemon-reload",
            reload,
            if reload {
                "systemctl --user daemon-reload: systemd reads the unit".into()
            } else {
                "systemd has the unit as written".into()
            },
            || systemd.daemon_reload().map_err(|e| e.to_string()),
            || "run systemctl --user daemon-reload and read what it says".into(),
        );
        let status =
            format!("see systemctl --user status {UNIT_NAME} and journalctl --user -u {UNIT_NAME}");
        steps.step(
            "enabled and running",
            enable_now,
            if enable_now {
                format!(
                    "systemctl --user enable --now {UNIT_NAME}: the supervisor runs now and at every start of your user manager"
                )
            } else {
                format!("{UNIT_NAME} is enabled and running")
            },
            || systemd.enable_now(UNIT_NAME).map_err(|e| e.to_string()),
            || status.clone(),
        );
        if restart {
            steps.step(
                "restart",
                true,
                format!(
                    "systemctl --user restart {UNIT_NAME}: the supervisor runs the new unit; agents keep running (KillMode=process)"
                ),
                || systemd.restart(UNIT_NAME).map_err(|e| e.to_string()),
                || status.clone(),
            );
        }
        steps.step(
            "linger",
            linger,
            if linger {
                format!(
                    "loginctl enable-linger {user}: your user manager, and the supervisor, start at boot without a login"
                )
            } else {
                format!("linger is on for {user}")
            },
            || {
                systemd.enable_linger(user).map_err(|e| e.to_string())?;
                // Recorded so that --uninstall turns off only what init
                // turned on.
                let json = serde_json::to_vec(&BootRecord {
                    linger_enabled_for: Some(user.to_string()),
                })
                .map_err(|e| e.to_string())?;
                write_atomic(record, &json)
                    .map_err(|e| format!("cannot record it in {}: {e}", record.display()))
            },
            || {
                format!(
                    "an administrator may have to allow it: sudo loginctl enable-linger {user}"
                )
            },
        );
    }

    fn uninstall(
        &self,
        systemd: &Systemd,
        report: &mut InitReport,
        present: &Present,
        record: &Path,
        user: &str,
        options: InitOptions,
    ) {
        let unit_path = report.unit_path.clone();
        let shown = unit_path.display().to_string();
        let by_init = read_record(record).as_deref() == Some(user);
        let (disable, remove, linger_off) = match boot::plan_uninstall(present, by_init) {
            UninstallPlan::Foreign => {
                report.steps.push(Step {
                    name: "unit file",
                    outcome: Outcome::Failed,
                    detail: format!(
                        "{shown} was not written by fleet init: fleet init leaves it alone"
                    ),
                    fix: Some("remove it yourself if it is not needed".into()),
                });
                return;
            }
            UninstallPlan::Remove {
                disable,
                remove,
                linger_off,
            } => (disable, remove, linger_off),
        };
        let mut steps = Steps::new(report, options.dry_run);
        steps.step(
            "disabled and stopped",
            disable,
            if disable {
                format!(
                    "systemctl --user disable --now {UNIT_NAME}: the supervisor stops; agents keep running (fleet down stops them)"
                )
            } else {
                format!("{UNIT_NAME} is neither enabled nor running")
            },
            || systemd.disable_now(UNIT_NAME).map_err(|e| e.to_string()),
            || format!("run systemctl --user disable --now {UNIT_NAME} and read what it says"),
        );
        steps.step(
            "unit file",
            remove,
            if remove {
                format!("remove {shown}")
            } else {
                format!("{shown} is not there")
            },
            || match std::fs::remove_file(&unit_path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            || format!("check that {} is writable", parent(&unit_path)),
        );
        steps.step(
            "daemon-reload",
            remove,
            if remove {
                "systemctl --user daemon-reload: systemd forgets the unit".into()
            } else {
                "nothing for systemd to forget".into()
            },
            || systemd.daemon_reload().map_err(|e| e.to_string()),
            || "run systemctl --user daemon-reload and read what it says".into(),
        );
        steps.step(
            "linger",
            linger_off,
            if linger_off {
                format!("loginctl disable-linger {user}: fleet init turned it on")
            } else if present.linger {
                format!("linger stays on for {user}: fleet init did not turn it on")
            } else {
                format!("linger is off for {user}")
            },
            || {
                systemd.disable_linger(user).map_err(|e| e.to_string())?;
                match std::fs::remove_file(record) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("cannot remove {}: {e}", record.display())),
                }
            },
            || format!("an administrator may have to do it: sudo loginctl disable-linger {user}"),
        );
    }
}

/// Runs steps in order and records how each went; after a failure, the
/// rest are not tried (a second `fleet init` picks up where it stopped).
struct Steps<'a> {
    report: &'a mut InitReport,
    dry_run: bool,
    stopped: bool,
}

impl<'a> Steps<'a> {
    fn new(report: &'a mut InitReport, dry_run: bool) -> Self {
        Self {
            report,
            dry_run,
            stopped: false,
        }
    }

    fn step(
        &mut self,
        name: &'static str,
        needed: bool,
        detail: String,
        act: impl FnOnce() -> Result<(), String>,
        fix: impl FnOnce() -> String,
    ) {
        if self.stopped {
            return;
        }
        let (outcome, detail, fix) = if !needed {
            (Outcome::Ok, detail, None)
        } else if self.dry_run {
            (Outcome::WouldChange, detail, None)
        } else {
            match act() {
                Ok(()) => (Outcome::Changed, detail, None),
                Err(error) => {
                    self.stopped = true;
                    (Outcome::Failed, format!("{detail}: {error}"), Some(fix()))
                }
            }
        };
        self.report.steps.push(Step {
            name,
            outcome,
            detail,
            fix,
        });
    }
}

/// A unit file is configuration, not state: 0644 like every unit (systemd
/// and the user read it; it holds paths and PATH, no secrets), written
/// atomically so systemd never reads half of one.
fn write_unit(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().ok_or("the unit has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_data())
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn parent(path: &Path) -> String {
    path.parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The user whose linger `fleet init` turned on, if it did.
fn read_record(path: &Path) -> Option<String> {
    let bytes = private::read(path).ok()?;
    serde_json::from_slice::<BootRecord>(&bytes)
        .ok()?
        .linger_enabled_for
}

fn systemd_failed(e: SystemdError) -> Error {
    Error::Systemd(format!("cannot ask systemd about {UNIT_NAME}: {e}"))
}

/// An absolute, link-free path: the unit runs far from this directory.
fn absolute(path: &Path, what: &str) -> Result<PathBuf, Error> {
    std::fs::canonicalize(path).map_err(|source| Error::Io {
        what: format!("cannot resolve {what} {}", path.display()),
        source,
    })
}

/// `word` as a shell reads it back, for a command line to copy.
fn shell_word(word: &str) -> String {
    shlex::try_quote(word)
        .map(|w| w.into_owned())
        .unwrap_or_else(|_| word.to_string())
}
