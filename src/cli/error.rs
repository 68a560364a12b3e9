//! The error a command ends with: one line naming the problem and the fix,
//! and an exit code that means something.
//!
//! Exit codes: 0 ok; 1 an action or check failed; 2 bad usage or bad input
//! (a bad name, a broken fleet file): nothing was changed; 3 another host
//! did not answer (the answer is partial: every other host's part is
//! complete).

use std::fmt;

use crate::core::{Error, ErrorKind};

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    /// Bad input: nothing was touched.
    pub fn user(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// Something the fleet tried did not work.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_FAILED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::BadInput => Self::user(e.to_string()),
            ErrorKind::Failed => Self::failed(e.to_string()),
            ErrorKind::Unreachable => Self {
                message: e.to_string(),
                code: EXIT_UNREACHABLE,
            },
        }
    }
}
