//! The real-runtime lab: pi, Codex CLI and Claude Code as npm ships them,
//! run by the real `fleet` and pointed at a mock model server of ours
//! (`mock`) on 127.0.0.1.

pub mod mock;
