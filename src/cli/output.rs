//! Writing to the terminal: whole outputs at once, a closed pipe is success
//! (`fleet ps | head`), colour only on a terminal and never under NO_COLOR.
//!
//! Nothing fleet prints can drive the operator's terminal, by construction:
//! [`print`] and [`eprint`] turn every control character but line breaks
//! and tabs into `?` (escape sequences begin with one, C1 ones included),
//! whatever a command passed them. Colour travels as a private marker
//! ([`paint`]) that only they turn into one of a few fixed SGR codes, so an
//! agent's text can at worst pick one of fleet's colours. The bytes of an
//! agent's screen or transcript reach the terminal only through
//! [`print_raw`], which `--raw` asks for.

use std::io::{IsTerminal, Write};

/// Writes `text` to stdout, made safe ([`scrub`]). A reader that went away
/// is not an error; the answer says whether anyone is still reading.
pub fn print(text: &str) -> bool {
    print_raw(scrub(text).as_bytes())
}

/// Writes `bytes` to stdout as they are: for `--raw`, and nothing else.
pub fn print_raw(bytes: &[u8]) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).is_ok()
}

/// Writes one line to stderr, made safe ([`scrub`]).
pub fn eprint(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", scrub(line));
}

/// Text that came from outside fleet (a process name, a runtime's report,
/// a screen) made safe for a terminal: every control character but line
/// breaks and tabs becomes `?`. `print` does this to everything; `safe`
/// is for text that must be one line or measured before printing.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| unsafe_char(c) || c == MARK) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| if unsafe_char(c) || c == MARK { '?' } else { c })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// The marks that reorder text on screen (`U+202E` shows what follows
/// backwards): a name or screen must read as it is.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Marks where a colour begins or ends (a private-use character).
const MARK: char = '\u{E000}';

/// Everything safe, and fleet's colour marks turned into SGR codes. Text
/// with neither (JSON, most tables) passes as it is.
fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let clean = text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t');
    if clean || !text.chars().any(|c| unsafe_char(c) || c == MARK) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(scrub_owned(text))
}

fn scrub_owned(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == MARK {
            let code = match chars.next() {
                Some('g') => "32",
                Some('y') => "33",
                Some('r') => "31",
                Some('m') => "35",
                Some('d') => "2",
                _ => "0",
            };
            out.push_str("\x1b[");
            out.push_str(code);
            out.push('m');
        } else if unsafe_char(c) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
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

/// `text` in `color`, as marks that [`print`] turns into SGR codes.
pub fn paint(text: &str, color: Color) -> String {
    let code = match color {
        Color::Green => 'g',
        Color::Yellow => 'y',
        Color::Red => 'r',
        Color::Magenta => 'm',
        Color::Dim => 'd',
    };
    format!("{MARK}{code}{text}{MARK}0")
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
        // Whatever reaches print: only fleet's own colours survive.
        let hostile = format!("x\x1b]52;c;AAA\x07{}\u{9b}2J", paint("ok", Color::Green));
        assert_eq!(scrub(&hostile), "x?]52;c;AAA?\x1b[32mok\x1b[0m?2J");
        assert_eq!(scrub("\u{E000}"), "\x1b[0m");
        // Text that reorders itself on screen reads as it is.
        assert_eq!(safe("abc\u{202e}fed"), "abc?fed");
        assert_eq!(scrub("x\u{2066}y\u{200f}"), "x?y?");
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
        assert!(scrub(&table(&["NAME", "STATUS"], &rows, true)).contains("\x1b[32mrunning\x1b[0m"));
    }
}
