//! JSON text in and out, byte-compatible with SPDK and rpc.py.
//!
//! * [`write_value`]: compact output as SPDK's `json_write.c` produces it
//!   (what every SPDK response looks like on the wire).
//! * [`write_value_pretty_py`]: Python's `json.dumps(v, indent=2)`, which is
//!   how rpc.py serializes requests.
//! * [`parse`]: an iterative (no recursion) parser to `serde_json::Value`
//!   that follows SPDK's `json_parse.c` rules and can additionally mirror
//!   SPDK's integer semantics, flag duplicate keys and report where the
//!   top-level members sit in the input (so a numeric request `id` can be
//!   echoed byte for byte, as SPDK does).

use std::fmt::Write as _;
use std::ops::Range;

use serde_json::{Map, Number, Value};

/// Key added to an object that had duplicate keys when
/// [`ParseOptions::mark_duplicates`] is set. Its value is the array of the
/// duplicated key names. The first occurrence of each duplicated key is
/// kept.
///
/// Why a marker: `serde_json::Value` cannot hold two equal keys, yet SPDK's
/// `spdk_json_decode_object` rejects duplicates with the *handler's* error
/// (-32602 for nvmf, -32603 for bdev, ...). An unknown key makes every
/// strict (`deny_unknown_fields`) decode fail with that same error, and
/// [`crate::rpc::params::decode_relaxed`] looks for the marker explicitly.
/// The NUL it starts with keeps it apart from any key a JSON-RPC client can send.
pub const DUPLICATE_KEY_MARKER: &str = "\u{0}duplicate-keys";

// ---------------------------------------------------------------------------
// Output, SPDK style
// ---------------------------------------------------------------------------

/// Serialize `v` compactly, exactly as SPDK's JSON writer would: no spaces,
/// keys in the map's (insertion) order, strings escaped like `json_write.c`,
/// integers plain and doubles as C's `%.20e`.
pub fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

/// [`write_value`] into a fresh buffer.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(v, &mut out);
    out
}

/// Integers are printed plain (SPDK's `%PRIu64`/`%PRId64`); anything
/// else is a double and gets `%.20e`.
pub fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        push_display(out, u);
    } else if let Some(i) = n.as_i64() {
        push_display(out, i);
    } else if let Some(f) = n.as_f64() {
        write_f64(f, out);
    } else {
        // Unreachable without serde_json's arbitrary_precision feature.
        out.extend_from_slice(b"null");
    }
}

fn push_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    let mut s = String::new();
    let _ = write!(s, "{v}");
    out.extend_from_slice(s.as_bytes());
}

/// A double as C's `printf("%.20e")`: 21 significant digits, exponent with
/// a sign and at least two digits (`2.74581099061672575772e+05`).
///
/// Rust's `{:.20e}` computes the same exactly-rounded digits (round half to
/// even on the exact binary value, like glibc); only the exponent spelling
/// differs. A non-finite value (which `serde_json::Value` cannot hold) is
/// written as `null` so the output stays JSON; SPDK would print `inf`.
pub fn write_f64(x: f64, out: &mut Vec<u8>) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut s = String::with_capacity(32);
    let _ = write!(s, "{x:.20e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    out.extend_from_slice(mantissa.as_bytes());
    out.push(b'e');
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => (b'-', d),
        None => (b'+', exp),
    };
    out.push(sign);
    if digits.len() < 2 {
        out.push(b'0');
    }
    out.extend_from_slice(digits.as_bytes());
}

/// A string as SPDK's `write_codepoint` escapes it: `\" \\ \b \f \n \r \t`
/// as two-character escapes, printable ASCII (0x20..=0x7E) as is, and every
/// other code point (controls, DEL, all non-ASCII) as `\uXXXX` with
/// uppercase hex, astral ones as a surrogate pair. `/` is not escaped.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    write_escaped(s, true, out);
}

/// The one escaping both writers share; only the case of `\uXXXX` differs.
fn write_escaped(s: &str, upper_hex: bool, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(out, *unit, upper_hex);
                }
            }
        }
    }
    out.push(b'"');
}

fn push_u_escape(out: &mut Vec<u8>, unit: u16, upper: bool) {
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.extend_from_slice(b"\\u");
    for shift in [12u16, 8, 4, 0] {
        out.push(hex[usize::from((unit >> shift) & 0xF)]);
    }
}

// ---------------------------------------------------------------------------
// Output, rpc.py style
// ---------------------------------------------------------------------------

/// Serialize `v` as Python's `json.dumps(v, indent=2)` does (rpc.py's
/// request format): two-space indent, items separated by `,` and a
/// newline, `": "` after keys, `{}`/`[]` for empty containers, ASCII-only
/// output with lowercase `\uXXXX` escapes, floats as Python's `repr`.
pub fn write_value_pretty_py(v: &Value, out: &mut Vec<u8>) {
    write_py(v, 0, out);
}

fn write_py(v: &Value, level: usize, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                push_display(out, u);
            } else if let Some(i) = n.as_i64() {
                push_display(out, i);
            } else {
                write_py_float(n.as_f64().unwrap_or(f64::NAN), out);
            }
        }
        Value::String(s) => write_py_str(s, out),
        Value::Array(items) if items.is_empty() => out.extend_from_slice(b"[]"),
        Value::Object(map) if map.is_empty() => out.extend_from_slice(b"{}"),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                py_newline(out, level + 1);
                write_py(item, level + 1, out);
            }
            py_newline(out, level);
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                py_newline(out, level + 1);
                write_py_str(k, out);
                out.extend_from_slice(b": ");
                write_py(item, level + 1, out);
            }
            py_newline(out, level);
            out.push(b'}');
        }
    }
}

fn py_newline(out: &mut Vec<u8>, level: usize) {
    out.push(b'\n');
    for _ in 0..level {
        out.extend_from_slice(b"  ");
    }
}

/// Python's `ensure_ascii` string encoding: SPDK's escapes but with
/// lowercase hex.
fn write_py_str(s: &str, out: &mut Vec<u8>) {
    write_escaped(s, false, out);
}

/// Python's `repr(float)`: the shortest round-tripping digits, in fixed
/// notation when the decimal exponent is in [-4, 16), else `d.ddde+XX`.
fn write_py_float(x: f64, out: &mut Vec<u8>) {
    if !x.is_finite() {
        // json.dumps writes these (non-JSON) names; Value cannot hold them.
        let name: &[u8] = if x.is_nan() {
            b"NaN"
        } else if x > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        };
        out.extend_from_slice(name);
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let s = format!("{:e}", x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let decpt = exp + 1; // value = 0.DIGITS × 10^decpt
    if x.is_sign_negative() {
        out.push(b'-');
    }
    let nd = digits.len() as i32;
    if !(-4 < decpt && decpt <= 16) {
        out.extend_from_slice(&digits.as_bytes()[..1]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let mut es = e.unsigned_abs().to_string();
        if es.len() < 2 {
            es.insert(0, '0');
        }
        out.extend_from_slice(es.as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        for _ in 0..(-decpt) {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    } else if decpt < nd {
        let d = digits.as_bytes();
        out.extend_from_slice(&d[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&d[decpt as usize..]);
    } else {
        out.extend_from_slice(digits.as_bytes());
        for _ in 0..(decpt - nd) {
            out.push(b'0');
        }
        out.extend_from_slice(b".0");
    }
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// How [`parse`] builds its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Maximum number of nested containers (SPDK: 64). Opening one more is
    /// an error, never a deeper stack.
    pub max_depth: usize,
    /// Mirror SPDK's integer rule: a number is an integer when its
    /// significand and exponent reduce to exponent 0 without overflow
    /// (`1e3` = 1000, `1.0` = 1, `10e-1` = 1; `1.5`, `0.0` and `-0` are
    /// not). Such numbers become `u64`/`i64` values so serde's integer
    /// fields accept exactly what SPDK's `spdk_json_number_to_*` accept.
    /// Off: serde_json's rule (only plain digits are integers).
    pub spdk_integers: bool,
    /// Add [`DUPLICATE_KEY_MARKER`] to objects with duplicate keys
    /// (first value kept). Off: the last value wins, like serde_json.
    pub mark_duplicates: bool,
}

impl ParseOptions {
    /// What the RPC server uses on requests.
    pub const SERVER: ParseOptions = ParseOptions {
        max_depth: 64,
        spdk_integers: true,
        mark_duplicates: true,
    };
    /// What the RPC client uses on responses.
    pub const CLIENT: ParseOptions = ParseOptions {
        max_depth: 128,
        spdk_integers: false,
        mark_duplicates: false,
    };
}

/// Why [`parse`] failed, and where (byte offset into the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub kind: JsonErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not JSON (as SPDK's parser defines it).
    Syntax,
    /// The input ended inside a value.
    Eof,
    /// More than `max_depth` nested containers.
    TooDeep,
    /// A number too large for a double (`1e400`).
    NumberOutOfRange,
    /// Something other than whitespace after the value.
    TrailingData,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            JsonErrorKind::Syntax => "invalid JSON",
            JsonErrorKind::Eof => "JSON ends early",
            JsonErrorKind::TooDeep => "JSON nested too deeply",
            JsonErrorKind::NumberOutOfRange => "number out of range",
            JsonErrorKind::TrailingData => "data after the JSON value",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for JsonError {}

/// A parsed value plus, when the value is an object, the byte range of each
/// member's value in the input, in input order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub value: Value,
    pub member_spans: Vec<(String, Range<usize>)>,
}

enum Open {
    Array(Vec<Value>),
    Object {
        map: Map<String, Value>,
        key: String,
        dups: Vec<String>,
    },
}

/// Parse exactly one JSON value (surrounding whitespace allowed) with
/// SPDK's grammar: whitespace is space, tab, CR, LF; strings must be valid
/// UTF-8 without raw control characters; `\u` escapes must pair
/// surrogates; numbers follow RFC 8259. Never recurses.
pub fn parse(input: &[u8], opts: &ParseOptions) -> Result<Parsed, JsonError> {
    let mut p = Parser { input, pos: 0 };
    let mut stack: Vec<Open> = Vec::new();
    let mut spans: Vec<(String, Range<usize>)> = Vec::new();
    let mut member_start = 0usize;

    let root = 'value: loop {
        // Parse the start of one value at the current position.
        p.skip_ws();
        if stack.len() == 1 && matches!(stack[0], Open::Object { .. }) {
            member_start = p.pos;
        }
        let mut value = match p.peek() {
            None => return Err(p.err(JsonErrorKind::Eof)),
            Some(b'{') | Some(b'[') => {
                if stack.len() >= opts.max_depth {
                    return Err(p.err(JsonErrorKind::TooDeep));
                }
                let is_obj = p.peek() == Some(b'{');
                p.pos += 1;
                p.skip_ws();
                if is_obj {
                    if p.peek() == Some(b'}') {
                        p.pos += 1;
                        Value::Object(Map::new())
                    } else {
                        let key = p.key()?;
                        stack.push(Open::Object {
                            map: Map::new(),
                            key,
                            dups: Vec::new(),
                        });
                        continue 'value;
                    }
                } else if p.peek() == Some(b']') {
                    p.pos += 1;
                    Value::Array(Vec::new())
                } else {
                    stack.push(Open::Array(Vec::new()));
                    continue 'value;
                }
            }
            Some(b'"') => Value::String(p.string()?),
            Some(b'-') | Some(b'0'..=b'9') => Value::Number(p.number(opts.spdk_integers)?),
            Some(b't') => p.literal(b"true", Value::Bool(true))?,
            Some(b'f') => p.literal(b"false", Value::Bool(false))?,
            Some(b'n') => p.literal(b"null", Value::Null)?,
            Some(_) => return Err(p.err(JsonErrorKind::Syntax)),
        };

        // Attach the finished value to its container; close containers
        // as long as their closing bracket follows.
        loop {
            let depth = stack.len();
            let Some(top) = stack.last_mut() else {
                break 'value value;
            };
            match top {
                Open::Array(items) => {
                    items.push(value);
                    p.skip_ws();
                    match p.peek() {
                        Some(b',') => {
                            p.pos += 1;
                            continue 'value;
                        }
                        Some(b']') => {
                            p.pos += 1;
                            value = Value::Array(std::mem::take(items));
                            stack.pop();
                        }
                        None => return Err(p.err(JsonErrorKind::Eof)),
                        Some(_) => return Err(p.err(JsonErrorKind::Syntax)),
                    }
                }
                Open::Object {
                    map,
                    key: key_slot,
                    dups,
                } => {
                    let key = std::mem::take(key_slot);
                    if depth == 1 {
                        spans.push((key.clone(), member_start..p.pos));
                    }
                    if map.contains_key(&key) {
                        if opts.mark_duplicates {
                            if !dups.contains(&key) {
                                dups.push(key);
                            }
                        } else {
                            map.insert(key, value);
                        }
                    } else {
                        map.insert(key, value);
                    }
                    p.skip_ws();
                    match p.peek() {
                        Some(b',') => {
                            p.pos += 1;
                            p.skip_ws();
                            *key_slot = p.key()?;
                            continue 'value;
                        }
                        Some(b'}') => {
                            p.pos += 1;
                            let mut map = std::mem::take(map);
                            if !dups.is_empty() {
                                let names = std::mem::take(dups).into_iter().map(Value::String);
                                map.insert(
                                    DUPLICATE_KEY_MARKER.to_string(),
                                    Value::Array(names.collect()),
                                );
                            }
                            value = Value::Object(map);
                            stack.pop();
                        }
                        None => return Err(p.err(JsonErrorKind::Eof)),
                        Some(_) => return Err(p.err(JsonErrorKind::Syntax)),
                    }
                }
            }
        }
    };

    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.err(JsonErrorKind::TrailingData));
    }
    if !root.is_object() {
        spans.clear();
    }
    Ok(Parsed {
        value: root,
        member_spans: spans,
    })
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
    }

    /// An object key followed by its colon.
    fn key(&mut self) -> Result<String, JsonError> {
        match self.peek() {
            Some(b'"') => {}
            None => return Err(self.err(JsonErrorKind::Eof)),
            Some(_) => return Err(self.err(JsonErrorKind::Syntax)),
        }
        let k = self.string()?;
        self.skip_ws();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(k)
            }
            None => Err(self.err(JsonErrorKind::Eof)),
            Some(_) => Err(self.err(JsonErrorKind::Syntax)),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, JsonError> {
        for &b in word {
            match self.peek() {
                Some(c) if c == b => self.pos += 1,
                None => return Err(self.err(JsonErrorKind::Eof)),
                Some(_) => return Err(self.err(JsonErrorKind::Syntax)),
            }
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.input[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.err(JsonErrorKind::Eof)),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.err(JsonErrorKind::Syntax)),
            }
        }
        String::from_utf8(out).map_err(|_| JsonError {
            offset: start,
            kind: JsonErrorKind::Syntax,
        })
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        self.pos += 1; // backslash
        let Some(c) = self.peek() else {
            return Err(self.err(JsonErrorKind::Eof));
        };
        self.pos += 1;
        let simple = match c {
            b'b' => Some(b'\x08'),
            b'f' => Some(b'\x0c'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'/' => Some(b'/'),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'u' => None,
            _ => {
                self.pos -= 1;
                return Err(self.err(JsonErrorKind::Syntax));
            }
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let hi = self.hex4()?;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate must be followed at once by `\u` + low half.
            for want in [b'\\', b'u'] {
                match self.peek() {
                    Some(c) if c == want => self.pos += 1,
                    None => return Err(self.err(JsonErrorKind::Eof)),
                    Some(_) => return Err(self.err(JsonErrorKind::Syntax)),
                }
            }
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err(JsonErrorKind::Syntax));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err(JsonErrorKind::Syntax));
        } else {
            hi
        };
        let ch = char::from_u32(cp).ok_or(self.err(JsonErrorKind::Syntax))?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(self.err(JsonErrorKind::Eof));
            };
            let d = (c as char)
                .to_digit(16)
                .ok_or(self.err(JsonErrorKind::Syntax))?;
            v = (v << 4) | d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn number(&mut self, spdk_integers: bool) -> Result<Number, JsonError> {
        let start = self.pos;
        let eat_digits = |p: &mut Self| -> usize {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        let need_digit = |p: &Self| -> Result<(), JsonError> {
            match p.peek() {
                Some(b'0'..=b'9') => Ok(()),
                None => Err(p.err(JsonErrorKind::Eof)),
                Some(_) => Err(p.err(JsonErrorKind::Syntax)),
            }
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        need_digit(self)?;
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            eat_digits(self);
        }
        let mut plain = true;
        if self.peek() == Some(b'.') {
            plain = false;
            self.pos += 1;
            need_digit(self)?;
            eat_digits(self);
        }
        if let Some(b'e' | b'E') = self.peek() {
            plain = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            need_digit(self)?;
            eat_digits(self);
        }
        // The scanned bytes are ASCII by construction.
        let text = std::str::from_utf8(&self.input[start..self.pos]).unwrap_or("");
        let int = if spdk_integers {
            spdk_integer(text)
        } else if plain {
            plain_integer(text)
        } else {
            None
        };
        if let Some(n) = int {
            return Ok(n);
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or(JsonError {
                offset: start,
                kind: JsonErrorKind::NumberOutOfRange,
            })
    }
}

fn plain_integer(text: &str) -> Option<Number> {
    if text.starts_with('-') {
        match text.parse::<i64>() {
            Ok(0) => None, // "-0" stays a (negative zero) double
            Ok(i) => Some(Number::from(i)),
            Err(_) => None,
        }
    } else {
        text.parse::<u64>().ok().map(Number::from)
    }
}

/// SPDK's number splitting (`json_number_split`): significand from all
/// digits, exponent minus fraction digits, then trailing zeros moved into
/// the exponent (only while the significand is ≥ 10) or a positive exponent
/// multiplied into the significand (while it does not overflow). Exponent 0
/// at the end means "integer"; overflow means "not an integer" here (SPDK
/// fails the integer decode; we keep the value as a double, which every
/// integer field rejects too).
pub(crate) fn spdk_integer(text: &str) -> Option<Number> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp_text) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let mut sig: u64 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        sig = sig.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    let mut exponent: i64 = match exp_text {
        None => 0,
        Some(e) => {
            let (neg, digits) = match e.as_bytes().first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            let mut v: i64 = 0;
            for b in digits.bytes() {
                if !b.is_ascii_digit() {
                    return None;
                }
                v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            }
            if neg {
                -v
            } else {
                v
            }
        }
    };
    exponent = exponent.checked_sub(i64::try_from(frac_part.len()).ok()?)?;
    if exponent < 0 {
        while exponent != 0 && sig >= 10 && sig.is_multiple_of(10) {
            sig /= 10;
            exponent += 1;
        }
    } else if sig == 0 {
        // 0 × 10^n is 0 for any n (and SPDK's loop would spin n times).
        exponent = 0;
    } else {
        while exponent != 0 {
            match sig.checked_mul(10) {
                Some(v) => sig = v,
                None => break,
            }
            exponent -= 1;
        }
    }
    if exponent != 0 {
        return None;
    }
    if !negative {
        return Some(Number::from(sig));
    }
    if sig == 0 {
        return None; // "-0": a negative zero, not an integer for serde
    }
    let neg = i64::try_from(-(i128::from(sig))).ok()?;
    Some(Number::from(neg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compact(v: &Value) -> String {
        String::from_utf8(to_vec(v)).unwrap()
    }

    fn c_printf_20e(x: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the format takes exactly one double; buf is large enough
        // for any %.20e output (at most 28 bytes) and snprintf bounds it.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.20e".as_ptr(), x) };
        String::from_utf8(buf[..n as usize].to_vec()).unwrap()
    }

    #[test]
    fn doubles_match_c_printf() {
        let mut fixed = vec![
            0.0,
            -0.0,
            1.0,
            3.000232,
            274_581.099_061_672_6,
            1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.1,
            2.5,
            1e21,
            123456789012345678901234.0,
        ];
        // A deterministic spread of bit patterns, finite only.
        let mut rng = crate::rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        while fixed.len() < 20_000 {
            let x = f64::from_bits(rng.next_u64());
            if x.is_finite() {
                fixed.push(x);
            }
        }
        for x in fixed {
            let mut out = Vec::new();
            write_f64(x, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), c_printf_20e(x), "{x:e}");
        }
    }

    #[test]
    fn spdk_examples_of_doubles() {
        assert_eq!(compact(&json!(0.0)), "0.00000000000000000000e+00");
        assert_eq!(compact(&json!(3.000232)), "3.00023200000000000998e+00");
        assert_eq!(
            compact(&json!(274_581.099_061_672_6)),
            "2.74581099061672575772e+05"
        );
        let mut out = Vec::new();
        write_f64(f64::INFINITY, &mut out);
        assert_eq!(out, b"null");
    }

    #[test]
    fn compact_layout_and_integers() {
        let v = json!({"jsonrpc":"2.0","id":1,"result":{"b":[1,-2,true,null],"a":{}}});
        assert_eq!(
            compact(&v),
            r#"{"jsonrpc":"2.0","id":1,"result":{"b":[1,-2,true,null],"a":{}}}"#
        );
        assert_eq!(compact(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(compact(&json!(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn strings_escaped_like_json_write_c() {
        let s = "a/b\"c\\d\u{8}\u{c}\n\r\t\u{1}\u{7f}é€😀";
        assert_eq!(
            compact(&json!(s)),
            r#""a/b\"c\\d\b\f\n\r\t\u0001\u007F\u00E9\u20AC\uD83D\uDE00""#
        );
    }

    #[test]
    fn python_pretty_layout() {
        let v = json!({"jsonrpc":"2.0","method":"m","id":1,"params":{"a":[1,"x"],"e":{},"l":[],"f":false}});
        let mut out = Vec::new();
        write_value_pretty_py(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"m\",\n  \"id\": 1,\n  \"params\": {\n    \"a\": [\n      1,\n      \"x\"\n    ],\n    \"e\": {},\n    \"l\": [],\n    \"f\": false\n  }\n}"
        );
    }

    #[test]
    fn python_float_repr_and_ascii() {
        let cases: [(f64, &str); 12] = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123.456, "123.456"),
            (1e-7, "1e-07"),
            (2.5e-300, "2.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (x, want) in cases {
            let mut out = Vec::new();
            write_value_pretty_py(&json!(x), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{x}");
        }
        let mut out = Vec::new();
        write_value_pretty_py(&json!("é\u{7f}😀\u{1}/"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""\u00e9\u007f\ud83d\ude00\u0001/""#
        );
    }

    fn p(s: &str) -> Result<Value, JsonErrorKind> {
        parse(s.as_bytes(), &ParseOptions::SERVER)
            .map(|p| p.value)
            .map_err(|e| e.kind)
    }

    #[test]
    fn parser_basics() {
        assert_eq!(
            p(r#" {"a": [1, "x\n\u00e9\ud83d\ude00", true, null, {}], "b": -2.5} "#),
            Ok(json!({"a":[1,"x\né😀",true,null,{}],"b":-2.5}))
        );
        assert_eq!(p("[]"), Ok(json!([])));
        assert_eq!(p("5"), Ok(json!(5)));
        for bad in [
            "{,}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            "tru e",
            "\"\\x\"",
            "\"\\udc00\"",
            "\"\\ud800x\"",
            "\"a\u{1}\"",
            "{'a':1}",
            "/* c */ 1",
            "[1] x",
            "NaN",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(p("[1"), Err(JsonErrorKind::Eof));
        assert_eq!(p("[1] x"), Err(JsonErrorKind::TrailingData));
        assert_eq!(p("1e400"), Err(JsonErrorKind::NumberOutOfRange));
        // Invalid UTF-8 inside a string.
        assert!(parse(b"\"\xff\"", &ParseOptions::SERVER).is_err());
        assert!(parse(b"\"\xed\xa0\x80\"", &ParseOptions::SERVER).is_err());
    }

    #[test]
    fn parser_depth_is_bounded_without_recursion() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(p(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(p(&deep), Err(JsonErrorKind::TooDeep));
        let very = "[".repeat(1_000_000);
        assert_eq!(p(&very), Err(JsonErrorKind::TooDeep));
        let objs = "{\"a\":".repeat(100_000);
        assert_eq!(p(&objs), Err(JsonErrorKind::TooDeep));
    }

    #[test]
    fn spdk_integer_semantics() {
        assert_eq!(p("1e3"), Ok(json!(1000)));
        assert_eq!(p("1.0"), Ok(json!(1)));
        assert_eq!(p("10e-1"), Ok(json!(1)));
        assert_eq!(p("-1E+2"), Ok(json!(-100)));
        assert_eq!(p("0e99999999999"), Ok(json!(0)));
        assert_eq!(p("1.5"), Ok(json!(1.5)));
        assert_eq!(p("0.0"), Ok(json!(0.0)));
        assert!(p("-0").unwrap().as_f64().unwrap().is_sign_negative());
        assert_eq!(p("18446744073709551615"), Ok(json!(u64::MAX)));
        assert_eq!(p("18446744073709551616"), Ok(json!(18446744073709551616.0)));
        assert_eq!(p("-9223372036854775808"), Ok(json!(i64::MIN)));
        assert!(p("1e20").unwrap().is_f64());
        // serde_json's rule when the option is off.
        let plain = |s: &str| parse(s.as_bytes(), &ParseOptions::CLIENT).unwrap().value;
        assert!(plain("1e3").is_f64());
        assert!(plain("1.0").is_f64());
        assert_eq!(plain("-7"), json!(-7));
    }

    #[test]
    fn duplicates_and_member_spans() {
        let src = br#"{"id": 1.50, "x": {"a":1,"a":2}, "x": 3}"#;
        let parsed = parse(src, &ParseOptions::SERVER).unwrap();
        let obj = parsed.value.as_object().unwrap();
        assert_eq!(obj[DUPLICATE_KEY_MARKER], json!(["x"]));
        assert_eq!(obj["x"][DUPLICATE_KEY_MARKER], json!(["a"]));
        assert_eq!(obj["x"]["a"], json!(1));
        let spans: Vec<(&str, &[u8])> = parsed
            .member_spans
            .iter()
            .map(|(k, r)| (k.as_str(), &src[r.clone()]))
            .collect();
        assert_eq!(
            spans,
            vec![
                ("id", &b"1.50"[..]),
                ("x", &br#"{"a":1,"a":2}"#[..]),
                ("x", &b"3"[..])
            ]
        );
        let last_wins = parse(src, &ParseOptions::CLIENT).unwrap().value;
        assert_eq!(last_wins["x"], json!(3));
    }

    /// Equal, except that doubles may differ in the last place.
    fn nearly_equal(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                x.to_bits().abs_diff(y.to_bits()) <= 1
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| nearly_equal(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, va), (kb, vb))| ka == kb && nearly_equal(va, vb))
            }
            _ => a == b,
        }
    }

    /// Every golden SPDK response, parsed and written back with
    /// `write_value`, must give back SPDK's exact bytes.
    ///
    /// Through our parser this is exact. Through serde_json it is exact only
    /// with serde_json's `float_roundtrip` feature: without it serde_json
    /// may round a 21-digit `%.20e` double to a neighbour (golden file 27's
    /// `avg_latency_us`), so then the serde_json value must at least agree
    /// with ours to the last place.
    #[test]
    fn golden_responses_round_trip() {
        let probe = "4.61491123177856138682e+02";
        let serde_exact =
            serde_json::from_str::<f64>(probe).unwrap() == probe.parse::<f64>().unwrap();
        let dir = crate::rpc::test_support::vectors_dir();
        let mut checked = 0;
        for (name, file) in crate::rpc::test_support::golden_files(&dir) {
            let mut raws = Vec::new();
            for key in ["response_raw", "followup_response_raw"] {
                if let Some(r) = file.get(key).and_then(Value::as_str) {
                    raws.push(r.to_string());
                }
            }
            for raw in raws {
                if !raw.ends_with('\n') {
                    continue; // no response, or SPDK's truncated fragment
                }
                for line in raw.split_inclusive('\n') {
                    let body = line.strip_suffix('\n').unwrap();
                    let ours = parse(body.as_bytes(), &ParseOptions::CLIENT)
                        .unwrap_or_else(|e| panic!("{name}: {e}"))
                        .value;
                    let mut out = to_vec(&ours);
                    out.push(b'\n');
                    assert_eq!(String::from_utf8(out).unwrap(), line, "{name}");
                    let v: Value = serde_json::from_str(body)
                        .unwrap_or_else(|e| panic!("{name}: serde_json: {e}"));
                    if serde_exact {
                        let mut out = to_vec(&v);
                        out.push(b'\n');
                        assert_eq!(String::from_utf8(out).unwrap(), line, "{name}");
                    } else {
                        assert!(nearly_equal(&v, &ours), "{name}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 70, "only {checked} golden responses found");
    }

    /// rpc.py's requests (`json.dumps(req, indent=2)`) are reproduced byte
    /// for byte from their parsed form.
    #[test]
    fn golden_requests_match_python_layout() {
        let dir = crate::rpc::test_support::vectors_dir();
        let mut checked = 0;
        for (name, file) in crate::rpc::test_support::golden_files(&dir) {
            let raw = file["request_raw"].as_str().unwrap_or("");
            if !raw.starts_with("{\n") {
                continue; // hand-written raw requests are not rpc.py's layout
            }
            let mut out = Vec::new();
            write_value_pretty_py(&file["request"], &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), raw, "{name}");
            checked += 1;
        }
        assert!(checked >= 60, "only {checked} rpc.py requests found");
    }
}
