//! Real headless Chromium for the page's tests, driven over WebDriver.
//!
//! Theory of operation. `Browser::start` runs Debian's `chromedriver` on a
//! free loopback port, in a process group of its own and with a cleared
//! environment, waits (bounded) until its `/status` says ready, and opens
//! one session of headless Chromium with a private profile and `HOME`
//! under the test's temp dir. Every command is one HTTP/1.1 request on a
//! fresh connection, JSON both ways, its answer read by `Content-Length`
//! (chromedriver keeps the connection open) within a bounded time. On
//! drop, after a panic too, the session is deleted, the process group
//! killed, and then any process whose command line still names the
//! private dir (Chromium's crash handler leaves the group): no test leaves
//! a browser behind. A failing test's screenshots, one of the page as it
//! was at the end, and chromedriver's log are copied under
//! `CARGO_TARGET_TMPDIR/browser/TEST/` (in target/tmp), and the path is
//! printed; `FLEET_KEEP_SHOTS=1` keeps a passing test's too, to look at.
//!
//! Missing Chromium is a failure that says how to install it, never a skip.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::serve::free_port;

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

const INSTALL: &str = "apt-get install chromium chromium-driver";

/// How long one WebDriver command may take (a new session starts Chromium:
/// seconds on a busy 2-core machine).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    driver: Child,
    port: u16,
    session: Option<String>,
    dir: PathBuf,
}

/// An element of the page, as WebDriver refers to it.
#[derive(Clone, Debug)]
pub struct Element(String);

/// A screenshot, saved as a file.
pub struct Shot {
    pub path: PathBuf,
    pub png: Vec<u8>,
}

impl Browser {
    /// Chromium, headless, with its profile, home and screenshots in `dir`
    /// (inside the test's temp dir, made here).
    pub fn start(dir: &Path) -> Browser {
        let chromedriver = program("chromedriver");
        let chromium = program("chromium");
        for sub in ["home", "tmp", "shots"] {
            std::fs::create_dir_all(dir.join(sub))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(sub).display()));
        }
        let log = std::fs::File::create(dir.join("chromedriver.log"))
            .unwrap_or_else(|e| panic!("chromedriver.log: {e}"));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("chromedriver.log: {e}"));
        let port = free_port();
        use std::os::unix::process::CommandExt;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .env_clear()
            .env("HOME", dir.join("home"))
            .env("TMPDIR", dir.join("tmp"))
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own group, so Chromium and its helpers go with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} ({INSTALL})", chromedriver.display()));
        let mut browser = Browser {
            driver,
            port,
            session: None,
            dir: dir.to_path_buf(),
        };
        let ready = wait_for_polls(Duration::from_secs(10), || {
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited with {status}: {}", browser.log_tail());
            }
            browser
                .request("GET", "/status", None, Duration::from_secs(2))
                .is_ok_and(|v| v["ready"] == true)
        });
        assert!(
            ready,
            "chromedriver did not answer on port {port} within 10 s: {}",
            browser.log_tail()
        );
        // A Chromium that exits while starting (seen now and then on a
        // loaded 2-core machine) is started again, with a fresh profile,
        // up to three times; the failures are kept in the log.
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let profile = dir.join(format!("profile-{attempt}"));
            match browser.new_session(&chromium, &profile) {
                Ok(id) => {
                    browser.session = Some(id);
                    return browser;
                }
                Err(e) => failures.push(format!("attempt {attempt}: {e}")),
            }
        }
        panic!(
            "no headless Chromium session:\n{}\n{}",
            failures.join("\n"),
            browser.log_tail()
        );
    }

    /// A new WebDriver session of headless Chromium with `profile`; its id.
    fn new_session(&self, chromium: &Path, profile: &Path) -> Result<String, String> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    // An alert nobody expected fails the next command,
                    // loudly.
                    "unhandledPromptBehavior": "dismiss and notify",
                    // A page that never loads fails `go` within this,
                    // rather than after WebDriver's five minutes.
                    "timeouts": { "pageLoad": 20_000, "script": 10_000 },
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new",
                            // CI runs as root, where Chromium's sandbox
                            // cannot start.
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1280,900",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                },
            },
        });
        let session = self.request("POST", "/session", Some(&capabilities), COMMAND_TIMEOUT)?;
        session["sessionId"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("a new session without an id: {session}"))
    }

    /// Opens `url` and waits for it to load.
    pub fn go(&self, url: &str) {
        self.command("POST", "url", json!({ "url": url }));
    }

    /// The handle of the tab (or window) commands go to.
    pub fn tab(&self) -> String {
        string(self.command("GET", "window", Value::Null))
    }

    /// Opens a new tab, blank, and gives its handle; commands still go
    /// to the current one until [`Browser::switch_to`].
    pub fn new_tab(&self) -> String {
        let opened = self.command("POST", "window/new", json!({ "type": "tab" }));
        string(opened["handle"].clone())
    }

    /// Sends commands to the tab (or window) `handle` from now on.
    pub fn switch_to(&self, handle: &str) {
        self.command("POST", "window", json!({ "handle": handle }));
    }

    /// Closes the current tab; commands go nowhere until
    /// [`Browser::switch_to`] another.
    pub fn close_tab(&self) {
        self.command("DELETE", "window", Value::Null);
    }

    /// Runs `source` in every page the current tab opens from now on,
    /// before the page's own scripts (Chromium's DevTools protocol,
    /// `Page.addScriptToEvaluateOnNewDocument`): a browser without some
    /// feature, stood in for.
    pub fn before_each_page(&self, source: &str) {
        self.command(
            "POST",
            "goog/cdp/execute",
            json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": source },
            }),
        );
    }

    /// The address bar.
    pub fn url(&self) -> String {
        string(self.command("GET", "url", Value::Null))
    }

    pub fn title(&self) -> String {
        string(self.command("GET", "title", Value::Null))
    }

    /// Every element that matches a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        elements(self.command(
            "POST",
            "elements",
            json!({ "using": "css selector", "value": css }),
        ))
    }

    /// The first element that matches a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// The elements inside `element` that match a CSS selector.
    pub fn find_in(&self, element: &Element, css: &str) -> Vec<Element> {
        elements(self.command(
            "POST",
            &format!("element/{}/elements", element.0),
            json!({ "using": "css selector", "value": css }),
        ))
    }

    /// The text of an element as a person sees it (rendered, visible only).
    pub fn text(&self, element: &Element) -> String {
        string(self.command("GET", &format!("element/{}/text", element.0), Value::Null))
    }

    /// An attribute of an element, if it has it.
    pub fn attr(&self, element: &Element, name: &str) -> Option<String> {
        self.command(
            "GET",
            &format!("element/{}/attribute/{name}", element.0),
            Value::Null,
        )
        .as_str()
        .map(String::from)
    }

    pub fn click(&self, element: &Element) {
        self.command("POST", &format!("element/{}/click", element.0), json!({}));
    }

    /// Runs `script` (a function body: `return …` gives the answer) in the
    /// page, with `arguments`; its answer as JSON.
    pub fn script(&self, script: &str, arguments: &[Value]) -> Value {
        self.command(
            "POST",
            "execute/sync",
            json!({ "script": script, "args": arguments }),
        )
    }

    /// Sizes the window so that the page itself (the viewport, what a
    /// screenshot shows) is `width`×`height` CSS pixels.
    pub fn set_viewport(&self, width: u32, height: u32) {
        let inner = || -> (i64, i64) {
            let v = self.script("return [innerWidth, innerHeight];", &[]);
            (v[0].as_i64().unwrap_or(-1), v[1].as_i64().unwrap_or(-1))
        };
        let (want_w, want_h) = (i64::from(width), i64::from(height));
        let (mut outer_w, mut outer_h) = (want_w, want_h);
        // The window's frame takes a part of it: measured, then made up for.
        for _ in 0..3 {
            self.command(
                "POST",
                "window/rect",
                json!({ "width": outer_w, "height": outer_h }),
            );
            let (w, h) = inner();
            if (w, h) == (want_w, want_h) {
                return;
            }
            outer_w += want_w - w;
            outer_h += want_h - h;
        }
        panic!(
            "the viewport is {:?}, not {width}x{height}, in a window of {outer_w}x{outer_h}",
            inner()
        );
    }

    /// A screenshot of the viewport, saved as `NAME.png` among the test's
    /// shots.
    pub fn screenshot(&self, name: &str) -> Shot {
        let encoded = string(self.command("GET", "screenshot", Value::Null));
        let png = base64(&encoded).unwrap_or_else(|| panic!("a screenshot that is not base64"));
        let path = self.dir.join("shots").join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Shot { path, png }
    }

    /// The text of the alert, confirm or prompt that is open, if one is.
    pub fn alert_text(&self) -> Option<String> {
        match self.try_command("GET", "alert/text", Value::Null) {
            Ok(text) => Some(string(text)),
            Err(e) if e.starts_with("no such alert") => None,
            Err(e) => panic!("GET alert/text: {e}"),
        }
    }

    /// Polls `check` until it holds, within `timeout`; else fails, saying
    /// `what` was awaited and what the page showed.
    #[track_caller]
    pub fn wait_for(&self, what: &str, timeout: Duration, check: impl FnMut(&Browser) -> bool) {
        let mut check = check;
        if wait_for_polls(timeout, || check(self)) {
            return;
        }
        let shown = self.script("return document.body.innerText;", &[]);
        let shown: String = shown
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(3000)
            .collect();
        let shot = self.screenshot("timed-out");
        panic!(
            "waited {timeout:?} for {what}, in vain; the page showed:\n{shown}\n(screenshot: {})",
            shot.path.display()
        );
    }

    /// A command of the session (`POST /session/ID/PATH`); its value, or
    /// a failure that names it.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let id = self
            .session
            .as_deref()
            .ok_or_else(|| "no session".to_string())?;
        let body = (!body.is_null()).then_some(&body);
        self.request(
            method,
            &format!("/session/{id}/{path}"),
            body,
            COMMAND_TIMEOUT,
        )
    }

    /// One request to chromedriver; the answer's `value`, or its error as
    /// `ERROR: MESSAGE`.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, String> {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| e.to_string())?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        let body =
            read_answer(&mut stream).map_err(|e| format!("{e} (waited up to {timeout:?})"))?;
        let json: Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(500)
                    .collect::<String>()
            )
        })?;
        let value = json["value"].clone();
        match value.get("error").and_then(Value::as_str) {
            Some(error) => Err(format!(
                "{error}: {}",
                value["message"].as_str().unwrap_or_default()
            )),
            None => Ok(value),
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A failing test's evidence, copied where it outlives the temp dir.
    fn keep_evidence(&self) {
        if self.session.is_some() {
            let _ = self
                .try_command("GET", "screenshot", Value::Null)
                .ok()
                .and_then(|v| base64(v.as_str().unwrap_or_default()))
                .map(|png| std::fs::write(self.dir.join("shots/at-the-end.png"), png));
        }
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .replace("::", "-");
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("browser")
            .join(test);
        let _ = std::fs::remove_dir_all(&keep);
        if std::fs::create_dir_all(&keep).is_err() {
            return;
        }
        let shots = std::fs::read_dir(self.dir.join("shots"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path());
        for from in shots.chain([self.dir.join("chromedriver.log")]) {
            if let Some(name) = from.file_name() {
                let _ = std::fs::copy(&from, keep.join(name));
            }
        }
        eprintln!(
            "browser: screenshots and chromedriver's log kept in {}",
            keep.display()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("FLEET_KEEP_SHOTS").is_some() {
            self.keep_evidence();
        }
        if let Some(id) = self.session.take() {
            let _ = self.request(
                "DELETE",
                &format!("/session/{id}"),
                None,
                Duration::from_secs(5),
            );
        }
        if let Some(group) = rustix::process::Pid::from_raw(self.driver.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let gone = wait_for_polls(Duration::from_secs(5), || {
            let left = processes_naming(&self.dir);
            for pid in &left {
                if let Some(pid) = rustix::process::Pid::from_raw(*pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            left.is_empty()
        });
        if !gone {
            eprintln!(
                "browser: processes of {} outlived it: {:?}",
                self.dir.display(),
                processes_naming(&self.dir)
            );
        }
    }
}

impl Shot {
    /// Checks that it is a PNG of `width`×`height` pixels that shows
    /// something: many colours, and a fair share of pixels that are not
    /// the background (the commonest colour).
    #[track_caller]
    pub fn check(&self, width: u32, height: u32) {
        let path = self.path.display();
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&self.png));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{path} is not a PNG: {e}"));
        let header = (reader.info().width, reader.info().height);
        assert_eq!(header, (width, height), "{path}: IHDR says {header:?}");
        let size = reader
            .output_buffer_size()
            .unwrap_or_else(|| panic!("{path}: too big to decode"));
        let mut pixels = vec![0; size];
        let frame = reader
            .next_frame(&mut pixels)
            .unwrap_or_else(|e| panic!("{path}: cannot decode: {e}"));
        let channels = frame.color_type.samples();
        let mut counts = std::collections::HashMap::<&[u8], usize>::new();
        for row in pixels[..frame.buffer_size()].chunks(frame.line_size) {
            for pixel in row.chunks_exact(channels) {
                // The colour without its alpha.
                *counts.entry(&pixel[..channels.min(3)]).or_default() += 1;
            }
        }
        let total = (width as usize) * (height as usize);
        let background = counts.values().copied().max().unwrap_or(total);
        let ink = 1.0 - background as f64 / total as f64;
        assert!(
            counts.len() >= 32 && ink >= 0.02,
            "{path} looks blank: {} colours, {:.2}% of it not the background",
            counts.len(),
            ink * 100.0
        );
    }
}

/// The path of a program the browser tests need, or a failure that says
/// how to install it.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| {
            panic!(
                "the page's tests run real headless Chromium, and {name} is not installed: \
                 {INSTALL} (scripts/test.sh installs them)"
            )
        })
}

/// Polls `check` every 50 ms until it holds or `timeout` passes (each
/// check may be a round trip to the browser, so not faster).
fn wait_for_polls(timeout: Duration, check: impl FnMut() -> bool) -> bool {
    crate::common::wait_every(Duration::from_millis(50), timeout, check)
}

/// Live processes (not zombies, not this one) whose command line names
/// `dir`.
fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        })
        .collect()
}

fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("expected a string from WebDriver, got {other}"),
    }
}

fn elements(value: Value) -> Vec<Element> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list of elements, got {value}"))
        .iter()
        .map(|e| {
            Element(
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("not an element: {e}"))
                    .to_string(),
            )
        })
        .collect()
}

/// Standard base64 (padding optional), as screenshots come.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = bits << 6 | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// The body of an HTTP/1.1 answer: by its `Content-Length`, or its
/// chunks, else up to the end (chromedriver keeps the connection open
/// after its answer, `Connection: close` or not).
fn read_answer(stream: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        if let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
            let body = &answer[split + 4..];
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|n| n.trim().parse::<usize>().ok())
            });
            if let Some(length) = length
                && body.len() >= length
            {
                return Ok(body[..length].to_vec());
            }
            if head.contains("transfer-encoding: chunked")
                && let Some(joined) = dechunk(body)
            {
                return Ok(joined);
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => {
                let split = answer
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .ok_or_else(|| format!("not HTTP: {:?}", String::from_utf8_lossy(&answer)))?;
                return Ok(answer[split + 4..].to_vec());
            }
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) => return Err(format!("no whole answer: {e}")),
        }
    }
}

/// A `Transfer-Encoding: chunked` body, joined.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        body = &body[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[test]
fn base64_and_chunks_decode() {
    assert_eq!(
        base64("aGVsbG8gd29ybGQ=").as_deref(),
        Some(&b"hello world"[..])
    );
    assert_eq!(
        base64("iVBORw0KGgo").as_deref(),
        Some(&b"\x89PNG\r\n\x1a\n"[..])
    );
    assert_eq!(base64("not base64!"), None);
    assert_eq!(
        dechunk(b"4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n").as_deref(),
        Some(&b"Wikipedia "[..])
    );
    assert_eq!(dechunk(b"9\r\nshort\r\n"), None);
}

#[test]
#[should_panic(expected = "apt-get install chromium chromium-driver")]
fn a_missing_browser_fails_and_says_how_to_install_it() {
    program("chromium-that-is-not-there");
}
