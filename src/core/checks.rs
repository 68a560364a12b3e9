//! The checks of `fleet verify`: pure functions from what was observed to
//! one verdict per check, each failure with its fix.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::desired::agent::AgentSpec;
use crate::core::desired::fleetfile::ModelRule;
use crate::core::host::BootFacts;
use crate::core::observe::{ObservedSession, Status};
use crate::core::signals::{Activity, Decision};

/// One verdict. Its JSON form is the stable schema of `verify --json`:
/// `ok` is false only for a failure (what makes `verify` exit 1), so a
/// consumer that reads `ok` alone sees what it always saw; `level` adds
/// `warn` (not in place, and not required: boot survival before
/// `fleet init`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The agent checked, or `null` for a check of the host.
    pub agent: Option<String>,
    pub check: &'static str,
    pub ok: bool,
    pub level: Level,
    pub detail: String,
    /// How to fix a failure.
    pub fix: Option<String>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Not in place, and not a failure: said with its fix, exit 0.
    Warn,
    Fail,
}

fn pass(agent: &str, check: &'static str, detail: impl Into<String>) -> Check {
    Check {
        agent: Some(agent.to_string()),
        check,
        ok: true,
        level: Level::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(
    agent: &str,
    check: &'static str,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        agent: Some(agent.to_string()),
        check,
        ok: false,
        level: Level::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// What is known about one agent.
pub struct AgentFacts<'a> {
    pub name: &'a str,
    /// The spec to check: what runs (from the session) or what is declared.
    pub spec: &'a AgentSpec,
    pub declared: bool,
    pub session: Option<&'a ObservedSession>,
    /// Whether the pane's start command exports a PATH and `exec`s.
    pub exports_path: Option<bool>,
    /// The runtime-bin prefix the pane has (or would get).
    pub path_prefix: &'a str,
    /// The PATH the pane inherits from the tmux server.
    pub base_path: &'a str,
    /// Whether the agent's workdir exists on its host.
    pub workdir_exists: bool,
    pub policy: &'a [ModelRule],
    /// What a running agent is doing, and why fleet says so.
    pub activity: Option<&'a Decision>,
}

/// Every check of one agent, in the order `verify` prints them.
pub fn agent_checks(facts: &AgentFacts<'_>, is_executable: impl Fn(&Path) -> bool) -> Vec<Check> {
    let mut out = session_checks(facts);
    out.extend(attention_check(facts));
    out.push(path_check(facts, is_executable));
    out.push(workdir_check(facts));
    out.push(policy_check(facts.name, facts.spec, facts.policy));
    out
}

/// Is there a session, is its pane alive, is the runtime in front.
fn session_checks(facts: &AgentFacts<'_>) -> Vec<Check> {
    let name = facts.name;
    let up = if facts.declared {
        format!("fleet up {name}")
    } else {
        format!("fleet start {name}")
    };
    let s = match facts.session {
        None => return vec![fail(name, "session", "no session", up)],
        Some(s) if !s.is_managed() => {
            return vec![fail(
                name,
                "session",
                "a session of this name exists that fleet did not start",
                "end that session or rename the agent",
            )];
        }
        Some(s) => s,
    };
    let exists = pass(name, "session", "exists");
    if s.pane.dead {
        let code = s
            .exit_code()
            .map(|c| format!("exited {c}"))
            .unwrap_or_else(|| "exited".into());
        let fix = format!(
            "see why with fleet peek {name} or fleet logs {name}, then fleet restart {name}"
        );
        return vec![exists, fail(name, "pane alive", code, fix)];
    }
    let alive = pass(
        name,
        "pane alive",
        format!("pid {}", s.pane.pid.unwrap_or(0)),
    );
    let in_front = if s.status() == Status::Running {
        pass(name, "runtime in front", s.pane.current_command.clone())
    } else {
        fail(
            name,
            "runtime in front",
            format!(
                "{} is in front, not the runtime ({})",
                s.pane.current_command,
                facts.spec.processes.join(" or ")
            ),
            format!("fleet restart {name}"),
        )
    };
    // The writer is gone (killed, crashed): what the agent prints now is
    // recorded nowhere.
    let transcript = if s.pane.piped {
        pass(name, "transcript", "being written")
    } else {
        fail(
            name,
            "transcript",
            "not being written: its writer went away",
            format!("{up} pipes it into a new one (the agent keeps running)"),
        )
    };
    vec![exists, alive, in_front, transcript]
}

/// Does the pane command export the runtime-bin PATH, and does the runtime
/// resolve on the PATH the pane gets.
fn path_check(facts: &AgentFacts<'_>, is_executable: impl Fn(&Path) -> bool) -> Check {
    let name = facts.name;
    let program = facts
        .spec
        .argv
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let found = resolve(program, facts.path_prefix, facts.base_path, &is_executable);
    match (facts.exports_path, found) {
        (Some(false), _) => fail(
            name,
            "runtime on PATH",
            "the pane command does not export the runtime-bin PATH",
            format!("fleet restart {name} relaunches it with the fleet's pane command"),
        ),
        (_, Some(path)) => pass(
            name,
            "runtime on PATH",
            format!("{program} found at {}", path.display()),
        ),
        (_, None) => fail(
            name,
            "runtime on PATH",
            format!(
                "{program} is not found on the pane's PATH ({}{}{})",
                facts.path_prefix,
                if facts.path_prefix.is_empty() {
                    ""
                } else {
                    ":"
                },
                facts.base_path
            ),
            format!(
                "install {program}, or set MOSAIC_RUNTIME_BIN to the directory that has it, then fleet restart {name}"
            ),
        ),
    }
}

/// A running agent that waits for a human (an approval, a login, an error
/// it cannot get past) is not fine, however healthy its process is.
fn attention_check(facts: &AgentFacts<'_>) -> Option<Check> {
    let name = facts.name;
    let decision = facts.activity?;
    Some(if decision.activity == Activity::Waiting {
        fail(
            name,
            "needs no human",
            format!("waiting: {}", decision.by.evidence),
            format!(
                "see it with fleet peek {name}; answer with fleet send {name} TEXT or fleet attach --takeover {name}"
            ),
        )
    } else {
        pass(name, "needs no human", decision.activity.kind().word())
    })
}

fn workdir_check(facts: &AgentFacts<'_>) -> Check {
    let workdir = facts.spec.workdir.display();
    if facts.workdir_exists {
        pass(facts.name, "workdir", workdir.to_string())
    } else {
        fail(
            facts.name,
            "workdir",
            format!("{workdir} does not exist"),
            format!("create {workdir} or change the agent's workdir"),
        )
    }
}

/// Whether the agent's model may run in its runtime.
pub fn policy_check(name: &str, spec: &AgentSpec, policy: &[ModelRule]) -> Check {
    let Some(model) = &spec.model else {
        return pass(name, "policy", "no model set");
    };
    for rule in policy {
        if rule.matches(model) && !rule.runtimes.contains(&spec.runtime) {
            return fail(
                name,
                "policy",
                format!(
                    "model {model} runs in runtime {}, but {} models may only run in {}",
                    spec.runtime,
                    rule.pattern,
                    rule.runtimes.join(", ")
                ),
                format!(
                    "run it with runtime = \"{}\" or choose a model outside {}",
                    rule.runtimes
                        .first()
                        .map(String::as_str)
                        .unwrap_or("claude"),
                    rule.pattern
                ),
            );
        }
    }
    pass(name, "policy", format!("{model} in {}", spec.runtime))
}

/// Where a shell would look for `program`, in order: itself if it has a
/// `/`, else each directory of the prefix and then of the base PATH.
pub fn candidates(program: &str, prefix: &str, base_path: &str) -> Vec<PathBuf> {
    if program.is_empty() {
        return Vec::new();
    }
    if program.contains('/') {
        return vec![PathBuf::from(program)];
    }
    prefix
        .split(':')
        .chain(base_path.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .collect()
}

/// Where a shell would find `program`: the first executable candidate.
pub fn resolve(
    program: &str,
    prefix: &str,
    base_path: &str,
    is_executable: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    candidates(program, prefix, base_path)
        .into_iter()
        .find(|p| is_executable(p))
}

/// Boot survival of this host. Before `fleet init` (no unit) what is
/// missing is a warning: running agents without it is a choice, and a
/// fresh `fleet verify` passes. Once the unit is installed, a unit not
/// enabled or linger off is a failure: boot survival was asked for and
/// does not hold.
pub fn host_checks(facts: &BootFacts) -> Vec<Check> {
    let host = |check, ok: bool, detail: String| {
        let level = match (ok, facts.unit_installed) {
            (true, _) => Level::Ok,
            (false, false) => Level::Warn,
            (false, true) => Level::Fail,
        };
        Check {
            agent: None,
            check,
            ok: level != Level::Fail,
            level,
            detail,
            fix: (!ok).then(|| "fleet init".to_string()),
        }
    };
    vec![
        host(
            "boot unit installed",
            facts.unit_installed,
            facts.unit.display().to_string(),
        ),
        host(
            "boot unit enabled",
            facts.unit_enabled,
            "systemctl --user enable".to_string(),
        ),
        host(
            "linger",
            facts.linger,
            format!("loginctl enable-linger {}", facts.user),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::agent::{AgentName, RestartPolicy};

    fn spec(runtime: &str, model: Option<&str>) -> AgentSpec {
        AgentSpec {
            name: AgentName::parse("a").unwrap_or_else(|e| panic!("{e}")),
            runtime: runtime.into(),
            model: model.map(String::from),
            effort: None,
            argv: vec!["agent".into()],
            processes: vec!["agent".into()],
            workdir: "/".into(),
            restart: RestartPolicy::Never,
            host: None,
        }
    }

    #[test]
    fn boot_survival_warns_until_init_and_fails_after() {
        let facts = |installed, enabled, linger| BootFacts {
            unit: "/home/op/.config/systemd/user/mosaic-fleet.service".into(),
            unit_installed: installed,
            unit_enabled: enabled,
            user: "op".into(),
            linger,
        };
        let levels = |f: &BootFacts| -> Vec<(Level, bool)> {
            host_checks(f).iter().map(|c| (c.level, c.ok)).collect()
        };
        let (ok, warn, fail) = ((Level::Ok, true), (Level::Warn, true), (Level::Fail, false));
        assert_eq!(levels(&facts(false, false, false)), [warn, warn, warn]);
        assert_eq!(levels(&facts(false, false, true)), [warn, warn, ok]);
        assert_eq!(levels(&facts(true, true, true)), [ok, ok, ok]);
        assert_eq!(levels(&facts(true, false, false)), [ok, fail, fail]);
        let json =
            serde_json::to_value(&host_checks(&facts(false, false, false))[0]).unwrap_or_default();
        assert_eq!(json["level"], "warn");
        assert_eq!(json["ok"], true);
        assert_eq!(json["fix"], "fleet init");
    }

    #[test]
    fn claude_only_inside_claude_code() {
        let rules = [ModelRule::builtin()];
        assert!(!policy_check("a", &spec("pi", Some("anthropic/claude-opus")), &rules).ok);
        assert!(policy_check("a", &spec("claude", Some("anthropic/claude-opus")), &rules).ok);
        assert!(policy_check("a", &spec("pi", Some("openai/gpt-5")), &rules).ok);
        assert!(policy_check("a", &spec("pi", None), &rules).ok);
    }

    #[test]
    fn resolves_like_a_shell() {
        let exists = |p: &Path| p == Path::new("/rt/agent") || p == Path::new("/usr/bin/agent");
        assert_eq!(
            resolve("agent", "/rt", "/usr/bin", exists),
            Some("/rt/agent".into())
        );
        assert_eq!(
            resolve("agent", "", "/usr/bin", exists),
            Some("/usr/bin/agent".into())
        );
        assert_eq!(resolve("agent", "", "/bin", exists), None);
        assert_eq!(
            resolve("/rt/agent", "", "", exists),
            Some("/rt/agent".into())
        );
    }

    #[test]
    fn a_missing_session_fails_with_the_way_up() {
        let s = spec("pi", None);
        let facts = AgentFacts {
            name: "a",
            spec: &s,
            declared: true,
            session: None,
            exports_path: None,
            path_prefix: "",
            base_path: "/bin",
            workdir_exists: true,
            policy: &[],
            activity: None,
        };
        let checks = agent_checks(&facts, |_| true);
        assert_eq!(checks[0].fix.as_deref(), Some("fleet up a"));
        assert!(checks.iter().skip(1).all(|c| c.ok));
    }
}
