//! The core driven in-process through the fake host: launch planning and
//! reporting, the monitor's transitions, what `ps` says. No tmux runs; a
//! test plays the runtimes' part on the fake and sets the clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::core::Core;
use crate::core::clock::{Clock, ManualClock};
use crate::core::desired::agent::{AgentName, SessionMeta};
use crate::core::error::Error;
use crate::core::host::FakeHost;
use crate::core::host::Key;
use crate::core::monitor::Monitor;
use crate::core::ops::act::{Delivery, Targets, Typed};
use crate::core::ops::launch::{LaunchOutcome, Verb};
use crate::core::ops::stop::StopOutcome;
use crate::core::settings::{Env, Flags, Settings};
use crate::core::signals::Source;
use crate::core::signals::report::ReportedState;
use crate::core::vocab::{ActivityKind, Status};

/// A fleet file, a state directory and a fake host, at a set time.
struct World {
    _dir: tempfile::TempDir,
    host: Arc<FakeHost>,
    clock: Arc<ManualClock>,
    core: Core,
}

const START_MS: i64 = 1_800_000_000_000;

fn world(fleet_toml: &str, host: impl FnOnce(FakeHost) -> FakeHost) -> World {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path().to_path_buf();
    let file = root.join("fleet.toml");
    std::fs::write(&file, fleet_toml).unwrap_or_else(|e| panic!("{e}"));
    let home = root.join("state").to_string_lossy().into_owned();
    let user_home = root.join("home").to_string_lossy().into_owned();
    let env = Env::from_pairs([
        ("FLEET_HOME", home.as_str()),
        ("HOME", user_home.as_str()),
        // The fake's runtimes live or die at once: no grace to wait out.
        ("FLEET_START_GRACE", "0"),
    ]);
    let flags = Flags {
        file: Some(file),
        socket: None,
        lock_wait: None,
        by: None,
    };
    let settings = Settings::resolve(&flags, &env, root.clone(), Some("/bin/fleet".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let host = Arc::new(host(FakeHost::new("fake-host").with_dir(root)));
    let clock = Arc::new(ManualClock::at(START_MS));
    let core = Core::new(settings, host.clone(), clock.clone());
    World {
        _dir: dir,
        host,
        clock,
        core,
    }
}

fn name(n: &str) -> AgentName {
    AgentName::parse(n).unwrap_or_else(|e| panic!("{e}"))
}

fn outcomes(w: &World) -> Vec<(String, LaunchOutcome)> {
    w.core
        .up(&[])
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|o| (o.name.to_string(), o.outcome))
        .collect()
}

const TWO_STUBS: &str = r#"
[defaults]
runtime = "stub"

[agents.alpha]
[agents.beta]
[agents.far]
host = "elsewhere"

[hosts.elsewhere]
ssh = "op@elsewhere"
"#;

#[test]
fn up_launches_what_is_down_and_leaves_the_rest() {
    let w = world(TWO_STUBS, |h| h);
    let started = LaunchOutcome::Launched {
        verb: Verb::Started,
        had_exited: None,
    };
    assert_eq!(
        outcomes(&w),
        [
            ("alpha".into(), started.clone()),
            ("beta".into(), started),
            (
                "far".into(),
                LaunchOutcome::OnOtherHost {
                    host: "elsewhere".into()
                }
            ),
        ]
    );
    assert_eq!(w.host.launches(), 2);

    // Healthy agents are left alone; a second `up` launches nothing.
    w.clock.advance(Duration::from_secs(5));
    let again = outcomes(&w);
    assert_eq!(again[0].1, LaunchOutcome::AlreadyRunning);
    assert_eq!(w.host.launches(), 2);

    // An exited runtime is relaunched in its pane, counted as a restart;
    // something else in front is drift, reported and not touched.
    w.host.exit("alpha", 127);
    w.host.front("beta", "bash");
    let after = outcomes(&w);
    assert_eq!(
        after[0].1,
        LaunchOutcome::Launched {
            verb: Verb::Started,
            had_exited: Some(127)
        }
    );
    assert_eq!(
        after[1].1,
        LaunchOutcome::Drift {
            in_front: "bash".into()
        }
    );
    let meta = w
        .host
        .pane("alpha")
        .and_then(|p| p.meta)
        .and_then(|m| SessionMeta::from_json(&m));
    assert_eq!(meta.map(|m| m.restarts), Some(1));
    assert_eq!(w.host.launches(), 3);
}

#[test]
fn a_session_fleet_did_not_start_is_never_touched() {
    let w = world(TWO_STUBS, |h| h);
    w.host.add_unmanaged("alpha", "vim", 1);
    let got = outcomes(&w);
    assert!(matches!(got[0].1, LaunchOutcome::Conflict { .. }));
    assert!(!got[0].1.ok());
    assert_eq!(
        w.host.pane("alpha").map(|p| p.current_command),
        Some("vim".into())
    );
    let down = w.core.down(&[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(down[0].outcome, StopOutcome::LeftAlone);
    assert!(w.host.pane("alpha").is_some());
}

#[test]
fn bad_input_starts_nothing() {
    let missing_workdir = format!("{TWO_STUBS}\n[agents.lost]\nworkdir = \"/no/such/dir\"\n");
    let w = world(&missing_workdir, |h| h);
    let err = w.core.up(&[]).err();
    assert!(
        matches!(&err, Some(Error::NotLaunchable { problem, .. }) if problem.contains("/no/such/dir")),
        "{err:?}"
    );
    assert_eq!(w.host.launches(), 0);

    let breach = "[agents.sneaky]\nruntime = \"stub\"\nmodel = \"anthropic/claude\"\n";
    let w = world(breach, |h| h);
    let err = w.core.up(&[]).err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        text.contains("fleet.toml:1: agent sneaky: model anthropic/claude"),
        "{text}"
    );
    assert_eq!(w.host.launches(), 0);

    assert!(matches!(
        w.core.up(&[name("ghost")]),
        Err(Error::NotDeclared { .. })
    ));
}

#[test]
fn a_runtime_that_is_not_installed_shows_its_exit() {
    let w = world(TWO_STUBS, |h| h.without_program("fleet-stub"));
    // Not `started`: it died within its grace, and its last words say why.
    let got = outcomes(&w);
    assert!(
        matches!(&got[0].1, LaunchOutcome::Died { code: Some(127), last_words, .. }
            if last_words == &["fleet: fleet-stub: command not found".to_string()]),
        "{got:?}"
    );
    assert!(!got[0].1.ok());
    let rows = w.core.ps().unwrap_or_else(|e| panic!("{e}"));
    let alpha = rows.iter().find(|r| r.name == "alpha");
    assert_eq!(
        alpha.map(|r| (r.status, r.exit_code)),
        Some((Status::Exited, Some(127)))
    );
    let events = w
        .core
        .events(Some(&name("alpha")), None)
        .unwrap_or_default();
    let kinds: Vec<String> = events.iter().map(|e| e.event.to_string()).collect();
    assert_eq!(kinds, ["started", "exited"]);
}

#[test]
fn ps_says_waiting_with_the_prompt_and_idle_with_how_long() {
    let w = world(TWO_STUBS, |h| h);
    outcomes(&w);
    let now = w.clock.now();
    w.host
        .output("alpha", "banner\n> ask\nAllow command? [y/n] \n", now);
    w.host.output("beta", "banner\n> \n", now);
    w.clock.advance(Duration::from_secs(20));
    let rows = w.core.ps().unwrap_or_else(|e| panic!("{e}"));
    let activity = |n: &str| {
        rows.iter()
            .find(|r| r.name == n)
            .map(|r| (r.activity, r.idle_seconds))
    };
    assert_eq!(activity("alpha"), Some((Some(ActivityKind::Waiting), None)));
    assert_eq!(activity("beta"), Some((Some(ActivityKind::Idle), Some(20))));
    // Another host's agents are that host's to show.
    assert_eq!(activity("far"), None);
}

/// The monitor's events since the last tick, as `agent event detail`.
fn tick(monitor: &mut Monitor, w: &World) -> Vec<String> {
    monitor
        .tick(&w.core)
        .unwrap_or_else(|e| panic!("{e}"))
        .events
        .into_iter()
        .map(|e| {
            let code = e.exit_code.map(|c| format!(" {c}")).unwrap_or_default();
            let now = if e.snapshot { "now " } else { "" };
            format!("{} {now}{}{code} {}", e.agent, e.event, e.detail)
                .trim_end()
                .to_string()
        })
        .collect()
}

#[test]
fn the_monitor_reports_exits_drift_restarts_and_activity() {
    let w = world(
        "[agents.alpha]\nruntime = \"stub\"\n[agents.beta]\nruntime = \"stub\"\n",
        |h| h,
    );
    w.core
        .up(&[name("alpha")])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut monitor = Monitor::new(&w.core).unwrap_or_else(|e| panic!("{e}"));
    // The first look is the present, every agent once.
    assert_eq!(
        tick(&mut monitor, &w),
        ["alpha now working", "beta now missing declared, no session"]
    );
    assert!(tick(&mut monitor, &w).is_empty());

    let now = w.clock.now();
    w.host.output("alpha", "> ask\nAllow command? [y/n]\n", now);
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(
        tick(&mut monitor, &w),
        ["alpha waiting Allow command? [y/n]"]
    );

    w.host.output(
        "alpha",
        "> ask\nAllow command? [y/n] y\n> \n",
        w.clock.now(),
    );
    assert_eq!(tick(&mut monitor, &w), ["alpha working"]);
    w.clock.advance(Duration::from_secs(16));
    assert_eq!(tick(&mut monitor, &w), ["alpha idle no output for 16s"]);

    w.host.front("alpha", "bash");
    assert_eq!(
        tick(&mut monitor, &w),
        ["alpha drift bash is in front, not the runtime"]
    );
    w.host.exit("alpha", 3);
    assert_eq!(tick(&mut monitor, &w), ["alpha exited 3 exit status 3"]);

    // A restart resets activity: what the new process does is news, even
    // when it is what the old one was doing.
    w.clock.advance(Duration::from_secs(1));
    w.core
        .restart(&name("alpha"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tick(&mut monitor, &w), ["alpha restarted", "alpha working"]);
    assert!(tick(&mut monitor, &w).is_empty());

    // Acts made elsewhere reach the monitor through the store.
    let y = Typed::Text {
        text: "y".into(),
        enter: true,
    };
    w.core
        .send(&Targets::Named(vec![name("alpha")]), &y)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tick(&mut monitor, &w), ["alpha send y\u{23ce}"]);
    let sent = |s: &str| ("alpha".to_string(), s.to_string());
    assert_eq!(w.host.sent(), [sent("y"), sent("<Enter>")]);
    assert_eq!(w.core.stop(&name("alpha")).ok(), Some(StopOutcome::Stopped));
    assert_eq!(tick(&mut monitor, &w), ["alpha stopped"]);
}

#[test]
fn a_runtime_in_the_middle_of_exiting_is_recorded_as_an_exit_only() {
    let w = world(TWO_STUBS, |h| h);
    w.core
        .up(&[name("alpha"), name("beta")])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut monitor = Monitor::new(&w.core).unwrap_or_else(|e| panic!("{e}"));
    tick(&mut monitor, &w);
    // Drift before, and an exit in progress: nothing ended yet either.
    w.host.front("beta", "bash");
    assert_eq!(
        tick(&mut monitor, &w),
        ["beta drift bash is in front, not the runtime"]
    );
    w.host.exiting("alpha");
    w.host.exiting("beta");
    assert_eq!(tick(&mut monitor, &w), Vec::<String>::new());
    assert!(w.core.ps().is_ok());
    w.host.exit("alpha", 0);
    w.host.exit("beta", 0);
    assert_eq!(
        tick(&mut monitor, &w),
        [
            "alpha exited 0 exit status 0",
            "beta exited 0 exit status 0"
        ]
    );
    let history: Vec<String> = w
        .core
        .events(None, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|e| format!("{} {}", e.agent, e.event))
        .collect();
    assert_eq!(
        history,
        [
            "alpha started",
            "beta started",
            "beta drift",
            "alpha exited",
            "beta exited"
        ]
    );
}

#[test]
fn warnings_are_kept_for_the_view_not_printed() {
    let w = world(TWO_STUBS, |h| h);
    // A state directory that cannot be created: history is best effort.
    let blocked: PathBuf = w._dir.path().join("state");
    std::fs::write(&blocked, "a file where a directory should be")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(w.core.ps().is_ok());
    let warnings = w.core.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].to_string().starts_with("events not recorded"));
    assert!(w.core.take_warnings().is_empty());
    assert!(Path::new(&blocked).is_file());
}

#[test]
fn a_watch_started_late_still_says_who_waits() {
    let w = world("[agents.alpha]\nruntime = \"stub\"\n", |h| h);
    outcomes(&w);
    w.host
        .output("alpha", "> ask\nAllow command? [y/n]\n", w.clock.now());
    w.host.add_unmanaged("rogue", "vim", 1);
    let mut monitor = Monitor::new(&w.core).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tick(&mut monitor, &w),
        [
            "alpha now waiting Allow command? [y/n]",
            "rogue now unmanaged a session fleet did not start, running vim"
        ]
    );
    w.host.exit("alpha", 2);
    let mut late = Monitor::new(&w.core).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tick(&mut late, &w)[0], "alpha now exited 2 exit status 2");
}

#[test]
fn verify_fails_an_agent_that_needs_a_human() {
    let w = world("[agents.alpha]\nruntime = \"stub\"\n", |h| h);
    outcomes(&w);
    let attention = |w: &World| {
        w.core
            .verify(&[name("alpha")])
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .find(|c| c.check == "needs no human")
            .map(|c| (c.ok, c.detail))
    };
    assert_eq!(attention(&w), Some((true, "working".into())));
    w.core
        .report(
            &name("alpha"),
            ReportedState::Waiting,
            Source::Report,
            "No API key found",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        attention(&w),
        Some((false, "waiting: No API key found".into()))
    );
}

#[test]
fn send_types_into_many_at_once_and_says_what_arrived() {
    let fleet = format!("{TWO_STUBS}\n[agents.gamma]\nruntime = \"stub\"\n");
    let w = world(&fleet, |h| h.deaf("beta"));
    outcomes(&w);
    w.host.exit("gamma", 1);
    let keys = Typed::Keys(vec![Key::parse("Escape").unwrap_or_else(|| panic!("key"))]);
    // Everyone alive: gamma has exited and is left out; beta's screen
    // never shows what was typed, so its delivery is not confirmed.
    let got: Vec<(String, Delivery)> = w
        .core
        .send(&Targets::All, &keys)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|o| (o.name.to_string(), o.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("alpha".to_string(), Delivery::Confirmed),
            ("beta".to_string(), Delivery::Unconfirmed)
        ]
    );
    // A named agent that cannot take it stops the send before any typing.
    let before = w.host.sent().len();
    let both = Targets::Named(vec![name("alpha"), name("gamma")]);
    assert!(matches!(
        w.core.send(&both, &keys),
        Err(Error::Exited { .. })
    ));
    assert_eq!(w.host.sent().len(), before);
    assert!(Key::parse("Escpae").is_none());
    assert!(Key::parse("C-c").is_some() && Key::parse("F12").is_some());
}

#[test]
fn a_prompt_sent_is_work_whatever_the_agent_said_before() {
    let w = world("[agents.alpha]\nruntime = \"stub\"\n", |h| h);
    outcomes(&w);
    let alpha = name("alpha");
    w.core
        .report(&alpha, ReportedState::Idle, Source::Hook, "Stop")
        .unwrap_or_else(|e| panic!("{e}"));
    let activity = |w: &World| {
        let rows = w.core.ps().unwrap_or_else(|e| panic!("{e}"));
        rows.iter()
            .find(|r| r.name == "alpha")
            .and_then(|r| r.activity)
    };
    assert_eq!(activity(&w), Some(ActivityKind::Idle));
    let task = Typed::Text {
        text: "next task".into(),
        enter: true,
    };
    w.core
        .send(&Targets::Named(vec![alpha.clone()]), &task)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(activity(&w), Some(ActivityKind::Working));
    // Typing without submitting is not a task.
    w.core
        .report(&alpha, ReportedState::Idle, Source::Hook, "Stop")
        .unwrap_or_else(|e| panic!("{e}"));
    let half = Typed::Text {
        text: "half".into(),
        enter: false,
    };
    w.core
        .send(&Targets::Named(vec![alpha]), &half)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(activity(&w), Some(ActivityKind::Idle));
}

#[test]
fn wait_ends_when_an_agent_cannot_get_there() {
    use crate::core::ops::wait::Until;
    let w = world(TWO_STUBS, |h| h);
    outcomes(&w);
    w.host.exit("beta", 2);
    // No timeout: it would wait forever for an exited agent to idle.
    let waited = w
        .core
        .wait(&[name("alpha"), name("beta")], Until::Idle, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!waited.reached && waited.unreachable);
    let waited = w
        .core
        .wait(&[name("beta")], Until::Exited, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(waited.reached);
    assert!(matches!(
        w.core.wait(&[name("ghost")], Until::Idle, None),
        Err(Error::NoSuchAgent { .. })
    ));
}

const THREE_HOSTS: &str = r#"
[defaults]
runtime = "stub"

[agents.here1]
[agents.a1]
host = "h1"
[agents.a2]
host = "h1"
[agents.b1]
host = "h2"

[hosts.h1]
ssh = "op@h1"
[hosts.h2]
ssh = "op@h2"
port = 2222
"#;

fn plan_of(w: &World, names: &[&str], only: &[&str]) -> Result<Vec<(String, Vec<String>)>, Error> {
    let fleet = w.core.fleet()?;
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
    let plan = w.core.plan(&fleet, &names, &only)?;
    let list = |names: &[AgentName]| names.iter().map(ToString::to_string).collect::<Vec<_>>();
    let mut out: Vec<(String, Vec<String>)> = plan
        .here
        .iter()
        .map(|names| ("here".to_string(), list(names)))
        .collect();
    out.extend(
        plan.there
            .iter()
            .map(|(host, names)| (host.name().to_string(), list(names))),
    );
    Ok(out)
}

#[test]
fn a_plan_gives_each_host_its_share() {
    let w = world(THREE_HOSTS, |h| h);
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // No names: every host, all its agents.
    assert_eq!(
        plan_of(&w, &[], &[]).unwrap_or_else(|e| panic!("{e}")),
        vec![
            ("here".into(), vec![]),
            ("h1".into(), vec![]),
            ("h2".into(), vec![])
        ]
    );
    // Names go to where the file places them, or NAME@HOST.
    assert_eq!(
        plan_of(&w, &["a2", "here1", "b1", "adhoc@h2"], &[]).unwrap_or_else(|e| panic!("{e}")),
        vec![
            ("here".into(), s(&["here1"])),
            ("h1".into(), s(&["a2"])),
            ("h2".into(), s(&["b1", "adhoc"]))
        ]
    );
    // --host narrows; this host by its name or localhost.
    assert_eq!(
        plan_of(&w, &[], &["h2", "localhost"]).unwrap_or_else(|e| panic!("{e}")),
        vec![("here".into(), vec![]), ("h2".into(), vec![])]
    );
    assert_eq!(
        plan_of(&w, &[], &["fake-host"]).unwrap_or_else(|e| panic!("{e}")),
        vec![("here".into(), vec![])]
    );
    // An unknown host is refused with the known ones.
    let e = plan_of(&w, &[], &["h9"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("h9") && e.contains("fake-host, h1, h2"), "{e}");
    let e = plan_of(&w, &["x@h9"], &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("h9"), "{e}");
    // Local ps knows nothing of other hosts' agents: they are theirs.
    let rows = w.core.ps().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["here1"]);
}

#[test]
fn read_for_another_host_agents_placed_nowhere_are_the_operators() {
    let mut w = world(THREE_HOSTS, |h| h);
    w.core.settings.control_host = Some("laptop".into());
    // This host is h1 now: its agents are a1 and a2; here1 is the laptop's.
    let fleet = w.core.fleet().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fleet.agents[&name("here1")].spec.host.as_deref(),
        Some("laptop")
    );
    assert_eq!(fleet.agents[&name("b1")].spec.host.as_deref(), Some("h2"));
    // Serving, it never reaches further hosts itself.
    assert!(w.core.other_hosts(&fleet).is_empty());
}
