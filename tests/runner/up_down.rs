//! `fleet up` and `fleet down` against a fleet file.

use std::process::Stdio;

use crate::common::TestEnv;

fn fleet_of(n: usize) -> String {
    let mut text = String::from("[defaults]\nruntime = \"stub\"\nmodel = \"stub/x\"\n");
    for i in 0..n {
        text.push_str(&format!("\n[agents.a{i:02}]\n"));
    }
    text
}

fn pids(env: &TestEnv) -> String {
    env.tmux_out(&["list-panes", "-a", "-F", "#{session_name} #{pane_pid}"])
}

#[test]
fn up_starts_what_is_missing_and_leaves_healthy_agents_alone() {
    let env = TestEnv::new();
    env.write_fleet(&fleet_of(3));
    let run = env.fleet(&["up"]).success();
    assert_eq!(run.stdout, "a00  started\na01  started\na02  started\n");
    for i in 0..3 {
        env.wait_status(&format!("a{i:02}"), "running");
    }
    let before = pids(&env);
    let run = env.fleet(&["up"]).success();
    assert_eq!(
        run.stdout,
        "a00  already running\na01  already running\na02  already running\n"
    );
    assert_eq!(pids(&env), before);

    env.fleet(&["stop", "a01"]).success();
    let run = env.fleet(&["up"]).success();
    assert!(run.stdout.contains("a01  started"), "{}", run.stdout);
    assert_eq!(run.stdout.matches("already running").count(), 2);
}

#[test]
fn up_and_down_take_names() {
    let env = TestEnv::new();
    env.write_fleet(&fleet_of(3));
    env.fleet(&["up", "a02"]).success();
    let rows = env.ps();
    let statuses: Vec<&str> = rows.iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["missing", "missing", "running"]);
    env.fleet(&["down", "a02"]).success();
    assert!(env.ps().iter().all(|r| r["status"] == "missing"));
}

#[test]
fn down_never_touches_sessions_the_fleet_did_not_start() {
    let env = TestEnv::new();
    env.write_fleet(&format!("{}\n[agents.mine]\n", fleet_of(2)));
    // A session of the user's own, with a declared agent's name, and another.
    env.tmux(&["new-session", "-d", "-s", "mine", "sleep 300"]);
    env.tmux(&["new-session", "-d", "-s", "notes", "sleep 300"]);
    let up = env.fleet(&["up"]).failure(1);
    assert!(up.stdout.contains("mine  left alone"), "{}", up.stdout);
    let run = env.fleet(&["down"]).success();
    assert!(run.stdout.contains("a00   stopped"), "{}", run.stdout);
    assert!(run.stdout.contains("mine  left alone"), "{}", run.stdout);
    let sessions = env.tmux_out(&["list-sessions", "-F", "#{session_name}"]);
    assert_eq!(sessions, "mine\nnotes\n");
    let row = env.row("notes");
    assert_eq!(row["status"], "unmanaged");
}

#[test]
fn two_ups_at_once_start_each_agent_once() {
    let env = TestEnv::new();
    env.write_fleet(&fleet_of(12));
    let spawn = || {
        env.command(&["up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [a, b].map(|c| c.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    let mut started = 0;
    for out in &outputs {
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        started += text.matches("  started").count();
        assert_eq!(text.lines().count(), 12, "{text}");
    }
    assert_eq!(started, 12, "{outputs:?}");
    let rows = env.ps();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r["restarts"] == 0), "{rows:#?}");
}

#[test]
fn agents_of_a_host_that_cannot_be_reached_are_said_so_and_the_rest_goes_on() {
    let mut env = TestEnv::new();
    env.set("FLEET_HOST_TIMEOUT", "2s");
    env.write_fleet(
        "[agents.here]\nruntime = \"stub\"\n\n[agents.there]\nruntime = \"stub\"\nhost = \"far\"\n\n[hosts.far]\nssh = \"op@far.invalid\"\n",
    );
    let run = env.fleet(&["up"]).failure(3);
    assert!(run.stdout.contains("here  started"), "{}", run.stdout);
    assert!(
        run.stderr.contains("host far is unreachable (down: ")
            && run.stderr.contains("up did not reach there"),
        "{}",
        run.stderr
    );
    let here: Vec<serde_json::Value> = serde_json::from_str(
        &env.fleet(&["ps", "--json", "--host", "localhost"])
            .success()
            .stdout,
    )
    .unwrap_or_default();
    let names: Vec<&str> = here.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["here"]);
    let all = env.fleet(&["ps", "--json"]).failure(3);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&all.stdout).unwrap_or_default();
    let there = rows
        .iter()
        .find(|r| r["name"] == "there")
        .cloned()
        .unwrap_or_default();
    assert_eq!(there["status"], "unreachable", "{rows:#?}");
    assert_eq!(there["host"], "far");
    env.fleet(&["stop", "there"])
        .failure(3)
        .one_line_error("host far is unreachable (down: ");
    let down = env.fleet(&["down"]).failure(3);
    assert!(down.stdout.contains("here  stopped"), "{down:#?}");
}

#[test]
fn restart_takes_the_fleet_file_as_it_is_now() {
    let env = TestEnv::new();
    env.write_fleet("[agents.w]\nruntime = \"stub\"\nmodel = \"first/model\"\n");
    env.fleet(&["up"]).success();
    env.wait_status("w", "running");
    env.write_fleet("[agents.w]\nruntime = \"stub\"\nmodel = \"second/model\"\n");
    env.fleet(&["restart", "w"]).success();
    let row = env.wait_status("w", "running");
    assert_eq!(row["model"], "second/model");
    env.wait_screen("w", "model: second/model");
}

/// A fleet past what one tmux invocation can carry (a command per pane of
/// 600 panes is about 16 KiB): `ps` reads every screen, `verify` every
/// pane's start command, in as many invocations as it takes.
#[test]
fn six_hundred_agents_are_listed_verified_and_brought_down() {
    const N: usize = 600;
    let env = TestEnv::new();
    let mut text = String::from(
        "[runtimes.idle]\ncommand = \"sleep 600\"\nprocesses = [\"sleep\"]\n\n[defaults]\nruntime = \"idle\"\n",
    );
    for i in 0..N {
        text.push_str(&format!("\n[agents.agent-{i:03}]\n"));
    }
    env.write_fleet(&text);
    let up = env
        .fleet_env(&["up"], &[("FLEET_START_GRACE", "0")])
        .success();
    assert_eq!(up.stdout.matches("  started").count(), N, "{}", up.stdout);
    // No screen read yet: this ps reads all 600.
    let rows = env.ps();
    assert_eq!(rows.len(), N);
    let running = rows.iter().filter(|r| r["status"] == "running").count();
    assert_eq!(running, N, "{rows:?}");
    let verify = env.fleet(&["verify"]).success();
    assert!(
        verify.stdout.contains("agent-599") && !verify.stdout.contains("FAIL"),
        "{}",
        verify.stdout
    );
    let down = env.fleet(&["down"]).success();
    assert_eq!(
        down.stdout.matches("  stopped").count(),
        N,
        "{}",
        down.stdout
    );
}
