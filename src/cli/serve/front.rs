//! Where connections come in, before any request is read: plain TCP or
//! TLS, with bounds that hold before anyone has shown a token. At most
//! [`PER_CLIENT`] connections from one address and [`ALL`] in all (more
//! are closed at once); a TLS handshake has [`HANDSHAKE_WITHIN`], run
//! apart from the others; and a connection on which nothing moved either
//! way for [`IDLE`] is closed (the event stream writes more often than
//! that, so only a stalled or abandoned client is). How long a request's
//! head may take is the server's ([`super::serve`]).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

/// Connections one client address may hold at once.
pub const PER_CLIENT: usize = 64;
/// Connections held at once in all.
pub const ALL: usize = 1024;
/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);
/// How long a connection may sit with nothing read or written.
pub const IDLE: Duration = Duration::from_secs(60);

/// Connections accepted and ready, not yet taken by the server.
const READY: usize = 64;

/// The listener the server takes connections from.
pub struct Front {
    ready: tokio::sync::mpsc::Receiver<(Conn, SocketAddr)>,
    local: SocketAddr,
}

impl Front {
    /// Starts accepting on `listener` (on the current runtime), with TLS
    /// when given its settings.
    pub fn new(listener: TcpListener, tls: Option<Arc<ServerConfig>>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(READY);
        let held = Held::default();
        let acceptor = tls.map(TlsAcceptor::from);
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
                // Over a bound: closed at once, nothing read.
                let Some(ticket) = held.take(peer.ip()) else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                match &acceptor {
                    None => {
                        let conn = Conn::new(Stream::Plain(tcp), ticket);
                        if tx.send((conn, peer)).await.is_err() {
                            return;
                        }
                    }
                    Some(acceptor) => {
                        let (acceptor, tx) = (acceptor.clone(), tx.clone());
                        tokio::spawn(async move {
                            let handshake = acceptor.accept(tcp);
                            if let Ok(Ok(tls)) =
                                tokio::time::timeout(HANDSHAKE_WITHIN, handshake).await
                            {
                                let conn = Conn::new(Stream::Tls(Box::new(tls)), ticket);
                                let _ = tx.send((conn, peer)).await;
                            }
                        });
                    }
                }
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for Front {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone only with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// How many connections each address holds, and all together.
#[derive(Clone, Default)]
struct Held(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl Held {
    /// A place for one more connection from `ip`, if the bounds allow.
    fn take(&self, ip: IpAddr) -> Option<Ticket> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let all: usize = held.values().sum();
        let mine = held.entry(ip).or_insert(0);
        if *mine >= PER_CLIENT || all >= ALL {
            return None;
        }
        *mine += 1;
        Some(Ticket {
            held: self.clone(),
            ip,
        })
    }
}

/// One connection's place; given back when it closes.
struct Ticket {
    held: Held,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self.held.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection, closed when it sits idle for [`IDLE`].
pub struct Conn {
    stream: Stream,
    idle: Pin<Box<Sleep>>,
    _ticket: Ticket,
}

impl Conn {
    fn new(stream: Stream, ticket: Ticket) -> Self {
        Self {
            stream,
            idle: Box::pin(tokio::time::sleep(IDLE)),
            _ticket: ticket,
        }
    }

    fn moved(&mut self) {
        self.idle.as_mut().reset(Instant::now() + IDLE);
    }

    /// An error once the connection has sat idle too long.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.idle
            .as_mut()
            .poll(cx)
            .is_ready()
            .then(|| io::Error::new(io::ErrorKind::TimedOut, "idle connection"))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        };
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // A reader that stopped reading: as idle as one that left.
            Poll::Pending => match this.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
