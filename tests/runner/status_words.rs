//! Every status word `fleet ps` can say, and how the table looks.

use std::time::Duration;

use crate::common::{FLEET, TestEnv, wait_until};

const FLEET_FILE: &str = r#"
[agents.worker]
runtime = "stub"

[agents.sleeper]
runtime = "stub"

[agents.shell]
runtime = "shell"
"#;

#[test]
fn running_missing_and_unmanaged() {
    let env = TestEnv::new();
    env.write_fleet(FLEET_FILE);
    env.fleet(&["up", "worker"]).success();
    env.tmux(&["new-session", "-d", "-s", "hand-made", "sleep 300"]);
    env.wait_status("worker", "running");
    let rows = env.ps();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["hand-made", "shell", "sleeper", "worker"]);
    let by = |n: &str| {
        rows.iter()
            .find(|r| r["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("sleeper")["status"], "missing");
    assert_eq!(by("sleeper")["runtime"], "stub");
    assert_eq!(by("hand-made")["status"], "unmanaged");
    assert_eq!(by("hand-made")["pane_command"], "sleep");
    assert_eq!(by("worker")["declared"], true);
    for row in &rows {
        for key in [
            "name",
            "host",
            "runtime",
            "model",
            "effort",
            "status",
            "exit_code",
            "activity",
            "pane_command",
            "started_at",
            "restarts",
        ] {
            assert!(row.get(key).is_some(), "{key} missing from {row}");
        }
    }
}

#[test]
fn drift_begins_when_something_else_is_in_front_and_ends_when_it_leaves() {
    let env = TestEnv::new();
    env.write_fleet(FLEET_FILE);
    env.fleet(&["up", "shell"]).success();
    env.wait_status("shell", "running");
    env.type_line("shell", "sleep 300");
    let row = env.wait_status("shell", "drift");
    assert_eq!(row["pane_command"], "sleep");
    let up = env.fleet(&["up", "shell"]).success();
    assert!(
        up.stdout.contains("drift: \"sleep\" is in front"),
        "{}",
        up.stdout
    );
    env.tmux(&["send-keys", "-t", "=shell:", "C-c"]);
    env.wait_status("shell", "running");
}

#[test]
fn the_table_is_aligned_and_plain_off_a_terminal() {
    let env = TestEnv::new();
    env.write_fleet(FLEET_FILE);
    env.fleet(&["up", "worker"]).success();
    env.wait_status("worker", "running");
    let table = env.fleet(&["ps"]).success().stdout;
    assert!(!table.contains('\x1b'), "{table:?}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    let status_col = lines[0].find("STATUS").unwrap_or(0);
    for line in &lines[1..] {
        let word = &line[status_col..];
        assert!(
            ["running", "missing"].iter().any(|w| word.starts_with(w)),
            "misaligned: {table}"
        );
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_under_no_color() {
    let env = TestEnv::new();
    env.fleet(&["start", "tinted", "--runtime", "stub"])
        .success();
    env.wait_status("tinted", "running");
    // Run `fleet ps` on a real terminal: a pane of the test's own server.
    let run_in_pane = |extra: &str| {
        let script = format!(
            "env -i HOME={home} PATH=/usr/bin:/bin TMUX_TMPDIR={tmp} FLEET_HOME={state} MOSAIC_TMUX_SOCKET={sock} {extra} {FLEET} ps; sleep 300",
            home = env.home().display(),
            tmp = env.root().join("tmux").display(),
            state = env.root().join("state").display(),
            sock = env.socket,
        );
        env.tmux(&["kill-session", "-t", "=viewer"]);
        env.tmux(&["new-session", "-d", "-s", "viewer", "-x", "200", &script]);
        let mut screen = String::new();
        let seen = wait_until(Duration::from_secs(10), || {
            screen = env.tmux_out(&["capture-pane", "-p", "-e", "-t", "=viewer:"]);
            screen.contains("tinted")
        });
        assert!(seen, "{screen}");
        screen
    };
    assert!(run_in_pane("").contains("\x1b[32mrunning"));
    let plain = run_in_pane("NO_COLOR=1");
    assert!(
        plain.contains("running") && !plain.contains("\x1b[32m"),
        "{plain:?}"
    );
}

#[test]
fn an_empty_fleet_says_what_to_do() {
    let env = TestEnv::new();
    let run = env.fleet(&["ps"]).success();
    assert!(run.stdout.contains("no agents"), "{}", run.stdout);
    assert_eq!(env.ps().len(), 0);
    assert!(!env.server_running(), "ps must not start a tmux server");
}

#[test]
fn ps_output_into_a_closed_pipe_is_not_an_error() {
    let env = TestEnv::new();
    for i in 0..3 {
        env.fleet(&["start", &format!("p{i}"), "--runtime", "stub"])
            .success();
    }
    let mut child = env
        .command(&["ps"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
