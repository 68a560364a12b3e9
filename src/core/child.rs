//! Child processes fleet starts, given a bound: one that does not finish in
//! time is killed rather than waited on forever.

use std::io;
use std::process::{Child, Output};
use std::sync::mpsc;
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// Waits for `child` to end and collects its output, for at most
/// `timeout`; `None` when it was still running and was killed (with its
/// process group when `group`, for a child started as a group's leader).
pub fn output_within(child: Child, timeout: Duration, group: bool) -> Option<io::Result<Output>> {
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match outcome.recv_timeout(timeout) {
        Ok(output) => Some(output),
        Err(_) => {
            signal(pid, Signal::KILL, group);
            None
        }
    }
}

/// Sends `sig` to a process (or its whole group), if it is still there.
pub fn signal(pid: u32, sig: Signal, group: bool) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = if group {
            rustix::process::kill_process_group(pid, sig)
        } else {
            rustix::process::kill_process(pid, sig)
        };
    }
}
