//! The pane command: how an agent is launched so that it survives detached.
//!
//! A detached tmux pane starts with the tmux *server's* environment, not the
//! launcher's, so a runtime installed under `~/.npm-global/bin` is `command
//! not found` there (exit 127) even though it runs fine from the operator's
//! shell. The pane command therefore exports a PATH that starts with the
//! runtime-bin prefix and then `exec`s the runtime, so the runtime itself is
//! the pane's foreground process (no wrapping shell to hide it).
//!
//! The agent's argv and workdir are passed to `/bin/sh` as positional
//! parameters, never spliced into the script: spaces, quotes, `$`, backticks,
//! `;` and newlines stay data.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `$1` is the workdir, `$2` the PATH prefix (maybe empty), the rest is argv.
///
/// A runtime that cannot be found is reported by the script itself, with the
/// PATH it searched, and the pane lingers a moment before exiting 127: tmux
/// can drop the last bytes a process writes just before its terminal closes.
pub const PANE_SCRIPT: &str = concat!(
    r#"cd -- "$1" || { sleep 0.3; exit 125; }; "#,
    r#"[ -z "$2" ] || export PATH="$2${PATH:+:$PATH}"; shift 2; "#,
    r#"command -v "$1" >/dev/null || { echo "fleet: $1: command not found (PATH=$PATH)" >&2; sleep 0.3; exit 127; }; "#,
    r#"exec "$@""#
);

/// `$0` of the pane script: what `sh` calls itself in its own errors.
pub const SCRIPT_NAME: &str = "fleet-launch";

/// The full pane command for tmux: the script, its arguments, the runtime.
pub fn pane_argv(workdir: &Path, path_prefix: &str, argv: &[String]) -> Vec<String> {
    let mut out = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        PANE_SCRIPT.to_string(),
        SCRIPT_NAME.to_string(),
        workdir.to_string_lossy().into_owned(),
        path_prefix.to_string(),
    ];
    out.extend(argv.iter().cloned());
    out
}

/// Where runtimes may be installed, in order: `$MOSAIC_RUNTIME_BIN` (one
/// directory or a `:`-separated list), `$(npm config get prefix)/bin`,
/// `~/.npm-global/bin`, `~/.local/bin`.
pub fn candidates(
    runtime_bin: Option<&str>,
    npm_prefix: Option<&Path>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(bin) = runtime_bin {
        out.extend(bin.split(':').filter(|d| !d.is_empty()).map(PathBuf::from));
    }
    if let Some(prefix) = npm_prefix {
        out.push(prefix.join("bin"));
    }
    if let Some(home) = home {
        out.push(home.join(".npm-global/bin"));
        out.push(home.join(".local/bin"));
    }
    out
}

/// Joins the candidates that exist, first occurrence wins. A directory is
/// kept even when the launcher's PATH already has it: the pane's PATH is the
/// server's, which may not.
pub fn prefix_of(candidates: &[PathBuf], is_dir: impl Fn(&Path) -> bool) -> String {
    let mut seen: Vec<&Path> = Vec::new();
    for dir in candidates {
        let text = dir.to_string_lossy();
        // An empty or relative entry, or one with ':', would corrupt PATH.
        if !dir.is_absolute() || text.contains(':') || seen.contains(&dir.as_path()) {
            continue;
        }
        if is_dir(dir) {
            seen.push(dir);
        }
    }
    seen.iter()
        .map(|d| d.to_string_lossy())
        .collect::<Vec<_>>()
        .join(":")
}

/// Derives the runtime-bin prefix from this process's environment. Runs
/// `npm config get prefix` (a node start-up, ~0.2 s), so call it once per
/// `fleet` run, not once per agent.
pub fn runtime_bin_prefix(home: Option<&Path>) -> String {
    let runtime_bin = std::env::var("MOSAIC_RUNTIME_BIN").ok();
    let npm = npm_prefix();
    prefix_of(
        &candidates(runtime_bin.as_deref(), npm.as_deref(), home),
        Path::is_dir,
    )
}

/// `npm config get prefix`, if npm is on PATH and answers within 5 s.
fn npm_prefix() -> Option<PathBuf> {
    let npm = find_on_path("npm")?;
    let mut child = Command::new(npm)
        .args(["config", "get", "prefix"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let mut out = String::new();
    use std::io::Read;
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let prefix = out.trim();
    (!prefix.is_empty() && prefix != "undefined").then(|| PathBuf::from(prefix))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_the_contract_order() {
        let c = candidates(
            Some("/rt/a:/rt/b"),
            Some(Path::new("/npm")),
            Some(Path::new("/home/op")),
        );
        assert_eq!(
            c,
            [
                "/rt/a",
                "/rt/b",
                "/npm/bin",
                "/home/op/.npm-global/bin",
                "/home/op/.local/bin"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn prefix_keeps_existing_dirs_once() {
        let c = ["/a", "/missing", "/b", "/a", "relative", "/with:colon"].map(PathBuf::from);
        let exists = |p: &Path| p != Path::new("/missing");
        assert_eq!(prefix_of(&c, exists), "/a:/b");
        assert_eq!(prefix_of(&c, |_| false), "");
    }

    #[test]
    fn pane_argv_passes_data_as_parameters() {
        let argv = vec!["agent".to_string(), "a b;$HOME`x`".to_string()];
        let pane = pane_argv(Path::new("/w d"), "/p", &argv);
        assert_eq!(pane[0], "/bin/sh");
        assert_eq!(pane[2], PANE_SCRIPT);
        assert_eq!(&pane[4..], ["/w d", "/p", "agent", "a b;$HOME`x`"]);
    }
}
