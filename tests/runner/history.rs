//! History that tells the truth: acts kept when the store cannot take
//! them, a store replaced or broken under a running fleet.

use std::time::Duration;

use crate::common::TestEnv;

fn garbage(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7919 % 251) as u8).collect()
}

#[test]
fn a_garbage_event_store_is_moved_aside_once_and_the_fleet_stays_usable() {
    let env = TestEnv::new();
    env.fleet(&["start", "g", "--runtime", "stub"]).success();
    let db = env.root().join("state/events.sqlite");
    std::fs::write(&db, garbage(8192)).unwrap_or_else(|e| panic!("{e}"));
    let run = env.fleet(&["events", "g"]).success();
    let warning = run.stderr.trim_end();
    assert_eq!(warning.lines().count(), 1, "{run:#?}");
    assert!(
        warning.contains("was not a database: moved it aside to "),
        "{warning}"
    );
    let aside = warning
        .split("moved it aside to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    assert!(aside.contains("events.sqlite.broken-"), "{warning}");
    assert_eq!(std::fs::read(aside).ok(), Some(garbage(8192)));
    // Said once: the next command finds a healthy store.
    let again = env.fleet(&["events", "g"]).success();
    assert_eq!(again.stderr, "", "{again:#?}");
    env.fleet(&["stop", "g"]).success();
    let kinds: Vec<String> = env
        .events(&["g"])
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.contains(&"stopped".to_string()), "{kinds:?}");
}

/// Holds the event store the way another client would (`sqlite3`'s
/// `BEGIN EXCLUSIVE`) for `hold`, from a thread; answers once it holds it.
fn hold_store(env: &TestEnv, hold: Duration) -> std::thread::JoinHandle<()> {
    let db = env.root().join("state/events.sqlite");
    let (held, is_held) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("BEGIN EXCLUSIVE")
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = held.send(());
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT")
            .unwrap_or_else(|e| panic!("{e}"));
    });
    is_held
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("never held the store: {e}"));
    holder
}

fn kinds(env: &TestEnv, name: &str) -> Vec<String> {
    env.events(&[name])
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_stop_waits_out_another_client_holding_the_store() {
    let env = TestEnv::new();
    env.fleet(&["start", "c2", "--runtime", "stub"]).success();
    env.wait_status("c2", "running");
    // Longer than the 10 s fleet used to wait.
    let holder = hold_store(&env, Duration::from_secs(12));
    let stop = env.fleet(&["stop", "c2"]).success();
    assert_eq!(stop.stderr, "", "{stop:#?}");
    let _ = holder.join();
    assert_eq!(kinds(&env, "c2"), ["started", "stopped"]);
}

#[test]
fn a_stop_the_store_cannot_take_is_kept_and_recorded_in_its_place() {
    let mut env = TestEnv::new();
    env.set("FLEET_STORE_WAIT", "1s");
    env.fleet(&["start", "c2", "--runtime", "stub"]).success();
    env.wait_status("c2", "running");
    let holder = hold_store(&env, Duration::from_secs(4));
    let before = std::time::SystemTime::now();
    let stop = env.fleet(&["stop", "c2"]).success();
    assert!(
        stop.stderr.contains("stop not recorded yet")
            && stop.stderr.contains("events-pending.jsonl"),
        "{stop:#?}"
    );
    let kept = env.root().join("state/events-pending.jsonl");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let _ = holder.join();
    let events = env.events(&["c2"]);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["started", "stopped"], "{events:#?}");
    // Dated when it happened, not when it could be written.
    let stopped = humantime::parse_rfc3339(events[1]["time"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let late = stopped.duration_since(before).unwrap_or_default();
    assert!(late < Duration::from_secs(3), "recorded {late:?} late");
    assert_eq!(std::fs::metadata(&kept).map(|m| m.len()).ok(), Some(0));
}

#[test]
fn watch_follows_an_event_store_deleted_under_it() {
    let env = TestEnv::new();
    env.fleet(&["start", "a", "--runtime", "stub"]).success();
    env.wait_status("a", "running");
    let watch = env.spawn(&["watch", "--json"], &[]);
    watch
        .until(Duration::from_secs(5), |l| l.contains("\"a\""))
        .unwrap_or_else(|| panic!("watch never said what a is"));
    for file in ["events.sqlite", "events.sqlite-wal", "events.sqlite-shm"] {
        let _ = std::fs::remove_file(env.root().join("state").join(file));
    }
    env.fleet(&["stop", "a"]).success();
    let line = watch
        .until(Duration::from_secs(8), |l| {
            l.contains("\"stopped\"") || l.contains("\"vanished\"")
        })
        .unwrap_or_else(|| panic!("watch never saw a end"));
    assert!(line.contains("\"stopped\""), "{line}");
    // And it writes where everyone reads.
    env.fleet(&["start", "b", "--runtime", "stub"]).success();
    watch
        .until(Duration::from_secs(8), |l| {
            l.contains("\"b\"") && l.contains("\"started\"")
        })
        .unwrap_or_else(|| panic!("watch never saw b start"));
    let kinds = kinds(&env, "a");
    assert!(!kinds.contains(&"vanished".to_string()), "{kinds:?}");
}
