//! Conformance of the real runtimes, as npm ships them (see `lab`), run by
//! `fleet`: what each shows without credentials, and, pointed at the mock
//! model, what it shows while it works, when it asks, and when it is done.
//! Every screen here is read through `fleet peek`, every prompt typed with
//! `fleet send`; `fleet ps` must say `running` at each step.

use std::time::{Duration, Instant};

use crate::lab::mock::Reply;
use crate::lab::{Lab, MODEL, Runtime};

/// A runtime's first screen, on a busy 2-core machine.
const STARTUP: Duration = Duration::from_secs(45);
const WITHIN: Duration = Duration::from_secs(30);

const PROMPT: &str = "do the thing";
const STREAM: &str = "LAB-STREAM";
const STREAMED: usize = 10;
const COMMAND: &str = "touch approved.txt";
const DONE: &str = "LAB-DONE: the thing is done.";

/// One turn that streams ten lines over eight seconds, then asks to run
/// a shell command; then, with the command's result, a short last word.
fn work_ask_finish() -> [Reply; 2] {
    [
        Reply::slow(STREAM, STREAMED, Duration::from_secs(8)).then_tool(COMMAND),
        Reply::text(DONE),
    ]
}

/// The stream is on screen, but not all of it yet.
fn streaming(screen: &str) -> bool {
    screen.contains(&format!("{STREAM}-2")) && !screen.contains(&format!("{STREAM}-{STREAMED}"))
}

/// Whether a turn hands back a tool's result, in any of the three APIs.
fn carries_a_tool_result(body: &str) -> bool {
    [
        "\"tool_result\"",
        "\"function_call_output\"",
        "\"role\":\"tool\"",
    ]
    .iter()
    .any(|m| body.contains(m))
}

/// The mock got the prompt as the first turn, and the command's result as
/// the second; the command ran in the agent's workdir.
#[track_caller]
fn assert_the_mock_was_asked(lab: &Lab) {
    let turns = lab.mock.wait_turns(2, WITHIN);
    assert!(turns[0].body.contains(PROMPT), "{:?}", turns[0].body);
    assert!(
        carries_a_tool_result(&turns[1].body),
        "no tool result in the second turn: {}",
        turns[1].body
    );
    assert!(lab.env.work().join("approved.txt").exists());
}

fn lab_for(runtime: Runtime) -> Lab {
    let mut lab = Lab::new();
    let table = lab.point_at_mock(runtime);
    lab.env.write_fleet(&table);
    lab.mock.script(work_ask_finish());
    lab.up(runtime.agent());
    lab
}

// pi 0.73.1 on the mock (chat completions). pi has no approval prompt by
// design: the tool call runs at once. Its screens, through `fleet peek`:
//   ready:    footer `0.0%/128k (auto)` … `lab-model`
//   working:  ` do the thing`, ` LAB-STREAM-1`, ` LAB-STREAM-2`, ` ⠋ Working...`
//   tool:     ` $ touch approved.txt`, ` (no output)`, ` Took 0.0s`
//   finished: ` LAB-DONE: the thing is done.`; footer `↑20 ↓40 0.0%/128k (auto)`
// `fleet send pi 'do the thing'` submits.
#[test]
fn pi_works_runs_the_tool_and_finishes_on_the_mock() {
    let lab = lab_for(Runtime::Pi);
    lab.see("pi", MODEL, STARTUP);
    lab.send("pi", PROMPT);
    lab.see_where("pi", "the stream arriving", WITHIN, streaming);
    lab.activity("pi", "working");
    lab.see("pi", &format!("$ {COMMAND}"), WITHIN);
    lab.see("pi", DONE, WITHIN);
    // pi's own word, through fleet's extension: the prompt ended.
    lab.activity("pi", "idle");
    lab.decided_by("pi", "extension");
    assert_the_mock_was_asked(&lab);
}

// Codex CLI 0.169.0 on the mock (Responses API). Its screens:
//   ready:    `>_ OpenAI Codex (v0.169.0)` (first with `loading`), then
//             the footer `lab-model low · <workdir>`
//   working:  `› do the thing`, `• LAB-STREAM-1`, `  LAB-STREAM-2`, and the
//             composer `› Ask Codex to do anything` below
//   asking:   `• Running touch approved.txt`,
//             `  Would you like to run the following command?`,
//             `  Environment: local`, `  Reason: The lab asks to run this command`,
//             `  $ touch approved.txt`, `› 1. Yes, proceed (y)`,
//             `  2. Yes, and don't ask again for commands that start with …`,
//             `  3. No, and tell Codex what to do differently (esc)`,
//             `  Press enter to confirm or esc to cancel`
//   finished: `✔ You approved codex to run touch approved.txt this time`,
//             `• Ran touch approved.txt`, `  └ (no output)`,
//             `• LAB-DONE: the thing is done.`, `  Worked for 8s • 4:06 AM`
// `fleet send codex 'do the thing'` leaves the text in the composer: the
// text and its Enter arrive in one go, which Codex reads as a paste. The
// text with --no-enter, then (once it shows) `fleet send codex ''`,
// submits. `fleet send codex y` approves.
#[test]
fn codex_works_asks_and_finishes_on_the_mock() {
    let lab = lab_for(Runtime::Codex);
    lab.see("codex", &format!("{MODEL} low · "), STARTUP);
    // One `send` submits: fleet pauses before the Enter.
    lab.send("codex", PROMPT);
    lab.see_where("codex", "the stream arriving", WITHIN, streaming);
    lab.activity("codex", "working");
    let asking = lab.see(
        "codex",
        "Would you like to run the following command?",
        WITHIN,
    );
    assert!(asking.contains(&format!("$ {COMMAND}")), "{asking}");
    assert!(
        asking.contains("Press enter to confirm or esc to cancel"),
        "{asking}"
    );
    let row = lab.activity("codex", "waiting");
    lab.decided_by("codex", "screen");
    drop(row);
    lab.send("codex", "y");
    lab.see("codex", DONE, WITHIN);
    // Codex's notify: the turn completed.
    lab.activity("codex", "idle");
    lab.decided_by("codex", "hook");
    assert_the_mock_was_asked(&lab);
}

// Claude Code 2.1.332 on the mock (Anthropic Messages). Its screens:
//   trust:    ` Accessing workspace:`, ` <workdir>`, ` Quick safety check: Is
//             this a project you created or one you trust? (Like your own
//             code, …`, ` ❯ No, exit`, `   Yes, I trust this folder`,
//             ` Enter to confirm · Esc to cancel`
//   ready:    `Claude Code v2.1.332`, `Sonnet 4.6 · API Usage Billing`, `❯`,
//             `  ⏸ manual mode on`
//   working:  `❯ do the thing`, `● LAB-STREAM-1`, `  LAB-STREAM-2` (whole
//             lines only, as they complete), footer `… esc to interrupt …`
//   asking:   `  Running the lab's command`, `  ⎿  $ touch approved.txt`,
//             ` Bash command`, ` touch approved.txt`, ` Do you want to proceed?`,
//             ` ❯ 1. Yes`, `   2. Yes, and always allow access to <workdir>
//             from this project`, `   3. Yes, and switch to auto mode · …`,
//             `   4. No`, ` Esc to cancel · Tab to amend`
//   finished: `  Ran 1 shell command`, `● LAB-DONE: the thing is done.`,
//             `✻ Cogitated for 8s · done 4:06 AM` (the verb varies)
// `fleet send claude 'do the thing'` submits; `fleet send claude 1`
// approves. The trust prompt takes no digit: see `trust_the_folder`.
#[test]
fn claude_is_trusted_works_asks_and_finishes_on_the_mock() {
    let lab = lab_for(Runtime::Claude);
    lab.see("claude", "Quick safety check", STARTUP);
    lab.activity("claude", "waiting");
    trust_the_folder(&lab, "claude");
    lab.see("claude", "manual mode on", WITHIN);
    lab.send("claude", PROMPT);
    lab.see_where("claude", "the stream arriving", WITHIN, streaming);
    lab.activity("claude", "working");
    let asking = lab.see("claude", "Do you want to proceed?", WITHIN);
    assert!(asking.contains(COMMAND), "{asking}");
    lab.activity("claude", "waiting");
    lab.send("claude", "1");
    lab.see("claude", DONE, WITHIN);
    // Claude Code's own Stop hook: the turn is over.
    lab.activity("claude", "idle");
    lab.decided_by("claude", "hook");
    assert_the_mock_was_asked(&lab);
}

/// Claude Code's trust prompt preselects "No, exit", takes no digit, and
/// refuses input for a moment after it opens: Down, until "Yes" is
/// selected and stays so (Down wraps around, so a Down still on its way
/// would select "No" again), then Enter.
#[track_caller]
fn trust_the_folder(lab: &Lab, name: &str) {
    let settle = Duration::from_millis(500);
    let mut down_at: Option<Instant> = None;
    let mut yes_since: Option<Instant> = None;
    lab.see_where(
        name,
        "\"Yes, I trust this folder\" selected",
        WITHIN,
        |screen| {
            if screen.contains("❯ Yes, I trust this folder") {
                let since = *yes_since.get_or_insert_with(Instant::now);
                return since.elapsed() >= settle;
            }
            yes_since = None;
            if down_at.is_none_or(|at| at.elapsed() >= settle) {
                // Its screen may not change (it refuses input at first):
                // `send` then says so and exits 1, which is fine here.
                lab.fleet(&["send", "--key", "Down", name]);
                down_at = Some(Instant::now());
            }
            false
        },
    );
    lab.send(name, "");
}

// pi 0.73.1 with fleet's built-in pi template and no key: it starts as
// usual (footer `gpt-5.5 • high`) and says so at the first prompt:
//   ` Error: No API key found for openai-codex.`
//   ` Use /login to log into a provider via OAuth or API key. See:`
//   `   …/pi-coding-agent/docs/providers.md`, `   …/docs/models.md`
// (With no model at all it warns at startup: ` Warning: No models
// available. Use /login to log into a provider via OAuth or API key. See:`.)
#[test]
fn pi_without_a_key_says_to_log_in() {
    let lab = Lab::new();
    lab.env.write_fleet(
        "[agents.pi]\nruntime = \"pi\"\nmodel = \"openai-codex/gpt-5.5\"\neffort = \"high\"\n",
    );
    lab.up("pi");
    lab.see("pi", "gpt-5.5 • high", STARTUP);
    lab.send("pi", PROMPT);
    let screen = lab.see("pi", "Error: No API key found for openai-codex.", WITHIN);
    assert!(
        screen.contains("Use /login to log into a provider via OAuth or API key."),
        "{screen}"
    );
    let row = lab.activity("pi", "waiting");
    assert_eq!(
        lab.explain("pi")["decided_by"]["evidence"],
        "Error: No API key found for openai-codex.",
        "{row:#}"
    );
    lab.fleet(&["verify", "pi"]).failure(1);
    assert!(lab.mock.requests().is_empty(), "{:#?}", lab.mock.requests());
}

// Codex CLI 0.169.0 with fleet's built-in codex command (plus --no-daemon)
// and no login: its sign-in screen.
//   `  Welcome to Codex, OpenAI's command-line coding agent`
//   `  Choose how you want to use Codex.`
//   `> 1. Sign in with ChatGPT`
//   `     Usage included with Plus, Pro, Business, and Enterprise plans`
//   `  2. Sign in with Device Code`
//   `     Sign in from another device with a one-time code`
//   `  3. Sign in another way`
//   `     Use an API key or another provider`
//   `  Press enter to continue`
#[test]
fn codex_without_a_login_asks_to_sign_in() {
    let lab = Lab::new();
    lab.env.write_fleet(
        "[agents.codex]\nruntime = \"codex\"\nmodel = \"gpt-5.5\"\neffort = \"high\"\ncommand = \"codex --no-daemon --model {model} -c model_reasoning_effort={effort}\"\n",
    );
    lab.up("codex");
    let screen = lab.see("codex", "Sign in with ChatGPT", STARTUP);
    for line in [
        "Welcome to Codex, OpenAI's command-line coding agent",
        "Choose how you want to use Codex.",
        "> 1. Sign in with ChatGPT",
        "2. Sign in with Device Code",
        "3. Sign in another way",
        "Press enter to continue",
    ] {
        assert!(screen.contains(line), "{line:?} not in:\n{screen}");
    }
    lab.activity("codex", "waiting");
    assert!(lab.mock.turns().is_empty());
}

// Claude Code 2.1.332 with no ~/.claude.json: its onboarding first checks
// that it can reach Anthropic (api.anthropic.com/api/hello and
// platform.claude.com/v1/oauth/hello, not ANTHROPIC_BASE_URL). The lab's
// proxy refuses both, so it says, and exits 1:
//   ` Unable to connect to Anthropic services`
//   ` Failed to connect to api.anthropic.com: ERR_PROXY_TUNNEL`
//   ` A proxy is configured via HTTPS_PROXY. Check that it allows
//     connections to the host above. See https://code.claude.com/docs/en/network-config`
//   ` Check your internet connection and network settings.`
// (Offline without a proxy: `Failed to connect to api.anthropic.com:
// ENOTFOUND`. With a network it would go on to its theme and login steps.)
#[test]
fn claude_without_onboarding_cannot_reach_anthropic_and_exits() {
    let lab = Lab::new();
    lab.env
        .write_fleet("[agents.claude]\nruntime = \"claude\"\nmodel = \"claude-sonnet-4-6\"\n");
    // Not `started`: `up` waits out its grace, sees it die, says why, exits 1.
    // Claude takes a moment to find it cannot connect: a loaded machine
    // must not make that outlast the grace.
    let up = lab
        .env
        .fleet_env(&["up", "claude"], &[("FLEET_START_GRACE", "8s")])
        .failure(1);
    assert!(
        up.stdout.contains("claude  failed: exited 1 within"),
        "{up:?}"
    );
    assert!(
        up.stdout.contains("Check your internet connection"),
        "{up:?}"
    );
    assert_eq!(lab.exited("claude", STARTUP), 1);
    let screen = lab.peek("claude");
    for line in [
        "Unable to connect to Anthropic services",
        "Failed to connect to api.anthropic.com: ERR_PROXY_TUNNEL",
    ] {
        assert!(screen.contains(line), "{line:?} not in:\n{screen}");
    }
    assert!(
        lab.mock
            .refused()
            .contains(&"api.anthropic.com:443".to_string()),
        "{:?}",
        lab.mock.refused()
    );
}

// Claude Code 2.1.332 onboarded but with no key: after the trust prompt it
// starts as usual, and answers the first prompt with
//   `  ⎿  Not logged in · Please run /login`
// leaving `❯ Once fixed, resend your message` in its input.
#[test]
fn claude_without_a_key_says_it_is_not_logged_in() {
    let lab = Lab::new();
    lab.write_home(".claude.json", r#"{"hasCompletedOnboarding": true}"#);
    lab.env.write_fleet(
        "[agents.claude]\nruntime = \"claude\"\nmodel = \"claude-sonnet-4-6\"\ncommand = \"claude --model {model} --permission-mode manual\"\n",
    );
    lab.up("claude");
    lab.see("claude", "Quick safety check", STARTUP);
    trust_the_folder(&lab, "claude");
    lab.see("claude", "manual mode on", WITHIN);
    lab.send("claude", PROMPT);
    lab.see("claude", "Not logged in · Please run /login", WITHIN);
    lab.activity("claude", "waiting");
    assert!(lab.mock.turns().is_empty());
}
