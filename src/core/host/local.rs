//! This machine as a fleet host: tmux on a private socket, and the facts a
//! launch needs, read here (where the agents will run).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::core::desired::agent::AgentName;
use crate::core::host::systemd::Systemd;
use crate::core::host::tmux::Tmux;
use crate::core::host::tmux::control::ControlWatch;
use crate::core::host::watch::Watch;
use crate::core::host::{
    BootFacts, Capture, Host, HostError, HostFacts, Input, Launch, LaunchResults, ObservedPane,
    Probe,
};

/// The systemd user unit that `fleet init` installs to bring the fleet back
/// at boot.
pub const UNIT_NAME: &str = "mosaic-fleet.service";

/// What this machine's facts are read from: the environment fleet was
/// started with, read once by the settings.
#[derive(Debug, Clone, Default)]
pub struct LocalEnv {
    pub home: Option<PathBuf>,
    /// `MOSAIC_RUNTIME_BIN`.
    pub runtime_bin: Option<String>,
    /// The launcher's PATH, where `npm` is looked for.
    pub path: Option<String>,
    /// Where systemd user units live.
    pub config_home: PathBuf,
    pub user: String,
    /// The state directory, where npm's answer is kept between runs.
    pub fleet_home: Option<PathBuf>,
    /// The directory fleet runs in (npm reads a `.npmrc` there).
    pub cwd: PathBuf,
    /// `npm_config_*` from the environment.
    pub npm_env: Vec<(String, String)>,
}

/// tmux on this machine.
pub struct LocalHost {
    tmux: Tmux,
    name: String,
    env: LocalEnv,
    systemd: Systemd,
}

impl LocalHost {
    pub fn new(tmux: Tmux, name: impl Into<String>, env: LocalEnv) -> Self {
        Self {
            tmux,
            name: name.into(),
            env,
            systemd: Systemd::new(),
        }
    }

    /// Asks logind about linger through `systemd` (traced, say).
    pub fn with_systemd(mut self, systemd: Systemd) -> Self {
        self.systemd = systemd;
        self
    }

    /// Derives the runtime-bin prefix. Runs `npm config get prefix` (a node
    /// start-up, ~0.2 s), so it is asked for once per run, not per agent.
    fn runtime_prefix(&self) -> String {
        let npm = self.npm_prefix();
        prefix_of(
            &candidates(
                self.env.runtime_bin.as_deref(),
                npm.as_deref(),
                self.env.home.as_deref(),
            ),
            Path::is_dir,
        )
    }

    /// Boot survival: the user unit and its enablement symlink from the
    /// files systemd keeps, linger from logind (else its flag file).
    fn boot(&self) -> BootFacts {
        let units = self.env.config_home.join("systemd/user");
        let unit = units.join(UNIT_NAME);
        BootFacts {
            unit_installed: unit.is_file(),
            unit_enabled: units.join("default.target.wants").join(UNIT_NAME).exists(),
            unit,
            linger: self.systemd.lingers(&self.env.user),
            user: self.env.user.clone(),
        }
    }
}

impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn socket(&self) -> &str {
        self.tmux.socket()
    }

    fn check_ready(&self) -> Result<(), HostError> {
        self.tmux.check_version()
    }

    fn list_panes(&self) -> Result<Vec<ObservedPane>, HostError> {
        self.tmux.list_panes()
    }

    fn capture_screens(&self, panes: &[(u32, usize)]) -> Result<BTreeMap<u32, String>, HostError> {
        self.tmux.capture_screens(panes)
    }

    fn capture(&self, pane_id: u32, what: Capture, raw: bool) -> Result<String, HostError> {
        let mut screens = self.tmux.capture_many(&[pane_id], what, raw)?;
        Ok(screens.remove(&pane_id).unwrap_or_default())
    }

    fn launch(&self, launches: &[Launch]) -> Result<LaunchResults, HostError> {
        self.tmux.launch(launches)
    }

    fn pipe(&self, pipes: &[(u32, Vec<String>)]) -> Result<(), HostError> {
        self.tmux.pipe(pipes)
    }

    fn writer_gone(&self, path: &std::path::Path) -> bool {
        // A transcript that is not there (deleted with its directory, or
        // refused: a link, another's) is not being written, whatever the
        // writer's state: a new writer makes it again, or says why not.
        crate::core::transcript::writer_alive(path) != Some(true)
    }

    fn kill(&self, names: &[&AgentName]) -> Result<(), HostError> {
        self.tmux.kill_sessions(names)
    }

    fn supervisor_claim(&self) -> Option<u32> {
        let mut batch = crate::core::host::tmux::Batch::new();
        batch.push(["show-options", "-sqv", "@fleet-supervisor"]);
        let out = self.tmux.run(&batch).ok()?;
        String::from_utf8_lossy(&out).trim().parse().ok()
    }

    fn claim_supervisor(&self, pid: u32) {
        let mut batch = crate::core::host::tmux::Batch::new();
        batch.push([
            "set-option".to_string(),
            "-s".to_string(),
            "@fleet-supervisor".to_string(),
            pid.to_string(),
        ]);
        let _ = self.tmux.run(&batch);
    }

    fn nudge(&self) {
        let mut batch = crate::core::host::tmux::Batch::new();
        batch.push(["wait-for", "-S", crate::core::host::tmux::control::CHANNEL]);
        let _ = self.tmux.run(&batch);
    }

    fn mark_crashloop(&self, session: &str) -> Result<(), HostError> {
        self.tmux.mark_crashloop(session)
    }

    fn set_state(&self, session: &str, value: &str) -> Result<(), HostError> {
        self.tmux.set_state(session, value)
    }

    fn type_into(&self, inputs: &[(&ObservedPane, Input)]) -> Result<(), HostError> {
        self.tmux.type_into(inputs)
    }

    fn attach_command(&self, session: &str, read_only: bool) -> Command {
        self.tmux.attach_command(session, read_only)
    }

    fn server_path(&self) -> Result<Option<String>, HostError> {
        self.tmux.server_path()
    }

    fn exports_path(&self, pane_ids: &[u32]) -> Result<BTreeMap<u32, bool>, HostError> {
        self.tmux.exports_path(pane_ids)
    }

    fn facts(&self, probe: &Probe) -> HostFacts {
        HostFacts {
            runtime_prefix: if probe.runtime_prefix {
                self.runtime_prefix()
            } else {
                String::new()
            },
            dirs: probe.dirs.iter().filter(|d| d.is_dir()).cloned().collect(),
            not_dirs: probe
                .dirs
                .iter()
                .filter(|d| d.exists() && !d.is_dir())
                .cloned()
                .collect(),
            executables: probe
                .files
                .iter()
                .filter(|f| is_executable(f))
                .cloned()
                .collect(),
            boot: probe.boot.then(|| self.boot()),
        }
    }

    fn watch(&self) -> Option<Box<dyn Watch>> {
        Some(Box::new(ControlWatch::new(self.tmux.clone())))
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where runtimes may be installed, in order: `$MOSAIC_RUNTIME_BIN` (one
/// directory or a `:`-separated list), `$(npm config get prefix)/bin`,
/// `~/.npm-global/bin`, `~/.local/bin`.
pub fn candidates(
    runtime_bin: Option<&str>,
    npm_prefix: Option<&Path>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(bin) = runtime_bin {
        out.extend(bin.split(':').filter(|d| !d.is_empty()).map(PathBuf::from));
    }
    if let Some(prefix) = npm_prefix {
        out.push(prefix.join("bin"));
    }
    if let Some(home) = home {
        out.push(home.join(".npm-global/bin"));
        out.push(home.join(".local/bin"));
    }
    out
}

/// Joins the candidates that exist, first occurrence wins. A directory is
/// kept even when the launcher's PATH already has it: the pane's PATH is the
/// server's, which may not.
pub fn prefix_of(candidates: &[PathBuf], is_dir: impl Fn(&Path) -> bool) -> String {
    let mut seen: Vec<&Path> = Vec::new();
    for dir in candidates {
        let text = dir.to_string_lossy();
        // An empty or relative entry, or one with ':', would corrupt PATH.
        if !dir.is_absolute() || text.contains(':') || seen.contains(&dir.as_path()) {
            continue;
        }
        if is_dir(dir) {
            seen.push(dir);
        }
    }
    seen.iter()
        .map(|d| d.to_string_lossy())
        .collect::<Vec<_>>()
        .join(":")
}

/// What `npm config get prefix` answered, kept under FLEET_HOME with
/// everything that decides it: a kept answer is used only while all of
/// that is unchanged, and for an hour at most.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct NpmAnswer {
    key: String,
    prefix: Option<PathBuf>,
    /// The global npmrc under that prefix, as it was.
    global: String,
    at: u64,
}

/// How long a kept answer of npm's is trusted.
const NPM_ANSWER_FOR: u64 = 3600;

/// A file's identity and last change, or `-` when there is none.
fn stamp(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or_else(
        |_| "-".to_string(),
        |m| format!("{}:{}:{}:{}", m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
    )
}

impl LocalHost {
    /// `npm config get prefix` (about 0.2 s of node start-up), or what it
    /// answered before when nothing that decides it has changed.
    fn npm_prefix(&self) -> Option<PathBuf> {
        let npm = find_on_path("npm", self.env.path.as_deref()?)?;
        let real = std::fs::canonicalize(&npm).unwrap_or_else(|_| npm.clone());
        let mut npm_env = self.env.npm_env.clone();
        npm_env.sort();
        let key = format!(
            "{:?}|{:?}|{:?}|{}|{}|{}|{}|{npm_env:?}",
            self.env.path,
            self.env.home,
            self.env.cwd,
            real.display(),
            stamp(&real),
            self.env
                .home
                .as_ref()
                .map_or_else(|| "-".to_string(), |h| stamp(&h.join(".npmrc"))),
            stamp(&self.env.cwd.join(".npmrc")),
        );
        let kept = self.npm_answer_path();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(path) = &kept
            && let Ok(bytes) = crate::core::store::private::read(path)
            && let Ok(answer) = serde_json::from_slice::<NpmAnswer>(&bytes)
            && answer.key == key
            && now.saturating_sub(answer.at) < NPM_ANSWER_FOR
            && answer.global == global_npmrc(answer.prefix.as_deref())
        {
            return answer.prefix;
        }
        let prefix = ask_npm(&npm);
        if let Some(path) = &kept {
            let answer = NpmAnswer {
                key,
                global: global_npmrc(prefix.as_deref()),
                prefix: prefix.clone(),
                at: now,
            };
            if let Ok(bytes) = serde_json::to_vec(&answer) {
                let _ = crate::core::store::home::write_atomic(path, &bytes);
            }
        }
        prefix
    }

    /// Where npm's answer is kept: the state directory, checked private.
    fn npm_answer_path(&self) -> Option<PathBuf> {
        use crate::core::store::private;
        let home = self.env.fleet_home.as_ref()?;
        private::root(home).ok()?;
        let dir = home.join("state");
        private::dir(home, &dir).ok()?;
        Some(dir.join("npm-prefix.json"))
    }
}

/// The global npmrc under a prefix, as a stamp.
fn global_npmrc(prefix: Option<&Path>) -> String {
    prefix.map_or_else(|| "-".to_string(), |p| stamp(&p.join("etc/npmrc")))
}

/// `npm config get prefix`, if npm answers within 5 s.
fn ask_npm(npm: &Path) -> Option<PathBuf> {
    let mut child = Command::new(npm)
        .args(["config", "get", "prefix"])
        // One question, asked at every launch: no debug log file for it.
        .env("npm_config_logs_max", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let mut out = String::new();
    use std::io::Read;
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let prefix = out.trim();
    (!prefix.is_empty() && prefix != "undefined").then(|| PathBuf::from(prefix))
}

fn find_on_path(program: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_the_contract_order() {
        let c = candidates(
            Some("/rt/a:/rt/b"),
            Some(Path::new("/npm")),
            Some(Path::new("/home/op")),
        );
        assert_eq!(
            c,
            [
                "/rt/a",
                "/rt/b",
                "/npm/bin",
                "/home/op/.npm-global/bin",
                "/home/op/.local/bin"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn prefix_keeps_existing_dirs_once() {
        let c = ["/a", "/missing", "/b", "/a", "relative", "/with:colon"].map(PathBuf::from);
        let exists = |p: &Path| p != Path::new("/missing");
        assert_eq!(prefix_of(&c, exists), "/a:/b");
        assert_eq!(prefix_of(&c, |_| false), "");
    }
}
