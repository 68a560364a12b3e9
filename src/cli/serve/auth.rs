//! Who may look: the token, made once and kept private, and the cookie the
//! page is given for it.

use std::io::{Read, Write};

use axum::http::{HeaderMap, header};

use crate::cli::error::CliError;
use crate::core::Core;
use crate::core::store::private::{self, Access};

/// What a request without the token is told.
pub const MISSING: &str = "the token is missing or wrong: open the URL fleet serve printed";

/// The cookie's name.
const COOKIE: &str = "fleet_token";

/// The server's token: read from `$FLEET_HOME/serve-token` (0600), made
/// there from the system's randomness on first start.
pub fn token(core: &Core) -> Result<String, CliError> {
    let root = core.settings.fleet_home.clone().ok_or_else(|| {
        CliError::user("fleet serve keeps its token under FLEET_HOME: set HOME or FLEET_HOME")
    })?;
    private::root(&root).map_err(|e| CliError::failed(e.to_string()))?;
    let path = root.join("serve-token");
    if let Ok(bytes) = private::read(&path) {
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        if text.len() >= 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(text);
        }
    }
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| CliError::failed(format!("cannot make a token: /dev/urandom: {e}")))?;
    let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let _ = std::fs::remove_file(&path);
    let mut file =
        private::open(&path, Access::ReadWrite).map_err(|e| CliError::failed(e.to_string()))?;
    file.write_all(token.as_bytes()).map_err(|e| {
        CliError::failed(format!("cannot keep the token in {}: {e}", path.display()))
    })?;
    Ok(token)
}

/// The cookie that carries the token for the page: not readable by its
/// scripts, never sent by another site's requests.
pub fn cookie(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

/// Whether a request carries the token (cookie, or a bearer header).
pub fn allowed(headers: &HeaderMap, token: &str) -> bool {
    bearer(headers, token) || in_cookie(headers, token)
}

/// Whether the token came as `Authorization: Bearer` (a script's, which
/// a browser never adds on another site's behalf).
fn bearer(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim(), token))
}

/// Whether the token came in the page's cookie.
fn in_cookie(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| {
            kv.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(String::from)
        })
        .any(|given| same(&given, token))
}

/// Whether a changing request comes from the page itself (against
/// cross-site request forgery): its `Origin` must be this server's own
/// (`scheme://Host`), and a browser's fetch metadata must say same-origin.
/// A request with no `Origin` (a script, not a browser) must carry the
/// token as a bearer header, which no other site can make a browser send.
pub fn same_origin(headers: &HeaderMap, scheme: &str, token: &str) -> Result<(), &'static str> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if value("sec-fetch-site").is_some_and(|site| site != "same-origin") {
        return Err("refused: the request comes from another site");
    }
    match (value("origin"), value("host")) {
        (Some(origin), Some(host)) if origin == format!("{scheme}://{host}") => Ok(()),
        (Some(_), _) => Err("refused: the request comes from another origin than this page's"),
        (None, _) if bearer(headers, token) => Ok(()),
        (None, _) => Err("refused: a browser's request must say its Origin"),
    }
}

/// Compares in time that does not depend on where they differ.
pub fn same(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
