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

use std::path::Path;

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

/// Where the runtime's argv begins in [`pane_argv`]'s answer.
pub const RUNTIME_ARGV_AT: usize = 6;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_argv_passes_data_as_parameters() {
        let argv = vec!["agent".to_string(), "a b;$HOME`x`".to_string()];
        let pane = pane_argv(Path::new("/w d"), "/p", &argv);
        assert_eq!(pane[0], "/bin/sh");
        assert_eq!(pane[2], PANE_SCRIPT);
        assert_eq!(&pane[4..], ["/w d", "/p", "agent", "a b;$HOME`x`"]);
    }
}
