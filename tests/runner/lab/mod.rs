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

/// The runtimes the lab knows how to point at the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Pi,
    Codex,
    Claude,
}

impl Runtime {
    /// The agent's name in the lab's fleet file.
    pub fn agent(self) -> &'static str {
        match self {
            Runtime::Pi => "pi",
            Runtime::Codex => "codex",
            Runtime::Claude => "claude",
        }
    }
}

/// What the mock's model is called, for runtimes that name it.
pub const MODEL: &str = "lab-model";

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
        // The runtimes keep sockets and caches in the temp dir (Claude Code's
        // /tmp/claude-0 and cc-socks, Codex's daemon dir, pi's jiti cache):
        // this lab's own, removed with it.
        let tmp = env.root().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("{e}"));
        env.set("TMPDIR", &tmp.to_string_lossy());
        Self { env, mock }
    }

    /// Points `runtime` at the mock: its config in the private HOME, the
    /// dummy key in the server's environment (so call this before the
    /// first `fleet`). Returns the fleet file's table for its agent.
    pub fn point_at_mock(&mut self, runtime: Runtime) -> String {
        let url = self.mock.url();
        match runtime {
            Runtime::Pi => {
                // pi 0.73 reads custom providers from ~/.pi/agent/models.json;
                // `apiKey` names an environment variable (or is the key).
                let models = serde_json::json!({"providers": {"mock": {
                    "baseUrl": format!("{url}/v1"), "api": "openai-completions",
                    "apiKey": "MOCK_KEY",
                    "models": [{"id": MODEL, "name": "Lab Model", "reasoning": false,
                                "input": ["text"], "contextWindow": 128000, "maxTokens": 4096,
                                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0}}]}}});
                self.write_home(".pi/agent/models.json", &models.to_string());
                self.env.set("MOCK_KEY", "lab-dummy-key");
                // The built-in template: pi --model mock/lab-model:low
                format!(
                    "[agents.pi]\nruntime = \"pi\"\nmodel = \"mock/{MODEL}\"\neffort = \"low\"\n"
                )
            }
            Runtime::Codex => {
                // A model provider of our own (wire_api "responses" is the
                // one 0.169 speaks), per launch with -c, its key from
                // MOCK_KEY. --no-daemon: no shared app-server left behind.
                // -a on-request: Codex may ask to run outside its sandbox.
                self.env.set("MOCK_KEY", "lab-dummy-key");
                let command = [
                    "codex --no-daemon --model {model} -c model_reasoning_effort={effort}",
                    "-a on-request -c model_provider=mock",
                    "-c model_providers.mock.name=mock",
                    &format!("-c model_providers.mock.base_url={url}/v1"),
                    "-c model_providers.mock.wire_api=responses",
                    "-c model_providers.mock.env_key=MOCK_KEY",
                ]
                .join(" ");
                format!(
                    "[agents.codex]\nruntime = \"codex\"\nmodel = \"{MODEL}\"\neffort = \"low\"\ncommand = \"{command}\"\n"
                )
            }
            Runtime::Claude => {
                // Onboarding done (no theme, connectivity check or login
                // steps) and the dummy key approved (keys are listed by
                // their last 20 characters); the folder is not trusted
                // yet, so it asks. Manual mode: every tool call asks
                // (2.1's default, auto mode, lets a classifier decide).
                let key = "lab-dummy-key";
                let config = serde_json::json!({"hasCompletedOnboarding": true,
                    "customApiKeyResponses": {"approved": [key], "rejected": []}});
                self.write_home(".claude.json", &config.to_string());
                self.env.set("ANTHROPIC_BASE_URL", &url);
                self.env.set("ANTHROPIC_API_KEY", key);
                "[agents.claude]\nruntime = \"claude\"\nmodel = \"claude-sonnet-4-6\"\ncommand = \"claude --model {model} --permission-mode manual\"\n".to_string()
            }
        }
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
    /// `fleet explain NAME --json`.
    pub fn explain(&self, name: &str) -> Value {
        let run = self.fleet(&["explain", name, "--json"]).success();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("explain --json: {e}"))
    }

    /// Waits (bounded) until `fleet explain NAME` says the activity was
    /// decided by `source`.
    #[track_caller]
    pub fn decided_by(&self, name: &str, source: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.explain(name);
            last["decided_by"]["source"] == source
        });
        assert!(ok, "{name}'s activity never decided by {source}: {last:#}");
        last
    }

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
    // `sleep` is in front, not a program named `sh`: fleet says so. What
    // matters here is what is left behind.
    .failure(1);
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
