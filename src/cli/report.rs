//! The English of what happened to each agent: `name  message` lines,
//! aligned, and the exit code they add up to.

use crate::cli::error::EXIT_FAILED;
use crate::cli::output;
use crate::core::ops::launch::{AgentOutcome, LaunchOutcome, Verb};
use crate::core::ops::stop::StopOutcome;

/// Which command reports (the fix for an agent elsewhere names it).
#[derive(Debug, Clone, Copy)]
pub enum Command {
    Up,
    Down,
    Other,
}

/// One line about one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub message: String,
    /// Lines shown under it, indented: what a dead runtime last said.
    pub more: Vec<String>,
    pub ok: bool,
}

pub fn launch(outcome: &AgentOutcome<LaunchOutcome>, command: Command) -> Line {
    let name = outcome.name.as_str();
    let mut more = Vec::new();
    let message = match &outcome.outcome {
        LaunchOutcome::Launched { verb, had_exited } => {
            let verb = match verb {
                Verb::Started => "started",
                Verb::Restarted => "restarted",
            };
            match had_exited {
                Some(code) => format!("{verb} (it had exited {code})"),
                None => verb.to_string(),
            }
        }
        LaunchOutcome::Failed { why } => format!("failed: {why}"),
        LaunchOutcome::Died {
            code,
            grace,
            last_words,
        } => {
            more = last_words.clone();
            let status = code
                .map(|c| format!("exited {c}"))
                .unwrap_or("exited".into());
            let why = if more.is_empty() {
                ""
            } else {
                "; its last lines:"
            };
            format!(
                "failed: {status} within {} of its launch{why}",
                humantime::format_duration(*grace)
            )
        }
        LaunchOutcome::NotConfirmed { in_front } => format!(
            "not confirmed: {in_front:?} is in front, not the runtime (fleet peek {name} shows why)"
        ),
        LaunchOutcome::AlreadyRunning => "already running".into(),
        LaunchOutcome::Repiped => {
            "already running; its transcript had stopped being written and is again".into()
        }
        LaunchOutcome::Starting => "starting (launched a moment ago)".into(),
        LaunchOutcome::Drift { in_front } => format!(
            "drift: {in_front:?} is in front, not the runtime (fleet restart {name} relaunches it)"
        ),
        LaunchOutcome::Conflict { socket } => format!(
            "left alone: a session named {name} exists that fleet did not start (rename the agent or end that session with tmux -L {socket} kill-session -t ={name})"
        ),
        LaunchOutcome::OnOtherHost { host } => elsewhere(host, command),
    };
    Line {
        name: name.to_string(),
        message,
        more,
        ok: outcome.outcome.ok(),
    }
}

pub fn stop(outcome: &AgentOutcome<StopOutcome>, command: Command) -> Line {
    let message = match &outcome.outcome {
        StopOutcome::Stopped => "stopped".into(),
        StopOutcome::NotRunning => "not running".into(),
        StopOutcome::LeftAlone => "left alone: this session was not started by fleet".into(),
        StopOutcome::OnOtherHost { host } => elsewhere(host, command),
    };
    Line {
        name: outcome.name.to_string(),
        message,
        more: Vec::new(),
        ok: true,
    }
}

fn elsewhere(host: &str, command: Command) -> String {
    let verb = match command {
        Command::Up => "up",
        Command::Down => "down",
        Command::Other => "start",
    };
    format!("skipped: belongs on host {host} (run fleet {verb} there)")
}

/// Prints the lines, aligned; returns the exit code they add up to.
pub fn print(lines: &[Line]) -> i32 {
    let width = lines.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for r in lines {
        let message = output::safe(&r.message).replace(['\n', '\t'], " ");
        text.push_str(&format!("{:width$}  {message}\n", r.name));
        for line in &r.more {
            let line = output::safe(line).replace(['\n', '\t'], " ");
            text.push_str(&format!("{:width$}    {line}\n", ""));
        }
    }
    output::print(&text);
    if lines.iter().all(|r| r.ok) {
        0
    } else {
        EXIT_FAILED
    }
}
