//! HTTPS, when `fleet serve` is given a certificate and its key: the same
//! server behind rustls. Handshakes run apart from one another (a client
//! that connects and says nothing holds up no one) and each has a bound.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

use crate::cli::error::CliError;

/// How long a client has to finish its handshake.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// Connections whose handshake is done, not yet taken by the server.
const READY: usize = 64;

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

/// A listener that hands the server connections whose TLS handshake is
/// done.
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (on the current runtime).
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(READY);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    // Out of descriptors, most likely: let some close.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_WITHIN, acceptor.accept(tcp)).await
                    {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone only with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
