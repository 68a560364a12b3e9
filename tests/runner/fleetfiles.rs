//! Every fixture in tests/fleetfiles: valid files list their local agents on
//! the first line (`# agents: a b`), invalid ones the error they must give
//! (`# error: FILE:LINE: …`).

use std::path::PathBuf;

use crate::common::TestEnv;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fleetfiles")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

fn first_line(path: &PathBuf, prefix: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{} must start with {prefix:?}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn valid_fleet_files_load_with_their_agents() {
    let env = TestEnv::new();
    for path in fixtures("valid") {
        let expected = first_line(&path, "# agents:");
        let file = path.to_string_lossy().into_owned();
        // This host's agents: another host a fixture names is not there.
        let run = env
            .fleet(&["--file", &file, "ps", "--json", "--host", "localhost"])
            .success();
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names.join(" "), expected, "{}", path.display());
        assert!(rows.iter().all(|r| r["status"] == "missing"));
    }
}

#[test]
fn invalid_fleet_files_name_file_line_and_key() {
    let env = TestEnv::new();
    for path in fixtures("invalid") {
        let expected = first_line(&path, "# error:");
        let file = path.to_string_lossy().into_owned();
        for command in ["ps", "up"] {
            let run = env.fleet(&["--file", &file, command]);
            // `ps` shows what runs and says the fault; `up` refuses.
            assert_eq!(run.code, if command == "ps" { 0 } else { 2 }, "{run:#?}");
            let err = run.stderr.trim();
            assert_eq!(err.lines().count(), 1, "{}: {err}", path.display());
            assert!(
                err.contains(&format!("/{expected}")),
                "{}:\n expected {expected:?}\n      got {err:?}",
                path.display()
            );
        }
    }
    assert!(!env.server_running());
}
