//! What the page may change, and only under `--allow-takeover`: type into
//! an agent (`fleet send`) and relaunch it (`fleet restart`). Without the
//! flag these routes do not exist. Each request must carry the token, come
//! from the page's own origin (a cross-site form or script is refused),
//! and be JSON; each act runs the CLI's own command, recorded with the
//! client's address as who acted (`--by web ADDRESS`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::api::run_fleet_for;
use super::{Client, Shared, auth};

/// The longest text the page may send at once.
pub const MAX_TEXT: usize = 4000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    name: String,
    host: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartBody {
    name: String,
    host: String,
}

/// `POST /api/send {"name", "host", "text"}`: types the text into the
/// agent and presses Enter, as `fleet send` does.
pub async fn send(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<Client>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: SendBody = match checked(&shared, &headers, &body) {
        Ok(body) => body,
        Err((code, why)) => return refused(code, &why),
    };
    if body.text.trim().is_empty()
        || body.text.chars().count() > MAX_TEXT
        || body.text.chars().any(char::is_control)
    {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("send one line of text, at most {MAX_TEXT} characters"),
        );
    }
    act(
        &shared,
        client.0,
        &body.name,
        &body.host,
        &["send"],
        &["--", &body.text],
    )
    .await
}

/// `POST /api/restart {"name", "host"}`: relaunches the agent, as
/// `fleet restart` does.
pub async fn restart(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<Client>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: RestartBody = match checked(&shared, &headers, &body) {
        Ok(body) => body,
        Err((code, why)) => return refused(code, &why),
    };
    act(&shared, client.0, &body.name, &body.host, &["restart"], &[]).await
}

/// Runs the act's command, naming the client; what it said, as JSON.
async fn act(
    shared: &Shared,
    client: SocketAddr,
    name: &str,
    host: &str,
    command: &[&str],
    rest: &[&str],
) -> Response {
    let by = format!("web {}", client.ip());
    match run_fleet_for(shared, name, host, command, rest, Some(&by)).await {
        Ok(said) => axum::Json(serde_json::json!({
            "ok": true,
            "said": String::from_utf8_lossy(&said).trim(),
        }))
        .into_response(),
        Err(response) => response,
    }
}

/// The request's body, once the origin and the JSON are right (the token
/// was checked before the request came here); else the status and the
/// reason.
fn checked<T: serde::de::DeserializeOwned>(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, (StatusCode, String)> {
    if let Err(why) = auth::same_origin(headers, shared.scheme, &shared.token) {
        return Err((StatusCode::FORBIDDEN, why.to_string()));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !json {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send JSON (Content-Type: application/json)".to_string(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the request is not what this act takes: {e}"),
        )
    })
}

fn refused(code: StatusCode, why: &str) -> Response {
    (code, format!("{why}\n")).into_response()
}
