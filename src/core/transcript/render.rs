//! Rendering a transcript: the text a person saw in the pane, in order.
//!
//! Theory of operation. A transcript is the pane's raw output, and for a
//! full-screen program (Codex, Claude Code, pi) that is not text with the
//! escapes left out: such a program moves the cursor instead of writing
//! spaces and line ends (Claude Code moves it to each word), draws rows in
//! any order, and redraws them in place many times a second. So the bytes
//! are played into a real terminal, [`vt100`], of the pane's size, and its
//! screen is read.
//!
//! A screen is a moment and a log is a history. The renderer looks at the
//! screen whenever a frame is complete and prints each row once, when it
//! has settled, so the log reads top to bottom in the order things were
//! on the screen:
//!
//! - A row that scrolls off the top has settled. That is all a plain
//!   line-oriented program (a shell, the stub) needs, and its lines read
//!   as written; a line the terminal wrapped is joined again.
//! - Rows are matched between two looks by their text, as a diff matches
//!   lines, because a TUI scrolls by redrawing every row one higher (Codex
//!   on the alternate screen); a row that moved is the same row. A row
//!   whose text is gone has settled too, and is printed then, after any
//!   rows above it not printed yet (order holds) — unless what took its
//!   place looks like its next state: the same text longer or shorter
//!   (typing), with a few characters changed (a spinner, a countdown), or
//!   with the same label (a footer's hints). Such transient states are
//!   never printed; the last one is, when it goes. A status line printed
//!   lately is not printed again, and rows of only drawing characters
//!   (borders, an animated logo) only as part of a whole screen.
//! - Rows that left over the top are remembered for a while: a TUI that
//!   scrolls back (its bottom pane shrank) shows them again, printed.
//! - The screen is printed whole (the rows not printed yet, down to its
//!   last text) at the end of the transcript, and when the program enters
//!   or leaves the alternate screen: the screen it leaves is gone.
//! - For `--follow` ([`Renderer::tick`]) rows also settle by holding still
//!   for a whole look, top-down, until one that still changes; a line that
//!   grows after it was printed (a prompt typed at) is continued.
//!
//! Printing rows as they appear would print every state of every spinner
//! and every keystroke; printing only what scrolls off would lose all of a
//! full-screen program's history, which never scrolls. Printing rows when
//! they are lost, and the screen at the end, gives each line once, with
//! its final text, in order.
//!
//! A frame is complete at the end of a synchronized update (`CSI ? 2026 l`:
//! Codex and pi wrap each frame in one), and, for programs without them
//! (Claude Code), when after printing the cursor goes back up or a line or
//! the screen is erased: the next redraw begins. A look reads only the rows
//! the cursor touched since the last one: a whole 8 MiB transcript renders
//! in well under a second.
//!
//! Memory is bounded: the screen, at most a thousand rows scrolled off
//! between looks, and a few screens of rows remembered; `--follow` can run
//! forever. Only the text of cells comes out: no escape sequence or control
//! character the program wrote (a title, a clipboard write, a cursor move)
//! reaches the reader's terminal.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroU16;
use std::rc::Rc;

use vt100::capture::{BasicFormattedCaptureRange, BasicFormattedCaptureState, RowContents};

use crate::core::host::{PANE_COLS, PANE_ROWS};

/// An escape sequence cut by a chunk end is held back for the next chunk
/// (to look before it runs) unless it grows longer than this.
const MAX_HELD: usize = 256;
/// Text without a control character is played in runs of at most this much,
/// so the rows it scrolls off stay bounded.
const MAX_TEXT_RUN: usize = 4096;
/// How many printed lines a status line is not printed again after.
const RECENT: usize = 64;
/// Rows scrolled off between two looks before a look is taken anyway.
const MAX_SCROLLED: usize = 1024;
/// A synchronized update that never ends is over after this many bytes.
const MAX_SYNC_BYTES: usize = 1 << 20;

/// Renders a transcript, fed in chunks of any size, as plain text.
pub struct Renderer {
    parser: vt100::Parser<Scrolled>,
    rows: u16,
    cols: u16,
    scan: Scan,
    /// Bytes of an escape sequence cut by the end of the last chunk.
    held: Vec<u8>,
    /// The screen at the last look.
    shown: Vec<Line>,
    /// Rows that left over the top lately, oldest first: a TUI that
    /// scrolls by redrawing scrolls back too, and what comes back was
    /// printed.
    above: Vec<Line>,
    touched: Touched,
    /// Something was printed since the last look.
    printed: bool,
    /// Inside a synchronized update, and how long it has been going (in
    /// bytes, and in ticks).
    sync: Option<usize>,
    sync_ticks: u8,
    /// Looks of `--follow` so far: a row that has not changed since the
    /// one before is stable.
    tick: u64,
    /// The last row that scrolled off goes on in the first row of the
    /// screen.
    scrolled_wrapped: bool,
    out: Out,
}

/// One row of the screen, or one that left it.
#[derive(Clone, Debug)]
struct Line {
    text: Rc<str>,
    hash: u64,
    /// The terminal wrapped it: it goes on in the next row.
    wrapped: bool,
    /// Printed already (while it is on the screen).
    emitted: bool,
    /// The look it appeared at.
    born: u64,
    /// It is an already printed row that grew: the printed text, to print
    /// only the rest.
    extends: Option<Rc<str>>,
}

impl Line {
    fn new(text: String, wrapped: bool, born: u64) -> Self {
        let text: Rc<str> = Rc::from(text);
        Self {
            // Indented or not, it is the same text: pi indents what is
            // typed and not what was sent.
            hash: hash(text.trim_start()),
            text,
            wrapped,
            emitted: false,
            born,
            extends: None,
        }
    }

    fn blank() -> Self {
        Self::new(String::new(), false, 0)
    }

    fn is_blank(&self) -> bool {
        self.text.is_empty()
    }
}

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Ground,
    /// After ESC at this offset.
    Esc(usize),
    /// After ESC and an intermediate byte.
    EscInter(usize, u8),
    /// In a control sequence (ESC `[`) that began at this offset.
    Csi(usize),
    /// In a string (OSC, DCS, APC, PM, SOS), which ends at BEL or ST.
    Str,
    /// In a string, after an ESC.
    StrEsc,
}

/// What a sequence or control does to the screen, as far as looking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Moves the cursor or sets a mode: no cell changes.
    None,
    /// Changes cells between where the cursor is before and after.
    Cursor,
    /// May change any row.
    All,
    /// A line feed: scrolls when the cursor does not move.
    LineFeed,
}

/// What must happen around a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Around {
    Nothing,
    /// The screen before it is a finished frame if anything was printed
    /// since the last look (a cursor going up, an erase).
    RedrawStarts,
    SyncBegins,
    SyncEnds,
    /// The alternate screen is entered (`Some(true)`) or left
    /// (`Some(false)`), or the terminal is reset (`None`).
    SwitchScreen(Option<bool>),
}

/// Rows changed since the last look.
#[derive(Debug, Default)]
struct Touched {
    rows: Vec<bool>,
    all: bool,
    any: bool,
}

impl Touched {
    fn new(rows: u16) -> Self {
        Self {
            rows: vec![false; usize::from(rows)],
            ..Self::default()
        }
    }

    fn mark(&mut self, a: u16, b: u16) {
        let (lo, hi) = (usize::from(a.min(b)), usize::from(a.max(b)));
        for r in self.rows.iter_mut().take(hi + 1).skip(lo) {
            *r = true;
        }
        self.any = true;
    }

    fn mark_all(&mut self) {
        self.all = true;
        self.any = true;
    }

    fn clear(&mut self) {
        self.rows.iter_mut().for_each(|r| *r = false);
        self.all = false;
        self.any = false;
    }
}

/// Receives the rows that scroll off the top of the screen.
#[derive(Default)]
struct Scrolled {
    state: BasicFormattedCaptureState,
    scratch: String,
    rows: Vec<Line>,
}

impl vt100::Callbacks for Scrolled {
    fn on_scroll(&mut self, row: RowContents<'_>, _alternate: bool) {
        self.scratch.clear();
        // Writing to a String cannot fail.
        let _ = row.write_formatted_basic(&mut self.scratch, &mut self.state);
        // The capture starts a new line unless the row before wrapped.
        let body = match self.scratch.strip_prefix('\n') {
            Some(body) => {
                if let Some(last) = self.rows.last_mut() {
                    last.wrapped = false;
                }
                body
            }
            None => {
                if let Some(last) = self.rows.last_mut() {
                    last.wrapped = true;
                }
                self.scratch.as_str()
            }
        };
        let mut text = String::with_capacity(body.len());
        for piece in vt100::capture::basic_formatted_to_plain(body) {
            push_printable(&mut text, piece);
        }
        trim_end(&mut text);
        // The wrap of the last row is known when the next one comes, or
        // asked of the screen at the next look.
        self.rows.push(Line::new(text, false, 0));
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new(PANE_ROWS, PANE_COLS)
    }
}

impl Renderer {
    /// A renderer for a terminal of `rows` by `cols` (at least 1 each).
    pub fn new(rows: u16, cols: u16) -> Self {
        let rows = NonZeroU16::new(rows).unwrap_or(NonZeroU16::MIN);
        let cols = NonZeroU16::new(cols).unwrap_or(NonZeroU16::MIN);
        let parser = vt100::Parser::new_with_callbacks(rows, cols, 0, Scrolled::default());
        Self {
            parser,
            rows: rows.get(),
            cols: cols.get(),
            scan: Scan::Ground,
            held: Vec::new(),
            shown: vec![Line::blank(); usize::from(rows.get())],
            above: Vec::new(),
            touched: Touched::new(rows.get()),
            printed: false,
            sync: None,
            sync_ticks: 0,
            tick: 0,
            scrolled_wrapped: false,
            out: Out::default(),
        }
    }

    /// Plays `bytes`, the next part of the transcript; answers the text
    /// that settled.
    pub fn feed(&mut self, bytes: &[u8]) -> String {
        if self.held.is_empty() {
            self.play(bytes);
        } else {
            let mut input = std::mem::take(&mut self.held);
            input.extend_from_slice(bytes);
            self.play(&input);
        }
        self.out.take()
    }

    /// `--follow`: a while has passed. Answers the rows that have not
    /// changed since the last tick, top-down.
    pub fn tick(&mut self) -> String {
        if self.sync.is_some() {
            // A frame is being drawn; one that never ends is over.
            self.sync_ticks += 1;
            if self.sync_ticks > 2 {
                self.sync = None;
            }
        }
        if self.sync.is_none() {
            self.look();
            let tick = self.tick;
            self.print_rows(|line| {
                if line.born < tick {
                    Some(true)
                } else if line.is_blank() || is_drawing(&line.text) {
                    Some(false)
                } else {
                    // Still changing: what is below waits, to keep order.
                    None
                }
            });
        }
        self.tick += 1;
        self.out.take()
    }

    /// Answers what is on the screen and was not printed yet, as if the
    /// transcript ended here; it can go on.
    pub fn flush(&mut self) -> String {
        self.look();
        self.print_screen();
        self.out.take()
    }

    /// The end of the transcript: the rest of the screen, and a last line
    /// end.
    pub fn finish(mut self) -> String {
        self.play_held();
        let mut text = self.flush();
        if self.out.open {
            text.push('\n');
        }
        text
    }

    /// Plays a sequence held at the end of the input as it is.
    fn play_held(&mut self) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            self.process(&held, Effect::All);
        }
    }

    /// Scans `input`, playing it into the terminal piece by piece and
    /// looking at the screen where a frame is complete.
    fn play(&mut self, input: &[u8]) {
        // Bytes before this offset have been played.
        let mut done = 0;
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.scan {
                Scan::Ground => match b {
                    0x1b => {
                        self.text(&input[done..i]);
                        done = i;
                        self.scan = Scan::Esc(i);
                    }
                    0x00..=0x1f | 0x7f => {
                        self.text(&input[done..i]);
                        self.control(b, &input[i..=i]);
                        done = i + 1;
                    }
                    _ => {
                        self.printed = true;
                        if i + 1 - done >= MAX_TEXT_RUN {
                            self.text(&input[done..=i]);
                            done = i + 1;
                        }
                    }
                },
                Scan::Esc(start) => match b {
                    b'[' => self.scan = Scan::Csi(start),
                    b']' | b'P' | b'X' | b'^' | b'_' => {
                        // A string: nothing to look before, and it may be
                        // long, so it is played as it comes.
                        self.process(&input[start..=i], Effect::None);
                        done = i + 1;
                        self.scan = Scan::Str;
                    }
                    0x20..=0x2f => self.scan = Scan::EscInter(start, b),
                    0x1b => {
                        self.process(&input[start..i], Effect::None);
                        done = i;
                        self.scan = Scan::Esc(i);
                    }
                    0x30..=0x7e => {
                        let (effect, around) = match b {
                            b'c' => (Effect::All, Around::SwitchScreen(None)),
                            b'M' => (Effect::All, Around::RedrawStarts),
                            b'D' | b'E' => (Effect::LineFeed, Around::Nothing),
                            _ => (Effect::None, Around::Nothing),
                        };
                        self.sequence(&input[start..=i], effect, around);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                    _ => {
                        // A control inside an escape, or a byte that
                        // cancels it: play it all, and look at every row.
                        self.process(&input[start..=i], Effect::All);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                },
                Scan::EscInter(start, first) => match b {
                    0x20..=0x2f => {}
                    0x30..=0x7e => {
                        // ESC # 8 fills the screen with E.
                        let effect = if (first, b) == (b'#', b'8') {
                            Effect::All
                        } else {
                            Effect::None
                        };
                        self.sequence(&input[start..=i], effect, Around::Nothing);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                    _ => {
                        self.process(&input[start..=i], Effect::All);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                },
                Scan::Csi(start) => match b {
                    0x20..=0x3f => {}
                    0x40..=0x7e => {
                        let seq = &input[start..=i];
                        let (effect, around) = csi(&seq[2..seq.len() - 1], b);
                        self.sequence(seq, effect, around);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                    0x1b => {
                        self.process(&input[start..i], Effect::All);
                        done = i;
                        self.scan = Scan::Esc(i);
                    }
                    _ => {
                        self.process(&input[start..=i], Effect::All);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                },
                Scan::Str => match b {
                    0x07 | 0x18 | 0x1a => {
                        self.process(&input[done..=i], Effect::None);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                    0x1b => self.scan = Scan::StrEsc,
                    _ => {}
                },
                Scan::StrEsc => match b {
                    b'\\' => {
                        self.process(&input[done..=i], Effect::None);
                        done = i + 1;
                        self.scan = Scan::Ground;
                    }
                    _ if i > done => {
                        // The ESC ended the string and begins a sequence:
                        // scan this byte again after it.
                        self.process(&input[done..i - 1], Effect::None);
                        done = i - 1;
                        self.scan = Scan::Esc(i - 1);
                        continue;
                    }
                    _ => self.scan = Scan::Ground,
                },
            }
            i += 1;
        }
        match self.scan {
            Scan::Ground => self.text(&input[done..]),
            Scan::Str | Scan::StrEsc => self.process(&input[done..], Effect::None),
            Scan::Esc(start) | Scan::EscInter(start, _) | Scan::Csi(start) => {
                if input.len() - start <= MAX_HELD {
                    self.held = input[start..].to_vec();
                } else {
                    self.process(&input[start..], Effect::All);
                }
                self.scan = Scan::Ground;
            }
        }
    }

    /// Plays printable text.
    fn text(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.process(bytes, Effect::Cursor);
        }
    }

    fn control(&mut self, b: u8, bytes: &[u8]) {
        let effect = match b {
            b'\n' | 0x0b | 0x0c => Effect::LineFeed,
            _ => Effect::None,
        };
        self.process(bytes, effect);
    }

    /// Plays one complete escape sequence, looking before or after it as
    /// it asks.
    fn sequence(&mut self, bytes: &[u8], effect: Effect, around: Around) {
        match around {
            Around::Nothing => self.process(bytes, effect),
            Around::RedrawStarts => {
                if self.sync.is_none() && self.printed {
                    self.look();
                }
                self.process(bytes, effect);
            }
            Around::SyncBegins => {
                self.look();
                self.process(bytes, effect);
                self.sync = Some(0);
                self.sync_ticks = 0;
            }
            Around::SyncEnds => {
                self.process(bytes, effect);
                self.sync = None;
                self.look();
            }
            Around::SwitchScreen(Some(to)) if to == self.parser.screen().alternate_screen() => {
                self.process(bytes, Effect::None);
            }
            Around::SwitchScreen(_) => {
                // The screen being left will not be seen again (the main
                // screen comes back, but it was printed when it was left).
                self.look();
                self.print_screen();
                self.process(bytes, effect);
                self.touched.clear();
                self.parser.callbacks_mut().rows.clear();
                self.above.clear();
                let born = self.tick;
                self.shown = self
                    .read_rows()
                    .map(|(text, wrapped)| Line {
                        emitted: true,
                        ..Line::new(text, wrapped, born)
                    })
                    .collect();
            }
        }
    }

    /// Plays bytes into the terminal, noting which rows they may change.
    fn process(&mut self, bytes: &[u8], effect: Effect) {
        let before = self.parser.screen().cursor_position().0;
        self.parser.process(bytes);
        if let Some(n) = &mut self.sync {
            *n += bytes.len();
            if *n > MAX_SYNC_BYTES {
                self.sync = None;
            }
        }
        let after = self.parser.screen().cursor_position().0;
        match effect {
            Effect::None => {}
            Effect::Cursor => self.touched.mark(before, after),
            Effect::All => self.touched.mark_all(),
            Effect::LineFeed => {
                if before == after {
                    // At the bottom (of the screen or a scroll region): it
                    // scrolled.
                    self.touched.mark_all();
                }
            }
        }
        if self.parser.callbacks().rows.len() >= MAX_SCROLLED {
            // Much scrolled off in one frame: settle it now, so memory
            // stays bounded.
            self.look();
        }
    }

    /// Whether the last row that scrolled off goes on in the first row of
    /// the screen: the capture state knows, and says so by the first thing
    /// it would write for the screen.
    fn last_scrolled_wraps(&self) -> bool {
        struct First(Option<char>);
        impl fmt::Write for First {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                match s.chars().next() {
                    Some(c) => {
                        self.0 = Some(c);
                        Err(fmt::Error) // seen enough
                    }
                    None => Ok(()),
                }
            }
        }
        let mut state = self.parser.callbacks().state.clone();
        let mut first = First(None);
        let _ = self.parser.screen().write_contents_formatted_basic(
            &mut first,
            BasicFormattedCaptureRange::Full(&mut state),
        );
        first.0.is_some_and(|c| c != '\n')
    }

    /// The text of every row of the screen, and whether it wraps.
    fn read_rows(&self) -> impl Iterator<Item = (String, bool)> + '_ {
        let screen = self.parser.screen();
        screen.rows(0, self.cols).enumerate().map(|(r, raw)| {
            let mut text = String::with_capacity(raw.len());
            push_printable(&mut text, &raw);
            trim_end(&mut text);
            let wrapped = u16::try_from(r).is_ok_and(|r| screen.row_wrapped(r));
            (text, wrapped)
        })
    }

    /// The text of one row of the screen, and whether it wraps.
    fn read_row(&self, row: u16) -> (String, bool) {
        // From the row's start to the next row's start: the row, and a
        // line end unless it wraps. (Cheaper than reading cell by cell.)
        let raw = self
            .parser
            .screen()
            .contents_between(row, 0, row.saturating_add(1), 0);
        let (raw, wrapped) = match raw.strip_suffix('\n') {
            Some(raw) => (raw, false),
            None => (raw.as_str(), true),
        };
        let mut text = String::with_capacity(raw.len());
        push_printable(&mut text, raw);
        trim_end(&mut text);
        (text, wrapped)
    }

    /// Looks at the screen: finds what changed since the last look and
    /// prints what settled.
    fn look(&mut self) {
        self.printed = false;
        let scrolled = std::mem::take(&mut self.parser.callbacks_mut().rows);
        if scrolled.is_empty() && !self.touched.any {
            return;
        }
        let born = self.tick;
        let mut changed = !scrolled.is_empty();
        let mut cur = if changed || self.touched.all {
            changed = true;
            self.read_rows()
                .map(|(text, wrapped)| Line::new(text, wrapped, born))
                .collect()
        } else {
            let mut cur = self.shown.clone();
            for r in 0..self.rows {
                if !self.touched.rows[usize::from(r)] {
                    continue;
                }
                let (text, wrapped) = self.read_row(r);
                let line = &mut cur[usize::from(r)];
                if *line.text != *text {
                    *line = Line::new(text, wrapped, born);
                    changed = true;
                } else {
                    line.wrapped = wrapped;
                }
            }
            cur
        };
        self.touched.clear();
        if !changed {
            self.shown = cur;
            return;
        }
        let mut comb = scrolled;
        let follows_wrap = self.scrolled_wrapped;
        if let Some(last) = comb.last_mut() {
            last.wrapped = self.last_scrolled_wraps();
            self.scrolled_wrapped = last.wrapped;
        }
        let k = comb.len();
        comb.append(&mut cur);
        let prev = std::mem::take(&mut self.shown);
        let matches = align(&prev, &comb);
        // New rows at the top of a screen that was redrawn (not scrolled)
        // may be rows that left over the top before, shown again: those
        // were printed.
        let first = matches.iter().flatten().copied().find(|&j| j >= k);
        let top = if k == 0 {
            k..first.unwrap_or(comb.len())
        } else {
            k..k
        };
        let mut above = std::mem::take(&mut self.above);
        let back = align(&above, &comb[top.clone()]);
        for j in back.iter().flatten() {
            comb[top.start + j].emitted = true;
        }
        let printed = self.settle(&prev, &mut comb, k, &matches, follows_wrap);
        // Above now: what stayed there, what left the screen over the top
        // (lost before the first row that stayed), what scrolled off.
        let mut kept = back.iter().map(Option::is_none);
        above.retain(|_| kept.next().unwrap_or(true));
        // (When nothing stayed, the screen was replaced, not scrolled.)
        let stayed = matches
            .iter()
            .position(|m| m.is_some_and(|j| j >= k))
            .unwrap_or(0);
        above.extend(
            prev.into_iter()
                .zip(printed)
                .take(stayed)
                .filter(|(_, printed)| *printed)
                .map(|(line, _)| line),
        );
        above.extend(comb.drain(..k));
        let keep = 2 * usize::from(self.rows);
        if above.len() > keep {
            above.drain(..above.len() - keep);
        }
        above.iter_mut().for_each(|line| line.emitted = true);
        self.above = above;
        self.shown = comb;
    }

    /// Decides, from how the rows of the last look (`prev`) went on in the
    /// rows now (`comb`: the `k` that scrolled off, then the screen), what
    /// to print, and prints it. Answers, for each row of `prev` lost, if
    /// it was printed (now or before).
    fn settle(
        &mut self,
        prev: &[Line],
        comb: &mut [Line],
        k: usize,
        matches: &[Option<usize>],
        follows_wrap: bool,
    ) -> Vec<bool> {
        // Walk both in order, as a diff: in each gap between matched rows,
        // the rows lost, then the rows new.
        #[derive(Clone, Copy)]
        enum Item {
            Lost(usize),
            Now(usize),
        }
        let mut order = Vec::with_capacity(prev.len() + comb.len());
        let mut fate = vec![Fate::Gone; prev.len()];
        let (mut i, mut j) = (0, 0);
        let pairs = matches
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|j| (i, j)))
            .chain(std::iter::once((prev.len(), comb.len())));
        for (mi, mj) in pairs {
            for (n, lost) in (i..mi).enumerate() {
                order.push(Item::Lost(lost));
                // What took its place: the row in the same place, or the
                // same number into the gap.
                let took = if (j..mj).contains(&lost) { lost } else { j + n };
                if let Some(new) = comb.get_mut(took).filter(|n| took < mj && !n.is_blank()) {
                    let old = &prev[lost];
                    fate[lost] = Fate::Replaced;
                    if similar(&old.text, &new.text) {
                        fate[lost] = Fate::Superseded;
                        if old.emitted && new.text.starts_with(&*old.text) {
                            new.extends = Some(old.text.clone());
                        }
                    }
                }
            }
            order.extend((j..mj).map(Item::Now));
            if mi < prev.len() {
                let now = &mut comb[mj];
                now.emitted = prev[mi].emitted;
                now.born = prev[mi].born;
                now.extends = prev[mi].extends.clone();
                order.push(Item::Now(mj));
            }
            (i, j) = (mi + 1, mj + 1);
        }
        // Everything up to the last row that settled is printed, so that
        // rows come out in the order they stood.
        let out = &self.out;
        let settles = |item: &Item| match *item {
            Item::Lost(i) => {
                let line = &prev[i];
                let worth = match fate[i] {
                    Fate::Superseded => false,
                    // Status lines and hints come back in the same place:
                    // once is enough.
                    Fate::Replaced => !out.printed_lately(line),
                    Fate::Gone => true,
                };
                worth && !line.emitted && !line.is_blank() && !is_drawing(&line.text)
            }
            Item::Now(j) => j < k,
        };
        let settled: Vec<bool> = order.iter().map(settles).collect();
        let mut printed: Vec<bool> = prev
            .iter()
            .zip(matches)
            .map(|(line, m)| m.is_none() && line.emitted && !line.is_blank())
            .collect();
        let Some(cut) = settled.iter().rposition(|s| *s) else {
            return printed;
        };
        let mut last: Option<Item> = None;
        for (item, settled) in order[..=cut].iter().zip(settled) {
            match *item {
                Item::Lost(i) => {
                    if settled {
                        let wraps = i > 0 && matches!(last, Some(Item::Lost(p)) if p + 1 == i);
                        self.out.line(&prev[i], wraps && prev[i - 1].wrapped);
                        printed[i] = true;
                        last = Some(*item);
                    }
                }
                Item::Now(j) => {
                    let line = &mut comb[j];
                    if line.emitted {
                        continue;
                    }
                    line.emitted = true;
                    if j >= k && is_drawing(&line.text) {
                        continue;
                    }
                    let wraps = if j == 0 {
                        follows_wrap
                    } else {
                        matches!(last, Some(Item::Now(p)) if p + 1 == j)
                    };
                    self.out.line(line, wraps);
                    last = Some(*item);
                }
            }
        }
        printed
    }

    /// Prints the rows of the screen not printed yet, drawing and all.
    fn print_screen(&mut self) {
        self.print_rows(|_| Some(true));
    }

    /// Prints the rows of the screen not printed yet, top-down, that
    /// `ready` says to (`Some(true)`), passing over those it says to wait
    /// (`Some(false)`) and stopping at the first it says stop at (`None`).
    /// Blank rows are printed only between rows printed: below the last
    /// text is empty screen, not blank lines.
    fn print_rows(&mut self, ready: impl Fn(&Line) -> Option<bool>) {
        let mut blanks = Vec::new();
        let mut last: Option<usize> = None;
        for r in 0..self.shown.len() {
            let line = &self.shown[r];
            if line.emitted {
                continue;
            }
            match ready(line) {
                None => break,
                Some(false) => continue,
                Some(true) if line.is_blank() => blanks.push(r),
                Some(true) => {
                    for b in blanks.drain(..) {
                        self.out.line(&self.shown[b], false);
                        self.shown[b].emitted = true;
                    }
                    let line = &mut self.shown[r];
                    let wraps = r > 0 && last == Some(r - 1);
                    self.out.line(line, wraps);
                    line.emitted = true;
                    last = Some(r);
                }
            }
        }
    }
}

/// What became of a row of the last look that is not on the screen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Scrolled or redrawn away, or erased.
    Gone,
    /// Other text is in its place.
    Replaced,
    /// Its next state is in its place.
    Superseded,
}

/// What a control sequence with these parameter bytes and final byte does.
fn csi(params: &[u8], fin: u8) -> (Effect, Around) {
    let private = params
        .first()
        .is_some_and(|p| matches!(p, b'?' | b'>' | b'<' | b'='));
    match fin {
        b'h' | b'l' if params.first() == Some(&b'?') => {
            let modes = params[1..].split(|&b| b == b';').map(|m| {
                std::str::from_utf8(m)
                    .ok()
                    .and_then(|m| m.parse::<u32>().ok())
            });
            let mut around = Around::Nothing;
            for mode in modes {
                match mode {
                    Some(47 | 1047 | 1049) => around = Around::SwitchScreen(Some(fin == b'h')),
                    Some(2026) if !matches!(around, Around::SwitchScreen(_)) => {
                        around = if fin == b'h' {
                            Around::SyncBegins
                        } else {
                            Around::SyncEnds
                        };
                    }
                    _ => {}
                }
            }
            let effect = if matches!(around, Around::SwitchScreen(_)) {
                Effect::All
            } else {
                Effect::None
            };
            (effect, around)
        }
        _ if private => (Effect::None, Around::Nothing),
        // Cursor up: a redraw going back over what it drew.
        b'A' | b'F' => (Effect::None, Around::RedrawStarts),
        // Erase in line: to its end is part of drawing a row; all of it,
        // or its start, is clearing it for a redraw.
        b'K' => match params {
            b"1" | b"2" => (Effect::Cursor, Around::RedrawStarts),
            _ => (Effect::Cursor, Around::Nothing),
        },
        b'J' | b'L' | b'M' => (Effect::All, Around::RedrawStarts),
        b'S' | b'T' => (Effect::All, Around::Nothing),
        b'@' | b'P' | b'X' | b'b' => (Effect::Cursor, Around::Nothing),
        b'B' | b'C' | b'D' | b'E' | b'G' | b'H' | b'I' | b'Z' | b'a' | b'c' | b'd' | b'e'
        | b'f' | b'g' | b'h' | b'l' | b'm' | b'n' | b'p' | b'q' | b'r' | b's' | b't' | b'u'
        | b'`' => (Effect::None, Around::Nothing),
        _ => (Effect::All, Around::Nothing),
    }
}

/// For each row of `prev`, the row of `comb` it is now (or none: lost),
/// in order. Rows are matched by their text; where the screen only
/// scrolled, row `i` of `prev` is row `i` of `comb`. Blank rows match
/// nothing: they are where text moves through.
fn align(prev: &[Line], comb: &[Line]) -> Vec<Option<usize>> {
    let (m, n) = (prev.len(), comb.len());
    let same = |i: usize, j: usize| prev[i].hash == comb[j].hash && !prev[i].is_blank();
    let in_place = |i: usize| Some(i).filter(|&j| j < n);
    let mut matches: Vec<Option<usize>> = (0..m)
        .map(|i| in_place(i).filter(|&j| same(i, j)))
        .collect();
    // In place is the answer unless some row now has the text of another
    // row before: then something moved.
    let unmatched_now = |j: usize| matches.get(j).is_none_or(Option::is_none);
    let moved =
        (0..m).any(|i| matches[i].is_none() && (0..n).any(|j| unmatched_now(j) && same(i, j)));
    if !moved {
        return matches;
    }
    // The longest common subsequence, preferring rows in place.
    let width = n + 1;
    let mut table = vec![0u16; (m + 1) * width];
    for i in (0..m).rev() {
        for j in (0..n).rev() {
            table[i * width + j] = if same(i, j) {
                table[(i + 1) * width + j + 1] + 1
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    matches.iter_mut().for_each(|m| *m = None);
    while i < m && j < n {
        if same(i, j) && table[i * width + j] == table[(i + 1) * width + j + 1] + 1 {
            matches[i] = Some(j);
            i += 1;
            j += 1;
        } else if table[(i + 1) * width + j] >= table[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    // A row that grew in place (a prompt typed at) beats the same short
    // text found further down.
    let mut taken = vec![false; n];
    for j in matches.iter().flatten() {
        taken[*j] = true;
    }
    for i in 0..m {
        let (Some(j), Some(here)) = (matches[i], in_place(i)) else {
            continue;
        };
        if j != here
            && !taken[here]
            && !prev[i].is_blank()
            && comb[here].text.len() > prev[i].text.len()
            && comb[here].text.starts_with(&*prev[i].text)
        {
            matches[i] = None;
            taken[j] = false;
        }
    }
    matches
}

/// Whether `new`, in the place of `old`, looks like its next state rather
/// than other text: the same text longer or shorter (typing), or with a
/// few characters changed (a spinner, a countdown, a count).
fn similar(old: &str, new: &str) -> bool {
    if old.is_empty() || new.is_empty() {
        return false;
    }
    if new.starts_with(old) || old.starts_with(new) {
        return true;
    }
    // A status line: its label (up to a wide gap) stays, what follows it
    // changes.
    let label = |s: &str| {
        s.trim_start()
            .split("   ")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let (la, lb) = (label(old), label(new));
    if la.chars().count().min(lb.chars().count()) >= 4
        && (la.starts_with(&lb) || lb.starts_with(&la))
    {
        return true;
    }
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let longest = a.len().max(b.len());
    if ma.len().max(mb.len()) > 64 {
        return false;
    }
    let changed = edit_distance(ma, mb);
    changed <= 8 && changed * 5 <= longest
}

/// Levenshtein distance of two short sequences.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diag
            } else {
                1 + diag.min(above).min(row[j])
            };
            diag = above;
        }
    }
    row[b.len()]
}

/// Whether a row is drawing rather than text: box lines, blocks, braille
/// art, shapes, and nothing else.
fn is_drawing(text: &str) -> bool {
    let mut any = false;
    for c in text.chars() {
        match c {
            ' ' => {}
            '\u{2500}'..='\u{25ff}' | '\u{2800}'..='\u{28ff}' => any = true,
            _ => return false,
        }
    }
    any
}

fn hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Appends `piece` without control characters: cells hold only what the
/// terminal printed, but nothing that could act on a terminal gets out.
/// A no-break space reads as a space, and is one.
fn push_printable(out: &mut String, piece: &str) {
    out.extend(
        piece
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == '\u{a0}' { ' ' } else { c }),
    );
}

fn trim_end(text: &mut String) {
    let len = text.trim_end().len();
    text.truncate(len);
}

/// The text printed so far: lines, blank runs folded to one blank line, no
/// blank lines first, and a line end written only when the next line
/// comes (so a line that grows can be continued).
#[derive(Debug, Default)]
struct Out {
    buf: String,
    /// Something was printed.
    started: bool,
    /// The last line printed has no line end yet.
    open: bool,
    /// A blank line waits for a line after it.
    blank: bool,
    /// The last line printed, and whether it wraps into the next.
    last: Option<Rc<str>>,
    last_wraps: bool,
    /// The lines printed lately.
    recent: VecDeque<Line>,
}

impl Out {
    /// Prints `line`; `wraps` says it goes on the last line printed.
    fn line(&mut self, line: &Line, wraps: bool) {
        if line.is_blank() {
            self.blank = self.started;
            return;
        }
        let text = &*line.text;
        let joined = self.open && !self.blank;
        let grown = line
            .extends
            .as_ref()
            .filter(|old| joined && self.last.as_deref() == Some(&***old));
        if let Some(old) = grown {
            self.buf.push_str(&text[old.len()..]);
        } else {
            if self.open && !(wraps && self.last_wraps && joined) {
                self.buf.push('\n');
            }
            if self.blank {
                self.buf.push('\n');
            }
            self.buf.push_str(text);
        }
        self.started = true;
        self.open = true;
        self.blank = false;
        self.last = Some(line.text.clone());
        self.last_wraps = line.wrapped;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(line.clone());
    }

    /// Whether `line`, or a state of it, was printed lately.
    fn printed_lately(&self, line: &Line) -> bool {
        self.recent
            .iter()
            .any(|l| l.hash == line.hash || similar(&l.text, &line.text))
    }

    fn take(&mut self) -> String {
        std::mem::take(&mut self.buf)
    }
}

/// Renders a whole transcript.
pub fn render(bytes: &[u8]) -> String {
    let mut r = Renderer::default();
    let mut text = r.feed(bytes);
    text.push_str(&r.finish());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured transcript (tests/fixtures/transcripts).
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/transcripts/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Renders `bytes`, checking that it is text a terminal only prints
    /// and that chunks of any size render as the whole does.
    fn text(bytes: &[u8]) -> String {
        let whole = render(bytes);
        assert!(
            whole.chars().all(|c| c == '\n' || !c.is_control()),
            "a control character got out: {whole:?}"
        );
        for size in [1, 7, 4096] {
            let mut r = Renderer::default();
            let mut parts: String = bytes.chunks(size).map(|c| r.feed(c)).collect();
            parts.push_str(&r.finish());
            assert_eq!(parts, whole, "fed in chunks of {size}");
        }
        whole
    }

    fn count(text: &str, needle: &str) -> usize {
        text.matches(needle).count()
    }

    /// Moves the cursor to row `r`, column 1 (both from 1).
    fn at(r: usize) -> String {
        format!("\x1b[{r};1H\x1b[K")
    }

    #[test]
    fn codex_login_screen_reads_as_on_screen() {
        let t = text(&fixture("codex-login.log"));
        // One line per frame of its animated logo, words apart.
        assert_eq!(
            count(
                &t,
                "  Welcome to Codex, OpenAI's command-line coding agent\n"
            ),
            1,
            "{t}"
        );
        assert!(t.contains("> 1. Sign in with ChatGPT\n"), "{t}");
        assert!(
            t.contains("     Use an API key or another provider\n"),
            "{t}"
        );
        assert!(t.starts_with("WARNING: proceeding"), "{t}");
    }

    #[test]
    fn codex_session_keeps_paths_and_order() {
        let t = text(&fixture("codex-session.log"));
        assert_eq!(count(&t, "  >_ OpenAI Codex (v0.169.0)\n"), 1, "{t}");
        assert!(t.contains("\n     /tmp/logscap/work/ewcomer\n"), "{t}");
        let prompt = "› prompt number 1: look at /tmp/logscap/work/ewcomer/src/file_1.rs\n";
        let asked = t.rfind(prompt).unwrap_or_else(|| panic!("{t}"));
        let failed = t
            .find("  └ Stream disconnected before completion")
            .unwrap_or_else(|| panic!("{t}"));
        let stopped = t
            .find("■ Conversation interrupted - use /feedback if something went wrong")
            .unwrap_or_else(|| panic!("{t}"));
        assert!(asked < failed && failed < stopped, "{t}");
        // Its status line counted seconds and retries in place: one line.
        assert_eq!(count(&t, "Reconnecting..."), 1, "{t}");
    }

    #[test]
    fn claude_code_words_are_apart() {
        // Claude Code moves the cursor to each word instead of writing a
        // space.
        let t = text(&fixture("claude-trust.log"));
        assert!(t.contains(" Accessing workspace:\n"), "{t}");
        assert!(t.contains("\n /tmp/logscap/work/ewcomer\n"), "{t}");
        assert!(
            t.contains(" Quick safety check: Is this a project you created or one you trust?"),
            "{t}"
        );
        assert!(t.contains("   Yes, I trust this folder\n"), "{t}");
        assert!(
            t.ends_with("Run claude again and choose Yes, or run it in another folder.\n"),
            "{t}"
        );
    }

    #[test]
    fn claude_code_session_reads_in_order() {
        let t = text(&fixture("claude-session.log"));
        assert_eq!(count(&t, "Claude Code v2.1.332"), 1, "{t}");
        let asked = t
            .find("❯ list the files in /tmp/logscap/work/ewcomer please\n")
            .unwrap_or_else(|| panic!("{t}"));
        let refused = t
            .find("✻ Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)")
            .unwrap_or_else(|| panic!("{t}"));
        assert!(asked < refused, "{t}");
        // A countdown of retries is one line per attempt shown, not one
        // per second.
        assert!(count(&t, "Connection refused") <= 2, "{t}");
    }

    #[test]
    fn pi_session_reads_as_on_screen() {
        let t = text(&fixture("pi-session.log"));
        assert!(t.contains(" pi v0.73.1\n"), "{t}");
        assert!(
            t.contains(" list the files in /tmp/logscap/work/ewcomer please\n"),
            "{t}"
        );
        assert_eq!(count(&t, "Working..."), 1, "{t}");
        // pi sets the window title; that is not text on the screen.
        assert!(
            !t.contains("ewcomer\u{7}") && !t.contains("π - ewcomer"),
            "{t}"
        );
    }

    #[test]
    fn hostile_sequences_come_out_as_harmless_text() {
        let mut raw = Vec::new();
        raw.extend_from_slice(b"\x1b]0;evil title\x07\x1b]2;evil\x1b\\");
        raw.extend_from_slice(b"\x1b]52;c;cm0gLXJmIH4=\x07"); // clipboard write
        raw.extend_from_slice(b"\x1bP+q544e\x1b\\\x1b_apc\x1b\\"); // DCS, APC
        raw.extend_from_slice(b"safe \x1b[31mred\x1b[0m \x1b[5A\x1b[10Ctext\r\n");
        raw.extend_from_slice(b"bad \xff\xfe utf8 \xc3\x28 here\x07\x08\x7f\r\n");
        raw.extend_from_slice("c1 \u{9b}31m \u{9d}0;t\u{7} end\r\n".as_bytes());
        raw.extend_from_slice(b"\x1b[?1049h\x1b[2J\x1b[Hin the alternate screen\x1b[?1049l");
        raw.extend_from_slice(b"\x1b[9999;9999H\x1b[65535b\x1b[999999999999S");
        let t = text(&raw);
        assert!(!t.contains("evil") && !t.contains("cm0g"), "{t:?}");
        assert!(t.contains("safe red"), "{t:?}");
        assert!(t.contains("text"), "{t:?}");
        assert!(
            t.contains("bad") && t.contains("utf8") && t.contains("here"),
            "{t:?}"
        );
        assert!(t.contains("in the alternate screen\n"), "{t:?}");
        assert!(!t.contains('\u{9b}') && !t.contains('\u{9d}'), "{t:?}");
    }

    #[test]
    fn plain_output_reads_as_written() {
        let mut raw = String::from("\x1b[1;32mgreen\x1b[0m plain\r\n\r\n\r\n\r\nafter blanks\r\n");
        for n in 1..=120 {
            raw.push_str(&format!("line {n}\r\n"));
        }
        raw.push_str("working 1/3\rworking 2/3\rworking 3/3\r\n");
        let long = "x".repeat(450);
        raw.push_str(&format!("{long}\r\n> "));
        let t = text(raw.as_bytes());
        assert!(
            t.starts_with("green plain\n\nafter blanks\nline 1\nline 2\n"),
            "{t}"
        );
        let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("line ")).collect();
        let want: Vec<String> = (1..=120).map(|n| format!("line {n}")).collect();
        assert_eq!(lines, want);
        assert!(t.contains("\nworking 3/3\n"), "{t}");
        assert!(!t.contains("working 1/3"), "{t}");
        // The terminal wrapped it at 200 columns; it is one line again.
        assert!(t.contains(&format!("\n{long}\n>\n")), "{t}");
    }

    #[test]
    fn a_line_wrapped_where_the_screen_scrolled_is_whole() {
        let mut raw = String::new();
        for n in 1..=49 {
            raw.push_str(&format!("filler {n}\r\n"));
        }
        let path = format!("/{}/end", "deep/".repeat(60));
        raw.push_str(&path);
        raw.push_str("\r\nlast\r\n");
        let t = text(raw.as_bytes());
        assert!(t.contains(&format!("\n{path}\nlast\n")), "{t}");
    }

    /// A full-screen program on the alternate screen whose history scrolls
    /// by redrawing every row one higher, with a status line at the bottom
    /// that counts in place, as Codex does.
    #[test]
    fn a_tui_that_scrolls_by_redrawing_prints_each_line_once() {
        let mut raw = String::from("before\r\n\x1b[?1049h");
        let history: Vec<String> = (1..=80)
            .map(|n| format!("• step {n} in /w/ewcomer"))
            .collect();
        for end in 1..=history.len() {
            raw.push_str("\x1b[?2026h");
            let shown = &history[end.saturating_sub(45)..end];
            for (r, line) in shown.iter().enumerate() {
                raw.push_str(&at(r + 1));
                raw.push_str(line);
            }
            raw.push_str(&at(50));
            raw.push_str(&format!("◦ Working ({end}s • esc to interrupt)"));
            raw.push_str("\x1b[?2026l");
        }
        // It scrolls back down a little (the bottom pane grew), then exits.
        raw.push_str("\x1b[?2026h");
        for (r, line) in history[30..75].iter().enumerate() {
            raw.push_str(&at(r + 1));
            raw.push_str(line);
        }
        raw.push_str("\x1b[?2026l\x1b[?1049lafter\r\n");
        let t = text(raw.as_bytes());
        let steps: Vec<&str> = t.lines().filter(|l| l.starts_with("• step")).collect();
        assert_eq!(steps, history, "{t}");
        assert!(t.starts_with("before\n"), "{t}");
        assert!(t.ends_with("after\n"), "{t}");
        assert_eq!(count(&t, "Working"), 1, "{t}");
        assert!(t.contains("◦ Working (80s • esc to interrupt)"), "{t}");
    }

    #[test]
    fn typing_in_place_prints_what_was_typed() {
        let mut raw = String::from("\x1b[?1049h");
        for n in 1..="hello world".len() {
            raw.push_str(&format!(
                "\x1b[?2026h{}› {}\x1b[?2026l",
                at(10),
                &"hello world"[..n]
            ));
        }
        raw.push_str(&format!("\x1b[?2026h{}› \x1b[?2026l", at(10)));
        raw.push_str(&format!(
            "\x1b[?2026h{}› hello world{}› \x1b[?2026l",
            at(9),
            at(10)
        ));
        let t = text(raw.as_bytes());
        assert_eq!(t, "› hello world\n›\n");
    }

    /// Claude Code draws without synchronized updates: it goes back up and
    /// erases what it drew, then draws again.
    #[test]
    fn redraws_without_synchronized_updates_print_once() {
        let mut raw = String::from("header\r\n");
        for n in 1..=5 {
            if n > 1 {
                raw.push_str("\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\r");
            }
            raw.push_str(&format!("✻ Thinking… ({n}s)\r\n\r\n  ⏵⏵ auto mode on"));
        }
        raw.push_str("\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\r");
        raw.push_str("⏺ The answer is 42.\r\n\r\n  ⏵⏵ auto mode on");
        let t = text(raw.as_bytes());
        assert_eq!(count(&t, "auto mode on"), 1, "{t}");
        assert_eq!(count(&t, "Thinking"), 1, "{t}");
        assert!(t.starts_with("header\n✻ Thinking… (5s)\n"), "{t}");
        assert!(t.contains("⏺ The answer is 42."), "{t}");
    }

    #[test]
    fn follow_prints_what_settles_and_continues_a_growing_line() {
        let mut r = Renderer::default();
        let mut shown = r.feed(b"model: m\r\nanything else is echoed\r\n> ");
        shown.push_str(&r.flush());
        assert_eq!(shown, "model: m\nanything else is echoed\n>");
        // Typed, answered, and a new prompt: printed once it holds still.
        shown.push_str(&r.feed(b"fresh-line\r\necho: fresh-line\r\n> "));
        shown.push_str(&r.tick());
        assert_eq!(shown, "model: m\nanything else is echoed\n>");
        shown.push_str(&r.tick());
        assert_eq!(
            shown,
            "model: m\nanything else is echoed\n> fresh-line\necho: fresh-line\n>"
        );
        // A spinner never holds still; the lines above it still print.
        shown.push_str(&r.feed(b"\r\n"));
        for n in 0..4 {
            let spin = ['|', '/', '-', '\\'][n];
            let out = format!("\r\x1b[Kline {n}\r\n{spin} working");
            shown.push_str(&r.feed(out.as_bytes()));
            shown.push_str(&r.tick());
        }
        // (Its state when first pushed down is printed, once.)
        let lines: Vec<&str> = shown
            .lines()
            .skip(5)
            .filter(|l| l.starts_with("line"))
            .collect();
        assert_eq!(lines, ["line 0", "line 1", "line 2"], "{shown}");
        assert!(count(&shown, "working") <= 1, "{shown}");
    }
}
