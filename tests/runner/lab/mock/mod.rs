//! A mock model server for the real-runtime lab, std only: HTTP/1.1 on
//! 127.0.0.1 at a port of its own, a thread per connection, each response
//! closing its connection.
//!
//! It speaks the streaming APIs the runtimes use (see `wire`) and answers
//! each *turn* — a streaming request that offers tools, i.e. the agent's
//! own loop — with the next [`Reply`] of the test's script. A streaming
//! request that offers no tools (Codex titling its thread) is a side
//! request: it gets a short text and leaves the script alone. Every request
//! is recorded before it is answered, so a test can assert that the
//! runtime really talked to the mock, and what it said.
//!
//! The mock is also the runtimes' HTTP(S) proxy: a CONNECT, or a request
//! for another host, is recorded and refused with 403, so nothing a
//! runtime reaches for (update checks, plugin lists, connectivity probes)
//! leaves the machine, with or without a network.

mod http;
mod wire;

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use http::Request;

/// What a side request is told.
pub const SIDE_TEXT: &str = "Lab side reply";
/// What a turn past the end of the script is told.
pub const EMPTY_SCRIPT: &str = "LAB-SCRIPT-EMPTY";

/// One scripted answer to a turn: text in pieces spread over a while,
/// then, optionally, a call of the runtime's shell tool.
#[derive(Debug, Clone)]
pub struct Reply {
    chunks: Vec<String>,
    over: Duration,
    command: Option<String>,
}

impl Reply {
    /// Lines `LABEL-1` … `LABEL-n` streamed evenly over `over`: the agent is
    /// working. Each piece ends a paragraph, because Claude Code shows
    /// streamed text only a whole line at a time.
    pub fn slow(label: &str, n: usize, over: Duration) -> Self {
        Self {
            chunks: (1..=n).map(|i| format!("{label}-{i}\n\n")).collect(),
            over,
            command: None,
        }
    }

    /// A short text that ends the turn.
    pub fn text(text: &str) -> Self {
        Self {
            chunks: vec![text.to_string()],
            over: Duration::ZERO,
            command: None,
        }
    }

    /// A call of the runtime's shell tool with `command`, nothing else.
    pub fn tool(command: &str) -> Self {
        Self {
            chunks: Vec::new(),
            over: Duration::ZERO,
            command: None,
        }
        .then_tool(command)
    }

    /// After the text, a call of the runtime's shell tool with `command`
    /// (one that needs the user's approval where the runtime asks).
    pub fn then_tool(mut self, command: &str) -> Self {
        self.command = Some(command.to_string());
        self
    }
}

/// A request the mock got, and whether it was a turn of the agent's loop.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub request: Request,
    pub turn: bool,
}

impl std::ops::Deref for Recorded {
    type Target = Request;
    fn deref(&self) -> &Request {
        &self.request
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Recorded>>,
    stopping: AtomicBool,
    replies: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running server; it stops on drop.
pub struct MockModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockModel {
    pub fn start() -> Self {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("mock model: bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("mock model: address: {e}"));
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || serve(&stream, &shared));
                }
            })
        };
        Self {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Appends replies to the script, one per coming turn.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.seen).clone()
    }

    /// The turns so far: the requests of the agent's own loop.
    pub fn turns(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.turn).collect()
    }

    /// The hosts the runtimes tried to reach through the proxy.
    pub fn refused(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "CONNECT" || r.target.contains("://"))
            .map(|r| r.request.target)
            .collect()
    }

    /// Waits until `n` turns have arrived (bounded), and returns them.
    #[track_caller]
    pub fn wait_turns(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let turns = self.turns();
            if turns.len() >= n {
                return turns;
            }
            assert!(
                Instant::now() < deadline,
                "the mock got {} turns, not {n}, within {timeout:?}: {:#?}",
                turns.len(),
                self.requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.target))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Serves one connection: one request, one response.
fn serve(stream: &TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(Some(request)) = http::read_request(stream) else {
        return;
    };
    let record = |turn: bool| {
        lock(&shared.seen).push(Recorded {
            request: request.clone(),
            turn,
        });
    };
    if request.method == "CONNECT" || request.target.contains("://") {
        record(false);
        let _ = http::respond(
            stream,
            "403 Forbidden",
            "text/plain",
            "the lab refuses egress",
        );
        return;
    }
    let body = request.json();
    let path = request.path();
    let api: Option<wire::Writer> = if path.ends_with("/responses") {
        Some(wire::responses)
    } else if path.ends_with("/chat/completions") {
        Some(wire::chat)
    } else if path.ends_with("/messages") {
        Some(wire::anthropic)
    } else {
        None
    };
    match api {
        Some(write) if request.method == "POST" && body["stream"] == true => {
            let turn = !wire::tool_names(&body).is_empty();
            let reply = if turn {
                lock(&shared.script)
                    .pop_front()
                    .unwrap_or_else(|| Reply::text(EMPTY_SCRIPT))
            } else {
                Reply::text(SIDE_TEXT)
            };
            record(turn);
            let gap = reply.over / u32::try_from(reply.chunks.len().max(1)).unwrap_or(1);
            let plan = wire::Plan {
                chunks: &reply.chunks,
                gap,
                command: reply.command.as_deref(),
                n: shared.replies.fetch_add(1, Ordering::SeqCst) + 1,
            };
            let pause = |d: Duration| pause(shared, d);
            let _ = write(stream, &request, &plan, &pause);
        }
        _ if path.ends_with("/count_tokens") => {
            record(false);
            let _ = http::respond(
                stream,
                "200 OK",
                "application/json",
                r#"{"input_tokens": 10}"#,
            );
        }
        _ => {
            record(false);
            let _ = http::respond(
                stream,
                "404 Not Found",
                "application/json",
                r#"{"error": {"type": "not_found_error", "message": "not in the lab"}}"#,
            );
        }
    }
}

/// Sleeps `d`, in slices, failing once the server stops.
fn pause(shared: &Shared, d: Duration) -> std::io::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if shared.stopping.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("the mock is stopping"));
        }
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The mock against a bare std client: the wire shapes that the real
    //! runtimes are then pointed at.

    use std::io::{Read, Write};

    use super::*;

    fn post(mock: &MockModel, path: &str, body: &serde_json::Value) -> String {
        let host = mock.url().trim_start_matches("http://").to_string();
        let mut s = TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect: {e}"));
        let body = body.to_string();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap_or_else(|e| panic!("write: {e}"));
        let mut out = String::new();
        s.read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("read: {e}"));
        out
    }

    /// The JSON of each `data:` line, `[DONE]` as a string.
    fn data(out: &str) -> Vec<serde_json::Value> {
        out.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap_or_else(|_| serde_json::json!(d)))
            .collect()
    }

    fn tools(names: &[&str]) -> serde_json::Value {
        serde_json::json!(
            names
                .iter()
                .map(|n| serde_json::json!({"name": n}))
                .collect::<Vec<_>>()
        )
    }

    #[test]
    fn the_mock_answers_turns_from_its_script_and_records_every_request() {
        let mock = MockModel::start();
        mock.script([
            Reply::slow("S", 2, Duration::from_millis(100)).then_tool("touch x"),
            Reply::text("bye"),
        ]);
        let turn = serde_json::json!({"model": "m", "stream": true, "tools": tools(&["Bash"])});
        let out = post(&mock, "/v1/messages?beta=true", &turn);
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.contains("\r\nContent-Type: text/event-stream\r\n"),
            "{out}"
        );
        let events: Vec<String> = data(&out)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            events,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let all = data(&out);
        assert_eq!(all[2]["delta"]["text"], "S-1\n\n");
        assert_eq!(all[5]["content_block"]["name"], "Bash");
        let input: serde_json::Value =
            serde_json::from_str(all[6]["delta"]["partial_json"].as_str().unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(input["command"], "touch x");
        assert_eq!(all[8]["delta"]["stop_reason"], "tool_use");

        // A side request (no tools) leaves the script alone.
        let side = serde_json::json!({"model": "m", "stream": true, "input": []});
        assert!(post(&mock, "/v1/responses", &side).contains(SIDE_TEXT));
        let out = post(&mock, "/v1/chat/completions", &turn);
        let chunks = data(&out);
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "bye");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks.last(), Some(&serde_json::json!("[DONE]")));
        assert!(post(&mock, "/v1/messages", &turn).contains(EMPTY_SCRIPT));

        let seen: Vec<(String, bool)> = mock
            .requests()
            .iter()
            .map(|r| (r.path().to_string(), r.turn))
            .collect();
        assert_eq!(
            seen,
            [
                ("/v1/messages".to_string(), true),
                ("/v1/responses".to_string(), false),
                ("/v1/chat/completions".to_string(), true),
                ("/v1/messages".to_string(), true),
            ]
        );
        let turns = mock.wait_turns(2, Duration::from_secs(1));
        assert_eq!(turns[0].json()["model"], "m");
        assert_eq!(mock.turns().len(), 3);
    }

    #[test]
    fn the_mock_streams_slowly_and_calls_codex_s_shell_tool() {
        let mock = MockModel::start();
        mock.script([Reply::slow("S", 3, Duration::from_millis(600)).then_tool("touch y")]);
        let turn = serde_json::json!({"model": "m", "stream": true,
                                      "tools": tools(&["exec_command", "write_stdin"])});
        let began = Instant::now();
        let out = post(&mock, "/v1/responses", &turn);
        assert!(began.elapsed() >= Duration::from_millis(600));
        let events = data(&out);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(kinds.first(), Some(&"response.created"));
        assert_eq!(kinds.last(), Some(&"response.completed"));
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "response.output_text.delta")
                .count(),
            3
        );
        let completed = &events[events.len() - 1]["response"];
        assert_eq!(completed["status"], "completed");
        let call = &completed["output"][1];
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["name"], "exec_command");
        let args: serde_json::Value =
            serde_json::from_str(call["arguments"].as_str().unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(args["cmd"], "touch y");
        assert_eq!(args["sandbox_permissions"], "require_escalated");
    }

    #[test]
    fn the_mock_calls_pi_s_bash_tool_in_chat_completions() {
        let mock = MockModel::start();
        mock.script([Reply::tool("touch z")]);
        let turn = serde_json::json!({"model": "m", "stream": true,
            "tools": [{"type": "function", "function": {"name": "bash"}}]});
        let chunks = data(&post(&mock, "/v1/chat/completions", &turn));
        let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "bash");
        let args: serde_json::Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(args["command"], "touch z");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
        assert!(mock.requests()[0].turn);
    }

    #[test]
    fn the_mock_refuses_egress_and_says_what_was_tried() {
        let mock = MockModel::start();
        let mut s = TcpStream::connect(mock.addr).unwrap_or_else(|e| panic!("connect: {e}"));
        write!(
            s,
            "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"
        )
        .unwrap_or_else(|e| panic!("write: {e}"));
        let mut out = String::new();
        s.read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(out.starts_with("HTTP/1.1 403"), "{out}");
        assert_eq!(mock.refused(), ["api.example.com:443"]);
    }
}
