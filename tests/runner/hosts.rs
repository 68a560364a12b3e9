//! Many hosts, one fleet: the real `fleet` here against real OpenSSH hosts
//! on loopback ([`SshLab`]), each running the real `fleet` as its own user
//! with its own tmux server.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Terminal, TestEnv, wait_until};
use crate::sshlab::{SshHost, SshLab};

/// A test environment whose `fleet` reaches the lab's hosts.
pub(crate) fn env_for(lab: &SshLab) -> TestEnv {
    let mut env = TestEnv::new();
    for (k, v) in lab.env() {
        env.set(&k, &v);
    }
    env
}

/// A test fleet: the lab's hosts, a local agent, and `per_host` stub agents
/// on each host (workdir `~`: each host's own home).
fn fleet_over(lab: &SshLab, per_host: usize) -> (TestEnv, String) {
    let env = env_for(lab);
    let mut text =
        String::from("[defaults]\nruntime = \"stub\"\nworkdir = \"~\"\n\n[agents.home1]\n\n");
    for h in lab.hosts() {
        for i in 1..=per_host {
            text.push_str(&format!(
                "[agents.{}a{i}]\nhost = \"{}\"\n\n",
                h.name, h.name
            ));
        }
    }
    text.push_str(&lab.hosts_toml());
    env.write_fleet(&text);
    (env, text)
}

/// The sessions on a host's own fleet server.
fn remote_sessions(host: &SshHost) -> Vec<String> {
    let out = host.run(&[
        "tmux",
        "-L",
        "mosaic-fleet",
        "list-sessions",
        "-F",
        "#{session_name}",
    ]);
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn rows(stdout: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(stdout)
        .unwrap_or_else(|e| panic!("ps --json does not read ({e}):\n{stdout}"))
}

fn row<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:#?}"))
}

#[test]
fn up_ps_down_across_three_hosts() {
    let lab = SshLab::new(&["h1", "h2", "h3"]);
    let (env, _) = fleet_over(&lab, 2);
    let up = env.fleet(&["up"]).success();
    for name in ["home1", "h1a1", "h1a2", "h2a1", "h2a2", "h3a1", "h3a2"] {
        assert!(
            up.stdout.contains(&format!("{name}  started")),
            "{name} not started:\n{up:#?}"
        );
    }
    for h in lab.hosts() {
        assert_eq!(
            remote_sessions(h),
            vec![format!("{}a1", h.name), format!("{}a2", h.name)],
            "{}'s own tmux server holds its agents, and only them",
            h.name
        );
    }
    let ps = env.fleet(&["ps", "--json"]).success();
    let all = rows(&ps.stdout);
    assert_eq!(all.len(), 7, "{all:#?}");
    for h in lab.hosts() {
        for i in 1..=2 {
            let r = row(&all, &format!("{}a{i}", h.name));
            assert_eq!(r["host"], h.name.as_str());
            assert_eq!(r["status"], "running", "{r:#}");
            assert_eq!(
                r["workdir"],
                h.home.to_string_lossy().as_ref(),
                "~ is the host's own home"
            );
        }
    }
    assert_eq!(row(&all, "home1")["status"], "running");
    // The table has the HOST column with every host.
    let table = env.fleet(&["ps"]).success().stdout;
    for h in ["h1", "h2", "h3"] {
        assert!(table.contains(&format!("  {h}  ")), "{table}");
    }
    // --host narrows.
    let only = rows(
        &env.fleet(&["ps", "--json", "--host", "h2"])
            .success()
            .stdout,
    );
    let hosts: Vec<&str> = only.iter().filter_map(|r| r["host"].as_str()).collect();
    assert_eq!(hosts, vec!["h2", "h2"]);
    env.fleet(&["down", "--host", "h3"]).success();
    assert!(remote_sessions(lab.host("h3")).is_empty());
    assert_eq!(
        remote_sessions(lab.host("h1")).len(),
        2,
        "--host h3 left h1 alone"
    );
    let down = env.fleet(&["down"]).success();
    assert!(down.stdout.contains("h1a1  stopped"), "{down:#?}");
    for h in lab.hosts() {
        assert!(
            remote_sessions(h).is_empty(),
            "{} still has sessions",
            h.name
        );
    }
    // The second command reused the first one's connection (ssh's socket
    // under FLEET_HOME/ssh).
    let shared = std::fs::read_dir(env.root().join("state/ssh"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        shared >= 3,
        "one shared connection per host, found {shared}"
    );
}

#[test]
fn a_host_down_or_hanging_is_unreachable_in_bounded_time_and_the_rest_are_complete() {
    let lab = SshLab::new(&["h1", "h2", "h3"]);
    let (mut env, _) = fleet_over(&lab, 1);
    env.set("FLEET_HOST_TIMEOUT", "2s");
    env.fleet(&["up"]).success();
    // Drop shared connections, so that the hosts must be reached anew.
    let _ = std::fs::remove_dir_all(env.root().join("state/ssh"));
    lab.host("h2").stop();
    lab.host("h3").pause();
    let started = Instant::now();
    let ps = env.fleet(&["ps", "--json"]).failure(3);
    let took = started.elapsed();
    lab.host("h3").resume();
    assert!(
        took < Duration::from_millis(4000),
        "the bound is 2s, ps took {took:?}"
    );
    let all = rows(&ps.stdout);
    assert_eq!(row(&all, "h1a1")["status"], "running");
    assert_eq!(row(&all, "home1")["status"], "running");
    let h2 = row(&all, "h2a1");
    assert_eq!(h2["status"], "unreachable");
    assert!(
        h2["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("down"),
        "{h2:#}"
    );
    let h3 = row(&all, "h3a1");
    assert_eq!(h3["status"], "unreachable");
    assert!(
        h3["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("timeout"),
        "{h3:#}"
    );
    assert!(
        ps.stderr.contains("host h2 is unreachable")
            && ps.stderr.contains("host h3 is unreachable"),
        "{}",
        ps.stderr
    );
    // The table says why in a word.
    lab.host("h3").pause();
    let table = env.fleet(&["ps"]).failure(3).stdout;
    lab.host("h3").resume();
    let line = table
        .lines()
        .find(|l| l.starts_with("h3a1"))
        .unwrap_or_default();
    assert!(
        line.contains("unreachable") && line.contains("timeout"),
        "{table}"
    );
    // `up` does the rest and says what it could not reach.
    let up = env.fleet(&["up"]).failure(3);
    assert!(up.stderr.contains("up did not reach h2a1"), "{up:#?}");
    // `fleet hosts` names each with its reason.
    let hosts = env.fleet(&["hosts", "--json"]).failure(3);
    let reports: Vec<Value> = serde_json::from_str(&hosts.stdout).unwrap_or_default();
    let h2 = reports
        .iter()
        .find(|r| r["host"] == "h2")
        .cloned()
        .unwrap_or_default();
    assert_eq!(h2["reachable"], false, "{reports:#?}");
    let h1 = reports
        .iter()
        .find(|r| r["host"] == "h1")
        .cloned()
        .unwrap_or_default();
    assert_eq!(h1["reachable"], true, "{reports:#?}");
    assert!(h1["tmux"].as_str().unwrap_or_default().starts_with("tmux "));
}

#[test]
fn awkward_argv_and_send_text_arrive_byte_for_byte() {
    let lab = SshLab::new(&["h1"]);
    let (env, _) = fleet_over(&lab, 1);
    let h1 = lab.host("h1");
    env.fleet(&["up"]).success();
    let awkward = [
        "two words",
        "$HOME",
        "`id`",
        "it's",
        "\"dq\"",
        "a;b|c&",
        "new\nline",
        "ünï",
    ];
    // A literal argv for an agent on h1: a shell script that records its
    // arguments, then stays (in front, as `sh`).
    let script = "printf '%s\\0' \"$@\" > \"$HOME/argv.bin\"; while :; do sleep 1; done";
    let mut args = vec!["start", "odd@h1", "--", "sh", "-c", script, "sh"];
    args.extend(awkward);
    env.fleet(&args).success();
    let got = std::fs::read(h1.home.join("argv.bin")).unwrap_or_default();
    let want: Vec<u8> = awkward
        .iter()
        .flat_map(|a| a.bytes().chain(std::iter::once(0)))
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "every argument arrived as it left"
    );
    // The agent lives on h1, and `ps` finds it there.
    let all = rows(&env.fleet(&["ps", "--json"]).success().stdout);
    assert_eq!(row(&all, "odd")["host"], "h1");
    // Typed text arrives as typed.
    let text = "echo $HOME `id` \"q\" 'x' ;|& \\ ünï";
    env.fleet(&["send", "h1a1", text]).success();
    let shown = wait_until(Duration::from_secs(5), || {
        let out = h1.run(&[
            "tmux",
            "-u",
            "-L",
            "mosaic-fleet",
            "capture-pane",
            "-p",
            "-t",
            "=h1a1:",
        ]);
        String::from_utf8_lossy(&out.stdout).contains(&format!("echo: {text}"))
    });
    let screen = h1.run(&[
        "tmux",
        "-u",
        "-L",
        "mosaic-fleet",
        "capture-pane",
        "-p",
        "-t",
        "=h1a1:",
    ]);
    assert!(
        shown,
        "the stub on h1 echoed the text exactly:\n{}",
        String::from_utf8_lossy(&screen.stdout)
    );
    let peek = env.fleet(&["peek", "h1a1"]).success();
    assert!(peek.stdout.contains(&format!("echo: {text}")), "{peek:#?}");
    // A model with `$`, quotes and `;` reaches the remote row unchanged.
    env.fleet(&["start", "modeled@h1", "--model", "m$HOME;'x'\"y\""])
        .success();
    let all = rows(&env.fleet(&["ps", "--json"]).success().stdout);
    assert_eq!(row(&all, "modeled")["model"], "m$HOME;'x'\"y\"");
    // Stop and explain reach it too; an unknown host is refused at once.
    env.fleet(&["explain", "odd@h1"]).success();
    env.fleet(&["stop", "odd@h1"]).success();
    env.fleet(&["stop", "odd@nowhere"])
        .one_line_error("host \"nowhere\" is not in the fleet file");
}

/// A stand-in for `fleet` on a host: a script, the host user's own, that
/// reads the request line and answers as told.
fn fake_fleet(host: &SshHost, name: &str, body: &str) -> String {
    let path = host.home.join(name);
    let script = format!("#!/bin/sh\nread -r request\n{body}\n");
    let out = host.run(&[
        "sh",
        "-c",
        "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"",
        "sh",
        &path.to_string_lossy(),
        &script,
    ]);
    assert!(out.status.success(), "{out:?}");
    path.to_string_lossy().into_owned()
}

#[test]
fn another_protocol_a_missing_fleet_and_hostile_answers_are_unreachable_with_the_reason() {
    let lab = SshLab::new(&["h1"]);
    let h1 = lab.host("h1");
    let cases = [
        (
            "newer",
            "echo '{\"fleet\":\"mosaic-fleet\",\"protocol\":99,\"version\":\"9.9.9\"}'",
            "version mismatch: fleet 9.9.9 on h1 speaks protocol 99",
            "upgrade this fleet",
        ),
        (
            "older",
            "echo \"error: unrecognized subcommand 'remote'\" >&2; exit 2",
            "version mismatch",
            "upgrade fleet on h1",
        ),
        (
            "banner",
            "printf '\\033]0;owned\\007\\033[31mWelcome\\n'",
            "bad answer",
            "not fleet's",
        ),
        (
            "garbage",
            "echo '{\"fleet\":\"mosaic-fleet\",\"protocol\":1,\"version\":\"0.1.0\"}'; printf '[{\"name\": \"\\033[2J\"'",
            "bad answer",
            "does not read",
        ),
        (
            "flood",
            "echo '{\"fleet\":\"mosaic-fleet\",\"protocol\":1,\"version\":\"0.1.0\"}'; yes ''",
            "bad answer",
            "more than fleet reads",
        ),
        (
            "failing",
            "echo '{\"fleet\":\"mosaic-fleet\",\"protocol\":1,\"version\":\"0.1.0\"}'; echo 'fleet: error: tmux was not found on PATH' >&2; exit 1",
            "its fleet failed",
            "tmux was not found",
        ),
        (
            "forged",
            "printf '%s\\n' '{\"fleet\":\"mosaic-fleet\",\"protocol\":1,\"version\":\"0.1.0\",\"error\":\"x\\nfleet: FAKE LINE\"}'",
            "bad answer",
            "x fleet: FAKE LINE",
        ),
    ];
    for (name, body, reason, fix) in cases {
        let fake = fake_fleet(h1, name, body);
        let env = env_for(&lab);
        env.write_fleet(&format!(
            "[agents.x]\nruntime = \"stub\"\nhost = \"h1\"\n\n[hosts.h1]\nssh = \"{}@127.0.0.1\"\nport = {}\nfleet = \"{fake}\"\n",
            h1.user, h1.port
        ));
        let started = Instant::now();
        let ps = env.fleet(&["ps", "--json"]);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: bounded, took {:?}",
            started.elapsed()
        );
        // A host whose fleet answered with an error failed; the others
        // did not answer.
        let want = if name == "failing" { 1 } else { 3 };
        let ps = ps.failure(want);
        assert!(
            !ps.stderr.contains("\nfleet: FAKE LINE"),
            "{name}: a host forged a line: {}",
            ps.stderr
        );
        let all = rows(&ps.stdout);
        let x = row(&all, "x");
        assert_eq!(x["status"], "unreachable", "{name}");
        let why = x["reason"].as_str().unwrap_or_default();
        assert!(why.contains(reason) && why.contains(fix), "{name}: {why}");
        if name == "failing" {
            // verify says the host's own error as a failed check (exit 1).
            let verify = env.fleet(&["verify", "--json"]).failure(1);
            let checks: Vec<Value> = serde_json::from_str(&verify.stdout).unwrap_or_default();
            let failed = checks
                .iter()
                .find(|c| c["host"] == "h1" && c["check"] == "fleet")
                .cloned()
                .unwrap_or_default();
            assert!(
                failed["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("tmux was not found"),
                "{verify:#?}"
            );
        }
        for out in [&ps.stdout, &ps.stderr] {
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{7}'),
                "{name}: raw escape: {out:?}"
            );
        }
    }
    // No fleet at that path, and a user the host refuses.
    let env = env_for(&lab);
    env.write_fleet(&format!(
        "[agents.x]\nruntime = \"stub\"\nhost = \"h1\"\n[agents.y]\nruntime = \"stub\"\nhost = \"h2\"\n\n[hosts.h1]\nssh = \"{}@127.0.0.1\"\nport = {}\nfleet = \"/nonexistent/fleet\"\n\n[hosts.h2]\nssh = \"nobody@127.0.0.1\"\nport = {}\n",
        h1.user, h1.port, h1.port
    ));
    let all = rows(&env.fleet(&["ps", "--json"]).failure(3).stdout);
    let x = row(&all, "x")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(x.starts_with("no fleet") && x.contains("[hosts.h1]"), "{x}");
    let y = row(&all, "y")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(y.starts_with("auth"), "{y}");
}

#[test]
fn a_request_of_another_protocol_is_refused_by_the_remote_fleet() {
    let env = TestEnv::new();
    let mut child = env
        .command(&["remote"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        let _ = stdin.write_all(
            br#"{"protocol":0,"version":"0.0.1","host":"h1","control":"laptop","argv":["ps"]}"#,
        );
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let hello: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(hello["fleet"], "mosaic-fleet");
    let error = hello["error"].as_str().unwrap_or_default();
    assert!(error.contains("upgrade fleet on laptop"), "{error}");
}

#[test]
fn watch_merges_hosts_and_says_when_one_goes_away_and_comes_back() {
    let lab = SshLab::new(&["h1", "h2"]);
    let (env, _) = fleet_over(&lab, 1);
    env.fleet(&["up"]).success();
    let watch = env.spawn(&["watch", "--json"], &[]);
    let event = |line: &str| serde_json::from_str::<Value>(line).unwrap_or_default();
    // Each host's present state arrives, in whatever order.
    let mut missing: Vec<&str> = vec!["h1", "h2"];
    let deadline = Instant::now() + Duration::from_secs(15);
    while !missing.is_empty() && Instant::now() < deadline {
        let Some(line) = watch.line(Duration::from_secs(1)) else {
            continue;
        };
        let e = event(&line);
        missing.retain(|h| !(e["host"] == *h && e["agent"] == format!("{h}a1").as_str()));
    }
    assert!(missing.is_empty(), "no present state from {missing:?}");
    // A change on h2 arrives, naming h2.
    env.fleet(&["stop", "h2a1"]).success();
    let stopped = watch.until(Duration::from_secs(10), |l| {
        let e = event(l);
        e["host"] == "h2" && e["agent"] == "h2a1" && e["event"] == "stopped"
    });
    assert!(stopped.is_some(), "h2's stop arrived");
    // h1 goes away: said once, then its return.
    lab.host("h1").stop();
    let gone = watch.until(Duration::from_secs(10), |l| {
        let e = event(l);
        e["host"] == "h1" && e["event"] == "unreachable"
    });
    assert!(gone.is_some(), "h1 going away was said");
    lab.host("h1").start();
    let back = watch.until(Duration::from_secs(40), |l| {
        let e = event(l);
        e["host"] == "h1" && e["event"] == "reachable"
    });
    assert!(back.is_some(), "h1 coming back was said");
    let again = watch.until(Duration::from_secs(10), |l| {
        let e = event(l);
        e["host"] == "h1" && e["agent"] == "h1a1" && e["snapshot"] == true
    });
    assert!(again.is_some(), "then h1's present state again");
}

#[test]
fn init_on_another_host_installs_a_supervisor_of_what_the_operator_sent() {
    let lab = SshLab::new(&["h1"]);
    let (env, _) = fleet_over(&lab, 1);
    let dry = env.fleet(&["init", "--host", "h1", "--dry-run"]);
    let text = format!("{}{}", dry.stdout, dry.stderr);
    assert!(
        text.contains("FLEET_SENT=") && text.contains("supervise"),
        "{dry:#?}"
    );
    let sent = lab
        .host("h1")
        .home
        .join(".local/state/mosaic-fleet/state/mosaic-fleet/sent.json");
    let kept: Value =
        serde_json::from_slice(&std::fs::read(&sent).unwrap_or_default()).unwrap_or_default();
    assert_eq!(kept["host"], "h1", "{kept:#}");
    assert!(
        kept["file"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("[agents.h1a1]")
    );
    // The supervisor reads it: `FLEET_SENT=… fleet supervise` brings up
    // h1's agents, and no other host's.
    let out = lab.host("h1").run(&[
        "sh",
        "-c",
        "FLEET_SENT=\"$1\" timeout 4 fleet supervise >/dev/null 2>&1; true",
        "sh",
        &sent.to_string_lossy(),
    ]);
    assert!(out.status.success());
    assert_eq!(remote_sessions(lab.host("h1")), vec!["h1a1".to_string()]);
}

/// `fleet attach ARGS` of an agent on another host, on a real terminal.
fn attach_there(env: &TestEnv, lab: &SshLab, args: &str, which: &str) -> Terminal {
    let script = format!(
        "env -i TERM=xterm HOME={home} PATH=/usr/bin:/bin FLEET_HOME={state} FLEET_SSH_CONFIG={cfg} {fleet} --file {file} attach {args}; sleep 300",
        home = env.home().display(),
        state = env.root().join("state").display(),
        cfg = lab.ssh_config().display(),
        fleet = crate::common::FLEET,
        file = env.work().join("fleet.toml").display(),
    );
    Terminal::start(env, which, 120, 30, &script)
}

#[test]
fn attach_across_ssh_is_read_only_unless_takeover() {
    let lab = SshLab::new(&["h1"]);
    let (env, _) = fleet_over(&lab, 1);
    env.fleet(&["up"]).success();
    let h1 = lab.host("h1");
    let remote_screen = || {
        let out = h1.run(&[
            "tmux",
            "-u",
            "-L",
            "mosaic-fleet",
            "capture-pane",
            "-p",
            "-t",
            "=h1a1:",
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(wait_until(Duration::from_secs(5), || remote_screen()
        .contains("anything else is echoed")));
    let viewer = attach_there(&env, &lab, "h1a1", "viewer");
    let shown = wait_until(Duration::from_secs(10), || {
        viewer.screen().contains("anything else is echoed")
    });
    assert!(shown, "the viewer shows h1's agent:\n{}", viewer.screen());
    viewer.type_line("typed-by-viewer");
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !remote_screen().contains("typed-by-viewer"),
        "{}",
        remote_screen()
    );
    drop(viewer);
    let driver = attach_there(&env, &lab, "--takeover h1a1", "driver");
    let shown = wait_until(Duration::from_secs(10), || {
        driver.screen().contains("anything else is echoed")
    });
    assert!(shown, "{}", driver.screen());
    driver.type_line("typed-by-operator");
    assert!(
        wait_until(Duration::from_secs(5), || remote_screen()
            .contains("echo: typed-by-operator")),
        "{}",
        remote_screen()
    );
    // The takeover is recorded on h1, and `events` here shows it.
    let events = env.fleet(&["events", "--json", "h1a1"]).success();
    assert!(events.stdout.contains("\"takeover\""), "{events:#?}");
}

#[test]
fn a_host_that_stalls_after_hello_or_floods_rows_is_bounded_and_its_rows_checked() {
    let lab = SshLab::new(&["h1"]);
    let h1 = lab.host("h1");
    let hello = "echo '{\"fleet\":\"mosaic-fleet\",\"protocol\":1,\"version\":\"0.1.0\"}'";
    let stall = fake_fleet(h1, "stall", &format!("{hello}; sleep 60"));
    let long = "n".repeat(5000);
    let hostile = fake_fleet(
        h1,
        "hostile",
        &format!(
            "{hello}; printf '%s' '[{{\"name\":\"x\",\"host\":\"elsewhere\",\"runtime\":\"stub\",\"model\":\"{long}\",\"effort\":null,\"status\":\"running\",\"exit_code\":null,\"activity\":null,\"idle_seconds\":null,\"pane_command\":\"a\\u202eb\",\"started_at\":null,\"uptime_seconds\":null,\"restarts\":0,\"declared\":true,\"workdir\":null}},{{\"name\":\"home1\",\"host\":\"h1\",\"runtime\":null,\"model\":null,\"effort\":null,\"status\":\"running\",\"exit_code\":null,\"activity\":null,\"idle_seconds\":null,\"pane_command\":null,\"started_at\":null,\"uptime_seconds\":null,\"restarts\":0,\"declared\":true,\"workdir\":null}},{{\"name\":\"bad\\u001b[2Jname\",\"host\":\"h1\",\"runtime\":null,\"model\":null,\"effort\":null,\"status\":\"running\",\"exit_code\":null,\"activity\":null,\"idle_seconds\":null,\"pane_command\":null,\"started_at\":null,\"uptime_seconds\":null,\"restarts\":0,\"declared\":true,\"workdir\":null}}]'"
        ),
    );
    let file = |fleet: &str| {
        format!(
            "[agents.home1]\nruntime = \"stub\"\n[agents.x]\nruntime = \"stub\"\nhost = \"h1\"\n\n[hosts.h1]\nssh = \"{}@127.0.0.1\"\nport = {}\nfleet = \"{fleet}\"\ntimeout = \"1s\"\n",
            h1.user, h1.port
        )
    };
    let env = env_for(&lab);
    // Hello, then nothing: bounded by the timeout and the margin for work.
    env.write_fleet(&file(&stall));
    let started = Instant::now();
    let ps = env.fleet(&["ps", "--json"]).failure(3);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(14), "took {took:?}");
    let x = row(&rows(&ps.stdout), "x").clone();
    assert!(
        x["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("its fleet answered, then did not finish"),
        "{x:#}"
    );
    // `wait --timeout` holds on this side too.
    let started = Instant::now();
    env.fleet(&["wait", "x", "--until", "idle", "--timeout", "1s"]);
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "wait took {:?}",
        started.elapsed()
    );
    // Rows it has no business giving are left out; the rest is cut and
    // made safe.
    env.write_fleet(&file(&hostile));
    let ps = env.fleet(&["ps", "--json"]).success();
    let all = rows(&ps.stdout);
    let names: Vec<&str> = all.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, vec!["home1", "x"], "{ps:#?}");
    let x = row(&all, "x");
    assert_eq!(x["host"], "h1");
    assert!(x["model"].as_str().unwrap_or_default().chars().count() <= 201);
    assert!(
        ps.stderr
            .contains("h1: warning: it reported an agent \"home1\" that is not its own"),
        "{}",
        ps.stderr
    );
    let table = env.fleet(&["ps"]).success();
    assert!(!table.stdout.contains('\u{202e}') && !table.stdout.contains('\u{1b}'));
    assert!(!table.stderr.contains('\u{1b}'), "{}", table.stderr);
}

#[test]
fn a_login_greeting_before_fleet_is_skipped_and_nothing_lingers_after_watch() {
    let lab = SshLab::new(&["h1"]);
    let h1 = lab.host("h1");
    let path = h1.home.join("greeting");
    let script = format!(
        "#!/bin/sh\necho 'Welcome to h1'\nexec {} \"$@\"\n",
        h1.fleet_path().display()
    );
    let out = h1.run(&[
        "sh",
        "-c",
        "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"",
        "sh",
        &path.to_string_lossy(),
        &script,
    ]);
    assert!(out.status.success());
    let env = env_for(&lab);
    env.write_fleet(&format!(
        "[agents.x]\nruntime = \"stub\"\nworkdir = \"~\"\nhost = \"h1\"\n\n[hosts.h1]\nssh = \"{}@127.0.0.1\"\nport = {}\nfleet = \"{}\"\n",
        h1.user,
        h1.port,
        path.display()
    ));
    env.fleet(&["up"]).success();
    let all = rows(&env.fleet(&["ps", "--json"]).success().stdout);
    assert_eq!(row(&all, "x")["status"], "running");
    // A watch killed outright leaves nothing running on the host.
    let remote_fleets = || {
        let out = h1.run(&["pgrep", "-u", &h1.user, "-f", "remote$"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let watch = env.spawn(&["watch", "--json"], &[]);
    assert!(
        watch
            .until(Duration::from_secs(10), |l| l.contains("\"x\""))
            .is_some()
    );
    assert!(remote_fleets() >= 1, "the watch runs on h1");
    drop(watch);
    assert!(
        wait_until(Duration::from_secs(5), || remote_fleets() == 0),
        "a remote fleet outlived the watch"
    );
    // NAME@HOST cannot move a declared agent.
    env.fleet(&["explain", "x@localhost"])
        .failure(2)
        .one_line_error("agent x lives on h1 (the fleet file places it there)");
}
