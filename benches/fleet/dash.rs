//! The dashboard's row: `fleet dash` over 100 agents, a third of them
//! printing, on a real terminal — a pane of a viewer tmux server of the
//! bench's own, apart from the fleet's, as the integration test drives it
//! (tests/runner/dash.rs).
//!
//! - keystroke to redraw: `Down` or `Up` is sent to the viewer's pane and
//!   its screen is read until the preview's title (`┌ NAME@HOST`, drawn in
//!   the same frame as the reversed selected row) names the next agent.
//!   Keys are sent and screens read over one control-mode connection to
//!   the viewer (no process started per look), polled every millisecond
//!   or so: the figure includes the viewer's own work (the key into the
//!   pane, the frame parsed), as a person's terminal would.
//! - CPU: utime + stime of the dashboard's process (all its threads) and
//!   of every process under it (its tmux control client, its `timeout`
//!   and `tmux wait-for` bell, short-lived captures once reaped), from
//!   /proc, over `FLEET_BENCH_WATCH_SECS` (30 s here): idle (no agent has
//!   printed within the idle threshold), then with the busy third printing
//!   a line every 100 ms each, one of them selected (its preview follows
//!   it).
//! - transitions, with the third still printing: a session killed (`tmux
//!   kill-session`) until its row says `missing`; a stub asked a question
//!   (`ask`) until its row is marked `!` (waiting). Then, the third's
//!   sessions ended (a quiet fleet), a stub that printed and asks 0.8 s
//!   later, in the same second of the clock.
//!
//! Everything it made (the viewer's server, the dashboard, the fleet's
//! server) is ended when it ends, also when it panics.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{AGENTS, Bench, children, cpu_ticks, fleet_bin, ms, server_pid};

/// The viewer's size: a laptop terminal.
const COLS: u16 = 120;
const ROWS: u16 = 40;
/// Keystrokes measured, idle and busy.
const KEYS: usize = 100;
/// Between a keystroke seen and the next one: about 15 keys a second.
const KEY_GAP: Duration = Duration::from_millis(50);
/// A keystroke not seen by then is counted as missed.
const KEY_TIMEOUT: Duration = Duration::from_secs(2);
/// Transitions measured, of each kind.
const TRANSITIONS: usize = 5;
/// Asks made late in the second of an agent's last output.
const LATE_ASKS: usize = 3;
/// How long the dashboard is given to end once its terminal is gone.
const HANG_UP_WAIT: Duration = Duration::from_secs(2);

/// The printing third: agents 1, 4, 7, … 97.
fn busy(i: usize) -> bool {
    i % 3 == 1
}

fn name(i: usize) -> String {
    format!("agent-{i:03}")
}

pub fn row() {
    let secs: u64 = std::env::var("FLEET_BENCH_WATCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let began = Instant::now();
    let bench = Bench::new();
    let file = write_fleet(bench.root.path());
    bench.fleet(&["--file", &file, "up"]);
    // Dropped before the bench: the dashboard and its terminal first.
    let viewer = Viewer::start(&bench, &file);
    let mut link = viewer.link();
    link.wait_for("all 100 agents running", Duration::from_secs(30), |s| {
        count(s, "running") == Some(AGENTS) && title(s).is_some()
    });
    let dash = viewer.dash_pid();

    println!();
    println!(
        "fleet dash: {AGENTS} agents ({} stubs, {} printing a line every 100 ms when busy), \
         on a {COLS}x{ROWS} viewer tmux pane",
        AGENTS - (0..AGENTS).filter(|&i| busy(i)).count(),
        (0..AGENTS).filter(|&i| busy(i)).count()
    );
    println!();

    // While the agents' start-up output ages into idle.
    let (keys_idle, resolution_idle) = keystrokes(&mut link);

    // Idle: nothing printed within the idle threshold.
    link.wait_for("every agent idle", Duration::from_secs(40), |s| {
        count(s, "working") == Some(0)
    });
    select(&mut link, 1);
    let idle = Cpu::measure(dash, &bench, &viewer, secs);

    // The busy third starts printing.
    let mut batch: Vec<String> = Vec::new();
    for i in (0..AGENTS).filter(|&i| busy(i)) {
        if !batch.is_empty() {
            batch.push(";".into());
        }
        batch.extend(["send-keys", "-t", &format!("={}:", name(i)), "Enter"].map(String::from));
    }
    bench.tmux(&batch.iter().map(String::as_str).collect::<Vec<_>>());
    let printing = (0..AGENTS).filter(|&i| busy(i)).count();
    link.wait_for("the third working", Duration::from_secs(10), |s| {
        count(s, "working") == Some(printing)
    });
    std::thread::sleep(Duration::from_secs(2));
    let loaded = Cpu::measure(dash, &bench, &viewer, secs);
    let (keys_busy, resolution_busy) = keystrokes(&mut link);

    // Transitions, with the third still printing: the first rows in
    // sight, none of them busy.
    select(&mut link, 0);
    let quiet: Vec<usize> = (2..AGENTS).filter(|&i| !busy(i)).collect();
    let (stops, asks): (Vec<usize>, Vec<usize>) = (
        quiet.iter().step_by(2).take(TRANSITIONS).copied().collect(),
        quiet
            .iter()
            .skip(1)
            .step_by(2)
            .take(TRANSITIONS)
            .copied()
            .collect(),
    );
    let late: Vec<usize> = quiet[2 * TRANSITIONS..][..LATE_ASKS].to_vec();
    let screen = link.screen();
    for &i in stops.iter().chain(&asks).chain(&late) {
        assert!(
            !row_line(&screen, &name(i)).is_empty(),
            "{} is not in sight:\n{screen}",
            name(i)
        );
    }
    let mut stopped = Vec::new();
    for (k, &i) in stops.iter().enumerate() {
        std::thread::sleep(phase(k));
        let start = Instant::now();
        bench.tmux(&["kill-session", "-t", &format!("={}", name(i))]);
        stopped.push(
            link.wait_since(start, &format!("{} missing", name(i)), |s| {
                row_line(s, &name(i)).contains("missing")
            }),
        );
    }
    let mut waiting = Vec::new();
    for (k, &i) in asks.iter().enumerate() {
        std::thread::sleep(phase(k));
        let start = Instant::now();
        bench.tmux(&["send-keys", "-t", &format!("={}:", name(i)), "ask", "Enter"]);
        waiting.push(
            link.wait_since(start, &format!("{} waiting", name(i)), |s| {
                row_line(s, &name(i)).starts_with('!')
            }),
        );
    }
    // A quiet fleet (the busy third's sessions ended), and a stub that
    // prints, then asks later in the same second: what tmux tells of its
    // pane's last output is in whole seconds.
    let mut batch: Vec<String> = Vec::new();
    for i in (0..AGENTS).filter(|&i| busy(i)) {
        if !batch.is_empty() {
            batch.push(";".into());
        }
        batch.extend(["kill-session", "-t", &format!("={}", name(i))].map(String::from));
    }
    bench.tmux(&batch.iter().map(String::as_str).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_secs(2));
    let mut late_waiting = Vec::new();
    for &i in &late {
        let target = format!("={}:", name(i));
        let second = next_second(Duration::from_millis(20));
        bench.tmux(&["send-keys", "-t", &target, "work 1", "Enter"]);
        sleep_until(second + Duration::from_millis(850));
        let start = Instant::now();
        bench.tmux(&["send-keys", "-t", &target, "ask", "Enter"]);
        late_waiting.push(
            link.wait_since(start, &format!("{} waiting", name(i)), |s| {
                row_line(s, &name(i)).starts_with('!')
            }),
        );
    }

    println!("{:<38} {:>10}  {:>7}  goal", "measure", "figure", "");
    keys_idle.print("keystroke -> redraw, idle", resolution_idle, None);
    keys_busy.print(
        "keystroke -> redraw, busy third",
        resolution_busy,
        Some(Duration::from_millis(50)),
    );
    idle.print(&format!("dash CPU, {secs} s, idle"), 3.0);
    loaded.print(&format!("dash CPU, {secs} s, busy third"), 10.0);
    // Every one within the second: the figure is the median, the goal
    // holds for the max.
    let transitions = |what: &str, mut took: Vec<Duration>, how: &str| {
        took.sort();
        let max = took[took.len() - 1];
        println!(
            "{:<38} {:>10}  {:>7}  < 1 s{} (median of {} {how}; max {})",
            what,
            ms(took[took.len() / 2]),
            "",
            missed(max > Duration::from_secs(1)),
            took.len(),
            ms(max)
        );
    };
    transitions(
        "kill-session -> row `missing`",
        stopped,
        "spread over the looks",
    );
    transitions(
        "ask -> row marked waiting",
        waiting,
        "spread over the looks",
    );
    transitions(
        "quiet: print, ask 0.8 s on -> waiting",
        late_waiting,
        "in the second of the output",
    );
    // The terminal closed under it: the viewer's server killed.
    drop(link);
    match viewer.hang_up() {
        Ok(took) => println!(
            "{:<38} {:>10}  {:>7}  (no goal: it ends with its terminal)",
            "terminal gone -> dash exits",
            ms(took),
            ""
        ),
        Err(pct) => println!(
            "{:<38} {:>10}  {:>7}  (no goal) !!! still running {} s on, at {pct:.0}% of a core: killed",
            "terminal gone -> dash exits",
            "NEVER",
            "",
            HANG_UP_WAIT.as_secs()
        ),
    }
    println!(
        "\n(the row took {:.0} s; FLEET_BENCH_WATCH_SECS sets the CPU windows)",
        began.elapsed().as_secs_f64()
    );
    drop(viewer);
    drop(bench);
}

/// How long to wait before the `k`th transition: each is made right after
/// the dashboard showed the last one, that is right after a look, so
/// these spread them over the monitor's 900 ms between looks (the first
/// at the worst moment, just after one) and over the dashboard's tick.
pub fn phase(k: usize) -> Duration {
    // Not a multiple of the dashboard's 100 ms tick either.
    Duration::from_millis(180 * (k as u64 % 5))
}

/// A goal missed, said so.
pub fn missed(missed: bool) -> &'static str {
    if missed { " !!! MISSED" } else { "" }
}

/// Sleeps until `after` past the next whole second of the wall clock
/// (tmux's); that second's start, as an instant.
fn next_second(after: Duration) -> Instant {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let second =
        Instant::now() + (Duration::from_secs(1) - Duration::from_nanos(now.subsec_nanos().into()));
    sleep_until(second + after);
    second
}

fn sleep_until(at: Instant) {
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
}

/// The fleet file: stubs, and every third agent a shell loop that, once
/// sent a line, prints one every 100 ms (bash's own `read -t`: no process
/// per line). Its path.
fn write_fleet(root: &Path) -> String {
    let mut text = String::from(
        "[defaults]\nruntime = \"stub\"\n\n\
         [runtimes.ticker]\n\
         command = '''bash --norc --noprofile -c 'read -r go; n=0; while :; do n=$((n+1)); echo \"tick $n: still working\"; read -r -t 0.1; done' '''\n\
         processes = [\"bash\"]\n",
    );
    for i in 0..AGENTS {
        text.push_str(&format!("\n[agents.{}]\n", name(i)));
        if busy(i) {
            text.push_str("runtime = \"ticker\"\n");
        }
    }
    let path = root.join("work").join("fleet.toml");
    std::fs::write(&path, text).expect("write the dash fleet file");
    path.to_string_lossy().into_owned()
}

/// Keystroke latencies, and how many of them were not seen at all.
struct Keys {
    took: Vec<Duration>,
    missed: usize,
}

impl Keys {
    fn print(&self, what: &str, resolution: Duration, goal: Option<Duration>) {
        let mut took = self.took.clone();
        took.sort();
        let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
        let goal = match goal {
            Some(goal) => format!("< {} p99{}", ms(goal), missed(at(0.99) >= goal)),
            None => "(no goal)".into(),
        };
        println!(
            "{:<38} {:>10}  {:>7}  {goal} (p50 {}, max {}; {} keys{}, read every {:.1} ms)",
            format!("{what}, p99"),
            ms(at(0.99)),
            "",
            ms(at(0.5)),
            ms(took[took.len() - 1]),
            took.len(),
            match self.missed {
                0 => String::new(),
                n => format!(", {n} not seen within {}, counted as that", ms(KEY_TIMEOUT)),
            },
            resolution.as_secs_f64() * 1000.0
        );
    }
}

/// `KEYS` keystrokes, each `Down` (or `Up` at the last row) sent and the
/// screen read until the preview's title names the agent it moves to;
/// and the mean time between two reads, the figures' resolution.
fn keystrokes(link: &mut Link) -> (Keys, Duration) {
    let mut at = index(&link.screen()).expect("an agent is selected");
    let mut down = true;
    let mut keys = Keys {
        took: Vec::new(),
        missed: 0,
    };
    let (mut reads, mut reading) = (0u32, Duration::ZERO);
    for _ in 0..KEYS {
        if at == AGENTS - 1 {
            down = false;
        } else if at == 0 {
            down = true;
        }
        let to = if down { at + 1 } else { at - 1 };
        let start = Instant::now();
        link.ask(&format!(
            "send-keys -t v {}",
            if down { "Down" } else { "Up" }
        ));
        let seen = loop {
            let read = Instant::now();
            let screen = link.screen();
            reading += read.elapsed();
            reads += 1;
            if index(&screen) == Some(to) {
                break true;
            }
            if start.elapsed() > KEY_TIMEOUT {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let took = start.elapsed();
        if seen {
            keys.took.push(took);
            at = to;
        } else {
            // Counted at the least it took.
            keys.took.push(took);
            keys.missed += 1;
            at = index(&link.screen()).expect("an agent is selected");
        }
        std::thread::sleep(KEY_GAP);
    }
    // A read, and the nap between two.
    let resolution = reading / reads.max(1) + Duration::from_millis(1);
    (keys, resolution)
}

/// Selects agent `i`: Home, then Down `i` times; waits until it shows.
fn select(link: &mut Link, i: usize) {
    link.ask("send-keys -t v Home");
    for _ in 0..i {
        link.ask("send-keys -t v Down");
    }
    link.wait_for(&format!("{} selected", name(i)), KEY_TIMEOUT, |s| {
        index(s) == Some(i)
    });
}

/// The selected agent's number, from the preview's title `┌ agent-NNN@`.
fn index(screen: &str) -> Option<usize> {
    title(screen)?.strip_prefix("agent-")?.parse().ok()
}

/// The agent the preview's title names.
fn title(screen: &str) -> Option<&str> {
    screen.lines().find_map(|line| {
        let (_, rest) = line.split_once("┌ ")?;
        let (agent, _) = rest.split_once('@')?;
        Some(agent)
    })
}

/// The header's count of `word` (`100 running · 0 working · …`).
fn count(screen: &str, word: &str) -> Option<usize> {
    let header = screen.lines().next()?;
    let end = header.find(&format!(" {word}"))?;
    let digits = header[..end].rsplit(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The table's part of the line that shows `name`'s row (before the
/// preview's border, when the preview is beside the table).
fn row_line<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .map(|l| l.split('│').next().unwrap_or_default())
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_default()
}

/// CPU used over a window, as % of one core.
struct Cpu {
    dash: f64,
    viewer: f64,
    server: f64,
    processes: usize,
}

impl Cpu {
    /// Over `secs`: the dashboard and everything under it; the viewer's
    /// tmux server (drawing it, as a terminal would), and the fleet's
    /// (serving it and the agents), for scale.
    fn measure(dash: u32, bench: &Bench, viewer: &Viewer, secs: u64) -> Self {
        let server = server_pid(bench).expect("the fleet's tmux server");
        let viewer_server = viewer.server;
        let before = (
            tree_ticks(dash),
            cpu_ticks(viewer_server),
            cpu_ticks(server),
        );
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let processes = descendants(dash).len();
        let after = (
            tree_ticks(dash),
            cpu_ticks(viewer_server),
            cpu_ticks(server),
        );
        let wall = start.elapsed().as_secs_f64();
        // USER_HZ on Linux.
        let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 / 100.0 / wall * 100.0;
        Self {
            dash: pct(after.0, before.0),
            viewer: pct(after.1, before.1),
            server: pct(after.2, before.2),
            processes,
        }
    }

    fn print(&self, what: &str, goal: f64) {
        println!(
            "{:<38} {:>9.2}%  {:>7}  < {goal}% of a core{} (with the {} processes under it; \
             the viewer's tmux {:.2}%, the fleet's {:.2}%)",
            what,
            self.dash,
            "",
            missed(self.dash >= goal),
            self.processes,
            self.viewer,
            self.server
        );
    }
}

/// A process's own CPU ticks and those of every process under it.
pub fn tree_ticks(pid: u32) -> u64 {
    cpu_ticks(pid) + children(pid).into_iter().map(tree_ticks).sum::<u64>()
}

pub fn descendants(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .flat_map(|c| std::iter::once(c).chain(descendants(c)))
        .collect()
}

/// The viewer: a tmux server of the bench's own whose one pane runs the
/// dashboard. Dropped: the server killed, the dashboard for sure.
struct Viewer {
    socket: String,
    home: PathBuf,
    server: u32,
    dash: u32,
}

impl Viewer {
    fn start(bench: &Bench, file: &str) -> Self {
        let root = bench.root.path();
        let quote = |p: &Path| {
            shlex::try_quote(&p.to_string_lossy())
                .expect("a path to quote")
                .into_owned()
        };
        let script = format!(
            "exec env -i TERM=xterm-256color HOME={home} PATH=/usr/bin:/bin FLEET_HOME={state} \
             MOSAIC_TMUX_SOCKET={socket} {fleet} --file {file} dash",
            home = quote(&root.join("home")),
            state = quote(&root.join("state")),
            socket = bench.socket,
            fleet = quote(Path::new(&fleet_bin())),
            file = quote(Path::new(file)),
        );
        let mut viewer = Self {
            socket: format!("{}-viewer", bench.socket),
            home: root.join("home"),
            server: 0,
            dash: 0,
        };
        let (cols, rows) = (COLS.to_string(), ROWS.to_string());
        viewer.tmux(&[
            "new-session",
            "-d",
            "-s",
            "v",
            "-x",
            &cols,
            "-y",
            &rows,
            &script,
        ]);
        let pids = viewer.tmux(&["display", "-p", "-t", "v", "#{pid} #{pane_pid}"]);
        let mut pids = pids.split_whitespace().map(|p| p.parse().unwrap_or(0));
        viewer.server = pids.next().unwrap_or(0);
        viewer.dash = pids.next().unwrap_or(0);
        assert!(
            viewer.server != 0 && viewer.dash != 0,
            "the viewer did not start"
        );
        viewer
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin")
            .args(["-u", "-L", &self.socket]);
        cmd
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run the viewer's tmux");
        assert!(out.status.success(), "viewer tmux {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The dashboard's pid, once the pane runs `fleet` (past `env`).
    fn dash_pid(&self) -> u32 {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.dash)).unwrap_or_default();
        assert_eq!(comm.trim(), "fleet", "the pane's process is not fleet");
        self.dash
    }

    /// A control-mode connection: keys in, screens out, no process per
    /// look; it never sizes the window, and no pane output is sent to it.
    fn link(&self) -> Link {
        let mut child = self
            .command()
            .args([
                "-C",
                "attach-session",
                "-t",
                "v",
                "-f",
                "no-output,ignore-size",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the viewer's control client");
        let stdin = child.stdin.take().expect("its stdin");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\n')
                    .to_string();
                if tx.send(text).is_err() {
                    break;
                }
                line.clear();
            }
        });
        let mut link = Link {
            child,
            stdin,
            lines,
        };
        // The attach's own reply comes first: in step once ours is back.
        link.send("display -p fleet-bench-ready");
        while link.reply() != ["fleet-bench-ready"] {}
        let size = link.ask("display -p -t v '#{window_width}x#{window_height}'");
        assert_eq!(size, [format!("{COLS}x{ROWS}")], "the viewer was resized");
        link
    }
}

impl Viewer {
    /// Kills the viewer's server, the dashboard's terminal: how soon the
    /// dashboard ended, or else the share of a core it used in the second
    /// after [`HANG_UP_WAIT`] (it is killed when the viewer is dropped).
    fn hang_up(&self) -> Result<Duration, f64> {
        let start = Instant::now();
        self.kill_server();
        while alive(self.dash) {
            if start.elapsed() > HANG_UP_WAIT {
                let before = tree_ticks(self.dash);
                std::thread::sleep(Duration::from_secs(1));
                // Ticks in a second: % of a core (USER_HZ is 100).
                return Err(tree_ticks(self.dash).saturating_sub(before) as f64);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(start.elapsed())
    }

    fn kill_server(&self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub fn alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.kill_server();
        let deadline = Instant::now() + HANG_UP_WAIT;
        while (alive(self.server) || alive(self.dash)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The pane's hangup should end the dashboard; one that outlived
        // it (crossterm's read loop spins on a dead terminal:
        // crossterm-rs/crossterm#793), for sure.
        for pid in [self.dash, self.server] {
            if alive(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (alive(self.server) || alive(self.dash)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(format!(
            "/tmp/tmux-{}/{}",
            rustix::process::getuid().as_raw(),
            self.socket
        ));
    }
}

/// The viewer's control-mode client.
struct Link {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Link {
    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("write to the viewer's control client");
        self.stdin
            .flush()
            .expect("flush the viewer's control client");
    }

    /// The next reply's lines: notifications before it are passed over.
    fn reply(&mut self) -> Vec<String> {
        let next = |lines: &mpsc::Receiver<String>| {
            lines
                .recv_timeout(Duration::from_secs(10))
                .expect("the viewer's control client answers")
        };
        while !next(&self.lines).starts_with("%begin ") {}
        let mut body = Vec::new();
        loop {
            let line = next(&self.lines);
            if line.starts_with("%end ") {
                return body;
            }
            assert!(
                !line.starts_with("%error "),
                "the viewer refused a command: {body:?}"
            );
            body.push(line);
        }
    }

    fn ask(&mut self, command: &str) -> Vec<String> {
        self.send(command);
        self.reply()
    }

    /// The viewer's screen, as text.
    fn screen(&mut self) -> String {
        self.ask("capture-pane -p -t v").join("\n")
    }

    #[track_caller]
    fn wait_for(&mut self, what: &str, timeout: Duration, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the dashboard never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How long after `start` the screen passed `check` (read every 5 ms).
    #[track_caller]
    fn wait_since(&mut self, start: Instant, what: &str, check: impl Fn(&str) -> bool) -> Duration {
        loop {
            let screen = self.screen();
            if check(&screen) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the dashboard never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
