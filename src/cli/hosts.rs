//! Commands across hosts: this host's share is run here, the other hosts'
//! over ssh by the core, and what they say is shown here, made safe like
//! everything else (a remote host's output is data).

use clap::ValueEnum;

use crate::cli::args::Command;
use crate::cli::commands::send::SendArgs;
use crate::cli::commands::wait::WaitArgs;
use crate::cli::error::{CliError, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE};
use crate::cli::output;
use crate::core::Core;
use crate::core::desired::agent::AgentName;
use crate::core::host::ssh::{SshHost, Stream};
use crate::core::ops::hosts::{Bound, HostAnswer, Plan, split_name};

/// The hosts a command covers: every host of the fleet file unless
/// `--host` narrows; only this one without a fleet file.
pub fn plan(core: &Core, names: &[String], hosts: &[String]) -> Result<Plan, CliError> {
    match core.fleet() {
        Ok(fleet) => Ok(core.plan(&fleet, names, hosts)?),
        Err(e) if hosts.is_empty() && names.iter().all(|n| split_name(n).1.is_none()) => {
            // The command itself says what is wrong with the file, or
            // goes on without it.
            let _ = e;
            Ok(Plan::here_only(
                names
                    .iter()
                    .map(|n| crate::cli::commands::agent_name(n))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs a command on every host of `plan`: `here` does this host's share
/// (and prints it) while the others run `argv_for` of theirs; their
/// answers are shown after, each line as they said it. The exit code is
/// the worst: a failure (or bad input) anywhere, else 3 when a host did
/// not answer, else 0.
pub fn across(
    core: &Core,
    plan: &Plan,
    argv_for: &(dyn Fn(&[AgentName]) -> Vec<String> + Sync),
    here: impl FnOnce(&[AgentName]) -> Result<i32, CliError>,
    what: &str,
) -> Result<i32, CliError> {
    let (local, answers) = std::thread::scope(|scope| {
        let remote = scope.spawn(|| core.ask_each(&plan.there, argv_for, Bound::Change));
        let local = plan.here.as_deref().map(here);
        (local, remote.join().unwrap_or_default())
    });
    let mut codes = Vec::new();
    if let Some(local) = local {
        codes.push(local?);
    }
    for answer in &answers {
        codes.push(show(core, answer, plan, what));
    }
    Ok(worst(&codes))
}

/// One host's answer, shown: its output as it said it, its warnings
/// named after it, or why it did not answer. Returns its exit code.
pub fn show(core: &Core, answer: &HostAnswer, plan: &Plan, what: &str) -> i32 {
    let stdout = answer.stdout();
    if !stdout.is_empty() {
        output::print(&stdout);
    }
    for line in &answer.err {
        output::eprint(&format!("fleet: {}", from_host(&answer.host, line)));
    }
    match &answer.result {
        Ok(code) => *code,
        Err(why) => {
            let names = plan
                .there
                .iter()
                .find(|(h, _)| h.name() == answer.host)
                .map(|(_, names)| names.clone())
                .unwrap_or_default();
            let agents = match core.fleet() {
                Ok(fleet) if names.is_empty() => fleet
                    .agents
                    .values()
                    .filter(|a| a.spec.host.as_deref() == Some(answer.host.as_str()))
                    .map(|a| a.spec.name.to_string())
                    .collect::<Vec<_>>(),
                _ => names.iter().map(ToString::to_string).collect(),
            };
            let whose = if agents.is_empty() {
                String::new()
            } else {
                format!(": {what} did not reach {}", agents.join(", "))
            };
            output::eprint(&format!(
                "fleet: host {} is unreachable ({why}){whose}",
                answer.host
            ));
            EXIT_UNREACHABLE
        }
    }
}

/// The exit code for hosts that gave no answer: 1 when one's fleet
/// failed (it answered, with an error), else 3 when one did not answer.
pub fn unanswered_code(unanswered: &[(String, crate::core::host::ssh::Unreachable)]) -> i32 {
    let codes: Vec<i32> = unanswered
        .iter()
        .map(|(_, why)| match why {
            crate::core::host::ssh::Unreachable::Failed(_) => EXIT_FAILED,
            _ => EXIT_UNREACHABLE,
        })
        .collect();
    worst(&codes)
}

/// A line another host's fleet said on stderr, named after the host.
pub fn from_host(host: &str, line: &str) -> String {
    format!("{host}: {}", line.strip_prefix("fleet: ").unwrap_or(line))
}

/// The exit code of several: bad input, then a failure, then a host that
/// did not answer, then success.
///
/// Bad input (2) means nothing was changed: across hosts that holds only
/// when every host said so; else it is a failure among other outcomes.
pub fn worst(codes: &[i32]) -> i32 {
    if codes.contains(&EXIT_USAGE) && codes.iter().any(|&c| c != EXIT_USAGE) {
        return EXIT_FAILED;
    }
    let rank = |c: i32| match c {
        0 => 0,
        EXIT_UNREACHABLE => 1,
        EXIT_USAGE => 3,
        _ => 2,
    };
    codes
        .iter()
        .copied()
        .max_by_key(|&c| rank(c))
        .map_or(0, |c| match c {
            0 | EXIT_UNREACHABLE | EXIT_USAGE => c,
            _ => EXIT_FAILED,
        })
}

/// The host an agent named on the command line lives on, when that is
/// another host: `NAME@HOST`, else where the fleet file places it. The
/// name comes back without its `@HOST`.
pub fn where_is(core: &Core, raw: &str) -> Result<(String, Option<SshHost>), CliError> {
    let (name, host) = split_name(raw);
    if host.is_none() && !raw.contains('@') {
        // The common case, with no file to read when it names no host.
        let fleet = match core.fleet() {
            Ok(fleet) => fleet,
            Err(_) => return Ok((raw.to_string(), None)),
        };
        let Ok(parsed) = AgentName::parse(name) else {
            return Ok((raw.to_string(), None));
        };
        // Declared: where the file places it; ad hoc: [defaults] host.
        let there = match fleet.agents.get(&parsed) {
            Some(a) => a.spec.host.clone(),
            None => fleet.defaults.host.clone(),
        }
        .and_then(|h| core.other_hosts(&fleet).remove(&h));
        return Ok((name.to_string(), there));
    }
    let fleet = core.fleet()?;
    let plan = core.plan(&fleet, &[raw.to_string()], &[])?;
    let there = plan.there.into_iter().next().map(|(host, _)| host);
    Ok((name.to_string(), there))
}

/// Runs one command on another host, its output shown as it comes (it
/// may follow: `logs -f`, `wait`). `raw` keeps escape sequences (`--raw`).
pub fn relay(
    core: &Core,
    host: &SshHost,
    argv: Vec<String>,
    raw: bool,
    bound: Bound,
) -> Result<i32, CliError> {
    let request = core.request(host, argv);
    // Shown as it comes, not kept: no limit on how much.
    let result = host.call(
        &request,
        bound.after_hello(host),
        bound.shown(),
        &mut |stream, line| {
            match stream {
                Stream::Out if raw => {
                    output::print_raw(format!("{line}\n").as_bytes());
                }
                Stream::Out => {
                    output::print(&format!("{line}\n"));
                }
                Stream::Err => output::eprint(&format!("fleet: {}", from_host(host.name(), line))),
                Stream::Hello => {}
            }
            true
        },
    );
    result.map_err(|why| {
        crate::core::Error::Unreachable {
            host: host.name().to_string(),
            why,
        }
        .into()
    })
}

/// What to do with a command that names agents: run it here (its names
/// without `@HOST`), or it ran on their host already.
pub enum Routed {
    Here(Command),
    Done(i32),
}

/// Sends a command that names agents to their host: `NAME@HOST`, or the
/// host the fleet file places them on. Agents of several hosts: each host
/// gets its share at once.
pub fn route(core: &Core, command: Command) -> Result<Routed, CliError> {
    let opt = |flag: &str, value: &Option<String>| -> Vec<String> {
        value
            .iter()
            .flat_map(|v| [flag.to_string(), v.clone()])
            .collect()
    };
    let one = |raw: &str| where_is(core, raw);
    macro_rules! single {
        ($args:ident, $variant:ident, $argv:expr, $raw:expr, $bound:expr) => {{
            let (name, there) = one(&$args.name)?;
            match there {
                Some(host) => {
                    let argv: Vec<String> = $argv(&name);
                    Ok(Routed::Done(relay(core, &host, argv, $raw, $bound)?))
                }
                None => {
                    let mut $args = $args;
                    $args.name = name;
                    Ok(Routed::Here(Command::$variant($args)))
                }
            }
        }};
    }
    match command {
        Command::Start(args) => single!(
            args,
            Start,
            |name: &str| {
                let mut argv = vec!["start".to_string(), name.to_string()];
                argv.extend(opt("--runtime", &args.runtime));
                argv.extend(opt("--model", &args.model));
                argv.extend(opt("--effort", &args.effort));
                argv.extend(opt("--workdir", &args.workdir));
                if !args.command.is_empty() {
                    argv.push("--".into());
                    argv.extend(args.command.iter().cloned());
                }
                argv
            },
            false,
            Bound::Change
        ),
        Command::Stop(args) => single!(
            args,
            Stop,
            |name: &str| vec!["stop".to_string(), name.to_string()],
            false,
            Bound::Change
        ),
        Command::Restart(args) => single!(
            args,
            Restart,
            |name: &str| vec!["restart".to_string(), name.to_string()],
            false,
            Bound::Change
        ),
        Command::Peek(args) => single!(
            args,
            Peek,
            |name: &str| {
                let mut argv = vec!["peek".to_string(), name.to_string()];
                argv.extend(opt("--lines", &args.lines.map(|n| n.to_string())));
                if args.raw {
                    argv.push("--raw".into());
                }
                argv
            },
            args.raw,
            Bound::Read
        ),
        Command::Logs(args) => single!(
            args,
            Logs,
            |name: &str| {
                let mut argv = vec!["logs".to_string(), name.to_string()];
                if args.follow {
                    argv.push("--follow".into());
                }
                if args.raw {
                    argv.push("--raw".into());
                }
                argv
            },
            args.raw,
            if args.follow {
                Bound::Follow
            } else {
                Bound::Read
            }
        ),
        Command::Explain(args) => single!(
            args,
            Explain,
            |name: &str| {
                let mut argv = vec!["explain".to_string(), name.to_string()];
                if args.json {
                    argv.push("--json".into());
                }
                argv
            },
            false,
            Bound::Read
        ),
        Command::Attach(mut args) => {
            let (name, there) = one(&args.name)?;
            match there {
                Some(host) => attach_there(&host, &name, args.takeover),
                None => {
                    args.name = name;
                    Ok(Routed::Here(Command::Attach(args)))
                }
            }
        }
        Command::Wait(mut args) => {
            let plan = plan(core, &args.names, &[])?;
            if plan.is_local() {
                args.names = plan
                    .here
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                return Ok(Routed::Here(Command::Wait(args)));
            }
            let until = args
                .until
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            let argv = |names: &[AgentName]| -> Vec<String> {
                let mut argv = vec!["wait".to_string()];
                argv.extend(names.iter().map(ToString::to_string));
                argv.extend(["--until".to_string(), until.clone()]);
                argv.extend(opt("--timeout", &args.timeout));
                argv
            };
            // `--timeout` holds here too: a host that hangs after its
            // hello does not hold the wait past it.
            let bound = args
                .timeout
                .as_deref()
                .and_then(|t| humantime::parse_duration(t).ok())
                .map_or(Bound::Follow, Bound::Within);
            follow_each(core, &plan, bound, &argv, |names| {
                let mut here = WaitArgs {
                    names: names.iter().map(ToString::to_string).collect(),
                    until: args.until,
                    timeout: args.timeout.clone(),
                };
                here.names.sort();
                crate::cli::commands::wait::cmd_wait(core, &here)
            })
        }
        Command::Send(mut args) => {
            let everywhere = args.all || args.runtime.is_some();
            let named: Vec<String> = match (everywhere, args.words.first()) {
                (false, Some(first)) => first.split(',').map(String::from).collect(),
                _ => Vec::new(),
            };
            if !everywhere && named.is_empty() {
                return Ok(Routed::Here(Command::Send(args)));
            }
            let plan = plan(core, &named, &[])?;
            if plan.is_local() {
                if !everywhere {
                    name_words(&mut args.words, &plan.here.unwrap_or_default());
                }
                return Ok(Routed::Here(Command::Send(args)));
            }
            let argv = |names: &[AgentName]| -> Vec<String> {
                let mut argv = vec!["send".to_string()];
                if args.no_enter {
                    argv.push("--no-enter".into());
                }
                for key in &args.keys {
                    argv.extend(["--key".to_string(), key.clone()]);
                }
                if args.all {
                    argv.push("--all".into());
                }
                argv.extend(opt("--runtime", &args.runtime));
                let mut words = args.words.clone();
                if !everywhere {
                    name_words(&mut words, names);
                }
                // The text is words: `--` keeps it text whatever it says.
                argv.push("--".into());
                argv.extend(words);
                argv
            };
            follow_each(core, &plan, Bound::Change, &argv, |names| {
                let mut here = SendArgs {
                    no_enter: args.no_enter,
                    keys: args.keys.clone(),
                    all: args.all,
                    runtime: args.runtime.clone(),
                    words: args.words.clone(),
                };
                if !everywhere {
                    name_words(&mut here.words, names);
                }
                crate::cli::commands::send::cmd_send(core, &here)
            })
        }
        other => Ok(Routed::Here(other)),
    }
}

/// `send`'s first word, `NAME[,NAME…]`, as one host's share.
fn name_words(words: &mut [String], names: &[AgentName]) {
    if let Some(first) = words.first_mut() {
        *first = names
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
    }
}

/// Runs each host's share at once, every host's output shown as it comes.
fn follow_each(
    core: &Core,
    plan: &Plan,
    bound: Bound,
    argv_for: &(dyn Fn(&[AgentName]) -> Vec<String> + Sync),
    here: impl FnOnce(&[AgentName]) -> Result<i32, CliError> + Send,
) -> Result<Routed, CliError> {
    let codes = std::thread::scope(|scope| {
        let remote: Vec<_> = plan
            .there
            .iter()
            .map(|(host, names)| {
                scope.spawn(
                    move || match relay(core, host, argv_for(names), false, bound) {
                        Ok(code) => code,
                        Err(e) => {
                            output::eprint(&format!("fleet: error: {e}"));
                            e.code
                        }
                    },
                )
            })
            .collect();
        let mut codes = Vec::new();
        if let Some(names) = &plan.here {
            codes.push(here(names).unwrap_or_else(|e| {
                output::eprint(&format!("fleet: error: {e}"));
                e.code
            }));
        }
        for thread in remote {
            codes.push(thread.join().unwrap_or(EXIT_FAILED));
        }
        codes
    });
    Ok(Routed::Done(worst(&codes)))
}

/// `fleet attach` on another host: ssh with a terminal, then that host's
/// own read-only (or takeover) attach.
fn attach_there(host: &SshHost, name: &str, takeover: bool) -> Result<Routed, CliError> {
    use std::io::IsTerminal;
    use std::os::unix::process::CommandExt;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::user(
            "fleet attach needs a terminal: run it from an interactive shell (fleet peek works anywhere)",
        ));
    }
    let mut argv = vec!["attach".to_string(), name.to_string()];
    if takeover {
        argv.push("--takeover".into());
    }
    let err = host.interactive(&argv).exec();
    Err(CliError::failed(format!("cannot run ssh: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_code_wins() {
        assert_eq!(worst(&[]), 0);
        assert_eq!(worst(&[0, 3]), 3);
        assert_eq!(worst(&[3, 1, 0]), 1);
        assert_eq!(worst(&[3, 7]), 1);
        // Bad input everywhere changed nothing; among other outcomes it
        // is a failure.
        assert_eq!(worst(&[2, 2]), 2);
        assert_eq!(worst(&[0, 2]), 1);
        assert_eq!(worst(&[1, 2, 3]), 1);
    }
}
