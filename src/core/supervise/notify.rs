//! `[notify]`: a command run on chosen transitions, never in the way of
//! supervision.
//!
//! Each run gets the event as one JSON object on its stdin and as
//! environment variables (`FLEET_EVENT`, `FLEET_AGENT`, `FLEET_HOST`,
//! `FLEET_TIME`, `FLEET_DETAIL`, `FLEET_EXIT_CODE`). It runs on a thread of
//! its own: the supervisor does not wait for it. One still going after the
//! timeout is killed; one that fails or is killed is said once, through
//! [`Notifier::failures`]. Per agent and event word, at most one run per
//! `every`: a flapping agent does not flood anyone.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use crate::core::desired::fleetfile::Notify;
use crate::core::store::events::Event;

/// Runs the notify command for the events it is told of.
pub struct Notifier {
    spec: Notify,
    last: BTreeMap<(String, String), Instant>,
    failed: Receiver<String>,
    sender: Sender<String>,
}

impl Notifier {
    pub fn new(spec: Notify) -> Self {
        let (sender, failed) = mpsc::channel();
        Self {
            spec,
            last: BTreeMap::new(),
            failed,
            sender,
        }
    }

    /// Runs the command for `event` if it asks for that word and the
    /// agent has not had one too lately. Answers whether it ran.
    pub fn tell(&mut self, event: &Event) -> bool {
        let word = event.event.word().to_string();
        if !self.spec.on.contains(&word) {
            return false;
        }
        let key = (event.agent.clone(), word);
        let now = Instant::now();
        if self
            .last
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < self.spec.every)
        {
            return false;
        }
        self.last.insert(key, now);
        let (spec, event, failed) = (self.spec.clone(), event.clone(), self.sender.clone());
        std::thread::spawn(move || {
            if let Err(why) = run(&spec, &event) {
                let _ = failed.send(format!(
                    "notify for {} {}: {why}",
                    event.agent,
                    event.event.word()
                ));
            }
        });
        true
    }

    /// What went wrong with runs since last asked.
    pub fn failures(&self) -> Vec<String> {
        self.failed.try_iter().collect()
    }
}

/// One run, to its end or its timeout.
fn run(spec: &Notify, event: &Event) -> Result<(), String> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| "no command".to_string())?;
    let json = serde_json::to_string(event).unwrap_or_default();
    let mut child = Command::new(program)
        .args(args)
        .env("FLEET_EVENT", event.event.word())
        .env("FLEET_AGENT", &event.agent)
        .env("FLEET_HOST", &event.host)
        .env("FLEET_TIME", &event.time)
        .env("FLEET_DETAIL", &event.detail)
        .env(
            "FLEET_EXIT_CODE",
            event.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a timeout ends whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{program} could not run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin.write_all(json.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    match crate::core::child::output_within(child, spec.timeout, true) {
        Some(Ok(out)) if out.status.success() => Ok(()),
        Some(Ok(out)) => Err(format!("{program} failed ({})", out.status)),
        Some(Err(e)) => Err(format!("{program}: {e}")),
        None => Err(format!(
            "{program} took longer than {}s and was killed",
            spec.timeout.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::vocab::EventKind;
    use std::time::Duration;

    fn event(agent: &str, kind: EventKind) -> Event {
        Event {
            id: 1,
            time: "2026-11-26T00:00:00.000Z".into(),
            at_ms: 0,
            host: "h".into(),
            agent: agent.into(),
            event: kind,
            exit_code: Some(3),
            detail: "exit status 3".into(),
            snapshot: false,
        }
    }

    #[test]
    fn runs_on_its_words_at_most_once_per_interval_and_kills_a_hang() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("out");
        let spec = Notify {
            command: vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "cat >> {0}; echo \"$FLEET_AGENT $FLEET_EVENT $FLEET_EXIT_CODE\" >> {0}",
                    out.display()
                ),
            ],
            on: vec!["exited".into()],
            every: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        };
        let mut n = Notifier::new(spec);
        assert!(n.tell(&event("a", EventKind::Exited)));
        assert!(!n.tell(&event("a", EventKind::Exited)), "rate limited");
        assert!(!n.tell(&event("a", EventKind::Idle)), "not asked for");
        assert!(n.tell(&event("b", EventKind::Exited)));
        let deadline = Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.lines().count() >= 4 || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            text.contains("a exited 3") && text.contains("b exited 3"),
            "{text}"
        );
        assert!(text.contains("\"event\":\"exited\""), "{text}");

        let mut hang = Notifier::new(Notify {
            command: vec!["sleep".into(), "30".into()],
            on: vec!["exited".into()],
            every: Duration::from_secs(60),
            timeout: Duration::from_millis(200),
        });
        let started = Instant::now();
        assert!(hang.tell(&event("a", EventKind::Exited)));
        assert!(started.elapsed() < Duration::from_millis(100), "it waited");
        std::thread::sleep(Duration::from_millis(600));
        let failures = hang.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("was killed"), "{failures:?}");
    }
}
