//! Turning terminal output into plain text: escape sequences (colours,
//! cursor moves, titles) and stray control characters are removed, line
//! ends become `\n`. Stateful, so output read in chunks strips the same as
//! output read whole.

/// Strips a stream of terminal output; feed it chunks in order.
#[derive(Debug, Default)]
pub struct Stripper {
    /// Bytes of an escape sequence or UTF-8 character cut by a chunk end.
    carry: Vec<u8>,
    /// The last byte emitted was `\r` (so a following `\n` is its pair).
    after_cr: bool,
}

/// What follows an ESC.
enum Escape {
    /// Not complete yet: need more bytes.
    Incomplete,
    /// A complete sequence of this many bytes (ESC included).
    Len(usize),
}

impl Stripper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Strips `chunk`, keeping any sequence it ends inside for the next one.
    pub fn feed(&mut self, chunk: &[u8]) -> String {
        let mut input = std::mem::take(&mut self.carry);
        input.extend_from_slice(chunk);
        let mut out: Vec<u8> = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match b {
                0x1b => match escape_len(&input[i..]) {
                    Escape::Incomplete => {
                        self.carry = input[i..].to_vec();
                        break;
                    }
                    Escape::Len(n) => i += n,
                },
                b'\r' => {
                    out.push(b'\n');
                    self.after_cr = true;
                    i += 1;
                    continue;
                }
                b'\n' => {
                    if !self.after_cr {
                        out.push(b'\n');
                    }
                    i += 1;
                }
                b'\t' => {
                    out.push(b);
                    i += 1;
                }
                0x00..=0x1f | 0x7f => i += 1,
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
            self.after_cr = false;
        }
        // A UTF-8 character cut at the end waits for its remaining bytes.
        let cut = incomplete_utf8_tail(&out);
        if cut > 0 && self.carry.is_empty() {
            let tail = out.split_off(out.len() - cut);
            self.carry = tail;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Strips a whole text at once.
pub fn strip(bytes: &[u8]) -> String {
    Stripper::new().feed(bytes)
}

fn escape_len(s: &[u8]) -> Escape {
    let Some(&kind) = s.get(1) else {
        return Escape::Incomplete;
    };
    match kind {
        // CSI: parameters and intermediates, then a final byte 0x40..=0x7e.
        b'[' => match s[2..].iter().position(|b| (0x40..=0x7e).contains(b)) {
            Some(p) => Escape::Len(p + 3),
            None if s.len() > 64 => Escape::Len(2),
            None => Escape::Incomplete,
        },
        // OSC, DCS, APC, PM, SOS: until BEL or ST (ESC \).
        b']' | b'P' | b'_' | b'^' | b'X' => {
            let mut j = 2;
            while j < s.len() {
                if s[j] == 0x07 {
                    return Escape::Len(j + 1);
                }
                if s[j] == 0x1b && s.get(j + 1) == Some(&b'\\') {
                    return Escape::Len(j + 2);
                }
                if s[j] == 0x1b && j + 1 < s.len() {
                    // A new escape begins: the string was never terminated.
                    return Escape::Len(j);
                }
                j += 1;
            }
            if s.len() > 4096 {
                Escape::Len(s.len())
            } else {
                Escape::Incomplete
            }
        }
        // Character set designations take one more byte.
        b'(' | b')' | b'*' | b'+' | b'#' | b'%' => {
            if s.len() >= 3 {
                Escape::Len(3)
            } else {
                Escape::Incomplete
            }
        }
        _ => Escape::Len(2),
    }
}

/// How many bytes at the end of `out` begin a UTF-8 character that is not
/// complete yet.
fn incomplete_utf8_tail(out: &[u8]) -> usize {
    for back in 1..=3.min(out.len()) {
        let b = out[out.len() - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back
        }
        let need = match b {
            0b1100_0000..=0b1101_1111 => 2,
            0b1110_0000..=0b1110_1111 => 3,
            0b1111_0000..=0b1111_0111 => 4,
            _ => return 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// The last `n` lines of `text`, trailing spaces and blank lines at either
/// end dropped.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(end);
    let start = end.saturating_sub(n).max(first);
    let mut out = lines[start..end].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours_cursor_moves_and_titles() {
        let raw =
            b"\x1b[1;32mgreen\x1b[0m plain\r\n\x1b]0;title\x07\x1b[2J\x1b[Hnext\x1b(Bline\x07\r\n";
        assert_eq!(strip(raw), "green plain\nnextline\n");
    }

    #[test]
    fn chunks_strip_like_the_whole() {
        let raw = "a\x1b[38;5;208mb\x1b]2;t\x1b\\c •d\r\ne\n".as_bytes();
        let whole = strip(raw);
        for cut in 0..raw.len() {
            let mut s = Stripper::new();
            let mut parts = s.feed(&raw[..cut]);
            parts.push_str(&s.feed(&raw[cut..]));
            assert_eq!(parts, whole, "cut at {cut}");
        }
        assert_eq!(whole, "abc •d\ne\n");
    }

    #[test]
    fn last_lines_skip_trailing_blank_lines() {
        assert_eq!(last_lines("a\nb\nc\n\n\n", 2), "b\nc\n");
        assert_eq!(last_lines("\n\n", 2), "");
        assert_eq!(last_lines("a\nb", 5), "a\nb\n");
        assert_eq!(last_lines("\n\n  \nwhy\n\ndead\n", 10), "why\n\ndead\n");
    }
}
