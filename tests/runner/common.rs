//! A hermetic environment per test: its own temp root with `home/`, a
//! private `TMUX_TMPDIR`, a unique tmux socket, a cleared environment, and
//! `kill-server` on drop so that a failing test still cleans up.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub const FLEET: &str = env!("CARGO_BIN_EXE_fleet");
pub const STUB: &str = env!("CARGO_BIN_EXE_fleet-stub");

pub struct TestEnv {
    root: tempfile::TempDir,
    pub socket: String,
    pub path: String,
    /// More environment for every `fleet` this test runs.
    pub extra_env: Vec<(String, String)>,
}

/// What a `fleet` run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    #[track_caller]
    pub fn failure(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}:\n{self:#?}");
        self
    }

    /// Asserts success with one warning line that contains `needle`.
    #[track_caller]
    pub fn one_line_warning(self, needle: &str) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "expected one line:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("fleet: warning: ") && self.stderr.contains(needle),
            "expected a warning with {needle:?} in:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts a one-line error that contains `needle`.
    #[track_caller]
    pub fn one_line_error(self, needle: &str) -> Self {
        assert_ne!(self.code, 0, "expected failure:\n{self:#?}");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "expected one line:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} in:\n{}",
            self.stderr
        );
        self
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("fleet-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        for dir in ["home", "state", "tmux", "work", "bin"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap_or_else(|e| panic!("{e}"));
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Self {
            socket: format!("ft{}-{n}", std::process::id()),
            path: "/usr/bin:/bin".to_string(),
            extra_env: Vec::new(),
            root,
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// A directory for runtimes that is on no PATH until a test says so.
    pub fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.root()
            .join("tmux")
            .join(format!("tmux-{}", unsafe_free_uid()))
            .join(&self.socket)
    }

    /// Whether a tmux server is listening on the test socket.
    pub fn server_running(&self) -> bool {
        self.tmux(&["list-sessions"]).status.success()
    }

    pub fn write_fleet(&self, text: &str) -> PathBuf {
        let path = self.work().join("fleet.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    /// Writes an executable script into `bin/`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.bin().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        path
    }

    /// A `fleet` command with only what it needs in its environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(FLEET);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", &self.path)
            .env("TMUX_TMPDIR", self.root().join("tmux"))
            .env("FLEET_HOME", self.root().join("state"))
            .env("MOSAIC_TMUX_SOCKET", &self.socket)
            .current_dir(self.work())
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    pub fn fleet(&self, args: &[&str]) -> Run {
        Run::from(
            self.command(args)
                .output()
                .unwrap_or_else(|e| panic!("run fleet: {e}")),
        )
    }

    pub fn fleet_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap_or_else(|e| panic!("run fleet: {e}")))
    }

    /// Raw tmux on the test socket.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", "/usr/bin:/bin")
            .env("TMUX_TMPDIR", self.root().join("tmux"))
            // A server this starts must not sit in the crate's directory.
            .current_dir(self.root())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run tmux: {e}"))
    }

    pub fn tmux_out(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.tmux(args).stdout).into_owned()
    }

    /// `fleet ps --json`, parsed.
    pub fn ps(&self) -> Vec<Value> {
        let run = self.fleet(&["ps", "--json"]).success();
        match serde_json::from_str(&run.stdout) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("ps --json is not an array: {other:?}\n{}", run.stdout),
        }
    }

    pub fn row(&self, name: &str) -> Value {
        self.ps()
            .into_iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row for {name}"))
    }

    /// Waits until `name`'s status is `status` (bounded).
    #[track_caller]
    pub fn wait_status(&self, name: &str, status: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.row(name);
            last["status"] == status
        });
        assert!(ok, "{name} never became {status}: {last:#}");
        last
    }

    /// Waits until `name` has exited with a known status, and returns it.
    /// (tmux sees the pane's terminal close a moment before it reaps the
    /// process, so `exited` can briefly come without its code.)
    #[track_caller]
    pub fn wait_exit(&self, name: &str) -> i64 {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.row(name);
            last["status"] == "exited" && last["exit_code"].is_i64()
        });
        assert!(ok, "{name} never exited with a status: {last:#}");
        last["exit_code"].as_i64().unwrap_or(-1)
    }

    /// The agent pane's visible screen plus its recent history.
    pub fn screen(&self, name: &str) -> String {
        self.tmux_out(&[
            "capture-pane",
            "-p",
            "-S",
            "-200",
            "-t",
            &format!("={name}:"),
        ])
    }

    /// Types a line into an agent (test-side, not through fleet).
    pub fn type_line(&self, name: &str, text: &str) {
        let target = format!("={name}:");
        self.tmux(&["send-keys", "-t", &target, "-l", text]);
        self.tmux(&["send-keys", "-t", &target, "Enter"]);
    }

    #[track_caller]
    pub fn wait_screen(&self, name: &str, needle: &str) {
        let ok = wait_until(Duration::from_secs(10), || {
            self.screen(name).contains(needle)
        });
        assert!(
            ok,
            "{needle:?} never appeared on {name}:\n{}",
            self.screen(name)
        );
    }
}

/// A `fleet` left running (watch, logs --follow): its stdout lines arrive
/// on a channel; it is killed on drop.
pub struct Spawned {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Spawned {
    /// The next line within `timeout`, if any.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Reads lines until one satisfies `pred`, within `timeout` in all.
    pub fn until(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.line(left)?;
            if pred(&line) {
                return Some(line);
            }
        }
    }
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestEnv {
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        use std::io::BufRead;
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn fleet: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned { child, lines }
    }

    /// `fleet events --json`, parsed.
    pub fn events(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["events", "--json"];
        all.extend_from_slice(args);
        let run = self.fleet(&all).success();
        match serde_json::from_str(&run.stdout) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("events --json is not an array: {other:?}\n{}", run.stdout),
        }
    }

    /// Waits until `check` holds for `name`'s ps row (bounded).
    #[track_caller]
    pub fn wait_row(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.row(name);
            check(&last)
        });
        assert!(ok, "{name} never showed {what}: {last:#}");
        last
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // tmux 3.3 can hang on exit when a control client's reader died
        // a moment before (a watcher killed at the end of a test): end the
        // server for sure, and whatever clients are left with it.
        let pid = self.tmux_out(&["display", "-p", "#{pid}"]);
        let _ = self.tmux(&["kill-server"]);
        if let Ok(pid) = pid.trim().parse::<u32>() {
            let gone = wait_until(Duration::from_secs(2), || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
                    || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.contains(") Z "))
            });
            if !gone {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("tmux -u -L {} ", self.socket)])
            .status();
        // Pane processes hung up by kill-server may still be writing into
        // the root for a moment: retry the removal rather than race them.
        let root = self.root().to_path_buf();
        wait_until(Duration::from_secs(5), || {
            std::fs::remove_dir_all(&root).is_ok() || !root.exists()
        });
    }
}

fn unsafe_free_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, check: impl FnMut() -> bool) -> bool {
    wait_every(Duration::from_millis(20), timeout, check)
}

/// Polls `check` every `every` until it holds or `timeout` passes.
pub fn wait_every(every: Duration, timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A real terminal for a command that needs one (`attach`, `dash`): a
/// pane of a tmux server of the test's own, apart from the fleet's,
/// running `script`. Killed on drop.
pub struct Terminal {
    socket: String,
    tmpdir: PathBuf,
}

impl Terminal {
    /// `which` tells terminals of one test apart.
    pub fn start(env: &TestEnv, which: &str, cols: u16, rows: u16, script: &str) -> Self {
        let terminal = Terminal {
            socket: format!("{}-{which}", env.socket),
            tmpdir: env.root().join("tmux"),
        };
        terminal.tmux(&[
            "new-session",
            "-d",
            "-s",
            "v",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            script,
        ]);
        terminal
    }

    /// tmux on the terminal's own server.
    pub fn tmux(&self, args: &[&str]) -> String {
        Command::new("tmux")
            .args(["-u", "-L", &self.socket])
            .args(args)
            .env("TMUX_TMPDIR", &self.tmpdir)
            .env_remove("TMUX")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// What the terminal shows.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "v"])
    }

    /// Presses keys, by tmux's names.
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", "v", key]);
        }
    }

    /// Types characters, each as itself.
    pub fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "v", "-l", text]);
    }

    /// Types a line, then Enter, as an operator at the terminal would.
    pub fn type_line(&self, text: &str) {
        self.text(text);
        self.keys(&["Enter"]);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
