//! Plain text, line by line: what `fleet peek` shows of a screen.

/// The last `n` lines of `text`, trailing spaces and blank lines at either
/// end dropped.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(end);
    let start = end.saturating_sub(n).max(first);
    let mut out = lines[start..end].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_skip_trailing_blank_lines() {
        assert_eq!(last_lines("a\nb\nc\n\n\n", 2), "b\nc\n");
        assert_eq!(last_lines("\n\n", 2), "");
        assert_eq!(last_lines("a\nb", 5), "a\nb\n");
        assert_eq!(last_lines("\n\n  \nwhy\n\ndead\n", 10), "why\n\ndead\n");
    }
}
