//! Conformance of the real runtimes, as npm ships them (see `lab`), run by
//! `fleet`: what each shows without credentials. Every screen here is read
//! through `fleet peek`, every prompt typed with `fleet send`; `fleet ps`
//! must say `running` at each step a screen is seen.

use std::time::{Duration, Instant};

use crate::lab::Lab;

/// A runtime's first screen, on a busy 2-core machine.
const STARTUP: Duration = Duration::from_secs(45);
const WITHIN: Duration = Duration::from_secs(30);

const PROMPT: &str = "do the thing";

/// Claude Code's trust prompt preselects "No, exit", takes no digit, and
/// refuses input for a moment after it opens: Down, until "Yes" is
/// selected and stays so (Down wraps around, so a Down still on its way
/// would select "No" again), then Enter. `fleet send` types text, so Down
/// is its escape sequence, typed literally.
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
                lab.type_text(name, "\x1b[B");
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
    lab.up("claude");
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
    assert!(lab.mock.turns().is_empty());
}
