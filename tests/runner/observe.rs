//! Observation is read-only: peek, logs, activity, watch, verify, events.

use std::time::{Duration, Instant};

use crate::common::{TestEnv, wait_until};

fn pane_state(env: &TestEnv, name: &str) -> String {
    let target = format!("={name}:");
    let fmt =
        "#{cursor_x},#{cursor_y} #{history_size} #{pane_in_mode} #{pane_pid} #{window_activity}";
    let mut state = env.tmux_out(&["display", "-p", "-t", &target, fmt]);
    state.push_str(&env.tmux_out(&["capture-pane", "-p", "-e", "-S", "-", "-t", &target]));
    state
}

#[test]
fn peek_shows_the_screen_and_changes_nothing() {
    let env = TestEnv::new();
    env.fleet(&["start", "p", "--runtime", "stub", "--model", "peek/model"])
        .success();
    env.type_line("p", "work 30");
    env.wait_screen("p", "done.");
    std::thread::sleep(Duration::from_millis(300));
    let before = pane_state(&env, "p");
    let screen = env.fleet(&["peek", "p"]).success().stdout;
    assert!(screen.contains("working... step 30/30"), "{screen}");
    let last = env.fleet(&["peek", "p", "-n", "2"]).success().stdout;
    assert_eq!(last, "done.\n>\n");
    // -n reaches into the scrollback, past what the screen shows.
    let long = env.fleet(&["peek", "p", "-n", "100"]).success().stdout;
    assert!(long.contains("model: peek/model"), "{long}");
    assert_eq!(pane_state(&env, "p"), before, "peek changed the pane");
    env.fleet(&["peek", "nobody"])
        .failure(1)
        .one_line_error("agent nobody has no session");
}

#[test]
fn peek_of_a_dead_pane_has_no_blank_run_above_its_death() {
    // tmux writes `Pane is dead` on the bottom row: ~48 blank lines sat
    // between the runtime's last words and it.
    let env = TestEnv::new();
    env.fleet(&[
        "start",
        "d",
        "--",
        "sh",
        "-c",
        "echo hello; echo last; exit 3",
    ])
    .failure(1);
    assert_eq!(env.wait_exit("d"), 3);
    for args in [&["peek", "d"][..], &["peek", "d", "-n", "3"]] {
        let screen = env.fleet(args).success().stdout;
        let lines: Vec<&str> = screen.lines().collect();
        assert_eq!(lines.len(), if args.len() == 2 { 4 } else { 3 }, "{screen}");
        assert_eq!(
            lines[lines.len() - 3..lines.len() - 1],
            ["last", ""],
            "{screen}"
        );
        assert!(
            lines[lines.len() - 1].starts_with("Pane is dead"),
            "{screen}"
        );
    }
}

#[test]
fn logs_outlive_the_pane_and_are_plain_text() {
    let env = TestEnv::new();
    env.fleet(&["start", "talker", "--runtime", "shell"])
        .success();
    env.wait_status("talker", "running");
    env.type_line("talker", "printf '\\033[31mRED-%s\\033[0m\\n' transcript");
    env.wait_screen("talker", "RED-transcript");
    env.type_line("talker", "exit 3");
    assert_eq!(env.wait_exit("talker"), 3);
    env.fleet(&["stop", "talker"]).success();
    assert!(env.ps().is_empty());

    let logs = env.fleet(&["logs", "talker"]).success().stdout;
    assert!(logs.contains("RED-transcript"), "{logs}");
    assert!(!logs.contains('\x1b'), "escapes left in: {logs:?}");
    let raw = env.fleet(&["logs", "talker", "--raw"]).success().stdout;
    assert!(raw.contains("\x1b[31mRED-transcript"), "{raw:?}");
    // What agents print is the user's alone: 0700 and 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    let dir = env.root().join("state/logs").join(&env.socket);
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    assert_eq!(mode(&dir.join("talker.log")), 0o600);
    env.fleet(&["logs", "never"])
        .failure(1)
        .one_line_error("no transcript for never");
}

#[test]
fn logs_read_as_the_screen_did() {
    let env = TestEnv::new();
    env.fleet(&["start", "tui", "--runtime", "shell"]).success();
    env.wait_status("tui", "running");
    // Words placed by cursor moves (as Claude Code writes them), a line
    // redrawn in place, and a window title.
    env.type_line(
        "tui",
        "printf '\\033]0;%s-%s\\007Welcome\\033[1Cto\\033[1CCodex\\n1/3\\r2/3\\r3/3 done\\n' SECRET TITLE",
    );
    env.wait_screen("tui", "3/3 done");
    let mut logs = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            logs = env.fleet(&["logs", "tui"]).success().stdout;
            logs.contains("3/3 done")
        }),
        "{logs}"
    );
    assert!(logs.contains("\nWelcome to Codex\n3/3 done\n"), "{logs}");
    assert!(!logs.contains("SECRET-TITLE"), "{logs}");
    assert!(!logs.lines().any(|l| l.starts_with("2/3")), "{logs}");
    let raw = env.fleet(&["logs", "tui", "--raw"]).success().stdout;
    assert!(raw.contains("Welcome\x1b[1Cto"), "{raw:?}");
}

#[test]
fn transcripts_rotate_at_their_cap() {
    let env = TestEnv::new();
    env.fleet_env(
        &["start", "chatty", "--runtime", "stub"],
        &[("FLEET_LOG_MAX_BYTES", "1500")],
    )
    .success();
    env.wait_screen("chatty", "anything else is echoed");
    env.type_line("chatty", "work 150");
    env.wait_screen("chatty", "step 150/150");
    let dir = env.root().join("state/logs").join(&env.socket);
    let current = dir.join("chatty.log");
    let older = dir.join("chatty.log.1");
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&current).is_ok_and(|t| t.contains("step 150/150"))
    }));
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(size(&current) <= 1500, "{} bytes", size(&current));
    assert!(
        size(&older) > 0 && size(&older) <= 1500,
        "{} bytes",
        size(&older)
    );
    let logs = env.fleet(&["logs", "chatty"]).success().stdout;
    assert!(logs.contains("step 150/150"));
    assert!(
        !logs.contains("step 1/150"),
        "the oldest output should be rotated away"
    );
}

#[test]
fn logs_follow_shows_new_output() {
    let env = TestEnv::new();
    env.fleet(&["start", "f", "--runtime", "stub"]).success();
    env.wait_screen("f", "anything else is echoed");
    let follow = env.spawn(&["logs", "f", "--follow"], &[]);
    assert!(
        follow
            .until(Duration::from_secs(5), |l| l.contains("anything else"))
            .is_some()
    );
    env.type_line("f", "fresh-line");
    let got = follow.until(Duration::from_secs(5), |l| l.contains("echo: fresh-line"));
    assert!(got.is_some());
}

#[test]
fn an_approval_question_is_waiting_and_answering_it_is_not() {
    let env = TestEnv::new();
    env.fleet(&["start", "asker", "--runtime", "stub"])
        .success();
    env.wait_row("asker", "working", |r| r["activity"] == "working");
    env.type_line("asker", "ask");
    env.wait_row("asker", "waiting", |r| r["activity"] == "waiting");
    let table = env.fleet(&["ps"]).success().stdout;
    assert!(table.contains("waiting"), "{table}");
    env.type_line("asker", "y");
    env.wait_screen("asker", "approved.");
    env.wait_row("asker", "not waiting", |r| r["activity"] == "working");
}

#[test]
fn quiet_agents_are_idle_and_say_for_how_long() {
    let mut env = TestEnv::new();
    env.set("FLEET_IDLE_AFTER", "1");
    env.fleet(&["start", "quiet", "--runtime", "stub"])
        .success();
    let row = env.wait_row("quiet", "idle", |r| r["activity"] == "idle");
    assert!(
        row["idle_seconds"].as_u64().is_some_and(|s| s >= 1),
        "{row}"
    );
    let table = env.fleet(&["ps"]).success().stdout;
    let line = table
        .lines()
        .find(|l| l.starts_with("quiet"))
        .unwrap_or_default();
    assert!(line.contains(" idle ") && line.contains("s  "), "{table}");
}

#[test]
fn watch_reports_a_killed_agent_within_a_second() {
    let env = TestEnv::new();
    env.fleet(&["start", "doomed", "--runtime", "stub"])
        .success();
    let row = env.wait_status("doomed", "running");
    let pid = env.tmux_out(&["display", "-p", "-t", "=doomed:", "#{pane_pid}"]);
    assert!(row["name"] == "doomed");
    let watch = env.spawn(&["watch", "--json"], &[]);
    // Let the watcher take its first look.
    std::thread::sleep(Duration::from_millis(600));
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let line = watch
        .until(Duration::from_secs(3), |l| l.contains("\"exited\""))
        .unwrap_or_else(|| panic!("watch never reported the exit"));
    let elapsed = killed.elapsed();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    assert_eq!(event["agent"], "doomed");
    assert_eq!(event["event"], "exited");
    assert_eq!(event["exit_code"], 137);
    for key in ["time", "host", "agent", "event", "exit_code", "detail"] {
        assert!(event.get(key).is_some(), "{key} missing: {line}");
    }
    assert!(
        elapsed < Duration::from_secs(1),
        "reported after {elapsed:?}"
    );
}

#[test]
fn watch_streams_starts_stops_waiting_and_strangers() {
    let env = TestEnv::new();
    let watch = env.spawn(&["watch", "--json"], &[("FLEET_IDLE_AFTER", "1")]);
    std::thread::sleep(Duration::from_millis(400));
    env.fleet(&["start", "w", "--runtime", "stub"]).success();
    let wait = |kind: &str| {
        watch
            .until(Duration::from_secs(5), |l| {
                l.contains(&format!("\"event\":\"{kind}\""))
            })
            .unwrap_or_else(|| panic!("no {kind} event"))
    };
    wait("started");
    wait("idle");
    env.type_line("w", "ask");
    let line = wait("waiting");
    assert!(line.contains("Allow command? [y/n]"), "{line}");
    env.tmux(&["new-session", "-d", "-s", "stranger", "sleep 300"]);
    wait("unmanaged");
    env.fleet(&["start", "sh1", "--runtime", "shell"]).success();
    env.wait_status("sh1", "running");
    env.type_line("sh1", "sleep 300");
    watch
        .until(Duration::from_secs(5), |l| {
            l.contains("\"event\":\"drift\"")
                && l.contains("sh1")
                && l.contains("sleep is in front")
        })
        .unwrap_or_else(|| panic!("no drift event for sh1 with sleep in front"));
    env.tmux(&["send-keys", "-t", "=sh1:", "C-c"]);
    if watch
        .until(Duration::from_secs(5), |l| {
            l.contains("\"event\":\"drift-ended\"")
        })
        .is_none()
    {
        let events = env.fleet(&["events", "sh1"]).stdout;
        let ps = env.fleet(&["ps"]).stdout;
        let pane = env.tmux_out(&[
            "display",
            "-p",
            "-t",
            "=sh1:",
            "#{pane_current_command} #{?pane_current_path,1,0} #{pane_dead}",
        ]);
        panic!("no drift-ended event\n{events}\n{ps}\n{pane}");
    }
    env.fleet(&["restart", "w"]).success();
    wait("restarted");
    env.fleet(&["stop", "w"]).success();
    wait("stopped");
}

#[test]
fn verify_passes_a_healthy_agent_and_fails_each_fault() {
    let env = TestEnv::new();
    let fleet = r#"
[agents.healthy]
runtime = "stub"

[agents.drifter]
runtime = "shell"

[agents.lost]
runtime = "shell"
command = "no-such-runtime --flag"

[agents.rogue]
runtime = "stub"
model = "anthropic/claude-opus-4"
"#;
    // Launched while a rule allowed it; the rule is gone since.
    env.write_fleet(&format!(
        "{fleet}\n[[policy.models]]\npattern = \"anthropic/*\"\nruntimes = [\"claude\", \"stub\"]\n"
    ));
    // `lost` dies at once: `up` says so, and exits 1; the others start.
    let up = env.fleet(&["up"]).failure(1);
    assert!(up.stdout.contains("lost     failed: exited 127"), "{up:?}");
    assert!(up.stdout.contains("healthy  started"), "{up:?}");
    env.write_fleet(fleet);
    env.wait_status("healthy", "running");
    env.wait_status("drifter", "running");
    env.type_line("drifter", "sleep 300");
    env.wait_status("drifter", "drift");
    env.wait_exit("lost");

    let run = env.fleet(&["verify", "healthy"]).success();
    assert!(
        run.stdout.lines().skip(1).all(|l| l.starts_with("ok")),
        "{}",
        run.stdout
    );

    let checks = |name: &str| -> Vec<serde_json::Value> {
        let run = env.fleet(&["verify", name, "--json"]).failure(1);
        serde_json::from_str(&run.stdout).unwrap_or_default()
    };
    let failed = |name: &str| -> Vec<(String, String)> {
        checks(name)
            .into_iter()
            .filter(|c| c["ok"] == false)
            .map(|c| {
                (
                    c["check"].as_str().unwrap_or_default().to_string(),
                    c["fix"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        failed("drifter"),
        [(
            "runtime in front".to_string(),
            "fleet restart drifter".to_string()
        )]
    );
    let lost = failed("lost");
    assert!(
        lost.iter()
            .any(|(c, fix)| c == "runtime on PATH" && fix.contains("MOSAIC_RUNTIME_BIN")),
        "{lost:?}"
    );
    let rogue = failed("rogue");
    assert_eq!(rogue.len(), 1, "{rogue:?}");
    assert_eq!(rogue[0].0, "policy");
    assert!(rogue[0].1.contains("runtime = \"claude\""), "{rogue:?}");

    // The whole fleet includes the host's boot survival, not in place here.
    let all = env.fleet(&["verify"]).failure(1).stdout;
    assert!(
        all.contains("linger") && all.contains("fix: fleet init"),
        "{all}"
    );
}

#[test]
fn events_keep_history_and_ps_counts_restarts() {
    let env = TestEnv::new();
    env.fleet(&["start", "h", "--runtime", "stub"]).success();
    env.wait_status("h", "running");
    env.fleet(&["restart", "h"]).success();
    env.fleet(&["restart", "h"]).success();
    let row = env.wait_status("h", "running");
    assert_eq!(row["restarts"], 2);
    env.type_line("h", "exit 5");
    env.wait_exit("h");
    env.fleet(&["stop", "h"]).success();
    let kinds: Vec<String> = env
        .events(&["h"])
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["started", "restarted", "restarted", "exited", "stopped"]
    );
    let exited = env
        .events(&["h"])
        .into_iter()
        .find(|e| e["event"] == "exited");
    assert_eq!(
        exited.map(|e| e["exit_code"].clone()),
        Some(serde_json::json!(5))
    );
    assert!(env.events(&["--since", "1h"]).len() >= 5);
    env.fleet(&["events", "--since", "soon"])
        .failure(2)
        .one_line_error("is not a duration");
    let table = env.fleet(&["events", "h"]).success().stdout;
    assert!(table.contains("exited 5"), "{table}");
}

#[test]
fn a_fleet_file_adds_waiting_patterns_to_a_runtime() {
    let env = TestEnv::new();
    env.write_fleet(
        "[runtimes.stub]\nwaiting = ['(?m)^echo: need a human$']\n\n[agents.helpme]\nruntime = \"stub\"\n",
    );
    env.fleet(&["up"]).success();
    env.wait_row("helpme", "working", |r| r["activity"] == "working");
    env.type_line("helpme", "need a human");
    env.wait_row("helpme", "waiting", |r| r["activity"] == "waiting");
    // The built-in stub pattern still counts alongside the new one.
    env.type_line("helpme", "ask");
    env.wait_screen("helpme", "Allow command? [y/n]");
    assert_eq!(env.row("helpme")["activity"], "waiting");
    env.write_fleet("[runtimes.stub]\nwaiting = ['(unclosed']\n");
    env.fleet(&["up"]).failure(2).one_line_error(
        "fleet.toml:2: [runtimes.stub] waiting pattern \"(unclosed\" is not a valid regex",
    );
}

#[test]
fn verify_fails_a_pane_that_does_not_export_the_runtime_bin_path() {
    let env = TestEnv::new();
    // A session with fleet metadata but launched some other way (an older
    // script, by hand): the runtime directly, no PATH export.
    let meta = format!(
        r#"{{"runtime":"stub","processes":["fleet-stub"],"argv":["{stub}"],"workdir":"{work}","started_at":1}}"#,
        stub = crate::common::STUB,
        work = env.work().display()
    );
    env.tmux(&["new-session", "-d", "-s", "legacy", crate::common::STUB]);
    env.tmux(&["set-option", "-t", "=legacy:", "@fleet", &meta]);
    env.wait_status("legacy", "running");
    let run = env.fleet(&["verify", "legacy", "--json"]).failure(1);
    let checks: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap_or_default();
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["ok"] == false).collect();
    // Launched by hand, nothing records its output either.
    assert_eq!(failed.len(), 2, "{checks:#?}");
    assert_eq!(failed[0]["check"], "transcript");
    let failed = &failed[1..];
    assert_eq!(failed[0]["check"], "runtime on PATH");
    assert!(
        failed[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("does not export"))
    );
    assert_eq!(
        failed[0]["fix"],
        "fleet restart legacy relaunches it with the fleet's pane command"
    );
}

#[test]
fn watch_outlives_sessions_coming_and_going_and_history_counts_each_once() {
    let env = TestEnv::new();
    let mut watchers = vec![env.spawn(&["watch"], &[]), env.spawn(&["watch"], &[])];
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..12 {
        env.fleet(&["start", "blink", "--runtime", "stub"])
            .success();
        env.fleet(&["ps"]).success();
        env.fleet(&["stop", "blink"]).success();
    }
    std::thread::sleep(Duration::from_millis(600));
    for w in &mut watchers {
        assert!(w.alive(), "a watcher died while sessions came and went");
    }
    let events = env.events(&["blink"]);
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("stopped"), 12, "{events:#?}");
    assert!(count("started") <= 12, "{events:#?}");
    assert_eq!(count("vanished"), 0, "{events:#?}");
}

#[test]
fn logs_follow_keeps_every_line_across_rotations() {
    let env = TestEnv::new();
    env.fleet_env(
        &["start", "counter", "--runtime", "shell"],
        &[("FLEET_LOG_MAX_BYTES", "5000")],
    )
    .success();
    env.wait_status("counter", "running");
    let follow = env.spawn(&["logs", "counter", "--follow"], &[]);
    std::thread::sleep(Duration::from_millis(400));
    env.type_line("counter", "seq 1 2000 | sed 's/^/N/'; echo END-OF-COUNT");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let Some(line) = follow.line(Duration::from_secs(2)) else {
            break;
        };
        if line.starts_with("END-OF-COUNT") {
            break;
        }
        if let Some(n) = line
            .strip_prefix('N')
            .and_then(|n| n.trim().parse::<u32>().ok())
        {
            seen.push(n);
        }
    }
    let expected: Vec<u32> = (1..=2000).collect();
    assert_eq!(
        seen.len(),
        expected.len(),
        "lines lost or doubled across rotations"
    );
    assert_eq!(seen, expected);
}

#[test]
fn hostile_output_never_reaches_the_operators_terminal() {
    let env = TestEnv::new();
    // A runtime that sets the title, writes to the clipboard (OSC 52), moves
    // the cursor, rings, and prints invalid UTF-8, then waits.
    let script = env.script(
        "hostile",
        "printf 'plain \\033]0;pwned-title\\007\\033]52;c;cm0gLXJmIC8=\\007\\033[2J\\033[Hafter \\377\\376 bytes\\a\\n'; exec sleep 300",
    );
    let script = script.to_string_lossy().into_owned();
    env.fleet(&["start", "hostile", "--", &script]);
    env.wait_screen("hostile", "after");
    for args in [
        vec!["peek", "hostile"],
        vec!["ps"],
        vec!["explain", "hostile"],
        vec!["events", "hostile"],
        vec!["verify", "hostile"],
        vec!["logs", "hostile"],
    ] {
        let run = env.fleet(&args);
        let out = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !out.bytes().any(|b| b == 0x1b || b == 0x07),
            "{args:?} passed an escape through: {out:?}"
        );
    }
    let peek = env.fleet(&["peek", "hostile"]).success().stdout;
    assert!(peek.contains("after"), "{peek}");
    assert!(!peek.contains("pwned-title"), "{peek}");
}

#[test]
fn forged_options_and_process_names_cannot_disown_or_drive_anything() {
    let env = TestEnv::new();
    env.fleet(&["start", "mine", "--runtime", "stub"]).success();
    env.wait_screen("mine", "anything else is echoed");
    // Tabs and line breaks in a user option someone set by hand: no field
    // or row of their making; the agent stays fleet's.
    env.tmux(&[
        "set-option",
        "-t",
        "=mine:",
        "@fleet-state",
        "a\tb\nghost\t%99\t1\t0\t\t\tx\t1\t1\t24\t0\t\t{\"runtime\":\"x\",\"started_at\":1}",
    ]);
    let rows = env.ps();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["mine"], "{rows:#?}");
    assert_eq!(rows[0]["status"], "running");
    // A process named with escape sequences shows as plain text.
    let evil = env.bin().join("\x1b[2J\x1b]0;t\x07evil");
    std::os::unix::fs::symlink("/bin/sleep", &evil).unwrap_or_else(|e| panic!("{e}"));
    let evil = evil.to_string_lossy().into_owned();
    env.fleet(&["start", "odd", "--", &evil, "300"]);
    for args in [["ps", "--json"], ["explain", "odd"], ["events", "odd"]] {
        let run = env.fleet(&args);
        assert!(
            !run.stdout.bytes().any(|b| b == 0x1b || b == 0x07),
            "{args:?}: {:?}",
            run.stdout
        );
    }
    env.fleet(&["stop", "mine"]).success();
}

/// The processes `pid` started that are still running, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    let mut kids: Vec<u32> = tasks
        .iter()
        .map(|t| std::fs::read_to_string(t.path().join("children")).unwrap_or_default())
        .collect::<String>()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    kids.sort();
    kids
}

#[test]
fn watch_keeps_one_quiet_read_only_connection_and_leaves_nothing_behind() {
    let env = TestEnv::new();
    for name in ["one", "two"] {
        env.fleet(&["start", name, "--runtime", "stub"]).success();
        env.wait_status(name, "running");
    }
    let mut watch = env.spawn(&["watch"], &[]);
    watch
        .until(Duration::from_secs(5), |l| l.contains("two  now"))
        .unwrap_or_else(|| panic!("watch never printed the present"));
    // Its clients: read-only, never sizing a window, sent no pane output.
    let clients = env.tmux_out(&["list-clients", "-F", "#{client_session} #{client_flags}"]);
    let flags = clients.lines().next().unwrap_or_default().to_string();
    for flag in ["control-mode", "ignore-size", "no-output", "read-only"] {
        assert!(flags.contains(flag), "client flags: {clients}");
    }
    let size = env.tmux_out(&[
        "display",
        "-p",
        "-t",
        "=one:",
        "#{pane_width}x#{pane_height}",
    ]);
    assert_eq!(size.trim(), "200x50", "the watcher resized a pane");
    // Quiet: the same two long-lived clients, no tmux started per look.
    let before = children(watch.pid());
    assert_eq!(before.len(), 2, "watch's children: {before:?}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        children(watch.pid()),
        before,
        "watch started new processes while idle"
    );

    // The session it is attached to ends: it moves on and still hears.
    let attached = flags.split(' ').next().unwrap_or_default().to_string();
    let other = if attached == "one" { "two" } else { "one" };
    env.fleet(&["stop", &attached]).success();
    watch
        .until(Duration::from_secs(5), |l| {
            l.contains(&format!("{attached}  stopped"))
        })
        .unwrap_or_else(|| panic!("no stopped line for {attached}"));
    env.fleet(&["report", other, "waiting", "--detail", "look at me"])
        .success();
    watch
        .until(Duration::from_secs(3), |l| {
            l.contains(&format!("{other}  waiting  look at me"))
        })
        .unwrap_or_else(|| panic!("watch stopped hearing after its session ended"));

    // Gone with it: no client is left on the server.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &watch.pid().to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(5), || env
            .tmux_out(&["list-clients", "-F", "#{client_pid}"])
            .trim()
            .is_empty()),
        "tmux clients outlived watch"
    );
    // Killed, and gone (a loaded machine may take a moment to say so).
    assert!(wait_until(Duration::from_secs(5), || !watch.alive()));
}

/// The pids of transcript writers (`fleet __log-writer …`) whose command
/// line contains every one of `words`.
fn pids_running(words: &[&str]) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            let writer = text.split('\0').nth(1) == Some("__log-writer");
            (writer && words.iter().all(|w| text.contains(w))).then_some(pid)
        })
        .collect()
}

/// A stub agent `name`, brought up and at its prompt: its transcript's
/// name under the logs directory, and the pid of its one writer.
fn stub_with_its_writer(env: &TestEnv, name: &str) -> (String, u32) {
    env.write_fleet(&format!("[agents.{name}]\nruntime = \"stub\"\n"));
    env.fleet(&["up"]).success();
    env.wait_screen(name, "type: work");
    let transcript = format!("{}/{name}.log", env.socket);
    let writers = pids_running(&[&transcript]);
    assert_eq!(writers.len(), 1, "writers: {writers:?}");
    (transcript, writers[0])
}

#[test]
fn a_transcript_writer_that_dies_fails_verify_and_up_pipes_a_new_one() {
    let env = TestEnv::new();
    let (transcript, writer) = stub_with_its_writer(&env, "scribe");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &writer.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    // tmux learns that the writer is gone only when the pane next writes;
    // fleet knows at once (the writer's lock is free), the agent silent.
    assert!(wait_until(Duration::from_secs(5), || {
        env.fleet(&["verify", "scribe"]).code == 1
    }));
    assert_eq!(
        env.tmux_out(&["display", "-p", "-t", "=scribe:", "#{pane_pipe}"])
            .trim(),
        "1",
        "tmux had already noticed: this test no longer shows what fleet adds"
    );

    let run = env.fleet(&["verify", "--json"]).failure(1);
    let checks: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    let failed: Vec<&serde_json::Value> = checks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["check"] == "transcript")
        .collect();
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert_eq!(failed[0]["ok"], false, "{}", run.stdout);
    assert_eq!(
        failed[0]["fix"],
        "fleet up scribe pipes it into a new one (the agent keeps running)"
    );

    let up = env.fleet(&["up"]).success();
    assert!(
        up.stdout.contains(
            "scribe  already running; its transcript had stopped being written and is again"
        ),
        "{up:#?}"
    );
    assert_eq!(pids_running(&[&transcript]).len(), 1);
    env.type_line("scribe", "written-again");
    assert!(wait_until(Duration::from_secs(5), || {
        env.fleet(&["logs", "scribe"])
            .stdout
            .contains("written-again")
    }));
    let again = env.fleet(&["verify", "--json"]);
    assert!(!again.stdout.contains("not being written"), "{again:#?}");
    // A second up has nothing to mend.
    let calm = env.fleet(&["up"]).success();
    assert!(
        calm.stdout.contains("scribe  already running\n"),
        "{calm:#?}"
    );
}

/// Transcripts deleted with their directory while the agent is quiet:
/// `verify` says they are not written, and `up` makes the directory again
/// and gives the pane a writer, so what the agent prints next is kept.
#[test]
fn a_transcript_directory_deleted_under_a_quiet_agent_is_said_and_mended() {
    let env = TestEnv::new();
    stub_with_its_writer(&env, "quiet");
    let logs = env.root().join("state/logs");
    std::fs::remove_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    let run = env.fleet(&["verify", "quiet"]).failure(1);
    assert!(run.stdout.contains("not being written"), "{run:#?}");
    let up = env.fleet(&["up"]).success();
    assert!(
        up.stdout
            .contains("its transcript had stopped being written and is again"),
        "{up:#?}"
    );
    env.type_line("quiet", "kept-after-mending");
    assert!(wait_until(Duration::from_secs(5), || {
        env.fleet(&["logs", "quiet"])
            .stdout
            .contains("kept-after-mending")
    }));
    env.fleet(&["verify", "quiet"]).success();
}

/// How often the threads of process `pid` have given up the CPU.
fn wake_ups(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// A writer per agent, for every agent: one that woke on a timer would
/// cost ten thousand wake-ups a second on a big fleet. Idle, it sleeps.
#[test]
fn an_idle_transcript_writer_sleeps_until_its_pane_prints() {
    let env = TestEnv::new();
    let (_, writer) = stub_with_its_writer(&env, "quiet");
    std::thread::sleep(Duration::from_millis(500));
    let before = wake_ups(writer);
    std::thread::sleep(Duration::from_secs(3));
    let idle = wake_ups(writer) - before;
    assert!(idle <= 1, "an idle writer woke {idle} times in 3 s");
    // And it still writes what comes.
    env.type_line("quiet", "heard-after-sleeping");
    assert!(wait_until(Duration::from_secs(5), || {
        env.fleet(&["logs", "quiet"])
            .stdout
            .contains("heard-after-sleeping")
    }));
    assert!(wake_ups(writer) > before + idle);
}

/// Whether `out` holds anything that drives a terminal: ESC, BEL, or a C1
/// control (U+0080..U+009F).
fn drives_terminal(out: &str) -> bool {
    out.chars()
        .any(|c| c == '\u{1b}' || c == '\u{7}' || ('\u{80}'..='\u{9f}').contains(&c))
}

#[test]
fn every_printer_escapes_what_agents_and_strangers_can_name() {
    let env = TestEnv::new();
    // A runtime whose very process name is an escape sequence.
    let evil_name = "\u{1b}[7mXY\u{1b}]0;T\u{7}";
    let link = env.bin().join(evil_name);
    std::os::unix::fs::symlink("/bin/sh", &link).unwrap_or_else(|e| panic!("{e}"));
    let script = env.script(
        "c1",
        "printf 'c1 \\302\\233 2J \\033]0;title\\007 end\\n'; while read -r l; do echo \"$l\"; done",
    );
    let watch = env.spawn(&["watch"], &[]);
    let watch_json = env.spawn(&["watch", "--json"], &[]);
    // Its name never matches the runtime's (tmux's report of it has the
    // control characters replaced): it reads as drift, safely.
    let started = env.fleet(&[
        "start",
        "evil",
        "--",
        &link.to_string_lossy(),
        "-c",
        "sleep 300",
    ]);
    assert!(!drives_terminal(&started.stdout), "{started:?}");
    assert!(started.stdout.contains("?[7mXY"), "{started:?}");
    // (`sh` runs it: drift too, which is fine here.)
    env.fleet(&["start", "raw1", "--", &script.to_string_lossy()]);
    env.wait_screen("raw1", "end");
    env.fleet(&["start", "loud", "--runtime", "stub"]).success();
    env.wait_screen("loud", "type: work");
    env.tmux(&["new-session", "-d", "-s", "\u{1b}[2Jstranger", "sleep 300"]);
    env.fleet(&["send", "loud", "\u{1b}]52;c;cm0gLXJm\u{7}\u{9b}"]);
    env.fleet(&[
        "report",
        "loud",
        "waiting",
        "--detail",
        "\u{1b}[8mhidden\u{9b}",
    ])
    .success();
    let mut outputs = Vec::new();
    for args in [
        vec!["ps"],
        vec!["ps", "--all"],
        vec!["events"],
        vec!["verify"],
        vec!["explain", "loud"],
        vec!["explain", "evil"],
        vec!["peek", "loud"],
        vec!["logs", "loud"],
        vec!["peek", "raw1"],
        vec!["logs", "raw1"],
        vec!["wait", "loud", "--until", "waiting", "--timeout", "2s"],
    ] {
        let run = env.fleet(&args);
        outputs.push((format!("{args:?}"), format!("{}{}", run.stdout, run.stderr)));
    }
    for w in [&watch, &watch_json] {
        let mut seen = String::new();
        while let Some(line) = w.line(Duration::from_millis(1500)) {
            seen.push_str(&line);
            seen.push('\n');
        }
        assert!(seen.contains("hidden"), "watch missed the report: {seen}");
        outputs.push(("watch".into(), seen));
    }
    for (what, out) in &outputs {
        assert!(
            !drives_terminal(out),
            "{what} passed a control through: {out:?}"
        );
    }
    // Raw is raw, on request.
    let raw = env.fleet(&["logs", "raw1", "--raw"]).success().stdout;
    assert!(raw.contains('\u{9b}'), "{raw:?}");
}

/// tmux's number for the next command on the test server, as a control
/// client sees it in `%begin TIME NUMBER FLAGS`.
fn command_number(env: &TestEnv) -> Option<u64> {
    let out = std::process::Command::new("tmux")
        .args(["-L", &env.socket, "-C", "display-message", "-p", "x"])
        .env("TMUX_TMPDIR", env.root().join("tmux"))
        .env_remove("TMUX")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("%begin "))
        .and_then(|rest| rest.split(' ').nth(1))
        .and_then(|n| n.parse().ok())
}

#[test]
fn a_screen_that_forges_control_mode_replies_cannot_make_watch_lie() {
    let env = TestEnv::new();
    let guess = env.root().join("guess");
    // A runtime whose screen is lines that end tmux's reply blocks, for
    // the very numbers tmux is about to use, then a fake empty reply and
    // an exit: read as protocol, the fleet would vanish.
    let forger = env.script(
        "forger",
        &format!(
            "while :; do t=$(date +%s); x=$(cat {guess} 2>/dev/null || echo 0); printf '\\033[H\\033[2J'; \
             k=$x; while [ $k -lt $((x+40)) ]; do printf '%%end %s %s 1\\n' $t $k; k=$((k+1)); done; \
             printf '%%begin %s 7 1\\n%%end %s 7 1\\n%%exit forged\\n' $t $t; sleep 0.2; done",
            guess = guess.display()
        ),
    );
    env.write_fleet(&format!(
        "[runtimes.forger]\ncommand = \"{}\"\nprocesses = [\"forger\", \"sh\"]\nwaiting = [\"never shown\"]\n\n\
         [agents.forger]\nruntime = \"forger\"\n\n[agents.honest]\nruntime = \"stub\"\n",
        forger.display()
    ));
    env.fleet(&["up"]).success();
    let watch = env.spawn(&["watch"], &[]);
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Some(n) = command_number(&env) {
            let _ = std::fs::write(&guess, (n + 2).to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = String::new();
    while let Some(line) = watch.line(Duration::from_millis(300)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(seen.contains("honest  now"), "{seen}");
    for word in ["vanished", "stopped", "started", "restarted", "exited"] {
        // tmux 3.3a has been seen to crash here under heavy load (a
        // segfault in dmesg): then the sessions did end, and the test
        // says so rather than blame the watch.
        assert!(
            !seen.contains(word),
            "watch said {word}: {seen}(the tmux server is {})",
            if env.server_running() {
                "running: the watch lied"
            } else {
                "gone: it crashed or was killed; see dmesg"
            }
        );
    }
    let events = env.events(&[]);
    assert!(
        events.iter().all(|e| e["event"] != "vanished"),
        "{events:#?}"
    );
    env.wait_status("honest", "running");
}
