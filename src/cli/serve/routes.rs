//! What answers which path, and what every request passes first: a
//! `Host` this server answers to, the token (but for the page itself), and
//! headers that keep answers out of caches.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{MAX_BODY, Shared, api, takeover, unauthorized};

pub fn router(shared: Arc<Shared>) -> Router {
    // Everything but the page itself (which trades `?token=` for the
    // cookie) needs the token before anything else is looked at.
    let mut router = Router::new()
        .route("/app.js", get(api::app_js))
        .route("/api/agents", get(api::agents))
        .route("/api/events", get(api::events))
        .route("/api/stream", get(api::stream))
        .route("/api/screen", get(api::agent_screen))
        .route("/api/transcript", get(api::transcript))
        .route("/api/explain", get(api::explain));
    // Without the flag, there is nothing to change anything with.
    if shared.takeover {
        router = router
            .route("/api/send", post(takeover::send))
            .route("/api/restart", post(takeover::restart));
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ))
        .route("/", get(api::index))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// Around every request: a `Host` this server answers to (when it listens
/// on this machine only, a name that DNS rebinding pointed here is
/// refused), and an answer no cache keeps or sniffs.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.loopback {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !names_loopback(host) {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this server answers to 127.0.0.1, localhost and [::1] only: open the URL fleet serve printed\n",
            )
                .into_response();
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// `401` for a request without the token.
async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.allows(request.headers()) {
        return unauthorized();
    }
    next.run(request).await
}

/// Whether a `Host` header names this machine's loopback (with or without
/// a port).
fn names_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_are_this_machine() {
        for host in [
            "127.0.0.1:7077",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "[::1]:7077",
            "[::1]",
        ] {
            assert!(names_loopback(host), "{host}");
        }
        for host in [
            "evil.com:7077",
            "evil.com",
            "",
            "127.0.0.1.evil.com",
            "localhost.evil.com:1",
            "10.0.0.1:7077",
            "[::2]:1",
        ] {
            assert!(!names_loopback(host), "{host}");
        }
    }
}
