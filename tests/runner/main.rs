//! The integration tests: the real `fleet` binary against a real tmux server
//! on a private socket, one binary with a module per feature.

mod common;

mod bad_input;
mod fleetfiles;
mod launch;
mod status_words;
mod stub;
mod up_down;
