//! The fleet's hosts: this one, whose agents the core runs in-process, and
//! the others the fleet file declares, each reached over ssh where its own
//! `fleet` runs the same operation on the host's share of the fleet.
//!
//! Theory of operation. A command first makes a [`Plan`]: which hosts it
//! covers (all by default, `--host` narrows) and which of the named agents
//! each one gets (an agent's host is where the fleet file places it, or
//! `NAME@HOST`). The other hosts are asked all at once, one ssh round trip
//! each, while this host does its share; a host that does not answer in
//! its bound is [`Unreachable`] and never holds up the rest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::Fleet;
use crate::core::error::Error;
use crate::core::host::remote::{PROTOCOL, Request, SentFile, VERSION};
use crate::core::host::ssh::{SshHost, Stream, Unreachable};
use crate::core::ops::Core;
use crate::core::rows::AgentRow;
use crate::core::vocab::Status;

/// Which hosts a command covers, and the agents it names on each.
#[derive(Debug, Clone)]
pub struct Plan {
    /// This host's share: `None` when it is not covered; an empty list is
    /// every agent (no names were given).
    pub here: Option<Vec<AgentName>>,
    /// The other hosts' shares, in the fleet file's order.
    pub there: Vec<(SshHost, Vec<AgentName>)>,
}

impl Plan {
    /// Only this host, all its agents: a fleet with no other hosts.
    pub fn here_only(names: Vec<AgentName>) -> Self {
        Self {
            here: Some(names),
            there: Vec::new(),
        }
    }

    pub fn is_local(&self) -> bool {
        self.there.is_empty()
    }
}

/// What one other host answered to one command.
#[derive(Debug, Clone)]
pub struct HostAnswer {
    pub host: String,
    /// Its stdout and stderr lines, in order within each.
    pub out: Vec<String>,
    pub err: Vec<String>,
    /// Its exit status, or why it gave none.
    pub result: Result<i32, Unreachable>,
}

impl HostAnswer {
    /// Its fleet's own error, when it answered with one (exit `code`).
    pub fn failure(&self, code: i32) -> Unreachable {
        let said = self
            .err
            .iter()
            .rev()
            .find(|l| l.starts_with("fleet: error: "))
            .or(self.err.last())
            .map(|l| l.strip_prefix("fleet: error: ").unwrap_or(l))
            .map(|l| l.chars().take(300).collect::<String>())
            .unwrap_or_else(|| format!("exit {code}"));
        Unreachable::Failed(said)
    }

    pub fn stdout(&self) -> String {
        let mut text = self.out.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }
}

/// How long a host's fleet has, after its hello, to finish a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A look (`ps`, `verify`, `peek`…): the host's timeout and a margin
    /// for the work (its own tmux calls are bounded too).
    Read,
    /// A change (`up`, `start`, `send`…): launches wait out their grace.
    Change,
    /// A command that follows (`watch`, `logs -f`, `wait`): none.
    Follow,
    /// A command that ends by itself within this long (`wait --timeout`).
    Within(Duration),
}

/// What a look may take on a host beyond its timeout.
pub const READ_MARGIN: Duration = Duration::from_secs(10);
/// What a change may take on a host.
pub const CHANGE_BOUND: Duration = Duration::from_secs(600);
/// The most of one host's answer kept in memory to read at once.
pub const MAX_KEPT: usize = 32 * 1024 * 1024;
/// The most one host may print for a look shown as it comes (`peek`,
/// `logs`, `explain`: a transcript is at most 16 MiB).
pub const MAX_SHOWN: usize = 64 * 1024 * 1024;

impl Bound {
    /// How much of the answer may be shown (a look ends; what follows does
    /// not, and holds nothing).
    pub fn shown(self) -> Option<usize> {
        match self {
            Bound::Read => Some(MAX_SHOWN),
            _ => None,
        }
    }
}

impl Bound {
    pub fn after_hello(self, host: &SshHost) -> Option<Duration> {
        match self {
            Bound::Read => Some(host.timeout() + READ_MARGIN),
            Bound::Change => Some(CHANGE_BOUND),
            Bound::Follow => None,
            Bound::Within(d) => Some(d + host.timeout() + READ_MARGIN),
        }
    }
}

/// The hosts that did not answer, and why.
pub type Unanswered = Vec<(String, Unreachable)>;

/// `NAME@HOST`, or a name whose host the fleet file says.
pub fn split_name(raw: &str) -> (&str, Option<&str>) {
    match raw.rsplit_once('@') {
        Some((name, host)) if !host.is_empty() => (name, Some(host)),
        _ => (raw, None),
    }
}

impl Core {
    /// This host's name, as rows and the other hosts know it.
    pub fn here_name(&self) -> &str {
        self.host().name()
    }

    /// The other hosts of the fleet file, by name.
    pub fn other_hosts(&self, fleet: &Fleet) -> BTreeMap<String, SshHost> {
        let control_dir = self.ssh_control_dir();
        let hosts: BTreeMap<String, SshHost> = fleet
            .hosts
            .iter()
            .filter(|(name, _)| !fleet.is_local_host(name))
            .filter(|_| self.settings.control_host.is_none())
            .map(|(name, host)| {
                let ssh = SshHost::new(
                    name,
                    host,
                    self.settings.host_timeout,
                    control_dir.clone(),
                    self.settings.ssh_config.clone(),
                );
                (name.clone(), ssh)
            })
            .collect();
        if let Some(dir) = control_dir.filter(|_| hosts.values().any(|h| !h.shares())) {
            self.warn(crate::core::error::Warning::NotShared { dir });
        }
        hosts
    }

    /// Where shared ssh connections keep their sockets: `$FLEET_HOME/ssh`,
    /// private (none without a state directory: each command connects).
    fn ssh_control_dir(&self) -> Option<PathBuf> {
        let home = self.require_home().ok()?;
        let dir = home.root().join("ssh");
        crate::core::store::private::dir(home.root(), &dir).ok()?;
        Some(dir)
    }

    /// The hosts a command covers and the agents it names on each. `names`
    /// may say `NAME@HOST`; `only` narrows to those hosts (this one by its
    /// name or `localhost`).
    pub fn plan(&self, fleet: &Fleet, names: &[String], only: &[String]) -> Result<Plan, Error> {
        let mut others = self.other_hosts(fleet);
        let here = self.here_name().to_string();
        let is_here = |h: &str| h == here || fleet.is_local_host(h);
        for h in only {
            if !is_here(h) && !others.contains_key(h) {
                return Err(Error::UnknownHost {
                    host: h.clone(),
                    known: std::iter::once(here.clone())
                        .chain(others.keys().cloned())
                        .collect(),
                });
            }
        }
        let covered =
            |h: &str| only.is_empty() || only.iter().any(|o| o == h || (is_here(o) && is_here(h)));
        let mut shares: BTreeMap<Option<String>, Vec<AgentName>> = BTreeMap::new();
        for raw in names {
            let (name, host) = split_name(raw);
            let name = AgentName::parse(name).map_err(|e| Error::BadName(e.to_string()))?;
            // The file's placement wins: NAME@HOST only names it.
            let placed = fleet.agents.get(&name).map(|a| a.spec.host.clone());
            if let (Some(h), Some(placed)) = (host, &placed) {
                let same = match placed {
                    Some(p) => p == h,
                    None => is_here(h),
                };
                if !same {
                    return Err(Error::BadValue(format!(
                        "agent {name} lives on {} (the fleet file places it there), not on {h}: name it {name}",
                        placed.as_deref().unwrap_or(&here)
                    )));
                }
            }
            let host = match host {
                Some(h) if is_here(h) => None,
                Some(h) if others.contains_key(h) => Some(h.to_string()),
                Some(h) => {
                    return Err(Error::UnknownHost {
                        host: h.to_string(),
                        known: std::iter::once(here.clone())
                            .chain(others.keys().cloned())
                            .collect(),
                    });
                }
                None => fleet
                    .agents
                    .get(&name)
                    .and_then(|a| a.spec.host.clone())
                    .filter(|h| others.contains_key(h)),
            };
            shares.entry(host).or_default().push(name);
        }
        let named = !names.is_empty();
        let here_share = shares.remove(&None);
        let plan_here = match (named, here_share) {
            (false, _) => covered(&here).then(Vec::new),
            (true, Some(list)) => covered(&here).then_some(list),
            (true, None) => None,
        };
        let mut there = Vec::new();
        for (name, host) in std::mem::take(&mut others) {
            if !covered(&name) {
                continue;
            }
            match (named, shares.remove(&Some(name.clone()))) {
                (false, _) => there.push((host, Vec::new())),
                (true, Some(list)) => there.push((host, list)),
                (true, None) => {}
            }
        }
        Ok(Plan {
            here: plan_here,
            there,
        })
    }

    /// The request that runs `argv` on `host` for this fleet file.
    pub fn request(&self, host: &SshHost, argv: Vec<String>) -> Request {
        let file = self.settings.file.as_ref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            Some(SentFile { path, text })
        });
        Request {
            protocol: PROTOCOL,
            version: VERSION.into(),
            host: host.name().to_string(),
            control: self.here_name().to_string(),
            file,
            socket: host.spec().socket.clone(),
            home: host.spec().home.clone(),
            // The operator's bound on waiting for a host's lock holds there.
            argv: [
                "--wait".to_string(),
                format!("{}ms", self.settings.lock_wait.as_millis()),
            ]
            .into_iter()
            // Who acts is named there too.
            .chain(
                self.settings
                    .by
                    .iter()
                    .flat_map(|who| ["--by".to_string(), who.clone()]),
            )
            .chain(argv)
            .collect(),
        }
    }

    /// Runs a command on each of `hosts` at once, collecting what each
    /// says; `argv_for` gives each host's argv from its share. `bound`
    /// limits each answer after its hello.
    pub fn ask_each(
        &self,
        hosts: &[(SshHost, Vec<AgentName>)],
        argv_for: &(dyn Fn(&[AgentName]) -> Vec<String> + Sync),
        bound: Bound,
    ) -> Vec<HostAnswer> {
        let requests: Vec<(&SshHost, Request)> = hosts
            .iter()
            .map(|(host, names)| (host, self.request(host, argv_for(names))))
            .collect();
        std::thread::scope(|scope| {
            let running: Vec<_> = requests
                .iter()
                .map(|(host, request)| scope.spawn(move || ask(host, request, bound)))
                .collect();
            running
                .into_iter()
                .zip(&requests)
                .map(|(thread, (host, _))| {
                    thread.join().unwrap_or_else(|_| HostAnswer {
                        host: host.name().to_string(),
                        out: Vec::new(),
                        err: Vec::new(),
                        result: Err(Unreachable::Ssh("fleet failed asking it".into())),
                    })
                })
                .collect()
        })
    }

    /// Every agent's row on the covered hosts: this host's from its own
    /// look, the others' from their `ps --json`, and for a host that did
    /// not answer, its declared agents as `unreachable` rows. The hosts
    /// that did not answer come back too, with why.
    pub fn ps_across(&self, plan: &Plan) -> Result<(Vec<AgentRow>, Unanswered), Error> {
        let (here, theirs) = std::thread::scope(|scope| {
            let remote = scope.spawn(|| self.rows_of(&plan.there));
            let here = plan.here.as_ref().map(|_| self.ps());
            (here, remote.join())
        });
        let mut rows = match here {
            Some(rows) => rows?,
            None => Vec::new(),
        };
        let mut unreachable = Vec::new();
        for (host, (host_rows, why)) in theirs.unwrap_or_default() {
            rows.extend(host_rows);
            if let Some(why) = why {
                unreachable.push((host, why));
            }
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.host.cmp(&b.host)));
        Ok((rows, unreachable))
    }

    /// Other hosts' rows, each host's asked at once (`ps --json`): what it
    /// answered, checked; or its declared agents as `unreachable` rows and
    /// why it did not answer.
    pub fn rows_of(
        &self,
        hosts: &[(SshHost, Vec<AgentName>)],
    ) -> BTreeMap<String, (Vec<AgentRow>, Option<Unreachable>)> {
        let fleet = self.fleet().ok();
        let answers = self.ask_each(hosts, &|_| vec!["ps".into(), "--json".into()], Bound::Read);
        let mut out = BTreeMap::new();
        for answer in answers {
            if answer.result == Ok(0) {
                for line in &answer.err {
                    self.warn(crate::core::error::Warning::FromHost {
                        host: answer.host.clone(),
                        line: line.clone(),
                    });
                }
            }
            let parsed = match &answer.result {
                Ok(0) => serde_json::from_str::<Vec<AgentRow>>(&answer.stdout()).map_err(|e| {
                    Unreachable::BadAnswer(format!("its ps --json does not read: {e}"))
                }),
                Ok(code) => Err(answer.failure(*code)),
                Err(why) => Err(why.clone()),
            };
            let entry = match parsed {
                Ok(theirs) => (
                    self.checked_rows(fleet.as_deref(), &answer.host, theirs),
                    None,
                ),
                Err(why) => (
                    fleet
                        .as_deref()
                        .map(|f| unreachable_rows(f, &answer.host, &why))
                        .unwrap_or_default(),
                    Some(why),
                ),
            };
            out.insert(answer.host.clone(), entry);
        }
        out
    }
}

impl Core {
    /// Keeps what the operator's host sent with a request (`sent.json`),
    /// for this host's supervisor: written only when it changed.
    pub fn keep_sent(&self, request: &Request) -> Result<(), Error> {
        let Some(file) = &request.file else {
            return Ok(());
        };
        let sent = crate::core::host::remote::Sent {
            host: request.host.clone(),
            control: request.control.clone(),
            file: file.clone(),
        };
        let text = serde_json::to_vec(&sent)
            .map_err(|e| Error::setup(format!("cannot write sent.json: {e}")))?;
        let Some(path) = self.state_file("sent.json") else {
            return Ok(());
        };
        if crate::core::store::private::read(&path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        let tmp = path.with_extension("json.new");
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = crate::core::store::private::open(
                &tmp,
                crate::core::store::private::Access::ReadWrite,
            )
            .map_err(std::io::Error::other)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| Error::Io {
            what: format!(
                "the desired state sent by the operator's host ({})",
                path.display()
            ),
            source,
        })
    }
}

/// A host as `fleet hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostReport {
    pub host: String,
    /// `here` for this host; else its ssh destination.
    pub ssh: String,
    pub reachable: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
    pub fleet: Option<String>,
    pub protocol: Option<u32>,
    pub tmux: Option<String>,
    /// The boot unit fleet init installs: installed, enabled, linger.
    pub unit_installed: Option<bool>,
    pub unit_enabled: Option<bool>,
    pub linger: Option<bool>,
}

impl Core {
    /// This host, as `fleet hosts` shows it.
    pub fn here_report(&self) -> HostReport {
        let boot = self
            .host()
            .facts(&crate::core::host::Probe {
                boot: true,
                ..Default::default()
            })
            .boot;
        HostReport {
            host: self.here_name().to_string(),
            ssh: "here".into(),
            reachable: true,
            reason: None,
            fleet: Some(VERSION.into()),
            protocol: Some(PROTOCOL),
            tmux: crate::core::host::tmux::Tmux::version_text(),
            unit_installed: boot.as_ref().map(|b| b.unit_installed),
            unit_enabled: boot.as_ref().map(|b| b.unit_enabled),
            linger: boot.as_ref().map(|b| b.linger),
        }
    }

    /// Every host of the fleet file (`only` narrows), each asked at once.
    pub fn host_reports(&self, plan: &Plan) -> Vec<HostReport> {
        let (here, answers) = std::thread::scope(|scope| {
            let remote = scope.spawn(|| {
                self.ask_each(
                    &plan.there,
                    &|_| vec!["hosts".into(), "--here".into(), "--json".into()],
                    Bound::Read,
                )
            });
            let here = plan.here.as_ref().map(|_| self.here_report());
            (here, remote.join().unwrap_or_default())
        });
        let mut reports: Vec<HostReport> = here.into_iter().collect();
        for (answer, (host, _)) in answers.iter().zip(&plan.there) {
            let parsed = match &answer.result {
                Ok(0) => serde_json::from_str::<HostReport>(&answer.stdout()).map_err(|e| {
                    Unreachable::BadAnswer(format!("its hosts --json does not read: {e}"))
                }),
                Ok(code) => Err(answer.failure(*code)),
                Err(why) => Err(why.clone()),
            };
            let ssh = match host.spec().port {
                Some(port) => format!("{} (port {port})", host.spec().ssh),
                None => host.spec().ssh.clone(),
            };
            reports.push(match parsed {
                Ok(mut theirs) => {
                    for text in [&mut theirs.fleet, &mut theirs.tmux, &mut theirs.reason]
                        .into_iter()
                        .flatten()
                    {
                        cut(text, 60);
                    }
                    HostReport {
                        host: answer.host.clone(),
                        ssh,
                        ..theirs
                    }
                }
                Err(why) => HostReport {
                    host: answer.host.clone(),
                    ssh,
                    reachable: false,
                    reason: Some(why.to_string()),
                    fleet: None,
                    protocol: None,
                    tmux: None,
                    unit_installed: None,
                    unit_enabled: None,
                    linger: None,
                },
            });
        }
        reports
    }
}

/// A host's words cut to `max` characters (an ellipsis says so).
pub fn cut(text: &mut String, max: usize) {
    if text.chars().count() > max {
        *text = text.chars().take(max).collect::<String>() + "…";
    }
}

impl Core {
    /// Whether another host may speak of `agent`: a valid name the fleet
    /// file does not place elsewhere (said once, as a warning, if not).
    pub fn may_speak_of(&self, fleet: Option<&Fleet>, host: &str, agent: &str) -> bool {
        let name = AgentName::parse(agent).ok();
        let placed = name.as_ref().and_then(|n| fleet?.agents.get(n));
        let ok = name.is_some() && placed.is_none_or(|a| a.spec.host.as_deref() == Some(host));
        if !ok {
            self.warn(crate::core::error::Warning::FromHost {
                host: host.to_string(),
                line: format!(
                    "warning: it spoke of an agent {} that is not its own: left out",
                    crate::core::error::quoted(agent)
                ),
            });
        }
        ok
    }

    /// Another host's rows, as far as they can be believed: each must be
    /// a valid agent name that the fleet file does not place elsewhere,
    /// and is named after the host asked; long values are cut.
    fn checked_rows(
        &self,
        fleet: Option<&Fleet>,
        host: &str,
        rows: Vec<AgentRow>,
    ) -> Vec<AgentRow> {
        let cut = |v: &mut Option<String>| {
            if let Some(text) = v.as_mut().filter(|t| t.chars().count() > 200) {
                *text = text.chars().take(200).collect::<String>() + "…";
            }
        };
        rows.into_iter()
            .filter_map(|mut r| {
                let name = AgentName::parse(&r.name).ok();
                let placed = name.as_ref().and_then(|n| fleet?.agents.get(n));
                let elsewhere = placed.is_some_and(|a| a.spec.host.as_deref() != Some(host));
                if name.is_none() || elsewhere {
                    self.warn(crate::core::error::Warning::FromHost {
                        host: host.to_string(),
                        line: format!(
                            "warning: it reported an agent {} that is not its own: left out",
                            crate::core::error::quoted(&r.name)
                        ),
                    });
                    return None;
                }
                r.host = host.to_string();
                for v in [
                    &mut r.runtime,
                    &mut r.model,
                    &mut r.effort,
                    &mut r.pane_command,
                    &mut r.workdir,
                    &mut r.started_at,
                    &mut r.reason,
                ] {
                    cut(v);
                }
                Some(r)
            })
            .collect()
    }
}

/// Asks one host, keeping its lines.
fn ask(host: &SshHost, request: &Request, bound: Bound) -> HostAnswer {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let result = host.call(
        request,
        bound.after_hello(host),
        Some(MAX_KEPT),
        &mut |stream, line| {
            match stream {
                Stream::Out => out.push(line.to_string()),
                Stream::Err => err.push(line.to_string()),
                Stream::Hello => {}
            }
            true
        },
    );
    HostAnswer {
        host: host.name().to_string(),
        out,
        err,
        result,
    }
}

/// The declared agents of a host that did not answer.
pub fn unreachable_rows(fleet: &Fleet, host: &str, why: &Unreachable) -> Vec<AgentRow> {
    fleet
        .agents
        .values()
        .filter(|a| a.spec.host.as_deref() == Some(host))
        .map(|a| AgentRow {
            runtime: Some(a.spec.runtime.clone()),
            model: a.spec.model.clone(),
            effort: a.spec.effort.clone(),
            status: Status::Unreachable,
            declared: true,
            reason: Some(why.to_string()),
            ..AgentRow::missing(a.spec.name.as_str(), host)
        })
        .collect()
}
