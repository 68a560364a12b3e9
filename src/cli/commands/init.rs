use std::sync::Arc;

use clap::Args;

use crate::cli::error::{CliError, EXIT_FAILED};
use crate::cli::output::{self, Color};
use crate::core::Core;
use crate::core::host::local::UNIT_NAME;
use crate::core::host::systemd::Systemd;
use crate::core::ops::init::{InitOptions, InitReport, Outcome};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print the plan and the unit, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove what fleet init added (the unit; linger only if init turned it on)
    #[arg(long)]
    pub uninstall: bool,
    /// Prepare this host of the fleet file instead (over ssh): its
    /// supervisor keeps up the agents placed there
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

pub fn cmd_init(core: &Core, args: &InitArgs) -> Result<i32, CliError> {
    if let Some(host) = &args.host {
        let plan = crate::cli::hosts::plan(core, &[], std::slice::from_ref(host))?;
        if let Some((there, _)) = plan.there.first() {
            let mut argv = vec!["init".to_string()];
            if args.dry_run {
                argv.push("--dry-run".into());
            }
            if args.uninstall {
                argv.push("--uninstall".into());
            }
            return crate::cli::hosts::relay(
                core,
                there,
                argv,
                false,
                crate::core::ops::hosts::Bound::Change,
            );
        }
    }
    let mut systemd = Systemd::new();
    if core.settings.trace {
        systemd = systemd.traced(Arc::new(|line| output::eprint(&format!("fleet: {line}"))));
    }
    let report = core.init(
        &systemd,
        InitOptions {
            dry_run: args.dry_run,
            uninstall: args.uninstall,
        },
    )?;
    crate::cli::print_warnings(core);
    if let Some(none) = &report.no_systemd {
        output::eprint(&format!(
            "fleet: no systemd user manager on this host ({}): nothing was {}",
            none.reason,
            if args.uninstall {
                "removed"
            } else {
                "installed"
            }
        ));
        output::eprint(&format!(
            "fleet: instead, keep `{}` running under your own service manager, or in a tmux or screen session that outlives your login",
            none.instead
        ));
        if args.dry_run && !args.uninstall {
            output::print(&unit_listing(&report));
            return Ok(0);
        }
        return Ok(EXIT_FAILED);
    }
    output::print(&render(&report, args, output::color_enabled()));
    Ok(if report.failed() { EXIT_FAILED } else { 0 })
}

fn render(report: &InitReport, args: &InitArgs, color: bool) -> String {
    let word = |outcome: Outcome| match outcome {
        Outcome::Ok => ("ok", Color::Green),
        Outcome::Changed => ("changed", Color::Yellow),
        Outcome::WouldChange => ("would change", Color::Yellow),
        Outcome::Failed => ("failed", Color::Red),
    };
    let verdicts = report
        .steps
        .iter()
        .map(|s| word(s.outcome).0.len())
        .max()
        .unwrap_or(0);
    let names = report.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for step in &report.steps {
        let (word, paint) = word(step.outcome);
        let padded = format!("{word:<verdicts$}");
        let verdict = if color {
            padded.replacen(word, &output::paint(word, paint), 1)
        } else {
            padded
        };
        out.push_str(&format!(
            "{verdict}  {:<names$}  {}\n",
            step.name, step.detail
        ));
        if let Some(fix) = &step.fix {
            out.push_str(&format!("{:<verdicts$}  {:<names$}  fix: {fix}\n", "", ""));
        }
    }
    let summary = if report.failed() {
        "stopped at the failed step: fix it and run fleet init again (done steps stay done)".into()
    } else if args.dry_run {
        if report.changed() {
            "dry run: nothing was changed".into()
        } else {
            "dry run: nothing to change".into()
        }
    } else if !report.changed() {
        if args.uninstall {
            "nothing to remove: fleet init had not set this host up".into()
        } else {
            "nothing changed: this host was set up already".into()
        }
    } else if args.uninstall {
        format!("{UNIT_NAME} removed; agents keep running (fleet down stops them)")
    } else {
        "the fleet now survives logout and reboot; fleet verify checks it".to_string()
    };
    out.push_str(&summary);
    out.push('\n');
    if args.dry_run && !args.uninstall {
        out.push('\n');
        out.push_str(&unit_listing(report));
    }
    out
}

/// The unit as it would be written, under a comment naming its path.
fn unit_listing(report: &InitReport) -> String {
    format!(
        "# {} (as fleet init writes it)\n{}",
        report.unit_path.display(),
        report.unit_text
    )
}
