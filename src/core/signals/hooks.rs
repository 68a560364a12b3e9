//! The runtimes' own signals: their lifecycle hooks, wired in per launch
//! (never by editing the user's configuration), each mapped to a reported
//! state by one small table.
//!
//! - Claude Code takes `--settings JSON` with `hooks`; each hook runs
//!   `fleet __hook claude` with the event as JSON on stdin.
//! - Codex takes `-c notify=[...]`; it runs the program with the event as
//!   JSON in its last argument when a turn completes.
//!
//! The hook command only writes (one tmux call, `@fleet-state`); fleet's
//! observers read. A hook never fails the runtime: whatever goes wrong, it
//! exits 0 and says nothing.

use std::path::Path;

use serde_json::{Value, json};

use crate::core::signals::report::ReportedState;

/// Which runtime a hook call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRuntime {
    Claude,
    Codex,
    /// pi, through fleet's extension ([`PI_EXTENSION`]).
    Pi,
}

/// fleet's extension for pi, written under `$FLEET_HOME` and loaded per
/// launch with `pi -e`.
pub const PI_EXTENSION: &str = include_str!("assets/pi-fleet.js");

/// The file name the extension is written under.
pub const PI_EXTENSION_FILE: &str = "pi-fleet.js";

impl HookRuntime {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "claude" => Some(HookRuntime::Claude),
            "codex" => Some(HookRuntime::Codex),
            "pi" => Some(HookRuntime::Pi),
            _ => None,
        }
    }
}

/// Claude Code's hook events and what each says of the agent (after
/// agent-deck's `mapEventToStatus`): a prompt or a tool at work is
/// `working`, a permission request or a question to the user is
/// `waiting`, the end of a turn is `idle`. `SessionEnd` says nothing: the
/// process is going, and its exit is the evidence.
pub fn claude(event: &Value) -> Option<(ReportedState, String)> {
    let name = event.get("hook_event_name")?.as_str()?;
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
    let state = match name {
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PreCompact" | "SubagentStart" => {
            ReportedState::Working
        }
        "PermissionRequest" => {
            return Some((
                ReportedState::Waiting,
                format!("{name}: {}", text("tool_name"))
                    .trim_end_matches(": ")
                    .to_string(),
            ));
        }
        "Notification" => match text("notification_type") {
            "permission_prompt" | "elicitation_dialog" => ReportedState::Waiting,
            "idle_prompt" => ReportedState::Idle,
            _ => return None,
        },
        "Stop" | "SessionStart" => ReportedState::Idle,
        _ => return None,
    };
    let detail = match text("message") {
        "" => name.to_string(),
        message => format!("{name}: {message}"),
    };
    Some((state, detail))
}

/// Codex's `notify` events: the end of a turn (`agent-turn-complete`)
/// means it waits for its next task.
pub fn codex(event: &Value) -> Option<(ReportedState, String)> {
    match event.get("type")?.as_str()? {
        "agent-turn-complete" => Some((ReportedState::Idle, "agent-turn-complete".into())),
        _ => None,
    }
}

/// What fleet's pi extension reports: a prompt or a tool at work, the end
/// of a prompt, or a prompt that ended in an error pi cannot get past
/// alone (`agent_error`, with pi's message).
pub fn pi(event: &Value) -> Option<(ReportedState, String)> {
    let name = event.get("event")?.as_str()?;
    let detail = event
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let state = match name {
        "agent_start" | "tool_execution_start" => ReportedState::Working,
        "agent_end" | "session_start" => ReportedState::Idle,
        "agent_error" => ReportedState::Waiting,
        _ => return None,
    };
    let detail = if detail.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {detail}")
    };
    Some((state, detail))
}

/// The source a runtime's report counts as.
impl HookRuntime {
    pub fn source(self) -> crate::core::signals::Source {
        match self {
            HookRuntime::Claude | HookRuntime::Codex => crate::core::signals::Source::Hook,
            HookRuntime::Pi => crate::core::signals::Source::Extension,
        }
    }
}

/// What a runtime's hook call says: Claude's event comes on stdin, Codex's
/// and the pi extension's as the last argument.
pub fn interpret(runtime: HookRuntime, payload: &str) -> Option<(ReportedState, String)> {
    let event: Value = serde_json::from_str(payload).ok()?;
    match runtime {
        HookRuntime::Claude => claude(&event),
        HookRuntime::Codex => codex(&event),
        HookRuntime::Pi => pi(&event),
    }
}

/// The events fleet asks Claude Code to tell it about.
pub const CLAUDE_EVENTS: [&str; 8] = [
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SessionStart",
    "PreCompact",
];

/// The extra arguments that wire a runtime's hooks to `fleet __hook`, if
/// fleet knows how for this runtime. `program` is what the pane runs
/// (`argv[0]`): a wrapper script may not pass the flags on, so only the
/// runtime itself gets them.
pub fn launch_args(
    runtime: &str,
    program: &str,
    fleet_exe: &Path,
    pi_extension: Option<&Path>,
) -> Vec<String> {
    let name = program.rsplit('/').next().unwrap_or(program);
    let exe = fleet_exe.to_string_lossy();
    let quoted = shlex::try_quote(&exe)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| exe.to_string());
    match (runtime, name) {
        ("claude", "claude") => {
            let command = format!("{quoted} __hook claude");
            let hook =
                json!([{ "hooks": [{ "type": "command", "command": command, "timeout": 5 }] }]);
            let hooks: serde_json::Map<String, Value> = CLAUDE_EVENTS
                .iter()
                .map(|event| (event.to_string(), hook.clone()))
                .collect();
            vec!["--settings".into(), json!({ "hooks": hooks }).to_string()]
        }
        ("codex", "codex") => {
            let notify = json!([exe, "__hook", "codex"]).to_string();
            vec!["-c".into(), format!("notify={notify}")]
        }
        ("pi", "pi") => match pi_extension {
            Some(path) => vec!["-e".into(), path.to_string_lossy().into_owned()],
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude_says(payload: &str) -> Option<(ReportedState, String)> {
        interpret(HookRuntime::Claude, payload)
    }

    #[test]
    fn claude_events_map_to_states() {
        use ReportedState::*;
        let table = [
            (
                r#"{"hook_event_name":"UserPromptSubmit","prompt":"hi"}"#,
                Some(Working),
            ),
            (
                r#"{"hook_event_name":"PreToolUse","tool_name":"Bash"}"#,
                Some(Working),
            ),
            (
                r#"{"hook_event_name":"PermissionRequest","tool_name":"Bash"}"#,
                Some(Waiting),
            ),
            (
                r#"{"hook_event_name":"Notification","notification_type":"permission_prompt","message":"Claude needs your permission to use Bash"}"#,
                Some(Waiting),
            ),
            (
                r#"{"hook_event_name":"Notification","notification_type":"idle_prompt"}"#,
                Some(Idle),
            ),
            (
                r#"{"hook_event_name":"Notification","notification_type":"auth_success"}"#,
                None,
            ),
            (r#"{"hook_event_name":"Stop"}"#, Some(Idle)),
            (r#"{"hook_event_name":"SessionEnd","reason":"exit"}"#, None),
            (r#"{"hook_event_name":"SomethingNew"}"#, None),
            (r#"{"no":"event"}"#, None),
            ("not json", None),
        ];
        for (payload, want) in table {
            assert_eq!(claude_says(payload).map(|(s, _)| s), want, "{payload}");
        }
        assert_eq!(
            claude_says(r#"{"hook_event_name":"PermissionRequest","tool_name":"Bash"}"#)
                .map(|(_, d)| d),
            Some("PermissionRequest: Bash".into())
        );
    }

    #[test]
    fn pi_says_what_its_extension_saw() {
        let says = |p: &str| interpret(HookRuntime::Pi, p);
        assert_eq!(
            says(r#"{"event":"agent_start"}"#).map(|(s, _)| s),
            Some(ReportedState::Working)
        );
        assert_eq!(
            says(r#"{"event":"agent_end","detail":""}"#).map(|(s, _)| s),
            Some(ReportedState::Idle)
        );
        assert_eq!(
            says(r#"{"event":"agent_error","detail":"No API key found for openai"}"#),
            Some((
                ReportedState::Waiting,
                "agent_error: No API key found for openai".into()
            ))
        );
        assert_eq!(says(r#"{"event":"unknown"}"#), None);
    }

    #[test]
    fn codex_says_idle_when_a_turn_completes() {
        let turn =
            r#"{"type":"agent-turn-complete","turn-id":"1","last-assistant-message":"done"}"#;
        assert_eq!(
            interpret(HookRuntime::Codex, turn).map(|(s, _)| s),
            Some(ReportedState::Idle)
        );
        assert_eq!(interpret(HookRuntime::Codex, r#"{"type":"other"}"#), None);
    }

    #[test]
    fn only_the_runtime_itself_gets_the_hook_flags() {
        let exe = Path::new("/opt/my fleet/fleet");
        let args = launch_args("claude", "/usr/bin/claude", exe, None);
        assert_eq!(args[0], "--settings");
        let settings: Value = serde_json::from_str(&args[1]).unwrap_or_default();
        let command = &settings["hooks"]["Stop"][0]["hooks"][0]["command"];
        assert_eq!(command, "'/opt/my fleet/fleet' __hook claude");
        assert_eq!(settings["hooks"].as_object().map(|h| h.len()), Some(8));
        let codex = launch_args("codex", "codex", exe, None);
        assert_eq!(
            codex,
            ["-c", r#"notify=["/opt/my fleet/fleet","__hook","codex"]"#]
        );
        assert!(launch_args("claude", "mosaic", exe, None).is_empty());
        let ext = Path::new("/state/runtimes/pi-fleet.js");
        assert_eq!(
            launch_args("pi", "pi", exe, Some(ext)),
            ["-e", "/state/runtimes/pi-fleet.js"]
        );
        assert!(launch_args("pi", "mosaic", exe, Some(ext)).is_empty());
    }
}
