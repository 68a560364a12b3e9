//! An agent's screen as HTML: played into a terminal of the pane's size
//! (vt100), then written out cell by cell, colours as inline styles and
//! every character escaped, so nothing an agent prints is read as markup.

use std::fmt::Write;

/// The screen `raw` (with escape sequences) draws on a `rows` x `cols`
/// terminal, as HTML lines for a `<pre>`.
pub fn html(raw: &str, rows: u16, cols: u16) -> String {
    let rows = rows.clamp(1, 500);
    let cols = cols.clamp(1, 1000);
    let mut parser = vt100::Parser::new(
        std::num::NonZeroU16::new(rows).unwrap_or(std::num::NonZeroU16::MIN),
        std::num::NonZeroU16::new(cols).unwrap_or(std::num::NonZeroU16::MIN),
        0,
    );
    parser.process(raw.replace('\n', "\r\n").as_bytes());
    let screen = parser.screen();
    let mut out = String::new();
    let mut last_text_row = 0;
    let mut lines = Vec::new();
    for row in 0..rows {
        let mut line = String::new();
        let mut open: Option<String> = None;
        let mut text = false;
        for col in 0..cols {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let style = style_of(cell);
            if open.as_deref() != Some(style.as_str()) {
                if open.is_some() {
                    line.push_str("</span>");
                }
                if style.is_empty() {
                    open = None;
                } else {
                    let _ = write!(line, "<span style=\"{style}\">");
                    open = Some(style);
                }
            }
            let contents = cell.contents();
            if contents.is_empty() {
                line.push(' ');
            } else {
                text |= !contents.trim().is_empty();
                escape_into(&mut line, contents);
            }
        }
        if open.is_some() {
            line.push_str("</span>");
        }
        if text {
            last_text_row = row as usize + 1;
        }
        lines.push(line.trim_end().to_string());
    }
    for line in lines.into_iter().take(last_text_row) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A cell's colours and weight as CSS; empty when plain.
fn style_of(cell: &vt100::Cell) -> String {
    let mut css = String::new();
    let (mut fg, mut bg) = (cell.fgcolor(), cell.bgcolor());
    if cell.inverse() {
        std::mem::swap(&mut fg, &mut bg);
    }
    if let Some(c) = color(fg) {
        let _ = write!(css, "color:{c};");
    }
    if let Some(c) = color(bg) {
        let _ = write!(css, "background:{c};");
    }
    if cell.bold() {
        css.push_str("font-weight:bold;");
    }
    if cell.underline() {
        css.push_str("text-decoration:underline;");
    }
    css
}

/// A terminal colour as CSS (the 16 basic ones in xterm's palette).
fn color(c: vt100::Color) -> Option<String> {
    const BASIC: [&str; 16] = [
        "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
        "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
    ];
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) if (i as usize) < BASIC.len() => Some(BASIC[i as usize].to_string()),
        vt100::Color::Idx(i) if i >= 232 => {
            let v = 8 + 10 * (i - 232);
            Some(format!("#{v:02x}{v:02x}{v:02x}"))
        }
        vt100::Color::Idx(i) => {
            let i = i - 16;
            let level = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
            Some(format!(
                "#{:02x}{:02x}{:02x}",
                level(i / 36),
                level(i / 6 % 6),
                level(i % 6)
            ))
        }
        vt100::Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
    }
}

/// Text for HTML: `&`, `<`, `>`, quotes escaped; control characters shown
/// as `?`.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_agent_prints_is_never_markup() {
        let html = html(
            "<script>alert(1)</script> <img src=x onerror=alert(2)> \"q\" & 'a'\n\x1b]0;title\x07ok",
            5,
            80,
        );
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("&quot;q&quot; &amp; &#39;a&#39;"), "{html}");
        assert!(html.lines().nth(1).is_some_and(|l| l == "ok"), "{html}");
    }

    #[test]
    fn colours_and_weight_become_styles() {
        let html = html(
            "\x1b[1;31mred\x1b[0m plain \x1b[38;2;1;2;3mrgb\x1b[0m",
            2,
            40,
        );
        assert!(
            html.contains("<span style=\"color:#cd0000;font-weight:bold;\">red</span> plain"),
            "{html}"
        );
        assert!(html.contains("color:#010203;"), "{html}");
    }
}
