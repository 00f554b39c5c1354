//! JSON-RPC error values as SPDK sends them: `{"code":N,"message":"..."}`,
//! never with a `data` member.
//!
//! The constructors carry SPDK's exact texts, because clients (rpc.py, test
//! scripts) print and sometimes match them.

use std::fmt;

/// -32700: the request was not valid JSON.
pub const PARSE_ERROR: i32 = -32700;
/// -32600: valid JSON, but not a valid JSON-RPC request.
pub const INVALID_REQUEST: i32 = -32600;
/// -32601: unknown method.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// -32602: the method rejected its parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// -32603: the method failed.
pub const INTERNAL_ERROR: i32 = -32603;
/// -1: the method is not allowed in the current application state.
/// (SPDK calls it `SPDK_JSONRPC_ERROR_INVALID_STATE`; it equals `-EPERM`.)
pub const INVALID_STATE: i32 = -1;

/// One JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i32,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// -32700 "Parse error".
    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "Parse error")
    }

    /// -32600 "Invalid request".
    pub fn invalid_request() -> Self {
        Self::new(INVALID_REQUEST, "Invalid request")
    }

    /// -32601 "Method not found".
    pub fn method_not_found() -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found")
    }

    /// -32602 "Invalid parameters" (what most `nvmf_*` handlers send).
    pub fn invalid_params() -> Self {
        Self::new(INVALID_PARAMS, "Invalid parameters")
    }

    /// -32602 with a handler-specific text.
    pub fn invalid_params_msg(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// -32603 "Internal error".
    pub fn internal() -> Self {
        Self::new(INTERNAL_ERROR, "Internal error")
    }

    /// -32603 with a handler-specific text.
    pub fn internal_msg(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    /// -32603 "spdk_json_decode_object failed": what `bdev_*` handlers send
    /// when their parameters do not decode (golden files 61, 62, 68).
    pub fn decode_failed() -> Self {
        Self::new(INTERNAL_ERROR, "spdk_json_decode_object failed")
    }

    /// `code = -e`, `message = strerror(e)`, as SPDK's
    /// `spdk_jsonrpc_send_error_response(request, -rc, spdk_strerror(rc))`
    /// pattern produces (golden file 63: `-19 "No such device"`).
    ///
    /// `e` is taken literally: pass the positive errno (`libc::ENODEV`).
    pub fn errno(e: i32) -> Self {
        Self::new(e.wrapping_neg(), strerror(e))
    }

    /// -1 (invalid state) with a text, like SPDK's state-gating errors.
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(INVALID_STATE, message)
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// glibc's `strerror` text for `e`, for the errno values SPDK's handlers
/// report, and glibc's fallback `"Unknown error N"` otherwise (which is
/// also what glibc prints for negative values: SPDK's `perform_tests`
/// reports `"Unknown error -115"`, golden file 32).
///
/// A table rather than `libc::strerror`: the texts must not depend on the
/// C library or locale the binary happens to run with.
pub fn strerror(e: i32) -> String {
    let known = match e {
        0 => "Success",
        1 => "Operation not permitted",
        2 => "No such file or directory",
        3 => "No such process",
        4 => "Interrupted system call",
        5 => "Input/output error",
        6 => "No such device or address",
        7 => "Argument list too long",
        9 => "Bad file descriptor",
        11 => "Resource temporarily unavailable",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        14 => "Bad address",
        16 => "Device or resource busy",
        17 => "File exists",
        19 => "No such device",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        24 => "Too many open files",
        28 => "No space left on device",
        30 => "Read-only file system",
        32 => "Broken pipe",
        34 => "Numerical result out of range",
        38 => "Function not implemented",
        61 => "No data available",
        62 => "Timer expired",
        71 => "Protocol error",
        74 => "Bad message",
        75 => "Value too large for defined data type",
        95 => "Operation not supported",
        98 => "Address already in use",
        99 => "Cannot assign requested address",
        103 => "Software caused connection abort",
        104 => "Connection reset by peer",
        105 => "No buffer space available",
        106 => "Transport endpoint is already connected",
        107 => "Transport endpoint is not connected",
        110 => "Connection timed out",
        111 => "Connection refused",
        113 => "No route to host",
        114 => "Operation already in progress",
        115 => "Operation now in progress",
        116 => "Stale file handle",
        121 => "Remote I/O error",
        122 => "Disk quota exceeded",
        125 => "Operation canceled",
        _ => return format!("Unknown error {e}"),
    };
    known.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_carry_spdk_texts() {
        assert_eq!(
            RpcError::parse_error(),
            RpcError::new(-32700, "Parse error")
        );
        assert_eq!(
            RpcError::invalid_request(),
            RpcError::new(-32600, "Invalid request")
        );
        assert_eq!(
            RpcError::method_not_found(),
            RpcError::new(-32601, "Method not found")
        );
        assert_eq!(
            RpcError::invalid_params(),
            RpcError::new(-32602, "Invalid parameters")
        );
        assert_eq!(
            RpcError::invalid_params_msg("x"),
            RpcError::new(-32602, "x")
        );
        assert_eq!(
            RpcError::internal(),
            RpcError::new(-32603, "Internal error")
        );
        assert_eq!(RpcError::internal_msg("y"), RpcError::new(-32603, "y"));
        assert_eq!(
            RpcError::decode_failed(),
            RpcError::new(-32603, "spdk_json_decode_object failed")
        );
        assert_eq!(RpcError::state("z"), RpcError::new(-1, "z"));
    }

    #[test]
    fn errno_matches_glibc() {
        let cases = [
            (19, "No such device"),
            (22, "Invalid argument"),
            (17, "File exists"),
            (114, "Operation already in progress"),
            (115, "Operation now in progress"),
            (16, "Device or resource busy"),
            (2, "No such file or directory"),
            (1, "Operation not permitted"),
            (5, "Input/output error"),
            (12, "Cannot allocate memory"),
            (110, "Connection timed out"),
            (6, "No such device or address"),
        ];
        for (e, text) in cases {
            assert_eq!(RpcError::errno(e), RpcError::new(-e, text), "errno {e}");
        }
        assert_eq!(RpcError::errno(4000).message, "Unknown error 4000");
        // What bdevperf sends for a second perform_tests (golden file 32).
        assert_eq!(strerror(-115), "Unknown error -115");
        assert_eq!(RpcError::errno(i32::MIN).code, i32::MIN);
    }

    #[test]
    fn display_names_message_and_code() {
        let e = RpcError::errno(19);
        assert_eq!(e.to_string(), "No such device (code -19)");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().contains("-19"));
    }
}
