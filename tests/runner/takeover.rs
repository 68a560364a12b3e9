//! Takeover is explicit: send types literally, attach is read-only unless
//! --takeover, and every takeover act is an event.

use std::time::Duration;

use crate::common::{FLEET, STUB, Terminal, TestEnv, wait_until};

#[test]
fn send_types_exactly_the_characters_given() {
    let env = TestEnv::new();
    env.fleet(&["start", "typist", "--runtime", "stub"])
        .success();
    env.wait_screen("typist", "anything else is echoed");
    for text in ["-x", "C-c", "a;b", "Enter", "--no-enter-is-text-here"] {
        env.fleet(&["send", "typist", text]).success();
        env.wait_screen("typist", &format!("echo: {text}"));
    }
    // C-c typed as text did not interrupt the agent.
    assert_eq!(env.row("typist")["status"], "running");
    env.fleet(&["send", "typist", "two", "words;"]).success();
    env.wait_screen("typist", "echo: two words;");

    env.fleet(&["send", "--no-enter", "typist", "half"])
        .success();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!env.screen("typist").contains("echo: half"));
    env.fleet(&["send", "typist", "-and-rest"]).success();
    env.wait_screen("typist", "echo: half-and-rest");

    let sends: Vec<String> = env
        .events(&["typist"])
        .into_iter()
        .filter(|e| e["event"] == "send")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(sends.len(), 8, "{sends:?}");
    assert_eq!(sends[0], "-x\u{23ce}");
    assert_eq!(sends[6], "half");
}

#[test]
fn send_types_a_long_text_whole_and_in_order() {
    let env = TestEnv::new();
    let typed = env.root().join("typed");
    // Writes whatever it reads, byte for byte. Not line by line: a
    // terminal in canonical mode keeps at most 4,095 characters a line,
    // and agents read their terminals raw anyway.
    let reader = r#"system("stty", "-icanon") == 0 or die; open(my $f, ">", $ARGV[0]) or die; $| = 1; print "reading\n"; my $b; while (sysread(STDIN, $b, 65536)) { syswrite($f, $b) }"#;
    let path = typed.to_string_lossy();
    env.fleet(&["start", "reader", "--", "perl", "-e", reader, &path])
        .success();
    env.wait_screen("reader", "reading");
    // 20,000 characters, 32,000 bytes: many times what one tmux call
    // carries, with characters of one to four bytes to split between.
    let text: String = "aé中🙂; -x1\\".chars().cycle().take(20_000).collect();
    env.fleet(&["send", "reader", &text]).success();
    let want = format!("{text}\n");
    let arrived = wait_until(Duration::from_secs(10), || {
        std::fs::read(&typed).is_ok_and(|got| got.len() >= want.len())
    });
    let got = std::fs::read(&typed).unwrap_or_default();
    let same = got
        .iter()
        .zip(want.as_bytes())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        arrived && got == want.as_bytes(),
        "{} of {} bytes arrived; the first {same} as sent",
        got.len(),
        want.len()
    );
}

#[test]
fn send_reaches_an_agent_someone_is_scrolling_back_in() {
    let env = TestEnv::new();
    env.fleet(&["start", "scrolled", "--runtime", "stub"])
        .success();
    env.wait_screen("scrolled", "anything else is echoed");
    env.tmux(&["copy-mode", "-t", "=scrolled:"]);
    env.fleet(&["send", "scrolled", "still-typed"]).success();
    env.wait_screen("scrolled", "echo: still-typed");
}

#[test]
fn send_refuses_what_it_cannot_type_into() {
    let env = TestEnv::new();
    env.fleet(&["send", "ghost", "hi"])
        .failure(1)
        .one_line_error("agent ghost has no session");
    env.tmux(&["new-session", "-d", "-s", "mine", "sleep 300"]);
    env.fleet(&["send", "mine", "hi"])
        .failure(1)
        .one_line_error("was not started by fleet");
    env.fleet(&["send", "A;b", "hi"])
        .failure(2)
        .one_line_error("is invalid");
}

/// `fleet attach ARGS` on a real terminal, once its screen shows `needle`.
fn attach(env: &TestEnv, attach_args: &str, needle: &str) -> Terminal {
    let script = format!(
        "env -i TERM=\"$TERM\" HOME={home} PATH=/usr/bin:/bin TMUX_TMPDIR={tmp} FLEET_HOME={state} MOSAIC_TMUX_SOCKET={sock} {FLEET} attach {attach_args}; sleep 300",
        home = env.home().display(),
        tmp = env.root().join("tmux").display(),
        state = env.root().join("state").display(),
        sock = env.socket,
    );
    let viewer = Terminal::start(env, "viewer", 120, 30, &script);
    let shown = wait_until(Duration::from_secs(10), || viewer.screen().contains(needle));
    assert!(shown, "the viewer never showed {needle:?}");
    viewer
}

#[test]
fn read_only_attach_sees_everything_and_types_nothing() {
    let env = TestEnv::new();
    env.fleet(&[
        "start",
        "watched",
        "--runtime",
        "stub",
        "--model",
        "seen/model",
    ])
    .success();
    env.wait_screen("watched", "anything else is echoed");
    let viewer = attach(&env, "watched", "seen/model");
    viewer.type_line("typed-by-viewer");
    std::thread::sleep(Duration::from_millis(700));
    let screen = env.screen("watched");
    assert!(!screen.contains("typed-by-viewer"), "{screen}");
    assert!(
        env.events(&["watched"])
            .iter()
            .all(|e| e["event"] != "takeover")
    );
    assert_eq!(env.row("watched")["status"], "running");
}

#[test]
fn takeover_attach_types_and_is_recorded() {
    let env = TestEnv::new();
    env.fleet(&["start", "driven", "--runtime", "stub"])
        .success();
    env.wait_screen("driven", "anything else is echoed");
    let viewer = attach(&env, "--takeover driven", "anything else");
    viewer.type_line("typed-by-operator");
    env.wait_screen("driven", "echo: typed-by-operator");
    assert!(
        env.events(&["driven"])
            .iter()
            .any(|e| e["event"] == "takeover")
    );
}

#[test]
fn the_event_store_keeps_every_event_from_concurrent_writers() {
    let env = TestEnv::new();
    env.fleet(&["start", "busy", "--runtime", "stub"]).success();
    env.wait_screen("busy", "anything else is echoed");
    let writer = |tag: &'static str| {
        let cmds: Vec<std::process::Command> = (0..15)
            .map(|i| env.command(&["send", "busy", &format!("{tag}{i}")]))
            .collect();
        std::thread::spawn(move || {
            for mut cmd in cmds {
                let ok = cmd.output().is_ok_and(|o| o.status.success());
                assert!(ok);
            }
        })
    };
    let (a, b) = (writer("a"), writer("b"));
    assert!(a.join().is_ok() && b.join().is_ok());
    let sends = env
        .events(&["busy"])
        .into_iter()
        .filter(|e| e["event"] == "send")
        .count();
    assert_eq!(sends, 30);
}

#[test]
fn send_says_what_arrived_and_what_did_not() {
    let env = TestEnv::new();
    env.fleet(&["start", "talker", "--runtime", "stub"])
        .success();
    env.wait_screen("talker", "anything else is echoed");
    let run = env.fleet(&["send", "talker", "hello"]).success();
    assert_eq!(run.stdout, "talker  sent\n");
    env.wait_screen("talker", "echo: hello");

    // A pane that shows nothing of what it is typed: fleet cannot confirm
    // it arrived, and says so with exit 1.
    env.write_fleet(
        "[agents.deaf]\nruntime = \"shell\"\ncommand = \"bash -c 'stty -echo; exec -a deaf-agent sleep 300'\"\nprocesses = [\"deaf-agent\"]\n",
    );
    env.fleet(&["up", "deaf"]).success();
    let run = env.fleet(&["send", "deaf", "hello"]).failure(1);
    assert!(
        run.stdout
            .contains("deaf  sent, but its screen did not change within 3s"),
        "{run:?}"
    );

    // Named keys apart from text (options come before the names: after
    // them everything is text); a typo is refused, nothing is typed.
    env.fleet(&["send", "--no-enter", "talker", "abc"])
        .success();
    env.fleet(&["send", "--key", "BSpace", "--key", "Enter", "talker"])
        .success();
    env.wait_screen("talker", "echo: ab");
    env.fleet(&["send", "--key", "Escpae", "talker"])
        .one_line_error("\"Escpae\" is not a key name");
    env.fleet(&["send", "--key", "C-u", "talker,deaf", "x"])
        .one_line_error("give TEXT or --key, not both");
    env.fleet(&["send", "--no-enter", "talker", "a\nb"])
        .one_line_error("the text has a line break");

    // Something else in front of an agent would get the text: refused.
    env.type_line("talker", "");
    env.tmux(&["respawn-pane", "-k", "-t", "=talker:", "sleep 300"]);
    env.wait_status("talker", "drift");
    env.fleet(&["send", "talker", "rm -rf ~"])
        .one_line_error("agent talker is in drift: sleep is in front");
}

#[test]
fn wait_blocks_until_the_state_and_says_where_it_is_when_time_runs_out() {
    let env = TestEnv::new();
    env.write_fleet(&format!(
        "[agents.asker]\nruntime = \"stub\"\ncommand = \"{STUB} --model {{model}} --effort {{effort}} --ask-after 1\"\n"
    ));
    env.fleet(&["up"]).success();
    let run = env
        .fleet(&["wait", "asker", "--until", "waiting", "--timeout", "20s"])
        .success();
    assert_eq!(run.stdout, "asker  running waiting\n");
    env.fleet(&["wait", "asker", "--until", "idle", "--timeout", "1s"])
        .one_line_error("not idle after 1s: asker is running waiting");
    env.fleet(&["wait", "ghost", "--until", "idle"])
        .one_line_error("no agent named ghost");
}
