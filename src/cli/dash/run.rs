//! The dashboard's loop: the terminal, the keys, the acts.
//!
//! The view ([`App`], [`render`]) is pure; the feed keeps it fresh. Acts
//! (attach, takeover, send, restart, stop, the transcript, explain) run
//! the same `fleet` commands an operator would type, as a child of this
//! one, so they say and record exactly what the CLI does. The terminal is
//! given back as it was on quit, on a panic, and on SIGTERM, SIGHUP or
//! SIGINT.

use std::io::{IsTerminal, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::{cursor, execute, terminal};

use crate::cli::dash::app::{App, Command};
use crate::cli::dash::feed::{self, Update, Wanted};
use crate::cli::dash::render;
use crate::cli::error::CliError;
use crate::cli::{hosts, output};
use crate::core::Core;

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

/// How long the loop waits for a key before it looks at the feed again.
const TICK: Duration = Duration::from_millis(25);

/// Runs the dashboard until the operator quits; the exit code.
pub fn run(core: &Core, only: &[String]) -> Result<i32, CliError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::user(
            "fleet dash needs a terminal: run it from an interactive shell (fleet ps and fleet watch work anywhere)",
        ));
    }
    let plan = hosts::plan(core, &[], only)?;
    let color = output::color_enabled();
    // A signal (the terminal closed, a kill) gives the terminal back and
    // ends at once: the loop may be inside the terminal library, which
    // spins on a closed input, and never look at a flag.
    let stop = Arc::new(AtomicBool::new(false));
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGQUIT,
    ]) {
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                leave();
                std::process::exit(128 + signal);
            }
        });
    }
    let (tx, rx) = mpsc::channel::<Update>();
    let wanted = Wanted::default();
    std::thread::scope(|scope| {
        feed::start(scope, core, &plan, tx, wanted.clone());
        let code = match enter() {
            Ok(mut term) => {
                let result = event_loop(core, &mut term, &rx, &wanted, &stop, color);
                leave();
                match result {
                    Ok(()) => 0,
                    Err(e) => {
                        output::eprint(&format!("fleet: error: {e}"));
                        e.code
                    }
                }
            }
            Err(e) => {
                leave();
                output::eprint(&format!("fleet: error: {e}"));
                e.code
            }
        };
        // The feed's threads watch for as long as the process lives.
        std::process::exit(code)
    })
}

fn event_loop(
    core: &Core,
    term: &mut Term,
    rx: &mpsc::Receiver<Update>,
    wanted: &Wanted,
    stop: &AtomicBool,
    color: bool,
) -> Result<(), CliError> {
    let mut app = App::new(color);
    if let Ok(size) = term.size() {
        app.set_size(size.width, size.height);
    }
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let mut dirty = true;
    while !stop.load(Ordering::Relaxed) {
        for update in rx.try_iter() {
            match update {
                Update::Rows {
                    rows, unreachable, ..
                } => app.set_rows(rows, unreachable),
                Update::Preview(p) => app.preview = Some(p),
            }
            dirty = true;
        }
        for done in done_rx.try_iter() {
            match done {
                Done::Said(line) => app.message = Some(line),
                Done::Text { title, lines, tail } => match tail {
                    true => app.show_tail(&title, lines),
                    false => app.show_text(&title, lines),
                },
            }
            dirty = true;
        }
        wanted.set(app.selected().map(|r| (r.name.clone(), r.host.clone())));
        if dirty {
            term.draw(|frame| render::draw(frame, &app))
                .map_err(|e| CliError::failed(format!("cannot draw: {e}")))?;
            dirty = false;
        }
        if !event::poll(TICK).unwrap_or(false) {
            continue;
        }
        match event::read() {
            Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                dirty = true;
                match app.on_key(key) {
                    None => {}
                    Some(Command::Quit) => return Ok(()),
                    Some(command) => act(core, term, &mut app, command, &done_tx)?,
                }
                // Keys typed ahead of a question do not answer it.
                if app.asking() {
                    discard_pending();
                }
            }
            Ok(Event::Paste(text)) => {
                app.on_paste(&text);
                dirty = true;
            }
            Ok(Event::Resize(cols, rows)) => {
                app.set_size(cols, rows);
                dirty = true;
            }
            Ok(_) => {}
            Err(e) => return Err(CliError::failed(format!("cannot read the terminal: {e}"))),
        }
    }
    Ok(())
}

/// What an act running apart said when it ended.
enum Done {
    Said(String),
    Text {
        title: String,
        lines: Vec<String>,
        tail: bool,
    },
}

/// Throws away input already waiting (typed ahead, or sent while an act
/// ran): it was not meant for what comes next.
fn discard_pending() {
    while event::poll(Duration::ZERO).unwrap_or(false) {
        if event::read().is_err() {
            return;
        }
    }
}

/// Runs a `fleet` command apart, the dashboard live meanwhile; what it
/// said comes back on `done`.
fn apart(
    cmd: Process,
    done: &mpsc::Sender<Done>,
    finish: impl FnOnce(Process) -> Done + Send + 'static,
) {
    let done = done.clone();
    std::thread::spawn(move || {
        let _ = done.send(finish(cmd));
    });
}

/// Carries out an act by running the `fleet` command for it.
fn act(
    core: &Core,
    term: &mut Term,
    app: &mut App,
    command: Command,
    done: &mpsc::Sender<Done>,
) -> Result<(), CliError> {
    let target = |name: &str, host: &str| format!("{name}@{host}");
    match command {
        Command::Quit => {}
        Command::Attach {
            name,
            host,
            takeover,
        } => {
            let mut args = vec!["attach".to_string(), target(&name, &host)];
            if takeover {
                args.push("--takeover".into());
            }
            leave();
            let status = fleet(core, &args).status();
            *term = enter()?;
            discard_pending();
            term.clear()
                .map_err(|e| CliError::failed(format!("cannot draw: {e}")))?;
            app.message = Some(match status {
                Ok(s) if s.success() => format!("back from {name}@{host}"),
                Ok(_) => format!(
                    "could not attach to {name}@{host}: see above, or fleet attach {name}@{host}"
                ),
                Err(e) => format!("cannot run fleet attach: {e}"),
            });
        }
        Command::Restart { name, host } => {
            app.message = Some(format!("restarting {name}@{host}…"));
            let cmd = fleet(core, &["restart".into(), target(&name, &host)]);
            apart(cmd, done, |cmd| Done::Said(said(cmd)));
        }
        Command::Stop { name, host } => {
            app.message = Some(format!("stopping {name}@{host}…"));
            let cmd = fleet(core, &["stop".into(), target(&name, &host)]);
            apart(cmd, done, |cmd| Done::Said(said(cmd)));
        }
        Command::Send { name, host, text } => {
            app.message = Some(format!("sending to {name}@{host}…"));
            let cmd = fleet(
                core,
                &["send".into(), target(&name, &host), "--".into(), text],
            );
            apart(cmd, done, |cmd| Done::Said(said(cmd)));
        }
        Command::Logs { name, host } => {
            app.message = Some(format!("reading {name}@{host}'s transcript…"));
            let cmd = fleet(core, &["logs".into(), target(&name, &host)]);
            let title = format!("transcript of {name}@{host}");
            apart(cmd, done, move |cmd| Done::Text {
                title,
                lines: text_of(cmd),
                tail: true,
            });
        }
        Command::Explain { name, host } => {
            let cmd = fleet(core, &["explain".into(), target(&name, &host)]);
            let title = format!("explain {name}@{host}");
            apart(cmd, done, move |cmd| Done::Text {
                title,
                lines: text_of(cmd),
                tail: false,
            });
        }
    }
    Ok(())
}

/// `fleet` with this process's fleet file and socket.
fn fleet(core: &Core, args: &[String]) -> Process {
    let exe = core
        .settings
        .fleet_exe
        .clone()
        .unwrap_or_else(|| "fleet".into());
    let mut cmd = Process::new(exe);
    if let Some(file) = &core.settings.file {
        cmd.arg("--file").arg(file);
    }
    cmd.arg("--socket").arg(&core.settings.socket);
    cmd.arg("--wait")
        .arg(format!("{}ms", core.settings.lock_wait.as_millis()));
    cmd.args(args);
    cmd
}

/// What a short act said, in one line: the line that says how it went
/// (the first of its answer; else its error).
fn said(mut cmd: Process) -> String {
    match cmd.stdin(Stdio::null()).output() {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stdout.lines().find(|l| !l.trim().is_empty());
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            let line = first.or(last).unwrap_or("done").trim().to_string();
            line.strip_prefix("fleet: ")
                .map(String::from)
                .unwrap_or(line)
        }
        Err(e) => format!("cannot run fleet: {e}"),
    }
}

/// All a command printed, as lines (its errors after).
fn text_of(mut cmd: Process) -> Vec<String> {
    match cmd.stdin(Stdio::null()).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
            .map(String::from)
            .collect(),
        Err(e) => vec![format!("cannot run fleet: {e}")],
    }
}

/// Takes the terminal: raw mode, the alternate screen, no cursor; a panic
/// gives it back before it says why.
fn enter() -> Result<Term, CliError> {
    let fail = |e: std::io::Error| CliError::failed(format!("cannot use the terminal: {e}"));
    static HOOKED: std::sync::Once = std::sync::Once::new();
    HOOKED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            leave();
            previous(info);
        }));
    });
    terminal::enable_raw_mode().map_err(fail)?;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        cursor::Hide,
        event::EnableBracketedPaste
    )
    .map_err(fail)?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout())).map_err(fail)
}

/// Gives the terminal back as it was.
fn leave() {
    let mut out = std::io::stdout();
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        out,
        event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}
