//! `fleet serve` against real HTTP requests on a loopback port: the token,
//! the cookie, the JSON of the agents, and live updates over server-sent
//! events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Spawned, TestEnv, wait_until};

/// A free loopback port (bound, read, released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A connection to the server on `port`, reads bounded by `seconds`.
pub(crate) fn connect(port: u16, seconds: u64) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(seconds)))
        .unwrap_or_else(|e| panic!("{e}"));
    stream
}

/// One HTTP/1.1 request; the status line's code, the headers, the body.
fn http(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut stream = connect(port, 10);
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_string(), body.to_string())
}

/// `fleet serve` on a free port, once it answers; and its token.
pub(crate) fn serve(env: &TestEnv) -> (Spawned, u16, String) {
    serve_with(env, &[])
}

/// `fleet serve ARGS` on a free port, once it answers; and its token.
pub(crate) fn serve_with(env: &TestEnv, args: &[&str]) -> (Spawned, u16, String) {
    serve_on(env, free_port(), args)
}

/// `fleet serve ARGS` on `port`, once it answers; and its token.
pub(crate) fn serve_on(env: &TestEnv, port: u16, args: &[&str]) -> (Spawned, u16, String) {
    let listen = format!("127.0.0.1:{port}");
    let mut argv = vec!["serve", "--listen", &listen];
    argv.extend_from_slice(args);
    let server = env.spawn(&argv, &[]);
    let line = server
        .line(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("fleet serve said nothing"));
    let token = line
        .split("?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no URL with a token: {line}"))
        .to_string();
    assert!(line.contains(&format!("://{listen}/")), "{line}");
    (server, port, token)
}

#[test]
fn every_request_needs_the_token_and_the_page_trades_it_for_a_private_cookie() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    let (_server, port, token) = serve(&env);
    // The token is kept private, and is the same next time.
    use std::os::unix::fs::PermissionsExt;
    let kept = env.root().join("state/serve-token");
    let mode = std::fs::metadata(&kept).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    assert_eq!(std::fs::read_to_string(&kept).unwrap_or_default(), token);
    // Nothing without it.
    for path in ["/", "/api/agents", "/api/events", "/api/stream"] {
        assert_eq!(http(port, path, &[]).0, 401, "{path}");
    }
    assert_eq!(http(port, "/?token=wrong", &[]).0, 401);
    let wrong = "Bearer 0000000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(
        http(port, "/api/agents", &[("Authorization", wrong)]).0,
        401
    );
    // The URL's token becomes an HttpOnly, SameSite=Strict cookie.
    let (code, head, _) = http(port, &format!("/?token={token}"), &[]);
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default();
    let (code, _, page) = http(port, "/", &[("Cookie", pair)]);
    assert_eq!(code, 200);
    assert!(page.contains("<title>fleet</title>"));
    // The agents are what ps says, by cookie or by bearer token.
    let bearer = format!("Bearer {token}");
    let (code, _, body) = http(port, "/api/agents", &[("Authorization", &bearer)]);
    assert_eq!(code, 200);
    let board: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(board["agents"][0]["name"], "s1", "{body}");
    assert_eq!(board["agents"][0]["status"], "running", "{body}");
    let (code, _, body) = http(port, "/api/events", &[("Cookie", pair)]);
    assert_eq!(code, 200);
    let events: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e["agent"] == "s1" && e["event"] == "started"),
        "{body}"
    );
}

#[test]
fn the_event_stream_brings_a_transition_within_a_second() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n[agents.s2]\n");
    env.fleet(&["up"]).success();
    let (_server, port, token) = serve(&env);
    let mut stream = connect(port, 10);
    let request = format!(
        "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ")
                && let Ok(board) = serde_json::from_str::<Value>(data)
                && tx.send(board).is_err()
            {
                return;
            }
        }
    });
    let status = |board: &Value, name: &str| -> String {
        board["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .map(|r| r["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    // The present state first.
    let mut running = false;
    assert!(wait_until(Duration::from_secs(10), || {
        while let Ok(board) = rx.try_recv() {
            running |= status(&board, "s1") == "running" && status(&board, "s2") == "running";
        }
        running
    }));
    // A stop reaches the stream within a second.
    env.fleet(&["stop", "s1"]).success();
    let stopped = Instant::now();
    let mut seen = None;
    while stopped.elapsed() < Duration::from_secs(5) {
        if let Ok(board) = rx.recv_timeout(Duration::from_millis(100))
            && status(&board, "s1") == "missing"
        {
            seen = Some(stopped.elapsed());
            break;
        }
    }
    let took = seen.unwrap_or_else(|| panic!("the stop never reached the stream"));
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_bad_listen_address_is_refused_in_one_line() {
    let env = TestEnv::new();
    env.fleet(&["serve", "--listen", "everywhere"])
        .failure(2)
        .one_line_error("--listen \"everywhere\" is not an address");
}

#[test]
fn an_agents_screen_comes_as_escaped_html_and_never_as_markup() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    env.wait_screen("s1", "anything else is echoed");
    env.type_line(
        "s1",
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
    );
    env.wait_screen("s1", "echo: <script>");
    let (_server, port, token) = serve(&env);
    let bearer = format!("Bearer {token}");
    let host = {
        let (_, _, body) = http(port, "/api/agents", &[("Authorization", &bearer)]);
        let board: Value = serde_json::from_str(&body).unwrap_or_default();
        board["agents"][0]["host"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let path = format!("/api/screen?name=s1&host={host}");
    let (code, _, body) = http(port, &path, &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{body}");
    let screen: Value = serde_json::from_str(&body).unwrap_or_default();
    let html = screen["html"].as_str().unwrap_or_default();
    assert!(
        html.contains("echo: &lt;script&gt;alert(1)&lt;/script&gt;&lt;img"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    // Its transcript, as text never sniffed for markup; its explain, JSON.
    let path_of = |what: &str| format!("/api/{what}?name=s1&host={host}");
    let (code, head, text) = http(port, &path_of("transcript"), &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{text}");
    assert!(
        head.contains("text/plain") && head.contains("nosniff"),
        "{head}"
    );
    assert!(text.contains("echo: <script>alert(1)</script>"), "{text}");
    let (code, _, json) = http(port, &path_of("explain"), &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{json}");
    let why: Value = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(why["name"], "s1", "{json}");
    // Only agents it knows; and nothing without the token.
    let (code, _, _) = http(
        port,
        "/api/screen?name=nope&host=x",
        &[("Authorization", &bearer)],
    );
    assert_eq!(code, 404);
    assert_eq!(http(port, &path, &[]).0, 401);
}
