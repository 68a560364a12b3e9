//! The web page's row: `fleet serve` over 100 stub agents with 20 browsers
//! connected, as the issue asks (server under 5% of a core idle; a
//! transition at all 20 within 1 s; the page's first load under 300 ms on
//! loopback). Everything is measured from outside, over plain TCP on
//! loopback, as a browser would see it.
//!
//! - the browsers: 20 threads, each one HTTP/1.1 connection to
//!   `/api/stream` with the cookie the printed URL's `?token=` is traded
//!   for, reading the chunked body and noting when each event came (when
//!   its last byte was read).
//! - CPU: utime + stime of the `fleet serve` process (all its threads),
//!   of the processes it started and reaped (cutime, cstime), and of every
//!   process still under it (its tmux control client, its `timeout` and
//!   `tmux wait-for` bell), from /proc, over `FLEET_BENCH_WATCH_SECS` (30 s
//!   here) once every agent is idle; split into the main thread (the tokio
//!   runtime: HTTP and the event streams), the other threads (the feed)
//!   and the processes under it. The fleet's tmux server over the same
//!   window, for scale.
//! - transitions, each timed from the act's completion until the last of
//!   the 20 streams has brought an `agents` event that shows it: `fleet
//!   stop` of an agent (its kill-session is its last act, so tmux has
//!   ended the session when it exits) until the row says `missing`; a stub
//!   asked a question (`tmux send-keys ask Enter` returned: tmux has the
//!   keys; the stub still has to print) until the row says `waiting`.
//!   Spread over the monitor's looks as the dashboard's row does.
//! - first load: a new connection, `GET /` with the cookie, then `GET
//!   /api/agents` on it, both bodies read whole. Also, for scale, `/` then
//!   the first event of `/api/stream`, which is what the page itself waits
//!   for to draw.
//! - memory: the server's resident set (and that of the processes under
//!   it) after all that.
//!
//! Everything it made (the streams, the server and whatever it started,
//! the fleet's tmux server, the temp dir) is ended when it ends, also when
//! it panics.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::dash::{alive, descendants, missed, phase, tree_ticks};
use crate::{AGENTS, Bench, RUNS, cpu_ticks, fleet_bin, median, ms, server_pid};

/// Browsers connected to the event stream.
const CLIENTS: usize = 20;
/// Transitions measured, of each kind.
const TRANSITIONS: usize = 5;
/// A transition not at every stream by then is counted as missed.
const TRANSITION_WAIT: Duration = Duration::from_secs(10);
/// How long a read waits before looking whether to go on.
const TICK: Duration = Duration::from_millis(100);
/// No stream outlives this, whatever happens.
const MAX_STREAM: Duration = Duration::from_secs(30 * 60);
/// A first load that has not finished by then fails the bench.
const LOAD_WAIT: Duration = Duration::from_secs(10);

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
    let file = write_fleet(&bench);
    bench.fleet(&["--file", &file, "up"]);
    // Dropped in reverse: the streams, the server, then the bench (the
    // fleet's tmux server and the temp dir).
    let server = Server::start(&bench, &file);
    let cookie = server.cookie();
    let clients = Clients::connect(server.port, &cookie);

    println!();
    println!(
        "fleet serve: {AGENTS} stub agents, {CLIENTS} event streams open (browsers), on loopback"
    );
    println!();

    // Every stream brings the rows at once; then the fleet goes idle (the
    // stubs' banners age past the idle threshold).
    let mut latest = clients.first_events();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !quiet(&board(&latest)) {
        match clients.next(deadline) {
            Some(Heard {
                said: Said::Agents(data),
                ..
            }) => latest = data,
            Some(Heard {
                client,
                said: Said::Gone(why),
                ..
            }) => panic!("stream {client} ended: {why}"),
            Some(_) => {}
            None => panic!(
                "the streams never showed {AGENTS} running agents, none working, within 60 s: {latest}"
            ),
        }
    }
    let idle = Cpu::measure(&server, &bench, secs, &clients);

    // Transitions: agents 10 to 19, stops and asks taking turns.
    let mut stops = Vec::new();
    let mut asks = Vec::new();
    for k in 0..TRANSITIONS {
        std::thread::sleep(phase(k));
        let stopped = name(10 + 2 * k);
        stops.push(clients.transition(
            || {
                bench.fleet(&["--file", &file, "stop", &stopped]);
            },
            |board| row_of(board, &stopped).is_some_and(|r| r["status"] == "missing"),
        ));
        std::thread::sleep(phase(k));
        let asked = name(11 + 2 * k);
        asks.push(clients.transition(
            || {
                bench.tmux(&["send-keys", "-t", &format!("={asked}:"), "ask", "Enter"]);
            },
            |board| row_of(board, &asked).is_some_and(|r| r["activity"] == "waiting"),
        ));
    }

    let (loads, page_size, agents_size) = first_loads(&server, &cookie);
    let streamed = first_streams(&server, &cookie);
    let (rss, rss_under, under) = server.rss();

    println!("{:<38} {:>10}  {:>7}  goal", "measure", "figure", "");
    idle.print(&format!("serve CPU, {secs} s, idle, {CLIENTS} streams"));
    print_transitions("fleet stop -> all 20 streams `missing`", &stops);
    print_transitions("ask -> all 20 streams `waiting`", &asks);
    let mut sorted = loads.clone();
    sorted.sort();
    let load = median(loads);
    println!(
        "{:<38} {:>10}  {:>7}  < 300 ms{} (median of {RUNS}; max {}; page {:.1} KiB, agents {:.1} KiB)",
        "first load: / + /api/agents",
        ms(load),
        "",
        missed(load >= Duration::from_millis(300)),
        ms(sorted[sorted.len() - 1]),
        page_size as f64 / 1024.0,
        agents_size as f64 / 1024.0,
    );
    println!(
        "{:<38} {:>10}  {:>7}  (no goal: what the page waits for to draw; median of {RUNS})",
        "  / + first /api/stream event",
        ms(median(streamed)),
        ""
    );
    println!(
        "{:<38} {:>7.1} MiB  {:>7}  (no goal) (the {under} processes under it: {:.1} MiB more)",
        "serve RSS after the run",
        rss as f64 / 1024.0,
        "",
        rss_under as f64 / 1024.0,
    );
    println!(
        "\n(the row took {:.0} s; FLEET_BENCH_WATCH_SECS sets the CPU window)",
        began.elapsed().as_secs_f64()
    );
    drop(clients);
    drop(server);
    drop(bench);
}

/// The fleet file: 100 stubs. Its path.
fn write_fleet(bench: &Bench) -> String {
    let mut text = String::from("[defaults]\nruntime = \"stub\"\n");
    for i in 0..AGENTS {
        text.push_str(&format!("\n[agents.{}]\n", name(i)));
    }
    let path = bench.root.path().join("work").join("fleet.toml");
    std::fs::write(&path, text).expect("write the serve fleet file");
    path.to_string_lossy().into_owned()
}

/// The board an `agents` event carries.
fn board(data: &str) -> Value {
    serde_json::from_str(data)
        .unwrap_or_else(|e| panic!("an `agents` event that is not JSON ({e}): {data}"))
}

fn row_of<'a>(board: &'a Value, name: &str) -> Option<&'a Value> {
    board["agents"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
}

/// Every agent running, none working: a quiet fleet.
fn quiet(board: &Value) -> bool {
    let rows = board["agents"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    rows.len() == AGENTS
        && rows
            .iter()
            .all(|r| r["status"] == "running" && r["activity"] != "working")
}

/// `fleet serve` on a loopback port of its choosing. Dropped: it and
/// every process under it ended, for sure.
struct Server {
    child: Child,
    port: u16,
    token: String,
}

impl Server {
    fn start(bench: &Bench, file: &str) -> Self {
        let mut cmd = Command::new(fleet_bin());
        cmd.args(["--file", file, "serve", "--listen", "127.0.0.1:0"]);
        bench.env(&mut cmd);
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn fleet serve");
        let stdout = child.stdout.take().expect("fleet serve's stdout");
        // Owned from here: a panic below still ends it.
        let mut server = Self {
            child,
            port: 0,
            token: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        // Reads until the server ends (its stdout closes).
        std::thread::spawn(move || {
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines.map_while(Result::ok) {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("fleet serve prints its address within 20 s");
        let (addr, token) = line
            .split_once("http://")
            .and_then(|(_, url)| url.split_once("/?token="))
            .unwrap_or_else(|| panic!("fleet serve printed no URL with a token: {line:?}"));
        let addr: SocketAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("fleet serve's address {addr:?}: {e}"));
        server.port = addr.port();
        server.token = token.trim().to_string();
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The cookie the printed URL is traded for, as a `Cookie:` value.
    fn cookie(&self) -> String {
        let mut conn = Conn::open(self.port).expect("connect to fleet serve");
        let (head, _) = conn
            .get(
                &format!("/?token={}", self.token),
                None,
                &deadline(LOAD_WAIT),
            )
            .expect("fleet serve answers the printed URL");
        assert_eq!(head.code, 303, "the printed URL is not redirected");
        let cookie = head
            .header("set-cookie")
            .expect("the printed URL sets a cookie");
        cookie
            .split(';')
            .next()
            .expect("a cookie's name=value")
            .to_string()
    }

    /// Resident kB of the server, of the processes under it, and how many
    /// those are.
    fn rss(&self) -> (u64, u64, usize) {
        let under = descendants(self.pid());
        (
            rss_kb(self.pid()),
            under.iter().map(|&p| rss_kb(p)).sum(),
            under.len(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.pid();
        // Those started after it, known by when they started: a pid used
        // again by then is not ours.
        let under: Vec<(u32, u64)> = descendants(pid)
            .into_iter()
            .map(|p| (p, started(p)))
            .collect();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (p, at) in under {
            if alive(p) && started(p) == at {
                let _ = Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .status();
            }
        }
    }
}

/// When a process started (clock ticks after boot), from /proc; 0 when it
/// is gone.
fn started(pid: u32) -> u64 {
    stat_fields(&format!("/proc/{pid}/stat"))
        .get(19)
        .copied()
        .unwrap_or(0)
}

/// The numeric fields of a /proc stat file after the command name (the
/// state is index 0, utime 11, stime 12).
fn stat_fields(path: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

/// utime + stime of a process or thread, without its children's.
fn own_ticks(path: &str) -> u64 {
    stat_fields(path)
        .get(11..13)
        .map(|f| f.iter().sum())
        .unwrap_or(0)
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn deadline(wait: Duration) -> impl Fn() -> bool {
    let until = Instant::now() + wait;
    move || Instant::now() < until
}

/// One HTTP/1.1 connection to the server, read by hand: what a browser
/// sends, and the time the last byte of an answer came.
struct Conn {
    stream: TcpStream,
    port: u16,
    /// Read, not yet taken.
    buf: Vec<u8>,
}

/// A response's status code and headers (names in lower case).
struct Head {
    code: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    fn open(port: u16) -> Result<Self, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(TICK))
            .map_err(|e| format!("a read timeout: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Self {
            stream,
            port,
            buf: Vec::new(),
        })
    }

    fn request(&mut self, path: &str, cookie: Option<&str>) -> Result<(), String> {
        let mut text = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", self.port);
        if let Some(cookie) = cookie {
            text.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        text.push_str("\r\n");
        self.stream
            .write_all(text.as_bytes())
            .map_err(|e| format!("send GET {path}: {e}"))
    }

    /// Reads what came within a tick: false if nothing did.
    fn more(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// The bytes before `end`, taken with it; reading while `go_on`.
    fn until(&mut self, end: &[u8], go_on: &dyn Fn() -> bool) -> Result<Vec<u8>, String> {
        loop {
            if let Some(at) = find(&self.buf, end) {
                let mut taken: Vec<u8> = self.buf.drain(..at + end.len()).collect();
                taken.truncate(at);
                return Ok(taken);
            }
            if !go_on() {
                return Err(format!("no {:?} in time", String::from_utf8_lossy(end)));
            }
            self.more()?;
        }
    }

    /// The next `n` bytes; reading while `go_on`.
    fn exact(&mut self, n: usize, go_on: &dyn Fn() -> bool) -> Result<Vec<u8>, String> {
        loop {
            if self.buf.len() >= n {
                return Ok(self.buf.drain(..n).collect());
            }
            if !go_on() {
                return Err(format!("{n} bytes did not come in time"));
            }
            self.more()?;
        }
    }

    fn head(&mut self, go_on: &dyn Fn() -> bool) -> Result<Head, String> {
        let text = self.until(b"\r\n\r\n", go_on)?;
        let text = String::from_utf8_lossy(&text);
        let mut lines = text.split("\r\n");
        let code = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line: {text:?}"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Head { code, headers })
    }

    fn chunked(head: &Head) -> bool {
        head.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    /// The next chunk of a chunked body; `None` at its end.
    fn chunk(&mut self, go_on: &dyn Fn() -> bool) -> Result<Option<Vec<u8>>, String> {
        let line = self.until(b"\r\n", go_on)?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|e| format!("a chunk size {size:?}: {e}"))?;
        if size == 0 {
            // No trailers: the empty line that ends the body.
            self.until(b"\r\n", go_on)?;
            return Ok(None);
        }
        let data = self.exact(size, go_on)?;
        self.until(b"\r\n", go_on)?;
        Ok(Some(data))
    }

    /// A whole body, by its length or its chunks.
    fn body(&mut self, head: &Head, go_on: &dyn Fn() -> bool) -> Result<Vec<u8>, String> {
        if Self::chunked(head) {
            let mut body = Vec::new();
            while let Some(data) = self.chunk(go_on)? {
                body.extend(data);
            }
            return Ok(body);
        }
        let length = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or("an answer with neither a length nor chunks")?;
        self.exact(length, go_on)
    }

    fn get(
        &mut self,
        path: &str,
        cookie: Option<&str>,
        go_on: &dyn Fn() -> bool,
    ) -> Result<(Head, Vec<u8>), String> {
        self.request(path, cookie)?;
        let head = self.head(go_on)?;
        let body = self.body(&head, go_on)?;
        Ok((head, body))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a stream brought, and when (its last byte read).
struct Heard {
    client: usize,
    at: Instant,
    said: Said,
}

enum Said {
    /// An `agents` event's data.
    Agents(String),
    /// A `: still here` comment.
    Comment,
    /// The stream ended, and why.
    Gone(String),
}

/// The browsers: one thread per event stream.
struct Clients {
    heard: mpsc::Receiver<Heard>,
    stop: Arc<AtomicBool>,
    sockets: Vec<TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Clients {
    fn connect(port: u16, cookie: &str) -> Self {
        let (tx, heard) = mpsc::channel();
        let mut clients = Self {
            heard,
            stop: Arc::new(AtomicBool::new(false)),
            sockets: Vec::new(),
            threads: Vec::new(),
        };
        for client in 0..CLIENTS {
            let conn = Conn::open(port).expect("connect a stream to fleet serve");
            clients.sockets.push(
                conn.stream
                    .try_clone()
                    .expect("a second handle on a stream's socket"),
            );
            let (tx, stop, cookie) = (tx.clone(), clients.stop.clone(), cookie.to_string());
            clients.threads.push(std::thread::spawn(move || {
                let began = Instant::now();
                let go_on = || !stop.load(Ordering::Relaxed) && began.elapsed() < MAX_STREAM;
                let why = follow(client, conn, &cookie, &tx, &go_on)
                    .err()
                    .unwrap_or_else(|| "it ended".into());
                if go_on() {
                    let _ = tx.send(Heard {
                        client,
                        at: Instant::now(),
                        said: Said::Gone(why),
                    });
                }
            }));
        }
        clients
    }

    fn next(&self, until: Instant) -> Option<Heard> {
        self.heard
            .recv_timeout(until.saturating_duration_since(Instant::now()))
            .ok()
    }

    /// Waits until every stream brought its first `agents` event; the last
    /// one's data.
    fn first_events(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = [false; CLIENTS];
        let mut latest = String::new();
        while seen.iter().any(|s| !s) {
            let heard = self.next(deadline).unwrap_or_else(|| {
                panic!(
                    "only {} of {CLIENTS} streams brought the agents within 20 s",
                    seen.iter().filter(|s| **s).count()
                )
            });
            match heard.said {
                Said::Agents(data) => {
                    seen[heard.client] = true;
                    latest = data;
                }
                Said::Gone(why) => panic!("stream {} ended: {why}", heard.client),
                Said::Comment => {}
            }
        }
        latest
    }

    /// Does `act`; how long after it finished each stream brought an
    /// `agents` event that `shows` its effect (`None`: not within
    /// [`TRANSITION_WAIT`]).
    fn transition(
        &self,
        act: impl FnOnce(),
        shows: impl Fn(&Value) -> bool,
    ) -> Vec<Option<Duration>> {
        // What came before is no answer.
        for heard in self.heard.try_iter() {
            if let Said::Gone(why) = heard.said {
                panic!("stream {} ended: {why}", heard.client);
            }
        }
        let begun = Instant::now();
        act();
        let done = Instant::now();
        let deadline = done + TRANSITION_WAIT;
        let mut seen = [None; CLIENTS];
        while seen.iter().any(Option::is_none) {
            let Some(heard) = self.next(deadline) else {
                break;
            };
            if heard.at < begun || seen[heard.client].is_some() {
                continue;
            }
            match heard.said {
                Said::Agents(data) if shows(&board(&data)) => {
                    seen[heard.client] = Some(heard.at.saturating_duration_since(done));
                }
                Said::Gone(why) => panic!("stream {} ended: {why}", heard.client),
                _ => {}
            }
        }
        seen.to_vec()
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for socket in &self.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Each ends within a read's tick of being told.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One browser's event stream: each event to `tx` as it comes.
fn follow(
    client: usize,
    mut conn: Conn,
    cookie: &str,
    tx: &mpsc::Sender<Heard>,
    go_on: &dyn Fn() -> bool,
) -> Result<(), String> {
    conn.request("/api/stream", Some(cookie))?;
    let head = conn.head(go_on)?;
    if head.code != 200 {
        return Err(format!("/api/stream answered {}", head.code));
    }
    if !Conn::chunked(&head) {
        return Err("/api/stream is not chunked".into());
    }
    let mut text: Vec<u8> = Vec::new();
    while let Some(data) = conn.chunk(go_on)? {
        let at = Instant::now();
        text.extend(data);
        while let Some(end) = find(&text, b"\n\n") {
            let event: Vec<u8> = text.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event[..end]);
            let mut kind = None;
            let mut data = Vec::new();
            let mut comment = false;
            for line in event.lines() {
                if let Some(k) = line.strip_prefix("event:") {
                    kind = Some(k.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                } else if line.starts_with(':') {
                    comment = true;
                }
            }
            let said = match kind.as_deref() {
                Some("agents") => Said::Agents(data.join("\n")),
                None if comment => Said::Comment,
                _ => continue,
            };
            if tx.send(Heard { client, at, said }).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// CPU used over the idle window, as % of one core, and what the streams
/// brought meanwhile.
struct Cpu {
    /// The server, its threads, and every process under it.
    total: f64,
    /// The main thread: the tokio runtime (HTTP, the event streams).
    main: f64,
    /// Its other threads: the feed (the monitor, the preview), the keeper.
    others: f64,
    /// The processes under it, and those it reaped.
    under: f64,
    processes: usize,
    tmux: f64,
    /// `agents` events and comments per stream (the least and the most).
    events: (usize, usize),
    comments: usize,
    kib: f64,
}

impl Cpu {
    fn measure(server: &Server, bench: &Bench, secs: u64, clients: &Clients) -> Self {
        let pid = server.pid();
        let tmux = server_pid(bench).expect("the fleet's tmux server");
        let main = format!("/proc/{pid}/task/{pid}/stat");
        let own = format!("/proc/{pid}/stat");
        let snapshot = || {
            (
                tree_ticks(pid),
                own_ticks(&own),
                own_ticks(&main),
                cpu_ticks(tmux),
            )
        };
        // What came before the window is not counted.
        for _ in clients.heard.try_iter() {}
        let before = snapshot();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let processes = descendants(pid).len();
        let after = snapshot();
        let wall = start.elapsed().as_secs_f64();
        let mut events = [0usize; CLIENTS];
        let (mut comments, mut bytes) = (0, 0);
        for heard in clients.heard.try_iter() {
            match heard.said {
                Said::Agents(data) => {
                    events[heard.client] += 1;
                    bytes += data.len();
                }
                Said::Comment => comments += 1,
                Said::Gone(why) => panic!("stream {} ended: {why}", heard.client),
            }
        }
        // USER_HZ on Linux.
        let pct = |ticks: u64| ticks as f64 / 100.0 / wall * 100.0;
        let total = after.0.saturating_sub(before.0);
        let own = after.1.saturating_sub(before.1);
        let main = after.2.saturating_sub(before.2);
        Self {
            total: pct(total),
            main: pct(main),
            others: pct(own.saturating_sub(main)),
            under: pct(total.saturating_sub(own)),
            processes,
            tmux: pct(after.3.saturating_sub(before.3)),
            events: (
                events.iter().copied().min().unwrap_or(0),
                events.iter().copied().max().unwrap_or(0),
            ),
            comments,
            kib: bytes as f64 / 1024.0,
        }
    }

    fn print(&self, what: &str) {
        println!(
            "{:<38} {:>9.2}%  {:>7}  < 5% of a core{} (main thread {:.2}%, other threads {:.2}%, \
             the {} processes under it {:.2}%; the fleet's tmux {:.2}%; {}–{} events a stream, \
             {:.0} KiB to all, {} keepalives)",
            what,
            self.total,
            "",
            missed(self.total >= 5.0),
            self.main,
            self.others,
            self.processes,
            self.under,
            self.tmux,
            self.events.0,
            self.events.1,
            self.kib,
            self.comments,
        );
    }
}

/// Each transition's time to the last of the streams: the median, the
/// max, and the most between the first stream and the last.
fn print_transitions(what: &str, runs: &[Vec<Option<Duration>>]) {
    let mut lasts = Vec::new();
    let mut spread = Duration::ZERO;
    let mut unseen = 0;
    for run in runs {
        unseen += run.iter().filter(|t| t.is_none()).count();
        let seen: Vec<Duration> = run.iter().flatten().copied().collect();
        let first = seen.iter().min().copied().unwrap_or(TRANSITION_WAIT);
        let last = if seen.len() == run.len() {
            seen.iter().max().copied().unwrap_or(TRANSITION_WAIT)
        } else {
            TRANSITION_WAIT
        };
        spread = spread.max(last.saturating_sub(first));
        lasts.push(last);
    }
    lasts.sort();
    let max = lasts[lasts.len() - 1];
    println!(
        "{:<38} {:>10}  {:>7}  < 1 s{} (median of {}; max {}; first stream to last at most {}{})",
        what,
        ms(lasts[lasts.len() / 2]),
        "",
        missed(max >= Duration::from_secs(1)),
        lasts.len(),
        ms(max),
        ms(spread),
        match unseen {
            0 => String::new(),
            n => format!(
                "; {n} stream(s) never showed it within {}, counted as that",
                ms(TRANSITION_WAIT)
            ),
        }
    );
}

/// `RUNS` first loads: a new connection, the page, then the agents, both
/// read whole; the times, and the sizes of the last page and agents.
fn first_loads(server: &Server, cookie: &str) -> (Vec<Duration>, usize, usize) {
    let mut took = Vec::new();
    let (mut page_size, mut agents_size) = (0, 0);
    for _ in 0..RUNS {
        let go_on = deadline(LOAD_WAIT);
        let start = Instant::now();
        let mut conn = Conn::open(server.port).expect("connect to fleet serve");
        let (head, page) = conn
            .get("/", Some(cookie), &go_on)
            .expect("fleet serve answers /");
        let (agents_head, agents) = conn
            .get("/api/agents", Some(cookie), &go_on)
            .expect("fleet serve answers /api/agents");
        took.push(start.elapsed());
        assert_eq!(head.code, 200, "/ was refused");
        assert!(
            String::from_utf8_lossy(&page).contains("<title>fleet</title>"),
            "/ is not the page"
        );
        assert_eq!(agents_head.code, 200, "/api/agents was refused");
        let rows = board(&String::from_utf8_lossy(&agents))["agents"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(rows, AGENTS, "/api/agents has not every agent");
        (page_size, agents_size) = (page.len(), agents.len());
        // Loads a person makes, not a flood.
        std::thread::sleep(Duration::from_millis(50));
    }
    (took, page_size, agents_size)
}

/// `RUNS` loads as the page makes them: a new connection, the page, then
/// `/api/stream` on it until its first `agents` event.
fn first_streams(server: &Server, cookie: &str) -> Vec<Duration> {
    let mut took = Vec::new();
    for _ in 0..RUNS {
        let go_on = deadline(LOAD_WAIT);
        let start = Instant::now();
        let mut conn = Conn::open(server.port).expect("connect to fleet serve");
        let (head, _) = conn
            .get("/", Some(cookie), &go_on)
            .expect("fleet serve answers /");
        assert_eq!(head.code, 200, "/ was refused");
        conn.request("/api/stream", Some(cookie))
            .expect("ask for /api/stream");
        let head = conn.head(&go_on).expect("fleet serve answers /api/stream");
        assert_eq!(head.code, 200, "/api/stream was refused");
        let mut text = Vec::new();
        while find(&text, b"\n\n").is_none() {
            let data = conn
                .chunk(&go_on)
                .expect("the stream's first event")
                .expect("a stream that goes on");
            text.extend(data);
        }
        took.push(start.elapsed());
        assert!(
            text.starts_with(b"event: agents\n"),
            "the stream's first event is not the agents: {}",
            String::from_utf8_lossy(&text)
        );
        let _ = conn.stream.shutdown(Shutdown::Both);
        std::thread::sleep(Duration::from_millis(50));
    }
    took
}
