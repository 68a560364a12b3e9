//! `fleet supervise`: the declared fleet kept up, as each agent's restart
//! policy says, against a real tmux server.

use std::time::{Duration, Instant};

use crate::common::{TestEnv, wait_until};

const FLEET: &str = r#"
[runtimes.crasher]
command = "sh -c 'sleep 0.3; exit 3'"
processes = ["sh"]

[agents.steady]
runtime = "stub"
restart = "on-failure"

[agents.lazy]
runtime = "stub"
restart = "never"
"#;

fn restarts(env: &TestEnv, name: &str) -> i64 {
    env.row(name)["restarts"].as_i64().unwrap_or(-1)
}

#[test]
fn a_killed_agent_is_back_within_two_seconds_and_stops_are_respected() {
    let env = TestEnv::new();
    env.write_fleet(FLEET);
    let supervisor = env.spawn(&["supervise"], &[]);
    supervisor
        .until(Duration::from_secs(10), |l| l.contains("steady  now"))
        .unwrap_or_else(|| panic!("the supervisor never looked"));
    env.wait_status("steady", "running");
    env.wait_status("lazy", "running");

    // A second supervisor on the same socket is refused, naming the first.
    let second = env.fleet(&["supervise"]);
    assert_ne!(second.code, 0);
    assert!(
        second
            .stderr
            .contains("another supervisor already keeps the fleet"),
        "{second:#?}"
    );
    // Also with another state directory: the claim is on the tmux server.
    let elsewhere = env.root().join("other-home").display().to_string();
    let third = env.fleet_env(&["supervise"], &[("FLEET_HOME", elsewhere.as_str())]);
    assert_ne!(third.code, 0, "{third:#?}");
    assert!(
        third.stderr.contains("with another FLEET_HOME"),
        "{third:#?}"
    );

    // kill -9 of the runtime: relaunched, counted, within 2 s.
    let pid = env.tmux_out(&["display", "-p", "-t", "=steady:", "#{pane_pid}"]);
    let killed = Instant::now();
    std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        wait_until(Duration::from_secs(5), || restarts(&env, "steady") == 1
            && env.row("steady")["status"] == "running"),
        "not relaunched: {:?}",
        env.row("steady")
    );
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(3), "relaunched after {took:?}");

    // restart = "never": left down.
    env.type_line("lazy", "exit 4");
    env.wait_exit("lazy");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.row("lazy")["status"], "exited");

    // An operator's stop is never undone.
    env.fleet(&["stop", "steady"]).success();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.row("steady")["status"], "missing");

    // The tmux server killed: what may come back is back, with its record.
    env.fleet(&["start", "steady"]).success();
    env.wait_status("steady", "running");
    env.tmux(&["kill-server"]);
    assert!(
        wait_until(Duration::from_secs(6), || env.server_running()
            && env.row("steady")["status"] == "running"),
        "steady not back after kill-server"
    );
    assert_eq!(env.row("steady")["runtime"], "stub");
    drop(supervisor);
}

#[test]
fn an_agent_that_keeps_dying_backs_off_then_is_crashloop() {
    let env = TestEnv::new();
    env.write_fleet(
        "[runtimes.crasher]\ncommand = \"sh -c 'sleep 0.3; exit 3'\"\nprocesses = [\"sh\"]\n\n[agents.crashy]\nruntime = \"crasher\"\nrestart = \"on-failure\"\n",
    );
    let supervisor = env.spawn(&["supervise"], &[]);
    let line = supervisor
        .until(Duration::from_secs(40), |l| l.contains("crashy  crashloop"))
        .unwrap_or_else(|| panic!("never gave up"));
    assert!(line.contains("fleet restart crashy"), "{line}");
    assert_eq!(env.row("crashy")["status"], "crashloop");
    // The waits between launches grew: 0, 1, 2, 4, 8 s (plus jitter).
    let events = env.events(&["crashy"]);
    let launches: Vec<i64> = events
        .iter()
        .filter(|e| e["event"] == "restarted")
        .filter_map(|e| e["time"].as_str().and_then(millis))
        .collect();
    assert_eq!(launches.len(), 5, "{events:#?}");
    let gaps: Vec<i64> = launches.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "the waits did not grow: {gaps:?}"
    );
    assert!(events.iter().any(|e| e["event"] == "crashloop"));
    // Given up: nothing more is tried.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.row("crashy")["restarts"], 5);
    drop(supervisor);
}

fn millis(time: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(time).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

#[test]
fn a_fleet_file_edit_starts_what_it_adds_and_stops_nothing() {
    let env = TestEnv::new();
    env.write_fleet("[agents.first]\nruntime = \"stub\"\n");
    let supervisor = env.spawn(&["supervise"], &[]);
    supervisor
        .until(Duration::from_secs(10), |l| l.contains("first  now"))
        .unwrap_or_else(|| panic!("the supervisor never looked"));
    // Broken: said, and nothing stopped.
    std::thread::sleep(Duration::from_millis(1100));
    env.write_fleet("[agents.first\nruntime = \"stub\"\n");
    supervisor
        .until(Duration::from_secs(10), |l| {
            l.contains("fleet file does not read")
        })
        .unwrap_or_else(|| panic!("a broken file went unsaid"));
    assert_eq!(env.row("first")["status"], "running");
    // Fixed, with an agent more and the first gone from it.
    std::thread::sleep(Duration::from_millis(1100));
    env.write_fleet("[agents.second]\nruntime = \"stub\"\n");
    supervisor
        .until(Duration::from_secs(10), |l| {
            l.contains("first  no longer declared: left running")
        })
        .unwrap_or_else(|| panic!("the edit went unseen"));
    env.wait_status("second", "running");
    assert_eq!(env.row("first")["status"], "running");
    drop(supervisor);
}

#[test]
fn notify_runs_on_transitions_and_a_hanging_one_never_holds_supervision() {
    let env = TestEnv::new();
    let out = env.root().join("told");
    env.write_fleet(&format!(
        "[agents.watched]\nruntime = \"stub\"\nrestart = \"always\"\n\n\
         [notify]\non = [\"exited\", \"restarted\"]\ntimeout = \"1s\"\n\
         command = [\"sh\", \"-c\", \"cat >> {out}; echo \\\"$FLEET_AGENT $FLEET_EVENT $FLEET_EXIT_CODE\\\" >> {out}; sleep 30\"]\n",
        out = out.display()
    ));
    let supervisor = env.spawn(&["supervise"], &[]);
    supervisor
        .until(Duration::from_secs(10), |l| l.contains("watched  now"))
        .unwrap_or_else(|| panic!("the supervisor never looked"));
    env.type_line("watched", "exit 7");
    // The notifier hangs for 30 s; the relaunch does not wait for it.
    assert!(
        wait_until(Duration::from_secs(5), || restarts(&env, "watched") == 1
            && env.row("watched")["status"] == "running"),
        "not relaunched while the notifier hung"
    );
    assert!(wait_until(Duration::from_secs(5), || {
        let told = std::fs::read_to_string(&out).unwrap_or_default();
        told.contains("watched exited 7") && told.contains("watched restarted")
    }));
    let told = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(told.contains("\"event\":\"exited\""), "{told}");
    // Said at the supervisor's next round after the notifier's timeout
    // (a round comes at a change, or every 5 s).
    supervisor
        .until(Duration::from_secs(12), |l| {
            l.contains("notify") && l.contains("was killed")
        })
        .unwrap_or_else(|| panic!("the hung notifier went unsaid"));
}

#[test]
fn many_dying_at_once_come_back_spread_and_a_killed_supervisor_doubles_nothing() {
    let env = TestEnv::new();
    let mut text = String::new();
    for i in 0..12 {
        text.push_str(&format!(
            "[agents.m{i:02}]\nruntime = \"stub\"\nrestart = \"on-failure\"\n\n"
        ));
    }
    env.write_fleet(&text);
    let mut supervisor = env.spawn(&["supervise"], &[]);
    supervisor
        .until(Duration::from_secs(15), |l| l.contains("m11  now"))
        .unwrap_or_else(|| panic!("the supervisor never looked"));
    // All twelve die together.
    let pids = env.tmux_out(&["list-panes", "-a", "-F", "#{pane_pid}"]);
    for pid in pids.split_whitespace() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", pid])
            .status();
    }
    let mut waits = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while waits.len() < 12 && Instant::now() < deadline {
        if let Some(line) = supervisor.line(Duration::from_millis(500))
            && let Some(rest) = line.split("relaunching in ").nth(1)
        {
            waits.push(rest.split('s').next().unwrap_or("").to_string());
        }
    }
    assert_eq!(waits.len(), 12, "{waits:?}");
    let distinct: std::collections::BTreeSet<&String> = waits.iter().collect();
    assert!(distinct.len() > 3, "not spread: {waits:?}");
    assert!(
        wait_until(Duration::from_secs(8), || env
            .ps()
            .iter()
            .all(|r| r["status"] == "running" && r["restarts"] == 1)),
        "not all back once: {:#?}",
        env.ps()
    );
    // The supervisor killed outright, a new one started at once: nothing
    // is launched twice, nothing is lost.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &supervisor.pid().to_string()])
        .status();
    // Gone (as the kernel says, and reaped) before the next one starts:
    // a supervisor still alive would rightly refuse a second.
    assert!(wait_until(Duration::from_secs(5), || !supervisor.alive()));
    let again = env.spawn(&["supervise"], &[]);
    again
        .until(Duration::from_secs(15), |l| l.contains("m11  now"))
        .unwrap_or_else(|| panic!("a new supervisor did not start"));
    let rows = env.ps();
    assert_eq!(rows.len(), 12, "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r["status"] == "running" && r["restarts"] == 1),
        "{rows:#?}"
    );
    let sessions = env.tmux_out(&["list-sessions", "-F", "#{session_name}"]);
    assert_eq!(sessions.lines().count(), 12, "{sessions}");
}

#[test]
fn a_new_supervisor_keeps_stops_policies_and_crash_loops_and_up_clears_a_crash_loop() {
    let env = TestEnv::new();
    env.write_fleet(
        "[runtimes.crasher]\ncommand = \"sh -c 'sleep 0.3; exit 3'\"\nprocesses = [\"sh\"]\n\n\
         [agents.kept]\nruntime = \"stub\"\nrestart = \"always\"\n\n\
         [agents.never]\nruntime = \"stub\"\nrestart = \"never\"\n\n\
         [agents.crashy]\nruntime = \"crasher\"\nrestart = \"on-failure\"\n",
    );
    let first = env.spawn(&["supervise"], &[]);
    first
        .until(Duration::from_secs(40), |l| l.contains("crashy  crashloop"))
        .unwrap_or_else(|| panic!("never gave up"));
    env.fleet(&["stop", "kept"]).success();
    env.type_line("never", "exit 5");
    env.wait_exit("never");
    drop(first);
    // A supervisor started again (systemd restarting the unit) undoes none
    // of it.
    let second = env.spawn(&["supervise"], &[]);
    second
        .until(Duration::from_secs(10), |l| l.contains("crashy  now"))
        .unwrap_or_else(|| panic!("the new supervisor never looked"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.row("kept")["status"], "missing");
    assert_eq!(env.row("never")["status"], "exited");
    assert_eq!(env.row("crashy")["status"], "crashloop");
    // `fleet up` relaunches the crash loop by hand, and the supervisor
    // counts afresh from there.
    let up = env.fleet(&["up", "crashy"]);
    assert!(!up.stdout.contains("left alone"), "{up:#?}");
    second
        .until(Duration::from_secs(10), |l| {
            l.contains("crashy  relaunching")
        })
        .unwrap_or_else(|| panic!("a crash loop cleared by hand was not supervised again"));
}

#[test]
fn sighup_rereads_the_file_and_sigterm_ends_the_supervisor_cleanly() {
    let env = TestEnv::new();
    env.write_fleet("[agents.one]\nruntime = \"stub\"\n");
    let mut supervisor = env.spawn(&["supervise"], &[]);
    supervisor
        .until(Duration::from_secs(10), |l| l.contains("one  now"))
        .unwrap_or_else(|| panic!("the supervisor never looked"));
    let signal = |sig: &str, pid: u32| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(signal("-HUP", supervisor.pid()));
    supervisor
        .until(Duration::from_secs(5), |l| {
            l.contains("fleet file read again")
        })
        .unwrap_or_else(|| panic!("SIGHUP did not reread the file"));
    assert!(supervisor.alive(), "SIGHUP ended the supervisor");
    assert!(signal("-TERM", supervisor.pid()));
    assert!(
        wait_until(Duration::from_secs(5), || !supervisor.alive()),
        "SIGTERM did not end it"
    );
    assert_eq!(
        env.row("one")["status"],
        "running",
        "the agent went with it"
    );
}

#[test]
fn the_status_line_names_who_needs_a_human() {
    let env = TestEnv::new();
    env.write_fleet(
        "[agents.asker]\nruntime = \"stub\"\n\n[agents.quitter]\nruntime = \"stub\"\n\n[agents.fine]\nruntime = \"stub\"\n\n[agents.later]\nruntime = \"stub\"\n",
    );
    env.fleet(&["up", "asker", "quitter", "fine"]).success();
    env.wait_screen("asker", "type: work");
    env.type_line("asker", "ask");
    env.wait_row("asker", "waiting", |r| r["activity"] == "waiting");
    env.type_line("quitter", "exit 2");
    env.wait_exit("quitter");
    let line = env.fleet(&["status-line"]).success().stdout;
    assert_eq!(
        line.trim(),
        "fleet 2 running · 1 waiting (asker) · 1 exited (quitter) · 1 missing (later)",
        "{line}"
    );
}
