use std::path::PathBuf;

use clap::Args;

use crate::cli::error::CliError;
use crate::cli::serve::Options;
use crate::core::Core;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen [default: 127.0.0.1:7077, this machine only]
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
    /// Let the page type into agents and restart them (each act recorded
    /// with the client's address); without it the page only reads
    #[arg(long)]
    pub allow_takeover: bool,
    /// Serve HTTPS with this PEM certificate (chain) [needs --tls-key]
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The fleet in a browser behind a token: read-only unless
/// `--allow-takeover`.
pub fn cmd_serve(core: &Core, args: &ServeArgs) -> Result<i32, CliError> {
    let options = Options {
        listen: args.listen.as_deref(),
        allow_takeover: args.allow_takeover,
        tls: args.tls_cert.as_deref().zip(args.tls_key.as_deref()),
    };
    crate::cli::serve::run(core, &options)
}
