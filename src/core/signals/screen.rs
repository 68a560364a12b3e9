//! The screen rules: which screens show that a runtime needs a human.
//!
//! Waiting patterns are regexes matched against the tail of the screen: its
//! last [`TAIL_LINES`] non-blank lines, trailing spaces trimmed, joined with
//! `\n`. `(?m)` makes `^`/`$` work per line; `\z` is the very end of the
//! screen, for prompts that only count while they are the last thing shown.

use regex::Regex;

/// How much of the screen the waiting patterns see.
pub const TAIL_LINES: usize = 25;

/// The last `TAIL_LINES` non-blank lines of a screen, trimmed, joined.
pub fn tail(screen: &str) -> String {
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Whether a screen shows one of the waiting patterns.
pub fn is_waiting(screen: &str, patterns: &[Regex]) -> bool {
    let tail = tail(screen);
    patterns.iter().any(|re| re.is_match(&tail))
}

/// The line of `tail` where the first matching pattern matches: what a
/// waiting agent shows that says why.
pub fn matched_line<'a>(tail: &'a str, patterns: &[Regex]) -> Option<&'a str> {
    let at = patterns.iter().find_map(|re| re.find(tail))?.start();
    let start = tail[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = tail[at..].find('\n').map_or(tail.len(), |i| at + i);
    Some(&tail[start..end])
}

/// Compiles patterns; the error names the pattern.
pub fn compile(patterns: &[String]) -> Result<Vec<Regex>, String> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                // The regex crate explains over several lines; its last
                // says what is wrong.
                let text = e.to_string();
                let why = text.lines().last().unwrap_or_default();
                let why = why.trim().trim_start_matches("error: ");
                format!("waiting pattern {p:?} is not a valid regex: {why}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::runtime::builtins;

    fn patterns(runtime: &str) -> Vec<Regex> {
        compile(&builtins(None)[runtime].waiting).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_stub_waits_only_while_its_question_is_last() {
        let stub = patterns("stub");
        let asking = "banner\n> ask\nAllow command? [y/n] \n\n\n";
        let answered = "banner\n> ask\nAllow command? [y/n] y\napproved.\n> \n";
        assert!(is_waiting(asking, &stub));
        assert!(!is_waiting(answered, &stub));
    }

    #[test]
    fn real_approval_prompts_are_recognised() {
        let claude = patterns("claude");
        let screen = "╭───────╮\n│ Bash command\n│   rm -rf build\n│ Do you want to proceed?\n│ ❯ 1. Yes\n│   2. Yes, and don’t ask again for: rm:*\n│   3. No, and tell Claude what to do differently (esc)\n╰───────╯\n";
        assert!(claude.iter().any(|r| r.is_match(&tail(screen))));
        assert!(
            claude
                .iter()
                .any(|r| r.is_match("Do you want to make this edit to requirements.txt?"))
        );
        assert!(
            !claude
                .iter()
                .any(|r| r.is_match("I made the edit you asked for.\n> "))
        );

        let codex = patterns("codex");
        let screen = "  Would you like to run the following command?\n\n  $ cargo test\n\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for this command in this session\n  3. No, and tell Codex what to do differently (esc)\n\n  Press enter to confirm or esc to cancel\n";
        assert!(codex.iter().any(|r| r.is_match(&tail(screen))));
        assert!(
            !codex
                .iter()
                .any(|r| r.is_match("Ran cargo test: 12 passed"))
        );

        let pi = patterns("pi");
        assert!(pi.iter().any(|r| r.is_match("Select provider to login:")));
        assert!(
            pi.iter()
                .any(|r| r.is_match("  Select authentication method:"))
        );
        assert!(
            pi.iter()
                .any(|r| r.is_match("Select provider to configure:"))
        );
        let no_key = "Error: No API key found for openai-codex. Use /login or set an API key.";
        assert!(pi.iter().any(|r| r.is_match(no_key)));
        let screen = format!("> hello\n{no_key}\n\n────\n0.0%/128k (auto)   gpt-4o\n");
        assert_eq!(matched_line(&tail(&screen), &pi), Some(no_key));
        assert!(
            !pi.iter()
                .any(|r| r.is_match("Found the API key handling in auth.ts"))
        );
        assert!(
            pi.iter()
                .any(|r| r.is_match("Paste the authorization code or full redirect URL:"))
        );
    }
}
