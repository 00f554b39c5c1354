//! `rpc_request`: the JSON-RPC input path, `rpc::framing::Splitter` then
//! `rpc::request::decode`, and the JSON parser `rpc::json::parse` alone.
//!
//! Input layout:
//! * byte 0, mode: bits 0-1 limits (SPDK's server limits, or small ones so
//!   the fuzzer reaches the size/depth/count errors), bit 2 resync after a
//!   framing error (what the client does) instead of stopping (the server);
//! * byte 1: number of split points (0-7), then that many u16 offsets;
//! * the rest: the byte stream, also parsed whole by `json::parse`.
//!
//! Properties:
//! * no panic; `next_frame` never returns an empty frame, one with
//!   surrounding whitespace, or one longer than `max_bytes`;
//! * every frame the splitter accepts, `json::parse` with the server's
//!   options accepts too, except a number beyond a double's range (the one
//!   documented difference, `Decoded::ParseError`);
//! * a request's reply (`response_bytes`) is one line of JSON that parses
//!   and echoes the request's id;
//! * `json::parse` → `json::write_value` → `json::parse` gives the same
//!   value, and when both our parser and serde_json accept the text they
//!   agree on the value.

use mpath_console::rpc::framing::{Limits, Splitter};
use mpath_console::rpc::json::{self, JsonErrorKind, ParseOptions};
use mpath_console::rpc::request::{self, Decoded, RequestId};
use mpath_console::rpc::RpcError;
use serde_json::Value;

use super::reader::Reader;

pub fn run(data: &[u8]) {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let limits = match mode & 3 {
        0 | 1 => Limits::SERVER,
        2 => Limits {
            max_bytes: 64,
            max_depth: 3,
            max_values: 16,
        },
        _ => Limits {
            max_bytes: 1024,
            max_depth: 16,
            max_values: 128,
        },
    };
    let resync = mode & 4 != 0;
    let nsplit = usize::from(r.u8() % 8);
    let mut splits: Vec<usize> = (0..nsplit).map(|_| usize::from(r.u16())).collect();
    let stream = r.rest();
    splits.retain(|&s| s < stream.len());
    splits.sort_unstable();
    splits.dedup();
    splits.push(stream.len());

    split_stream(stream, &splits, limits, resync);
    parse_whole(stream);
}

fn split_stream(stream: &[u8], splits: &[usize], limits: Limits, resync: bool) {
    let mut sp = Splitter::new(limits);
    assert_eq!(sp.limits(), limits);
    let mut at = 0;
    let mut errors = 0;
    'feed: for &end in splits {
        sp.push(&stream[at..end]);
        at = end;
        loop {
            match sp.next_frame() {
                Ok(None) => continue 'feed,
                Ok(Some(frame)) => check_frame(&frame, limits),
                Err(e) => {
                    let _ = e.to_string();
                    // Sticky until resync.
                    assert_eq!(sp.next_frame(), Err(e), "framing error not sticky");
                    if !resync || errors > 64 {
                        break 'feed;
                    }
                    errors += 1;
                    let before = sp.buffered();
                    sp.resync();
                    assert!(sp.buffered() <= before, "resync grew the buffer");
                }
            }
        }
    }
    let _ = (sp.buffered(), sp.in_value());
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn check_frame(frame: &[u8], limits: Limits) {
    assert!(!frame.is_empty(), "empty frame");
    assert!(
        !is_ws(frame[0]) && !is_ws(frame[frame.len() - 1]),
        "frame with surrounding whitespace: {:?}",
        String::from_utf8_lossy(frame)
    );
    assert!(frame.len() <= limits.max_bytes, "frame over max_bytes");

    let opts = ParseOptions {
        max_depth: limits.max_depth,
        ..ParseOptions::SERVER
    };
    if let Err(e) = json::parse(frame, &opts) {
        assert_eq!(
            e.kind,
            JsonErrorKind::NumberOutOfRange,
            "the splitter accepted a frame json::parse rejects ({e}): {:?}",
            String::from_utf8_lossy(frame)
        );
    }

    match request::decode(frame, limits.max_depth) {
        Decoded::Call(req) => {
            let _ = req.wants_result();
            let id_value = req.id.as_ref().map(id_to_value);
            check_reply(
                req.id.as_ref(),
                &Ok(req.params.clone().unwrap_or(Value::Null)),
            );
            check_reply(req.id.as_ref(), &Err(RpcError::invalid_params()));
            if let (Some(RequestId::Number(text)), Some(v)) = (&req.id, id_value) {
                assert!(
                    v.is_number(),
                    "numeric id {text:?} does not parse as a number"
                );
            }
        }
        Decoded::Invalid { id, error } => check_reply(id.as_ref(), &Err(error)),
        Decoded::ParseError => {}
    }
}

fn id_to_value(id: &RequestId) -> Value {
    match id {
        RequestId::Number(t) => json::parse(t.as_bytes(), &ParseOptions::CLIENT)
            .map(|p| p.value)
            .unwrap_or(Value::Null),
        RequestId::String(s) => Value::String(s.clone()),
        RequestId::Null => Value::Null,
    }
}

fn check_reply(id: Option<&RequestId>, outcome: &Result<Value, RpcError>) {
    let Some(bytes) = request::response_bytes(id, outcome) else {
        assert!(outcome.is_ok(), "an error got no reply");
        return;
    };
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "reply does not end in a newline"
    );
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'\n').count(),
        1,
        "reply is not one line"
    );
    let parsed = json::parse(&bytes, &ParseOptions::CLIENT).unwrap_or_else(|e| {
        panic!(
            "our reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let want_id = id.map(id_to_value).unwrap_or(Value::Null);
    assert_eq!(parsed.value["id"], want_id, "reply id");
    assert_eq!(parsed.value["jsonrpc"], "2.0");
}

fn parse_whole(text: &[u8]) {
    for opts in [ParseOptions::SERVER, ParseOptions::CLIENT] {
        let _ = json::parse(text, &opts);
    }
    let ours = json::parse(text, &ParseOptions::CLIENT);
    if let Ok(p) = &ours {
        let out = json::to_vec(&p.value);
        let again = json::parse(&out, &ParseOptions::CLIENT).unwrap_or_else(|e| {
            panic!(
                "write_value output does not parse ({e}): {:?}",
                String::from_utf8_lossy(&out)
            )
        });
        assert_eq!(again.value, p.value, "write_value/parse round trip");
        let mut pretty = Vec::new();
        json::write_value_pretty_py(&p.value, &mut pretty);
    }
    // Differential: where both parsers take the text, they must agree.
    let theirs = serde_json::from_slice::<Value>(text);
    if let (Ok(p), Ok(v)) = (&ours, &theirs) {
        assert_eq!(&p.value, v, "json::parse and serde_json disagree");
    }
}
