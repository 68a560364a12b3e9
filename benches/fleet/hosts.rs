//! The multi-host row: `fleet ps --json` over three loopback ssh hosts of
//! 100 stub agents each, against the same of one such host, cold (no
//! shared ssh connection yet: each run opens a new one) and warm (the
//! shared ControlMaster connection is there), with the raw ssh floors.
//!
//! The hosts are the tests' [`SshLab`]: real sshd's on 127.0.0.1, each its
//! own Unix user, so this row needs root; without it the row says so and
//! is skipped. Everything it made is undone when it ends, also when it
//! panics (the lab's drop, and [`Masters`]' for the shared connections).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mosaic_fleet::core::host::hostname;
use mosaic_fleet::core::host::remote::{PROTOCOL, Request, SentFile, VERSION};

use crate::common::wait_until;
use crate::sshlab::{SshHost, SshLab};
use crate::{AGENTS, Bench, RUNS, median, ms};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

pub fn row() {
    println!();
    if !rustix::process::geteuid().is_root() {
        println!(
            "!!! SKIPPED: fleet ps --json across ssh hosts. The row makes a Unix user per \
             host: run the bench as root."
        );
        return;
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        println!(
            "!!! SKIPPED: fleet ps --json across ssh hosts. /usr/sbin/sshd is missing: \
             install openssh-server (scripts/ensure-deps.sh tests)."
        );
        return;
    }
    let began = Instant::now();
    // Dropped in reverse: the shared connections, the bench's dirs, then
    // the hosts (their users, sshd's and tmux servers).
    let lab = SshLab::new(&HOSTS);
    let mut bench = Bench::new();
    bench.extra_env = lab.env();
    let masters = Masters::new(&bench, &lab);

    let all = write_fleet(&bench, "all.toml", lab.hosts());
    let one = write_fleet(&bench, "one.toml", &lab.hosts()[..1]);
    bench.fleet_env(&["--file", &all, "up"], &[("FLEET_START_GRACE", "0")]);
    let rows = bench.fleet_out(&["--file", &all, "ps", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).expect("ps --json reads");
    let running = rows.iter().filter(|r| r["status"] == "running").count();
    assert_eq!(
        running,
        HOSTS.len() * AGENTS,
        "not every agent runs after up: {rows:#?}"
    );
    // Screens as the quiet fleet's: unchanged since the last ps read them.
    std::thread::sleep(Duration::from_millis(1100));
    bench.fleet(&["--file", &all, "ps", "--json"]);
    bench.fleet(&["--file", &one, "ps", "--json"]);

    // Cold: the shared connections closed before each run, and the run's
    // own (new) ones checked to be there after it. Three hosts and one
    // taking turns, so that both see the same machine.
    let mut seen = BTreeSet::new();
    let mut cold = |file: &str, hosts: usize| {
        masters.close();
        let took = bench.fleet(&["--file", file, "ps", "--json"]);
        let now = masters.pids();
        assert_eq!(
            now.len(),
            hosts,
            "a cold ps --json over {hosts} host(s) left {} shared connection(s) \
             (is {} short enough for a ControlPath?)",
            now.len(),
            masters.dir.display()
        );
        assert!(
            now.is_disjoint(&seen),
            "a cold run reused a shared connection: {now:?}"
        );
        seen.extend(now);
        took
    };
    let (mut cold_all, mut cold_one) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        cold_all.push(cold(&all, HOSTS.len()));
        cold_one.push(cold(&one, 1));
    }

    // Warm: the connections of one run serve all the others.
    bench.fleet(&["--file", &all, "ps", "--json"]);
    let before = masters.pids();
    assert_eq!(
        before.len(),
        HOSTS.len(),
        "no shared connections: {before:?}"
    );
    let (mut warm_all, mut warm_one) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        warm_all.push(bench.fleet(&["--file", &all, "ps", "--json"]));
        warm_one.push(bench.fleet(&["--file", &one, "ps", "--json"]));
    }
    // The floors, over the warm connections: ssh alone, ssh with the very
    // request fleet sends h1 for `ps --json` of the one-host file, and the
    // three requests of the three-host file at once.
    let h1 = &lab.hosts()[0];
    let remote = |h: &SshHost| format!("{} remote", h.fleet_path().display());
    let ssh_true = median(
        (0..RUNS)
            .map(|_| masters.ssh(&[(h1, "true".into(), Vec::new())]))
            .collect(),
    );
    let one_call = [(h1, remote(h1), request(&one, h1))];
    let ssh_one = median((0..RUNS).map(|_| masters.ssh(&one_call)).collect());
    let all_calls: Vec<_> = lab
        .hosts()
        .iter()
        .map(|h| (h, remote(h), request(&all, h)))
        .collect();
    let ssh_all = median((0..RUNS).map(|_| masters.ssh(&all_calls)).collect());
    let after = masters.pids();
    assert_eq!(before, after, "a warm run opened a new shared connection");
    // And ssh alone, on a connection of its own each time.
    let ssh_new = median((0..RUNS).map(|_| masters.ssh_unshared(h1)).collect());

    let (cold_all, cold_one) = (median(cold_all), median(cold_one));
    let (warm_all, warm_one) = (median(warm_all), median(warm_one));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "ps --json across hosts: {} loopback ssh hosts x {AGENTS} stub agents, against 1 such host,\n\
         median of {RUNS} runs; the hosts share this machine's {} cores\n",
        HOSTS.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<38} {:>10}  {:>7}  goal", "measure", "time", "ratio");
    println!(
        "{:<38} {:>10}  {:>7}  baseline",
        "fleet ps --json, 1 host, warm",
        ms(warm_one),
        "1.00x"
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  <= 1.5x 1 host, warm",
        format!("fleet ps --json, {} hosts, warm", HOSTS.len()),
        ms(warm_all),
        ratio(warm_all, warm_one)
    );
    println!(
        "{:<38} {:>10}  {:>7}  baseline",
        "fleet ps --json, 1 host, cold",
        ms(cold_one),
        "1.00x"
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  <= 1.5x 1 host, cold",
        format!("fleet ps --json, {} hosts, cold", HOSTS.len()),
        ms(cold_all),
        ratio(cold_all, cold_one)
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (cold/warm, 1 host: a new connection, +{})",
        "  1 host, cold against warm",
        ms(cold_one),
        ratio(cold_one, warm_one),
        ms(cold_one.saturating_sub(warm_one))
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (cold/warm, {} hosts)",
        format!("  {} hosts, cold against warm", HOSTS.len()),
        ms(cold_all),
        ratio(cold_all, warm_all),
        HOSTS.len()
    );
    let floor = |what: &str, took: Duration, of: &str, fleet: Duration| {
        println!(
            "{:<38} {:>10}  {:>7}  floor ({of}: {:.2}x this)",
            what,
            ms(took),
            "-",
            ratio(fleet, took)
        );
    };
    floor("ssh h1 true, warm", ssh_true, "1 host, warm", warm_one);
    floor(
        "ssh h1 true, new connection",
        ssh_new,
        "1 host, cold",
        cold_one,
    );
    floor(
        "ssh h1 fleet remote (ps), warm",
        ssh_one,
        "1 host, warm",
        warm_one,
    );
    floor(
        &format!("{} x ssh fleet remote at once, warm", HOSTS.len()),
        ssh_all,
        &format!("{} hosts, warm", HOSTS.len()),
        warm_all,
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (no fleet here: this machine, 3 hosts)",
        format!("  floors, {} hosts against 1", HOSTS.len()),
        "",
        ratio(ssh_all, ssh_one)
    );
    println!(
        "\n(the row took {:.0} s: the lab, up of {} agents, {} cold and {} warm runs)",
        began.elapsed().as_secs_f64(),
        HOSTS.len() * AGENTS,
        2 * RUNS,
        2 * RUNS
    );
}

/// A fleet file of `AGENTS` stub agents on each of `hosts` (in each
/// host's own home), and those hosts; its path.
fn write_fleet(bench: &Bench, name: &str, hosts: &[SshHost]) -> String {
    let mut text = String::from("[defaults]\nruntime = \"stub\"\nworkdir = \"~\"\n\n");
    for h in hosts {
        for i in 1..=AGENTS {
            text.push_str(&format!(
                "[agents.{}a{i:03}]\nhost = \"{}\"\n\n",
                h.name, h.name
            ));
        }
    }
    for h in hosts {
        text.push_str(&h.toml());
    }
    let path = bench.root.path().join("work").join(name);
    std::fs::write(&path, text).expect("write a hosts fleet file");
    path.to_string_lossy().into_owned()
}

/// The request `fleet --file FILE ps --json` sends `host`.
fn request(file: &str, host: &SshHost) -> Vec<u8> {
    let path = std::fs::canonicalize(file).expect("canonicalize the fleet file");
    let request = Request {
        protocol: PROTOCOL,
        version: VERSION.into(),
        host: host.name.clone(),
        control: hostname::local().to_string(),
        file: Some(SentFile {
            text: std::fs::read_to_string(&path).expect("read the fleet file"),
            path,
        }),
        socket: None,
        home: None,
        argv: vec!["ps".into(), "--json".into()],
    };
    let mut line = serde_json::to_vec(&request).expect("write the request");
    line.push(b'\n');
    line
}

/// The shared ssh connections (ControlMaster processes) `fleet` keeps
/// under the bench's `$FLEET_HOME/ssh`: seen, closed, and closed for sure
/// when dropped.
struct Masters {
    dir: PathBuf,
    config: PathBuf,
    hosts: Vec<(String, u16)>,
    env: Vec<(String, String)>,
}

impl Masters {
    fn new(bench: &Bench, lab: &SshLab) -> Self {
        Self {
            dir: bench.root.path().join("state").join("ssh"),
            config: lab.ssh_config().to_path_buf(),
            hosts: lab
                .hosts()
                .iter()
                .map(|h| (h.destination(), h.port))
                .collect(),
            env: vec![
                (
                    "HOME".into(),
                    bench.root.path().join("home").display().to_string(),
                ),
                ("PATH".into(), "/usr/bin:/bin".into()),
            ],
        }
    }

    /// `ssh` as fleet runs it for a host (its -F, batch mode, sharing on
    /// fleet's own socket for that destination).
    fn command(&self, port: u16) -> Command {
        let destination = self
            .hosts
            .iter()
            .find(|(_, p)| *p == port)
            .map(|(d, _)| d.clone())
            .unwrap_or_default();
        let host = mosaic_fleet::core::desired::fleetfile::Host {
            ssh: destination,
            port: Some(port),
            ..Default::default()
        };
        let path = mosaic_fleet::core::host::ssh::control_path(&self.dir, &host)
            .expect("the bench's FLEET_HOME fits a control socket");
        let mut cmd = self.unshared(port);
        cmd.args(["-o", "ControlMaster=auto", "-o"])
            .arg(format!("ControlPath={path}"))
            .args(["-o", "ControlPersist=60"]);
        cmd
    }

    /// `ssh` with the lab's config and batch mode, sharing nothing unless
    /// told to.
    fn unshared(&self, port: u16) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("-F")
            .arg(&self.config)
            .args(["-o", "BatchMode=yes", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// The pids of the master processes: ssh titles them
    /// `ssh: CONTROL_PATH [mux]`.
    fn pids(&self) -> BTreeSet<u32> {
        let prefix = format!("ssh: {}/", self.dir.display());
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return BTreeSet::new();
        };
        procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.starts_with(&prefix) && cmdline.contains("[mux]")
            })
            .collect()
    }

    /// Asks every master to exit, and waits until none is left (SIGKILL
    /// for one that does not go). False if some are left even so.
    fn try_close(&self) -> bool {
        if self.pids().is_empty() {
            return true;
        }
        for (destination, port) in &self.hosts {
            let _ = self
                .command(*port)
                .args(["-O", "exit", "--", destination])
                .status();
        }
        if wait_until(Duration::from_secs(5), || self.pids().is_empty()) {
            return true;
        }
        for pid in self.pids() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        wait_until(Duration::from_secs(5), || self.pids().is_empty())
    }

    fn close(&self) {
        assert!(
            self.try_close(),
            "shared ssh connections will not close: {:?}",
            self.pids()
        );
    }

    /// `ssh HOST LINE` over the shared connection, INPUT on its stdin, for
    /// each call at once; how long until the last is done.
    fn ssh(&self, calls: &[(&SshHost, String, Vec<u8>)]) -> Duration {
        let start = Instant::now();
        let children: Vec<_> = calls
            .iter()
            .map(|(host, line, input)| {
                let mut cmd = self.command(host.port);
                cmd.args(["-T", "--", &host.destination(), line])
                    .stdin(Stdio::piped());
                let mut child = cmd.spawn().expect("run ssh");
                let mut stdin = child.stdin.take().expect("ssh's stdin");
                stdin.write_all(input).expect("write to ssh");
                (host, line, child)
            })
            .collect();
        for (host, line, mut child) in children {
            let status = child.wait().expect("wait for ssh");
            assert!(status.success(), "ssh {} {line:?} failed", host.name);
        }
        start.elapsed()
    }

    /// `ssh HOST true` on a new connection, shared with nothing.
    fn ssh_unshared(&self, host: &SshHost) -> Duration {
        let mut cmd = self.unshared(host.port);
        cmd.args([
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-T",
            "--",
        ])
        .args([host.destination().as_str(), "true"]);
        let start = Instant::now();
        let status = cmd.status().expect("run ssh");
        let took = start.elapsed();
        assert!(status.success(), "ssh {} true failed", host.name);
        took
    }
}

impl Drop for Masters {
    fn drop(&mut self) {
        if !self.try_close() {
            eprintln!("bench: shared ssh connections left: {:?}", self.pids());
        }
    }
}
