//! The fleet file (`fleet.toml`) becomes the desired state: a checked
//! [`Fleet`] with every agent resolved to an [`AgentSpec`].
//!
//! Every mistake in the file is reported as `FILE:LINE: message` naming the
//! key, and nothing is started from a file that has one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::core::desired::agent::{AgentName, AgentSpec, RestartPolicy};
use crate::core::desired::resolve::{DeclKey, ResolveError};
use crate::core::desired::runtime::{self, Runtime};
use crate::core::error::quoted;

/// A mistake in a fleet file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A host of the fleet, reached over ssh, where `fleet` runs the host's
/// share of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The ssh destination, `user@host` (or a `Host` of the ssh config).
    pub ssh: String,
    pub port: Option<u16>,
    /// The `fleet` to run there [default: `fleet` on its PATH].
    pub fleet: Option<String>,
    /// The fleet's tmux socket there [default: that fleet's own default].
    pub socket: Option<String>,
    /// `FLEET_HOME` there [default: that fleet's own default].
    pub home: Option<String>,
    /// How long the host has to answer [default: `FLEET_HOST_TIMEOUT`, 3s].
    pub timeout: Option<std::time::Duration>,
}

/// `[notify]`: a command the supervisor runs on chosen transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub command: Vec<String>,
    /// The event words it runs on.
    pub on: Vec<String>,
    /// At most one run per agent and event word within this long.
    pub every: std::time::Duration,
    /// A run still going after this long is killed.
    pub timeout: std::time::Duration,
}

/// The transitions `[notify]` runs on when it does not say.
pub const NOTIFY_ON: [&str; 3] = ["waiting", "exited", "crashloop"];

/// Models matching `pattern` may only run in `runtimes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRule {
    pub pattern: String,
    pub runtimes: Vec<String>,
}

impl ModelRule {
    /// The rule that holds unless a fleet file replaces it: Claude only
    /// inside Claude Code.
    pub fn builtin() -> Self {
        Self {
            pattern: "anthropic/*".into(),
            runtimes: vec!["claude".into()],
        }
    }

    pub fn matches(&self, model: &str) -> bool {
        glob_match(&self.pattern, model)
    }
}

/// `*` matches any run of characters; everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// How an agent's command is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSource {
    /// A template string, split like a shell would and then filled.
    Template(String),
    /// Literal argv, as typed after `--`.
    Argv(Vec<String>),
}

/// What may be said about one agent before resolution: a `[agents.NAME]`
/// table, or the flags of `fleet start`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentDecl {
    pub runtime: Option<String>,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub workdir: Option<String>,
    pub command: Option<CommandSource>,
    pub processes: Option<Vec<String>>,
    pub restart: Option<RestartPolicy>,
    pub host: Option<String>,
}

/// `[defaults]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    pub runtime: Option<String>,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub workdir: Option<String>,
    pub restart: Option<RestartPolicy>,
    pub host: Option<String>,
}

/// A declared agent: its spec and where the file says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredAgent {
    pub spec: AgentSpec,
    /// What the file says, before defaults: `fleet start` overrides on it.
    pub decl: AgentDecl,
    /// Line of the `[agents.NAME]` header.
    pub line: Option<usize>,
    /// Line of the agent's `workdir` key, else of `[defaults]` workdir.
    pub workdir_line: Option<usize>,
}

/// What a fleet file is read against that is not in it: facts of the host
/// it is read on, gathered by the caller, so that reading one reads no
/// system state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Here {
    /// The home directory, for `~` in paths.
    pub home: Option<PathBuf>,
    /// This machine's name: an agent placed on it is local.
    pub host: String,
    /// The `fleet-stub` installed beside this `fleet`, if any.
    pub stub: Option<PathBuf>,
    /// Set when the file is read on a host on behalf of the operator's
    /// (`fleet` over ssh): that host's name. Agents placed nowhere live
    /// there, not here.
    pub control: Option<String>,
}

/// The desired state: everything a fleet file declares, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    pub path: Option<PathBuf>,
    /// Relative workdirs are relative to this: the fleet file's directory.
    pub base_dir: PathBuf,
    pub home: Option<PathBuf>,
    pub defaults: Defaults,
    pub runtimes: BTreeMap<String, Runtime>,
    pub agents: BTreeMap<AgentName, DeclaredAgent>,
    pub hosts: BTreeMap<String, Host>,
    pub policy: Vec<ModelRule>,
    pub notify: Option<Notify>,
    /// This machine's name, given by the caller so that parsing reads no
    /// system state: an agent placed on it is local.
    pub local_host: String,
    /// The operator's host, when the file is read elsewhere on its behalf:
    /// agents placed nowhere (or on `localhost`) live there.
    pub control_host: Option<String>,
}

impl Fleet {
    /// A fleet with no file: built-in runtimes and defaults only.
    pub fn empty(base_dir: PathBuf, here: Here) -> Self {
        Self {
            path: None,
            base_dir,
            home: here.home,
            defaults: Defaults::default(),
            runtimes: runtime::builtins(here.stub.as_deref()),
            agents: BTreeMap::new(),
            hosts: BTreeMap::new(),
            notify: None,
            policy: vec![ModelRule::builtin()],
            local_host: here.host,
            control_host: here.control,
        }
    }

    /// Reads and checks a fleet file.
    pub fn load(path: &Path, here: Here) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read the fleet file: {e}"),
        })?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base_dir = std::fs::canonicalize(&base_dir).unwrap_or(base_dir);
        Self::parse(&text, path, base_dir, here)
    }

    /// Checks fleet-file text; `path` is used only in messages. Tables are
    /// checked before what names them: runtimes, then hosts and policy, then
    /// the agents, each resolved as it is read.
    pub fn parse(
        text: &str,
        path: &Path,
        base_dir: PathBuf,
        here: Here,
    ) -> Result<Self, FileError> {
        let src = Source::new(text, path);
        let raw: RawFile = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        let mut fleet = Fleet::empty(base_dir, here);
        fleet.path = Some(path.to_path_buf());
        fleet.defaults = parse_defaults(&src, &raw.defaults)?;
        for (name, raw_runtime) in &raw.runtimes {
            let builtin = fleet.runtimes.get(name.get_ref()).cloned();
            let runtime = parse_runtime(&src, name, raw_runtime, builtin.as_ref())?;
            fleet.runtimes.insert(name.get_ref().clone(), runtime);
        }
        check_default_runtime(&src, &raw.defaults, &fleet.runtimes)?;
        fleet.hosts = parse_hosts(&src, &raw.hosts)?;
        fleet.policy = parse_policy(&src, &raw.policy, &fleet.runtimes)?;
        fleet.notify = raw
            .notify
            .as_ref()
            .map(|n| parse_notify(&src, n))
            .transpose()?;
        for (name, raw_agent) in &raw.agents {
            let (name, agent) = fleet.declare(&src, name, raw_agent, &raw.defaults)?;
            fleet.agents.insert(name, agent);
        }
        Ok(fleet)
    }

    /// One `[agents.NAME]`, resolved against the tables read before it. A
    /// resolution error points at the key it is about.
    fn declare(
        &self,
        src: &Source,
        name: &Spanned<String>,
        raw: &RawAgent,
        defaults: &RawDefaults,
    ) -> Result<(AgentName, DeclaredAgent), FileError> {
        let header = name.span().start;
        let agent_name =
            AgentName::parse(name.get_ref()).map_err(|e| src.error(Some(header), e.to_string()))?;
        let table = format!("[agents.{agent_name}]");
        let decl = agent_decl(src, raw, &table)?;
        let spec = self.resolve(&agent_name, &decl).map_err(|e| {
            let key = e.key();
            let offset = key_offset(key, raw, defaults).unwrap_or(header);
            let message = format!("{table} {}: {}", key.name(), e.with_file_fix());
            src.error(Some(offset), message)
        })?;
        let workdir_line = raw
            .workdir
            .as_ref()
            .or(defaults.workdir.as_ref())
            .map(|s| src.line(s.span().start));
        let agent = DeclaredAgent {
            spec,
            decl,
            line: Some(src.line(header)),
            workdir_line,
        };
        Ok((agent_name, agent))
    }

    /// `~` and `~/…` become the home directory; relative paths are taken
    /// from the fleet file's directory.
    pub fn expand_path(&self, text: &str) -> PathBuf {
        let expanded = match (text.strip_prefix('~'), &self.home) {
            (Some(""), Some(home)) => home.clone(),
            (Some(rest), Some(home)) if rest.starts_with('/') => {
                home.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(text),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base_dir.join(expanded)
        }
    }

    /// The declared agents that live on this host.
    pub fn local_agents(&self) -> impl Iterator<Item = &DeclaredAgent> {
        self.agents.values().filter(|a| a.spec.host.is_none())
    }

    /// Is `name` this machine, so an agent placed there is local?
    pub fn is_local_host(&self, name: &str) -> bool {
        match &self.control_host {
            Some(_) => name == self.local_host,
            None => name == "localhost" || name == self.local_host,
        }
    }

    /// The host a declared agent lives on, by its name in the file: the
    /// operator's own host is `local_host` (or `control_host` when read
    /// elsewhere).
    pub fn host_name_of<'a>(&'a self, agent: &'a DeclaredAgent) -> &'a str {
        agent.spec.host.as_deref().unwrap_or(&self.local_host)
    }
}

/// The text being checked and the path its errors name.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
    /// Byte offsets of the text's line breaks, so that finding the line of
    /// an offset is a binary search, not a scan of the text: every agent
    /// asks for its line, and a scan each made reading quadratic.
    breaks: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        let breaks = memchr_all(text.as_bytes(), b'\n');
        Self { text, path, breaks }
    }

    /// A mistake at a byte offset of the text, reported by line.
    fn error(&self, offset: Option<usize>, message: String) -> FileError {
        FileError {
            path: self.path.to_path_buf(),
            line: offset.map(|o| self.line(o)),
            message,
        }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.breaks.partition_point(|&b| b < offset) + 1
    }

    /// The TOML parser's complaint, in the fleet's words.
    fn toml_error(&self, e: &toml::de::Error) -> FileError {
        let offset = e.span().map(|s| s.start);
        self.error(offset, describe_toml_error(self.text, offset, e.message()))
    }
}

/// `[defaults]`. Its runtime is checked once the runtimes are known.
fn parse_defaults(src: &Source, raw: &RawDefaults) -> Result<Defaults, FileError> {
    let table = "[defaults]";
    let plain = Plain { src, table };
    plain.check("runtime", raw.runtime.as_ref())?;
    plain.check("model", raw.model.as_ref())?;
    plain.check("effort", raw.effort.as_ref())?;
    plain.check("workdir", raw.workdir.as_ref())?;
    plain.check("host", raw.host.as_ref())?;
    Ok(Defaults {
        runtime: raw.runtime.as_ref().map(|s| s.get_ref().clone()),
        model: raw.model.as_ref().map(|s| s.get_ref().clone()),
        effort: raw.effort.as_ref().map(|s| s.get_ref().clone()),
        workdir: raw.workdir.as_ref().map(|s| s.get_ref().clone()),
        restart: parse_restart(src, raw.restart.as_ref(), "[defaults]")?,
        host: raw.host.as_ref().map(|s| s.get_ref().clone()),
    })
}

/// One `[runtimes.NAME]`: a new runtime, or changes to the built-in one of
/// that name, whose command, processes and fallbacks stand unless replaced.
fn parse_runtime(
    src: &Source,
    name: &Spanned<String>,
    raw: &RawRuntime,
    builtin: Option<&Runtime>,
) -> Result<Runtime, FileError> {
    let at = Some(name.span().start);
    let name = name.get_ref();
    if !is_plain_name(name) {
        return Err(src.error(
            at,
            format!(
                "runtime name {} is invalid: use lowercase letters, digits, '-' and '_'",
                quoted(name)
            ),
        ));
    }
    let table = format!("[runtimes.{name}]");
    let plain = Plain { src, table: &table };
    plain.check_command(raw.command.as_ref())?;
    plain.check("model", raw.model.as_ref())?;
    plain.check("effort", raw.effort.as_ref())?;
    plain.check_list("processes", raw.processes.as_ref())?;
    let command = runtime_command(src, name, at, raw, builtin)?;
    let processes = match (&raw.processes, builtin) {
        (Some(p), _) => p.get_ref().clone(),
        (None, Some(b)) if raw.command.is_none() => b.processes.clone(),
        _ => default_processes(&command, builtin),
    };
    Ok(Runtime {
        waiting: runtime_waiting(src, name, raw, builtin)?,
        command,
        processes,
        model: raw.model.as_ref().map(|s| s.get_ref().clone()),
        effort: raw.effort.as_ref().map(|s| s.get_ref().clone()),
        fallback_model: builtin.and_then(|b| b.fallback_model.clone()),
        fallback_effort: builtin.and_then(|b| b.fallback_effort.clone()),
    })
}

/// A runtime's command template. Its shape is checked now; its fields are
/// filled per agent.
fn runtime_command(
    src: &Source,
    name: &str,
    at: Option<usize>,
    raw: &RawRuntime,
    builtin: Option<&Runtime>,
) -> Result<String, FileError> {
    let command = match (&raw.command, builtin) {
        (Some(c), _) => c.get_ref().clone(),
        (None, Some(b)) => b.command.clone(),
        (None, None) => {
            return Err(src.error(
                at,
                format!(
                    "[runtimes.{name}] has no command: add command = \"program --model {{model}}\""
                ),
            ));
        }
    };
    let command_at = raw.command.as_ref().map(|c| c.span().start).or(at);
    runtime::fill(&command, Some("m"), Some("e"))
        .map_err(|e| src.error(command_at, format!("[runtimes.{name}] {e}")))?;
    Ok(command)
}

/// The built-in runtime's waiting patterns, and the file's, which must
/// compile.
fn runtime_waiting(
    src: &Source,
    name: &str,
    raw: &RawRuntime,
    builtin: Option<&Runtime>,
) -> Result<Vec<String>, FileError> {
    let mut waiting = builtin.map(|b| b.waiting.clone()).unwrap_or_default();
    if let Some(extra) = &raw.waiting {
        crate::core::signals::screen::compile(extra.get_ref())
            .map_err(|e| src.error(Some(extra.span().start), format!("[runtimes.{name}] {e}")))?;
        waiting.extend(extra.get_ref().iter().cloned());
    }
    Ok(waiting)
}

/// `[defaults]` may only name a runtime that exists.
fn check_default_runtime(
    src: &Source,
    raw: &RawDefaults,
    runtimes: &BTreeMap<String, Runtime>,
) -> Result<(), FileError> {
    match &raw.runtime {
        Some(rt) if !runtimes.contains_key(rt.get_ref()) => Err(src.error(
            Some(rt.span().start),
            unknown_runtime(rt.get_ref(), "[defaults]", runtimes),
        )),
        _ => Ok(()),
    }
}

/// `[hosts.NAME]`, each with the ssh destination that reaches it.
fn parse_hosts(
    src: &Source,
    raw: &BTreeMap<Spanned<String>, RawHost>,
) -> Result<BTreeMap<String, Host>, FileError> {
    let mut hosts: BTreeMap<String, Host> = BTreeMap::new();
    for (name, raw_host) in raw {
        let host = parse_host(src, name, raw_host)?;
        // Two names for one fleet would each act on the other's agents.
        let same = |other: &Host| {
            other.ssh == host.ssh && other.port == host.port && other.socket == host.socket
        };
        if let Some((first, _)) = hosts.iter().find(|(_, other)| same(other)) {
            return Err(src.error(
                Some(name.span().start),
                format!(
                    "[hosts.{}] reaches the same fleet as [hosts.{first}] (same ssh, port and socket): use one name, or another socket",
                    name.get_ref()
                ),
            ));
        }
        hosts.insert(name.get_ref().clone(), host);
    }
    Ok(hosts)
}

fn parse_host(src: &Source, name: &Spanned<String>, raw: &RawHost) -> Result<Host, FileError> {
    let at = Some(name.span().start);
    let name = name.get_ref();
    if !is_host_name(name) {
        return Err(src.error(
            at,
            format!(
                "host name {} is invalid: use letters, digits, '.', '-' and '_'",
                quoted(name)
            ),
        ));
    }
    let table = format!("[hosts.{name}]");
    Plain { src, table: &table }.check("ssh", Some(&raw.ssh))?;
    let ssh = raw.ssh.get_ref().trim();
    // A leading '-' would reach ssh as an option.
    if ssh.is_empty() || ssh.starts_with('-') {
        return Err(src.error(
            Some(raw.ssh.span().start),
            format!(
                "[hosts.{name}] ssh = {:?} is not an ssh destination: use \"user@host\"",
                raw.ssh.get_ref()
            ),
        ));
    }
    plain_host(src, &table, raw)?;
    let port = match &raw.port {
        Some(p) => Some(
            u16::try_from(*p.get_ref())
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| {
                    src.error(
                        Some(p.span().start),
                        format!(
                            "{table} port = {} is not a port: use 1 to 65535",
                            p.get_ref()
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let timeout = match &raw.timeout {
        Some(t) => Some(
            humantime::parse_duration(t.get_ref().trim())
                .ok()
                .filter(|d| !d.is_zero() && d.as_secs() <= 3600)
                .ok_or_else(|| {
                    src.error(
                        Some(t.span().start),
                        format!(
                            "{table} timeout = {:?} is not a duration: use one like \"3s\" or \"500ms\" (at most 1h)",
                            t.get_ref()
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().trim().to_string());
    Ok(Host {
        ssh: ssh.to_string(),
        port,
        fleet: text(&raw.fleet),
        socket: text(&raw.socket),
        home: text(&raw.home),
        timeout,
    })
}

/// A host's paths and socket: plain text, never empty, never an option.
fn plain_host(src: &Source, table: &str, raw: &RawHost) -> Result<(), FileError> {
    let plain = Plain { src, table };
    for (key, value) in [
        ("fleet", &raw.fleet),
        ("socket", &raw.socket),
        ("home", &raw.home),
    ] {
        plain.check(key, value.as_ref())?;
        if let Some(v) = value {
            let t = v.get_ref().trim();
            let bad_socket = key == "socket"
                && !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if t.is_empty() || t.starts_with('-') || bad_socket {
                return Err(src.error(
                    Some(v.span().start),
                    format!(
                        "{table} {key} = {:?} is not usable: {}",
                        v.get_ref(),
                        match key {
                            "socket" => "use letters, digits, '.', '-' and '_'",
                            _ => "give a path",
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `[notify]`: a command (argv, run without a shell), the event words it
/// runs on, how often at most per agent, and how long it may take.
fn parse_notify(src: &Source, raw: &RawNotify) -> Result<Notify, FileError> {
    let plain = Plain {
        src,
        table: "[notify]",
    };
    plain.check_list("command", Some(&raw.command))?;
    plain.check_list("on", raw.on.as_ref())?;
    if raw
        .command
        .get_ref()
        .first()
        .is_none_or(|p| p.trim().is_empty())
    {
        return Err(src.error(
            Some(raw.command.span().start),
            "[notify] command is empty: give the program and its arguments, e.g. [\"notify-send\", \"fleet\"]".into(),
        ));
    }
    let known: Vec<&str> = crate::core::vocab::EventKind::KNOWN
        .iter()
        .map(|k| k.word())
        // Not transitions a supervisor of one host sees.
        .filter(|w| !matches!(*w, "missing" | "unreachable" | "reachable"))
        .collect();
    let on: Vec<String> = match &raw.on {
        Some(list) => {
            if let Some(bad) = list.get_ref().iter().find(|w| !known.contains(&w.as_str())) {
                return Err(src.error(
                    Some(list.span().start),
                    format!(
                        "[notify] on: {} is not an event: use some of {}",
                        quoted(bad),
                        known.join(", ")
                    ),
                ));
            }
            list.get_ref().clone()
        }
        None => NOTIFY_ON.iter().map(|w| w.to_string()).collect(),
    };
    let duration = |key: &str, value: &Option<Spanned<String>>, default: u64| match value {
        None => Ok(std::time::Duration::from_secs(default)),
        Some(text) => humantime::parse_duration(text.get_ref())
            .ok()
            .or_else(|| {
                text.get_ref()
                    .parse::<u64>()
                    .ok()
                    .map(std::time::Duration::from_secs)
            })
            .ok_or_else(|| {
                src.error(
                    Some(text.span().start),
                    format!(
                        "[notify] {key} = {} is not a duration: use e.g. \"30s\" or \"5m\"",
                        quoted(text.get_ref())
                    ),
                )
            }),
    };
    Ok(Notify {
        command: raw.command.get_ref().clone(),
        on,
        every: duration("every", &raw.every, 60)?,
        timeout: duration("timeout", &raw.timeout, 10)?,
    })
}

/// `[[policy.models]]`. The built-in rule stands unless the file speaks
/// about the same models.
fn parse_policy(
    src: &Source,
    raw: &RawPolicy,
    runtimes: &BTreeMap<String, Runtime>,
) -> Result<Vec<ModelRule>, FileError> {
    let mut policy = raw
        .models
        .iter()
        .map(|rule| parse_rule(src, rule, runtimes))
        .collect::<Result<Vec<_>, _>>()?;
    if !policy
        .iter()
        .any(|r| r.pattern == ModelRule::builtin().pattern)
    {
        policy.push(ModelRule::builtin());
    }
    Ok(policy)
}

fn parse_rule(
    src: &Source,
    rule: &RawModelRule,
    runtimes: &BTreeMap<String, Runtime>,
) -> Result<ModelRule, FileError> {
    if rule.pattern.get_ref().is_empty() {
        return Err(src.error(
            Some(rule.pattern.span().start),
            "[[policy.models]] pattern is empty: use a model glob such as \"anthropic/*\"".into(),
        ));
    }
    if let Some(rt) = rule
        .runtimes
        .get_ref()
        .iter()
        .find(|rt| !runtimes.contains_key(*rt))
    {
        return Err(src.error(
            Some(rule.runtimes.span().start),
            unknown_runtime(rt, "[[policy.models]]", runtimes),
        ));
    }
    Ok(ModelRule {
        pattern: rule.pattern.get_ref().clone(),
        runtimes: rule.runtimes.get_ref().clone(),
    })
}

/// What an `[agents.NAME]` table says, before defaults.
fn agent_decl(src: &Source, raw: &RawAgent, table: &str) -> Result<AgentDecl, FileError> {
    let plain = Plain { src, table };
    plain.check("runtime", raw.runtime.as_ref())?;
    plain.check("model", raw.model.as_ref())?;
    plain.check("effort", raw.effort.as_ref())?;
    plain.check("workdir", raw.workdir.as_ref())?;
    plain.check_command(raw.command.as_ref())?;
    plain.check_list("processes", raw.processes.as_ref())?;
    plain.check("host", raw.host.as_ref())?;
    let text = |s: &Spanned<String>| s.get_ref().clone();
    Ok(AgentDecl {
        runtime: raw.runtime.as_ref().map(text),
        model: raw.model.as_ref().map(text),
        effort: raw.effort.as_ref().map(text),
        workdir: raw.workdir.as_ref().map(text),
        command: raw
            .command
            .as_ref()
            .map(|s| CommandSource::Template(text(s))),
        processes: raw.processes.as_ref().map(|p| p.get_ref().clone()),
        restart: parse_restart(src, raw.restart.as_ref(), table)?,
        host: raw.host.as_ref().map(text),
    })
}

/// Where a resolution error about `key` lies: at the agent's key, or for a
/// runtime it inherited, at the one in `[defaults]`.
fn key_offset(key: DeclKey, raw: &RawAgent, defaults: &RawDefaults) -> Option<usize> {
    let start = |s: &Spanned<String>| s.span().start;
    match key {
        DeclKey::Runtime => raw
            .runtime
            .as_ref()
            .or(defaults.runtime.as_ref())
            .map(start),
        DeclKey::Command => raw.command.as_ref().map(start),
        DeclKey::Host => raw.host.as_ref().or(defaults.host.as_ref()).map(start),
    }
}

pub(super) fn extend_unique(into: &mut Vec<String>, more: &[String]) {
    for p in more {
        if !into.contains(p) {
            into.push(p.clone());
        }
    }
}

/// An overridden command counts as in front under its own program name, and
/// under the runtime's names (the runtime may be what it wraps).
pub(super) fn default_processes(command: &str, runtime: Option<&Runtime>) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(first) = shlex::split(command).and_then(|w| w.into_iter().next()) {
        p.push(runtime::process_name(&first));
    }
    if let Some(rt) = runtime {
        extend_unique(&mut p, &rt.processes);
    }
    p
}

fn unknown_runtime(name: &str, table: &str, runtimes: &BTreeMap<String, Runtime>) -> String {
    format!("{table} {}", ResolveError::unknown_runtime(name, runtimes))
}

fn parse_restart(
    src: &Source,
    value: Option<&Spanned<String>>,
    table: &str,
) -> Result<Option<RestartPolicy>, FileError> {
    let Some(value) = value else { return Ok(None) };
    match value.get_ref().as_str() {
        "never" => Ok(Some(RestartPolicy::Never)),
        "on-failure" => Ok(Some(RestartPolicy::OnFailure)),
        "always" => Ok(Some(RestartPolicy::Always)),
        other => Err(src.error(
            Some(value.span().start),
            format!(
                "{table} restart = {other:?} is not a policy: use \"never\", \"on-failure\" or \"always\""
            ),
        )),
    }
}

/// Checks the texts of one table that reach tmux and the agent's argv. A
/// control character has no business there: NUL cannot be passed to a
/// program at all (tmux refused the whole launch, and every agent in it,
/// without naming any), and the others garble panes, tables and logs.
struct Plain<'s, 'a> {
    src: &'s Source<'a>,
    table: &'s str,
}

impl Plain<'_, '_> {
    fn check(&self, key: &str, value: Option<&Spanned<String>>) -> Result<(), FileError> {
        match value {
            Some(v) => self.text(key, v.span().start, v.get_ref(), false),
            None => Ok(()),
        }
    }

    /// A command template may break lines and use tabs between its words.
    fn check_command(&self, value: Option<&Spanned<String>>) -> Result<(), FileError> {
        match value {
            Some(v) => self.text("command", v.span().start, v.get_ref(), true),
            None => Ok(()),
        }
    }

    fn check_list(&self, key: &str, value: Option<&Spanned<Vec<String>>>) -> Result<(), FileError> {
        let Some(list) = value else { return Ok(()) };
        list.get_ref()
            .iter()
            .try_for_each(|item| self.text(key, list.span().start, item, false))
    }

    fn text(&self, key: &str, at: usize, text: &str, spacing: bool) -> Result<(), FileError> {
        let bad = text
            .chars()
            .find(|&c| c.is_control() && !(spacing && matches!(c, '\t' | '\n' | '\r')));
        match bad {
            Some(c) => Err(self.src.error(
                Some(at),
                format!(
                    "{} {key} contains the control character U+{:04X}: remove it",
                    self.table, c as u32
                ),
            )),
            None => Ok(()),
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    AgentName::parse(name).is_ok()
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The offsets of every `byte` in `text`.
fn memchr_all(text: &[u8], byte: u8) -> Vec<usize> {
    text.iter()
        .enumerate()
        .filter(|&(_, &b)| b == byte)
        .map(|(i, _)| i)
        .collect()
}

/// The `[table]` header in force at `offset`, for messages.
fn table_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    // Only whole lines above the error: a header with the error in it is
    // itself the unknown key.
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| match l.find(']') {
            Some(i) if l.starts_with("[[") => l[..(i + 2).min(l.len())].to_string(),
            Some(i) => l[..=i].to_string(),
            None => l.to_string(),
        })
}

/// Turns serde's wording into the fleet's: `unknown key "procsses" in
/// [agents.scout]: expected one of …`.
fn describe_toml_error(text: &str, offset: Option<usize>, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, expected)) = rest.split_once('`')
    {
        let table = offset
            .and_then(|o| table_at(text, o))
            .map(|t| format!(" in {t}"))
            .unwrap_or_else(|| " at the top level".into());
        let expected = expected
            .trim_start_matches(", ")
            .replace('`', "")
            .replace("expected ", "");
        return format!("unknown key {key:?}{table}: expected {expected}");
    }
    let table = offset
        .and_then(|o| table_at(text, o))
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    format!("{table}{}", message.trim())
}

// The file as written. Unknown keys are errors.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    runtimes: BTreeMap<Spanned<String>, RawRuntime>,
    #[serde(default)]
    agents: BTreeMap<Spanned<String>, RawAgent>,
    #[serde(default)]
    hosts: BTreeMap<Spanned<String>, RawHost>,
    #[serde(default)]
    policy: RawPolicy,
    notify: Option<RawNotify>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    command: Spanned<Vec<String>>,
    on: Option<Spanned<Vec<String>>>,
    every: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    runtime: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    effort: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    command: Option<Spanned<String>>,
    processes: Option<Spanned<Vec<String>>>,
    waiting: Option<Spanned<Vec<String>>>,
    model: Option<Spanned<String>>,
    effort: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    runtime: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    effort: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    processes: Option<Spanned<Vec<String>>>,
    restart: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    ssh: Spanned<String>,
    port: Option<Spanned<i64>>,
    fleet: Option<Spanned<String>>,
    socket: Option<Spanned<String>>,
    home: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    models: Vec<RawModelRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelRule {
    pattern: Spanned<String>,
    runtimes: Spanned<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fleet, FileError> {
        Fleet::parse(
            text,
            Path::new("fleet.toml"),
            PathBuf::from("/base"),
            Here {
                home: Some(PathBuf::from("/home/op")),
                host: "this-host".into(),
                stub: None,
                control: None,
            },
        )
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn resolves_the_product_example() {
        let fleet = parse(
            r#"
[defaults]
runtime = "pi"
model   = "openai-codex/gpt-5.5"
effort  = "high"
workdir = "~/src/mosaic"

[runtimes.pi]
command   = "mosaic yolo pi --model {model}:{effort}"
processes = ["pi", "node"]

[agents.builder]
[agents.reviewer]
runtime = "codex"
restart = "on-failure"

[agents.scout]
host = "dragon-lin"

[agents.janitor]
command   = "my-agent --fast"
processes = ["my-agent"]

[hosts.dragon-lin]
ssh = "jason@dragon-lin"

[[policy.models]]
pattern  = "anthropic/*"
runtimes = ["claude"]
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let builder = &fleet.agents[&AgentName::parse("builder").unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(
            builder.spec.argv,
            [
                "mosaic",
                "yolo",
                "pi",
                "--model",
                "openai-codex/gpt-5.5:high"
            ]
        );
        assert_eq!(builder.spec.workdir, PathBuf::from("/home/op/src/mosaic"));
        assert_eq!(builder.line, Some(12));
        let reviewer =
            &fleet.agents[&AgentName::parse("reviewer").unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(reviewer.spec.restart, RestartPolicy::OnFailure);
        assert_eq!(reviewer.spec.processes, ["codex", "node"]);
        let scout = &fleet.agents[&AgentName::parse("scout").unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(scout.spec.host.as_deref(), Some("dragon-lin"));
        let janitor = &fleet.agents[&AgentName::parse("janitor").unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(janitor.spec.argv, ["my-agent", "--fast"]);
        assert_eq!(janitor.spec.processes, ["my-agent"]);
        assert_eq!(fleet.policy.len(), 1);
        assert_eq!(fleet.local_agents().count(), 3);
    }

    #[test]
    fn names_file_line_and_key_of_an_unknown_key() {
        assert_eq!(
            error("[agents.scout]\nruntime = \"pi\"\nprocsses = [\"x\"]\n"),
            "fleet.toml:3: unknown key \"procsses\" in [agents.scout]: expected one of runtime, model, effort, workdir, command, processes, restart, host"
        );
        assert!(
            error("[agent.x]\n")
                .starts_with("fleet.toml:1: unknown key \"agent\" at the top level")
        );
    }

    #[test]
    fn names_an_unknown_runtime() {
        let e = error("[defaults]\nmodel = \"m\"\n\n[agents.a]\nruntime = \"gemini\"\n");
        assert!(
            e.starts_with("fleet.toml:5: [agents.a] runtime: unknown runtime \"gemini\": use one of claude, codex, pi, shell, stub"),
            "{e}"
        );
    }

    #[test]
    fn names_a_bad_agent_name() {
        let e = error("[agents.\"Bad;Name\"]\n");
        assert!(
            e.starts_with("fleet.toml:1: agent name \"Bad;Name\" is invalid"),
            "{e}"
        );
    }

    #[test]
    fn names_an_unfillable_template() {
        let e = error("[agents.a]\nruntime = \"shell\"\ncommand = \"x --m {modle}\"\n");
        assert_eq!(
            e,
            "fleet.toml:3: [agents.a] command: command uses {modle}, which is not a field: use {model} or {effort}"
        );
        let e = error("[agents.a]\nruntime = \"pi\"\n");
        assert_eq!(
            e,
            "fleet.toml:2: [agents.a] runtime: runtime \"pi\" needs a model: set model for the agent or in [defaults]"
        );
        let e = error("[runtimes.x]\ncommand = \"x 'open\"\n");
        assert!(e.starts_with("fleet.toml:2: [runtimes.x] command"), "{e}");
    }

    #[test]
    fn names_bad_values() {
        assert!(error("[agents.a]\nrestart = \"sometimes\"\n").starts_with("fleet.toml:2:"));
        assert!(
            error("[agents.a]\nruntime = \"stub\"\nhost = \"nowhere\"\n")
                .contains("host \"nowhere\" is not declared")
        );
        assert!(
            error("[[policy.models]]\npattern = \"x/*\"\nruntimes = [\"nope\"]\n")
                .contains("unknown runtime \"nope\"")
        );
        assert!(
            error("[agents.a]\nruntime = 3\n").starts_with("fleet.toml:2: [agents.a] invalid type")
        );
        assert!(error("[runtimes.mine]\nprocesses = [\"x\"]\n").contains("has no command"));
    }

    #[test]
    fn names_bad_tables_exactly() {
        for (text, message) in [
            (
                "[runtimes.\"Bad\"]\ncommand = \"x\"\n",
                "fleet.toml:1: runtime name \"Bad\" is invalid: use lowercase letters, digits, '-' and '_'",
            ),
            (
                "[runtimes.mine]\nprocesses = [\"x\"]\n",
                "fleet.toml:1: [runtimes.mine] has no command: add command = \"program --model {model}\"",
            ),
            (
                "[defaults]\nruntime = \"nope\"\n",
                "fleet.toml:2: [defaults] unknown runtime \"nope\": use one of claude, codex, pi, shell, stub or declare [runtimes.nope]",
            ),
            (
                "[hosts.\"bad host\"]\nssh = \"a@b\"\n",
                "fleet.toml:1: host name \"bad host\" is invalid: use letters, digits, '.', '-' and '_'",
            ),
            (
                "[hosts.h]\nssh = \"-oProxy\"\n",
                "fleet.toml:2: [hosts.h] ssh = \"-oProxy\" is not an ssh destination: use \"user@host\"",
            ),
            (
                "[[policy.models]]\npattern = \"\"\nruntimes = [\"pi\"]\n",
                "fleet.toml:2: [[policy.models]] pattern is empty: use a model glob such as \"anthropic/*\"",
            ),
            (
                "[defaults]\nrestart = \"often\"\n",
                "fleet.toml:2: [defaults] restart = \"often\" is not a policy: use \"never\", \"on-failure\" or \"always\"",
            ),
            (
                "[defaults]\nruntime = \"codex\"\n\n[agents.a]\n",
                "fleet.toml:2: [agents.a] runtime: runtime \"codex\" needs a model: set model for the agent or in [defaults]",
            ),
        ] {
            assert_eq!(error(text), message);
        }
    }

    #[test]
    fn a_host_table_takes_its_keys_and_refuses_bad_ones() {
        let fleet = parse(
            "[defaults]\nruntime = \"stub\"\nhost = \"h1\"\n\n[agents.a]\n\n[hosts.h1]\nssh = \"op@h1\"\nport = 2222\nfleet = \"~/bin/fleet\"\nsocket = \"fl\"\nhome = \"~/st\"\ntimeout = \"500ms\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let h1 = &fleet.hosts["h1"];
        assert_eq!(h1.port, Some(2222));
        assert_eq!(h1.fleet.as_deref(), Some("~/bin/fleet"));
        assert_eq!(h1.socket.as_deref(), Some("fl"));
        assert_eq!(h1.timeout, Some(std::time::Duration::from_millis(500)));
        // [defaults] host places every agent not placed otherwise.
        assert_eq!(
            fleet.agents[&AgentName::parse("a").unwrap_or_else(|e| panic!("{e}"))]
                .spec
                .host
                .as_deref(),
            Some("h1")
        );
        for (text, message) in [
            ("port = 0", "port = 0 is not a port"),
            ("port = 70000", "port = 70000 is not a port"),
            ("timeout = \"soon\"", "timeout = \"soon\" is not a duration"),
            ("socket = \"a/b\"", "socket = \"a/b\" is not usable"),
            (
                "fleet = \"-oProxyCommand=x\"",
                "fleet = \"-oProxyCommand=x\" is not usable",
            ),
            ("home = \"\"", "home = \"\" is not usable"),
            (
                "[hosts.h2]\nssh = \"op@h1\"",
                "[hosts.h2] reaches the same fleet as [hosts.h1]",
            ),
        ] {
            let e = error(&format!("[hosts.h1]\nssh = \"op@h1\"\n{text}\n"));
            assert!(e.contains(message), "{text}: {e}");
        }
    }

    #[test]
    fn the_local_host_is_the_one_handed_in() {
        let fleet = parse("[agents.a]\nruntime = \"stub\"\nhost = \"this-host\"\n\n[agents.b]\nruntime = \"stub\"\nhost = \"localhost\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fleet.local_agents().count(), 2);
        assert!(
            error("[agents.a]\nruntime = \"stub\"\nhost = \"other-host\"\n")
                .contains("host \"other-host\" is not declared")
        );
    }

    #[test]
    fn user_runtimes_fill_from_agents() {
        let fleet = parse(
            "[runtimes.mine]\ncommand = \"mine --m {model} --e {effort}\"\n\n[agents.a]\nruntime = \"mine\"\nmodel = \"x y\"\neffort = \"low\"\nworkdir = \"rel\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let a = &fleet.agents[&AgentName::parse("a").unwrap_or_else(|e| panic!("{e}"))].spec;
        assert_eq!(a.argv, ["mine", "--m", "x y", "--e", "low"]);
        assert_eq!(a.processes, ["mine"]);
        assert_eq!(a.workdir, PathBuf::from("/base/rel"));
    }

    #[test]
    fn defaults_beat_built_in_fallbacks_but_not_runtime_tables() {
        let fleet = parse(
            "[defaults]\nruntime = \"stub\"\nmodel = \"d/m\"\n\n[runtimes.stub]\ncommand = \"s {model} {effort}\"\n\n[runtimes.mine]\ncommand = \"m {model}\"\nmodel = \"r/m\"\n\n[agents.a]\n[agents.b]\nruntime = \"mine\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let spec = |n: &str| {
            fleet.agents[&AgentName::parse(n).unwrap_or_else(|e| panic!("{e}"))]
                .spec
                .clone()
        };
        assert_eq!(spec("a").argv, ["s", "d/m", "low"]);
        assert_eq!(spec("b").argv, ["m", "r/m"]);
    }

    #[test]
    fn reading_is_linear_in_the_number_of_agents() {
        // Each agent's line was found by counting line breaks from the top
        // of the file: 20,000 agents took seconds, 100,000 over a minute.
        let mut text = String::from("[defaults]\nruntime = \"stub\"\n\n");
        for i in 0..20_000 {
            text.push_str(&format!("[agents.a{i}]\nworkdir = \"w{i}\"\n"));
        }
        let started = std::time::Instant::now();
        let fleet = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let took = started.elapsed();
        let last = &fleet.agents[&AgentName::parse("a19999").unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(fleet.agents.len(), 20_000);
        assert_eq!((last.line, last.workdir_line), (Some(40_002), Some(40_003)));
        assert!(
            took < std::time::Duration::from_secs(3),
            "20,000 agents took {took:?}"
        );
    }

    #[test]
    fn lines_are_counted_from_one_and_at_line_breaks() {
        let src = Source::new("a\nbc\n\nd", Path::new("f"));
        let lines: Vec<usize> = (0..=8).map(|o| src.line(o)).collect();
        assert_eq!(lines, [1, 1, 2, 2, 2, 3, 4, 4, 4]);
    }

    #[test]
    fn control_characters_are_refused_with_file_line_and_key() {
        for (text, message) in [
            (
                "[agents.a]\nruntime = \"stub\"\neffort = \"\\u0000\"\n",
                "fleet.toml:3: [agents.a] effort contains the control character U+0000: remove it",
            ),
            (
                "[agents.a]\nruntime = \"stub\"\nmodel = \"m\\u001b[31m\"\n",
                "fleet.toml:3: [agents.a] model contains the control character U+001B: remove it",
            ),
            (
                "[agents.a]\nruntime = \"shell\"\ncommand = \"x\\u0000\"\n",
                "fleet.toml:3: [agents.a] command contains the control character U+0000: remove it",
            ),
            (
                "[agents.a]\nruntime = \"stub\"\nworkdir = \"/tmp/\\n\"\n",
                "fleet.toml:3: [agents.a] workdir contains the control character U+000A: remove it",
            ),
            (
                "[agents.a]\nruntime = \"stub\"\nprocesses = [\"ok\", \"b\\u007f\"]\n",
                "fleet.toml:3: [agents.a] processes contains the control character U+007F: remove it",
            ),
            (
                "[agents.a]\nruntime = \"stub\"\nhost = \"h\\u0000\"\n",
                "fleet.toml:3: [agents.a] host contains the control character U+0000: remove it",
            ),
            (
                "[agents.a]\nruntime = \"st\\u0000ub\"\n",
                "fleet.toml:2: [agents.a] runtime contains the control character U+0000: remove it",
            ),
            (
                "[defaults]\nruntime = \"stub\"\neffort = \"\\u0000\"\n\n[agents.a]\n",
                "fleet.toml:3: [defaults] effort contains the control character U+0000: remove it",
            ),
            (
                "[defaults]\nworkdir = \"\\u0000\"\n",
                "fleet.toml:2: [defaults] workdir contains the control character U+0000: remove it",
            ),
            (
                "[defaults]\nmodel = \"\\u0085\"\n",
                "fleet.toml:2: [defaults] model contains the control character U+0085: remove it",
            ),
            (
                "[runtimes.mine]\ncommand = \"mine {model}\\u0000\"\n",
                "fleet.toml:2: [runtimes.mine] command contains the control character U+0000: remove it",
            ),
            (
                "[runtimes.pi]\nmodel = \"\\u0000\"\n",
                "fleet.toml:2: [runtimes.pi] model contains the control character U+0000: remove it",
            ),
            (
                "[runtimes.pi]\neffort = \"\\u0001\"\n",
                "fleet.toml:2: [runtimes.pi] effort contains the control character U+0001: remove it",
            ),
            (
                "[runtimes.pi]\nprocesses = [\"\\u0000\"]\n",
                "fleet.toml:2: [runtimes.pi] processes contains the control character U+0000: remove it",
            ),
            (
                "[hosts.h]\nssh = \"a@b\\u0000\"\n",
                "fleet.toml:2: [hosts.h] ssh contains the control character U+0000: remove it",
            ),
        ] {
            assert_eq!(error(text), message, "{text}");
        }
    }

    #[test]
    fn a_command_may_space_its_words_with_tabs_and_line_breaks() {
        let fleet = parse(
            "[agents.a]\nruntime = \"shell\"\ncommand = \"\"\"\nmy-agent\t--fast\n  --x\"\"\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let a = &fleet.agents[&AgentName::parse("a").unwrap_or_else(|e| panic!("{e}"))].spec;
        assert_eq!(a.argv, ["my-agent", "--fast", "--x"]);
    }

    #[test]
    fn globs() {
        assert!(glob_match("anthropic/*", "anthropic/claude-opus"));
        assert!(!glob_match("anthropic/*", "openai/gpt"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "ac"));
        assert!(glob_match("exact", "exact"));
    }
}
