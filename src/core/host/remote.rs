//! What crosses to another host: one request on the remote `fleet`'s
//! stdin, one hello line back, then the command's own output.
//!
//! Theory of operation. The operator's fleet file is the single source of
//! truth, so it travels with every request: the remote `fleet remote` reads
//! it as the operator's host would, with its own home for `~`, and the
//! agents placed on it are its own. The command to run there travels as an
//! argv inside JSON, never through a shell, so every byte of a name, a
//! workdir or a line to type arrives as it left.
//!
//! Both sides check the protocol: the remote says its own in the hello
//! line (and refuses a request of another), and the operator's side
//! refuses a hello of another. Either way the message says which `fleet`
//! to upgrade.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The protocol this `fleet` speaks. Bumped on any change that an older
/// `fleet` would misread.
pub const PROTOCOL: u32 = 1;

/// This `fleet`'s version, said in every hello.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a hello line says it is, so that anything else on the remote's
/// stdout (a login banner, another program) is told apart.
pub const PRODUCT: &str = "mosaic-fleet";

/// The largest request a remote `fleet` reads (a fleet file and an argv).
pub const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// One command for a remote host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub protocol: u32,
    pub version: String,
    /// The host's own name in the fleet file: agents placed on it are its.
    pub host: String,
    /// The operator's host: agents placed nowhere live there.
    pub control: String,
    /// The operator's fleet file, if there is one.
    pub file: Option<SentFile>,
    /// `[hosts.NAME] socket` and `home`, when the file sets them.
    pub socket: Option<String>,
    pub home: Option<String>,
    /// The `fleet` command to run there, after `fleet`.
    pub argv: Vec<String>,
}

/// The fleet file as the operator's host reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentFile {
    /// Where it is on the operator's host: relative workdirs are taken
    /// from its directory, and messages name it.
    pub path: PathBuf,
    pub text: String,
}

/// What the operator's host last sent this one, kept (`sent.json` in the
/// socket's state directory) for the supervisor `fleet init --host`
/// installs here: it reads the desired state from it, and every changing
/// command from the operator (`up`, `down`, `start`…) refreshes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub host: String,
    pub control: String,
    pub file: SentFile,
}

/// The first line a remote `fleet` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub fleet: String,
    pub protocol: u32,
    pub version: String,
    /// Why the request is refused, if it is; nothing else follows then.
    #[serde(default)]
    pub error: Option<String>,
}

impl Hello {
    pub fn ours(error: Option<String>) -> Self {
        Self {
            fleet: PRODUCT.into(),
            protocol: PROTOCOL,
            version: VERSION.into(),
            error,
        }
    }
}

/// Which side must be upgraded, worded for the operator: `theirs` is the
/// other side's protocol and version, `host` its name.
pub fn mismatch(host: &str, theirs: u32, their_version: &str) -> String {
    let which = if theirs < PROTOCOL {
        format!("upgrade fleet on {host}")
    } else {
        "upgrade this fleet".to_string()
    };
    format!(
        "fleet {their_version} on {host} speaks protocol {theirs}, this fleet {VERSION} speaks {PROTOCOL}: {which}"
    )
}

/// The remote side's check of a request, worded for the operator (who
/// reads it on the other end): `None` when it can be served.
pub fn refuse(request: &Request) -> Option<String> {
    (request.protocol != PROTOCOL).then(|| {
        let which = if request.protocol < PROTOCOL {
            format!("upgrade fleet on {}", request.control)
        } else {
            format!("upgrade fleet on {}", request.host)
        };
        format!(
            "fleet {VERSION} on {} speaks protocol {PROTOCOL}, the fleet {} on {} speaks {}: {which}",
            request.host, request.version, request.control, request.protocol
        )
    })
}

/// Reads a request's protocol even when the rest is not ours to read, so
/// that a newer or older request is answered with which side to upgrade.
pub fn protocol_of(text: &str) -> Option<(u32, String, String)> {
    #[derive(Deserialize)]
    struct Bare {
        protocol: u32,
        #[serde(default)]
        version: String,
        #[serde(default)]
        control: String,
    }
    let bare: Bare = serde_json::from_str(text).ok()?;
    Some((bare.protocol, bare.version, bare.control))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocol: u32) -> Request {
        Request {
            protocol,
            version: "9.0.0".into(),
            host: "h1".into(),
            control: "laptop".into(),
            file: None,
            socket: None,
            home: None,
            argv: vec!["ps".into(), "--json".into()],
        }
    }

    #[test]
    fn a_request_of_another_protocol_says_which_side_to_upgrade() {
        assert_eq!(refuse(&request(PROTOCOL)), None);
        let newer = refuse(&request(PROTOCOL + 1)).unwrap_or_default();
        assert!(newer.ends_with("upgrade fleet on h1"), "{newer}");
        let older = refuse(&request(0)).unwrap_or_default();
        assert!(older.ends_with("upgrade fleet on laptop"), "{older}");
    }

    #[test]
    fn a_hello_of_another_protocol_says_which_side_to_upgrade() {
        assert!(mismatch("h1", 0, "0.0.1").ends_with("upgrade fleet on h1"));
        assert!(mismatch("h1", PROTOCOL + 1, "9.9.9").ends_with("upgrade this fleet"));
    }

    #[test]
    fn argv_crosses_byte_for_byte() {
        let mut r = request(PROTOCOL);
        r.argv = vec![
            "send".into(),
            "a".into(),
            "$HOME `x` 'q' \"d\" ;\n\t\\".into(),
        ];
        let text = serde_json::to_string(&r).unwrap_or_default();
        assert!(!text.contains('\n'), "one line: {text}");
        let back: Request = serde_json::from_str(&text).unwrap_or_else(|_| request(0));
        assert_eq!(back, r);
        assert_eq!(protocol_of(&text).map(|p| p.0), Some(PROTOCOL));
    }
}
