//! Splitting a byte stream into JSON values, the way SPDK's JSON-RPC
//! server frames requests: no length prefix, no delimiter, just one complete
//! JSON value after another (optionally separated by whitespace).
//!
//! [`Splitter`] is incremental: bytes are pushed as they arrive and the
//! scan resumes where it stopped, so a value split across any number of
//! reads costs one pass. It validates with SPDK's grammar (`json_parse.c`)
//! as it goes, so it can tell "incomplete, wait for more" from "malformed",
//! and it enforces SPDK's bounds without ever recursing or buffering more
//! than `max_bytes` of one value (plus the last read):
//!
//! * nesting: at most 64 open containers (`SPDK_JSON_MAX_NESTING_DEPTH`);
//! * values: at most 8192 JSON values per request, counted like SPDK
//!   (every scalar, every object key, every opening and closing bracket;
//!   `SPDK_JSONRPC_MAX_VALUES`, 1024 in v24.09, 8192 since);
//! * size: at most 256 KiB per request (`SPDK_JSONRPC_RECV_BUF_SIZE`,
//!   32 KiB in v24.09, 256 KiB since). SPDK has no error for this: its
//!   receive buffer fills, the next `recv` of 0 bytes looks like EOF and the
//!   connection is closed without a reply. We report [`FrameError::TooLarge`]
//!   and let the server send an error first.
//!
//! Defaults are the current SPDK limits, a superset of v24.09's, so anything
//! v24.09 accepts is accepted.
//!
//! Top-level scalars are values too (SPDK parses them, then rejects the
//! request as not an object). One deliberate difference: SPDK takes a
//! top-level number that reaches the end of the bytes received so far as
//! complete, so `12` arriving as `1` + `2` would be two values; we wait for
//! the byte after the number, so framing never depends on how the stream
//! was cut into reads. (A client sending a bare number and nothing after it
//! gets no reply until it sends more or closes; SPDK would answer -32600.)

use std::fmt;

/// Bounds on one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest value in bytes (leading whitespace not counted).
    pub max_bytes: usize,
    /// Most containers open at once.
    pub max_depth: usize,
    /// Most JSON values (scalars, keys, brackets) in one value.
    pub max_values: usize,
}

impl Limits {
    /// SPDK's server limits (see the module docs).
    pub const SERVER: Limits = Limits {
        max_bytes: 256 * 1024,
        max_depth: 64,
        max_values: 8192,
    };
    /// Limits for reading responses: SPDK may send up to 32 MiB
    /// (`SPDK_JSONRPC_SEND_BUF_SIZE_MAX`); nesting is capped where
    /// serde_json caps it.
    pub const CLIENT: Limits = Limits {
        max_bytes: 64 * 1024 * 1024,
        max_depth: 128,
        max_values: usize::MAX,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SERVER
    }
}

/// Why the stream cannot be split any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON; `offset` is relative to the start of the value.
    Malformed { offset: usize },
    /// More than `max_depth` nested containers.
    TooDeep,
    /// The value is longer than `max_bytes`.
    TooLarge,
    /// The value has more than `max_values` JSON values.
    TooManyValues,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Malformed { offset } => write!(f, "malformed JSON at byte {offset}"),
            FrameError::TooDeep => write!(f, "JSON nested too deeply"),
            FrameError::TooLarge => write!(f, "JSON value too large"),
            FrameError::TooManyValues => write!(f, "JSON value has too many elements"),
        }
    }
}

impl std::error::Error for FrameError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (top level, after `:` or after `,` in an array).
    Value,
    /// Right after `[`: a value or `]`.
    ArrayFirst,
    /// Right after `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object.
    Key,
    /// After a key.
    Colon,
    /// After a value inside a container.
    CommaOrClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    None,
    Backslash,
    Hex { left: u8, val: u16, low: bool },
    LowBackslash,
    LowU,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    FracFirst,
    Frac,
    ExpSign,
    ExpFirst,
    Exp,
}

impl Num {
    fn can_end(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    None,
    Str {
        key: bool,
        esc: Esc,
        /// UTF-8 continuation bytes still expected, and the allowed range
        /// of the next one.
        need: u8,
        lo: u8,
        hi: u8,
    },
    Num(Num),
    Lit {
        word: &'static [u8],
        idx: u8,
    },
}

enum Step {
    More,
    Done,
}

/// Incremental splitter; see the module docs.
#[derive(Debug)]
pub struct Splitter {
    limits: Limits,
    buf: Vec<u8>,
    /// Start of the current value (or of unscanned bytes when idle).
    start: usize,
    /// Next byte to scan.
    pos: usize,
    in_value: bool,
    /// Open containers, `true` = object. Never longer than `max_depth`.
    stack: Vec<bool>,
    expect: Expect,
    tok: Tok,
    values: usize,
    failed: Option<(FrameError, usize)>,
}

impl Splitter {
    pub fn new(limits: Limits) -> Self {
        Splitter {
            limits,
            buf: Vec::new(),
            start: 0,
            pos: 0,
            in_value: false,
            stack: Vec::new(),
            expect: Expect::Value,
            tok: Tok::None,
            values: 0,
            failed: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        // Drop what earlier frames consumed before growing the buffer, so it
        // holds at most one partial value plus the new bytes.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.pos -= self.start;
            if let Some((_, at)) = &mut self.failed {
                *at = at.saturating_sub(self.start);
            }
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// True when a value has started but is not complete yet.
    pub fn in_value(&self) -> bool {
        self.in_value
    }

    /// The next complete value (without surrounding whitespace), `Ok(None)`
    /// if more bytes are needed. After an error every further call returns
    /// the same error until [`Splitter::resync`].
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some((e, _)) = self.failed {
            return Err(e);
        }
        match self.scan() {
            Ok(Some(end)) => {
                let frame = self.buf[self.start..end].to_vec();
                self.start = end;
                self.pos = end;
                self.in_value = false;
                self.values = 0;
                self.expect = Expect::Value;
                self.tok = Tok::None;
                self.stack.clear();
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                let at = self.pos;
                self.failed = Some((e, at));
                Err(e)
            }
        }
    }

    /// Recover after an error by skipping to the next place a JSON object
    /// could start: the offending byte itself if it is a `{` (this is how
    /// a response follows SPDK's truncated notification fragment), else the
    /// next `{` after the start of the failed value. Used by the client;
    /// the server closes the connection instead.
    pub fn resync(&mut self) {
        let at = match self.failed.take() {
            Some((_, at)) => at,
            None if self.in_value => self.pos,
            None => return,
        };
        let next = if at > self.start && self.buf.get(at) == Some(&b'{') {
            at
        } else {
            self.buf
                .get(self.start + 1..)
                .unwrap_or(&[])
                .iter()
                .position(|&b| b == b'{')
                .map_or(self.buf.len(), |i| self.start + 1 + i)
        };
        self.start = next.min(self.buf.len());
        self.pos = self.start;
        self.in_value = false;
        self.values = 0;
        self.expect = Expect::Value;
        self.tok = Tok::None;
        self.stack.clear();
    }

    /// Scan from `pos`; `Ok(Some(end))` when a value ends at `end`.
    fn scan(&mut self) -> Result<Option<usize>, FrameError> {
        while self.pos < self.buf.len() {
            let c = self.buf[self.pos];
            if !self.in_value {
                if is_ws(c) {
                    self.pos += 1;
                    self.start = self.pos;
                    continue;
                }
                self.in_value = true;
                self.start = self.pos;
            }
            if self.pos - self.start >= self.limits.max_bytes {
                return Err(FrameError::TooLarge);
            }
            if let Step::Done = self.step(c)? {
                return Ok(Some(self.pos));
            }
        }
        // Out of bytes: wait for more (even after a top-level number that
        // could end here; see the module docs).
        Ok(None)
    }

    fn count(&mut self) -> Result<(), FrameError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(FrameError::TooManyValues);
        }
        Ok(())
    }

    fn malformed(&self) -> FrameError {
        FrameError::Malformed {
            offset: self.pos - self.start,
        }
    }

    /// A value just ended (the byte that ended it is consumed unless it
    /// belongs to the next token, as with numbers).
    fn value_done(&mut self) -> Result<Step, FrameError> {
        self.count()?;
        if self.stack.is_empty() {
            Ok(Step::Done)
        } else {
            self.expect = Expect::CommaOrClose;
            Ok(Step::More)
        }
    }

    fn step(&mut self, c: u8) -> Result<Step, FrameError> {
        match self.tok {
            Tok::None => self.structural(c),
            Tok::Lit { word, idx } => {
                if word.get(usize::from(idx)) != Some(&c) {
                    return Err(self.malformed());
                }
                self.pos += 1;
                if usize::from(idx) + 1 == word.len() {
                    self.tok = Tok::None;
                    self.value_done()
                } else {
                    self.tok = Tok::Lit { word, idx: idx + 1 };
                    Ok(Step::More)
                }
            }
            Tok::Num(n) => {
                let next = match (n, c) {
                    (Num::Minus, b'0') => Some(Num::Zero),
                    (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                    (Num::Int, b'0'..=b'9') => Some(Num::Int),
                    (Num::Zero | Num::Int, b'.') => Some(Num::FracFirst),
                    (Num::FracFirst | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                    (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::ExpSign),
                    (Num::ExpSign, b'+' | b'-') => Some(Num::ExpFirst),
                    (Num::ExpSign | Num::ExpFirst | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                    _ => None,
                };
                match next {
                    Some(n) => {
                        self.tok = Tok::Num(n);
                        self.pos += 1;
                        Ok(Step::More)
                    }
                    None if n.can_end() => {
                        // `c` is not part of the number; it is scanned again
                        // as the next token.
                        self.tok = Tok::None;
                        self.value_done()
                    }
                    None => Err(self.malformed()),
                }
            }
            Tok::Str {
                key,
                esc,
                need,
                lo,
                hi,
            } => self.string_byte(c, key, esc, need, lo, hi),
        }
    }

    fn string_byte(
        &mut self,
        c: u8,
        key: bool,
        esc: Esc,
        need: u8,
        lo: u8,
        hi: u8,
    ) -> Result<Step, FrameError> {
        let mut st = (esc, need, lo, hi);
        if need > 0 {
            if c < lo || c > hi {
                return Err(self.malformed());
            }
            st = (Esc::None, need - 1, 0x80, 0xBF);
        } else {
            match esc {
                Esc::None => match c {
                    b'"' => {
                        self.pos += 1;
                        self.tok = Tok::None;
                        if key {
                            self.count()?;
                            self.expect = Expect::Colon;
                            return Ok(Step::More);
                        }
                        return self.value_done();
                    }
                    b'\\' => st.0 = Esc::Backslash,
                    0x00..=0x1F => return Err(self.malformed()),
                    0x20..=0x7F => {}
                    0xC2..=0xDF => st = (Esc::None, 1, 0x80, 0xBF),
                    0xE0 => st = (Esc::None, 2, 0xA0, 0xBF),
                    0xE1..=0xEC | 0xEE..=0xEF => st = (Esc::None, 2, 0x80, 0xBF),
                    0xED => st = (Esc::None, 2, 0x80, 0x9F),
                    0xF0 => st = (Esc::None, 3, 0x90, 0xBF),
                    0xF1..=0xF3 => st = (Esc::None, 3, 0x80, 0xBF),
                    0xF4 => st = (Esc::None, 3, 0x80, 0x8F),
                    _ => return Err(self.malformed()),
                },
                Esc::Backslash => match c {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'/' | b'"' | b'\\' => st.0 = Esc::None,
                    b'u' => {
                        st.0 = Esc::Hex {
                            left: 4,
                            val: 0,
                            low: false,
                        }
                    }
                    _ => return Err(self.malformed()),
                },
                Esc::Hex { left, val, low } => {
                    let Some(d) = (c as char).to_digit(16) else {
                        return Err(self.malformed());
                    };
                    let val = (val << 4) | d as u16;
                    st.0 = if left > 1 {
                        Esc::Hex {
                            left: left - 1,
                            val,
                            low,
                        }
                    } else if low {
                        if !(0xDC00..=0xDFFF).contains(&val) {
                            return Err(self.malformed());
                        }
                        Esc::None
                    } else if (0xD800..=0xDBFF).contains(&val) {
                        Esc::LowBackslash
                    } else if (0xDC00..=0xDFFF).contains(&val) {
                        return Err(self.malformed());
                    } else {
                        Esc::None
                    };
                }
                Esc::LowBackslash => {
                    if c != b'\\' {
                        return Err(self.malformed());
                    }
                    st.0 = Esc::LowU;
                }
                Esc::LowU => {
                    if c != b'u' {
                        return Err(self.malformed());
                    }
                    st.0 = Esc::Hex {
                        left: 4,
                        val: 0,
                        low: true,
                    };
                }
            }
        }
        self.pos += 1;
        self.tok = Tok::Str {
            key,
            esc: st.0,
            need: st.1,
            lo: st.2,
            hi: st.3,
        };
        Ok(Step::More)
    }

    fn structural(&mut self, c: u8) -> Result<Step, FrameError> {
        let value_ok = matches!(self.expect, Expect::Value | Expect::ArrayFirst);
        let in_object = self.stack.last() == Some(&true);
        match c {
            _ if is_ws(c) => {}
            b'{' | b'[' if value_ok => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(FrameError::TooDeep);
                }
                self.count()?;
                self.stack.push(c == b'{');
                self.expect = if c == b'{' {
                    Expect::ObjectFirst
                } else {
                    Expect::ArrayFirst
                };
            }
            b'}' if in_object
                && matches!(self.expect, Expect::ObjectFirst | Expect::CommaOrClose) =>
            {
                return self.close();
            }
            b']' if !in_object
                && !self.stack.is_empty()
                && matches!(self.expect, Expect::ArrayFirst | Expect::CommaOrClose) =>
            {
                return self.close();
            }
            b',' if self.expect == Expect::CommaOrClose => {
                self.expect = if in_object {
                    Expect::Key
                } else {
                    Expect::Value
                };
            }
            b':' if self.expect == Expect::Colon => self.expect = Expect::Value,
            b'"' if value_ok || matches!(self.expect, Expect::ObjectFirst | Expect::Key) => {
                self.tok = Tok::Str {
                    key: !value_ok,
                    esc: Esc::None,
                    need: 0,
                    lo: 0x80,
                    hi: 0xBF,
                };
            }
            b'-' if value_ok => self.tok = Tok::Num(Num::Minus),
            b'0' if value_ok => self.tok = Tok::Num(Num::Zero),
            b'1'..=b'9' if value_ok => self.tok = Tok::Num(Num::Int),
            b't' if value_ok => {
                self.tok = Tok::Lit {
                    word: b"true",
                    idx: 1,
                }
            }
            b'f' if value_ok => {
                self.tok = Tok::Lit {
                    word: b"false",
                    idx: 1,
                }
            }
            b'n' if value_ok => {
                self.tok = Tok::Lit {
                    word: b"null",
                    idx: 1,
                }
            }
            _ => return Err(self.malformed()),
        }
        self.pos += 1;
        Ok(Step::More)
    }

    fn close(&mut self) -> Result<Step, FrameError> {
        self.pos += 1;
        self.stack.pop();
        self.value_done()
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Result<(), FrameError>) {
        let mut s = Splitter::new(Limits::SERVER);
        let mut frames = Vec::new();
        for part in input.chunks(chunk.max(1)) {
            s.push(part);
            loop {
                match s.next_frame() {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => break,
                    Err(e) => return (frames, Err(e)),
                }
            }
        }
        (frames, Ok(()))
    }

    fn strs(frames: &[Vec<u8>]) -> Vec<String> {
        frames
            .iter()
            .map(|f| String::from_utf8(f.clone()).unwrap())
            .collect()
    }

    #[test]
    fn splits_back_to_back_values_at_any_chunking() {
        let input = br#" {"a":"}{\"]\\","b":[1,{"c":null}]}
{"x":"\u00e9\ud83d\ude00 \u00e9"}[true,false,-1.5e+3]"#;
        let want = vec![
            r#"{"a":"}{\"]\\","b":[1,{"c":null}]}"#.to_string(),
            r#"{"x":"\u00e9\ud83d\ude00 \u00e9"}"#.to_string(),
            "[true,false,-1.5e+3]".to_string(),
        ];
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (frames, res) = split_all(input, chunk);
            assert_eq!(res, Ok(()), "chunk {chunk}");
            assert_eq!(strs(&frames), want, "chunk {chunk}");
        }
    }

    #[test]
    fn multibyte_utf8_split_across_reads() {
        let input = "{\"k\":\"é€😀\"}".as_bytes();
        let (frames, res) = split_all(input, 1);
        assert_eq!(res, Ok(()));
        assert_eq!(frames, vec![input.to_vec()]);
    }

    #[test]
    fn incomplete_waits_for_more() {
        let mut s = Splitter::new(Limits::SERVER);
        // Golden file 65.
        s.push(br#"{"jsonrpc": "2.0", "method": "spdk_get_ver"#);
        assert_eq!(s.next_frame(), Ok(None));
        assert!(s.in_value());
        s.push(br#"sion", "id": 1}"#);
        assert_eq!(
            s.next_frame().unwrap().unwrap(),
            br#"{"jsonrpc": "2.0", "method": "spdk_get_version", "id": 1}"#
        );
        assert_eq!(s.next_frame(), Ok(None));
        assert!(!s.in_value());
        // Whitespace alone is not a value and is not kept.
        s.push(b" \n\t\r ");
        assert_eq!(s.next_frame(), Ok(None));
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn malformed_inputs() {
        for bad in [
            &br#"{"jsonrpc": "2.0", "method": "spdk_get_version", "id": 1,,}"#[..], // file 64
            b"{]",
            b"[}",
            b"}",
            b"]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[01]",
            b"[1.]",
            b"[-]",
            b"[.5]",
            b"[tru]",
            b"[nul1]",
            b"{1:2}",
            b"\"\\q\"",
            b"\"\\u12g4\"",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\ud800a\"",
            b"\"a\x01\"",
            b"\"\xc0\x80\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xf5\x80\x80\x80\"",
            b"\"\x80\"",
            b"garbage{}",
            b"//c\n{}",
            b"\xef\xbb\xbf{}",
        ] {
            let (_, res) = split_all(bad, 4096);
            assert!(
                matches!(res, Err(FrameError::Malformed { .. })),
                "{:?} gave {res:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let (_, res) = split_all(b"  {\"a\":1,,}", 4096);
        assert_eq!(res, Err(FrameError::Malformed { offset: 7 }));
    }

    #[test]
    fn errors_are_sticky() {
        let mut s = Splitter::new(Limits::SERVER);
        s.push(b"{,}");
        assert!(s.next_frame().is_err());
        s.push(b"{}");
        assert!(s.next_frame().is_err());
    }

    #[test]
    fn top_level_scalars_are_values() {
        let (frames, res) = split_all(b"1 \"s\" true null -2.5e3 ", 4096);
        assert_eq!(res, Ok(()));
        assert_eq!(strs(&frames), ["1", "\"s\"", "true", "null", "-2.5e3"]);
        // A number needs the byte after it, wherever the reads were cut.
        let mut s = Splitter::new(Limits::SERVER);
        s.push(b"12");
        assert_eq!(s.next_frame(), Ok(None));
        s.push(b"3");
        assert_eq!(s.next_frame(), Ok(None));
        s.push(b"{");
        assert_eq!(s.next_frame(), Ok(Some(b"123".to_vec())));
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        let (frames, res) = split_all(ok.as_bytes(), 4096);
        assert_eq!((frames.len(), res), (1, Ok(())));
        let deep = "[".repeat(65);
        let (_, res) = split_all(deep.as_bytes(), 4096);
        assert_eq!(res, Err(FrameError::TooDeep));
        let deep = "{\"a\":".repeat(10_000);
        let (_, res) = split_all(deep.as_bytes(), 4096);
        assert_eq!(res, Err(FrameError::TooDeep));
    }

    #[test]
    fn size_limit_without_buffering_the_rest() {
        let limits = Limits {
            max_bytes: 1000,
            ..Limits::SERVER
        };
        let mut s = Splitter::new(limits);
        s.push(b"{\"a\":\"");
        let chunk = vec![b'x'; 400];
        let mut err = None;
        for _ in 0..100 {
            s.push(&chunk);
            match s.next_frame() {
                Ok(None) => {}
                other => {
                    err = Some(other);
                    break;
                }
            }
        }
        assert_eq!(err, Some(Err(FrameError::TooLarge)));
        assert!(s.buffered() <= 1000 + 400);
        // A value of exactly max_bytes is fine.
        let mut s = Splitter::new(limits);
        let exact = format!("\"{}\"", "y".repeat(998));
        s.push(exact.as_bytes());
        assert_eq!(s.next_frame(), Ok(Some(exact.into_bytes())));
    }

    #[test]
    fn value_count_limit_counts_like_spdk() {
        let limits = Limits {
            max_values: 7,
            ..Limits::SERVER
        };
        // { "a" 1 "b" [ ] } = 7 values
        let mut s = Splitter::new(limits);
        s.push(br#"{"a":1,"b":[]}"#);
        assert!(s.next_frame().unwrap().is_some());
        s.push(br#"{"a":1,"b":[2]}"#);
        assert_eq!(s.next_frame(), Err(FrameError::TooManyValues));
    }

    /// Mutated JSON at random chunkings: the splitter never panics, and it
    /// agrees with the value parser (`json::parse`) on what is a value.
    #[test]
    fn splitter_agrees_with_parser_on_random_input() {
        use crate::rpc::json::{parse, JsonErrorKind, ParseOptions};
        let seeds: [&[u8]; 6] = [
            br#"{"jsonrpc":"2.0","method":"m","id":1,"params":{"a":[1,2.5e-3,"x\"y"]}}"#,
            br#"[true,false,null,{"k":"\u00e9\ud83d\ude00"},-0.0,1E+2]"#,
            "{\"é\":\"€\",\"n\":[[[]]],\"o\":{}}".as_bytes(),
            b"  -12.5e7  ",
            br#""\b\f\n\r\t\/\\""#,
            b"{\"a\":\"\xf0\x9f\x98\x80\"}",
        ];
        let alphabet = b"{}[]\":,\\u0123456789abcdefEe+-. \ntrunl\x01\x7f\xc3\xa9\xed\xf4";
        let mut rng: u64 = 0x1234_5678_9ABC_DEF1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let opts = ParseOptions {
            max_depth: 64,
            ..ParseOptions::CLIENT
        };
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => {
                        input.remove(at);
                    }
                    1 if at < input.len() => {
                        input[at] = alphabet[(next() as usize) % alphabet.len()];
                    }
                    _ => input.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            let chunk = 1 + (next() as usize) % 9;
            let (frames, res) = split_all(&input, chunk);
            for f in &frames {
                match parse(f, &opts) {
                    Ok(_) => {}
                    Err(e) => assert_eq!(
                        e.kind,
                        JsonErrorKind::NumberOutOfRange,
                        "splitter accepted {:?}, parser says {e}",
                        String::from_utf8_lossy(f)
                    ),
                }
            }
            // A whole input the parser accepts is exactly one frame (a bare
            // number only once something follows it).
            if parse(&input, &opts).is_ok() {
                let trimmed = input.trim_ascii();
                assert_eq!(res, Ok(()), "{:?}", String::from_utf8_lossy(&input));
                let mut frames = frames;
                if frames.is_empty() {
                    let mut s = Splitter::new(Limits::SERVER);
                    s.push(&input);
                    s.push(b" ");
                    frames.extend(s.next_frame().unwrap());
                }
                assert_eq!(frames, vec![trimmed.to_vec()]);
            }
        }
    }

    #[test]
    fn resync_after_truncated_fragment_and_garbage() {
        let mut s = Splitter::new(Limits::CLIENT);
        // SPDK's truncated notification reply followed by a real reply.
        s.push(
            br#"{"jsonrpc":"2.0","id":null,"result":{"v":1}{"jsonrpc":"2.0","id":2,"result":true}"#,
        );
        s.push(b"\n");
        assert!(matches!(s.next_frame(), Err(FrameError::Malformed { .. })));
        s.resync();
        assert_eq!(
            s.next_frame().unwrap().unwrap(),
            br#"{"jsonrpc":"2.0","id":2,"result":true}"#
        );
        let mut s = Splitter::new(Limits::CLIENT);
        s.push(b"junk ]] {\"ok\":1}");
        assert!(s.next_frame().is_err());
        s.resync();
        assert_eq!(s.next_frame().unwrap().unwrap(), b"{\"ok\":1}");
        // Garbage with no object at all is dropped entirely.
        let mut s = Splitter::new(Limits::CLIENT);
        s.push(b"@@@@");
        assert!(s.next_frame().is_err());
        s.resync();
        assert_eq!(s.next_frame(), Ok(None));
        assert_eq!(s.buffered(), 0);
    }
}
