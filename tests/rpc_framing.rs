//! The RPC server against SPDK v24.09's golden exchanges, replayed byte for
//! byte over a real Unix socket, plus the socket-level behaviour (lock file,
//! permissions, stale sockets, limits, connection cap, shutdown).
//!
//! Golden exchanges: `tests/golden/spdk-v24.09/rpc/`.

mod common;

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mpath_console::rpc::json::{parse, ParseOptions};
use mpath_console::rpc::{
    params, serve_tcp, serve_unix, serve_unix_with, ClientError, Router, RpcClient, RpcError,
    RpcServer, ServerOptions,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::{timeout, Instant};

fn golden(num: u32) -> Value {
    common::golden_rpc(num)
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing {key}"))
        .to_string()
}

/// The `result` of a golden response, parsed exactly (see json.rs on
/// serde_json and doubles).
fn golden_result(num: u32) -> Value {
    let raw = text(&golden(num), "response_raw");
    let mut v = parse(raw.trim_end().as_bytes(), &ParseOptions::CLIENT)
        .unwrap()
        .value;
    v["result"].take()
}

/// A router standing in for nvmf_tgt/bdevperf for the framework-level
/// golden cases: stubs with SPDK's decoders and error texts, and
/// `spdk_get_version` answering SPDK's own result so replies compare byte
/// for byte (our real version text is checked in the router's unit tests).
fn golden_router() -> Router {
    let mut r = Router::new("test");
    let version = golden_result(2);
    r.register_fn("spdk_get_version", move |p| {
        let version = version.clone();
        async move {
            if p.is_some() {
                return Err(RpcError::invalid_params_msg(
                    "spdk_get_version method requires no parameters",
                ));
            }
            Ok(version)
        }
    });
    let subsystems = golden_result(78);
    r.register_fn("nvmf_get_subsystems", move |p| {
        let subsystems = subsystems.clone();
        async move {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            #[allow(dead_code)]
            struct P {
                nqn: Option<String>,
                tgt_name: Option<String>,
            }
            let _: P = params::decode(p, RpcError::invalid_params)?;
            Ok(subsystems)
        }
    });
    r.register_fn("nvmf_create_subsystem", |p| async move {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct P {
            nqn: String,
        }
        let p: P = params::decode(p, RpcError::invalid_params)?;
        if !p.nqn.starts_with("nqn.") || p.nqn.contains(' ') {
            return Err(RpcError::internal_msg(format!(
                "Unable to create subsystem {}",
                p.nqn
            )));
        }
        Ok(json!(true))
    });
    r.register_fn("bdev_get_bdevs", |p| async move {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct P {
            #[serde(default, deserialize_with = "params::non_null")]
            name: Option<String>,
            #[serde(default)]
            timeout: u64,
        }
        let _: P = params::decode(p, RpcError::decode_failed)?;
        Ok(json!([]))
    });
    r.register_fn("perform_tests", |p| async move {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct P {
            #[serde(default)]
            time_in_sec: Option<i32>,
        }
        let _: P = params::decode_relaxed(p, || {
            RpcError::new(-32700, "spdk_json_decode_object failed")
        })?;
        Ok(json!(0))
    });
    r.register_fn("test_echo", |p| async move { Ok(p.unwrap_or(Value::Null)) });
    r.register_fn("test_panic", |_| async move {
        panic!("handler bug");
    });
    r.register_fn("test_sleep", |_| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(json!("slept"))
    });
    r
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    server: RpcServer,
}

async fn start() -> Fixture {
    start_with(ServerOptions::default()).await
}

async fn start_with(opts: ServerOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spdk.sock");
    let server = serve_unix_with(&path, Arc::new(golden_router()), opts)
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        path,
        server,
    }
}

/// Read until `want` bytes arrived, EOF, or `wait` passed.
async fn read_for(s: &mut UnixStream, want: usize, wait: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < want {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    (got, false)
}

/// Read until `lines` newline-terminated replies arrived (then wait briefly
/// for a close), EOF, or 5 s passed. Returns the bytes and whether the
/// server closed the connection.
async fn read_lines(s: &mut UnixStream, lines: usize) -> (String, bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.iter().filter(|&&b| b == b'\n').count() < lines {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (String::from_utf8(got).unwrap(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8(got).unwrap(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    let (more, eof) = read_for(s, 1, Duration::from_millis(50)).await;
    got.extend_from_slice(&more);
    (String::from_utf8(got).unwrap(), eof)
}

/// Send `request` on a new connection and read `lines` replies. The write
/// side is shut after sending, so a server that closes after a fatal error
/// does not linger waiting for more input.
async fn exchange(path: &Path, request: &[u8], lines: usize) -> (String, bool) {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(request).await.unwrap();
    s.shutdown().await.unwrap();
    read_lines(&mut s, lines).await
}

const PARSE_ERROR: &str =
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n";

/// Files where SPDK's reply is correct: ours must be identical.
#[tokio::test]
async fn golden_replies_byte_for_byte() {
    let f = start().await;
    for num in [1, 50, 66, 67, 68, 69, 70, 71, 72, 73, 74, 77, 78, 79] {
        let g = golden(num);
        let req = text(&g, "request_raw");
        let want = text(&g, "response_raw");
        let mut s = UnixStream::connect(&f.path).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let (got, eof) = read_for(&mut s, want.len(), Duration::from_secs(5)).await;
        assert_eq!(String::from_utf8(got).unwrap(), want, "file {num}");
        assert!(!eof, "file {num}: connection must stay open");
        // The follow-up on the same connection, where recorded.
        if let Some(fq) = g["followup_request_raw"].as_str() {
            let fw = text(&g, "followup_response_raw");
            s.write_all(fq.as_bytes()).await.unwrap();
            let (got, _) = read_for(&mut s, fw.len(), Duration::from_secs(5)).await;
            assert_eq!(String::from_utf8(got).unwrap(), fw, "file {num} follow-up");
        }
        // Nothing else arrives.
        let (extra, _) = read_for(&mut s, 1, Duration::from_millis(50)).await;
        assert!(extra.is_empty(), "file {num}: unexpected extra bytes");
    }
}

/// Files 75/76: a succeeding notification. SPDK v24.09 sends a truncated
/// fragment; we send nothing, and the follow-up is answered normally.
#[tokio::test]
async fn succeeding_notifications_get_no_reply() {
    let f = start().await;
    for num in [75, 76] {
        let g = golden(num);
        assert!(!text(&g, "response_raw").ends_with('\n'));
        let mut s = UnixStream::connect(&f.path).await.unwrap();
        s.write_all(text(&g, "request_raw").as_bytes())
            .await
            .unwrap();
        let (got, eof) = read_for(&mut s, 1, Duration::from_millis(300)).await;
        assert!(got.is_empty() && !eof, "file {num}: {got:?}");
        let fw = text(&g, "followup_response_raw");
        s.write_all(text(&g, "followup_request_raw").as_bytes())
            .await
            .unwrap();
        let (got, _) = read_lines(&mut s, 1).await;
        assert_eq!(got, fw, "file {num}");
    }
}

/// File 64: malformed JSON. SPDK closes without a byte (the Parse error it
/// builds is never flushed); we send that Parse error, then close.
#[tokio::test]
async fn malformed_json_gets_parse_error_then_close() {
    let f = start().await;
    let g = golden(64);
    assert_eq!(text(&g, "response_raw"), "");
    assert_eq!(g["server_closed_connection"], json!(true));
    let (got, eof) = exchange(&f.path, text(&g, "request_raw").as_bytes(), 1).await;
    assert_eq!(got, PARSE_ERROR);
    assert!(eof);
}

/// File 65: an incomplete value just waits; the rest completes it.
#[tokio::test]
async fn incomplete_json_waits_for_more() {
    let f = start().await;
    let g = golden(65);
    let mut s = UnixStream::connect(&f.path).await.unwrap();
    s.write_all(text(&g, "request_raw").as_bytes())
        .await
        .unwrap();
    let (got, eof) = read_for(&mut s, 1, Duration::from_millis(300)).await;
    assert!(got.is_empty() && !eof);
    s.write_all(b"sion\", \"id\": 1}").await.unwrap();
    let want = text(&golden(2), "response_raw");
    let (got, _) = read_for(&mut s, want.len(), Duration::from_secs(5)).await;
    assert_eq!(String::from_utf8(got).unwrap(), want);
}

/// A request dribbled in one byte per write, and rpc.py's pretty request.
#[tokio::test]
async fn byte_at_a_time() {
    let f = start().await;
    let g = golden(79);
    let mut s = UnixStream::connect(&f.path).await.unwrap();
    for b in text(&g, "request_raw").bytes() {
        s.write_all(&[b]).await.unwrap();
    }
    let want = text(&g, "response_raw");
    let (got, _) = read_for(&mut s, want.len(), Duration::from_secs(5)).await;
    assert_eq!(String::from_utf8(got).unwrap(), want);
}

#[tokio::test]
async fn pipelined_replies_stay_in_order() {
    let f = start().await;
    let req = concat!(
        r#"{"method":"test_sleep","id":1}"#,
        r#"{"method":"test_echo","id":2,"params":[2]}"#,
        r#"{"method":"test_echo","params":[3]}"#,
        r#"{"method":"nope"}"#,
        r#"{"method":"test_echo","id":"x","params":{"f":1.5}}"#,
    );
    let want = concat!(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"slept\"}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[2]}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"f\":1.50000000000000000000e+00}}\n",
    );
    let (got, _) = exchange(&f.path, req.as_bytes(), 4).await;
    assert_eq!(got, want);
}

#[tokio::test]
async fn numeric_ids_are_echoed_verbatim() {
    let f = start().await;
    let (got, _) = exchange(
        &f.path,
        br#"{"method":"test_echo","id":1.50}{"method":"test_echo","id":-0}{"method":"test_echo","id":1e3}"#,
        3,
    )
    .await;
    assert_eq!(
        got,
        "{\"jsonrpc\":\"2.0\",\"id\":1.50,\"result\":null}\n{\"jsonrpc\":\"2.0\",\"id\":-0,\"result\":null}\n{\"jsonrpc\":\"2.0\",\"id\":1e3,\"result\":null}\n"
    );
}

#[tokio::test]
async fn handler_panic_is_an_internal_error() {
    let f = start().await;
    let req = br#"{"method":"test_panic","id":1}{"method":"test_echo","id":2}"#;
    let want = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"Internal error\"}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":null}\n";
    let (got, _) = exchange(&f.path, req, 2).await;
    assert_eq!(got, want);
}

#[tokio::test]
async fn socket_is_0600_and_cleaned_up() {
    let f = start().await;
    let mode = std::fs::metadata(&f.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let lock = PathBuf::from(format!("{}.lock", f.path.display()));
    assert_eq!(
        std::fs::metadata(&lock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(f.server.path(), Some(f.path.as_path()));
    assert_eq!(f.server.local_addr(), None);
    let Fixture {
        _dir, path, server, ..
    } = f;
    server.shutdown().await;
    assert!(!path.exists());
    assert!(!lock.exists());
    assert!(UnixStream::connect(&path).await.is_err());
    // Drop cleans up too.
    let f = start().await;
    let (path, lock) = (
        f.path.clone(),
        PathBuf::from(format!("{}.lock", f.path.display())),
    );
    drop(f.server);
    assert!(!path.exists() && !lock.exists());
}

#[tokio::test]
async fn second_server_on_same_path_fails_clearly() {
    let f = start().await;
    let err = serve_unix(&f.path, Arc::new(Router::new("")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let msg = err.to_string();
    assert!(msg.contains(&f.path.display().to_string()), "{msg}");
    assert!(msg.contains("another process"), "{msg}");
    // The first one is unharmed.
    let (got, _) = exchange(&f.path, br#"{"method":"test_echo","id":1}"#, 1).await;
    assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n");
    // And the path is free again once it is gone.
    let Fixture {
        _dir, path, server, ..
    } = f;
    server.shutdown().await;
    let again = serve_unix(&path, Arc::new(Router::new(""))).await.unwrap();
    again.shutdown().await;
}

#[tokio::test]
async fn stale_socket_is_replaced_but_a_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spdk.sock");
    // A socket file whose server is gone, and a leftover unlocked lock file.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    std::fs::write(format!("{}.lock", path.display()), b"").unwrap();
    assert!(path.exists());
    let server = serve_unix(&path, Arc::new(golden_router())).await.unwrap();
    let (got, _) = exchange(&path, br#"{"method":"test_echo","id":1}"#, 1).await;
    assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n");
    server.shutdown().await;

    std::fs::write(&path, b"not a socket").unwrap();
    let err = serve_unix(&path, Arc::new(Router::new("")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    assert!(!PathBuf::from(format!("{}.lock", path.display())).exists());
}

/// A 100 MB request gets an error and a close; other connections are
/// served meanwhile and afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huge_request_is_refused_and_server_keeps_serving() {
    let f = start().await;
    let mut big = UnixStream::connect(&f.path).await.unwrap();
    let (mut rd, mut wr) = big.split();
    let writer = async {
        wr.write_all(b"{\"method\":\"test_echo\",\"id\":1,\"params\":{\"s\":\"")
            .await?;
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            wr.write_all(&chunk).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let reader = async {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match timeout(Duration::from_secs(10), rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("no close after a huge request"),
            }
        }
        got
    };
    let other = async {
        let (got, _) = exchange(&f.path, br#"{"method":"test_echo","id":9}"#, 1).await;
        assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":null}\n");
    };
    let (w, got, ()) = tokio::join!(writer, reader, other);
    // The writer may or may not have finished before the server closed.
    let _ = w;
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error: request larger than 262144 bytes\"}}\n"
    );
    let (got, _) = exchange(&f.path, br#"{"method":"test_echo","id":10}"#, 1).await;
    assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":null}\n");
}

/// 10 000-deep nesting (and, separately, too many values) get a Parse
/// error and a close, without harm to the server.
#[tokio::test]
async fn deep_nesting_and_value_count_are_refused() {
    let f = start().await;
    let deep = format!(
        "{{\"method\":\"test_echo\",\"id\":1,\"params\":{}",
        "[".repeat(10_000)
    );
    let (got, eof) = exchange(&f.path, deep.as_bytes(), 1).await;
    assert_eq!(got, PARSE_ERROR);
    assert!(eof);
    let objs = "{\"a\":".repeat(10_000);
    let (got, eof) = exchange(&f.path, objs.as_bytes(), 1).await;
    assert_eq!((got.as_str(), eof), (PARSE_ERROR, true));
    // 64 levels are fine (the request object itself is one of them).
    let ok = format!(
        "{{\"method\":\"test_echo\",\"id\":2,\"params\":{}{}}}",
        "[".repeat(63),
        "]".repeat(63)
    );
    let (got, _) = exchange(&f.path, ok.as_bytes(), 1).await;
    assert!(
        got.starts_with("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[[["),
        "{got}"
    );
    let too_deep = format!(
        "{{\"method\":\"test_echo\",\"id\":3,\"params\":{}{}}}",
        "[".repeat(64),
        "]".repeat(64)
    );
    let (got, _) = exchange(&f.path, too_deep.as_bytes(), 1).await;
    assert_eq!(got, PARSE_ERROR);
    // More than 8192 JSON values in one request.
    let many = format!(
        "{{\"method\":\"test_echo\",\"id\":4,\"params\":[{}0]}}",
        "0,".repeat(8200)
    );
    let (got, _) = exchange(&f.path, many.as_bytes(), 1).await;
    assert_eq!(got, PARSE_ERROR);
    let (got, _) = exchange(&f.path, br#"{"method":"test_echo","id":5}"#, 1).await;
    assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":null}\n");
}

/// Beyond the connection cap, clients wait (as in SPDK, which stops
/// accepting) and are served once a slot frees up.
#[tokio::test]
async fn connection_cap_queues_extra_clients() {
    let f = start_with(ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    })
    .await;
    let mut a = UnixStream::connect(&f.path).await.unwrap();
    let _b = UnixStream::connect(&f.path).await.unwrap();
    // Make sure both were accepted before the third arrives.
    a.write_all(br#"{"method":"test_echo","id":1}"#)
        .await
        .unwrap();
    let (got, _) = read_lines(&mut a, 1).await;
    assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n");
    let mut c = UnixStream::connect(&f.path).await.unwrap();
    c.write_all(br#"{"method":"test_echo","id":3}"#)
        .await
        .unwrap();
    let (got, _) = read_for(&mut c, 1, Duration::from_millis(300)).await;
    assert!(got.is_empty(), "third client served while two are open");
    drop(a);
    let want = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":null}\n";
    let (got, _) = read_for(&mut c, want.len(), Duration::from_secs(5)).await;
    assert_eq!(String::from_utf8(got).unwrap(), want);
}

/// Our client against our server, over Unix and TCP.
#[tokio::test]
async fn client_round_trips() {
    let f = start().await;
    let mut c = RpcClient::connect(f.path.to_str().unwrap()).await.unwrap();
    assert_eq!(
        c.call("spdk_get_version", None).await.unwrap(),
        golden_result(2)
    );
    assert_eq!(
        c.call("test_echo", Some(json!({"a": [1, "é", 2.5]})))
            .await
            .unwrap(),
        json!({"a": [1, "é", 2.5]})
    );
    match c.call("no_such_method", None).await {
        Err(ClientError::Rpc(e)) => assert_eq!(e, RpcError::method_not_found()),
        other => panic!("{other:?}"),
    }
    match c.call("framework_start_init", None).await {
        Err(ClientError::Rpc(e)) => assert_eq!(e.code, -1),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.next_id(), 5);

    let router = Arc::new(Router::new("nvmf_tgt"));
    let tcp = serve_tcp("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap();
    let addr = tcp.local_addr().unwrap();
    assert_eq!(tcp.path(), None);
    let mut c = RpcClient::connect(&addr.to_string()).await.unwrap();
    let v = c.call("spdk_get_version", None).await.unwrap();
    assert_eq!(v["fields"]["major"], json!(24));
    assert!(v["version"]
        .as_str()
        .unwrap()
        .starts_with("SPDK v24.09 (mpath-console "));
    let methods = c.call("rpc_get_methods", None).await.unwrap();
    assert_eq!(methods[0], json!("spdk_get_version"));
    // Malformed over TCP: the Parse error arrives intact before the close.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"{\"a\":1,,}").await.unwrap();
    let mut got = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), PARSE_ERROR);
    tcp.shutdown().await;
}
