//! History that tells the truth: acts kept when the store cannot take
//! them, a store replaced or broken under a running fleet.

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
