//! Who may look: the token, made once and kept private, and the cookie the
//! page is given for it.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use axum::http::{HeaderMap, header};

use crate::cli::error::CliError;
use crate::core::Core;
use crate::core::store::private::{self, Access};

/// What a request without the token is told.
pub const MISSING: &str = "the token is missing or wrong: open the URL fleet serve printed";

/// The server's token: read from `$FLEET_HOME/serve-token`, made there
/// from the system's randomness on first start. A token file others could
/// have read (looser than 0600, not ours, a link) is not trusted: a new
/// token replaces it, and the second value says so.
pub fn token(core: &Core) -> Result<(String, Option<String>), CliError> {
    let root = core.settings.fleet_home.clone().ok_or_else(|| {
        CliError::user("fleet serve keeps its token under FLEET_HOME: set HOME or FLEET_HOME")
    })?;
    private::root(&root).map_err(|e| CliError::failed(e.to_string()))?;
    let path = root.join("serve-token");
    let mut note = None;
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        let ours = meta.file_type().is_file()
            && meta.uid() == rustix::process::geteuid().as_raw()
            && meta.mode() & 0o077 == 0;
        if ours {
            if let Some(token) = read_token(&path) {
                return Ok((token, None));
            }
        } else {
            note = Some(format!(
                "{} could have been read by others (mode {:o}, or not this user's file): made a new token; pages opened with the old one need the new URL",
                path.display(),
                meta.mode() & 0o7777
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    // Made aside and linked into place: two servers starting at once
    // agree on whichever token was there first.
    let aside = root.join(format!("serve-token.{}", std::process::id()));
    let _ = std::fs::remove_file(&aside);
    let made = write_new(&aside);
    let linked = made.and_then(|()| {
        std::fs::hard_link(&aside, &path).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(format!("cannot keep the token in {}: {e}", path.display())),
        })
    });
    let _ = std::fs::remove_file(&aside);
    linked.map_err(CliError::failed)?;
    let token = read_token(&path).ok_or_else(|| {
        CliError::failed(format!(
            "cannot read the token back from {}: remove it and start again",
            path.display()
        ))
    })?;
    Ok((token, note))
}

/// The token in `path`, if it holds one.
fn read_token(path: &Path) -> Option<String> {
    let bytes = private::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    (text.len() >= 32 && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

/// A new token from the system's randomness, written 0600 to `path`.
fn write_new(path: &Path) -> Result<(), String> {
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| format!("cannot make a token: /dev/urandom: {e}"))?;
    let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = private::open(path, Access::ReadWrite).map_err(|e| e.to_string())?;
    file.write_all(token.as_bytes())
        .map_err(|e| format!("cannot keep the token in {}: {e}", path.display()))
}

/// The cookie that carries the token for the page: not readable by its
/// scripts, never sent by another site's requests, named for the port (a
/// browser sends a host's cookies to all its ports: two servers on one
/// machine must not take each other's), and under HTTPS sent only over
/// HTTPS.
pub struct Cookie {
    name: String,
    secure: bool,
}

impl Cookie {
    pub fn new(port: u16, secure: bool) -> Self {
        let name = if secure {
            format!("__Host-fleet-{port}")
        } else {
            format!("fleet-{port}")
        };
        Self { name, secure }
    }

    /// The `Set-Cookie` value that gives the page the token.
    pub fn set(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/{secure}",
            self.name
        )
    }

    /// Whether the request's cookies carry the token.
    fn carries(&self, headers: &HeaderMap, token: &str) -> bool {
        let prefix = format!("{}=", self.name);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix(&prefix))
            .any(|given| same(given, token))
    }
}

/// Whether a request carries the token (cookie, or a bearer header).
pub fn allowed(headers: &HeaderMap, token: &str, cookie: &Cookie) -> bool {
    bearer(headers, token) || cookie.carries(headers, token)
}

/// Whether the token came as `Authorization: Bearer` (a script's, which
/// a browser never adds on another site's behalf).
fn bearer(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, given)| {
            scheme.eq_ignore_ascii_case("bearer") && same(given.trim(), token)
        })
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
