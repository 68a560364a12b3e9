//! Private by default: what fleet keeps under FLEET_HOME is the user's
//! alone whatever the umask, nothing there is reached through a link or
//! belongs to someone else, and no wait is silent or unbounded.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestEnv, wait_until};

/// Every path under `dir`, with its mode, without following links.
fn modes(dir: &Path) -> Vec<(String, u32, bool)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            continue;
        };
        out.push((at.display().to_string(), meta.mode() & 0o777, meta.is_dir()));
        if meta.is_dir() {
            for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
                todo.push(entry.path());
            }
        }
    }
    out
}

/// A `fleet` run under `umask 000`.
fn fleet_umask0(env: &TestEnv, args: &str) -> std::process::Output {
    let fleet = crate::common::FLEET;
    let mut cmd = env.command(&[]);
    cmd.env_remove("__unused");
    let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_os_string(), v?.to_os_string())))
        .collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000; exec {fleet} {args}"))
        .env_clear()
        .envs(vars)
        .current_dir(env.work())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn everything_under_fleet_home_is_private_whatever_the_umask() {
    let env = TestEnv::new();
    let state = env.root().join("state");
    for args in [
        "start a --runtime stub",
        "report a idle",
        "send a hello",
        "ps",
    ] {
        let out = fleet_umask0(&env, args);
        assert!(out.status.success(), "{args}: {out:?}");
    }
    // While a watcher holds the event store open, its -wal and -shm exist.
    let _watch = env.spawn(&["watch"], &[]);
    assert!(wait_until(Duration::from_secs(5), || state
        .join("events.sqlite-wal")
        .exists()));
    let mut all = modes(&state);
    all.retain(|(p, _, _)| !p.ends_with(".tmp"));
    for (path, mode, is_dir) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}: {all:#?}");
    }
    for name in [
        "events.sqlite",
        "events.sqlite-wal",
        "events.sqlite-shm",
        "locks",
    ] {
        assert!(
            all.iter().any(|(p, _, _)| p.ends_with(name)),
            "{name} missing"
        );
    }
}

#[test]
fn a_loose_fleet_home_is_tightened_and_another_user_reads_nothing() {
    let env = TestEnv::new();
    let state = env.root().join("state");
    // Reachable by others all the way down, as a home directory may be.
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(state.join("logs")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(state.join("events.sqlite"), b"").unwrap_or_else(|e| panic!("{e}"));
    for (path, mode) in [(&state, 0o777), (&state.join("logs"), 0o777)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::set_permissions(
        state.join("events.sqlite"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    env.fleet(&["start", "a", "--runtime", "stub"]).success();
    env.fleet(&["send", "a", "export OPENAI_API_KEY=sk-live-secret"])
        .success();
    for (path, mode, _) in modes(&state) {
        assert_eq!(mode & 0o077, 0, "{path} is {mode:o}");
    }
    // Another local user gets nothing: not the transcript, not history.
    let transcript = state.join("logs").join(&env.socket).join("a.log");
    assert!(transcript.exists());
    for target in [transcript.as_path(), &state.join("events.sqlite"), &state] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
            .arg(target)
            .output()
            .unwrap_or_else(|e| panic!("setpriv (util-linux) is needed: {e}"));
        assert!(
            !out.status.success(),
            "another user read {}",
            target.display()
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-live"));
    }
}

#[test]
fn links_planted_in_fleet_home_are_never_followed() {
    let env = TestEnv::new();
    let logs = env.root().join("state/logs").join(&env.socket);
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    let victim = env.root().join("victim");
    std::fs::write(&victim, "precious\n").unwrap_or_else(|e| panic!("{e}"));
    let secret = env.root().join("shadow");
    std::fs::write(&secret, "root:$6$hash\n").unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&victim, logs.join("a.log")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&secret, logs.join("b.log.1")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(logs.join("b.log"), "").unwrap_or_else(|e| panic!("{e}"));

    // Its transcript would go through a link: the launch is refused,
    // saying so, and nothing runs to write anywhere.
    env.fleet(&["start", "a", "--runtime", "stub"])
        .failure(1)
        .one_line_error("a.log is a symbolic link");
    assert!(!env.server_running());
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap_or_default(),
        "precious\n"
    );
    // A state directory planted as a link is not written through.
    let elsewhere = env.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(env.root().join("state/state"));
    std::os::unix::fs::symlink(&elsewhere, env.root().join("state/state"))
        .unwrap_or_else(|e| panic!("{e}"));
    env.fleet(&["start", "c", "--runtime", "stub"]).success();
    env.fleet(&["ps"]);
    let written = std::fs::read_dir(&elsewhere)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "state was written through a link");
    // And `logs` does not print through a link.
    let run = env.fleet(&["logs", "b"]);
    assert!(!run.stdout.contains("$6$"), "{run:#?}");
    run.one_line_error("symbolic link");
}

#[test]
fn a_fleet_home_of_another_user_is_refused_with_the_fix() {
    let env = TestEnv::new();
    let theirs = env.root().join("theirs");
    std::fs::create_dir(&theirs).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))
        .unwrap_or_else(|e| panic!("chown needs root: {e}"));
    let theirs = theirs.display().to_string();
    env.fleet_env(
        &["start", "a", "--runtime", "stub"],
        &[("FLEET_HOME", theirs.as_str())],
    )
    .failure(1)
    .one_line_error("set FLEET_HOME to a directory of your own");
    assert!(!env.server_running(), "something was started");
}

#[test]
fn waiting_for_the_lock_says_who_holds_it_and_gives_up() {
    let env = TestEnv::new();
    env.fleet(&["start", "a", "--runtime", "stub"]).success();
    let lock = env
        .root()
        .join("state/locks")
        .join(format!("{}.lock", env.socket));
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap_or_else(|e| panic!("flock (util-linux) is needed: {e}"));
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string("/proc/locks")
            .is_ok_and(|l| l.contains(&format!(" {} ", holder.id())))
    }));
    let started = Instant::now();
    let run = env.fleet(&["--wait", "2s", "stop", "a"]);
    let took = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    let pid = format!("pid {}", holder.id());
    assert!(lines[0].contains("waiting for the fleet lock") && lines[0].contains(&pid));
    assert!(lines[0].contains("sleep 30"), "{}", lines[0]);
    assert!(lines[1].contains("gave up waiting") && lines[1].contains(&pid));
    // Nothing was done: the agent still runs.
    env.wait_status("a", "running");
    env.fleet(&["--wait", "nonsense", "stop", "a"])
        .failure(2)
        .one_line_error("--wait nonsense");
}

#[test]
fn a_stopped_tmux_server_is_named_not_waited_on_forever() {
    let env = TestEnv::new();
    env.fleet(&["start", "a", "--runtime", "stub"]).success();
    let pid = env.tmux_out(&["display", "-p", "#{pid}"]);
    let pid = pid.trim().to_string();
    let signal = |sig: &str| {
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(signal("-STOP"));
    let started = Instant::now();
    let run = env.fleet_env(&["ps"], &[("FLEET_TMUX_TIMEOUT", "1")]);
    let took = started.elapsed();
    assert!(signal("-CONT"));
    run.failure(1).one_line_error(&format!(
        "socket \"{}\" did not answer within 1s",
        env.socket
    ));
    assert!(took < Duration::from_secs(4), "took {took:?}");
    env.fleet(&["ps"]).success();
}

#[test]
fn a_fleet_home_link_another_user_made_is_refused() {
    let env = TestEnv::new();
    let target = env.root().join("mine");
    std::fs::create_dir(&target).unwrap_or_else(|e| panic!("{e}"));
    let link = env.root().join("their-link");
    std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534))
        .unwrap_or_else(|e| panic!("lchown needs root: {e}"));
    let link = link.display().to_string();
    env.fleet_env(
        &["start", "a", "--runtime", "stub"],
        &[("FLEET_HOME", link.as_str())],
    )
    .failure(1)
    .one_line_error("set FLEET_HOME to a directory of your own");
    assert_eq!(
        std::fs::read_dir(&target).map(|d| d.count()).unwrap_or(9),
        0
    );
    // Flags refuse what the fleet file refuses.
    env.fleet(&["start", "b", "--runtime", "stub", "--model", "m\u{9b}x"])
        .failure(2)
        .one_line_error("--model contains the control character U+009B");
}
