//! A JSON-RPC client that talks to SPDK (or to our server) the way rpc.py
//! does.
//!
//! * Requests are rpc.py's bytes: `json.dumps(req, indent=2)` with keys
//!   `jsonrpc`, `method`, `id`, `params`, no trailing newline, and `params`
//!   left out when it is absent, `null`, `{}` or `[]` (rpc.py drops falsy
//!   params). Ids count from 1 per connection.
//! * Responses are stream-parsed by JSON value boundaries, not lines.
//!   Values that are not the reply to the current request are skipped; a
//!   malformed stretch (leading garbage, or SPDK v24.09's truncated reply to
//!   a succeeding notification, which lacks its final `}`) is skipped by
//!   resynchronizing at the next `{`. Every call has a deadline, so nothing
//!   waits forever.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::{timeout_at, Instant};

use super::error::RpcError;
use super::framing::{FrameError, Limits, Splitter};
use super::json::{self, ParseOptions};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a JSON-RPC error.
    #[error("JSON-RPC error: {0}")]
    Rpc(RpcError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server's bytes do not make a usable response.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// No response within the client's timeout.
    #[error("timed out waiting for the response")]
    Timeout,
}

/// Where [`RpcClient::connect`] goes for an address string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// A literal socket address.
    Tcp(SocketAddr),
    /// `host:port` with a host name, resolved at connect time.
    TcpHost(String),
}

impl Endpoint {
    /// `"[::1]:5260"`, `"127.0.0.1:5260"` → TCP; a bare IP address → TCP
    /// on rpc.py's default port 5260; an existing path or anything with a
    /// `/` → Unix; `name:port` → TCP by host name; anything else → Unix.
    pub fn parse(addr: &str) -> Endpoint {
        if let Ok(sa) = addr.parse::<SocketAddr>() {
            return Endpoint::Tcp(sa);
        }
        let bare = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Endpoint::Tcp(SocketAddr::new(ip, RpcClient::DEFAULT_TCP_PORT));
        }
        if addr.contains('/') || Path::new(addr).exists() {
            return Endpoint::Unix(PathBuf::from(addr));
        }
        if let Some((host, port)) = addr.rsplit_once(':') {
            if !host.is_empty() && port.parse::<u16>().is_ok() {
                return Endpoint::TcpHost(addr.to_string());
            }
        }
        Endpoint::Unix(PathBuf::from(addr))
    }
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    async fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(b).await,
            Stream::Tcp(s) => s.write_all(b).await,
        }
    }

    async fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b).await,
            Stream::Tcp(s) => s.read(b).await,
        }
    }
}

/// One connection to an RPC server.
pub struct RpcClient {
    stream: Stream,
    splitter: Splitter,
    next_id: u64,
    timeout: Duration,
    /// Set once the byte stream can no longer be trusted to line up with
    /// requests (EOF, an oversized reply).
    broken: Option<String>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("next_id", &self.next_id)
            .field("timeout", &self.timeout)
            .field("broken", &self.broken)
            .finish()
    }
}

impl RpcClient {
    /// rpc.py's default timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// rpc.py's default TCP port (`-p`).
    pub const DEFAULT_TCP_PORT: u16 = 5260;

    /// Connect to `addr` (see [`Endpoint::parse`]) within the default
    /// timeout.
    pub async fn connect(addr: &str) -> Result<Self, ClientError> {
        Self::connect_timeout(addr, Self::DEFAULT_TIMEOUT).await
    }

    /// Connect within `timeout`, which also becomes the per-call timeout.
    pub async fn connect_timeout(addr: &str, timeout: Duration) -> Result<Self, ClientError> {
        let deadline = Instant::now() + timeout;
        let connecting = async {
            match Endpoint::parse(addr) {
                Endpoint::Unix(p) => UnixStream::connect(p).await.map(Stream::Unix),
                Endpoint::Tcp(sa) => TcpStream::connect(sa).await.map(Stream::Tcp),
                Endpoint::TcpHost(h) => TcpStream::connect(h.as_str()).await.map(Stream::Tcp),
            }
        };
        let stream = timeout_at(deadline, connecting)
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| {
                ClientError::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot connect to {addr}: {e}"),
                ))
            })?;
        if let Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        Ok(RpcClient {
            stream,
            splitter: Splitter::new(Limits::CLIENT),
            next_id: 1,
            timeout,
            broken: None,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The deadline for each later call (send + wait for the reply).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The id the next request will carry.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// rpc.py's request bytes for `method` with `id` and `params`.
    pub fn encode_request(method: &str, id: u64, params: Option<&Value>) -> Vec<u8> {
        let mut req = Map::new();
        req.insert("jsonrpc".into(), Value::String("2.0".into()));
        req.insert("method".into(), Value::String(method.into()));
        req.insert("id".into(), Value::from(id));
        let falsy = match params {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if let (false, Some(p)) = (falsy, params) {
            req.insert("params".into(), p.clone());
        }
        let mut out = Vec::new();
        json::write_value_pretty_py(&Value::Object(req), &mut out);
        out
    }

    /// Send one request and wait for its reply: the `result` value, or the
    /// server's error as [`ClientError::Rpc`].
    pub async fn call(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Value, ClientError> {
        if let Some(why) = &self.broken {
            return Err(ClientError::Protocol(format!("connection unusable: {why}")));
        }
        let id = self.next_id;
        self.next_id += 1;
        let deadline = Instant::now() + self.timeout;
        let req = Self::encode_request(method, id, params.as_ref());
        timeout_at(deadline, self.stream.write_all(&req))
            .await
            .map_err(|_| ClientError::Timeout)??;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            loop {
                match self.splitter.next_frame() {
                    Ok(Some(frame)) => {
                        if let Some(reply) = match_reply(&frame, id) {
                            return reply;
                        }
                    }
                    Ok(None) => break,
                    Err(FrameError::Malformed { offset }) => {
                        tracing::debug!("skipping malformed bytes in RPC reply stream at {offset}");
                        self.splitter.resync();
                    }
                    Err(e) => {
                        let why = format!("reply to request {id}: {e}");
                        self.broken = Some(why.clone());
                        return Err(ClientError::Protocol(why));
                    }
                }
            }
            let n = match timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return Err(ClientError::Timeout),
                Ok(Err(e)) => {
                    self.broken = Some(format!("read failed: {e}"));
                    return Err(ClientError::Io(e));
                }
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                let why = format!(
                    "connection closed before the reply to request {id} ({} bytes pending)",
                    self.splitter.buffered()
                );
                self.broken = Some(why.clone());
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    why,
                )));
            }
            self.splitter.push(&buf[..n]);
        }
    }
}

/// `Some(outcome)` if `frame` is the reply to request `id`: same id, or
/// `"id":null` with an error (the server could not read our id, e.g. it
/// rejected the request as invalid). Anything else is skipped.
fn match_reply(frame: &[u8], id: u64) -> Option<Result<Value, ClientError>> {
    let Ok(parsed) = json::parse(frame, &ParseOptions::CLIENT) else {
        tracing::debug!("skipping unparsable value in RPC reply stream");
        return None;
    };
    let Value::Object(mut obj) = parsed.value else {
        return None;
    };
    let ours = match obj.get("id") {
        Some(Value::Number(n)) => n.as_u64() == Some(id) || n.as_f64() == Some(id as f64),
        Some(Value::String(s)) => s.as_str() == id.to_string(),
        Some(Value::Null) => obj.contains_key("error"),
        _ => false,
    };
    if !ours {
        tracing::debug!("skipping a value that is not the reply to request {id}");
        return None;
    }
    if let Some(err) = obj.remove("error") {
        return Some(Err(rpc_error(err)));
    }
    match obj.remove("result") {
        Some(result) => Some(Ok(result)),
        None => Some(Err(ClientError::Protocol(format!(
            "reply to request {id} has neither result nor error"
        )))),
    }
}

fn rpc_error(err: Value) -> ClientError {
    let code = err
        .get("code")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok());
    let message = err.get("message").and_then(Value::as_str);
    match (code, message) {
        (Some(code), Some(message)) => ClientError::Rpc(RpcError::new(code, message)),
        _ => ClientError::Protocol(format!("malformed error object: {}", json_text(&err))),
    }
}

fn json_text(v: &Value) -> String {
    String::from_utf8_lossy(&json::to_vec(v)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::net::UnixListener;

    #[test]
    fn endpoint_parsing() {
        assert_eq!(
            Endpoint::parse("127.0.0.1:5260"),
            Endpoint::Tcp("127.0.0.1:5260".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("[::1]:4000"),
            Endpoint::Tcp("[::1]:4000".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("127.0.0.2"),
            Endpoint::Tcp("127.0.0.2:5260".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("[::1]"),
            Endpoint::Tcp("[::1]:5260".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("/var/tmp/spdk.sock"),
            Endpoint::Unix("/var/tmp/spdk.sock".into())
        );
        assert_eq!(
            Endpoint::parse("localhost:5260"),
            Endpoint::TcpHost("localhost:5260".into())
        );
        assert_eq!(
            Endpoint::parse("spdk.sock"),
            Endpoint::Unix("spdk.sock".into())
        );
    }

    #[test]
    fn requests_look_like_rpc_py() {
        let r = RpcClient::encode_request("spdk_get_version", 1, None);
        assert_eq!(
            r,
            b"{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"spdk_get_version\",\n  \"id\": 1\n}"
        );
        // Falsy params are dropped like rpc.py does.
        for p in [json!(null), json!({}), json!([])] {
            assert_eq!(
                RpcClient::encode_request("spdk_get_version", 1, Some(&p)),
                r
            );
        }
        let r = RpcClient::encode_request("perform_tests", 1, Some(&json!({"time_in_sec": 3})));
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"perform_tests\",\n  \"id\": 1,\n  \"params\": {\n    \"time_in_sec\": 3\n  }\n}"
        );
    }

    /// A fake server that reads one request and answers with `reply`.
    async fn fake(reply: &'static [u8]) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply).await;
            // Keep the connection open a little so EOF is not the answer.
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let p = path.to_str().unwrap().to_string();
        (dir, p)
    }

    #[tokio::test]
    async fn tolerates_fragment_and_garbage() {
        let (_d, p) = fake(
            b"garbage ]]\n{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{\"version\":\"SPDK\",\"fields\":{}}\
{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":false}\n\
{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":1.5}}\n",
        )
        .await;
        let mut c = RpcClient::connect(&p).await.unwrap();
        assert_eq!(c.call("x", None).await.unwrap(), json!({"ok": 1.5}));
        assert_eq!(c.next_id(), 2);
    }

    #[tokio::test]
    async fn error_replies_and_null_id_errors() {
        let (_d, p) = fake(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-19,\"message\":\"No such device\"}}\n",
        )
        .await;
        let mut c = RpcClient::connect(&p).await.unwrap();
        match c.call("x", None).await {
            Err(ClientError::Rpc(e)) => assert_eq!(e, RpcError::errno(19)),
            other => panic!("{other:?}"),
        }
        let (_d, p) = fake(
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}}\n",
        )
        .await;
        let mut c = RpcClient::connect(&p).await.unwrap();
        assert!(matches!(c.call("x", None).await, Err(ClientError::Rpc(e)) if e.code == -32600));
        let (_d, p) = fake(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}\n").await;
        let mut c = RpcClient::connect(&p).await.unwrap();
        assert!(matches!(
            c.call("x", None).await,
            Err(ClientError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn timeout_and_eof() {
        // Only a fragment arrives: the call must time out, not hang.
        let (_d, p) = fake(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{").await;
        let mut c = RpcClient::connect_timeout(&p, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(matches!(c.call("x", None).await, Err(ClientError::Timeout)));
        // Closed without a reply (after the fake's 300 ms).
        c.set_timeout(Duration::from_secs(5));
        // (A reset when the peer closes with our request unread.)
        let r = c.call("x", None).await;
        assert!(
            matches!(&r, Err(ClientError::Io(e)) if matches!(e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset)),
            "{r:?}"
        );
        assert!(matches!(
            c.call("x", None).await,
            Err(ClientError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn eof_before_reply() {
        let (_d, p) = fake(b"").await;
        let mut c = RpcClient::connect(&p).await.unwrap();
        let r = c.call("x", None).await;
        assert!(
            matches!(&r, Err(ClientError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn connect_errors_name_the_address() {
        let e = RpcClient::connect("/nonexistent/dir/spdk.sock")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/spdk.sock"), "{e}");
    }
}
