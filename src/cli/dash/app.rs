//! The dashboard's state and what each key does to it. Nothing here touches
//! a terminal, tmux or a clock: the loop hands in rows, screens, sizes and
//! keys, and carries out the [`Command`] a key may answer; [`super::render`]
//! draws what is here.
//!
//! The selection is an agent (name and host), not a line number, so it
//! stays on the same agent while rows come and go, re-sort or are filtered.
//! Every act that types into an agent or ends one asks first ([`Mode::Confirm`])
//! and names its target, captured when it was asked: an agent that goes away
//! meanwhile is never replaced by its neighbour.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use crate::cli::words::{self, RowWords};
use crate::core::rows::AgentRow;
use crate::core::vocab::Status;

/// The dashboard: every agent on every host, and what the operator is doing.
#[derive(Debug, Clone)]
pub struct App {
    /// Every agent on every host, as `fleet ps` gives them (host set).
    pub rows: Vec<AgentRow>,
    /// The hosts that did not answer: (host, why).
    pub unreachable: Vec<(String, String)>,
    /// The selected agent's screen, when known.
    pub preview: Option<Preview>,
    /// False under NO_COLOR.
    pub color: bool,
    /// What the last act did, or why not: shown until the next key.
    pub message: Option<String>,
    pub mode: Mode,
    /// The selected agent, as (name, host).
    selected: Option<(String, String)>,
    filter: String,
    /// The first row the table shows.
    offset: usize,
    /// The terminal's size, for what a page is.
    size: (u16, u16),
}

/// An agent's screen, as `tmux capture-pane -e` prints it (escape sequences
/// included), and the pane's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub name: String,
    pub host: String,
    pub screen: String,
    pub rows: u16,
    pub cols: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The table: moving, and the keys that act.
    List,
    Help,
    /// Typing the filter: every key edits it at once.
    Filter,
    /// An act waits for `y`.
    Confirm(Act),
    /// Typing the text to send to this agent.
    Send {
        name: String,
        host: String,
        input: String,
    },
    /// A transcript or an explanation, scrolled to line `scroll`.
    Text {
        title: String,
        lines: Vec<String>,
        scroll: usize,
    },
}

/// An act that changes an agent, asked before it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Takeover {
        name: String,
        host: String,
    },
    Restart {
        name: String,
        host: String,
    },
    Stop {
        name: String,
        host: String,
    },
    Send {
        name: String,
        host: String,
        text: String,
    },
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    Attach {
        name: String,
        host: String,
        takeover: bool,
    },
    Restart {
        name: String,
        host: String,
    },
    Stop {
        name: String,
        host: String,
    },
    Send {
        name: String,
        host: String,
        text: String,
    },
    Logs {
        name: String,
        host: String,
    },
    Explain {
        name: String,
        host: String,
    },
}

/// What an act needs of its agent, besides a host that answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Anything fleet knows of it (logs outlive the pane).
    Known,
    /// A session, dead or alive.
    Session,
    /// A pane that is alive: running, or drifted.
    Live,
    /// Its runtime in front: text typed into a drifted pane would go to
    /// whatever else is there, so `fleet send` refuses it too.
    Runtime,
}

impl Act {
    /// The agent it acts on: (name, host).
    pub fn target(&self) -> (&str, &str) {
        match self {
            Act::Takeover { name, host }
            | Act::Restart { name, host }
            | Act::Stop { name, host }
            | Act::Send { name, host, .. } => (name, host),
        }
    }

    /// The question the dialog asks, answered with `y`.
    pub fn question(&self) -> String {
        let (name, host) = self.target();
        match self {
            Act::Takeover { .. } => {
                format!("Take over {name}@{host}? It will type into the agent. y/N")
            }
            Act::Restart { .. } => {
                format!("Restart {name}@{host}? It relaunches the agent. y/N")
            }
            Act::Stop { .. } => format!("Stop {name}@{host}? It ends its session. y/N"),
            Act::Send { text, .. } => {
                format!(
                    "Send {text:?} to {name}@{host}, then Enter? It will type into the agent. y/N"
                )
            }
        }
    }

    fn word(&self) -> &'static str {
        match self {
            Act::Takeover { .. } => "takeover",
            Act::Restart { .. } => "restart",
            Act::Stop { .. } => "stop",
            Act::Send { .. } => "send",
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            Act::Takeover { .. } => "take over",
            Act::Restart { .. } => "restart",
            Act::Stop { .. } => "stop",
            Act::Send { .. } => "send to",
        }
    }

    fn need(&self) -> Need {
        match self {
            Act::Takeover { .. } => Need::Live,
            Act::Restart { .. } => Need::Known,
            Act::Stop { .. } => Need::Session,
            Act::Send { .. } => Need::Runtime,
        }
    }

    fn command(self) -> Command {
        match self {
            Act::Takeover { name, host } => Command::Attach {
                name,
                host,
                takeover: true,
            },
            Act::Restart { name, host } => Command::Restart { name, host },
            Act::Stop { name, host } => Command::Stop { name, host },
            Act::Send { name, host, text } => Command::Send { name, host, text },
        }
    }
}

/// How far PageUp and PageDown go before the loop says the size.
const DEFAULT_SIZE: (u16, u16) = (80, 24);

impl App {
    pub fn new(color: bool) -> Self {
        Self {
            rows: Vec::new(),
            unreachable: Vec::new(),
            preview: None,
            color,
            message: None,
            mode: Mode::List,
            selected: None,
            filter: String::new(),
            offset: 0,
            size: DEFAULT_SIZE,
        }
    }

    /// New rows from the hosts. The selection stays on its agent while it
    /// is still there; else it takes the row at the same place.
    pub fn set_rows(&mut self, rows: Vec<AgentRow>, unreachable: Vec<(String, String)>) {
        let was = self.index().unwrap_or(0);
        self.rows = rows;
        self.unreachable = unreachable;
        self.reselect(was);
    }

    /// The terminal's size (columns, rows): what a page is. Call it at the
    /// start and on every resize; until then 80x24 is assumed.
    pub fn set_size(&mut self, cols: u16, rows: u16) {
        self.size = (cols, rows);
        self.keep_in_view();
        if let Mode::Text { lines, scroll, .. } = &mut self.mode {
            *scroll = (*scroll).min(lines.len().saturating_sub(text_page(self.size)));
        }
    }

    /// The selected agent, if any row is shown.
    pub fn selected(&self) -> Option<&AgentRow> {
        let (name, host) = self.selected.as_ref()?;
        self.visible()
            .into_iter()
            .find(|r| &r.name == name && &r.host == host)
    }

    /// The rows the filter lets through, in display order (as given).
    pub fn visible(&self) -> Vec<&AgentRow> {
        let terms = self.terms();
        self.rows
            .iter()
            .filter(|r| {
                let w = RowWords::of(r);
                let fields = [&*r.name, &r.host, &w.runtime, &w.status, &w.activity];
                matches(&terms, &fields)
            })
            .collect()
    }

    /// The filter as typed (empty: none).
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Hosts that did not answer and have no row to show it: (host, why).
    pub fn lone_unreachable(&self) -> Vec<&(String, String)> {
        let terms = self.terms();
        self.unreachable
            .iter()
            .filter(|(host, _)| !self.rows.iter().any(|r| &r.host == host))
            .filter(|(host, why)| matches(&terms, &[host, "unreachable", why]))
            .collect()
    }

    /// A transcript (`l`) or an explanation (`e`), from its first line.
    pub fn show_text(&mut self, title: &str, lines: Vec<String>) {
        self.mode = Mode::Text {
            title: title.to_string(),
            lines,
            scroll: 0,
        };
    }

    /// Like [`App::show_text`], scrolled to the end: for a transcript,
    /// whose latest lines are what one wants first.
    pub fn show_tail(&mut self, title: &str, lines: Vec<String>) {
        let scroll = lines.len().saturating_sub(text_page(self.size));
        self.mode = Mode::Text {
            title: title.to_string(),
            lines,
            scroll,
        };
    }

    /// The selected row's place among the visible ones.
    pub(super) fn index(&self) -> Option<usize> {
        let (name, host) = self.selected.as_ref()?;
        self.visible()
            .iter()
            .position(|r| &r.name == name && &r.host == host)
    }

    /// The first row to show in a table of `height` rows: where the table
    /// was, moved as little as keeps the selection in sight.
    pub(super) fn offset_for(&self, height: usize) -> usize {
        let len = self.visible().len();
        let mut offset = self.offset.min(len.saturating_sub(height));
        if let Some(i) = self.index() {
            if i < offset {
                offset = i;
            } else if height > 0 && i >= offset + height {
                offset = i + 1 - height;
            }
        }
        offset
    }

    /// Pasted text: typed into the filter or the line being written, and
    /// nowhere else (a paste must never answer a question or press a key).
    /// Control characters are dropped; a line break ends at a space.
    pub fn on_paste(&mut self, text: &str) {
        let clean: String = text
            .chars()
            .map(|c| {
                if c == '\n' || c == '\r' || c == '\t' {
                    ' '
                } else {
                    c
                }
            })
            .filter(|c| !c.is_control())
            .collect();
        match &mut self.mode {
            Mode::Send { input, .. } => input.push_str(&clean),
            Mode::Filter => {
                for c in clean.chars() {
                    self.filter_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
                    self.mode = Mode::Filter;
                }
            }
            _ => {}
        }
    }

    /// Whether a question is open: input typed before it must not answer it.
    pub fn asking(&self) -> bool {
        matches!(self.mode, Mode::Confirm(_))
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        self.message = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Command::Quit);
        }
        match std::mem::replace(&mut self.mode, Mode::List) {
            Mode::List => self.list_key(key),
            // Any key closes the help, and does nothing else.
            Mode::Help => None,
            Mode::Filter => {
                self.filter_key(key);
                None
            }
            Mode::Confirm(act) => self.confirm_key(act, key),
            Mode::Send { name, host, input } => {
                self.send_key(name, host, input, key);
                None
            }
            Mode::Text {
                title,
                lines,
                scroll,
            } => {
                self.text_key(title, lines, scroll, key);
                None
            }
        }
    }

    fn list_key(&mut self, key: KeyEvent) -> Option<Command> {
        // Ctrl-R is not r: only plain keys act.
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        let page = self.page();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX),
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Esc if !self.filter.is_empty() => self.set_filter(String::new()),
            KeyCode::Char('w') => self.next_waiting(),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('q') => return Some(Command::Quit),
            KeyCode::Enter => {
                let (name, host) = self.target("attach to", Need::Live)?;
                return Some(Command::Attach {
                    name,
                    host,
                    takeover: false,
                });
            }
            KeyCode::Char('T') => {
                let (name, host) = self.target("take over", Need::Live)?;
                self.mode = Mode::Confirm(Act::Takeover { name, host });
            }
            KeyCode::Char('s') => {
                let (name, host) = self.target("send to", Need::Runtime)?;
                self.mode = Mode::Send {
                    name,
                    host,
                    input: String::new(),
                };
            }
            KeyCode::Char('r') => {
                let (name, host) = self.target("restart", Need::Known)?;
                self.mode = Mode::Confirm(Act::Restart { name, host });
            }
            KeyCode::Char('x') => {
                let (name, host) = self.target("stop", Need::Session)?;
                self.mode = Mode::Confirm(Act::Stop { name, host });
            }
            KeyCode::Char('l') => {
                let (name, host) = self.target("show the log of", Need::Known)?;
                return Some(Command::Logs { name, host });
            }
            KeyCode::Char('e') => {
                let (name, host) = self.target("explain", Need::Known)?;
                return Some(Command::Explain { name, host });
            }
            _ => {}
        }
        None
    }

    fn filter_key(&mut self, key: KeyEvent) {
        let page = self.page();
        match key.code {
            KeyCode::Enter => return,
            KeyCode::Esc => return self.set_filter(String::new()),
            KeyCode::Up => self.move_by(-1),
            KeyCode::Down => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Backspace => {
                let mut filter = self.filter.clone();
                filter.pop();
                self.set_filter(filter);
            }
            KeyCode::Char(c) if typed(key, c) => {
                let filter = format!("{}{c}", self.filter);
                self.set_filter(filter);
            }
            _ => {}
        }
        self.mode = Mode::Filter;
    }

    fn confirm_key(&mut self, act: Act, key: KeyEvent) -> Option<Command> {
        if key.code != KeyCode::Char('y')
            || !key.modifiers.difference(KeyModifiers::SHIFT).is_empty()
        {
            self.message = Some(format!("{} cancelled", act.word()));
            return None;
        }
        // The fleet may have changed while the question was up.
        let (name, host) = act.target();
        let Some(row) = self.rows.iter().find(|r| r.name == name && r.host == host) else {
            self.message = Some(format!("{name}@{host} is gone: nothing done"));
            return None;
        };
        if let Some(why) = refusal(row, act.verb(), act.need()) {
            self.message = Some(why);
            return None;
        }
        Some(act.command())
    }

    fn send_key(&mut self, name: String, host: String, mut input: String, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.message = Some("send cancelled".to_string());
                return;
            }
            KeyCode::Enter if input.is_empty() => {
                self.message = Some("nothing to send: type the text, or Esc".to_string());
            }
            KeyCode::Enter => {
                self.mode = Mode::Confirm(Act::Send {
                    name,
                    host,
                    text: input,
                });
                return;
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(c) if typed(key, c) => input.push(c),
            _ => {}
        }
        self.mode = Mode::Send { name, host, input };
    }

    fn text_key(&mut self, title: String, lines: Vec<String>, scroll: usize, key: KeyEvent) {
        let page = text_page(self.size);
        let last = lines.len().saturating_sub(page);
        let scroll = match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return,
            KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => scroll + 1,
            KeyCode::PageUp => scroll.saturating_sub(page.max(1)),
            KeyCode::PageDown | KeyCode::Char(' ') => scroll + page.max(1),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            _ => scroll,
        };
        self.mode = Mode::Text {
            title,
            lines,
            scroll: scroll.min(last),
        };
    }

    /// The selected agent as (name, host), if `verb` may be done to it;
    /// else why not, in the footer.
    fn target(&mut self, verb: &str, need: Need) -> Option<(String, String)> {
        let Some(row) = self.selected() else {
            self.message = Some(format!("no agent to {verb}"));
            return None;
        };
        if let Some(why) = refusal(row, verb, need) {
            self.message = Some(why);
            return None;
        }
        Some((row.name.clone(), row.host.clone()))
    }

    fn move_by(&mut self, by: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let last = visible.len() - 1;
        let at = self.index().unwrap_or(0);
        let to = at.saturating_add_signed(by).min(last);
        self.selected = Some(key_of(visible[to]));
        self.keep_in_view();
    }

    /// The next waiting agent after the selected one, wrapping.
    fn next_waiting(&mut self) {
        let visible = self.visible();
        let from = self.index().map_or(0, |i| i + 1);
        let found = (0..visible.len())
            .map(|k| visible[(from + k) % visible.len()])
            .find(|r| words::waits(r))
            .map(key_of);
        match found {
            Some(key) => {
                self.selected = Some(key);
                self.keep_in_view();
            }
            None if self.filter.is_empty() => self.message = Some("no agent waits".to_string()),
            None => {
                self.message =
                    Some("no agent shown waits (the filter hides the others)".to_string())
            }
        }
    }

    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.reselect(0);
    }

    /// Keeps the selection on its agent when shown; else the row at `was`;
    /// with no selection yet, the first agent that waits, else the first.
    fn reselect(&mut self, was: usize) {
        let visible = self.visible();
        if self.index().is_none() && !visible.is_empty() {
            let row = match self.selected {
                Some(_) => visible[was.min(visible.len() - 1)],
                None => visible
                    .iter()
                    .find(|r| words::waits(r))
                    .copied()
                    .unwrap_or(visible[0]),
            };
            self.selected = Some(key_of(row));
        }
        self.keep_in_view();
    }

    fn keep_in_view(&mut self) {
        let height = super::render::table_height(self, self.area());
        self.offset = self.offset_for(height);
    }

    /// How many rows PageDown moves.
    fn page(&self) -> isize {
        let height = super::render::table_height(self, self.area());
        isize::try_from(height.max(1)).unwrap_or(1)
    }

    fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    fn terms(&self) -> Vec<String> {
        self.filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect()
    }
}

/// Every term is in one of the fields, ignoring case.
fn matches(terms: &[String], fields: &[&str]) -> bool {
    terms
        .iter()
        .all(|t| fields.iter().any(|f| f.to_lowercase().contains(t.as_str())))
}

/// Why `verb` cannot be done to this agent, if it cannot.
fn refusal(row: &AgentRow, verb: &str, need: Need) -> Option<String> {
    let who = format!("{}@{}", row.name, row.host);
    if row.status == Status::Unreachable {
        let why = RowWords::of(row).activity;
        return Some(format!(
            "cannot {verb} {who}: its host {} did not answer ({why})",
            row.host
        ));
    }
    let status = RowWords::of(row).status;
    let ok = match need {
        Need::Known => true,
        Need::Session => row.status != Status::Missing,
        Need::Live => matches!(row.status, Status::Running | Status::Drift),
        Need::Runtime => row.status == Status::Running,
    };
    if ok {
        return None;
    }
    Some(match (need, row.status) {
        (_, Status::Missing) => format!("cannot {verb} {who}: it has no session"),
        (Need::Runtime, Status::Drift) => format!(
            "cannot {verb} {who}: in drift, its runtime is not in front (attach to see what is)"
        ),
        _ => format!("cannot {verb} {who}: it is {status}, not running"),
    })
}

/// A key that types `c`: no Ctrl or Alt, and a character one can see.
fn typed(key: KeyEvent, c: char) -> bool {
    !key.modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        && !c.is_control()
}

fn key_of(row: &AgentRow) -> (String, String) {
    (row.name.clone(), row.host.clone())
}

/// Lines of text the text view shows at this terminal size.
fn text_page(size: (u16, u16)) -> usize {
    super::render::text_height(Rect::new(0, 0, size.0, size.1))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::core::vocab::ActivityKind;

    /// An agent that runs, doing `activity`.
    pub(crate) fn running(name: &str, host: &str, activity: ActivityKind) -> AgentRow {
        AgentRow {
            runtime: Some("pi".to_string()),
            model: Some("openai-codex/gpt-5.5".to_string()),
            effort: Some("high".to_string()),
            status: Status::Running,
            activity: Some(activity),
            idle_seconds: (activity == ActivityKind::Idle).then_some(720),
            pane_command: Some("node".to_string()),
            uptime_seconds: Some(3 * 3600 + 12 * 60),
            declared: true,
            ..AgentRow::missing(name, host)
        }
    }

    /// The fleet of the README, on three hosts: one does not answer, and
    /// one more that has no agents does not answer either.
    pub(crate) fn sample() -> App {
        let mut app = App::new(true);
        app.set_rows(sample_rows(), sample_unreachable());
        app
    }

    pub(crate) fn sample_rows() -> Vec<AgentRow> {
        vec![
            running("builder", "h1", ActivityKind::Working),
            AgentRow {
                runtime: Some("claude".to_string()),
                model: Some("opus".to_string()),
                effort: None,
                uptime_seconds: Some(300),
                ..running("fixer", "h2", ActivityKind::Working)
            },
            AgentRow {
                status: Status::Exited,
                exit_code: Some(127),
                activity: None,
                idle_seconds: None,
                uptime_seconds: None,
                ..running("janitor", "h1", ActivityKind::Idle)
            },
            AgentRow {
                status: Status::Unreachable,
                activity: None,
                uptime_seconds: None,
                reason: Some("timeout: no answer within 10s".to_string()),
                ..running("mapper", "h3", ActivityKind::Idle)
            },
            AgentRow {
                runtime: Some("codex".to_string()),
                effort: Some("medium".to_string()),
                restarts: 1,
                uptime_seconds: Some(41 * 60),
                ..running("reviewer", "h2", ActivityKind::Waiting)
            },
            AgentRow {
                model: Some("openai-codex/gpt-5.5-mini".to_string()),
                uptime_seconds: Some(2 * 3600 + 3 * 60),
                ..running("scout", "h1", ActivityKind::Idle)
            },
        ]
    }

    pub(crate) fn sample_unreachable() -> Vec<(String, String)> {
        vec![
            (
                "h3".to_string(),
                "timeout: no answer within 10s".to_string(),
            ),
            (
                "h4".to_string(),
                "auth: Permission denied (publickey)".to_string(),
            ),
        ]
    }

    pub(crate) fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// A typed character, with Shift when it is a capital as terminals say.
    pub(crate) fn ch(c: char) -> KeyEvent {
        let shift = if c.is_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        KeyEvent::new(KeyCode::Char(c), shift)
    }

    pub(crate) fn press(app: &mut App, keys: &str) -> Option<Command> {
        let mut last = None;
        for c in keys.chars() {
            last = app.on_key(ch(c));
        }
        last
    }

    fn selected_name(app: &App) -> Option<&str> {
        app.selected().map(|r| r.name.as_str())
    }

    fn names(app: &App) -> Vec<&str> {
        app.visible().iter().map(|r| r.name.as_str()).collect()
    }

    fn select(app: &mut App, name: &str) {
        app.on_key(key(KeyCode::Home));
        while selected_name(app) != Some(name) {
            let before = app.index();
            app.on_key(key(KeyCode::Down));
            assert_ne!(app.index(), before, "{name} is not shown");
        }
    }

    #[test]
    fn the_selection_starts_on_the_first_agent_that_waits() {
        let app = sample();
        assert_eq!(selected_name(&app), Some("reviewer"));
        let mut calm = App::new(false);
        calm.set_rows(vec![running("a", "h1", ActivityKind::Idle)], vec![]);
        assert_eq!(selected_name(&calm), Some("a"));
        assert_eq!(App::new(false).selected(), None);
    }

    #[test]
    fn keys_move_the_selection() {
        let mut app = sample();
        app.on_key(ch('k'));
        assert_eq!(selected_name(&app), Some("mapper"));
        app.on_key(key(KeyCode::Up));
        app.on_key(key(KeyCode::Up));
        app.on_key(key(KeyCode::Up));
        app.on_key(key(KeyCode::Up));
        assert_eq!(selected_name(&app), Some("builder"), "stops at the top");
        app.on_key(ch('j'));
        assert_eq!(selected_name(&app), Some("fixer"));
        app.on_key(key(KeyCode::End));
        assert_eq!(selected_name(&app), Some("scout"));
        app.on_key(key(KeyCode::PageDown));
        assert_eq!(selected_name(&app), Some("scout"), "stops at the end");
        app.on_key(key(KeyCode::PageUp));
        assert_eq!(selected_name(&app), Some("builder"));
    }

    #[test]
    fn a_page_is_what_the_table_shows() {
        let mut app = App::new(false);
        let rows = (0..100)
            .map(|i| running(&format!("a{i:03}"), "h1", ActivityKind::Idle))
            .collect();
        app.set_rows(rows, vec![]);
        app.set_size(200, 60);
        app.on_key(key(KeyCode::PageDown));
        // 60 lines less header, footer and the column titles.
        assert_eq!(app.index(), Some(57));
        assert_eq!(app.offset_for(57), 1);
    }

    #[test]
    fn w_goes_to_the_next_agent_that_waits_and_wraps() {
        let mut rows = sample_rows();
        rows.push(running("zed", "h1", ActivityKind::Waiting));
        let mut app = App::new(true);
        app.set_rows(rows, vec![]);
        assert_eq!(selected_name(&app), Some("reviewer"));
        app.on_key(ch('w'));
        assert_eq!(selected_name(&app), Some("zed"));
        app.on_key(ch('w'));
        assert_eq!(selected_name(&app), Some("reviewer"), "wraps");
        app.on_key(key(KeyCode::Home));
        app.on_key(ch('w'));
        assert_eq!(selected_name(&app), Some("reviewer"));

        let mut calm = App::new(true);
        calm.set_rows(vec![running("a", "h1", ActivityKind::Idle)], vec![]);
        calm.on_key(ch('w'));
        assert_eq!(calm.message.as_deref(), Some("no agent waits"));
        assert_eq!(selected_name(&calm), Some("a"));
        calm.on_key(ch('j'));
        assert_eq!(calm.message, None, "a message lasts until the next key");
    }

    #[test]
    fn enter_attaches_read_only() {
        let mut app = sample();
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Some(Command::Attach {
                name: "reviewer".to_string(),
                host: "h2".to_string(),
                takeover: false
            })
        );
    }

    #[test]
    fn takeover_asks_first_and_only_y_takes_over() {
        let mut app = sample();
        assert_eq!(app.on_key(ch('T')), None);
        let act = Act::Takeover {
            name: "reviewer".to_string(),
            host: "h2".to_string(),
        };
        assert_eq!(app.mode, Mode::Confirm(act.clone()));
        assert_eq!(
            act.question(),
            "Take over reviewer@h2? It will type into the agent. y/N"
        );
        assert_eq!(app.on_key(key(KeyCode::Enter)), None, "Enter is not yes");
        assert_eq!(app.mode, Mode::List);
        assert_eq!(app.message.as_deref(), Some("takeover cancelled"));

        app.on_key(ch('T'));
        assert_eq!(
            app.on_key(ch('y')),
            Some(Command::Attach {
                name: "reviewer".to_string(),
                host: "h2".to_string(),
                takeover: true
            })
        );
        assert_eq!(app.mode, Mode::List);
    }

    #[test]
    fn send_types_reviews_then_sends_the_exact_text() {
        let mut app = sample();
        app.on_key(ch('s'));
        press(&mut app, "hx");
        app.on_key(key(KeyCode::Backspace));
        press(&mut app, "i");
        assert_eq!(
            app.mode,
            Mode::Send {
                name: "reviewer".to_string(),
                host: "h2".to_string(),
                input: "hi".to_string()
            }
        );
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        let Mode::Confirm(act) = &app.mode else {
            panic!("{:?}", app.mode)
        };
        assert_eq!(
            act.question(),
            "Send \"hi\" to reviewer@h2, then Enter? It will type into the agent. y/N"
        );
        assert_eq!(
            app.on_key(ch('y')),
            Some(Command::Send {
                name: "reviewer".to_string(),
                host: "h2".to_string(),
                text: "hi".to_string()
            })
        );
    }

    #[test]
    fn send_can_be_cancelled_and_needs_text() {
        let mut app = sample();
        press(&mut app, "s");
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        assert!(matches!(app.mode, Mode::Send { .. }), "still typing");
        assert_eq!(
            app.message.as_deref(),
            Some("nothing to send: type the text, or Esc")
        );
        press(&mut app, "yes");
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.mode, Mode::List);
        assert_eq!(app.message.as_deref(), Some("send cancelled"));
        // Typed keys are text, not commands: q did not quit.
        press(&mut app, "s");
        assert_eq!(press(&mut app, "q"), None);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(press(&mut app, "n"), None);
        assert_eq!(app.message.as_deref(), Some("send cancelled"));
    }

    #[test]
    fn restart_and_stop_ask_first() {
        let mut app = sample();
        select(&mut app, "janitor");
        app.on_key(ch('r'));
        assert_eq!(
            app.on_key(ch('y')),
            Some(Command::Restart {
                name: "janitor".to_string(),
                host: "h1".to_string()
            })
        );
        app.on_key(ch('x'));
        let Mode::Confirm(act) = &app.mode else {
            panic!("{:?}", app.mode)
        };
        assert_eq!(act.question(), "Stop janitor@h1? It ends its session. y/N");
        assert_eq!(
            app.on_key(ch('y')),
            Some(Command::Stop {
                name: "janitor".to_string(),
                host: "h1".to_string()
            })
        );
        app.on_key(ch('x'));
        app.on_key(ch('n'));
        assert_eq!(app.message.as_deref(), Some("stop cancelled"));
    }

    #[test]
    fn logs_and_explain_are_asked_of_the_loop() {
        let mut app = sample();
        let target = ("reviewer".to_string(), "h2".to_string());
        assert_eq!(
            app.on_key(ch('l')),
            Some(Command::Logs {
                name: target.0.clone(),
                host: target.1.clone()
            })
        );
        assert_eq!(
            app.on_key(ch('e')),
            Some(Command::Explain {
                name: target.0,
                host: target.1
            })
        );
    }

    #[test]
    fn acts_that_need_a_live_agent_are_refused_with_why() {
        let mut app = sample();
        select(&mut app, "janitor");
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        assert_eq!(
            app.message.as_deref(),
            Some("cannot attach to janitor@h1: it is exited 127, not running")
        );
        assert_eq!(app.on_key(ch('T')), None);
        assert_eq!(app.mode, Mode::List);
        assert_eq!(app.on_key(ch('s')), None);
        assert_eq!(app.mode, Mode::List);
        assert_eq!(
            app.message.as_deref(),
            Some("cannot send to janitor@h1: it is exited 127, not running")
        );
        // Its log is kept after the pane is gone.
        assert!(matches!(app.on_key(ch('l')), Some(Command::Logs { .. })));

        // Text typed into a drifted pane goes to whatever is in front.
        let mut rows = sample_rows();
        rows[0].status = Status::Drift;
        app.set_rows(rows, sample_unreachable());
        select(&mut app, "builder");
        app.on_key(ch('s'));
        assert_eq!(app.mode, Mode::List);
        assert!(
            app.message
                .as_deref()
                .is_some_and(|m| m.starts_with("cannot send to builder@h1: in drift"))
        );
        assert!(matches!(
            app.on_key(key(KeyCode::Enter)),
            Some(Command::Attach { .. })
        ));

        let mut missing = App::new(false);
        missing.set_rows(vec![AgentRow::missing("idle", "h1")], vec![]);
        missing.on_key(ch('x'));
        assert_eq!(
            missing.message.as_deref(),
            Some("cannot stop idle@h1: it has no session")
        );
    }

    #[test]
    fn nothing_acts_on_an_agent_whose_host_did_not_answer() {
        let mut app = sample();
        select(&mut app, "mapper");
        for c in ['\n', 'T', 's', 'r', 'x', 'l', 'e'] {
            let k = if c == '\n' {
                key(KeyCode::Enter)
            } else {
                ch(c)
            };
            assert_eq!(app.on_key(k), None, "{c:?}");
            assert_eq!(app.mode, Mode::List);
            assert!(
                app.message
                    .as_deref()
                    .is_some_and(|m| m.contains("mapper@h3: its host h3 did not answer (timeout)")),
                "{c:?}: {:?}",
                app.message
            );
        }
    }

    #[test]
    fn a_yes_is_checked_against_the_fleet_as_it_is_now() {
        let mut app = sample();
        app.on_key(ch('T'));
        let mut rows = sample_rows();
        rows[4].status = Status::Exited;
        app.set_rows(rows, vec![]);
        assert_eq!(app.on_key(ch('y')), None);
        assert_eq!(
            app.message.as_deref(),
            Some("cannot take over reviewer@h2: it is exited, not running")
        );
        app.on_key(ch('r'));
        app.set_rows(Vec::new(), vec![]);
        assert_eq!(app.on_key(ch('y')), None);
        assert_eq!(
            app.message.as_deref(),
            Some("reviewer@h2 is gone: nothing done")
        );
    }

    #[test]
    fn the_filter_narrows_live_and_esc_clears_it() {
        let mut app = sample();
        app.on_key(ch('/'));
        press(&mut app, "h2");
        assert_eq!(app.mode, Mode::Filter);
        assert_eq!(names(&app), ["fixer", "reviewer"]);
        assert_eq!(selected_name(&app), Some("reviewer"), "still shown");
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.mode, Mode::List);
        assert_eq!(app.filter(), "h2");
        assert_eq!(names(&app), ["fixer", "reviewer"]);
        // Keys act again once the filter is kept.
        assert!(matches!(app.on_key(ch('e')), Some(Command::Explain { .. })));

        app.on_key(ch('/'));
        app.on_key(key(KeyCode::Backspace));
        app.on_key(key(KeyCode::Backspace));
        press(&mut app, "EXIT");
        assert_eq!(names(&app), ["janitor"], "status words, any case");
        assert_eq!(selected_name(&app), Some("janitor"));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.filter(), "");
        assert_eq!(app.visible().len(), 6);
        assert_eq!(selected_name(&app), Some("janitor"));

        app.on_key(ch('/'));
        press(&mut app, "waiting h2");
        assert_eq!(names(&app), ["reviewer"], "every word must match");
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.filter(), "", "Esc in the list clears a kept filter");

        app.on_key(ch('/'));
        press(&mut app, "codex");
        assert_eq!(names(&app), ["reviewer"], "runtime");
        app.on_key(key(KeyCode::Esc));
        app.on_key(ch('/'));
        press(&mut app, "nobody");
        assert!(app.visible().is_empty());
        assert_eq!(app.selected(), None);
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.message.as_deref(), Some("no agent to attach to"));
    }

    #[test]
    fn the_selection_stays_on_its_agent_when_rows_change() {
        let mut app = sample();
        select(&mut app, "janitor");
        let mut rows = sample_rows();
        rows.reverse();
        app.set_rows(rows, vec![]);
        assert_eq!(selected_name(&app), Some("janitor"));
        assert_eq!(app.index(), Some(3));

        // Gone: the row that took its place.
        let rows: Vec<AgentRow> = sample_rows()
            .into_iter()
            .filter(|r| r.name != "janitor")
            .collect();
        app.set_rows(rows, vec![]);
        assert_eq!(selected_name(&app), Some("reviewer"));
        assert_eq!(app.index(), Some(3));

        // The same name on another host is another agent.
        let mut app = sample();
        let mut rows = sample_rows();
        rows[4].host = "h1".to_string();
        app.set_rows(rows, vec![]);
        assert_eq!(app.selected().map(|r| r.host.as_str()), Some("h1"));
        assert_eq!(app.index(), Some(4), "the row at its place");
    }

    #[test]
    fn the_text_view_scrolls_and_closes() {
        let mut app = sample();
        app.set_size(80, 24);
        let lines: Vec<String> = (1..=100).map(|i| format!("line {i}")).collect();
        app.show_text("reviewer@h2 log", lines.clone());
        let scroll = |app: &App| match &app.mode {
            Mode::Text { scroll, .. } => Some(*scroll),
            _ => None,
        };
        assert_eq!(scroll(&app), Some(0));
        app.on_key(key(KeyCode::Down));
        app.on_key(ch('j'));
        assert_eq!(scroll(&app), Some(2));
        app.on_key(key(KeyCode::PageDown));
        assert_eq!(scroll(&app), Some(22), "a page is 20 lines at 80x24");
        app.on_key(ch('G'));
        assert_eq!(scroll(&app), Some(80), "the last page");
        app.on_key(key(KeyCode::Down));
        assert_eq!(scroll(&app), Some(80));
        app.on_key(key(KeyCode::Home));
        assert_eq!(scroll(&app), Some(0));
        app.on_key(key(KeyCode::Up));
        assert_eq!(scroll(&app), Some(0));
        assert_eq!(app.on_key(ch('q')), None, "q closes the text, not the dash");
        assert_eq!(app.mode, Mode::List);

        app.show_tail("reviewer@h2 log", lines);
        assert_eq!(scroll(&app), Some(80));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.mode, Mode::List);
    }

    #[test]
    fn help_toggles_and_quit_quits() {
        let mut app = sample();
        app.on_key(ch('?'));
        assert_eq!(app.mode, Mode::Help);
        assert_eq!(app.on_key(ch('?')), None);
        assert_eq!(app.mode, Mode::List);
        app.on_key(ch('?'));
        assert_eq!(app.on_key(ch('q')), None, "q closes the help first");
        assert_eq!(app.on_key(ch('q')), Some(Command::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        app.on_key(ch('s'));
        assert_eq!(app.on_key(ctrl_c), Some(Command::Quit));
        // Ctrl with a letter is not the letter.
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        let mut app = sample();
        assert_eq!(app.on_key(ctrl_r), None);
        assert_eq!(app.mode, Mode::List);
        // A key's release is not another press.
        let mut release = ch('q');
        release.kind = KeyEventKind::Release;
        assert_eq!(app.on_key(release), None);
    }
}
