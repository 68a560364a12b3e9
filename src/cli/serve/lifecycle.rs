//! How the server lives and ends: signals taken before anything starts,
//! the fleet file watched for other hosts (then the server starts itself
//! again, exec, on the socket it holds), and its children ended and reaped
//! rather than left behind.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::error::CliError;
use crate::cli::{hosts, output};
use crate::core::Core;
use crate::core::ops::hosts::Plan;

use super::api;

/// Takes SIGINT and SIGTERM: each sets `stop`. The flag says whether one
/// came.
pub fn take_signals(stop: &tokio::sync::watch::Sender<bool>) -> Result<Arc<AtomicBool>, CliError> {
    let signalled = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| CliError::failed(format!("cannot take signals: {e}")))?;
    let (stop, flag) = (stop.clone(), signalled.clone());
    std::thread::spawn(move || {
        for _ in signals.forever() {
            flag.store(true, Ordering::SeqCst);
            stop.send_replace(true);
        }
    });
    Ok(signalled)
}

/// Ends what this pid's last start still had running (a start again keeps
/// the pid), and reaps it apart.
pub fn reap_leftovers() {
    let leftovers = end_children();
    if !leftovers.is_empty() {
        std::thread::spawn(move || {
            for pid in leftovers {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            }
        });
    }
}

/// Looks at the fleet file every few seconds: when the hosts it names
/// (and how to reach them) are not the ones followed, and stay so for two
/// looks running, asks the server to stop and start again.
pub fn follow_hosts(
    core: &Core,
    plan: &Plan,
    again: &AtomicBool,
    stop: &tokio::sync::watch::Sender<bool>,
) {
    let hosts = |plan: &Plan| -> std::collections::BTreeSet<String> {
        plan.there.iter().map(|(h, _)| format!("{h:?}")).collect()
    };
    let now = hosts(plan);
    let mut changed = 0;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        if *stop.borrow() {
            return;
        }
        // A broken file says so in the rows' warnings; the hosts stay.
        if core.fleet().is_err() {
            changed = 0;
            continue;
        }
        let Ok(next) = hosts::plan(core, &[], &[]) else {
            continue;
        };
        // Its warnings are the feed's to show.
        let _ = core.take_warnings();
        changed = if hosts(&next) == now { 0 } else { changed + 1 };
        if changed >= 2 {
            again.store(true, Ordering::SeqCst);
            stop.send_replace(true);
            return;
        }
    }
}

/// Starts this server again, as it was started (same flags, same token)
/// on the address it holds (`held`, open until the new one takes its own).
/// Returns only if it cannot.
pub fn start_again(bound: SocketAddr, held: &std::net::TcpListener) {
    use std::os::unix::process::CommandExt;
    let exe = api::own_exe();
    // The address it has now, even if it was given as port 0: open pages
    // come back to it.
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut given = std::env::args_os().skip(1);
    while let Some(arg) = given.next() {
        if arg == "--listen" {
            given.next();
        } else if !arg.to_string_lossy().starts_with("--listen=") {
            args.push(arg);
        }
    }
    args.extend([
        std::ffi::OsString::from("--listen"),
        std::ffi::OsString::from(bound.to_string()),
    ]);
    let _ = held;
    let e = std::process::Command::new(&exe).args(args).exec();
    output::eprint(&format!(
        "fleet: error: cannot start {} again: {e}",
        exe.display()
    ));
}

/// Ends this process's own children (the feed's tmux clients, waits and
/// ssh connections) rather than leave them to find out; those not gone
/// within a bound.
pub fn end_children() -> Vec<rustix::process::Pid> {
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: the command may hold spaces and parens.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent == Some(me.as_str())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            children.push(pid);
        }
    }
    // Reaped, so that none is left a zombie (the pid lives on when the
    // server starts again), within a bound.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !children.is_empty() && Instant::now() < deadline {
        children.retain(|pid| {
            !matches!(
                rustix::process::waitpid(Some(*pid), rustix::process::WaitOptions::NOHANG),
                Ok(Some(_)) | Err(_)
            )
        });
        if !children.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    children
}
