//! `fleet-stub`: a stand-in agent that behaves like an agent TUI, so the
//! fleet can be tried, demonstrated and tested with no AI installed.
//!
//! It prints a banner naming its model and effort and a `> ` prompt, then
//! reads lines:
//!
//! - `work [N]`   prints a burst of N lines of "work" (default 5);
//! - `ask`        shows `Allow command? [y/n]` and waits for the answer;
//! - `exit [N]`   exits with status N (default 0);
//! - anything else is echoed back as `echo: TEXT`.
//!
//! Options: `--model M`, `--effort E`, `--work-every SECS` (a burst of work
//! every SECS seconds, unprompted), `--ask-after SECS` (ask for approval
//! after SECS seconds), `--exit-after SECS` with `--exit-code N`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

struct Options {
    model: String,
    effort: String,
    work_every: Option<f64>,
    ask_after: Option<f64>,
    exit_after: Option<f64>,
    exit_code: u8,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        model: "stub/echo-1".into(),
        effort: "low".into(),
        work_every: None,
        ask_after: None,
        exit_after: None,
        exit_code: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let seconds = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|s| *s >= 0.0)
                .ok_or(format!("{flag}: {v:?} is not a number of seconds"))
        };
        match flag.as_str() {
            "--model" => o.model = value()?,
            "--effort" => o.effort = value()?,
            "--work-every" => o.work_every = Some(seconds(value()?)?),
            "--ask-after" => o.ask_after = Some(seconds(value()?)?),
            "--exit-after" => o.exit_after = Some(seconds(value()?)?),
            "--exit-code" => {
                let v = value()?;
                o.exit_code = v
                    .parse()
                    .map_err(|_| format!("--exit-code: {v:?} is not 0-255"))?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: fleet-stub [--model M] [--effort E] [--work-every SECS] [--ask-after SECS] [--exit-after SECS --exit-code N]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?}: see fleet-stub --help")),
        }
    }
    Ok(o)
}

/// What the stub reacts to: a typed line, end of input, or one of its timers.
enum Event {
    Line(String),
    Eof,
    Work,
    Ask,
    Exit(u8),
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn burst(lines: u32) {
    for i in 1..=lines {
        say(&format!("  working... step {i}/{lines}\n"));
        thread::sleep(Duration::from_millis(15));
    }
    say("done.\n> ");
}

/// Sends `event` after `seconds`, and again every `seconds` if `repeat`.
fn timer(events: &mpsc::Sender<Event>, seconds: f64, repeat: bool, event: fn() -> Event) {
    let events = events.clone();
    thread::spawn(move || {
        loop {
            thread::sleep(Duration::from_secs_f64(seconds));
            if events.send(event()).is_err() || !repeat {
                break;
            }
        }
    });
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fleet-stub: {e}");
            return ExitCode::from(2);
        }
    };
    say(&format!(
        "fleet-stub: a stand-in agent for mosaic-fleet\nmodel: {} \u{2022} effort: {}\ntype: work [N] | ask | exit [N] | anything else is echoed\n> ",
        options.model, options.effort
    ));

    let (tx, events) = mpsc::channel();
    {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(Event::Line(line)).is_err() {
                    break;
                }
            }
            let _ = tx.send(Event::Eof);
        });
    }
    if let Some(every) = options.work_every.filter(|s| *s > 0.0) {
        timer(&tx, every, true, || Event::Work);
    }
    if let Some(after) = options.ask_after {
        timer(&tx, after, false, || Event::Ask);
    }
    if let Some(after) = options.exit_after {
        let code = options.exit_code;
        let tx = tx.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_secs_f64(after));
            let _ = tx.send(Event::Exit(code));
        });
    }

    // Exits happen here, on the main thread, so the status is the process's.
    let mut asking = false;
    while let Ok(event) = events.recv() {
        match event {
            Event::Eof => return ExitCode::SUCCESS,
            Event::Exit(code) => {
                say(&format!("\nexiting with status {code}\n"));
                return ExitCode::from(code);
            }
            Event::Work => {
                say("\n");
                burst(3);
            }
            Event::Ask => {
                asking = true;
                say("\nAllow command? [y/n] ");
            }
            Event::Line(line) => {
                let text = line.trim();
                if asking {
                    match text {
                        "y" | "Y" | "yes" => say("approved.\n> "),
                        "n" | "N" | "no" => say("denied.\n> "),
                        _ => {
                            say("Allow command? [y/n] ");
                            continue;
                        }
                    }
                    asking = false;
                    continue;
                }
                let mut words = text.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("work"), n) => burst(n.and_then(|n| n.parse().ok()).unwrap_or(5)),
                    (Some("ask"), _) => {
                        asking = true;
                        say("Allow command? [y/n] ");
                    }
                    (Some("exit"), n) => {
                        let code: u8 = n.and_then(|n| n.parse().ok()).unwrap_or(0);
                        say(&format!("exiting with status {code}\n"));
                        return ExitCode::from(code);
                    }
                    _ => say(&format!("echo: {line}\n> ")),
                }
            }
        }
    }
    ExitCode::SUCCESS
}
