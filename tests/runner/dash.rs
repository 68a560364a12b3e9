//! `fleet dash` on a real terminal: a pane of a viewer tmux server of the
//! test's own, apart from the fleet's. Keys are sent to it and its screen
//! is read the way a person would see it.

use std::time::Duration;

use crate::common::{FLEET, Terminal, TestEnv, wait_until};

/// The dashboard running on a real terminal.
struct Dash {
    terminal: Terminal,
}

impl Dash {
    fn start(env: &TestEnv, cols: u16, rows: u16, extra_env: &str) -> Self {
        let script = format!(
            "env -i TERM=xterm-256color HOME={home} PATH=/usr/bin:/bin TMUX_TMPDIR={tmp} FLEET_HOME={state} MOSAIC_TMUX_SOCKET={sock} {extra_env} {FLEET} --file {file} dash; echo DASH-EXIT=$?; sleep 300",
            home = env.home().display(),
            tmp = env.root().join("tmux").display(),
            state = env.root().join("state").display(),
            sock = env.socket,
            file = env.work().join("fleet.toml").display(),
        );
        Dash {
            terminal: Terminal::start(env, "dash", cols, rows, &script),
        }
    }

    #[track_caller]
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.terminal.screen();
            check(&last)
        });
        assert!(ok, "the dashboard never showed {what}:\n{last}");
        last
    }
}

impl std::ops::Deref for Dash {
    type Target = Terminal;

    fn deref(&self) -> &Terminal {
        &self.terminal
    }
}

/// The line of the screen that shows `name`'s row.
fn row_line<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_default()
}

#[test]
fn the_dashboard_shows_the_fleet_marks_who_waits_and_acts_only_when_confirmed() {
    let env = TestEnv::new();
    env.write_fleet(
        "[defaults]\nruntime = \"stub\"\n\n[agents.alpha]\n[agents.bravo]\n[agents.charlie]\n",
    );
    env.fleet(&["up"]).success();
    env.wait_screen("bravo", "anything else is echoed");
    env.type_line("bravo", "ask");
    env.wait_row("bravo", "waiting", |r| r["activity"] == "waiting");
    let dash = Dash::start(&env, 100, 30, "");
    let screen = dash.wait_for("its rows", |s| {
        s.contains("fleet dash") && s.contains("alpha") && s.contains("charlie")
    });
    // The header counts, and the waiting agent stands out (and is the one
    // selected first, its screen in the preview).
    assert!(
        screen.contains("3 running") && screen.contains("1 waiting"),
        "{screen}"
    );
    assert!(row_line(&screen, "bravo").starts_with('!'), "{screen}");
    assert!(!row_line(&screen, "alpha").starts_with('!'), "{screen}");
    dash.wait_for("bravo's screen in the preview", |s| {
        s.contains("bravo@") && s.contains("Allow command? [y/n]")
    });
    // The same words as ps.
    let alpha = row_line(&screen, "alpha");
    assert!(
        alpha.contains("running") && alpha.contains("stub"),
        "{alpha}"
    );

    // Neither a paste nor keys typed ahead of the question answer it.
    dash.tmux(&["set-buffer", "Ty"]);
    dash.tmux(&["paste-buffer", "-p", "-t", "v"]);
    dash.tmux(&["send-keys", "-t", "v", "T", "y"]);
    dash.wait_for("the takeover question, unanswered", |s| {
        s.contains("Take over bravo@")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        dash.screen().contains("Take over bravo@"),
        "{}",
        dash.screen()
    );
    assert!(
        env.events(&["bravo"])
            .iter()
            .all(|e| e["event"] != "takeover"),
        "nothing was taken over"
    );
    dash.keys(&["n"]);
    dash.wait_for("the question gone", |s| !s.contains("Take over bravo@"));

    // A takeover is confirmed first; anything but y cancels it.
    dash.keys(&["T"]);
    dash.wait_for("the takeover question", |s| s.contains("Take over bravo@"));
    dash.keys(&["n"]);
    dash.wait_for("the question gone", |s| !s.contains("Take over bravo@"));

    // Sending a line: a prompt, the exact text to confirm, then it is typed.
    dash.keys(&["s"]);
    dash.text("y");
    dash.keys(&["Enter"]);
    dash.wait_for("the send confirmation", |s| {
        s.contains("bravo@") && s.contains("y/N")
    });
    dash.keys(&["y"]);
    env.wait_screen("bravo", "approved.");
    dash.wait_for("bravo working again", |s| {
        !row_line(s, "bravo").starts_with('!')
    });
    assert!(
        env.events(&["bravo"]).iter().any(|e| e["event"] == "send"),
        "the send was recorded"
    );

    // Read-only attach: the dashboard steps aside; typing reaches nothing;
    // detaching comes back.
    dash.keys(&["Enter"]);
    dash.wait_for("the attached agent", |s| !s.contains("fleet dash"));
    dash.text("typed-by-viewer");
    dash.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(700));
    assert!(!env.screen("bravo").contains("typed-by-viewer"));
    dash.keys(&["C-b", "d"]);
    dash.wait_for("the dashboard again", |s| {
        s.contains("fleet dash") && s.contains("back from bravo@")
    });

    // Filter, then quit: the terminal is given back.
    dash.keys(&["/"]);
    dash.text("char");
    dash.keys(&["Enter"]);
    let filtered = dash.wait_for("only charlie", |s| {
        s.contains("charlie") && !s.contains("alpha")
    });
    assert!(filtered.contains("filter"), "{filtered}");
    dash.keys(&["q"]);
    let after = dash.wait_for("the shell again", |s| s.contains("DASH-EXIT=0"));
    assert!(
        !after.contains("fleet dash"),
        "the alternate screen is gone:\n{after}"
    );
}

#[test]
fn an_unreachable_host_shows_as_such_and_the_rest_stays_live_even_at_80x24() {
    let env = TestEnv::new();
    env.write_fleet(
        "[defaults]\nruntime = \"stub\"\n\n[agents.here1]\n[agents.far1]\nhost = \"far\"\n\n[hosts.far]\nssh = \"op@far.invalid\"\n",
    );
    env.fleet(&["up", "--host", "localhost"]).success();
    let dash = Dash::start(&env, 80, 24, "FLEET_HOST_TIMEOUT=1s NO_COLOR=1");
    let screen = dash.wait_for("both rows", |s| s.contains("here1") && s.contains("far1"));
    let far = row_line(&screen, "far1");
    assert!(far.contains("unreachable"), "{screen}");
    assert!(row_line(&screen, "here1").contains("running"), "{screen}");
    // A change here shows within a second or so.
    env.fleet(&["stop", "here1"]).success();
    dash.wait_for("here1 stopped", |s| {
        row_line(s, "here1").contains("missing")
    });
    // An act on the unreachable agent is refused, with why.
    dash.keys(&["End"]);
    dash.wait_for("here1's screen gone", |s| s.contains("no session"));
    dash.keys(&["Home"]);
    dash.wait_for("far1's screen missing, with why", |s| {
        s.contains("far1@far") && s.contains("did not answer")
    });
    dash.keys(&["x"]);
    dash.wait_for("the refusal", |s| s.contains("did not answer"));
    // SIGTERM gives the terminal back too.
    let own = format!(
        "pkill -TERM -f -- '--file {} dash$' || true",
        env.work().join("fleet.toml").display()
    );
    dash.tmux(&["run-shell", &own]);
    dash.wait_for("the shell again", |s| s.contains("DASH-EXIT="));
}

#[test]
fn the_dashboard_needs_a_terminal_and_says_so() {
    let env = TestEnv::new();
    env.fleet(&["dash"])
        .failure(2)
        .one_line_error("fleet dash needs a terminal");
}
