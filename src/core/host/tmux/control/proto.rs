//! tmux's control-mode protocol, without I/O: command lines out, messages in.
//!
//! A control client (`tmux -C`) writes one command per line and reads
//! lines back. The reply to each command is a block: `%begin TIME NUMBER
//! FLAGS`, the command's output, then `%end` (success) or `%error` (its
//! message) with the same three words. Anything else starting with `%`
//! outside a block is a notification (`%subscription-changed`,
//! `%sessions-changed`, `%exit`…).
//!
//! Inside a block, a line is output whatever it looks like: a pane whose
//! screen shows `%end …` is captured as that text. A block ends only at an
//! `%end`/`%error` line carrying its own `%begin`'s time, number and flags,
//! which is how tmux itself tells them apart.

/// One command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// tmux's number of the command; replies come in the order sent.
    pub number: u64,
    /// Whether the block came from a command this client sent (flags 1)
    /// rather than the command the client was started with.
    pub ours: bool,
    pub ok: bool,
    /// The command's output (or, failed, its message), one entry per line.
    pub lines: Vec<String>,
}

/// What one line (or block of lines) of a control client's output means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Reply(Reply),
    /// A subscription's value changed: `%subscription-changed NAME … : VALUE`.
    Subscription {
        name: String,
        value: String,
    },
    /// The client is going away; tmux may say why.
    Exit {
        reason: String,
    },
    /// Any other notification, by name (`sessions-changed`,
    /// `window-close`…): something on the server changed.
    Notification {
        name: String,
    },
}

/// Reads a control client's output one line at a time.
#[derive(Debug, Default)]
pub struct Parser {
    /// The open block: its guard (time, number, flags) and output so far.
    open: Option<(String, Reply)>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line (without its newline); answers a message when the
    /// line completes one.
    pub fn line(&mut self, line: &str) -> Option<Message> {
        if let Some((guard, reply)) = &mut self.open {
            let end = line
                .strip_prefix("%end ")
                .map(|rest| (rest, true))
                .or_else(|| line.strip_prefix("%error ").map(|rest| (rest, false)));
            match end {
                Some((rest, ok)) if rest == guard.as_str() => {
                    let (_, mut reply) = self.open.take()?;
                    reply.ok = ok;
                    return Some(Message::Reply(reply));
                }
                _ => {
                    reply.lines.push(line.to_string());
                    return None;
                }
            }
        }
        let (name, rest) = match line.strip_prefix('%')?.split_once(' ') {
            Some((name, rest)) => (name, rest),
            None => (line.strip_prefix('%')?, ""),
        };
        match name {
            "begin" => {
                let mut words = rest.split(' ');
                let (_time, number, flags) = (words.next()?, words.next()?, words.next()?);
                let reply = Reply {
                    number: number.parse().ok()?,
                    ours: flags == "1",
                    ok: false,
                    lines: Vec::new(),
                };
                self.open = Some((rest.to_string(), reply));
                None
            }
            "subscription-changed" => {
                let (head, value) = rest.split_once(" : ")?;
                let name = head.split(' ').next()?.to_string();
                Some(Message::Subscription {
                    name,
                    value: value.to_string(),
                })
            }
            "exit" => Some(Message::Exit {
                reason: rest.to_string(),
            }),
            _ => Some(Message::Notification {
                name: name.to_string(),
            }),
        }
    }
}

/// One argument as tmux's command parser reads it back unchanged: double
/// quoted, with backslash escapes for what would end the line or be
/// expanded (`$`), and octal for other control characters.
pub fn quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A command as one control-mode line, newline included.
pub fn command_line<S: AsRef<str>>(args: &[S]) -> String {
    let mut line = args
        .iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(text: &str) -> Vec<Message> {
        let mut parser = Parser::new();
        text.lines().filter_map(|l| parser.line(l)).collect()
    }

    /// Recorded from tmux 3.3a: an attach, a listing, a capture whose
    /// screen shows a forged end line, a failed capture, notifications.
    #[test]
    fn reads_a_recorded_session() {
        let recorded = "%begin 1795670445 264 0\n\
            %end 1795670445 264 0\n\
            %session-changed $0 a\n\
            %begin 1795670446 269 1\n\
            %0\ta\n\
            %end 1795670446 269 1\n\
            %begin 1795670446 271 1\n\
            %end 1 2 1\n\
            \n\
            %end 1795670446 271 1\n\
            %begin 1795670446 272 1\n\
            can't find pane: %9\n\
            %error 1795670446 272 1\n\
            %subscription-changed fleet $0 - - - : %0 123 0 : x\n\
            %sessions-changed\n\
            %exit\n";
        let messages = feed(recorded);
        let reply = |number, ours, ok, lines: &[&str]| {
            Message::Reply(Reply {
                number,
                ours,
                ok,
                lines: lines.iter().map(|l| l.to_string()).collect(),
            })
        };
        assert_eq!(
            messages,
            vec![
                reply(264, false, true, &[]),
                Message::Notification {
                    name: "session-changed".into()
                },
                reply(269, true, true, &["%0\ta"]),
                reply(271, true, true, &["%end 1 2 1", ""]),
                reply(272, true, false, &["can't find pane: %9"]),
                Message::Subscription {
                    name: "fleet".into(),
                    value: "%0 123 0 : x".into()
                },
                Message::Notification {
                    name: "sessions-changed".into()
                },
                Message::Exit {
                    reason: String::new()
                },
            ]
        );
    }

    #[test]
    fn an_exit_says_why() {
        assert_eq!(
            feed("%exit server exited\n"),
            vec![Message::Exit {
                reason: "server exited".into()
            }]
        );
        // Stray text outside a block is not a message.
        assert_eq!(feed("hello\n"), vec![]);
    }

    #[test]
    fn quotes_what_the_parser_would_change() {
        assert_eq!(quote("list-panes"), "\"list-panes\"");
        assert_eq!(quote("a;b"), "\"a;b\"");
        assert_eq!(quote("$HOME \\ \""), "\"\\$HOME \\\\ \\\"\"");
        assert_eq!(quote("[\t\n]"), "\"[\\t\\n]\"");
        assert_eq!(quote("\u{1b}x"), "\"\\033x\"");
        assert_eq!(command_line(&["a", "b c"]), "\"a\" \"b c\"\n");
    }
}
