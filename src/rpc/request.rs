//! Turning one framed JSON value into a request, and a method's outcome
//! into response bytes, with the checks and in the order SPDK's
//! `parse_single_request` applies them. The order decides which errors
//! echo the `id`:
//!
//! 1. the top level must be an object; an array (a batch, which v24.09 does
//!    not support) or a scalar → -32600 with `"id":null`;
//! 2. its members are decoded strictly: only `jsonrpc`, `method`, `params`
//!    and `id`, no duplicates, `method` present → else -32600, `id` null;
//! 3. `jsonrpc`, if present, must be the string `"2.0"` → else -32600,
//!    `id` null (file 71: even a valid id is not echoed);
//! 4. `method` must be a string → else -32600, `id` null;
//! 5. `id` must be a string, number or null → else -32600, `id` null
//!    (file 70);
//! 6. `params` must be an object, array or null (null = absent) → else
//!    -32600 **with the id echoed** (file 66).
//!
//! Responses are compact, key order `jsonrpc`, `id`, `result`|`error`,
//! followed by exactly one `\n`. A numeric `id` is echoed byte for byte.
//! A request without `id`, or with `"id":null`, gets no reply when it
//! succeeds and an error reply with `"id":null` when it fails. (SPDK v24.09
//! sends a truncated fragment for the success case, files 75/76: a bug we
//! do not copy.)

use serde_json::Value;

use super::error::RpcError;
use super::json::{self, ParseOptions, DUPLICATE_KEY_MARKER};

/// The `id` of a request as it will be echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    /// A number, as its exact text from the request (`1.50` stays `1.50`).
    Number(String),
    String(String),
    Null,
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// `None` when absent or `null`; otherwise an object or an array.
    pub params: Option<Value>,
    /// `None` when the member was absent.
    pub id: Option<RequestId>,
}

impl Request {
    /// False for notifications (no `id`, or `"id":null`), which get no reply
    /// on success.
    pub fn wants_result(&self) -> bool {
        matches!(
            self.id,
            Some(RequestId::Number(_)) | Some(RequestId::String(_))
        )
    }
}

/// What one framed value turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Call(Request),
    /// JSON, but not a valid request: reply with `error` and go on.
    Invalid {
        id: Option<RequestId>,
        error: RpcError,
    },
    /// The value could not be built (e.g. a number beyond the range of a
    /// double, which the framing grammar accepts): treat like malformed
    /// JSON, i.e. -32700 and close.
    ParseError,
}

/// Validate one complete JSON value (as returned by the splitter).
pub fn decode(frame: &[u8], max_depth: usize) -> Decoded {
    let opts = ParseOptions {
        max_depth,
        ..ParseOptions::SERVER
    };
    let Ok(parsed) = json::parse(frame, &opts) else {
        return Decoded::ParseError;
    };
    let invalid = |id: Option<RequestId>| Decoded::Invalid {
        id,
        error: RpcError::invalid_request(),
    };
    let Value::Object(mut obj) = parsed.value else {
        return invalid(None);
    };
    if obj.contains_key(DUPLICATE_KEY_MARKER)
        || obj
            .keys()
            .any(|k| !matches!(k.as_str(), "jsonrpc" | "method" | "params" | "id"))
    {
        return invalid(None);
    }
    if let Some(v) = obj.get("jsonrpc") {
        if v.as_str() != Some("2.0") {
            return invalid(None);
        }
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        _ => return invalid(None),
    };
    let id = match obj.get("id") {
        None => None,
        Some(Value::Null) => Some(RequestId::Null),
        Some(Value::String(s)) => Some(RequestId::String(s.clone())),
        Some(Value::Number(_)) => {
            // The exact text, so `1.50` or `1e3` come back as sent.
            let text = parsed
                .member_spans
                .iter()
                .find(|(k, _)| k == "id")
                .and_then(|(_, r)| frame.get(r.clone()))
                .and_then(|b| std::str::from_utf8(b).ok());
            match text {
                Some(t) => Some(RequestId::Number(t.to_string())),
                None => return invalid(None),
            }
        }
        Some(_) => return invalid(None),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => None,
        Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
        Some(_) => return invalid(id),
    };
    Decoded::Call(Request { method, params, id })
}

/// The full response line for `outcome`, whatever the id.
pub fn encode_response(id: Option<&RequestId>, outcome: Result<&Value, &RpcError>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    match id {
        Some(RequestId::Number(text)) => out.extend_from_slice(text.as_bytes()),
        Some(RequestId::String(s)) => json::write_str(s, &mut out),
        Some(RequestId::Null) | None => out.extend_from_slice(b"null"),
    }
    match outcome {
        Ok(result) => {
            out.extend_from_slice(br#","result":"#);
            json::write_value(result, &mut out);
        }
        Err(e) => {
            out.extend_from_slice(br#","error":{"code":"#);
            out.extend_from_slice(e.code.to_string().as_bytes());
            out.extend_from_slice(br#","message":"#);
            json::write_str(&e.message, &mut out);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"}\n");
    out
}

/// The bytes to send for a request's outcome, or `None` for a succeeding
/// notification.
pub fn response_bytes(
    id: Option<&RequestId>,
    outcome: &Result<Value, RpcError>,
) -> Option<Vec<u8>> {
    match outcome {
        Ok(v) => match id {
            Some(RequestId::Number(_)) | Some(RequestId::String(_)) => {
                Some(encode_response(id, Ok(v)))
            }
            _ => None,
        },
        // An error reply carries the id if there was a usable one, else null.
        Err(e) => Some(encode_response(id, Err(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(s: &str) -> Decoded {
        decode(s.as_bytes(), 64)
    }

    fn invalid(id: Option<RequestId>) -> Decoded {
        Decoded::Invalid {
            id,
            error: RpcError::invalid_request(),
        }
    }

    #[test]
    fn valid_requests() {
        assert_eq!(
            dec(r#"{"jsonrpc": "2.0", "method": "m", "id": 1, "params": {"a": 1}}"#),
            Decoded::Call(Request {
                method: "m".into(),
                params: Some(json!({"a":1})),
                id: Some(RequestId::Number("1".into())),
            })
        );
        // jsonrpc is optional (file 78); params null = absent; arrays ok.
        assert_eq!(
            dec(r#"{"method":"m","id":"abc","params":null}"#),
            Decoded::Call(Request {
                method: "m".into(),
                params: None,
                id: Some(RequestId::String("abc".into())),
            })
        );
        assert!(
            matches!(dec(r#"{"method":"m","params":[1]}"#), Decoded::Call(r) if r.params == Some(json!([1])) && r.id.is_none())
        );
        assert!(
            matches!(dec(r#"{"method":"m","id":null}"#), Decoded::Call(r) if r.id == Some(RequestId::Null) && !r.wants_result())
        );
        // Exact id text is kept.
        assert!(
            matches!(dec(r#"{"method":"m","id": 1.50 }"#), Decoded::Call(r) if r.id == Some(RequestId::Number("1.50".into())))
        );
    }

    #[test]
    fn golden_invalid_cases() {
        // 66: params a string → id echoed.
        assert_eq!(
            dec(r#"{"jsonrpc": "2.0", "method": "spdk_get_version", "id": 7, "params": "abc"}"#),
            invalid(Some(RequestId::Number("7".into())))
        );
        // 70: id an object.
        assert_eq!(
            dec(r#"{"jsonrpc": "2.0", "method": "spdk_get_version", "id": {"a": 1}}"#),
            invalid(None)
        );
        // 71: version 1.0 → id not echoed although valid.
        assert_eq!(
            dec(r#"{"jsonrpc": "1.0", "method": "spdk_get_version", "id": 11}"#),
            invalid(None)
        );
        // 72: batch.
        assert_eq!(
            dec(r#"[{"jsonrpc": "2.0", "method": "spdk_get_version", "id": 12}]"#),
            invalid(None)
        );
    }

    #[test]
    fn other_invalid_cases() {
        for s in [
            "5",
            "\"x\"",
            "null",
            r#"{"id":1}"#,
            r#"{"method":5,"id":1}"#,
            r#"{"method":"m","id":[1]}"#,
            r#"{"method":"m","id":true}"#,
            r#"{"jsonrpc":2.0,"method":"m","id":1}"#,
            r#"{"jsonrpc":null,"method":"m","id":1}"#,
            r#"{"method":"m","id":1,"extra":0}"#,
            r#"{"method":"m","method":"n","id":1}"#,
            r#"{"method":"m","id":1,"id":2}"#,
        ] {
            assert_eq!(dec(s), invalid(None), "{s}");
        }
        assert_eq!(
            dec(r#"{"method":"m","id":"q","params":true}"#),
            invalid(Some(RequestId::String("q".into())))
        );
        assert_eq!(dec("1e400"), Decoded::ParseError);
    }

    #[test]
    fn response_layout() {
        let id = RequestId::Number("1".into());
        assert_eq!(
            response_bytes(Some(&id), &Ok(json!(true))).unwrap(),
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true}\n"
        );
        assert_eq!(
            response_bytes(Some(&id), &Err(RpcError::errno(19))).unwrap(),
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-19,\"message\":\"No such device\"}}\n"
        );
        let sid = RequestId::String("a\"/é".into());
        assert_eq!(
            response_bytes(Some(&sid), &Ok(json!(null))).unwrap(),
            b"{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"/\\u00E9\",\"result\":null}\n"
        );
        // Notifications: nothing on success, id null on error.
        assert_eq!(response_bytes(None, &Ok(json!(1))), None);
        assert_eq!(response_bytes(Some(&RequestId::Null), &Ok(json!(1))), None);
        assert_eq!(
            response_bytes(None, &Err(RpcError::method_not_found())).unwrap(),
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}\n"
        );
    }
}
