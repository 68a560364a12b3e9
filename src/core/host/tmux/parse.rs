//! Parsers of what tmux prints: pure functions over its bytes, unit-tested
//! on canned output.

use std::collections::BTreeMap;

use crate::core::host::ObservedPane;

/// Field separator in list formats. Session names and process names never
/// contain a tab; the fleet's own options are JSON written by serde_json,
/// which escapes tabs, and come last.
pub const SEP: char = '\t';

/// What `list-panes -a` reports for every pane on the socket. Fields that
/// anyone could fill with anything (a session's or a process's name, the
/// user options) have their tabs and line breaks turned into spaces by
/// tmux itself (`s/[TAB NL]/ /`), so that no value can split a line into
/// fields or rows of its own making. The fleet's own options are JSON
/// from serde_json, which has none of either: nothing of them is lost.
pub const PANE_FORMAT: &str = "#{s/[\t\n]/ /:session_name}\t#{pane_id}\t#{pane_pid}\t\
#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}\t#{s/[\t\n]/ /:pane_current_command}\t\
#{session_created}\t#{window_activity}\t#{pane_height}\t#{pane_in_mode}\t#{pane_pipe}\t\
#{?pane_current_path,1,0}\t#{?@fleet-crashloop,1,0}\t#{s/[\t\n]/ /:@fleet-state}\t#{s/[\t\n]/ /:@fleet}";

/// Splits consecutive screens by their heights; `None` if they do not fit.
pub fn split_by_heights(text: &str, panes: &[(u32, usize)]) -> Option<BTreeMap<u32, String>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total: usize = panes.iter().map(|(_, h)| h).sum();
    if lines.len() != total {
        return None;
    }
    let mut map = BTreeMap::new();
    let mut at = 0;
    for (id, height) in panes {
        map.insert(*id, lines[at..at + height].concat());
        at += height;
    }
    Some(map)
}

/// Splits `capture_many` output at its marker lines.
pub fn split_captures(out: &str, nonce: &str) -> BTreeMap<u32, String> {
    let mut map = BTreeMap::new();
    let mut current: Option<(u32, String)> = None;
    for line in out.split_inclusive('\n') {
        let marker = line
            .trim_end_matches('\n')
            .strip_prefix(nonce)
            .and_then(|rest| rest.trim().parse::<u32>().ok());
        match marker {
            Some(id) => {
                if let Some((prev, text)) = current.take() {
                    map.insert(prev, text);
                }
                current = Some((id, String::new()));
            }
            None => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(line);
                }
            }
        }
    }
    if let Some((id, text)) = current {
        map.insert(id, text);
    }
    map
}

/// Parses `tmux -V` output such as `tmux 3.3a` or `tmux 3.4`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let version = text.strip_prefix("tmux ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor_text: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor_text.parse().ok()?))
}

/// Parses the output of `list-panes -a -F PANE_FORMAT`.
pub fn parse_panes(out: &[u8]) -> Vec<ObservedPane> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(parse_pane_line)
        .collect()
}

fn parse_pane_line(line: &str) -> Option<ObservedPane> {
    let mut fields = line.splitn(16, SEP);
    let session = fields.next()?.to_string();
    let pane_id = fields.next()?.strip_prefix('%')?.parse().ok()?;
    let pid = fields.next()?.parse().ok();
    let dead = fields.next()? == "1";
    let dead_status = fields.next()?.parse().ok();
    let dead_signal = fields.next()?.parse().ok();
    // A process can be named anything (a symlink to `sleep` named with
    // escape sequences): what it is called reaches views as plain text.
    let current_command: String = fields
        .next()?
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let session_created = fields.next()?.parse().ok();
    let last_output = fields.next()?.parse().ok();
    let height = fields.next()?.parse().unwrap_or(0);
    let in_mode = fields.next()? == "1";
    let piped = fields.next()? == "1";
    let has_cwd = fields.next()? == "1";
    let crashloop = fields.next()? == "1";
    let state = fields
        .next()
        .filter(|m| !m.is_empty())
        .map(ToString::to_string);
    let meta = fields
        .next()
        .filter(|m| !m.is_empty())
        .map(ToString::to_string);
    Some(ObservedPane {
        session,
        pane_id,
        pid,
        dead,
        dead_status,
        dead_signal,
        current_command,
        has_cwd,
        crashloop,
        session_created,
        last_output,
        height,
        in_mode,
        piped,
        state,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.4"), Some((3, 4)));
        assert_eq!(parse_version("tmux 2.9a"), Some((2, 9)));
        assert_eq!(parse_version("tmux next-3.5"), None);
    }

    #[test]
    fn parses_live_and_dead_panes() {
        let out = b"builder\t%3\t4242\t0\t\t\tnode\t1795601410\t1795601415\t50\t0\t1\t1\t0\t{\"state\":\"idle\"}\t{\"v\":1}\n\
                    ghost\t%7\t4243\t1\t127\t\tsh\t1795601411\t1795601411\t50\t1\t0\t0\t1\t\t\n";
        let panes = parse_panes(out);
        assert_eq!(panes.len(), 2);
        assert_eq!(panes[0].session, "builder");
        assert_eq!(panes[0].pane_id, 3);
        assert!(!panes[0].dead);
        assert_eq!(panes[0].current_command, "node");
        assert_eq!(panes[0].last_output, Some(1795601415));
        assert_eq!(panes[0].meta.as_deref(), Some("{\"v\":1}"));
        assert_eq!(panes[0].state.as_deref(), Some("{\"state\":\"idle\"}"));
        assert!(panes[0].piped && !panes[1].piped);
        assert!(panes[0].has_cwd && !panes[1].has_cwd);
        assert!(!panes[0].crashloop && panes[1].crashloop);
        assert!(panes[1].dead);
        assert_eq!(panes[1].dead_status, Some(127));
        assert_eq!(panes[1].meta, None);
        assert_eq!(panes[1].state, None);
    }

    #[test]
    fn metadata_with_tabs_stays_whole() {
        let out = b"a\t%1\t1\t0\t\t\tpi\t1\t1\t24\t0\t1\t1\t0\t\t{\"m\":\"x\ty\"}\n";
        assert_eq!(
            parse_panes(out)[0].meta.as_deref(),
            Some("{\"m\":\"x\ty\"}")
        );
    }

    #[test]
    fn splits_captures_at_markers_only() {
        let out = "N 3\nline one\nN 4 is not me\n\nN 4\n$ \n";
        let map = split_captures(out, "N");
        assert_eq!(map.len(), 2);
        assert_eq!(map[&3], "line one\nN 4 is not me\n\n");
        assert_eq!(map[&4], "$ \n");
    }

    #[test]
    fn splits_screens_by_height() {
        let map = split_by_heights("a\nb\n\nc\n", &[(1, 3), (2, 1)]);
        assert_eq!(map.as_ref().map(|m| m[&1].as_str()), Some("a\nb\n\n"));
        assert_eq!(map.as_ref().map(|m| m[&2].as_str()), Some("c\n"));
        assert_eq!(split_by_heights("a\n", &[(1, 2)]), None);
    }
}
