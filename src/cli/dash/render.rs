//! Drawing the dashboard: the [`App`] into a ratatui frame, and nothing
//! else. The words and colours of each row are `fleet ps`'s own
//! ([`RowWords`]); the selected agent's screen is parsed with `vt100` and
//! drawn cell by cell.
//!
//! Text that came from agents (names, models, reasons, transcripts) goes
//! through [`output::safe`] before it reaches a cell, and a screen's escape
//! sequences are read by the parser, never passed on: nothing an agent
//! prints can drive the operator's terminal. Every size draws what fits,
//! down to one cell.

use std::num::NonZeroU16;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::app::{App, Mode, Preview};
use crate::cli::output;
use crate::cli::words::{self, RowWords};
use crate::core::vocab::Status;

/// The preview beside the table needs at least this many columns; else it
/// goes below.
const PREVIEW_MIN_WIDTH: u16 = 60;
/// Below the table, the preview keeps at least this many lines when the
/// table could use them.
const PREVIEW_MIN_HEIGHT: u16 = 8;
/// Ellipsized, a model keeps this many columns before columns are dropped.
const MODEL_MIN_WIDTH: usize = 12;
/// A pane larger than this is drawn from its top-left part only (a screen
/// is parsed on every frame).
const MAX_PANE: (u16, u16) = (500, 1000);

pub fn draw(frame: &mut Frame, app: &App) {
    let areas = layout(app, frame.area());
    frame.render_widget(
        Paragraph::new(header(app, areas.header.width)),
        areas.header,
    );
    draw_table(frame, app, &areas);
    draw_preview(frame, app, areas.preview);
    frame.render_widget(
        Paragraph::new(footer(app, areas.footer.width)),
        areas.footer,
    );
    match &app.mode {
        Mode::List | Mode::Filter => {}
        Mode::Help => draw_help(frame, areas.body),
        Mode::Confirm(act) => {
            let lines = vec![Line::styled(act.question(), Style::new().bold())];
            draw_dialog(frame, areas.body, "confirm", lines);
        }
        Mode::Send { name, host, input } => draw_send(frame, areas.body, name, host, input),
        Mode::Text {
            title,
            lines,
            scroll,
        } => draw_text(frame, areas.body, title, lines, *scroll),
    }
}

/// Where each part goes.
pub(super) struct Areas {
    header: Rect,
    /// The table's column titles.
    titles: Rect,
    /// The table's rows.
    rows: Rect,
    /// Hosts that did not answer and have no rows.
    hosts: Rect,
    preview: Rect,
    /// Between header and footer: where overlays go.
    body: Rect,
    footer: Rect,
}

pub(super) fn layout(app: &App, area: Rect) -> Areas {
    let (header, body, footer) = frame_parts(area);
    let visible = u16::try_from(app.visible().len().max(1)).unwrap_or(u16::MAX);
    let lone = u16::try_from(app.lone_unreachable().len()).unwrap_or(u16::MAX);
    // Beside the preview, the table may cut long models, not lose columns.
    let beside = fit(
        &natural_widths(app),
        usize::from(body.width.saturating_sub(1 + PREVIEW_MIN_WIDTH)),
    );
    let beside = match beside.iter().all(Option::is_some) {
        true => u16::try_from(total_width(&beside)).ok(),
        false => None,
    };
    let (table, preview) = if let Some(width) =
        beside.filter(|&w| body.width >= w.saturating_add(1 + PREVIEW_MIN_WIDTH))
    {
        let table = Rect { width, ..body };
        let preview = Rect {
            x: body.x + width + 1,
            width: body.width - width - 1,
            ..body
        };
        (table, preview)
    } else {
        let want = 1u16.saturating_add(visible).saturating_add(lone);
        let room = body
            .height
            .saturating_sub(PREVIEW_MIN_HEIGHT)
            .max(body.height.div_ceil(2));
        let height = want.min(room);
        let table = Rect { height, ..body };
        let preview = Rect {
            y: body.y + height,
            height: body.height - height,
            ..body
        };
        (table, preview)
    };
    let titles = Rect {
        height: table.height.min(1),
        ..table
    };
    let under = table.height - titles.height;
    // The agents first: hosts take what is left after at least one row.
    let hosts_height = lone.min(under.saturating_sub(1));
    let rows = Rect {
        y: titles.y + titles.height,
        height: visible.min(under - hosts_height),
        ..table
    };
    let hosts = Rect {
        y: rows.y + rows.height,
        height: hosts_height,
        ..table
    };
    Areas {
        header,
        titles,
        rows,
        hosts,
        preview,
        body,
        footer,
    }
}

/// How many rows the table shows in this area.
pub(super) fn table_height(app: &App, area: Rect) -> usize {
    usize::from(layout(app, area).rows.height)
}

/// How many lines the text view shows in this area.
pub(super) fn text_height(area: Rect) -> usize {
    usize::from(frame_parts(area).1.height.saturating_sub(2))
}

/// The header line, the body and the footer line.
fn frame_parts(area: Rect) -> (Rect, Rect, Rect) {
    let header = Rect {
        height: area.height.min(1),
        ..area
    };
    let footer_height = u16::from(area.height >= 2);
    let footer = Rect {
        y: area.y + area.height - footer_height,
        height: footer_height,
        ..area
    };
    let body = Rect {
        y: area.y + header.height,
        height: area.height - header.height - footer_height,
        ..area
    };
    (header, body, footer)
}

/// `fleet dash`, the filter if any, and the counts: those that are zero
/// give way when the line is short of room.
fn header(app: &App, width: u16) -> Line<'static> {
    let count = |pick: &dyn Fn(&crate::core::rows::AgentRow) -> bool| {
        app.rows.iter().filter(|r| pick(r)).count()
    };
    let running = count(&|r| r.status == Status::Running);
    let working = count(&words::works);
    let waiting = count(&words::waits);
    let exited = count(&|r| r.status == Status::Exited);
    let unreachable = count(&|r| r.status == Status::Unreachable);
    let crashloop = count(&|r| r.status == Status::Crashloop);
    let drift = count(&|r| r.status == Status::Drift);
    let alarm = |n: usize, color: Color| {
        if n > 0 && app.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    };
    let waiting_style = match (waiting > 0, app.color) {
        (false, _) => Style::new(),
        (true, true) => Style::new().fg(Color::Yellow).bold().reversed(),
        (true, false) => Style::new().bold().reversed(),
    };
    let mut counts = vec![
        (running, "running", Style::new()),
        (working, "working", Style::new()),
        (waiting, "waiting", waiting_style),
        (exited, "exited", alarm(exited, Color::Red)),
        (unreachable, "unreachable", alarm(unreachable, Color::Red)),
        (crashloop, "crashloop", alarm(crashloop, Color::Red)),
        (drift, "drift", alarm(drift, Color::Yellow)),
    ];
    // Crash loops and drift only when there are some.
    counts.retain(|(n, word, _)| *n > 0 || !matches!(*word, "crashloop" | "drift"));
    let mut spans = vec![Span::styled("fleet dash", Style::new().bold()), "  ".into()];
    if !app.filter().is_empty() {
        spans.push(Span::styled(
            format!("filter: {}", clean(app.filter())),
            Style::new().bold(),
        ));
        spans.push("  ".into());
    }
    let line_width = |counts: &[(usize, &str, Style)]| {
        let words: usize = counts
            .iter()
            .map(|(n, word, _)| format!("{n} {word}").width() + 3)
            .sum();
        spans.iter().map(Span::width).sum::<usize>() + words
    };
    if line_width(&counts) > usize::from(width) {
        counts.retain(|(n, word, _)| *n > 0 || *word == "running");
    }
    for (i, (n, word, style)) in counts.into_iter().enumerate() {
        if i > 0 {
            spans.push(" · ".into());
        }
        spans.push(Span::styled(format!("{n} {word}"), style));
    }
    Line::from(spans)
}

/// The table's columns, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    /// `!` for an agent that waits: seen without colour too.
    Mark,
    Name,
    Host,
    Runtime,
    Model,
    Status,
    Activity,
    Restarts,
    Uptime,
}

const COLS: [Col; 9] = [
    Col::Mark,
    Col::Name,
    Col::Host,
    Col::Runtime,
    Col::Model,
    Col::Status,
    Col::Activity,
    Col::Restarts,
    Col::Uptime,
];

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Mark => "",
            Col::Name => "NAME",
            Col::Host => "HOST",
            Col::Runtime => "RUNTIME",
            Col::Model => "MODEL",
            Col::Status => "STATUS",
            Col::Activity => "ACTIVITY",
            Col::Restarts => "RESTARTS",
            Col::Uptime => "UPTIME",
        }
    }

    /// Columns before it: one after the mark, two between the others.
    fn gap(self) -> usize {
        match self {
            Col::Mark => 0,
            Col::Name => 1,
            _ => 2,
        }
    }
}

/// One row's cells, made safe, with their styles.
struct Cells {
    texts: [String; 9],
    styles: [Style; 9],
    waits: bool,
}

fn cells(row: &crate::core::rows::AgentRow, color: bool) -> Cells {
    let w = RowWords::of(row);
    let model = match (w.model.as_str(), w.effort.as_str()) {
        (model, "-") => model.to_string(),
        (model, effort) => format!("{model}:{effort}"),
    };
    let waits = words::waits(row);
    let paint = |c: Option<output::Color>| match c {
        Some(c) if color => style_of(c),
        _ => Style::new(),
    };
    let mark_style = match color {
        true => Style::new().fg(Color::Yellow).bold(),
        false => Style::new().bold(),
    };
    Cells {
        texts: [
            if waits { "!" } else { " " }.to_string(),
            clean(&w.name),
            clean(&w.host),
            clean(&w.runtime),
            clean(&model),
            clean(&w.status),
            clean(&w.activity),
            w.restarts,
            w.uptime,
        ],
        styles: [
            mark_style,
            Style::new(),
            Style::new(),
            Style::new(),
            Style::new(),
            paint(Some(w.status_color)),
            paint(w.activity_color),
            Style::new(),
            Style::new(),
        ],
        waits,
    }
}

fn style_of(color: output::Color) -> Style {
    match color {
        output::Color::Green => Style::new().fg(Color::Green),
        output::Color::Yellow => Style::new().fg(Color::Yellow),
        output::Color::Red => Style::new().fg(Color::Red),
        output::Color::Magenta => Style::new().fg(Color::Magenta),
        output::Color::Dim => Style::new().add_modifier(Modifier::DIM),
    }
}

/// Each column's width when nothing is short of room: the widest of its
/// title and every row's cell (every row, so a filter does not move them).
fn natural_widths(app: &App) -> [usize; 9] {
    let mut widths = COLS.map(|c| c.title().width());
    widths[0] = 1;
    for row in &app.rows {
        for (w, text) in widths.iter_mut().zip(cells(row, false).texts) {
            *w = (*w).max(text.width());
        }
    }
    widths
}

/// The widths that fit in `room` columns; `None` is a dropped column. The
/// model gives way first (ellipsized, then dropped with the uptime), then
/// restarts, runtime, host; name, status and activity stay.
fn fit(natural: &[usize; 9], room: usize) -> [Option<usize>; 9] {
    let mut widths = natural.map(Some);
    let idx = |c: Col| COLS.iter().position(|&k| k == c).unwrap_or(0);
    let over = |w: &[Option<usize>; 9]| total_width(w).saturating_sub(room);
    let shrink = |w: &mut [Option<usize>; 9], c: Col, min: usize| {
        let excess = over(w);
        if let Some(width) = &mut w[idx(c)] {
            *width = width.saturating_sub(excess).max(min.min(*width));
        }
    };
    shrink(&mut widths, Col::Model, MODEL_MIN_WIDTH);
    for c in [Col::Uptime, Col::Model, Col::Restarts, Col::Runtime] {
        if over(&widths) > 0 {
            widths[idx(c)] = None;
        }
    }
    shrink(&mut widths, Col::Host, 6);
    shrink(&mut widths, Col::Name, 8);
    if over(&widths) > 0 {
        widths[idx(Col::Host)] = None;
    }
    shrink(&mut widths, Col::Name, 1);
    widths
}

fn total_width(widths: &[Option<usize>; 9]) -> usize {
    COLS.iter()
        .zip(widths)
        .filter_map(|(c, w)| w.map(|w| w + c.gap()))
        .sum()
}

fn draw_table(frame: &mut Frame, app: &App, areas: &Areas) {
    let width = usize::from(areas.titles.width);
    let widths = fit(&natural_widths(app), width);
    let line = |texts: &[String; 9], styles: &[Style; 9]| {
        let mut spans = Vec::new();
        for (i, c) in COLS.iter().enumerate() {
            let Some(w) = widths[i] else { continue };
            spans.push(Span::raw(" ".repeat(c.gap())));
            spans.push(Span::styled(ellipsize(&texts[i], w), styles[i]));
        }
        spans
    };
    let titles = COLS.map(|c| c.title().to_string());
    frame.render_widget(
        Paragraph::new(Line::from(line(&titles, &[Style::new(); 9])).style(Style::new().bold())),
        areas.titles,
    );

    let visible = app.visible();
    let height = usize::from(areas.rows.height);
    let mut lines: Vec<Line> = Vec::new();
    if visible.is_empty() {
        let why = match (app.rows.is_empty(), app.unreachable.is_empty()) {
            (false, _) => "no agent matches the filter (Esc clears it)",
            (true, true) => {
                "no agents: declare some in fleet.toml and run fleet up, or fleet start NAME"
            }
            (true, false) => "no agents on the hosts that answered",
        };
        lines.push(Line::styled(why, Style::new().dim()));
    }
    let selected = app.index();
    let offset = app.offset_for(height);
    for (i, row) in visible.iter().enumerate().skip(offset).take(height) {
        let cells = cells(row, app.color);
        let mut spans = line(&cells.texts, &cells.styles);
        let used: usize = spans.iter().map(Span::width).sum();
        spans.push(Span::raw(" ".repeat(width.saturating_sub(used))));
        let mut style = Style::new();
        if cells.waits {
            style = style.bold();
        }
        if selected == Some(i) {
            style = style.reversed();
        }
        lines.push(Line::from(spans).style(style));
    }
    frame.render_widget(Paragraph::new(lines), areas.rows);

    let red = if app.color {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    };
    let hosts: Vec<Line> = app
        .lone_unreachable()
        .into_iter()
        .map(|(host, why)| {
            Line::styled(
                format!("host {} unreachable: {}", clean(host), clean(why)),
                red,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(hosts), areas.hosts);
}

fn draw_preview(frame: &mut Frame, app: &App, area: Rect) {
    let selected = app.selected();
    let mut block = Block::bordered();
    if let Some(row) = selected {
        block = block.title(format!(" {}@{} ", clean(&row.name), clean(&row.host)));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let shown = app
        .preview
        .as_ref()
        .filter(|p| selected.is_some_and(|row| row.name == p.name && row.host == p.host));
    let lines = match shown {
        Some(preview) => screen_lines(preview, app.color, inner.height),
        None => vec![Line::styled("…", Style::new().dim())],
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The pane's screen as lines, at most `height` of them: when it does not
/// fit, the lines that end at its last written row, where a prompt
/// usually is.
fn screen_lines(preview: &Preview, color: bool, height: u16) -> Vec<Line<'static>> {
    let rows = preview.rows.clamp(1, MAX_PANE.0);
    let cols = preview.cols.clamp(1, MAX_PANE.1);
    let mut parser = vt100::Parser::new(
        NonZeroU16::new(rows).unwrap_or(NonZeroU16::MIN),
        NonZeroU16::new(cols).unwrap_or(NonZeroU16::MIN),
        0,
    );
    // capture-pane ends each row with a bare line feed: as a terminal
    // reads it, each must also return to the first column.
    let screen = preview.screen.strip_suffix('\n').unwrap_or(&preview.screen);
    parser.process(screen.replace('\n', "\r\n").as_bytes());
    let screen = parser.screen();
    let written = |r: u16| {
        (0..cols).any(|c| {
            screen.cell(r, c).is_some_and(|cell| {
                cell.contents().trim() != "" || cell.bgcolor() != vt100::Color::Default
            })
        })
    };
    let end = (0..rows).rev().find(|&r| written(r)).map_or(0, |r| r + 1);
    let start = end.saturating_sub(height);
    (start..end)
        .map(|r| {
            let mut spans: Vec<Span<'static>> = Vec::new();
            let mut run = String::new();
            let mut run_style = Style::new();
            for c in 0..cols {
                let Some(cell) = screen.cell(r, c) else { break };
                if cell.is_wide_continuation() {
                    continue;
                }
                let style = cell_style(cell, color);
                if style != run_style && !run.is_empty() {
                    spans.push(Span::styled(std::mem::take(&mut run), run_style));
                }
                run_style = style;
                match cell.contents() {
                    "" => run.push(' '),
                    text => run.push_str(&clean(text)),
                }
            }
            spans.push(Span::styled(run, run_style));
            Line::from(spans)
        })
        .collect()
}

fn cell_style(cell: &vt100::Cell, color: bool) -> Style {
    let mut style = Style::new();
    if color {
        if let Some(fg) = color_of(cell.fgcolor()) {
            style = style.fg(fg);
        }
        if let Some(bg) = color_of(cell.bgcolor()) {
            style = style.bg(bg);
        }
    }
    for (on, modifier) in [
        (cell.bold(), Modifier::BOLD),
        (cell.dim(), Modifier::DIM),
        (cell.italic(), Modifier::ITALIC),
        (cell.underline(), Modifier::UNDERLINED),
        (cell.inverse(), Modifier::REVERSED),
    ] {
        if on {
            style = style.add_modifier(modifier);
        }
    }
    style
}

fn color_of(color: vt100::Color) -> Option<Color> {
    const ANSI: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match color {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) => Some(
            ANSI.get(usize::from(i))
                .copied()
                .unwrap_or(Color::Indexed(i)),
        ),
        vt100::Color::Rgb(r, g, b) => Some(Color::Rgb(r, g, b)),
    }
}

/// The keys, as many as fit, or the last act's message.
fn footer(app: &App, width: u16) -> Line<'static> {
    if let Some(message) = &app.message {
        return Line::styled(clean(message), Style::new().bold());
    }
    // Each key with its rank: when they do not all fit, the lower ranks
    // go first (help tells the rest).
    let keys: &[(&str, &str, u8)] = match &app.mode {
        Mode::List => &[
            ("↑↓", "move", 1),
            ("/", "filter", 4),
            ("w", "waiting", 6),
            ("⏎", "attach", 9),
            ("T", "takeover", 9),
            ("s", "send", 9),
            ("r", "restart", 7),
            ("x", "stop", 7),
            ("l", "log", 3),
            ("e", "explain", 2),
            ("?", "help", 10),
            ("q", "quit", 10),
        ],
        Mode::Filter => {
            let prompt = format!("/{}_", clean(app.filter()));
            return Line::from(vec![
                Span::styled(prompt, Style::new().bold()),
                "  ⏎ keep  Esc clear  ↑↓ move".into(),
            ]);
        }
        Mode::Help => &[("", "any key closes the help", 10)],
        Mode::Confirm(_) => &[("y", "yes", 10), ("", "any other key cancels", 10)],
        Mode::Send { .. } => &[("⏎", "review", 10), ("Esc", "cancel", 10)],
        Mode::Text { .. } => &[
            ("↑↓", "scroll", 10),
            ("PgUp PgDn", "page", 5),
            ("g G", "top, end", 5),
            ("q", "close", 10),
        ],
    };
    let items: Vec<String> = keys
        .iter()
        .map(|(key, word, _)| match key {
            &"" => word.to_string(),
            key => format!("{key} {word}"),
        })
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i].2));
    let mut room = usize::from(width);
    let mut shown = vec![false; keys.len()];
    for i in order {
        let need = items[i].width() + 2;
        if need > room {
            break;
        }
        room -= need;
        shown[i] = true;
    }
    let shown: Vec<&str> = items
        .iter()
        .zip(shown)
        .filter(|(_, s)| *s)
        .map(|(item, _)| item.as_str())
        .collect();
    Line::from(shown.join("  "))
}

const HELP: [(&str, &str); 15] = [
    ("↑ ↓  k j", "move"),
    ("PgUp PgDn", "move a page"),
    ("Home End", "first, last"),
    (
        "/",
        "filter by name, host, runtime or status (⏎ keeps, Esc clears)",
    ),
    ("w", "the next agent that waits"),
    ("⏎", "attach read-only (detach: tmux prefix, then d)"),
    ("T", "take over: attach read-write (asks first; recorded)"),
    (
        "s",
        "send a line of text, then Enter (asks first; recorded)",
    ),
    ("r", "restart the agent (asks first)"),
    ("x", "stop the agent (asks first)"),
    ("l", "its log: the transcript, kept after the pane is gone"),
    ("e", "explain: why it has its state"),
    ("!", "marks an agent that waits for a human"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<11}"), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    let width = lines.iter().map(Line::width).max().unwrap_or(0) + 4;
    let height = lines.len() + 2;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        rect,
    );
}

/// A box in the middle of `area`, its text wrapped to fit.
fn draw_dialog(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    let width = usize::from(area.width).min(64);
    let inner = width.saturating_sub(2).max(1);
    let wrapped: Vec<Line> = lines
        .into_iter()
        .flat_map(|line| {
            let style = line.style;
            let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            wrap(&text, inner)
                .into_iter()
                .map(move |l| Line::styled(l, style))
        })
        .collect();
    let rect = centered(area, width, wrapped.len() + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(wrapped).block(Block::bordered().title(format!(" {title} "))),
        rect,
    );
}

fn draw_send(frame: &mut Frame, area: Rect, name: &str, host: &str, input: &str) {
    let width = usize::from(area.width).min(64);
    // What is typed, with a cursor: its end when it is longer than the box.
    let room = width.saturating_sub(5);
    let input = clean(input);
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in input.chars().rev() {
        used += c.width().unwrap_or(0);
        if used > room {
            break;
        }
        tail.push(c);
    }
    let shown: String = tail.into_iter().rev().collect();
    let lines = vec![
        Line::from(vec![
            "> ".into(),
            Span::styled(format!("{shown}_"), Style::new().bold()),
        ]),
        Line::styled("⏎ review  Esc cancel", Style::new().dim()),
    ];
    let rect = centered(area, width, 4);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(
            " send to {}@{} ",
            clean(name),
            clean(host)
        ))),
        rect,
    );
}

fn draw_text(frame: &mut Frame, area: Rect, title: &str, lines: &[String], scroll: usize) {
    let height = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(height));
    let end = (scroll + height).min(lines.len());
    let place = match lines.len() {
        0 => " empty ".to_string(),
        n => format!(" {}-{end} of {n} ", scroll + 1),
    };
    let shown: Vec<Line> = lines
        .iter()
        .skip(scroll)
        .take(height)
        .map(|l| Line::raw(expand_tabs(&clean_keep_tabs(l))))
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .title(format!(" {} ", clean(title)))
                .title_bottom(Line::from(place).right_aligned()),
        ),
        area,
    );
}

fn centered(area: Rect, width: usize, height: usize) -> Rect {
    let width = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let height = u16::try_from(height).unwrap_or(u16::MAX).min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// One line of text from outside fleet, safe for a cell.
fn clean(text: &str) -> String {
    output::safe(text).replace(['\n', '\t', '\r'], " ")
}

fn clean_keep_tabs(text: &str) -> String {
    output::safe(text).replace(['\n', '\r'], " ")
}

fn expand_tabs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut col = 0;
    for c in text.chars() {
        if c == '\t' {
            let to = (col / 8 + 1) * 8;
            out.push_str(&" ".repeat(to - col));
            col = to;
        } else {
            out.push(c);
            col += c.width().unwrap_or(0);
        }
    }
    out
}

/// `text` in exactly `width` columns: padded, or cut with `…`.
fn ellipsize(text: &str, width: usize) -> String {
    if text.width() <= width {
        return format!("{text}{}", " ".repeat(width - text.width()));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
        used += 1;
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// Words into lines of at most `width` columns; a longer word is cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let sep = usize::from(!line.is_empty());
        if line.width() + sep + word.width() <= width {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if line.width() + c.width().unwrap_or(0) > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::crossterm::event::KeyCode;

    use super::*;
    use crate::cli::dash::app::tests::{ch, key, press, sample};

    /// The reviewer's pane: codex asking for an approval, in colour.
    const SCREEN: &str = "\x1b[1m>_ OpenAI Codex\x1b[0m (v0.98.0)\n\
        \n\
        \x1b[2mmodel:\x1b[0m gpt-5.5 medium\n\
        \n\
        Would you like to run the following command?\n\
        \n\
        \x20 $ cargo test --workspace\n\
        \n\
        \x1b[36m› 1. Yes, proceed\x1b[0m\n\
        \x20 2. No, and tell Codex what to do differently\n\
        \n\
        \x1b[31mPress enter to confirm or esc to cancel\x1b[0m\n";

    fn with_preview(mut app: App) -> App {
        app.preview = Some(Preview {
            name: "reviewer".to_string(),
            host: "h2".to_string(),
            screen: SCREEN.to_string(),
            rows: 24,
            cols: 80,
        });
        app
    }

    fn render(app: &App, width: u16, height: u16) -> Buffer {
        let mut terminal =
            Terminal::new(TestBackend::new(width, height)).unwrap_or_else(|e| panic!("{e}"));
        terminal
            .draw(|frame| draw(frame, app))
            .unwrap_or_else(|e| panic!("{e}"));
        terminal.backend().buffer().clone()
    }

    /// What a person sees: the buffer as lines of text, trailing blanks cut.
    fn text(buf: &Buffer) -> Vec<String> {
        let area = buf.area;
        (0..area.height)
            .map(|y| {
                let line: String = (0..area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect();
                line.trim_end().to_string()
            })
            .collect()
    }

    fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
        text(&render(app, width, height))
    }

    /// Where `needle` is on screen: (column, line).
    fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
        text(buf).iter().enumerate().find_map(|(y, line)| {
            let at = line.find(needle)?;
            let x = line[..at].width();
            Some((u16::try_from(x).ok()?, u16::try_from(y).ok()?))
        })
    }

    #[test]
    fn at_80x24_the_table_is_over_the_preview() {
        let app = with_preview(sample());
        let buf = render(&app, 80, 24);
        assert_eq!(
            text(&buf).join("\n"),
            "\
fleet dash  4 running · 2 working · 1 waiting · 1 exited · 1 unreachable
  NAME      HOST  RUNTIME  MODEL         STATUS       ACTIVITY  RESTARTS  UPTIME
  builder   h1    pi       openai-code…  running      working   0         3h12m
  fixer     h2    claude   opus          running      working   0         5m
  janitor   h1    pi       openai-code…  exited 127   -         0         -
  mapper    h3    pi       openai-code…  unreachable  timeout   0         -
! reviewer  h2    codex    openai-code…  running      waiting   1         41m
  scout     h1    pi       openai-code…  running      idle 12m  0         2h3m
host h4 unreachable: auth: Permission denied (publickey)
┌ reviewer@h2 ─────────────────────────────────────────────────────────────────┐
│>_ OpenAI Codex (v0.98.0)                                                     │
│                                                                              │
│model: gpt-5.5 medium                                                         │
│                                                                              │
│Would you like to run the following command?                                  │
│                                                                              │
│  $ cargo test --workspace                                                    │
│                                                                              │
│› 1. Yes, proceed                                                             │
│  2. No, and tell Codex what to do differently                                │
│                                                                              │
│Press enter to confirm or esc to cancel                                       │
└──────────────────────────────────────────────────────────────────────────────┘
w waiting  ⏎ attach  T takeover  s send  r restart  x stop  ? help  q quit"
        );
        // The selected row is reversed across the table; the one that
        // waits is bold too, and marked without colour.
        let (_, y) = find(&buf, "! reviewer").unwrap_or_else(|| panic!("no reviewer"));
        for x in [0, 2, 40, 79] {
            let cell = &buf[(x, y)];
            assert!(cell.modifier.contains(Modifier::REVERSED), "x={x}");
            assert!(cell.modifier.contains(Modifier::BOLD), "x={x}");
        }
        let (_, y) = find(&buf, "scout").unwrap_or_else(|| panic!("no scout"));
        assert!(!buf[(2, y)].modifier.contains(Modifier::REVERSED));
        // ps's colours.
        let (x, y) = find(&buf, "exited 127").unwrap_or_else(|| panic!("no exit"));
        assert_eq!(buf[(x, y)].fg, Color::Red);
        let (x, y) = find(&buf, "waiting   1").unwrap_or_else(|| panic!("no waiting"));
        assert_eq!(buf[(x, y)].fg, Color::Yellow);
        let (x, y) = find(&buf, "1 waiting").unwrap_or_else(|| panic!("no count"));
        assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn at_200x60_the_preview_is_beside_the_table() {
        let app = with_preview(sample());
        let buf = render(&app, 200, 60);
        let lines = text(&buf);
        assert!(lines[1].starts_with(
            "  NAME      HOST  RUNTIME  MODEL                           STATUS       ACTIVITY  RESTARTS  UPTIME ┌ reviewer@h2 ─"
        ));
        assert!(lines[2].starts_with(
            "  builder   h1    pi       openai-codex/gpt-5.5:high       running      working   0         3h12m  │>_ OpenAI Codex (v0.98.0)"
        ));
        assert!(lines[6].starts_with(
            "! reviewer  h2    codex    openai-codex/gpt-5.5:medium     running      waiting   1         41m    │Would you like to run"
        ));
        assert!(lines[8].starts_with("host h4 unreachable: auth: Permission denied (publickey)"));
        assert_eq!(
            lines[59],
            "↑↓ move  / filter  w waiting  ⏎ attach  T takeover  s send  r restart  x stop  l log  e explain  ? help  q quit"
        );
        assert_eq!(lines[58].chars().nth(99), Some('└'));
    }

    #[test]
    fn a_long_fleet_scrolls_to_keep_the_selection_in_sight() {
        let mut app = App::new(false);
        let rows = (0..100)
            .map(|i| {
                let activity = crate::core::vocab::ActivityKind::Idle;
                crate::cli::dash::app::tests::running(&format!("a{i:02}"), "h1", activity)
            })
            .collect();
        app.set_rows(rows, vec![]);
        app.set_size(80, 24);
        app.on_key(key(KeyCode::End));
        let buf = render(&app, 80, 24);
        let lines = text(&buf);
        // The body less 8 lines for the preview: titles and 13 rows.
        assert!(lines[2].starts_with("  a87 "), "{}", lines[2]);
        assert!(lines[14].starts_with("  a99 "), "{}", lines[14]);
        assert!(buf[(2, 14)].modifier.contains(Modifier::REVERSED));
        assert!(lines[15].starts_with("┌ a99@h1 "), "{}", lines[15]);
        // Going up moves the selection, not the table, until its top.
        press(&mut app, "kkk");
        let buf = render(&app, 80, 24);
        assert!(text(&buf)[2].starts_with("  a87 "));
        assert!(buf[(2, 11)].modifier.contains(Modifier::REVERSED));
        // A page is the 13 rows shown.
        app.on_key(key(KeyCode::PageUp));
        let lines = screen(&app, 80, 24);
        assert!(lines[2].starts_with("  a83 "), "{}", lines[2]);
    }

    #[test]
    fn beside_the_preview_a_long_model_is_cut() {
        let mut app = with_preview(sample());
        let mut rows = crate::cli::dash::app::tests::sample_rows();
        rows[0].model = Some(format!("a-very-{}-long-model", "long-".repeat(20)));
        app.set_rows(rows, crate::cli::dash::app::tests::sample_unreachable());
        let lines = screen(&app, 200, 60);
        assert!(lines[1].contains("UPTIME ┌ reviewer@h2 ─"), "{}", lines[1]);
        assert!(lines[2].contains("  a-very-long-long-long-long-long-long-long-long-long-"));
        assert!(lines[2].contains("…  running "));
        // Where it would lose columns, the preview goes below.
        let lines = screen(&app, 120, 40);
        assert!(lines[1].ends_with("UPTIME"), "{}", lines[1]);
    }

    #[test]
    fn narrow_tables_give_up_model_and_uptime_first() {
        let app = with_preview(sample());
        let lines = screen(&app, 60, 20);
        assert_eq!(
            lines[1],
            "  NAME      HOST  RUNTIME  STATUS       ACTIVITY  RESTARTS"
        );
        // Status and activity stay whole, the name gives way.
        let lines = screen(&app, 30, 20);
        assert_eq!(lines[1], "  NAME   STATUS       ACTIVITY");
        assert_eq!(lines[6], "! revi…  running      waiting");
    }

    #[test]
    fn the_preview_keeps_its_colours_only_with_colour() {
        let mut app = with_preview(sample());
        let buf = render(&app, 80, 24);
        let (x, y) = find(&buf, "Press enter").unwrap_or_else(|| panic!("no prompt"));
        assert_eq!(buf[(x, y)].fg, Color::Red);
        let (x, y) = find(&buf, "› 1. Yes").unwrap_or_else(|| panic!("no choice"));
        assert_eq!(buf[(x, y)].fg, Color::Cyan);
        let (x, y) = find(&buf, ">_ OpenAI").unwrap_or_else(|| panic!("no title"));
        assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));

        app.color = false;
        let buf = render(&app, 80, 24);
        let (x, y) = find(&buf, "Press enter").unwrap_or_else(|| panic!("no prompt"));
        assert_eq!(buf[(x, y)].fg, Color::Reset);
        // NO_COLOR: not one coloured cell, and what waits is still marked.
        for cell in buf.content() {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
        }
        let (_, y) = find(&buf, "! reviewer").unwrap_or_else(|| panic!("no mark"));
        assert!(buf[(2, y)].modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn the_preview_shows_the_end_of_a_screen_too_tall_for_it() {
        let mut app = sample();
        let screen_text: String = (0..46).map(|i| format!("row {i}\n")).collect();
        app.preview = Some(Preview {
            name: "reviewer".to_string(),
            host: "h2".to_string(),
            screen: screen_text,
            rows: 50,
            cols: 80,
        });
        let lines = screen(&app, 80, 24);
        assert_eq!(
            lines[10],
            "│row 34                                                                        │"
        );
        assert_eq!(
            lines[21],
            "│row 45                                                                        │"
        );
    }

    #[test]
    fn another_agents_preview_is_a_placeholder() {
        let mut app = with_preview(sample());
        press(&mut app, "j");
        let lines = screen(&app, 80, 24);
        assert!(lines[9].starts_with("┌ scout@h1 ─"), "{}", lines[9]);
        assert_eq!(lines[10], format!("│…{}│", " ".repeat(77)));
        assert!(!lines.iter().any(|l| l.contains("Codex")));
    }

    #[test]
    fn the_confirm_dialog_names_the_agent() {
        let mut app = with_preview(sample());
        press(&mut app, "T");
        let lines = screen(&app, 80, 24);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("│Take over reviewer@h2? It will type into the agent. y/N")),
            "{lines:#?}"
        );
        assert_eq!(lines[23], "y yes  any other key cancels");
    }

    #[test]
    fn the_send_prompt_then_its_review() {
        let mut app = with_preview(sample());
        press(&mut app, "shi");
        let lines = screen(&app, 80, 24);
        assert!(lines.iter().any(|l| l.contains("┌ send to reviewer@h2 ")));
        assert!(lines.iter().any(|l| l.contains("│> hi_")));
        assert_eq!(lines[23], "⏎ review  Esc cancel");
        app.on_key(key(KeyCode::Enter));
        let shown = screen(&app, 80, 24).join("\n");
        assert!(shown.contains("│Send \"hi\" to reviewer@h2, then Enter? It will type into the"));
        assert!(shown.contains("│agent. y/N"));
    }

    #[test]
    fn the_filter_is_shown_and_narrows_the_table() {
        let mut app = with_preview(sample());
        press(&mut app, "/h2");
        let lines = screen(&app, 80, 24);
        assert!(
            lines[0].starts_with("fleet dash  filter: h2  4 running · "),
            "{}",
            lines[0]
        );
        assert!(lines[2].starts_with("  fixer "));
        assert!(lines[3].starts_with("! reviewer "));
        assert!(lines[4].starts_with("┌ reviewer@h2 "), "{}", lines[4]);
        assert!(lines[23].starts_with("/h2_  ⏎ keep  Esc clear"));
        app.on_key(key(KeyCode::Backspace));
        press(&mut app, "4");
        let lines = screen(&app, 80, 24);
        assert_eq!(lines[2], "no agent matches the filter (Esc clears it)");
        assert!(lines[3].starts_with("host h4 unreachable: auth"));
    }

    #[test]
    fn help_and_text_views() {
        let mut app = sample();
        press(&mut app, "?");
        let shown = screen(&app, 80, 24).join("\n");
        assert!(shown.contains("T          take over: attach read-write (asks first; recorded)"));
        assert!(shown.contains("q  Ctrl-C  quit"));

        let mut app = sample();
        let lines: Vec<String> = (1..=100).map(|i| format!("line {i}\tend")).collect();
        app.show_text("reviewer@h2 log", lines);
        let shown = screen(&app, 80, 24);
        assert!(shown[1].starts_with("┌ reviewer@h2 log ─"));
        assert_eq!(shown[2], format!("│line 1  end{}│", " ".repeat(67)));
        assert!(shown[22].ends_with("─ 1-20 of 100 ┘"), "{}", shown[22]);
        app.on_key(ch('G'));
        let shown = screen(&app, 80, 24);
        assert!(shown[21].starts_with("│line 100"));
        assert!(shown[22].ends_with(" 81-100 of 100 ┘"));
    }

    #[test]
    fn an_empty_fleet_says_how_to_start_one() {
        let app = App::new(true);
        let lines = screen(&app, 80, 24);
        assert!(lines[0].starts_with("fleet dash  0 running"));
        assert_eq!(
            lines[2],
            "no agents: declare some in fleet.toml and run fleet up, or fleet start NAME"
        );
    }

    #[test]
    fn tiny_sizes_draw_what_fits() {
        let mut apps = Vec::new();
        for keys in ["", "?", "/h", "T", "sabc", "x"] {
            let mut app = with_preview(sample());
            press(&mut app, keys);
            apps.push(app);
        }
        let mut text = with_preview(sample());
        text.show_text("log", vec!["a".to_string(); 30]);
        apps.push(text);
        let mut message = sample();
        message.message = Some("restarted reviewer@h2".to_string());
        apps.push(message);
        apps.push(App::new(false));
        for app in &apps {
            for (w, h) in [(0, 0), (1, 1), (20, 5), (10, 3), (80, 2), (3, 40), (200, 1)] {
                render(app, w, h);
            }
        }
        assert_eq!(screen(&apps[0], 20, 5)[0], "fleet dash  4 runnin");
        assert_eq!(screen(&apps[0], 1, 1), ["f"]);
    }

    #[test]
    fn nothing_an_agent_says_reaches_the_terminal_as_an_escape() {
        let mut app = sample();
        let mut rows = crate::cli::dash::app::tests::sample_rows();
        rows[0].name = "evil\x1b[31mred".to_string();
        rows[0].model = Some("m\x1b]0;title\x07".to_string());
        rows[3].reason = Some("timeout\x1b[2J".to_string());
        app.set_rows(
            rows,
            vec![(
                "h4".to_string(),
                "auth\x1b]52;c;AAA\x07\u{202e}x".to_string(),
            )],
        );
        press(&mut app, "g");
        app.preview = Some(Preview {
            name: "evil\x1b[31mred".to_string(),
            host: "h1".to_string(),
            screen: "ok\x1b]52;c;AAAA\x07 \x1b[5mdone\x1bP+q\x1b\\\u{9b}5m\n".to_string(),
            rows: 5,
            cols: 40,
        });
        app.message = Some("said \x1b[5m".to_string());
        for (w, h) in [(80, 24), (200, 60)] {
            let buf = render(&app, w, h);
            for cell in buf.content() {
                assert!(
                    !cell
                        .symbol()
                        .chars()
                        .any(|c| c.is_control() || c == '\u{202e}'),
                    "{:?}",
                    cell.symbol()
                );
            }
            let shown = text(&buf).join("\n");
            assert!(shown.contains("evil?[31mred"), "{shown}");
            assert!(shown.contains("┌ evil?[31mred@h1 "));
            assert!(shown.contains("│ok done"));
        }
    }
}
