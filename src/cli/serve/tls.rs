//! HTTPS, when `fleet serve` is given a certificate and its key: the
//! settings rustls serves with (the handshakes are [`super::front`]'s).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

use crate::cli::error::CliError;

/// The server's TLS settings from PEM files: the certificate chain and
/// its private key, checked to fit each other.
pub fn config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, CliError> {
    let unreadable = |flag: &str, path: &Path, e: &dyn std::fmt::Display| {
        CliError::user(format!(
            "{flag} {}: {e}: give a PEM file (e.g. from mkcert or certbot)",
            path.display()
        ))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| unreadable("--tls-cert", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable("--tls-cert", cert, &e))?;
    if certs.is_empty() {
        return Err(unreadable("--tls-cert", cert, &"no certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable("--tls-key", key, &e))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            CliError::user(format!(
                "--tls-key does not fit --tls-cert ({e}): give the key the certificate was made for"
            ))
        })?;
    Ok(Arc::new(config))
}
