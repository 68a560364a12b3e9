//! The launch guarantees of PRODUCT.md, one by one.

use std::time::Duration;

use crate::common::{STUB, TestEnv, wait_until};

#[test]
fn a_stub_agent_starts_and_its_runtime_is_in_front() {
    let env = TestEnv::new();
    let run = env
        .fleet(&[
            "start",
            "alpha",
            "--runtime",
            "stub",
            "--model",
            "m/one",
            "--effort",
            "max",
        ])
        .success();
    assert_eq!(run.stdout.trim(), "alpha  started");
    let row = env.wait_status("alpha", "running");
    assert_eq!(row["runtime"], "stub");
    assert_eq!(row["model"], "m/one");
    assert_eq!(row["effort"], "max");
    assert_eq!(row["pane_command"], "fleet-stub");
    assert_eq!(row["exit_code"], serde_json::Value::Null);
    env.wait_screen("alpha", "model: m/one \u{2022} effort: max");
}

#[test]
fn starting_a_running_agent_says_so_and_changes_nothing() {
    let env = TestEnv::new();
    env.fleet(&["start", "alpha", "--runtime", "stub"])
        .success();
    env.wait_status("alpha", "running");
    let pid = env.tmux_out(&["display", "-p", "-t", "=alpha:", "#{pane_pid}"]);
    let run = env
        .fleet(&["start", "alpha", "--runtime", "stub"])
        .success();
    assert!(run.stdout.contains("already running"), "{}", run.stdout);
    assert_eq!(
        env.tmux_out(&["display", "-p", "-t", "=alpha:", "#{pane_pid}"]),
        pid
    );
    assert_eq!(
        env.tmux_out(&["list-sessions", "-F", "#{session_name}"]),
        "alpha\n"
    );
}

#[test]
fn arguments_and_workdir_arrive_byte_for_byte() {
    let env = TestEnv::new();
    let workdir = env
        .work()
        .join("dir with 'quotes' \"dq\" $HOME `id` ; & | #{x}\nnewline;");
    std::fs::create_dir_all(&workdir).unwrap_or_else(|e| panic!("{e}"));
    let out = env.root().join("args.out");
    let recorder = env.script(
        "recorder",
        &format!(
            "printf '%s\\0' \"$@\" > '{out}.tmp'; pwd >> '{out}.tmp'; mv '{out}.tmp' '{out}'; sleep 300",
            out = out.display()
        ),
    );
    let awkward = [
        "two words",
        "'single'",
        "\"double\"",
        "$HOME",
        "`id`",
        "$(id)",
        "a;b",
        "ends;",
        ";",
        "\\;",
        "-x",
        "#{session_name}",
        "{model}",
        "line1\nline2",
        "",
        "*",
    ];
    let recorder = recorder.to_string_lossy().into_owned();
    let workdir_arg = workdir.to_string_lossy().into_owned();
    let mut args = vec!["start", "rec", "--workdir", &workdir_arg, "--", &recorder];
    args.extend(awkward);
    // The recorder is a shell script: `sh` is in front, not a process
    // named `recorder`, and fleet says so rather than `started`.
    let run = env.fleet(&args).failure(1);
    assert!(
        run.stdout.contains("not confirmed: \"sh\" is in front"),
        "{run:?}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || out.exists()),
        "the recorder never ran: {}",
        env.screen("rec")
    );
    let recorded = std::fs::read(&out).unwrap_or_default();
    let mut expected = Vec::new();
    for arg in awkward {
        expected.extend_from_slice(arg.as_bytes());
        expected.push(0);
    }
    expected.extend_from_slice(workdir.to_string_lossy().as_bytes());
    expected.push(b'\n');
    assert_eq!(
        String::from_utf8_lossy(&recorded),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn a_stripped_launcher_finds_the_runtime_through_mosaic_runtime_bin() {
    let env = TestEnv::new();
    let path_out = env.root().join("path.out");
    // The runtime exists only in bin/, which is on no PATH at all. It notes
    // the PATH it got and becomes the stub.
    env.script(
        "fleet-stub",
        &format!(
            "echo \"$PATH\" > '{}'; exec '{STUB}' \"$@\"",
            path_out.display()
        ),
    );
    let bin = env.bin().to_string_lossy().into_owned();

    // Not started: it died at once, and the report says why.
    let run = env.fleet(&["start", "lost", "--", "fleet-stub"]).failure(1);
    assert!(
        run.stdout
            .contains("lost  failed: exited 127 within 1s of its launch"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("fleet: fleet-stub: command not found (PATH="),
        "{run:?}"
    );
    assert_eq!(env.wait_exit("lost"), 127);
    let peek = env.fleet(&["peek", "lost"]).success().stdout;
    assert!(
        peek.contains("fleet: fleet-stub: command not found (PATH="),
        "{peek}"
    );
    assert!(
        env.screen("lost")
            .contains("fleet: fleet-stub: command not found (PATH="),
        "{}",
        env.screen("lost")
    );

    env.fleet_env(
        &["start", "found", "--", "fleet-stub", "--model", "x"],
        &[("MOSAIC_RUNTIME_BIN", &bin)],
    )
    .success();
    let row = env.wait_status("found", "running");
    assert_eq!(row["pane_command"], "fleet-stub");
    env.wait_screen("found", "model: x");
    let pane_path = std::fs::read_to_string(&path_out).unwrap_or_default();
    assert!(
        pane_path.starts_with(&format!("{bin}:")),
        "pane PATH: {pane_path}"
    );
}

#[test]
fn the_runtime_bin_is_baked_in_even_when_the_launcher_path_has_it() {
    let env = TestEnv::new();
    // The server starts from a PATH without bin/ ...
    env.tmux(&["new-session", "-d", "-s", "keeper", "sleep 300"]);
    let path_out = env.root().join("path.out");
    env.script(
        "fleet-stub",
        &format!("echo \"$PATH\" > '{}'; exec '{STUB}'", path_out.display()),
    );
    let bin = env.bin().to_string_lossy().into_owned();
    // ... while the launcher has bin/ on its PATH already.
    let launcher_path = format!("{bin}:/usr/bin:/bin");
    env.fleet_env(
        &["start", "agent", "--", "fleet-stub"],
        &[("PATH", &launcher_path), ("MOSAIC_RUNTIME_BIN", &bin)],
    )
    .success();
    env.wait_status("agent", "running");
    let pane_path = std::fs::read_to_string(&path_out).unwrap_or_default();
    assert!(
        pane_path.starts_with(&format!("{bin}:")),
        "pane PATH: {pane_path}"
    );
}

#[test]
fn home_runtime_dirs_join_the_prefix_when_they_exist() {
    let env = TestEnv::new();
    let local_bin = env.home().join(".local/bin");
    std::fs::create_dir_all(&local_bin).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(STUB, local_bin.join("homeagent")).unwrap_or_else(|e| panic!("{e}"));
    env.fleet(&["start", "h", "--", "homeagent"]).success();
    let row = env.wait_status("h", "running");
    assert_eq!(row["pane_command"], "homeagent");
    let start = env.tmux_out(&["display", "-p", "-t", "=h:", "#{pane_start_command}"]);
    assert!(start.contains(".local/bin"), "{start}");
    assert!(start.contains("exec"), "{start}");
}

#[test]
fn a_dead_runtime_leaves_its_status_and_screen() {
    let env = TestEnv::new();
    env.fleet(&["start", "quitter", "--runtime", "stub"])
        .success();
    env.wait_screen("quitter", "anything else is echoed");
    env.type_line("quitter", "exit 42");
    assert_eq!(env.wait_exit("quitter"), 42);
    assert!(env.screen("quitter").contains("exiting with status 42"));
    let table = env.fleet(&["ps"]).success().stdout;
    assert!(table.contains("exited 42"), "{table}");
}

#[test]
fn a_killed_runtime_reads_as_128_plus_the_signal() {
    let env = TestEnv::new();
    env.fleet(&["start", "victim", "--runtime", "stub"])
        .success();
    env.wait_status("victim", "running");
    let pid = env.tmux_out(&["display", "-p", "-t", "=victim:", "#{pane_pid}"]);
    let status = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    assert_eq!(env.wait_exit("victim"), 137);
}

#[test]
fn starting_an_exited_agent_launches_it_again() {
    let env = TestEnv::new();
    env.fleet(&["start", "phoenix", "--runtime", "stub"])
        .success();
    env.wait_screen("phoenix", "anything else is echoed");
    env.type_line("phoenix", "exit 3");
    assert_eq!(env.wait_exit("phoenix"), 3);
    let run = env
        .fleet(&["start", "phoenix", "--runtime", "stub"])
        .success();
    assert!(
        run.stdout.contains("started (it had exited 3)"),
        "{}",
        run.stdout
    );
    let row = env.wait_status("phoenix", "running");
    assert_eq!(row["restarts"], 1);
}

#[test]
fn restart_relaunches_with_a_new_process_and_counts() {
    let env = TestEnv::new();
    env.fleet(&["start", "r", "--runtime", "stub", "--model", "keep/me"])
        .success();
    env.wait_status("r", "running");
    let pid = env.tmux_out(&["display", "-p", "-t", "=r:", "#{pane_pid}"]);
    let run = env.fleet(&["restart", "r"]).success();
    assert_eq!(run.stdout.trim(), "r  restarted");
    let row = env.wait_status("r", "running");
    assert_eq!(row["restarts"], 1);
    assert_eq!(row["model"], "keep/me");
    assert_ne!(
        env.tmux_out(&["display", "-p", "-t", "=r:", "#{pane_pid}"]),
        pid
    );
}

#[test]
fn stop_ends_the_agent_and_is_idempotent() {
    let env = TestEnv::new();
    env.fleet(&["start", "s", "--runtime", "stub"]).success();
    env.wait_status("s", "running");
    assert_eq!(
        env.fleet(&["stop", "s"]).success().stdout.trim(),
        "s  stopped"
    );
    assert!(env.ps().is_empty());
    assert_eq!(
        env.fleet(&["stop", "s"]).success().stdout.trim(),
        "s  not running"
    );
}

#[test]
fn the_seed_variables_keep_working() {
    let env = TestEnv::new();
    let dir = env.work().join("seeded");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let dir_text = dir.to_string_lossy().into_owned();
    let command = format!("'{STUB}' --model seed/model");
    env.fleet_env(
        &["start", "seed"],
        &[
            ("MOSAIC_AGENT_WORKDIR", &dir_text),
            ("MOSAIC_AGENT_COMMAND", &command),
            ("MOSAIC_AGENT_RUNTIME", "stub"),
        ],
    )
    .success();
    let row = env.wait_status("seed", "running");
    assert_eq!(row["runtime"], "stub");
    assert_eq!(row["workdir"], dir_text.as_str());
    env.wait_screen("seed", "model: seed/model");
    let cwd = env.tmux_out(&["display", "-p", "-t", "=seed:", "#{pane_current_path}"]);
    assert_eq!(cwd.trim(), dir_text);
}

#[test]
fn starting_an_exited_ad_hoc_agent_runs_what_it_ran_before() {
    let env = TestEnv::new();
    // Defaults that differ from what the agent was started with.
    env.write_fleet("[defaults]\nruntime = \"shell\"\n");
    let dir = env.work().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let dir_text = dir.to_string_lossy().into_owned();
    env.fleet(&[
        "start",
        "adhoc",
        "--runtime",
        "stub",
        "--model",
        "my/model",
        "--workdir",
        &dir_text,
    ])
    .success();
    env.wait_screen("adhoc", "anything else is echoed");
    env.type_line("adhoc", "exit 3");
    assert_eq!(env.wait_exit("adhoc"), 3);
    let run = env.fleet(&["start", "adhoc"]).success();
    assert!(
        run.stdout.contains("started (it had exited 3)"),
        "{}",
        run.stdout
    );
    let row = env.wait_status("adhoc", "running");
    assert_eq!(row["runtime"], "stub");
    assert_eq!(row["model"], "my/model");
    assert_eq!(row["workdir"], dir_text.as_str());
}

#[test]
fn a_relative_fleet_home_is_taken_from_where_fleet_runs() {
    let env = TestEnv::new();
    // The tmux server runs elsewhere (the test root), as it would when
    // another fleet command started it from another directory.
    env.tmux(&["new-session", "-d", "-s", "keeper", "sleep 300"]);
    env.fleet_env(
        &["start", "rel", "--runtime", "stub"],
        &[("FLEET_HOME", "relstate")],
    )
    .success();
    env.wait_screen("rel", "anything else is echoed");
    let transcript = env
        .work()
        .join("relstate/logs")
        .join(&env.socket)
        .join("rel.log");
    assert!(
        wait_until(Duration::from_secs(5), || transcript.exists()),
        "no transcript at {}",
        transcript.display()
    );
    assert!(!env.root().join("relstate").exists());
}

#[test]
fn a_command_too_long_for_tmux_is_refused_before_anything_starts() {
    let env = TestEnv::new();
    let long = "x".repeat(17_000);
    env.fleet(&["start", "big", "--", "echo", &long])
        .failure(2)
        .one_line_error("agent big's command is too long for tmux");
    assert!(!env.server_running());
}

/// An agent near tmux's limit: whatever `start` takes, `restart` (and the
/// supervisor's relaunch, which says more) can start again.
#[test]
fn what_starts_near_tmuxs_limit_can_be_restarted() {
    let env = TestEnv::new();
    let (mut started, mut refused) = (0, 0);
    for (i, len) in (7_000..=7_700).step_by(100).enumerate() {
        let name = format!("b{i}");
        let long = "x".repeat(len);
        let run = env.fleet(&["start", &name, "--", "sh", "-c", "sleep 300", &long]);
        if run.code == 2 {
            assert!(run.stderr.contains("too long for tmux"), "{run:#?}");
            refused += 1;
            continue;
        }
        let run = run.success();
        assert!(run.stdout.contains("started"), "{run:#?}");
        started += 1;
        let again = env.fleet(&["restart", &name]).success();
        assert!(
            again.stdout.contains("restarted"),
            "{name} ({len} bytes) started but did not restart: {again:#?}"
        );
    }
    assert!(
        started > 0 && refused > 0,
        "{started} started, {refused} refused"
    );
}

#[test]
fn up_names_every_agent_whose_command_is_too_long_and_starts_none() {
    let env = TestEnv::new();
    let command = |n: usize| format!("perl -e 1 {}", "x".repeat(n));
    let file = env.write_fleet(&format!(
        "[runtimes.long]\ncommand = \"{}\"\n\n\
         [agents.fine]\ncommand = \"sleep 300\"\n\n\
         [agents.medium]\ncommand = \"{}\"\n\n\
         [agents.long8000]\ncommand = \"{}\"\n\n\
         [agents.long16000]\nruntime = \"long\"\n",
        command(16_000),
        command(5_000),
        command(8_000),
    ));
    let run = env
        .fleet(&["up"])
        .failure(2)
        .one_line_error("long16000, long8000: their commands are too long for tmux");
    assert!(
        run.stderr.contains(&*file.to_string_lossy()),
        "the fleet file is not named:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("medium"), "{}", run.stderr);
    assert!(!env.server_running());
}

#[test]
fn a_seed_command_without_a_runtime_is_custom() {
    let env = TestEnv::new();
    let command = format!("'{STUB}' --model seed/cmd");
    env.fleet_env(&["start", "seeded"], &[("MOSAIC_AGENT_COMMAND", &command)])
        .success();
    let row = env.wait_status("seeded", "running");
    assert_eq!(row["runtime"], "custom");
    assert_eq!(row["pane_command"], "fleet-stub");
    env.fleet_env(
        &["start", "broken"],
        &[("MOSAIC_AGENT_COMMAND", "agent 'open")],
    )
    .failure(2)
    .one_line_error("MOSAIC_AGENT_COMMAND=\"agent 'open\" has an unclosed quote");
}

#[test]
fn the_fleet_server_is_set_up_for_agents() {
    let env = TestEnv::new();
    env.fleet(&["start", "keys", "--runtime", "stub"]).success();
    // What pi checks before it warns that modified Enter keys may not work.
    let out = env.tmux(&["show", "-gv", "extended-keys"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "on");
    let out = env.tmux(&["show", "-gv", "focus-events"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "on");
    let out = env.tmux(&["show", "-gwv", "remain-on-exit"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "on");
}

#[test]
fn npm_is_asked_for_its_prefix_once_until_what_decides_it_changes() {
    let mut env = TestEnv::new();
    let asked = env.root().join("npm-asked");
    let prefix = env.root().join("npm-prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap_or_else(|e| panic!("{e}"));
    env.script(
        "npm",
        &format!(
            "echo asked >> '{}'; echo '{}'",
            asked.display(),
            prefix.display()
        ),
    );
    let path = format!("{}:{}", env.bin().display(), env.path);
    env.path = path;
    let times = || {
        std::fs::read_to_string(&asked)
            .unwrap_or_default()
            .lines()
            .count()
    };
    env.fleet(&["start", "a", "--runtime", "stub"]).success();
    env.fleet(&["start", "b", "--runtime", "stub"]).success();
    assert_eq!(times(), 1, "npm was asked again with nothing changed");
    let kept = env.root().join("state/state/npm-prefix.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    // A changed ~/.npmrc can change the answer: npm is asked again.
    std::fs::write(env.home().join(".npmrc"), "prefix=/elsewhere\n")
        .unwrap_or_else(|e| panic!("{e}"));
    env.fleet(&["start", "c", "--runtime", "stub"]).success();
    assert_eq!(times(), 2);
    // The prefix it gave reaches the pane's PATH.
    let pane_path = env.tmux_out(&["show-environment", "-t", "=c:", "PATH"]);
    let start = env.tmux_out(&["display", "-p", "-t", "=c:", "#{pane_start_command}"]);
    assert!(
        start.contains(&prefix.join("bin").display().to_string()),
        "{start}\n{pane_path}"
    );
}
