//! The pinned runtimes, installed once into a cache inside the clone
//! (`target/lab/runtimes`, beside the build) with the system's npm.
//!
//! A marker file names the pins that are installed; npm runs only when it
//! differs from [`PINS`]. A file lock keeps concurrent test processes from
//! installing at once, and a once-cell keeps one test process from asking
//! twice. An install that fails is a test failure that carries npm's own
//! words: the lab never skips.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What the lab runs, as npm ships it.
pub const PINS: &[(&str, &str)] = &[
    ("@mariozechner/pi-coding-agent", "0.73.1"),
    ("@openai/codex", "0.169.0"),
    ("@anthropic-ai/claude-code", "2.1.332"),
];

/// pi 0.73 needs node 20.6 or newer (its `engines`).
const NODE_AT_LEAST: (u32, u32) = (20, 6);

/// Each runtime's command, and what its `--version` says when it is the
/// pinned one (Claude Code's npm package is a native binary that its
/// postinstall puts in place).
const VERSIONS: &[(&str, &str)] = &[
    ("pi", "0.73.1"),
    ("codex", "codex-cli 0.169.0"),
    ("claude", "2.1.332 (Claude Code)"),
];

/// The installed runtimes.
pub struct Runtimes {
    dir: PathBuf,
}

impl Runtimes {
    /// Where `pi`, `codex` and `claude` are: the directory to hand fleet
    /// as `MOSAIC_RUNTIME_BIN`.
    pub fn bin(&self) -> PathBuf {
        self.dir.join("node_modules").join(".bin")
    }
}

/// The pinned runtimes, installed on first use by this test process.
#[track_caller]
pub fn runtimes() -> &'static Runtimes {
    static RUNTIMES: OnceLock<Result<Runtimes, String>> = OnceLock::new();
    match RUNTIMES.get_or_init(|| install(&cache_dir())) {
        Ok(runtimes) => runtimes,
        Err(e) => panic!("the real-runtime lab could not install its runtimes: {e}"),
    }
}

/// `target/lab`: integration tests are told `target/tmp`.
fn cache_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("lab")
}

fn pins_text() -> String {
    PINS.iter().map(|(p, v)| format!("{p}@{v}\n")).collect()
}

fn install(lab: &Path) -> Result<Runtimes, String> {
    let dir = lab.join("runtimes");
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let lock_path = lab.join("runtimes.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    let runtimes = Runtimes { dir };
    let marker = runtimes.dir.join(".fleet-lab-pins");
    let installed = fs::read_to_string(&marker).unwrap_or_default();
    let complete = VERSIONS
        .iter()
        .all(|(cmd, _)| runtimes.bin().join(cmd).exists());
    if installed == pins_text() && complete {
        return Ok(runtimes);
    }
    check_node()?;
    let _ = fs::remove_file(&marker);
    let specs: Vec<String> = PINS.iter().map(|(p, v)| format!("{p}@{v}")).collect();
    let out = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&runtimes.dir)
        .args(["--no-audit", "--no-fund"])
        .args(&specs)
        .output()
        .map_err(|e| format!("run npm: {e}: install node and npm (scripts/ensure-deps.sh)"))?;
    if !out.status.success() {
        return Err(format!(
            "npm install --prefix {} {} failed ({}):\n{}{}",
            runtimes.dir.display(),
            specs.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        ));
    }
    check_versions(&runtimes)?;
    fs::write(&marker, pins_text()).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(runtimes)
}

fn check_node() -> Result<(), String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("run node: {e}: install node and npm (scripts/ensure-deps.sh)"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if have < NODE_AT_LEAST {
        return Err(format!(
            "node {version} is too old: pi {} needs node {}.{} or newer",
            PINS[0].1, NODE_AT_LEAST.0, NODE_AT_LEAST.1
        ));
    }
    Ok(())
}

/// Each runtime answers `--version` with its pin, from a throwaway HOME
/// (they write their state there).
fn check_versions(runtimes: &Runtimes) -> Result<(), String> {
    let home = tempfile::Builder::new()
        .prefix("fleet-lab-version-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    for (cmd, want) in VERSIONS {
        let out = Command::new(runtimes.bin().join(cmd))
            .arg("--version")
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("PI_OFFLINE", "1")
            .output()
            .map_err(|e| format!("run {cmd} --version: {e}"))?;
        // pi says it on stderr.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !said.contains(want) {
            return Err(format!(
                "{cmd} --version said {:?}, not {want:?} ({})",
                said.trim(),
                out.status
            ));
        }
    }
    Ok(())
}
