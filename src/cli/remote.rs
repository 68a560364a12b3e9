//! `fleet remote`: this host serving one request of the operator's host,
//! which runs it over ssh. The request (JSON on stdin) carries the fleet
//! file and the command; the answer is one hello line, then the command's
//! own output and exit status, as if run here.

use std::io::{BufRead, Read};

use clap::Parser;

use crate::cli::args::{Cli, Command};
use crate::cli::error::{CliError, EXIT_USAGE};
use crate::cli::{commands, core_with, output, print_warnings, settings_for};
use crate::core::host::remote::{self, Hello, MAX_REQUEST_BYTES, PROTOCOL, Request};
use crate::core::settings::Env;

/// Reads the request, says hello, runs it; returns the exit code.
pub fn serve() -> i32 {
    // The request is one line; the operator's side keeps stdin open after
    // it for as long as it listens.
    let mut raw = Vec::new();
    let mut stdin = std::io::BufReader::new(std::io::stdin());
    let read = (&mut stdin)
        .take(MAX_REQUEST_BYTES + 1)
        .read_until(b'\n', &mut raw)
        .and_then(|n| {
            String::from_utf8(raw)
                .map(|t| (n, t))
                .map_err(|_| std::io::Error::other("the request is not UTF-8"))
        });
    let (read, text) = match read {
        Ok((n, text)) => (Ok(n), text),
        Err(e) => (Err(e), String::new()),
    };
    let request = match read.map_err(|e| e.to_string()).and_then(|n| {
        if n as u64 > MAX_REQUEST_BYTES {
            return Err("the request is larger than fleet reads".to_string());
        }
        serde_json::from_str::<Request>(&text).map_err(|e| match remote::protocol_of(&text) {
            Some((theirs, version, control)) if theirs != PROTOCOL => {
                remote::mismatch(&control, theirs, &version)
            }
            _ => format!("the request does not read: {e}"),
        })
    }) {
        Ok(request) => request,
        Err(why) => return refuse(why),
    };
    if let Some(why) = remote::refuse(&request) {
        return refuse(why);
    }
    let cli = match Cli::try_parse_from(
        std::iter::once("fleet".to_string()).chain(request.argv.iter().cloned()),
    ) {
        Ok(cli) => cli,
        Err(e) => {
            return refuse(format!(
                "the command does not read here: {}",
                first_line(&e.to_string())
            ));
        }
    };
    if matches!(
        cli.command,
        Command::Remote(_) | Command::LogWriter(_) | Command::Hook(_) | Command::Attach(_)
    ) {
        return refuse("that command is not run over a request".into());
    }
    hello(None);
    // A command that follows (it may run for ever) ends when the
    // operator's side goes away (its end of stdin closes), rather than
    // lingering unread. Others are bounded and run to their end, whoever
    // still listens: a client may well close stdin after its request.
    let follows = match &cli.command {
        Command::Watch(_) | Command::Wait(_) => true,
        Command::Logs(args) => args.follow,
        _ => false,
    };
    if follows {
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stdin.read_to_end(&mut rest);
            std::process::exit(0);
        });
    }
    let result = run(cli, &request);
    match result {
        Ok(code) => code,
        Err(e) => {
            output::eprint(&format!("fleet: error: {e}"));
            e.code
        }
    }
}

fn run(cli: Cli, request: &Request) -> Result<i32, CliError> {
    // The file's `socket` for this host, else this host's own setting.
    let env = Env::from_process().with("FLEET_FILE", None);
    let env = match &request.socket {
        Some(socket) => env.with("MOSAIC_TMUX_SOCKET", Some(socket)),
        None => env,
    };
    let home = request.home.as_deref().map(|h| match h.strip_prefix("~/") {
        Some(rest) => std::env::var("HOME")
            .map(|home| format!("{home}/{rest}"))
            .unwrap_or_else(|_| h.to_string()),
        None => h.to_string(),
    });
    let env = match &home {
        Some(h) => env.with("FLEET_HOME", Some(h)),
        None => env,
    };
    let global = cli_global(&cli);
    let mut settings = settings_for(&global, env)?;
    settings.file = request.file.as_ref().map(|f| f.path.clone());
    settings.file_text = request.file.as_ref().map(|f| f.text.clone());
    settings.control_host = Some(request.control.clone());
    let core = core_with(settings, request.host.clone())?;
    // What changes agents here is what a supervisor here must keep up.
    if matches!(
        cli.command,
        Command::Up(_)
            | Command::Down(_)
            | Command::Start(_)
            | Command::Stop(_)
            | Command::Restart(_)
            | Command::Init(_)
    ) {
        core.keep_sent(request)?;
    }
    let result = commands::dispatch(&core, cli.command);
    print_warnings(&core);
    result
}

/// The request's global flags, but never a file or socket of its own:
/// the request says those.
fn cli_global(cli: &Cli) -> crate::cli::args::GlobalArgs {
    crate::cli::args::GlobalArgs {
        file: None,
        socket: None,
        lock_wait: cli.global.lock_wait.clone(),
        by: cli.global.by.clone(),
    }
}

fn refuse(why: String) -> i32 {
    hello(Some(why));
    EXIT_USAGE
}

fn hello(error: Option<String>) {
    let line = serde_json::to_string(&Hello::ours(error)).unwrap_or_default();
    output::print(&format!("{line}\n"));
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
