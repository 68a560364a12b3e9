//! Writing to the terminal: whole outputs at once, a closed pipe is success
//! (`fleet ps | head`), colour only on a terminal and never under NO_COLOR.

use std::io::{IsTerminal, Write};

/// Writes `text` to stdout. A reader that went away is not an error; the
/// answer says whether anyone is still reading.
pub fn print(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Text that came from outside fleet (a process name, a runtime's report,
/// a screen) made safe for a terminal: every control character but line
/// breaks and tabs (escape sequences begin with one, C1 ones included)
/// becomes `?`, so nothing printed can drive the operator's terminal.
/// Escaping happens here, at the edge, once; JSON escapes by itself.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| if unsafe_char(c) { '?' } else { c })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Whether stdout should get colour.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// ANSI colours for status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Magenta,
    Dim,
}

pub fn paint(text: &str, color: Color) -> String {
    let code = match color {
        Color::Green => "32",
        Color::Yellow => "33",
        Color::Red => "31",
        Color::Magenta => "35",
        Color::Dim => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Left-aligned columns separated by two spaces. `cells` holds the plain
/// text (for widths); `painted` optionally replaces a cell when printing.
pub fn table(header: &[&str], rows: &[Vec<(String, Option<Color>)>], color: bool) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, (cell, _)) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<(String, Option<Color>)>, out: &mut String| {
        let last = cells.len().saturating_sub(1);
        for (i, (cell, c)) in cells.into_iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let cell = safe(&cell).replace(['\n', '\t'], " ");
            let shown = match c {
                Some(c) if color => paint(&cell, c),
                _ => cell,
            };
            out.push_str(&shown);
            if i < last {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    };
    line(
        header.iter().map(|h| (h.to_string(), None)).collect(),
        &mut out,
    );
    for row in rows {
        line(row.clone(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_printed_can_drive_the_terminal() {
        assert_eq!(safe("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(safe("\x1b[2J\x1b]0;t\x07x\u{9b}y"), "?[2J?]0;t?x?y");
        let rows = vec![vec![("a\x1b[5mb".to_string(), None)]];
        assert_eq!(table(&["N"], &rows, false), "N\na?[5mb\n");
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![
            vec![
                ("builder".to_string(), None),
                ("running".to_string(), Some(Color::Green)),
            ],
            vec![
                ("x".to_string(), None),
                ("exited 127".to_string(), Some(Color::Red)),
            ],
        ];
        assert_eq!(
            table(&["NAME", "STATUS"], &rows, false),
            "NAME     STATUS\nbuilder  running\nx        exited 127\n"
        );
        assert!(table(&["NAME", "STATUS"], &rows, true).contains("\x1b[32mrunning\x1b[0m"));
    }
}
