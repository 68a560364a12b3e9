//! `cargo bench`: fleet against raw tmux, with 100 agents of a trivial
//! runtime on a private tmux server. Prints each figure, its goal, and the
//! ratio to the raw tmux floor where there is one. Then `ps --json` across
//! three loopback ssh hosts against one ([`hosts`]; it needs root, and is
//! skipped, loudly, without), `fleet dash` on a terminal ([`dash`]), and
//! `fleet serve` with 20 browsers' event streams open ([`serve`]).
//!
//! `FLEET_BENCH_ONLY=hosts cargo bench --bench fleet` runs only the hosts
//! row, `FLEET_BENCH_ONLY=dash` only the dashboard's,
//! `FLEET_BENCH_ONLY=serve` only the web server's, `FLEET_BENCH_ONLY=up` only
//! `up` of 100 and 1,000 agents against raw tmux, and `ps` of the 1,000
//! running against the raw tmux call listing them.
//! `FLEET_BENCH_WATCH_SECS` sets how long watch and supervise are measured
//! (60 s), the dashboard's CPU (30 s idle, 30 s busy) and the web server's
//! (30 s idle), `FLEET_BENCH_BIN` another `fleet` to measure.

// The tests' ssh hosts (and the helpers they use), for the hosts row.
#[path = "../tests/runner/common.rs"]
mod common;
#[path = "fleet/dash.rs"]
mod dash;
#[path = "fleet/hosts.rs"]
mod hosts;
#[path = "fleet/serve.rs"]
mod serve;
#[path = "../tests/runner/sshlab.rs"]
mod sshlab;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FLEET: &str = env!("CARGO_BIN_EXE_fleet");

/// The `fleet` measured: this build's, or `FLEET_BENCH_BIN` (to set
/// another build beside it on the same machine, the same minute).
fn fleet_bin() -> String {
    std::env::var("FLEET_BENCH_BIN").unwrap_or_else(|_| FLEET.to_string())
}
const AGENTS: usize = 100;
const RUNS: usize = 15;

struct Bench {
    root: tempfile::TempDir,
    socket: String,
    /// More environment for every command run.
    extra_env: Vec<(String, String)>,
}

impl Bench {
    fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("fleet-bench-")
            .tempdir()
            .expect("temp dir");
        for dir in ["home", "state", "work"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("mkdir");
        }
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self {
            socket: format!("fleet-bench-{}-{n}", std::process::id()),
            root,
            extra_env: Vec::new(),
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("HOME", self.root.path().join("home"))
            .env("PATH", "/usr/bin:/bin")
            .env("FLEET_HOME", self.root.path().join("state"))
            .env("MOSAIC_TMUX_SOCKET", &self.socket)
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.root.path().join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
    }

    fn fleet(&self, args: &[&str]) -> Duration {
        self.fleet_env(args, &[])
    }

    fn fleet_env(&self, args: &[&str], env: &[(&str, &str)]) -> Duration {
        let mut cmd = Command::new(fleet_bin());
        cmd.args(args);
        self.env(&mut cmd);
        cmd.envs(env.iter().copied());
        let start = Instant::now();
        let status = cmd.status().expect("run fleet");
        let took = start.elapsed();
        assert!(status.success(), "fleet {args:?} failed");
        took
    }

    /// What `fleet ARGS` prints, when it succeeds.
    fn fleet_out(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(fleet_bin());
        cmd.args(args);
        self.env(&mut cmd);
        let out = cmd.stdout(Stdio::piped()).output().expect("run fleet");
        assert!(out.status.success(), "fleet {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn tmux(&self, args: &[&str]) -> Duration {
        let mut cmd = Command::new("tmux");
        cmd.arg("-u").arg("-L").arg(&self.socket).args(args);
        self.env(&mut cmd);
        let start = Instant::now();
        let status = cmd.status().expect("run tmux");
        let took = start.elapsed();
        assert!(status.success(), "tmux {args:?} failed");
        took
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L")
            .arg(&self.socket)
            .args(["display", "-p", "#{socket_path}"]);
        self.env(&mut cmd);
        // No server (a bench that ran none): nothing to say.
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let socket_path = cmd
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        self.end_server();
        // A 3.3 server whose control client's reader died can hang on exit
        // (see the README): end what is left for sure.
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("tmux -u -L {} ", self.socket)])
            .status();
        // tmux leaves its socket file behind. A server ended earlier (as
        // up_against_raw's) no longer says where: tmux's default place,
        // with TMUX_TMPDIR cleared.
        let socket_path = if socket_path.is_empty() {
            format!(
                "/tmp/tmux-{}/{}",
                rustix::process::getuid().as_raw(),
                self.socket
            )
        } else {
            socket_path
        };
        let _ = std::fs::remove_file(socket_path);
    }
}

impl Bench {
    /// Kills the server and waits until its process is gone: a new one on
    /// the same socket a moment earlier finds the old one still exiting.
    fn end_server(&self) {
        let pid = server_pid(self);
        self.tmux_quiet(&["kill-server"]);
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn tmux_quiet(&self, args: &[&str]) -> bool {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L").arg(&self.socket).args(args);
        self.env(&mut cmd);
        cmd.stderr(Stdio::null());
        cmd.status().is_ok_and(|s| s.success())
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn write_fleet(dir: &Path) {
    let mut text = String::from(
        "[runtimes.idle]\ncommand = \"sleep 86400\"\nprocesses = [\"sleep\"]\nwaiting = [\"Allow command\"]\n\n[defaults]\nruntime = \"idle\"\nrestart = \"on-failure\"\n",
    );
    for i in 0..AGENTS {
        text.push_str(&format!("\n[agents.agent-{i:03}]\n"));
    }
    std::fs::write(dir.join("fleet.toml"), text).expect("write fleet.toml");
}

/// A fleet file of `BIG_FLEET` agents whose first `AGENTS` are the
/// running ones: `ps` with it reads the whole file and prints a row for
/// every agent, but tmux has only the 100 sessions.
const BIG_FLEET: usize = 10_000;

fn write_big_fleet(path: &Path) {
    let mut text = String::from(
        "[runtimes.idle]\ncommand = \"sleep 86400\"\nprocesses = [\"sleep\"]\nwaiting = [\"Allow command\"]\n\n[defaults]\nruntime = \"idle\"\n",
    );
    for i in 0..AGENTS {
        text.push_str(&format!("\n[agents.agent-{i:03}]\n"));
    }
    for i in AGENTS..BIG_FLEET {
        text.push_str(&format!("\n[agents.spare-{i:05}]\n"));
    }
    std::fs::write(path, text).expect("write big fleet file");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    match std::env::var("FLEET_BENCH_ONLY")
        .unwrap_or_default()
        .as_str()
    {
        "" => {}
        "hosts" => return hosts::row(),
        "up" => {
            up_against_raw(100);
            return up_against_raw(1000);
        }
        "dash" => return dash::row(),
        "serve" => return serve::row(),
        other => {
            panic!(
                "FLEET_BENCH_ONLY={other}: the rows to pick are `up`, `hosts`, `dash` and `serve`"
            )
        }
    }
    let bench = Bench::new();
    write_fleet(&bench.root.path().join("work"));

    println!("fleet benchmark: {AGENTS} agents of a trivial runtime, median of {RUNS} runs\n");

    // fleet up of 100 agents, from nothing, three times over.
    let mut ups = Vec::new();
    for _ in 0..3 {
        ups.push(bench.fleet(&["up"]));
        bench.fleet(&["down"]);
    }
    let up = median(ups);
    bench.fleet(&["up"]);

    let format = "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_current_command}\t#{@fleet}";
    let raw = median(
        (0..RUNS)
            .map(|_| bench.tmux(&["list-panes", "-a", "-F", format]))
            .collect(),
    );
    let cache = bench
        .root
        .path()
        .join("state/state")
        .join(&bench.socket)
        .join("waiting.json");
    let ps_cold = median(
        (0..RUNS)
            .map(|_| {
                let _ = std::fs::remove_file(&cache);
                bench.fleet(&["ps", "--json"])
            })
            .collect(),
    );
    // A quiet fleet: screens unchanged since the last ps read them.
    std::thread::sleep(Duration::from_millis(1100));
    bench.fleet(&["ps", "--json"]);
    let ps = median((0..RUNS).map(|_| bench.fleet(&["ps", "--json"])).collect());
    let idle_up = median((0..RUNS).map(|_| bench.fleet(&["up"])).collect());
    // The same 100 sessions, declared among 10,000 agents: the cost of
    // reading a large fleet file (and printing its rows).
    let big = bench.root.path().join("big.toml");
    write_big_fleet(&big);
    let big = big.to_string_lossy().into_owned();
    bench.fleet(&["--file", &big, "ps", "--json"]);
    let ps_big = median(
        (0..RUNS)
            .map(|_| bench.fleet(&["--file", &big, "ps", "--json"]))
            .collect(),
    );

    println!("{:<38} {:>10}  {:>7}  goal", "measure", "time", "ratio");
    println!(
        "{:<38} {:>10}  {:>7}  floor",
        "raw tmux list-panes -a",
        ms(raw),
        "1.00x"
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  <= 2x raw",
        "fleet ps --json (quiet fleet)",
        ms(ps),
        ps.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (reads all 100 screens)",
        "fleet ps --json (no screen cache)",
        ms(ps_cold),
        ps_cold.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (100 running; 10,000 rows read and printed)",
        "fleet ps --json (10,000-agent file)",
        ms(ps_big),
        ps_big.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "{:<38} {:>10}  {:>7}  < 2 s (1 s of it the start grace)",
        "fleet up (100 agents from none)",
        ms(up),
        "-"
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (nothing to do)",
        "fleet up (100 agents, all running)",
        ms(idle_up),
        idle_up.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "\nfor scale: the bash prototype spends ~0.3 s per agent launch, ~{:.0} s for {AGENTS}",
        0.3 * AGENTS as f64
    );

    // Reading every agent's screen once: fleet's batched read (one tmux
    // call for all 100 panes) against one raw capture-pane of one pane.
    let raw_one = median(
        (0..RUNS)
            .map(|_| bench.tmux(&["capture-pane", "-p", "-t", "=agent-000:"]))
            .collect(),
    );
    let tmux = mosaic_fleet::core::host::tmux::Tmux::new(bench.socket.clone());
    let ids: Vec<(u32, usize)> = tmux
        .list_panes()
        .expect("list panes")
        .iter()
        .map(|p| (p.pane_id, p.height))
        .collect();
    assert_eq!(ids.len(), AGENTS);
    let all = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let screens = tmux.capture_screens(&ids).expect("capture");
                assert_eq!(screens.len(), AGENTS);
                start.elapsed()
            })
            .collect(),
    );
    println!();
    println!(
        "{:<38} {:>10}  {:>7}  floor",
        "raw capture-pane of 1 pane",
        ms(raw_one),
        "1.00x"
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  <= 3x raw",
        "fleet: read all 100 screens (1 call)",
        ms(all),
        all.as_secs_f64() / raw_one.as_secs_f64()
    );

    watch_cpu(&bench);
    supervise(&bench);
    drop(bench);
    up_against_raw(100);
    up_against_raw(1000);
    dash::row();
    serve::row();
    hosts::row();
}

/// `fleet watch` over 100 idle agents: the whole cost of watching (the
/// watcher, the tmux clients it keeps, and the tmux server's extra work,
/// from /proc), then how soon transitions reach it.
fn watch_cpu(bench: &Bench) {
    let secs: u64 = std::env::var("FLEET_BENCH_WATCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut cmd = Command::new(fleet_bin());
    cmd.args(["watch"]);
    bench.env(&mut cmd);
    cmd.stdout(Stdio::piped());
    // Idle for real: no agent has written within the idle threshold.
    std::thread::sleep(Duration::from_secs(2));
    let server = server_pid(bench);
    let server_idle = server.map(cpu_ticks).unwrap_or(0);
    std::thread::sleep(Duration::from_secs(secs.min(10)));
    let server_idle = server
        .map(cpu_ticks)
        .unwrap_or(0)
        .saturating_sub(server_idle) as f64
        / secs.min(10) as f64;
    let server_before = server.map(cpu_ticks).unwrap_or(0);
    let mut child = cmd.spawn().expect("spawn watch");
    let lines = watch_lines(&mut child);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let kids = children(child.id());
    let watcher = cpu_ticks(child.id()) + kids.iter().map(|&k| cpu_ticks(k)).sum::<u64>();
    let wall = start.elapsed().as_secs_f64();
    let server_extra = (server
        .map(cpu_ticks)
        .unwrap_or(0)
        .saturating_sub(server_before) as f64
        - server_idle * wall)
        .max(0.0);
    let hz = 100.0; // USER_HZ on Linux
    let pct = |ticks: f64| ticks / hz / wall * 100.0;
    println!();
    println!(
        "{:<38} {:>9.2}%  {:>7}  (with its {} tmux clients)",
        format!("fleet watch, {secs} s, {AGENTS} idle agents"),
        pct(watcher as f64),
        "-",
        kids.len()
    );
    println!(
        "{:<38} {:>9.2}%  {:>7}  (beyond its idle {:.2}%)",
        "  tmux server's extra work",
        pct(server_extra),
        "-",
        pct(server_idle * wall)
    );
    println!(
        "{:<38} {:>9.2}%  {:>7}  < 1% of a core",
        "  the whole cost of watching",
        pct(watcher as f64 + server_extra),
        "-"
    );

    // A report (what hooks and extensions send) reaching watch.
    let mut reports = Vec::new();
    for i in 0..10 {
        let word = if i % 2 == 0 { "waiting" } else { "idle" };
        let start = Instant::now();
        bench.fleet(&["report", "agent-007", word, "--detail", "bench"]);
        reports.push(seen(&lines, &format!("agent-007  {word}"), start));
    }
    reports.sort();
    println!();
    println!(
        "{:<38} {:>10}  {:>7}  <= 300 ms (max {})",
        "report -> watch (median of 10)",
        ms(median(reports.clone())),
        "-",
        ms(reports[reports.len() - 1])
    );
    // Output after quiet: the screen's own evidence, in the next digest.
    let start = Instant::now();
    bench.tmux(&["send-keys", "-t", "=agent-020:", "x"]);
    let output = seen(&lines, "agent-020  working", start);
    println!(
        "{:<38} {:>10}  {:>7}  <= 1 s (the digest is asked every 900 ms)",
        "output -> watch (idle to working)",
        ms(output),
        "-"
    );
    // A runtime dying: seen in the next digest.
    let start = Instant::now();
    bench.tmux(&["respawn-pane", "-k", "-t", "=agent-030:", "exit 3"]);
    let died = seen(&lines, "agent-030  exited", start);
    println!(
        "{:<38} {:>10}  {:>7}  <= 1 s",
        "exit -> watch",
        ms(died),
        "-"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `fleet supervise` over the same 100 idle agents: its whole cost (as for
/// watch), then how soon an agent killed with SIGKILL runs again.
fn supervise(bench: &Bench) {
    let secs: u64 = std::env::var("FLEET_BENCH_WATCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut cmd = Command::new(fleet_bin());
    cmd.args(["supervise"]);
    bench.env(&mut cmd);
    cmd.stdout(Stdio::piped());
    let server = server_pid(bench);
    let mut child = cmd.spawn().expect("spawn supervise");
    let _lines = watch_lines(&mut child);
    // Its first round brings the fleet up (all running: nothing to do).
    std::thread::sleep(Duration::from_secs(3));
    let server_before = server.map(cpu_ticks).unwrap_or(0);
    let own_before = cpu_ticks(child.id());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let kids = children(child.id());
    let own = cpu_ticks(child.id()) - own_before + kids.iter().map(|&k| cpu_ticks(k)).sum::<u64>();
    let wall = start.elapsed().as_secs_f64();
    let server_extra = server
        .map(cpu_ticks)
        .unwrap_or(0)
        .saturating_sub(server_before) as f64;
    let pct = |ticks: f64| ticks / 100.0 / wall * 100.0;
    println!();
    println!(
        "{:<38} {:>9.2}%  {:>7}  < 1% of a core (with the server's extra {:.2}%)",
        format!("fleet supervise, {secs} s, {AGENTS} idle"),
        pct(own as f64 + server_extra),
        "-",
        pct(server_extra)
    );
    // kill -9 of an agent's runtime, to a new one running.
    let mut back = Vec::new();
    for i in 0..20 {
        let target = format!("=agent-{:03}:", 40 + i);
        let pane = |what: &str| {
            let mut cmd = Command::new("tmux");
            cmd.arg("-L")
                .arg(&bench.socket)
                .args(["display", "-p", "-t", &target, what]);
            bench.env(&mut cmd);
            cmd.stdout(Stdio::piped());
            cmd.output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        let pid = pane("#{pane_pid}");
        let killed = Instant::now();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        loop {
            let now = pane("#{pane_dead} #{pane_pid}");
            if now.starts_with('0') && !now.ends_with(&format!(" {pid}")) {
                back.push(killed.elapsed());
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(10),
                "agent never came back"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Past the backoff streak: one death at a time.
        std::thread::sleep(Duration::from_millis(300));
    }
    back.sort();
    println!(
        "{:<38} {:>10}  {:>7}  < 2 s (max {})",
        "kill -9 -> running again (20)",
        ms(median(back.clone())),
        "-",
        ms(back[back.len() - 1])
    );
    // SIGTERM: the supervisor ends its tmux clients with it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `fleet up` of `n` agents from none with no start grace, against raw
/// tmux creating the same sessions in batched calls: what fleet adds to the
/// work it asks of tmux (the PATH probe, a transcript writer per agent,
/// its metadata).
fn up_against_raw(n: usize) {
    let bench = Bench::new();
    let work = bench.root.path().join("work");
    let mut text = String::from(
        "[runtimes.idle]\ncommand = \"sleep 86400\"\nprocesses = [\"sleep\"]\n\n[defaults]\nruntime = \"idle\"\n",
    );
    for i in 0..n {
        text.push_str(&format!("\n[agents.agent-{i:04}]\n"));
    }
    std::fs::write(work.join("fleet.toml"), text).expect("write fleet.toml");
    // Raw tmux: the sessions alone (the floor the issue set), and the
    // sessions each with the transcript pipe fleet gives every agent
    // (the same tmux work fleet asks for).
    let logs = bench.root.path().join("raw-logs");
    std::fs::create_dir_all(&logs).expect("mkdir raw-logs");
    // The pipe each raw session gets: none, the least a pipe can be (a
    // shell that exits at once: what tmux itself spends on a pipe), or
    // fleet's transcript writer.
    let raw_batches = |pipe: Option<&str>| -> Vec<Vec<String>> {
        let mut batch: Vec<String> = Vec::new();
        let mut batches = Vec::new();
        for i in 0..n {
            let name = format!("agent-{i:04}");
            let mut command: Vec<String> = [
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "50",
                "sleep 86400",
            ]
            .map(String::from)
            .to_vec();
            if let Some(pipe) = pipe {
                let writer = match pipe {
                    "writer" => format!(
                        "exec {} __log-writer --path {}/{name}.log --max-bytes 8388608",
                        fleet_bin(),
                        logs.display()
                    ),
                    other => other.to_string(),
                };
                command.extend([";".into(), "pipe-pane".into(), "-t".into()]);
                command.extend([format!("={name}:"), writer]);
            }
            let size: usize = batch.iter().chain(&command).map(|a| a.len() + 1).sum();
            if size > 16 * 1024 - 128 {
                batches.push(std::mem::take(&mut batch));
            }
            if !batch.is_empty() {
                batch.push(";".into());
            }
            batch.extend(command);
        }
        batches.push(batch);
        batches
    };
    let time_raw = |batches: &[Vec<String>]| {
        let start = Instant::now();
        for args in batches {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bench.tmux(&args);
        }
        let took = start.elapsed();
        bench.end_server();
        took
    };
    let (plain, least, piped) = (
        raw_batches(None),
        raw_batches(Some("exec true")),
        raw_batches(Some("writer")),
    );
    let mut raw = Vec::new();
    let mut raw_least = Vec::new();
    let mut raw_piped = Vec::new();
    let mut fleet = Vec::new();
    let mut listed = None;
    for round in 0..3 {
        raw.push(time_raw(&plain));
        raw_least.push(time_raw(&least));
        raw_piped.push(time_raw(&piped));
        let mut cmd = Command::new(fleet_bin());
        cmd.args(["up"]);
        bench.env(&mut cmd);
        cmd.env("FLEET_START_GRACE", "0");
        let start = Instant::now();
        let status = cmd.status().expect("run fleet up");
        fleet.push(start.elapsed());
        assert!(status.success(), "fleet up of {n} failed");
        if round == 2 {
            listed = Some(ps_of_running(&bench, n));
        }
        bench.end_server();
    }
    let (raw, raw_least, raw_piped, fleet) = (
        median(raw),
        median(raw_least),
        median(raw_piped),
        median(fleet),
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  <= 1.5x raw ({} raw; {:.2}x the {} of raw with a transcript pipe each)",
        format!("fleet up of {n}, no grace"),
        ms(fleet),
        fleet.as_secs_f64() / raw.as_secs_f64(),
        ms(raw),
        fleet.as_secs_f64() / raw_piped.as_secs_f64(),
        ms(raw_piped)
    );
    println!(
        "{:<38} {:>10}  {:>6.2}x  (each session piped to `exec true`: the least a pipe costs tmux)",
        format!("  raw tmux, {n} sessions, least pipes"),
        ms(raw_least),
        raw_least.as_secs_f64() / raw.as_secs_f64()
    );
    if let Some((raw, ps)) = listed {
        println!(
            "{:<38} {:>10}  {:>6.2}x  <= 2x raw (the same {n} sessions: raw tmux list-panes -a {})",
            format!("fleet ps --json, {n} running"),
            ms(ps),
            ps.as_secs_f64() / raw.as_secs_f64(),
            ms(raw)
        );
    }
}

/// `ps` of `n` running agents against the raw tmux call listing the same
/// sessions (the fields the quiet-fleet row's floor asks), both after a
/// first look, so the screens are as a quiet fleet's.
fn ps_of_running(bench: &Bench, n: usize) -> (Duration, Duration) {
    let format = "#{session_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_current_command}\t#{@fleet}";
    let rows = bench.fleet_out(&["ps", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).expect("ps --json reads");
    let running = rows.iter().filter(|r| r["status"] == "running").count();
    assert_eq!(running, n, "fleet ps: {running} of {n} running");
    std::thread::sleep(Duration::from_millis(1100));
    bench.fleet(&["ps", "--json"]);
    let (mut raw, mut ps) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        raw.push(bench.tmux(&["list-panes", "-a", "-F", format]));
        ps.push(bench.fleet(&["ps", "--json"]));
    }
    (median(raw), median(ps))
}

/// The lines `watch` prints, as they come, with when each came.
type Lines = std::sync::mpsc::Receiver<(Instant, String)>;

fn watch_lines(child: &mut std::process::Child) -> Lines {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("watch stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// How long after `start` watch printed a line containing `what`.
fn seen(lines: &Lines, what: &str, start: Instant) -> Duration {
    let deadline = start + Duration::from_secs(10);
    while let Ok((at, line)) =
        lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if line.contains(what) {
            return at.saturating_duration_since(start);
        }
    }
    panic!("watch never printed {what:?}");
}

/// A process's children, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .map(|task| std::fs::read_to_string(task.path().join("children")).unwrap_or_default())
        .collect::<String>()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn server_pid(bench: &Bench) -> Option<u32> {
    let mut cmd = Command::new("tmux");
    cmd.arg("-L")
        .arg(&bench.socket)
        .args(["display", "-p", "#{pid}"]);
    bench.env(&mut cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let out = cmd.output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// utime + stime + the same of waited-for children, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 (1-based), i.e.
    // 11..=14 after the state field at index 0 here.
    fields.get(11..15).map(|f| f.iter().sum()).unwrap_or(0)
}
