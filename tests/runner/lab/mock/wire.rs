//! The three streaming APIs, as the pinned runtimes read them: OpenAI
//! Responses (Codex CLI), OpenAI chat completions (pi's
//! `openai-completions` providers) and Anthropic Messages (Claude Code). Each writes one reply —
//! text in pieces, then an optional call of the runtime's shell tool — as
//! the server-sent events that API streams. The lab's conformance tests
//! run the real runtimes against them.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Request, event, start_events};

/// One reply on the wire: `chunks` of text with `gap` after each, then a
/// shell command for the runtime's own shell tool, if any. `n` keeps ids
/// unique within a test.
pub struct Plan<'a> {
    pub chunks: &'a [String],
    pub gap: Duration,
    pub command: Option<&'a str>,
    pub n: usize,
}

/// Sleeps `gap`, or fails once the server is stopping.
pub type Pause<'a> = &'a dyn Fn(Duration) -> io::Result<()>;

/// Writes one reply in one API's events.
pub type Writer = fn(&TcpStream, &Request, &Plan<'_>, Pause<'_>) -> io::Result<()>;

/// What a Codex approval says the command is for.
pub const JUSTIFICATION: &str = "The lab asks to run this command";

/// The names of the tools a request offers (Responses and Messages put
/// the name on the tool, chat completions under `function`).
pub fn tool_names(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().or(t["function"]["name"].as_str()))
        .map(str::to_string)
        .collect()
}

/// Anthropic Messages (`POST /v1/messages`, `stream: true`): message_start,
/// a text block of text_delta events, a tool_use block whose input arrives
/// as input_json_delta, message_delta with the stop reason, message_stop.
pub fn anthropic(s: &TcpStream, req: &Request, plan: &Plan, pause: Pause) -> io::Result<()> {
    let body = req.json();
    start_events(s)?;
    let send = |name: &str, data: Value| event(s, Some(name), &data.to_string());
    send(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": format!("msg_lab{}", plan.n), "type": "message", "role": "assistant",
            "model": body["model"], "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    )?;
    let mut index = 0;
    if !plan.chunks.is_empty() {
        send(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        )?;
        for chunk in plan.chunks {
            send(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": chunk}}),
            )?;
            pause(plan.gap)?;
        }
        send(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        )?;
        index += 1;
    }
    if let Some(command) = plan.command {
        // Claude Code's shell tool is `Bash`: {command, description}.
        let input = json!({"command": command, "description": "Run the lab's command"});
        send(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": format!("toolu_lab{}", plan.n),
                "name": "Bash", "input": {}}}),
        )?;
        send(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        )?;
        send(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        )?;
    }
    let stop = if plan.command.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    send(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": 20}}),
    )?;
    send("message_stop", json!({"type": "message_stop"}))
}

/// OpenAI Responses (`POST /v1/responses`): response.created, a message
/// item whose text arrives as response.output_text.delta, a function_call
/// item, response.completed with the items and usage.
pub fn responses(s: &TcpStream, req: &Request, plan: &Plan, pause: Pause) -> io::Result<()> {
    let body = req.json();
    start_events(s)?;
    let seq = std::cell::Cell::new(0);
    let send = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq.get());
        seq.set(seq.get() + 1);
        event(s, Some(name), &data.to_string())
    };
    let response = |status: &str, output: &[Value]| {
        json!({"id": format!("resp_lab{}", plan.n), "object": "response",
               "created_at": 1_700_000_000, "model": body["model"], "status": status,
               "output": output})
    };
    send(
        "response.created",
        json!({"response": response("in_progress", &[])}),
    )?;
    let mut output = Vec::new();
    if !plan.chunks.is_empty() {
        let id = format!("msg_lab{}", plan.n);
        let at = output.len();
        send(
            "response.output_item.added",
            json!({"output_index": at, "item": {"id": id, "type": "message",
                   "status": "in_progress", "role": "assistant", "content": []}}),
        )?;
        send(
            "response.content_part.added",
            json!({"item_id": id, "output_index": at, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        )?;
        for chunk in plan.chunks {
            send(
                "response.output_text.delta",
                json!({"item_id": id, "output_index": at, "content_index": 0, "delta": chunk}),
            )?;
            pause(plan.gap)?;
        }
        let text = plan.chunks.concat();
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        send(
            "response.output_text.done",
            json!({"item_id": id, "output_index": at, "content_index": 0, "text": text}),
        )?;
        send(
            "response.content_part.done",
            json!({"item_id": id, "output_index": at, "content_index": 0, "part": part}),
        )?;
        let item = json!({"id": id, "type": "message", "status": "completed",
                          "role": "assistant", "content": [part]});
        send(
            "response.output_item.done",
            json!({"output_index": at, "item": item}),
        )?;
        output.push(item);
    }
    if let Some(command) = plan.command {
        let (name, arguments) = codex_shell_call(&tool_names(&body), command);
        let id = format!("fc_lab{}", plan.n);
        let at = output.len();
        let item = |arguments: &str, status: &str| {
            json!({"type": "function_call", "id": id, "call_id": format!("call_lab{}", plan.n),
                   "name": name, "arguments": arguments, "status": status})
        };
        send(
            "response.output_item.added",
            json!({"output_index": at, "item": item("", "in_progress")}),
        )?;
        send(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": at, "delta": arguments}),
        )?;
        send(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": at, "arguments": arguments}),
        )?;
        let done = item(&arguments, "completed");
        send(
            "response.output_item.done",
            json!({"output_index": at, "item": done}),
        )?;
        output.push(done);
    }
    let mut completed = response("completed", &output);
    completed["usage"] = json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 30});
    send("response.completed", json!({ "response": completed }))
}

/// Codex 0.169 offers `exec_command` ({cmd, sandbox_permissions, …});
/// older ones offered `shell` ({command: [argv]}). Asking to run outside
/// the sandbox is what makes Codex ask the user (under `-a on-request`).
fn codex_shell_call(tools: &[String], command: &str) -> (&'static str, String) {
    if tools.iter().any(|t| t == "shell") && !tools.iter().any(|t| t == "exec_command") {
        let args = json!({"command": ["bash", "-lc", command],
                          "sandbox_permissions": "require_escalated",
                          "justification": JUSTIFICATION});
        return ("shell", args.to_string());
    }
    let args = json!({"cmd": command, "sandbox_permissions": "require_escalated",
                      "justification": JUSTIFICATION});
    ("exec_command", args.to_string())
}

/// OpenAI chat completions (`POST /v1/chat/completions`, `stream: true`):
/// `data:` chunks of `choices[0].delta`, a tool_calls delta, the finish
/// reason, a usage chunk, then `data: [DONE]`.
pub fn chat(s: &TcpStream, req: &Request, plan: &Plan, pause: Pause) -> io::Result<()> {
    let body = req.json();
    start_events(s)?;
    let chunk = |delta: Value, finish: Value| {
        let data = json!({"id": format!("chatcmpl-lab{}", plan.n),
            "object": "chat.completion.chunk", "created": 1_700_000_000, "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        event(s, None, &data.to_string())
    };
    chunk(json!({"role": "assistant", "content": ""}), Value::Null)?;
    for text in plan.chunks {
        chunk(json!({ "content": text }), Value::Null)?;
        pause(plan.gap)?;
    }
    if let Some(command) = plan.command {
        // pi's shell tool is `bash`: {command}.
        let arguments = json!({ "command": command }).to_string();
        chunk(
            json!({"tool_calls": [{"index": 0, "id": format!("call_lab{}", plan.n),
                   "type": "function", "function": {"name": "bash", "arguments": arguments}}]}),
            Value::Null,
        )?;
    }
    let finish = if plan.command.is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    chunk(json!({}), json!(finish))?;
    let usage = json!({"id": format!("chatcmpl-lab{}", plan.n),
        "object": "chat.completion.chunk", "created": 1_700_000_000, "model": body["model"],
        "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}});
    event(s, None, &usage.to_string())?;
    event(s, None, "[DONE]")
}
