//! Bad input: a clear one-line error, a non-zero exit, nothing started.

use crate::common::TestEnv;

#[test]
fn bad_agent_names_are_refused_before_tmux_is_touched() {
    let env = TestEnv::new();
    for name in [
        "A;b",
        "Upper",
        "_under",
        "has space",
        "a:b",
        "a.b",
        "",
        &"x".repeat(64),
    ] {
        for command in [
            &["start", name][..],
            &["stop", name],
            &["restart", name],
            &["up", name],
        ] {
            env.fleet(command)
                .failure(2)
                .one_line_error("use lowercase letters, digits, '-' and '_'");
        }
    }
    assert!(!env.server_running());
    assert!(!env.socket_path().exists());
}

#[test]
fn a_missing_workdir_starts_nothing() {
    let env = TestEnv::new();
    env.fleet(&[
        "start",
        "w",
        "--runtime",
        "stub",
        "--workdir",
        "/no/such/dir",
    ])
    .failure(2)
    .one_line_error("workdir /no/such/dir does not exist: create it or pass --workdir");
    env.write_fleet(
        "[agents.good]\nruntime = \"stub\"\n\n[agents.bad]\nruntime = \"stub\"\nworkdir = \"/no/such/dir\"\n",
    );
    env.fleet(&["up"])
        .failure(2)
        .one_line_error("fleet.toml:6: agent bad: workdir /no/such/dir does not exist");
    assert!(
        !env.server_running(),
        "nothing may start when one agent is bad"
    );
}

#[test]
fn a_control_character_in_the_fleet_file_is_named_and_starts_nothing() {
    // A NUL used to reach tmux's argv: `could not run tmux: nul byte found
    // in provided data`, exit 1, naming nothing, and no agent of the batch
    // started.
    let env = TestEnv::new();
    for (key, value) in [
        ("effort", "\\u0000"),
        ("model", "m\\u001b]0;x\\u0007"),
        ("workdir", "/tmp\\u0000"),
        ("command", "fleet-stub\\u0000"),
    ] {
        env.write_fleet(&format!(
            "[agents.good]\nruntime = \"stub\"\n\n[agents.bad]\nruntime = \"stub\"\n{key} = \"{value}\"\n"
        ));
        let why = format!("fleet.toml:6: [agents.bad] {key} contains the control character U+00");
        for command in [&["up"][..], &["start", "good"]] {
            env.fleet(command).failure(2).one_line_error(&why);
        }
        env.fleet(&["ps"]).one_line_warning(&why);
    }
    assert!(!env.server_running(), "nothing may start");
}

#[test]
fn a_path_of_the_wrong_kind_says_what_it_is() {
    let env = TestEnv::new();
    let file = env.write_fleet("[agents.a]\nruntime = \"stub\"\n");
    let dir = env.work().to_string_lossy().into_owned();
    env.fleet(&["--file", &dir, "ps"])
        .failure(2)
        .one_line_error(&format!(
            "fleet file {dir} is a directory, not a fleet file: check the path given to --file"
        ));
    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{e}"));
    env.fleet_env(&["ps"], &[("FLEET_FILE", &dir)])
        .failure(2)
        .one_line_error(&format!(
            "FLEET_FILE={dir} is a directory, not a fleet file: fix or unset FLEET_FILE"
        ));
    let not_dir = env
        .script("not-a-dir", "true")
        .to_string_lossy()
        .into_owned();
    env.fleet(&["start", "w", "--runtime", "stub", "--workdir", &not_dir])
        .failure(2)
        .one_line_error(&format!(
            "agent w: workdir {not_dir} is not a directory: create it or pass --workdir"
        ));
    env.write_fleet(&format!(
        "[agents.good]\nruntime = \"stub\"\n\n[agents.bad]\nruntime = \"stub\"\nworkdir = \"{not_dir}\"\n"
    ));
    env.fleet(&["up"]).failure(2).one_line_error(&format!(
        "fleet.toml:6: agent bad: workdir {not_dir} is not a directory"
    ));
    assert!(!env.server_running(), "nothing may start");
}

#[test]
fn a_very_long_name_is_cut_in_its_error() {
    let env = TestEnv::new();
    let long = "A".repeat(10_000);
    let shown = format!("\"{}\"… (10000 characters)", "A".repeat(64));
    for args in [
        &["start", long.as_str()][..],
        &["stop", &long],
        &["--socket", &long, "ps"],
        &["start", "x", "--runtime", &long],
    ] {
        let run = env.fleet(args).failure(2).one_line_error(&shown);
        assert!(run.stderr.len() < 400, "{}", run.stderr);
    }
    env.write_fleet(&format!("[runtimes.{long}]\ncommand = \"x\"\n"));
    env.fleet(&["up"])
        .failure(2)
        .one_line_error(&format!("fleet.toml:1: runtime name {shown} is invalid"));
    assert!(!env.server_running());
}

#[test]
fn unknown_runtimes_and_unfillable_templates_are_refused() {
    let env = TestEnv::new();
    env.fleet(&["start", "x", "--runtime", "gemini"])
        .failure(2)
        .one_line_error("unknown runtime \"gemini\"");
    env.fleet(&["start", "x", "--runtime", "pi"])
        .failure(2)
        .one_line_error("runtime \"pi\" needs a model: pass --model M");
    env.write_fleet("[runtimes.mine]\ncommand = \"mine --level {levle}\"\n");
    env.fleet(&["start", "x", "--runtime", "mine"])
        .failure(2)
        .one_line_error("fleet.toml:2: [runtimes.mine] command uses {levle}, which is not a field");
    assert!(!env.server_running());
}

#[test]
fn a_broken_fleet_file_starts_nothing() {
    let env = TestEnv::new();
    env.write_fleet("[agents.ok]\nruntime = \"stub\"\n\n[agents.scout]\nruntime = \"stub\"\nprocsses = [\"x\"]\n");
    let why = "fleet.toml:6: unknown key \"procsses\" in [agents.scout]";
    for command in [&["up"][..], &["start", "ok"], &["down"]] {
        env.fleet(command).failure(2).one_line_error(why);
    }
    // What runs can still be seen, with the file's fault said.
    env.fleet(&["ps"]).one_line_warning(why);
    assert!(!env.server_running());
}

#[test]
fn up_needs_a_fleet_file_and_declared_names() {
    let env = TestEnv::new();
    env.fleet(&["up"])
        .failure(2)
        .one_line_error("no fleet.toml here or in any parent directory");
    env.fleet(&["up", "--file", "/no/fleet.toml"])
        .failure(2)
        .one_line_error("fleet file /no/fleet.toml does not exist");
    env.write_fleet("[agents.known]\nruntime = \"stub\"\n");
    env.fleet(&["up", "unknown"])
        .failure(2)
        .one_line_error("agent unknown is not declared");
    env.fleet(&["down", "unknown"])
        .failure(2)
        .one_line_error("no agent named unknown");
    assert!(!env.server_running());
}

#[test]
fn a_bad_socket_name_is_refused() {
    let env = TestEnv::new();
    env.fleet(&["--socket", "../evil", "ps"])
        .failure(2)
        .one_line_error("socket name \"../evil\" is invalid");
}

#[test]
fn tmux_missing_from_path_is_named_with_the_fix() {
    let mut env = TestEnv::new();
    env.path = env.bin().to_string_lossy().into_owned();
    env.fleet(&["ps"])
        .failure(1)
        .one_line_error("tmux was not found on PATH: install it (apt-get install tmux)");
    env.fleet(&["start", "x", "--runtime", "stub"])
        .failure(1)
        .one_line_error("tmux was not found on PATH");
}

#[test]
fn a_session_the_fleet_did_not_start_is_never_taken_over() {
    let env = TestEnv::new();
    env.tmux(&["new-session", "-d", "-s", "taken", "sleep 300"]);
    let pid = env.tmux_out(&["display", "-p", "-t", "=taken:", "#{pane_pid}"]);
    env.fleet(&["start", "taken", "--runtime", "stub"])
        .failure(1);
    env.fleet(&["stop", "taken"])
        .failure(1)
        .one_line_error("was not started by fleet");
    env.fleet(&["restart", "taken"])
        .failure(1)
        .one_line_error("was not started by fleet");
    assert_eq!(
        env.tmux_out(&["display", "-p", "-t", "=taken:", "#{pane_pid}"]),
        pid
    );
}

#[test]
fn a_model_outside_its_allowed_runtime_is_not_launched() {
    let env = TestEnv::new();
    env.write_fleet(
        "[agents.fine]\nruntime = \"stub\"\n\n[agents.rogue]\nruntime = \"stub\"\nmodel = \"anthropic/claude-opus-4\"\n",
    );
    env.fleet(&["up"]).failure(2).one_line_error(
        "fleet.toml:4: agent rogue: model anthropic/claude-opus-4 runs in runtime stub, but anthropic/* models may only run in claude: run it with runtime = \"claude\"",
    );
    env.fleet(&[
        "start",
        "adhoc",
        "--runtime",
        "stub",
        "--model",
        "anthropic/claude-x",
    ])
    .failure(2)
    .one_line_error("may only run in claude");
    assert!(!env.server_running(), "nothing may start");
}

#[test]
fn a_state_directory_that_is_not_utf8_is_refused_by_name() {
    // A relative FLEET_HOME under such a directory put transcripts at a
    // lossy path (U+FFFD for the byte) that `fleet logs` could not find.
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let odd = env.root().join(std::ffi::OsStr::from_bytes(b"h\xff"));
    std::fs::create_dir(&odd).unwrap_or_else(|e| panic!("{e}"));
    let workdir = env.work().to_string_lossy().into_owned();
    let start = ["start", "y", "--runtime", "stub", "--workdir", &workdir];
    let run = |home: &std::ffi::OsStr| {
        let out = env
            .command(&start)
            .current_dir(&odd)
            .env("FLEET_HOME", home)
            .output()
            .unwrap_or_else(|e| panic!("run fleet: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    let relative = run(std::ffi::OsStr::new("st"));
    assert!(
        relative.contains("is not valid UTF-8: set FLEET_HOME to an absolute path that is"),
        "{relative}"
    );
    let absolute = run(odd.as_os_str());
    assert!(
        absolute.contains("FLEET_HOME is not valid UTF-8: fix or unset it"),
        "{absolute}"
    );
    assert!(!odd.join("st").exists(), "nothing may be written");
    assert!(!env.server_running(), "nothing may start");
}

#[test]
fn a_report_by_hand_needs_a_running_agent_of_fleets() {
    let env = TestEnv::new();
    env.fleet(&["report", "nobody", "idle"])
        .failure(2)
        .one_line_error("nobody");
    env.fleet(&["start", "gone", "--runtime", "stub"]).success();
    env.wait_screen("gone", "type: work");
    env.type_line("gone", "exit 3");
    env.wait_exit("gone");
    env.fleet(&["report", "gone", "working"])
        .failure(1)
        .one_line_error("agent gone has exited: a report is for a running agent");
    assert_eq!(env.row("gone")["status"], "exited");
}
