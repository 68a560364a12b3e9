//! What `fleet serve` lets a page change, and how it is reached: send and
//! restart exist only under `--allow-takeover`, only from the page's own
//! origin, each recorded with the client's address; and HTTPS when given a
//! certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::TestEnv;
use crate::serve::serve_with;

/// One HTTP/1.1 exchange on `stream`: the status code and the body.
fn exchange<S: Read + Write>(stream: &mut S, request: &str) -> (u16, String) {
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_string())
}

/// A request's text: METHOD PATH with these headers and body.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

/// POSTs `body` over plain HTTP.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = crate::serve::connect(port, 20);
    exchange(&mut stream, &request(port, "POST", path, headers, body))
}

/// GET, or `None` while nothing listens (a server starting again).
fn try_get(port: u16, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    Some(exchange(
        &mut stream,
        &request(port, "GET", path, headers, ""),
    ))
}

fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = crate::serve::connect(port, 20);
    exchange(&mut stream, &request(port, "GET", path, headers, ""))
}

/// The host name the server shows its agents on.
fn host_of(port: u16, bearer: &str) -> String {
    let (_, body) = get(port, "/api/agents", &[("Authorization", bearer)]);
    let board: Value = serde_json::from_str(&body).unwrap_or_default();
    board["agents"][0]["host"]
        .as_str()
        .unwrap_or_else(|| panic!("no agents: {body}"))
        .to_string()
}

#[test]
fn without_the_flag_nothing_can_change_an_agent() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    env.wait_screen("s1", "anything else is echoed");
    let (_server, port, token) = serve_with(&env, &[]);
    let bearer = format!("Bearer {token}");
    let host = host_of(port, &bearer);
    let json = ("Content-Type", "application/json");
    let body = format!(r#"{{"name":"s1","host":"{host}","text":"typed by nobody"}}"#);
    for path in ["/api/send", "/api/restart"] {
        let (code, said) = post(port, path, &[("Authorization", &bearer), json], &body);
        assert_eq!(code, 404, "{path}: {said}");
    }
    let (_, page) = get(port, "/", &[("Authorization", &bearer)]);
    assert!(page.contains("id=\"rows\""), "{page}");
    assert!(
        !page.contains("id=\"takeover\"") && !page.contains("id=\"send\""),
        "{page}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!env.screen("s1").contains("typed by nobody"));
    let events = env.events(&["s1"]);
    assert!(
        events
            .iter()
            .all(|e| e["event"] != "send" && e["event"] != "restarted"),
        "{events:?}"
    );
}

#[test]
fn takeover_acts_come_only_from_the_page_and_name_the_client() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n[agents.s2]\n");
    env.fleet(&["up"]).success();
    env.wait_screen("s1", "anything else is echoed");
    let (server, port, token) = serve_with(&env, &["--allow-takeover"]);
    let _ = server;
    let bearer = format!("Bearer {token}");
    let cookie = format!("fleet-{port}={token}");
    let host = host_of(port, &bearer);
    let json = ("Content-Type", "application/json");
    let own = format!("http://127.0.0.1:{port}");
    let send = |text: &str| format!(r#"{{"name":"s1","host":"{host}","text":"{text}"}}"#);
    // The page has the controls.
    let (_, page) = get(port, "/", &[("Cookie", &cookie)]);
    assert!(page.contains("id=\"takeover\""), "{page}");
    // Another site's form or script is refused, whatever it carries.
    let refused: [(&str, Vec<(&str, &str)>); 5] = [
        ("no token", vec![("Origin", &own), json]),
        (
            "another origin",
            vec![("Cookie", &cookie), ("Origin", "http://evil.example"), json],
        ),
        ("a cookie and no origin", vec![("Cookie", &cookie), json]),
        (
            "a cross-site fetch",
            vec![
                ("Cookie", &cookie),
                ("Origin", &own),
                ("Sec-Fetch-Site", "cross-site"),
                json,
            ],
        ),
        (
            "a form's body",
            vec![
                ("Cookie", &cookie),
                ("Origin", &own),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        ),
    ];
    for (what, headers) in &refused {
        let (code, said) = post(port, "/api/send", headers, &send("forged"));
        assert!([401, 403, 415].contains(&code), "{what}: {code} {said}");
    }
    // Text must be one line: no keys smuggled in as control characters.
    let (code, said) = post(
        port,
        "/api/send",
        &[("Cookie", &cookie), ("Origin", &own), json],
        &send("a\\u001b[2Jb"),
    );
    assert_eq!(code, 422, "{said}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!env.screen("s1").contains("forged"));
    // The page's own request types, and says so.
    let (code, said) = post(
        port,
        "/api/send",
        &[("Cookie", &cookie), ("Origin", &own), json],
        &send("hello from the page"),
    );
    assert_eq!(code, 200, "{said}");
    let said: Value = serde_json::from_str(&said).unwrap_or_default();
    assert_eq!(said["ok"], true, "{said}");
    env.wait_screen("s1", "echo: hello from the page");
    // A script with the bearer token needs no origin; restart relaunches.
    let restart = format!(r#"{{"name":"s2","host":"{host}"}}"#);
    let (code, said) = post(
        port,
        "/api/restart",
        &[("Authorization", &bearer), json],
        &restart,
    );
    assert_eq!(code, 200, "{said}");
    // An agent the server does not show is not there to act on.
    let (code, _) = post(
        port,
        "/api/restart",
        &[("Authorization", &bearer), json],
        &format!(r#"{{"name":"ghost","host":"{host}"}}"#),
    );
    assert_eq!(code, 404);
    // Both acts are in the history, naming the client's address.
    let events = env.events(&[]);
    let by = |agent: &str, kind: &str| {
        events.iter().any(|e| {
            e["agent"] == agent
                && e["event"] == kind
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("by web 127.0.0.1"))
        })
    };
    assert!(by("s1", "send"), "{events:?}");
    assert!(by("s2", "restarted"), "{events:?}");
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "send")
            .all(|e| !e["detail"].as_str().unwrap_or_default().contains("forged")),
        "{events:?}"
    );
}

#[test]
fn with_a_certificate_it_serves_https_only() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    let dir = env.root().join("tls");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("openssl is needed (apt-get install openssl): {e}"));
    assert!(made.status.success(), "{made:?}");
    let (cert_s, key_s) = (cert.to_string_lossy(), key.to_string_lossy());
    let (_server, port, token) = serve_with(&env, &["--tls-cert", &cert_s, "--tls-key", &key_s]);
    // A client that trusts that certificate gets the agents.
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for c in
        rustls_pki_types::CertificateDer::pem_file_iter(&cert).unwrap_or_else(|e| panic!("{e}"))
    {
        roots
            .add(c.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name =
        rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let conn =
        rustls::ClientConnection::new(Arc::new(config), name).unwrap_or_else(|e| panic!("{e}"));
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let bearer = format!("Bearer {token}");
    let (code, body) = exchange(
        &mut tls,
        &request(
            port,
            "GET",
            "/api/agents",
            &[("Authorization", &bearer)],
            "",
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"s1\""), "{body}");
    // Plain HTTP gets no answer from it.
    let (code, _) = get(port, "/api/agents", &[("Authorization", &bearer)]);
    assert_eq!(code, 0);
    // A key that is not the certificate's is refused before anything runs.
    env.fleet(&["serve", "--tls-cert", &cert_s, "--tls-key", &cert_s])
        .failure(2)
        .one_line_error("--tls-key");
}

#[test]
fn the_page_covers_every_host_and_says_which_went_away() {
    let lab = crate::sshlab::SshLab::new(&["h1", "h2"]);
    let env = crate::hosts::env_for(&lab);
    env.write_fleet(&format!(
        "[defaults]\nruntime = \"stub\"\nworkdir = \"~\"\n\n[agents.home1]\n\n[agents.far1]\nhost = \"h1\"\n\n[agents.far2]\nhost = \"h2\"\n\n{}",
        lab.hosts_toml()
    ));
    env.fleet(&["up"]).success();
    let (_server, port, token) = serve_with(&env, &["--allow-takeover"]);
    let bearer = format!("Bearer {token}");
    let json = ("Content-Type", "application/json");
    let board = || -> Value {
        let (_, body) = get(port, "/api/agents", &[("Authorization", &bearer)]);
        serde_json::from_str(&body).unwrap_or_default()
    };
    let status_of = |board: &Value, name: &str| -> (String, String) {
        board["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .map(|r| {
                (
                    r["host"].as_str().unwrap_or_default().to_string(),
                    r["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .unwrap_or_default()
    };
    // Every host's agents, each on its host.
    assert!(
        crate::common::wait_until(Duration::from_secs(15), || {
            let b = board();
            status_of(&b, "far1") == ("h1".into(), "running".into())
                && status_of(&b, "far2") == ("h2".into(), "running".into())
                && status_of(&b, "home1").1 == "running"
        }),
        "{:#}",
        board()
    );
    // Another host's agent: its screen, and a send recorded there by the
    // browser's address.
    let (code, body) = get(
        port,
        "/api/screen?name=far1&host=h1",
        &[("Authorization", &bearer)],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("fleet-stub"), "{body}");
    let (code, said) = post(
        port,
        "/api/send",
        &[("Authorization", &bearer), json],
        r#"{"name":"far1","host":"h1","text":"hello far away"}"#,
    );
    assert_eq!(code, 200, "{said}");
    let events = env.events(&["far1"]);
    assert!(
        events.iter().any(|e| e["event"] == "send"
            && e["host"] == "h1"
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("hello far away") && d.contains("by web 127.0.0.1"))),
        "{events:#?}"
    );
    // A host that goes away is said to be unreachable, and its agents so;
    // the rest stay as they are.
    lab.host("h2").stop();
    assert!(
        crate::common::wait_until(Duration::from_secs(30), || {
            let b = board();
            status_of(&b, "far2").1 == "unreachable"
                && b["unreachable"]
                    .as_array()
                    .is_some_and(|u| u.iter().any(|h| h["host"] == "h2"))
        }),
        "{:#}",
        board()
    );
    let b = board();
    assert_eq!(status_of(&b, "far1").1, "running", "{b:#}");
    assert_eq!(status_of(&b, "home1").1, "running", "{b:#}");
    lab.host("h2").start();
    assert!(
        crate::common::wait_until(Duration::from_secs(30), || {
            status_of(&board(), "far2").1 == "running"
        }),
        "{:#}",
        board()
    );
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

#[test]
fn ctrl_c_stops_the_server_with_a_page_open_and_leaves_nothing_behind() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    let (mut server, port, token) = serve_with(&env, &[]);
    // A page's event stream, open.
    let mut stream = crate::serve::connect(port, 10);
    let open = request(
        port,
        "GET",
        "/api/stream",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    stream
        .write_all(open.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut first = [0u8; 256];
    let n = stream.read(&mut first).unwrap_or(0);
    assert!(n > 0, "the stream said nothing");
    let pid = server.pid();
    let children = children_of(pid);
    assert!(!children.is_empty(), "serve watches through tmux clients");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let gone = crate::common::wait_until(Duration::from_secs(5), || !server.alive());
    assert!(
        gone,
        "fleet serve still runs 5 s after Ctrl-C with a page open"
    );
    // The stream was ended, and no child of the server outlives it.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let left = crate::common::wait_until(Duration::from_secs(3), || {
        children
            .iter()
            .all(|c| !std::path::Path::new(&format!("/proc/{c}")).exists())
    });
    assert!(left, "children of serve left behind: {children:?}");
}

#[test]
fn a_rebound_name_a_flag_for_a_name_and_caching_are_refused() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    // A session someone named like a flag, on the fleet's own server.
    env.tmux(&["new-session", "-d", "-s", "--help", "sleep 600"]);
    let (_server, port, token) = serve_with(&env, &[]);
    let bearer = format!("Bearer {token}");
    let host = host_of(port, &bearer);
    // DNS rebinding: a page of another name, pointed at this machine.
    let mut stream = crate::serve::connect(port, 10);
    let rebound = format!(
        "GET /api/agents HTTP/1.1\r\nHost: evil.example:{port}\r\nAuthorization: {bearer}\r\nConnection: close\r\n\r\n"
    );
    let (code, said) = exchange(&mut stream, &rebound);
    assert_eq!(code, 421, "{said}");
    // Nothing of an agent is kept by a cache.
    let mut stream = crate::serve::connect(port, 10);
    stream
        .write_all(
            request(
                port,
                "GET",
                "/api/agents",
                &[("Authorization", &bearer)],
                "",
            )
            .as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{answer}"
    );
    // A session named `--help` is a name, never a flag of the command run
    // for it.
    let (code, said) = get(
        port,
        &format!("/api/explain?name=--help&host={host}"),
        &[("Authorization", &bearer)],
    );
    assert!(!said.contains("Usage:"), "{code} {said}");
    let (code, said) = get(
        port,
        &format!("/api/events?name=--help&host={host}"),
        &[("Authorization", &bearer)],
    );
    assert!(!said.contains("Usage:"), "{code} {said}");
}

#[test]
fn a_token_others_could_read_is_replaced_and_the_file_names_new_hosts_live() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    let kept = env.root().join("state/serve-token");
    std::fs::write(&kept, "a".repeat(64)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let (server, port, token) = serve_with(&env, &[]);
    assert_ne!(token, "a".repeat(64), "a token others could read was kept");
    let mode = std::fs::metadata(&kept).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let bearer = format!("Bearer {token}");
    // The file comes to name another host: the server starts again to
    // follow it, on the same address with the same token, and says that
    // host cannot be reached (nothing listens there).
    let closed = crate::serve::free_port();
    env.write_fleet(&format!(
        "[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n\n[agents.far]\nhost = \"ghost\"\n\n[hosts.ghost]\nssh = \"nobody@127.0.0.1\"\nport = {closed}\n"
    ));
    let said = server.until(Duration::from_secs(20), |l| l.contains("?token="));
    assert!(said.is_some(), "fleet serve did not start again");
    let board = || -> Value {
        try_get(port, "/api/agents", &[("Authorization", &bearer)])
            .and_then(|(_, body)| serde_json::from_str(&body).ok())
            .unwrap_or_default()
    };
    assert!(
        crate::common::wait_until(Duration::from_secs(20), || {
            let b = board();
            b["unreachable"]
                .as_array()
                .is_some_and(|u| u.iter().any(|h| h["host"] == "ghost"))
                && b["agents"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["name"] == "far"))
        }),
        "{:#}",
        board()
    );
    // A broken file is said, with the rows of what runs here.
    std::fs::write(env.root().join("work/fleet.toml"), "[agents.s1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        crate::common::wait_until(Duration::from_secs(20), || {
            board()["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w.as_str().is_some_and(|w| w.contains("fleet.toml")))
            })
        }),
        "{:#}",
        board()
    );
}

#[test]
fn a_client_that_dribbles_a_request_head_is_let_go() {
    let env = TestEnv::new();
    env.write_fleet("[defaults]\nruntime = \"stub\"\n\n[agents.s1]\n");
    env.fleet(&["up"]).success();
    let (_server, port, token) = serve_with(&env, &[]);
    // A head sent a byte every second never ends: the server closes the
    // connection within its bound (10 s), not when the client pleases.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let head = b"GET /api/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = None;
    for byte in head.iter().cycle().take(30) {
        if slow.write_all(&[*byte]).is_err() {
            closed = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        // A closed connection reads as its end.
        slow.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 64];
        let ended = matches!(slow.read(&mut buf), Ok(0));
        slow.set_nonblocking(false)
            .unwrap_or_else(|e| panic!("{e}"));
        if ended {
            closed = Some(started.elapsed());
            break;
        }
    }
    let took = closed.unwrap_or_else(|| panic!("a dribbled head held its connection for 30 s"));
    assert!(took < Duration::from_secs(15), "closed after {took:?}");
    // Meanwhile, and after, others are answered.
    let (code, _) = get(
        port,
        "/api/agents",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(code, 200);
}
