//! The real-runtime lab: pi, Codex CLI and Claude Code as npm ships them
//! (pinned and cached, see `install`), run by the real `fleet` on a
//! hermetic [`TestEnv`] and pointed at a mock model server of ours
//! (`mock`) on 127.0.0.1. No credentials: the runtimes get a dummy key for
//! the mock and nothing else, and the mock is their HTTP(S) proxy, so
//! whatever else they reach for is refused and recorded.
//!
//! Agents get their environment from the tmux server, and the tmux server
//! from the `fleet` that starts it: everything here is set before the
//! first `fleet` of a lab, and reaches every agent it starts.

pub mod install;
pub mod mock;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Run, TestEnv, wait_until};
use mock::MockModel;

/// A hermetic environment with the runtimes on fleet's runtime-bin PATH
/// and the mock running; see the module doc.
pub struct Lab {
    pub env: TestEnv,
    pub mock: MockModel,
}

impl Lab {
    /// The lab without credentials: the runtimes can run, the mock refuses
    /// every host they reach for, and nothing says where a model is.
    pub fn new() -> Self {
        let runtimes = install::runtimes();
        let mut env = TestEnv::new();
        let mock = MockModel::start();
        if let Some(dir) = node_dir().filter(|d| d != Path::new("/usr/bin")) {
            // `#!/usr/bin/env node` must find the node npm used.
            env.path = format!("{}:{}", dir.display(), env.path);
        }
        env.set("MOSAIC_RUNTIME_BIN", &runtimes.bin().to_string_lossy());
        for key in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            env.set(key, &mock.url());
        }
        for key in ["NO_PROXY", "no_proxy"] {
            env.set(key, "127.0.0.1,localhost");
        }
        // pi: no downloads of fd and rg, no version check, no telemetry.
        env.set("PI_OFFLINE", "1");
        // Claude Code: no updater, no telemetry or other non-essential calls.
        env.set("DISABLE_AUTOUPDATER", "1");
        env.set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        let codex_home = env.home().join(".codex");
        std::fs::create_dir_all(&codex_home).unwrap_or_else(|e| panic!("{e}"));
        env.set("CODEX_HOME", &codex_home.to_string_lossy());
        Self { env, mock }
    }

    /// Writes `text` to `path` under the private HOME.
    pub fn write_home(&self, path: &str, text: &str) {
        let path = self.env.home().join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    pub fn fleet(&self, args: &[&str]) -> Run {
        self.env.fleet(args)
    }

    /// `fleet up NAME`.
    pub fn up(&self, name: &str) {
        self.fleet(&["up", name]).success();
    }

    /// `fleet peek NAME`: the agent's screen as fleet shows it.
    pub fn peek(&self, name: &str) -> String {
        self.fleet(&["peek", name]).success().stdout
    }

    /// `fleet send NAME TEXT` (typed literally, then Enter).
    pub fn send(&self, name: &str, text: &str) {
        self.fleet(&["send", name, text]).success();
    }

    /// `fleet send --no-enter NAME TEXT`.
    pub fn type_text(&self, name: &str, text: &str) {
        self.fleet(&["send", "--no-enter", name, text]).success();
    }

    /// Waits (bounded) until `fleet peek NAME` shows `needle`, checks that
    /// `fleet ps` says `running` then, and returns the screen.
    #[track_caller]
    pub fn see(&self, name: &str, needle: &str, within: Duration) -> String {
        self.see_where(name, needle, within, |s| s.contains(needle))
    }

    /// Like [`Lab::see`], for a screen that satisfies `check`.
    #[track_caller]
    pub fn see_where(
        &self,
        name: &str,
        what: &str,
        within: Duration,
        mut check: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        let mut screen = String::new();
        loop {
            let run = self.fleet(&["peek", name]);
            if run.code == 0 {
                screen = run.stdout;
                if check(&screen) {
                    self.running(name);
                    return screen;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} never showed {what} within {within:?}; ps: {:#}\nscreen:\n{screen}",
                self.env.row(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asserts that `fleet ps --json` says `name` is `running`; returns
    /// its row.
    #[track_caller]
    pub fn running(&self, name: &str) -> Value {
        let row = self.env.row(name);
        assert_eq!(row["status"], "running", "{name} is not running: {row:#}");
        row
    }

    /// Waits (bounded) until `name` has exited with a known status, and
    /// returns it.
    #[track_caller]
    pub fn exited(&self, name: &str, within: Duration) -> i64 {
        let mut last = Value::Null;
        let ok = wait_until(within, || {
            last = self.env.row(name);
            last["status"] == "exited" && last["exit_code"].is_i64()
        });
        assert!(ok, "{name} never exited with a status: {last:#}");
        last["exit_code"].as_i64().unwrap_or(-1)
    }

    /// Waits (bounded) until `fleet ps --json` shows `name`'s activity as
    /// `want` (`working`, `idle` or `waiting`); returns its row. No test
    /// asserts activity yet: a later change proves fleet's activity words
    /// true against these runtimes, one line per step.
    #[allow(dead_code)]
    #[track_caller]
    pub fn activity(&self, name: &str, want: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.env.row(name);
            last["activity"] == want
        });
        assert!(ok, "{name} never showed activity {want}: {last:#}");
        assert_eq!(last["status"], "running", "{last:#}");
        last
    }
}

/// Where the test process finds `node`.
fn node_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| dir.join("node").is_file())
}

impl Drop for Lab {
    /// Stops the tmux server, then ends whatever the runtimes left running
    /// (Codex's app-server daemon detaches itself): every process whose
    /// environment carries this lab's HOME, which only its tmux server
    /// handed out. Each gets a moment to go on its own hang-up, then is
    /// killed by its pid.
    fn drop(&mut self) {
        let _ = self.env.tmux(&["kill-server"]);
        let home = self.env.home();
        if !wait_until(Duration::from_secs(3), || leftovers(&home).is_empty()) {
            for pid in leftovers(&home) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            wait_until(Duration::from_secs(2), || leftovers(&home).is_empty());
        }
    }
}

/// The processes whose environment has `HOME=home`, this one aside.
fn leftovers(home: &Path) -> Vec<u32> {
    let needle = format!("HOME={}", home.display()).into_bytes();
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_slice()))
        })
        .collect()
}

#[test]
fn a_lab_leaves_no_process_behind() {
    let lab = Lab::new();
    // As Codex's app-server daemon does: a process in a session of its
    // own, which the tmux server's hang-up does not reach.
    lab.fleet(&[
        "start",
        "leaky",
        "--",
        "sh",
        "-c",
        "setsid sleep 300 & exec sleep 300",
    ])
    .success();
    let home = lab.env.home();
    let mut pids = Vec::new();
    // The tmux server, the pane's sleep and the detached one.
    assert!(
        wait_until(Duration::from_secs(10), || {
            pids = leftovers(&home);
            pids.len() >= 3
        }),
        "{pids:?}"
    );
    drop(lab);
    let gone = |pid: &u32| {
        // A killed orphan may stay a zombie until init reaps it.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'))
        })
    };
    assert!(pids.iter().all(gone), "left behind: {pids:?}");
}
