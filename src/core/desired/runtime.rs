//! Runtimes: how to launch a kind of agent, and which foreground processes
//! count as that agent being in front.
//!
//! A command template is split into words the way a shell would (quotes
//! group), and only then are `{model}` and `{effort}` filled in, word by word:
//! a model name with spaces or `$` in it stays one literal argument.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A kind of agent: built in, or declared in `[runtimes.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub command: String,
    pub processes: Vec<String>,
    /// Defaults a fleet file gives agents of this runtime; they win over
    /// `[defaults]`.
    pub model: Option<String>,
    pub effort: Option<String>,
    /// Built-in last resorts, used only when neither the agent, its runtime
    /// table nor `[defaults]` names a model / effort.
    pub fallback_model: Option<String>,
    pub fallback_effort: Option<String>,
    /// Regexes over the screen's tail that mean the agent waits for a human
    /// (see `activity`). A fleet file's `waiting` adds to these.
    pub waiting: Vec<String>,
}

/// The runtimes every fleet has, before its file adds or overrides any.
pub fn builtins(stub: Option<&Path>) -> BTreeMap<String, Runtime> {
    let rt = |command: &str, processes: &[&str], waiting: &[&str]| Runtime {
        command: command.to_string(),
        processes: processes.iter().map(ToString::to_string).collect(),
        model: None,
        effort: None,
        fallback_model: None,
        fallback_effort: None,
        waiting: waiting.iter().map(ToString::to_string).collect(),
    };
    let mut map = BTreeMap::new();
    // pi is a node program: tmux names its pane `node` unless pi retitles itself.
    // pi has no permission prompts ("YOLO by default"); it waits for a human
    // only to log in (packages/coding-agent, packages/ai oauth).
    map.insert(
        "pi".into(),
        rt("pi --model {model}:{effort}", &["pi", "node"], PI_WAITING),
    );
    // The npm-installed codex is a node launcher in front of the native binary.
    map.insert(
        "codex".into(),
        rt(
            "codex --model {model} -c model_reasoning_effort={effort}",
            &["codex", "node"],
            CODEX_WAITING,
        ),
    );
    map.insert(
        "claude".into(),
        rt(
            "claude --model {model}",
            &["claude", "node"],
            CLAUDE_WAITING,
        ),
    );
    map.insert("shell".into(), rt("bash -i", &["bash"], &[]));
    let mut stub = rt(
        &format!(
            "{} --model {{model}} --effort {{effort}}",
            stub_program(stub)
        ),
        &["fleet-stub"],
        // Only while the question is the last thing on screen.
        &[r"Allow command\? \[y/n\]\z"],
    );
    stub.fallback_model = Some("stub/echo-1".into());
    stub.fallback_effort = Some("low".into());
    map.insert("stub".into(), stub);
    map
}

/// Claude Code's tool-permission, trust-folder and login prompts, as quoted
/// in anthropics/claude-code issues (#10954, #34007, #74541, #9256, #51306,
/// #87731): "Do you want to proceed?", "3. No, and tell Claude what to do
/// differently (esc)", "Quick safety check: …", "Select login method:".
const CLAUDE_WAITING: &[&str] = &[
    r"(?m)^[\s│]*Do you want to (?:proceed\?|make this edit to .+\?|create .+\?)",
    r"(?m)^[\s│❯>]*\d+\. No, and tell Claude what to do differently",
    r"(?m)^[\s│]*(?:Esc to cancel · Tab to amend|Enter to confirm · Esc to cancel)",
    r"Do you trust the files in this folder\?|Quick safety check: Is this a project you created or one you trust\?",
    r"(?m)^[\s│]*(?:Select login method:|Paste code here if prompted|Choose the text style that looks best with your terminal)",
    // 2.1.x answers a prompt it cannot send with this, and waits.
    r"Not logged in · Please run /login",
];

/// Codex CLI's approval overlay, trust and sign-in screens, from
/// openai/codex codex-rs/tui (bottom_pane/approval_overlay.rs,
/// user_approval_widget.rs, onboarding/trust_directory.rs, onboarding/auth.rs).
const CODEX_WAITING: &[&str] = &[
    r#"(?m)^\s*(?:Would you like to (?:run the following command|make the following edits|grant these permissions)\?|Do you want to approve network access to ".+"\?)\s*$"#,
    r"(?m)^\s*Press enter to confirm or esc to cancel",
    r"(?m)^[\s›>]*\d+\. No, and tell Codex what to do differently",
    r"(?m)^\s*(?:Allow command\?|Apply changes\?)\s*$",
    r"(?m)Do you trust the contents of this directory\?|^[\s›>]*\d\. (?:Yes, continue|No, quit|Sign in with ChatGPT|Sign in with Device Code|Provide your own API key)\s*$",
    r"(?m)^\s*(?:Press [Ee]nter to continue|Finish signing in via your browser|Enter to submit answer)",
];

/// pi's login flow and the errors that stop it until someone logs in
/// (badlogic/pi-mono: oauth-selector.ts, ai/utils/oauth; pi 0.73's
/// "Select authentication method:", "Select provider to configure:" and
/// "No API key found for PROVIDER. Use /login ...").
const PI_WAITING: &[&str] = &[
    r"(?m)^\s*(?:Select provider to (?:login|configure):|Select authentication method:)\s*$",
    r"Paste the authorization code|Paste redirect URL below, or complete login in browser:",
    r"No API key found for \S+",
];

/// The stub agent that ships with fleet: the one installed next to this
/// `fleet` binary when there is one (so the demo needs nothing on PATH),
/// else whatever `fleet-stub` the pane's PATH finds.
fn stub_program(beside_fleet: Option<&Path>) -> String {
    beside_fleet
        .and_then(Path::to_str)
        .and_then(|path| shlex::try_quote(path).ok())
        .map(|q| q.into_owned())
        .unwrap_or_else(|| "fleet-stub".into())
}

/// A field a command template can ask for. Typed, so that whoever reports
/// a missing one can name its own fix (a fleet-file key, a flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Model,
    Effort,
}

impl Field {
    /// `a model`, `an effort`.
    pub fn article(self) -> &'static str {
        match self {
            Field::Model => "a",
            Field::Effort => "an",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Model => "model",
            Field::Effort => "effort",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("command {0:?} has an unclosed quote")]
    Unsplittable(String),
    #[error("command is empty")]
    Empty,
    #[error("command uses {{{0}}}, which is not a field: use {{model}} or {{effort}}")]
    UnknownField(String),
    #[error(
        "command has a {{ without its }} in {0:?}: write {{model}} or {{effort}}, or {{{{ for a brace"
    )]
    Unclosed(String),
    #[error("command uses {{{0}}} but no {0} is set: set {0} for the agent or in [defaults]")]
    Missing(Field),
}

/// Splits a command template into words and fills `{model}` / `{effort}`.
/// `{{` and `}}` stand for literal braces.
///
/// A fleet of thousands of agents fills a handful of distinct templates:
/// each thread keeps the last few it filled.
pub fn fill(
    template: &str,
    model: Option<&str>,
    effort: Option<&str>,
) -> Result<Vec<String>, TemplateError> {
    type Key = (String, Option<String>, Option<String>);
    type Filled = Result<Vec<String>, TemplateError>;
    const KEPT: usize = 64;
    thread_local! {
        static FILLED: std::cell::RefCell<Vec<(Key, Filled)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let kept = FILLED.with(|filled| {
        filled
            .borrow()
            .iter()
            .find(|((t, m, e), _)| t == template && m.as_deref() == model && e.as_deref() == effort)
            .map(|(_, result)| result.clone())
    });
    if let Some(result) = kept {
        return result;
    }
    let result = fill_uncached(template, model, effort);
    FILLED.with(|filled| {
        let mut filled = filled.borrow_mut();
        if filled.len() >= KEPT {
            filled.clear();
        }
        let key = (
            template.to_string(),
            model.map(String::from),
            effort.map(String::from),
        );
        filled.push((key, result.clone()));
    });
    result
}

fn fill_uncached(
    template: &str,
    model: Option<&str>,
    effort: Option<&str>,
) -> Result<Vec<String>, TemplateError> {
    let words =
        shlex::split(template).ok_or_else(|| TemplateError::Unsplittable(template.to_string()))?;
    if words.is_empty() {
        return Err(TemplateError::Empty);
    }
    words
        .iter()
        .map(|word| fill_word(word, model, effort))
        .collect()
}

fn fill_word(
    word: &str,
    model: Option<&str>,
    effort: Option<&str>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let end = after
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(word.to_string()))?;
            let field = &after[..end];
            let value = match field {
                "model" => model.ok_or(TemplateError::Missing(Field::Model))?,
                "effort" => effort.ok_or(TemplateError::Missing(Field::Effort))?,
                other => return Err(TemplateError::UnknownField(other.to_string())),
            };
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            // A lone `}` is data.
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The process name a command shows in tmux: the last path component of
/// `argv[0]`.
pub fn process_name(program: &str) -> String {
    program.rsplit('/').next().unwrap_or(program).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_fields_within_words() {
        let argv = fill(
            "pi --model {model}:{effort}",
            Some("openai/gpt 5"),
            Some("high"),
        );
        assert_eq!(
            argv,
            Ok(vec![
                "pi".to_string(),
                "--model".to_string(),
                "openai/gpt 5:high".to_string()
            ])
        );
    }

    #[test]
    fn quotes_group_words_and_values_stay_data() {
        let argv = fill("run 'a b' \"$HOME\" {model}", Some("$(rm -rf /);`x`"), None);
        assert_eq!(
            argv,
            Ok(vec![
                "run".to_string(),
                "a b".to_string(),
                "$HOME".to_string(),
                "$(rm -rf /);`x`".to_string()
            ])
        );
    }

    #[test]
    fn refuses_unfillable_templates() {
        assert_eq!(
            fill("x {modle}", Some("m"), None),
            Err(TemplateError::UnknownField("modle".into()))
        );
        assert_eq!(
            fill("x {effort}", Some("m"), None),
            Err(TemplateError::Missing(Field::Effort))
        );
        assert_eq!(
            fill("x 'open", None, None),
            Err(TemplateError::Unsplittable("x 'open".into()))
        );
        assert_eq!(fill("  ", None, None), Err(TemplateError::Empty));
        assert_eq!(
            fill("x --m {model", Some("m"), None),
            Err(TemplateError::Unclosed("{model".into()))
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(
            fill("echo {{model}} }", Some("m"), None),
            Ok(vec!["echo".into(), "{model}".into(), "}".into()])
        );
    }

    #[test]
    fn builtins_fill_with_their_defaults() {
        let rts = builtins(None);
        for name in ["pi", "codex", "claude", "shell", "stub"] {
            assert!(rts.contains_key(name), "{name}");
        }
        let stub = &rts["stub"];
        let argv = fill(
            &stub.command,
            stub.fallback_model.as_deref(),
            stub.fallback_effort.as_deref(),
        );
        assert!(argv.is_ok_and(|a| a.contains(&"stub/echo-1".to_string())));
        assert_eq!(process_name("/usr/local/bin/pi"), "pi");
    }
}
