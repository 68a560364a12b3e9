use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::report::{self, Line};
use crate::core::Core;
use crate::core::host::Key;
use crate::core::ops::act::{CONFIRM_WITHIN, Delivery, Targets, Typed};

#[derive(Debug, Args)]
#[command(allow_hyphen_values = true)]
pub struct SendArgs {
    /// Leave Enter off: type the text only
    #[arg(long)]
    pub no_enter: bool,
    /// Press a named key instead of typing text: Enter, Escape, Tab, Up,
    /// Down, Left, Right, BSpace, C-c, M-x, F1…F12 (repeat for several)
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Type into every live agent (all words are then text)
    #[arg(long, conflicts_with = "runtime")]
    pub all: bool,
    /// Type into every live agent of this runtime (all words are then text)
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// NAME[,NAME…] (unless --all or --runtime), then the text, typed
    /// literally: `-x`, `C-c` and `a;b` are the characters they are;
    /// several words are joined with spaces
    #[arg(
        value_name = "NAME[,NAME…] TEXT",
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub words: Vec<String>,
}

/// A takeover act: it types into agents, is recorded as an event, and is
/// confirmed by their screens changing (else exit 1).
pub fn cmd_send(core: &Core, args: &SendArgs) -> Result<i32, CliError> {
    let (targets, text) = match (&args.runtime, args.all) {
        (Some(runtime), _) => (Targets::Runtime(runtime.clone()), &args.words[..]),
        (None, true) => (Targets::All, &args.words[..]),
        (None, false) => {
            let Some((first, rest)) = args.words.split_first() else {
                return Err(CliError::user(
                    "say whom to type into: fleet send NAME TEXT, or --all, or --runtime R",
                ));
            };
            let names = first.split(',').map(agent_name).collect::<Result<_, _>>()?;
            // `fleet send NAME -- -x`: the `--` only says text follows.
            let rest = match rest.split_first() {
                Some((dashes, text)) if dashes == "--" && !text.is_empty() => text,
                _ => rest,
            };
            (Targets::Named(names), rest)
        }
    };
    let typed = match (args.keys.is_empty(), text.is_empty()) {
        (true, true) => {
            return Err(CliError::user(
                "nothing to type: give TEXT, or --key K for a named key",
            ));
        }
        (false, false) => {
            return Err(CliError::user(
                "give TEXT or --key, not both: send them one after the other",
            ));
        }
        (true, false) => {
            let text = text.join(" ");
            if args.no_enter && text.contains(['\n', '\r']) {
                return Err(CliError::user(
                    "the text has a line break, which a terminal takes as Enter: drop --no-enter or the line break",
                ));
            }
            Typed::Text {
                text,
                enter: !args.no_enter,
            }
        }
        (false, true) => Typed::Keys(
            args.keys
                .iter()
                .map(|k| {
                    Key::parse(k).ok_or_else(|| {
                        CliError::user(format!(
                            "{k:?} is not a key name: use e.g. Enter, Escape, Tab, Up, C-c, M-x, F5"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let outcomes = core.send(&targets, &typed)?;
    crate::cli::print_warnings(core);
    let within = humantime::format_duration(CONFIRM_WITHIN);
    let lines: Vec<Line> = outcomes
        .iter()
        .map(|o| {
            let name = o.name.to_string();
            match o.outcome {
                Delivery::Confirmed => Line {
                    message: "sent".into(),
                    name,
                    more: Vec::new(),
                    ok: true,
                },
                Delivery::Unconfirmed => Line {
                    message: format!(
                        "sent, but its screen did not change within {within}: it may not have arrived (fleet peek {name})"
                    ),
                    name,
                    more: Vec::new(),
                    ok: false,
                },
            }
        })
        .collect();
    Ok(report::print(&lines))
}
