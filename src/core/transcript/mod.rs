//! Transcripts: what each agent printed, kept on disk.

pub mod strip;
