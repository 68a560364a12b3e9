//! `fleet init`: boot survival through a systemd user unit. This machine
//! has no systemd as PID 1, so `systemctl` and `loginctl` are shims on PATH
//! that record their argv and answer as systemd would, from files (the
//! enablement symlink, a copy of the unit as last loaded, a linger flag);
//! the unit itself is checked by the real `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{FLEET, TestEnv};

const UNIT: &str = "mosaic-fleet.service";

/// A test environment with systemd shims, `USER=op`, and its own
/// `XDG_CONFIG_HOME` so nothing touches the real `~/.config`.
struct Init {
    env: TestEnv,
}

impl Init {
    fn new() -> Self {
        let mut env = TestEnv::new();
        let state = env.root().join("systemd");
        std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("{e}"));
        let config = env.root().join("config");
        let wants = config.join("systemd/user/default.target.wants");
        let unit_dir = config.join("systemd/user");
        let s = state.display();
        let unit = format!("{}/{UNIT}", unit_dir.display());
        env.script(
            "systemctl",
            &format!(
                r#"echo "systemctl $*" >> {s}/calls
args=""
for a in "$@"; do
  case "$a" in --user|--no-ask-password) ;; *) args="$args $a" ;; esac
done
if [ -e {s}/down ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi
case "$args" in
  " show --property=Version --value") echo 252 ;;
  " is-enabled {UNIT}")
    if [ -L {wants}/{UNIT} ]; then echo enabled
    elif [ -e {unit} ]; then echo disabled; exit 1
    else echo "Failed to get unit file state for {UNIT}: No such file or directory" >&2; exit 1; fi ;;
  " is-active {UNIT}")
    if [ -e {s}/active ]; then echo active; else echo inactive; exit 3; fi ;;
  " show --property=NeedDaemonReload --value {UNIT}")
    if [ -e {unit} ] && ! cmp -s {unit} {s}/loaded; then echo yes
    elif [ ! -e {unit} ] && [ -e {s}/loaded ]; then echo yes
    else echo no; fi ;;
  " daemon-reload")
    if [ -e {unit} ]; then cp {unit} {s}/loaded; else rm -f {s}/loaded; fi ;;
  " enable --now {UNIT}")
    [ -e {unit} ] || {{ echo "Failed to enable unit: Unit file {UNIT} does not exist." >&2; exit 1; }}
    mkdir -p {wants} && ln -sf ../{UNIT} {wants}/{UNIT} && touch {s}/active ;;
  " disable --now {UNIT}") rm -f {wants}/{UNIT} {s}/active ;;
  " restart {UNIT}") touch {s}/active ;;
  *) echo "shim: unexpected systemctl$args" >&2; exit 64 ;;
esac"#,
                wants = wants.display(),
            ),
        );
        env.script(
            "loginctl",
            &format!(
                r#"echo "loginctl $*" >> {s}/calls
case "$*" in
  "show-user op --property=Linger --value")
    if [ -e {s}/linger ]; then echo yes; else echo no; fi ;;
  "--no-ask-password enable-linger op") touch {s}/linger ;;
  "--no-ask-password disable-linger op") rm -f {s}/linger ;;
  *) echo "shim: unexpected loginctl $*" >&2; exit 64 ;;
esac"#
            ),
        );
        env.path = format!("{}:/usr/bin:/bin", env.bin().display());
        env.set("USER", "op");
        env.set("XDG_CONFIG_HOME", &config.to_string_lossy());
        env.write_fleet("[agents.a]\nruntime = \"stub\"\n");
        Self { env }
    }

    fn state(&self, name: &str) -> PathBuf {
        self.env.root().join("systemd").join(name)
    }

    fn unit_path(&self) -> PathBuf {
        self.env.root().join("config/systemd/user").join(UNIT)
    }

    fn wants(&self) -> PathBuf {
        self.env
            .root()
            .join("config/systemd/user/default.target.wants")
            .join(UNIT)
    }

    /// The shims' calls since last asked, one command line each.
    fn calls(&self) -> Vec<String> {
        let path = self.state("calls");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines().map(String::from).collect()
    }

    /// The calls that change something (every one but the questions).
    fn changes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| {
                ![" show ", " show-user ", " is-enabled ", " is-active "]
                    .iter()
                    .any(|q| c.contains(q))
            })
            .collect()
    }

    fn unit(&self) -> String {
        std::fs::read_to_string(self.unit_path()).unwrap_or_else(|e| panic!("no unit: {e}"))
    }

    fn host_checks(&self) -> (i32, Vec<Value>) {
        let run = self.env.fleet(&["verify", "--json"]);
        let checks: Vec<Value> = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("verify --json: {e}\n{run:#?}"));
        let host = checks
            .into_iter()
            .filter(|c| c["agent"].is_null())
            .collect();
        (run.code, host)
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn init_installs_the_supervisor_unit_and_a_second_run_changes_nothing() {
    let mut t = Init::new();
    let runtime_bin = t.env.root().join("runtimes");
    std::fs::create_dir_all(&runtime_bin).unwrap_or_else(|e| panic!("{e}"));
    t.env
        .set("MOSAIC_RUNTIME_BIN", &runtime_bin.to_string_lossy());

    // Before init: boot survival is a warning, not a failure, so a fleet
    // with nothing wrong passes.
    let fleet_file = t.env.write_fleet("");
    let (code, host) = t.host_checks();
    assert_eq!(code, 0, "{host:#?}");
    assert_eq!(host.len(), 3, "{host:#?}");
    for check in &host {
        assert_eq!(check["level"], "warn", "{check:#}");
        assert_eq!(check["ok"], true, "{check:#}");
        assert_eq!(check["fix"], "fleet init", "{check:#}");
    }
    let table = t.env.fleet(&["verify"]).success().stdout;
    assert!(table.contains("warn "), "{table}");
    t.calls();

    let run = t.env.fleet(&["init"]).success();
    let steps: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(steps.len(), 5, "{}", run.stdout);
    for (line, step) in steps.iter().zip([
        "unit file",
        "daemon-reload",
        "enabled and running",
        "linger",
    ]) {
        assert!(
            line.starts_with("changed") && line.contains(step),
            "{step}: {}",
            run.stdout
        );
    }
    assert_eq!(
        t.changes(),
        [
            "systemctl --user --no-ask-password daemon-reload".to_string(),
            format!("systemctl --user --no-ask-password enable --now {UNIT}"),
            "loginctl --no-ask-password enable-linger op".to_string(),
        ]
    );

    // The unit: this fleet, by absolute paths, with what the agents need.
    let unit = t.unit();
    let fleet_file = std::fs::canonicalize(&fleet_file).unwrap_or_else(|e| panic!("{e}"));
    let exe = std::fs::canonicalize(FLEET).unwrap_or_else(|e| panic!("{e}"));
    let has = |line: &str| {
        assert!(
            unit.lines().any(|l| l == line),
            "no line {line:?} in:\n{unit}"
        )
    };
    has(&format!(
        "ExecStart={} --file {} --socket {} supervise",
        exe.display(),
        fleet_file.display(),
        t.env.socket
    ));
    has(&format!(
        "Environment=\"FLEET_HOME={}\"",
        t.env.root().join("state").display()
    ));
    has(&format!("Environment=\"HOME={}\"", t.env.home().display()));
    has(&format!(
        "Environment=\"MOSAIC_RUNTIME_BIN={}\"",
        runtime_bin.display()
    ));
    has(&format!(
        "Environment=\"TMUX_TMPDIR={}\"",
        t.env.root().join("tmux").display()
    ));
    // The runtime-bin prefix comes first on PATH (MOSAIC_RUNTIME_BIN, then
    // npm's prefix if npm is here), the launcher's PATH after.
    let path: Vec<&str> = unit
        .lines()
        .find_map(|l| l.strip_prefix("Environment=\"PATH="))
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no PATH in:\n{unit}"))
        .split(':')
        .collect();
    assert_eq!(path[0], runtime_bin.to_string_lossy(), "{path:?}");
    let bin = t.env.bin().to_string_lossy().into_owned();
    assert!(path.contains(&bin.as_str()), "{path:?}");
    assert!(path.ends_with(&["/bin", "/usr/local/bin"]), "{path:?}");
    has("KillMode=process");
    has("Restart=on-failure");
    has("WantedBy=default.target");
    assert_eq!(mode(&t.unit_path()), 0o644);
    // The record that init turned linger on is fleet's own: private.
    assert_eq!(mode(&t.env.root().join("state/boot.json")), 0o600);

    // After init the host checks are green.
    let (code, host) = t.host_checks();
    assert_eq!(code, 0, "{host:#?}");
    assert!(host.iter().all(|c| c["level"] == "ok"), "{host:#?}");

    // Idempotent: a second run only asks, and says so.
    let again = t.env.fleet(&["init"]).success();
    assert!(
        again.stdout.lines().take(4).all(|l| l.starts_with("ok ")),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .contains("nothing changed: this host was set up already"),
        "{}",
        again.stdout
    );
    assert_eq!(t.changes(), Vec::<String>::new());

    // A unit that changed (here: another runtime-bin) is rewritten, and a
    // running supervisor restarted to run it; agents are not touched.
    t.env.set("MOSAIC_RUNTIME_BIN", "/usr/local/bin");
    let changed = t.env.fleet(&["init"]).success();
    assert!(
        changed.stdout.contains("rewrite ") && changed.stdout.contains("agents keep running"),
        "{}",
        changed.stdout
    );
    assert_eq!(
        t.changes(),
        [
            "systemctl --user --no-ask-password daemon-reload".to_string(),
            format!("systemctl --user --no-ask-password restart {UNIT}"),
        ]
    );
}

#[test]
fn the_written_unit_passes_systemd_analyze_verify() {
    let t = Init::new();
    t.env.fleet(&["init"]).success();
    let runtime_dir = t.env.root().join("xdg-runtime");
    std::fs::create_dir_all(&runtime_dir).unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
        .unwrap_or_else(|e| panic!("{e}"));
    // Never skipped: without systemd-analyze this test fails.
    let output = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(t.unit_path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", t.env.home())
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("XDG_CONFIG_HOME", t.env.root().join("config"))
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze could not run ({e}): install systemd (apt-get install systemd)")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}\n{}",
        output.status,
        t.unit()
    );
}

#[test]
fn a_dry_run_prints_the_plan_and_the_unit_and_changes_nothing() {
    let t = Init::new();
    let run = t.env.fleet(&["init", "--dry-run"]).success();
    assert!(
        run.stdout.starts_with("would change  unit file"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("dry run: nothing was changed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\n# Written by `fleet init` (mosaic-fleet).\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("KillMode=process"), "{}", run.stdout);
    assert!(!t.unit_path().exists());
    assert!(!t.env.root().join("state/boot.json").exists());
    assert_eq!(t.changes(), Vec::<String>::new());

    // The unit it shows is the unit init writes.
    t.env.fleet(&["init"]).success();
    let shown = run
        .stdout
        .split_once("(as fleet init writes it)\n")
        .map(|(_, unit)| unit.to_string())
        .unwrap_or_default();
    assert_eq!(shown, t.unit());
    t.calls();
    let calm = t.env.fleet(&["init", "--dry-run"]).success();
    assert!(
        calm.stdout.contains("dry run: nothing to change"),
        "{}",
        calm.stdout
    );
    assert_eq!(t.changes(), Vec::<String>::new());
}

#[test]
fn uninstall_removes_what_init_added_and_nothing_else() {
    let t = Init::new();
    // Linger was on before fleet: it stays on.
    std::fs::write(t.state("linger"), "").unwrap_or_else(|e| panic!("{e}"));
    let other = t.env.root().join("config/systemd/user/other.service");
    std::fs::create_dir_all(other.parent().unwrap_or(Path::new("/")))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&other, "[Service]\nExecStart=/bin/true\n").unwrap_or_else(|e| panic!("{e}"));
    let run = t.env.fleet(&["init"]).success();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("ok ") && l.contains(" linger is on for op")),
        "{}",
        run.stdout
    );
    assert!(t.wants().exists());
    t.calls();

    let dry = t.env.fleet(&["init", "--uninstall", "--dry-run"]).success();
    assert!(dry.stdout.contains("would change"), "{}", dry.stdout);
    assert!(t.unit_path().exists());
    assert_eq!(t.changes(), Vec::<String>::new());

    let gone = t.env.fleet(&["init", "--uninstall"]).success();
    assert!(
        gone.stdout
            .contains("linger stays on for op: fleet init did not turn it on"),
        "{}",
        gone.stdout
    );
    assert_eq!(
        t.changes(),
        [
            format!("systemctl --user --no-ask-password disable --now {UNIT}"),
            "systemctl --user --no-ask-password daemon-reload".to_string(),
        ]
    );
    assert!(!t.unit_path().exists());
    assert!(!t.wants().exists());
    assert!(other.exists(), "another unit is not init's to remove");
    assert!(t.state("linger").exists());

    let twice = t.env.fleet(&["init", "--uninstall"]).success();
    assert!(
        twice.stdout.contains("nothing to remove"),
        "{}",
        twice.stdout
    );
    assert_eq!(t.changes(), Vec::<String>::new());

    // Linger that init turned on, uninstall turns off.
    t.env.fleet(&["init"]).success();
    std::fs::remove_file(t.state("linger")).unwrap_or_else(|e| panic!("{e}"));
    t.env.fleet(&["init"]).success();
    assert!(t.state("linger").exists());
    t.calls();
    t.env.fleet(&["init", "--uninstall"]).success();
    assert!(
        t.changes()
            .contains(&"loginctl --no-ask-password disable-linger op".to_string())
    );
    assert!(!t.state("linger").exists());
    assert!(!t.env.root().join("state/boot.json").exists());
}

#[test]
fn init_leaves_a_unit_it_did_not_write_alone() {
    let t = Init::new();
    let foreign = "[Service]\nExecStart=/usr/bin/true\n";
    std::fs::create_dir_all(t.unit_path().parent().unwrap_or(Path::new("/")))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(t.unit_path(), foreign).unwrap_or_else(|e| panic!("{e}"));
    let run = t.env.fleet(&["init"]).failure(1);
    assert!(
        run.stdout.contains("was not written by fleet init"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("fix: move it aside"), "{run:#?}");
    t.env.fleet(&["init", "--uninstall"]).failure(1);
    assert_eq!(t.unit(), foreign);
    assert_eq!(t.changes(), Vec::<String>::new());
}

#[test]
fn without_a_systemd_user_manager_init_says_so_and_installs_nothing() {
    let mut t = Init::new();
    std::fs::write(t.state("down"), "").unwrap_or_else(|e| panic!("{e}"));
    let run = t.env.fleet(&["init"]).failure(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].contains("no systemd user manager on this host (Failed to connect to bus")
            && lines[0].ends_with("nothing was installed"),
        "{run:#?}"
    );
    assert!(
        lines[1].contains("supervise` running under your own service manager"),
        "{run:#?}"
    );
    assert!(!t.unit_path().exists());
    assert_eq!(t.changes(), Vec::<String>::new());
    // A dry run still shows the unit.
    let dry = t.env.fleet(&["init", "--dry-run"]).success();
    assert!(dry.stdout.contains("ExecStart="), "{dry:#?}");

    // No systemctl at all (macOS, a minimal container).
    let empty = t.env.root().join("no-systemd-bin");
    std::fs::create_dir_all(&empty).unwrap_or_else(|e| panic!("{e}"));
    t.env.path = empty.display().to_string();
    let run = t.env.fleet(&["init"]).failure(1);
    assert!(
        run.stderr.starts_with(
            "fleet: no systemd user manager on this host (systemctl is not installed)"
        ),
        "{run:#?}"
    );
    assert!(!t.unit_path().exists());
}

#[test]
fn init_needs_a_fleet_file() {
    let t = Init::new();
    std::fs::remove_file(t.env.work().join("fleet.toml")).unwrap_or_else(|e| panic!("{e}"));
    t.env
        .fleet(&["init"])
        .failure(2)
        .one_line_error("fleet init needs a fleet file");
    t.env.write_fleet("[agents.a]\nruntme = \"stub\"\n");
    t.env
        .fleet(&["init"])
        .failure(2)
        .one_line_error("fleet.toml:2: unknown key \"runtme\"");
    assert_eq!(t.calls(), Vec::<String>::new());
    assert!(!t.unit_path().exists());
}
