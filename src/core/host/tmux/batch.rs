//! Batches: many tmux commands in as few invocations as fit.
//!
//! tmux runs a batch's commands in order and stops at the first that fails.
//! It reads an argument ending in `;` as a command separator, so every
//! argument is escaped here, once, and a batch is split into invocations
//! that fit tmux's 16 KiB message limit.

use crate::core::host::HostError;

/// tmux refuses a command whose arguments (each with its NUL) pass about
/// 16,360 bytes in all (16 KiB, less its message's header); keep a margin.
/// Every invocation is a client connecting, and on a server of a thousand
/// panes that costs tens of milliseconds: as few as fit.
pub const MAX_INVOCATION_BYTES: usize = 16 * 1024 - 128;

#[derive(Debug, Default, Clone)]
pub struct Batch {
    commands: Vec<Vec<String>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push<I, S>(&mut self, command: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands
            .push(command.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Each command as a batch of its own: a plain batch's commands do not
    /// depend on sharing an invocation, so as many as fit go in each, in
    /// order (a command per pane of a thousand panes is past one).
    pub fn commands(&self) -> Vec<Batch> {
        self.commands
            .iter()
            .map(|command| Batch {
                commands: vec![command.clone()],
            })
            .collect()
    }

    /// Whether this batch, with `prelude` and `room` bytes to spare, fits
    /// one tmux invocation.
    pub fn fits_with(&self, prelude: &Batch, room: usize) -> Result<(), usize> {
        let size: usize = prelude
            .to_args()
            .iter()
            .chain(self.to_args().iter())
            .map(|a| a.len() + 1)
            .sum();
        if size + 2 + room > MAX_INVOCATION_BYTES {
            Err(size + room)
        } else {
            Ok(())
        }
    }

    /// Splits `groups` (each a list of commands that must run together) into
    /// argument vectors that each fit one tmux invocation; every invocation
    /// begins with the commands of `prelude`.
    pub(super) fn invocations(
        prelude: &Batch,
        groups: &[Batch],
    ) -> Result<Vec<Vec<String>>, HostError> {
        let prelude = prelude.to_args();
        let size_of = |args: &[String]| args.iter().map(|a| a.len() + 1).sum::<usize>();
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut current = prelude.clone();
        let mut has_group = false;
        for group in groups {
            let args = group.to_args();
            let size = size_of(&args) + 2;
            if size + size_of(&prelude) > MAX_INVOCATION_BYTES {
                return Err(HostError::TooLong {
                    what: "a tmux command".into(),
                    size,
                });
            }
            if has_group && size_of(&current) + size > MAX_INVOCATION_BYTES {
                out.push(std::mem::replace(&mut current, prelude.clone()));
            }
            if !current.is_empty() {
                current.push(";".to_string());
            }
            current.extend(args);
            has_group = true;
        }
        if has_group {
            out.push(current);
        }
        Ok(out)
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (i, command) in self.commands.iter().enumerate() {
            if i > 0 {
                args.push(";".to_string());
            }
            args.extend(command.iter().map(|a| escape_arg(a)));
        }
        args
    }
}

/// The most bytes of text one `send-keys -l` carries: a few fit one
/// invocation, with room for the rest of the command.
pub const TEXT_CHUNK_BYTES: usize = 4096;

/// `text` in pieces of at most `max` bytes (or one character, if that is
/// longer), in order, never splitting a character: tmux reads each
/// argument as whole UTF-8.
pub fn text_chunks(text: &str, max: usize) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// tmux ends a command at an argument that ends in `;` and turns a final
/// `\;` into a literal `;`. Escaping the last `;` keeps any argument data.
pub fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_a_trailing_semicolon() {
        assert_eq!(escape_arg("a;b"), "a;b");
        assert_eq!(escape_arg("a;"), "a\\;");
        assert_eq!(escape_arg(";"), "\\;");
        assert_eq!(escape_arg("a\\;"), "a\\\\;");
        assert_eq!(escape_arg(""), "");
    }

    #[test]
    fn text_splits_into_chunks_on_character_boundaries() {
        let text: String = "aé中🙂".chars().cycle().take(1000).collect();
        for max in [1, 2, 3, 5, 7, 100, 4096] {
            let chunks = text_chunks(&text, max);
            assert_eq!(chunks.concat(), text, "max {max}");
            for chunk in &chunks {
                assert!(!chunk.is_empty());
                assert!(
                    chunk.len() <= max || chunk.chars().count() == 1,
                    "max {max}"
                );
            }
        }
        assert_eq!(text_chunks("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(text_chunks("a中b", 3), ["a", "中", "b"]);
        assert!(text_chunks("", 3).is_empty());
    }

    #[test]
    fn a_long_text_spans_invocations_in_order() {
        let text: String = "aé中🙂;".chars().cycle().take(20_000).collect();
        let groups: Vec<Batch> = text_chunks(&text, TEXT_CHUNK_BYTES)
            .into_iter()
            .map(|chunk| {
                let mut b = Batch::new();
                b.push(["send-keys", "-t", "%1", "-l", "--", chunk]);
                b
            })
            .collect();
        let invocations = Batch::invocations(&Batch::new(), &groups).unwrap_or_default();
        assert!(invocations.len() > 1);
        let typed: String = invocations
            .iter()
            .flat_map(|args| args.windows(2).filter(|w| w[0] == "--").map(|w| &w[1]))
            .map(|chunk| match chunk.strip_suffix("\\;") {
                Some(head) => format!("{head};"),
                None => chunk.clone(),
            })
            .collect();
        assert_eq!(typed, text);
    }

    #[test]
    fn a_command_per_pane_of_a_thousand_panes_spans_invocations_in_order() {
        let mut batch = Batch::new();
        for id in 0..1000 {
            batch.push(["capture-pane", "-p", "-t", &format!("%{id}")]);
        }
        let invocations = Batch::invocations(&Batch::new(), &batch.commands()).unwrap_or_default();
        assert!(invocations.len() > 1, "{} invocation(s)", invocations.len());
        let targets: Vec<&String> = invocations
            .iter()
            .flat_map(|args| args.iter().filter(|a| a.starts_with('%')))
            .collect();
        assert_eq!(targets.len(), 1000);
        assert_eq!(targets.first().map(|t| t.as_str()), Some("%0"));
        assert_eq!(targets.last().map(|t| t.as_str()), Some("%999"));
        for args in &invocations {
            assert!(args.iter().map(|a| a.len() + 1).sum::<usize>() <= MAX_INVOCATION_BYTES);
            assert_ne!(args.last().map(String::as_str), Some(";"));
        }
    }

    #[test]
    fn packs_groups_without_splitting_them() {
        let mut groups = Vec::new();
        for i in 0..100 {
            let mut b = Batch::new();
            b.push([
                "new-session",
                "-d",
                "-s",
                &format!("agent{i}"),
                &"x".repeat(300),
            ]);
            b.push(["set-option", "-t", &format!("=agent{i}"), "@fleet", "{}"]);
            groups.push(b);
        }
        let mut prelude = Batch::new();
        prelude.push(["set-option", "-wg", "remain-on-exit", "on"]);
        let invocations = Batch::invocations(&prelude, &groups).unwrap_or_default();
        assert!(invocations.len() > 1 && invocations.len() < 10);
        for args in &invocations {
            let size: usize = args.iter().map(|a| a.len() + 1).sum();
            assert!(size <= MAX_INVOCATION_BYTES);
            assert_eq!(args.first().map(String::as_str), Some("set-option"));
            assert_eq!(args.get(5).map(String::as_str), Some("new-session"));
        }
        let sessions: usize = invocations
            .iter()
            .map(|a| a.iter().filter(|x| *x == "new-session").count())
            .sum();
        assert_eq!(sessions, 100);
    }
}
