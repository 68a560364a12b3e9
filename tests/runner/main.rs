//! The integration tests: the real `fleet` binary against a real tmux server
//! on a private socket, one binary with a module per feature.

mod browser;
mod common;
mod lab;
mod sshlab;

mod bad_input;
mod dash;
mod fleetfiles;
mod history;
mod hosts;
mod init;
mod launch;
mod observe;
mod page;
mod privacy;
mod runtimes;
mod serve;
mod serve_acts;
mod sshlab_smoke;
mod status_words;
mod stub;
mod supervise;
mod takeover;
mod up_down;
