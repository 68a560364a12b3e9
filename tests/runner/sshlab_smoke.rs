//! The ssh lab itself: real sshd hosts on loopback, each its own user.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::wait_until;
use crate::sshlab::SshLab;

/// `ssh -F LAB_CONFIG args...` as the tests' user, with a bare env.
fn ssh_command(lab: &SshLab, args: &[&str]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-F")
        .arg(lab.ssh_config())
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null());
    cmd
}

fn ssh(lab: &SshLab, args: &[&str]) -> Output {
    ssh_command(lab, args).output().expect("run ssh")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(out.status.success(), "expected success: {out:#?}");
    stdout(&out)
}

/// The live processes (zombies left out: they wait for pid 1, which may
/// take its time) with effective uid `uid`, as (pid, command name).
fn live(uid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for pid in std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
    {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|rest| rest.split_whitespace().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let ours = field("Uid:").get(1) == Some(&uid.to_string().as_str());
        if ours && field("State:").first() != Some(&"Z") {
            found.push((pid, field("Name:").join(" ")));
        }
    }
    found
}

/// When a process started, in clock ticks since boot (`/proc/PID/stat`).
fn started_at(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is field 3, start 22.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Now, in the same ticks (`/proc/uptime`, at 100 per second).
fn ticks_now() -> u64 {
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    let secs: f64 = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    (secs * 100.0) as u64
}

/// The live processes of `uid` that started before `ticks`: a uid freed by
/// userdel may already be another test's new user.
fn live_before(uid: u32, ticks: u64) -> Vec<(u32, String)> {
    live(uid)
        .into_iter()
        .filter(|(pid, _)| started_at(*pid).is_some_and(|t| t < ticks))
        .collect()
}

fn sleeping(uid: u32) -> bool {
    live(uid).iter().any(|(_, name)| name == "sleep")
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id")
        .args(["-u", user])
        .output()
        .expect("run id");
    ok(out).parse().expect("a uid")
}

fn exists(user: &str) -> bool {
    Command::new("getent")
        .args(["passwd", user])
        .stdout(Stdio::null())
        .status()
        .expect("run getent")
        .success()
}

fn group_exists(group: &str) -> bool {
    Command::new("getent")
        .args(["group", group])
        .stdout(Stdio::null())
        .status()
        .expect("run getent")
        .success()
}

#[test]
fn hosts_are_their_own_users_with_fleet_on_path_and_their_own_tmux() {
    let lab = SshLab::new(&["h1", "h2"]);
    let (h1, h2) = (lab.host("h1"), lab.host("h2"));
    assert_ne!(h1.user, h2.user);
    assert_ne!(h1.port, h2.port);

    assert_eq!(ok(ssh(&lab, &["h1", "id", "-un"])), h1.user);
    assert_eq!(ok(ssh(&lab, &["h2", "id", "-un"])), h2.user);
    // The form the fleet file declares, USER@127.0.0.1 and a port, gets
    // the lab's key and known hosts too.
    let dest = format!("{}@127.0.0.1", h2.user);
    let port = h2.port.to_string();
    assert_eq!(ok(ssh(&lab, &["-p", &port, &dest, "id", "-un"])), h2.user);

    let version = ok(ssh(&lab, &["h1", "fleet", "--version"]));
    assert!(version.contains("fleet"), "{version}");
    let fleet = h1.fleet_path();
    let fleet = fleet.to_str().expect("UTF-8 path");
    assert_eq!(ok(ssh(&lab, &["h1", fleet, "--version"])), version);
    assert_eq!(ok(h1.run(&[fleet, "--version"])), version);
    assert_eq!(ok(h1.run(&["fleet", "--version"])), version);
    assert!(
        Path::new(fleet).with_file_name("fleet-stub").exists(),
        "fleet-stub next to fleet"
    );

    // run() has the env an ssh login has.
    let probe = "echo $HOME $USER $LOGNAME $PATH $TMUX_TMPDIR $LANG; pwd";
    let over_ssh = ok(ssh(&lab, &["h1", probe]));
    assert_eq!(ok(h1.run(&["sh", "-c", probe])), over_ssh);
    assert!(over_ssh.contains(&*h1.home.to_string_lossy()), "{over_ssh}");
    assert!(over_ssh.contains("C.UTF-8"), "{over_ssh}");

    // A tmux server started over ssh is the host's alone.
    ok(ssh(
        &lab,
        &[
            "h1",
            "tmux",
            "-L",
            "lab",
            "new-session",
            "-d",
            "-s",
            "s1",
            "sleep 300",
        ],
    ));
    assert!(ok(h1.run(&["tmux", "-L", "lab", "list-sessions"])).starts_with("s1:"));
    assert!(
        !h2.run(&["tmux", "-L", "lab", "list-sessions"])
            .status
            .success()
    );

    let toml_text = lab.hosts_toml();
    let parsed: toml::Table = toml::from_str(&toml_text).expect("hosts_toml parses");
    let h1_table = &parsed["hosts"]["h1"];
    assert_eq!(
        h1_table["ssh"].as_str(),
        Some(format!("{}@127.0.0.1", h1.user).as_str())
    );
    assert_eq!(h1_table["port"].as_integer(), Some(i64::from(h1.port)));
    assert_eq!(h1_table["fleet"].as_str(), Some(fleet));
    assert_eq!(
        lab.env(),
        vec![(
            "FLEET_SSH_CONFIG".to_string(),
            lab.ssh_config().to_string_lossy().into_owned()
        )]
    );
}

#[test]
fn a_paused_host_hangs_and_a_stopped_one_refuses() {
    let lab = SshLab::new(&["h1", "h2"]);
    let h1 = lab.host("h1");
    ok(ssh(&lab, &["h1", "true"]));

    h1.pause();
    let t = Instant::now();
    let out = ssh(&lab, &["-o", "ConnectTimeout=2", "h1", "true"]);
    let took = t.elapsed();
    eprintln!("sshlab: ssh gave up on a paused host in {took:?}");
    assert!(!out.status.success(), "a paused host let ssh in: {out:#?}");
    assert!(
        took < Duration::from_millis(3500),
        "ssh took {took:?} to give up"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", h1.port)).is_ok(),
        "TCP connects"
    );
    ok(ssh(&lab, &["h2", "true"]));
    h1.resume();
    ok(ssh(&lab, &["-o", "ConnectTimeout=5", "h1", "true"]));

    // stop() ends the sessions with the listener.
    let mut session = ssh_command(&lab, &["h1", "sleep 60"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ssh");
    let uid = uid_of(&h1.user);
    let ran = wait_until(Duration::from_secs(10), || sleeping(uid));
    assert!(ran, "the remote sleep never ran");
    h1.stop();
    let t = Instant::now();
    let ended = wait_until(Duration::from_secs(5), || {
        matches!(session.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = session.kill();
    }
    let _ = session.wait();
    assert!(ended, "the ssh session outlived stop()");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        TcpStream::connect(("127.0.0.1", h1.port)).is_err(),
        "port refuses"
    );
    assert!(!ssh(&lab, &["h1", "true"]).status.success());
    assert!(!sleeping(uid), "the session's command outlived stop()");

    h1.start();
    assert_eq!(ok(ssh(&lab, &["h1", "id", "-un"])), h1.user);
}

#[test]
fn dropping_the_lab_leaves_no_user_process_or_dir_even_after_a_panic() {
    let t = Instant::now();
    let lab = SshLab::new(&["h1", "h2", "h3"]);
    eprintln!("sshlab: 3 hosts ready in {:?}", t.elapsed());
    // Each user, and a moment after its processes started and before it
    // was deleted.
    let mut left: Vec<(String, u32, PathBuf, u64)> = Vec::new();
    for name in ["h1", "h2", "h3"] {
        let h = lab.host(name);
        // A daemon (tmux) and a background process of the user's.
        ok(ssh(
            &lab,
            &[name, "tmux", "-L", "d", "new-session", "-d", "sleep 300"],
        ));
        ok(h.run(&["sh", "-c", "sleep 300 >/dev/null 2>&1 &"]));
        let uid = uid_of(&h.user);
        let names: Vec<String> = live(uid).into_iter().map(|(_, n)| n).collect();
        for name in ["sshd", "tmux: server", "sleep"] {
            assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
        }
        left.push((h.user.clone(), uid, h.home.clone(), 0));
    }
    let t = Instant::now();
    let before = ticks_now() + 1;
    for entry in &mut left {
        entry.3 = before;
    }
    drop(lab);
    eprintln!("sshlab: 3 hosts gone in {:?}", t.elapsed());

    // And a lab dropped while a test panics.
    let mut panicked = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = SshLab::new(&["h1"]);
        let h = lab.host("h1");
        ok(ssh(&lab, &["h1", "true"]));
        panicked = Some((
            h.user.clone(),
            uid_of(&h.user),
            h.home.clone(),
            ticks_now() + 1,
        ));
        panic!("a test failing with a lab (expected)");
    }));
    assert!(result.is_err());
    left.push(panicked.expect("the lab started"));

    for (user, uid, home, before) in left {
        assert!(!exists(&user), "user {user} left");
        assert!(!group_exists(&user), "group {user} left");
        assert_eq!(
            live_before(uid, before),
            Vec::new(),
            "processes of {user} left"
        );
        let lab_dir = home.ancestors().nth(2).expect("LAB/host-NAME/home");
        assert!(!lab_dir.exists(), "{} left", lab_dir.display());
    }
}
