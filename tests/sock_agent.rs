//! Every host's sockets: `mpath_sock_get_connections` (on `serve`'s RPC
//! for every role, and alone in `mpath-console agent`) and the console's
//! sampler asking each side for its own sockets. Loopback and Unix sockets
//! only; the HOWTO on free ports of 127.0.0.1 and 127.0.0.2.
//!
//! The two hosts in network namespaces, with the console in a third, are
//! in tests/netns.rs.

mod common;
mod console;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, rpc_cli, wait_for_or, Serve};
use console::{fixture, serve_cmd, try_rpc, write_steps, Proc};
use mpath_console::control::{Control, Remote};
use mpath_console::rpc::RpcClient;
use mpath_console::ui::sampler::{self, SamplerOpts, State};
use mpath_console::ui::snapshot::{Queue, Side, Snapshot};
use serde_json::{json, Value};

const METHOD: &str = "mpath_sock_get_connections";
const START: Duration = Duration::from_secs(20);

/// `mpath-console agent ARGS`, waited for until it says where it serves.
fn agent(name: &str, dir: &Path, args: &[&str]) -> Proc {
    let mut c = Command::new(console::bin());
    c.arg("agent").args(args);
    let mut p = Proc::spawn(name, c, dir.join(format!("{name}.log")));
    let t0 = Instant::now();
    while !p.log_text().contains("mpath-console agent:") {
        p.check_alive();
        assert!(t0.elapsed() < START, "{name} not serving: {}", p.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// The HOWTO's scenario on free loopback ports, written to `dir`:
/// (file, first listener, second listener).
fn howto(dir: &Path) -> (std::path::PathBuf, SocketAddr, SocketAddr) {
    let (p1, p2) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
    let sc = fixture(
        "howto.json",
        &[
            ("ADDR1", "127.0.0.1".into()),
            ("PORT1", p1.to_string()),
            ("ADDR2", "127.0.0.2".into()),
            ("PORT2", p2.to_string()),
        ],
    );
    let f = dir.join("howto.json");
    write_steps(&f, &sc, &["nvmf_tgt", "bdevperf"]);
    (
        f,
        SocketAddr::from(([127, 0, 0, 1], p1)),
        SocketAddr::from(([127, 0, 0, 2], p2)),
    )
}

fn methods(sock: &Path) -> Vec<String> {
    try_rpc(sock, "rpc_get_methods", Value::Null)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

fn ends(v: &Value) -> Vec<(String, String)> {
    v["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("no connections list: {v}"))
        .iter()
        .map(|c| {
            (
                c["local_address"].as_str().unwrap().to_string(),
                c["peer_address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn agent_serves_only_sockets_on_loopback_or_unix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Anything but loopback is refused, plainly, before anything starts.
    for addr in ["192.0.2.1:5260", "0.0.0.0:5260", "[::]:5260"] {
        let out = Command::new(console::bin())
            .args(["agent", "--rpc-listen", addr])
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{addr}: {err}");
        assert!(err.contains("is not a loopback address"), "{addr}: {err}");
        assert!(!err.contains("backtrace"), "{addr}: {err}");
    }
    let out = Command::new(console::bin())
        .arg("agent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rpc-sock"));

    let sock = d.join("agent.sock");
    let port = free_port("127.0.0.1");
    let tcp = format!("127.0.0.1:{port}");
    let _agent = agent(
        "agent",
        d,
        &["--rpc-sock", sock.to_str().unwrap(), "--rpc-listen", &tcp],
    );

    // SPDK's own client sees an SPDK-style application with one method
    // of its own.
    let m = rpc_cli(&sock, &["rpc_get_methods"]);
    assert_eq!(m.status, 0, "{m:?}");
    let names: Vec<String> = m
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&METHOD.to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("nvmf_") || n.starts_with("bdev_") || n.starts_with("mpath_l")),
        "{names:?}"
    );
    let v = rpc_cli(&sock, &["spdk_get_version"]);
    assert_eq!(v.status, 0, "{v:?}");
    assert!(v.json()["version"].as_str().unwrap().contains("agent"));

    // A loopback connection, from both ends, over the Unix socket and TCP.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = l.local_addr().unwrap().port();
    let c = TcpStream::connect(("127.0.0.1", lport)).unwrap();
    let (_s, _) = l.accept().unwrap();
    let (server, client) = (
        format!("127.0.0.1:{lport}"),
        c.local_addr().unwrap().to_string(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for addr in [sock.to_str().unwrap(), tcp.as_str()] {
        let v = rt.block_on(async {
            let mut c = RpcClient::connect(addr).await.unwrap();
            c.call(METHOD, Some(json!({"ports": [lport]})))
                .await
                .unwrap()
        });
        assert_eq!(v["ports"], json!([lport]), "{addr}: {v}");
        let e = ends(&v);
        assert!(e.contains(&(server.clone(), client.clone())), "{addr}: {v}");
        assert!(e.contains(&(client.clone(), server.clone())), "{addr}: {v}");
        let row = &v["connections"][0];
        assert_eq!(row["state"], "ESTAB", "{v}");
        for k in ["recv_q", "send_q", "cookie"] {
            assert!(row[k].is_u64(), "{k}: {row}");
        }
        for k in ["rtt_us", "bytes_acked", "bytes_received"] {
            assert!(row["tcp_info"][k].is_u64(), "tcp_info.{k}: {row}");
        }
        // Without ports: every TCP port (the agent knows no application).
        let v = rt.block_on(async {
            let mut c = RpcClient::connect(addr).await.unwrap();
            c.call(METHOD, None).await.unwrap()
        });
        assert_eq!(v["ports"], json!([]), "{v}");
        assert!(ends(&v).contains(&(server.clone(), client.clone())));
    }
    // Bad params: SPDK's -32602, on the wire.
    for p in [
        json!({"ports": [65536]}),
        json!({"port": 1}),
        json!({"ports": "x"}),
    ] {
        let e = try_rpc(&sock, METHOD, p.clone()).unwrap_err();
        let e: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(e["code"], -32602, "{p}: {e}");
    }
}

#[test]
fn serve_reports_its_own_sockets_for_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let (scenario, a1, a2) = howto(dir.path());
    let s = Serve::start_with(&["--scenario", scenario.to_str().unwrap()]);
    let ports = {
        let mut p = vec![a1.port(), a2.port()];
        p.sort_unstable();
        p
    };
    // By default each application lists the ports it serves or connects
    // to: the listeners'.
    for sock in [&s.sock, &s.isock] {
        assert!(methods(sock).contains(&METHOD.to_string()));
        let v = wait_for_or(
            "both paths' connections",
            Duration::from_secs(10),
            || {
                let v = try_rpc(sock, METHOD, Value::Null).ok()?;
                let e = ends(&v);
                let has = |a: SocketAddr| e.iter().any(|(l, _)| *l == a.to_string());
                (has(a1) && has(a2)).then_some(v)
            },
            String::new,
        );
        assert_eq!(v["ports"], json!(ports), "{v}");
        // Nothing but the NVMe/TCP ports.
        for (l, p) in ends(&v) {
            let port = |a: &str| a.parse::<SocketAddr>().unwrap().port();
            assert!(
                ports.contains(&port(&l)) || ports.contains(&port(&p)),
                "{l} {p}"
            );
        }
    }
    drop(s);

    // Each role alone has it; the SPDK stand-in does not.
    for role in ["target", "initiator"] {
        let sock = dir.path().join(format!("{role}.sock"));
        let mut c = serve_cmd(None);
        c.args(["--role", role, &format!("--{role}-sock")])
            .arg(&sock);
        let mut p = Proc::spawn(role, c, dir.path().join(format!("{role}.log")));
        p.wait_serving(START);
        assert!(methods(&sock).contains(&METHOD.to_string()), "{role}");
        // Nothing served or connected yet: every TCP port.
        let v = try_rpc(&sock, METHOD, Value::Null).unwrap();
        assert_eq!(v["ports"], json!([]), "{role}: {v}");
    }
    let s = Serve::start_with(&["--spdk-strict"]);
    for sock in [&s.sock, &s.isock] {
        assert!(!methods(sock).contains(&METHOD.to_string()));
        let e = try_rpc(sock, METHOD, Value::Null).unwrap_err();
        assert!(e.contains("-32601"), "{e}");
    }
}

fn opts() -> SamplerOpts {
    SamplerOpts {
        refresh: Duration::from_millis(100),
        bdev: "Nvme0n1".into(),
        nqn: mpath_console::scenario::HOWTO_NQN.into(),
    }
}

/// A few rounds of the console's sampler over `control`, as its task
/// runs them; the last snapshot.
async fn sample(control: Arc<dyn Control>) -> Snapshot {
    let mut st = State::new(&opts(), control.mode());
    let source = control.sock_source();
    let mut snap = None;
    for _ in 0..4 {
        let raw = sampler::gather(&*control, &st, &source, st.listener_ports()).await;
        snap = Some(st.ingest(raw, &*control));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    snap.unwrap()
}

/// Each path's admin and I/O queue have a row of `side`, joined to the
/// path's controller.
fn joined(s: &Snapshot, side: Side) -> bool {
    s.paths.len() == 2
        && s.paths.iter().all(|p| {
            let rows = || {
                s.conns.rows.iter().filter(|r| {
                    r.side == side
                        && r.cntlid == Some(p.cntlid)
                        && r.listener.as_deref() == Some(p.addr().as_str())
                })
            };
            rows().any(|r| r.queue == Queue::Admin)
                && rows().any(|r| matches!(r.queue, Queue::Io(_)))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampler_asks_each_side_or_its_agent_never_the_local_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (scenario, _, _) = howto(&d);
    let sc = scenario.to_str().unwrap().to_string();
    let strict = tokio::task::spawn_blocking(move || {
        Serve::start_with(&["--spdk-strict", "--scenario", &sc])
    })
    .await
    .unwrap();
    let agent_sock = d.join("agent.sock");
    let a = agent_sock.to_str().unwrap().to_string();
    let _agent = agent("agent", &d, &["--rpc-sock", &a]);
    let (t, i) = (
        strict.sock.to_str().unwrap().to_string(),
        strict.isock.to_str().unwrap().to_string(),
    );

    // SPDK without our method and no agent: both sides unknown, said so;
    // the target's qpairs are listed without a socket.
    let c: Arc<dyn Control> = Arc::new(Remote::new(Some(t.clone()), Some(i.clone())));
    let s = sample(c).await;
    assert_eq!(
        s.conns.unknown,
        [
            "target sockets unknown: no agent",
            "initiator sockets unknown: no agent"
        ],
        "{:#?}",
        s.conns
    );
    assert!(!s.conns.rows.is_empty(), "{:#?}", s.conns);
    assert!(
        s.conns.rows.iter().all(|r| r.side == Side::Remote),
        "the local kernel was read: {:#?}",
        s.conns.rows
    );

    // An agent beside the initiator only: its sockets, joined to the
    // paths; the target's still unknown.
    let c: Arc<dyn Control> =
        Arc::new(Remote::new(Some(t.clone()), Some(i.clone())).with_agents(None, Some(a.clone())));
    let s = sample(c).await;
    assert_eq!(s.conns.unknown, ["target sockets unknown: no agent"]);
    assert!(joined(&s, Side::Host), "{:#?}", s.conns.rows);
    assert!(!s.conns.rows.iter().any(|r| r.side == Side::Target));

    // Agents beside both: both ends of every queue, each once.
    let c: Arc<dyn Control> = Arc::new(
        Remote::new(Some(t.clone()), Some(i.clone())).with_agents(Some(a.clone()), Some(a.clone())),
    );
    let s = sample(c).await;
    assert!(s.conns.unknown.is_empty(), "{:?}", s.conns.unknown);
    assert!(
        joined(&s, Side::Host) && joined(&s, Side::Target),
        "{:#?}",
        s.conns.rows
    );
    let mut tuples: Vec<(String, String)> = s
        .conns
        .rows
        .iter()
        .map(|r| (r.local.clone(), r.peer.clone()))
        .collect();
    let n = tuples.len();
    tuples.sort();
    tuples.dedup();
    assert_eq!(tuples.len(), n, "a socket shown twice: {:#?}", s.conns.rows);
    assert!(s.conns.rows.iter().all(|r| r.side != Side::Remote));

    // An agent that is gone: said so, with where it was.
    let gone = d.join("gone.sock").to_str().unwrap().to_string();
    let c: Arc<dyn Control> =
        Arc::new(Remote::new(Some(t.clone()), None).with_agents(Some(gone.clone()), None));
    let s = sample(c).await;
    assert_eq!(s.conns.unknown.len(), 1, "{:?}", s.conns.unknown);
    let u = &s.conns.unknown[0];
    assert!(
        u.starts_with("target sockets unknown: agent ") && u.contains(&gone),
        "{u}"
    );
    drop(strict);

    // Our own `serve` answers for itself: no agent needed.
    let (scenario, _, _) = howto(&d);
    let sc = scenario.to_str().unwrap().to_string();
    let ours = tokio::task::spawn_blocking(move || Serve::start_with(&["--scenario", &sc]))
        .await
        .unwrap();
    let c: Arc<dyn Control> = Arc::new(Remote::new(
        Some(ours.sock.to_str().unwrap().into()),
        Some(ours.isock.to_str().unwrap().into()),
    ));
    let s = sample(c).await;
    assert!(s.conns.unknown.is_empty(), "{:?}", s.conns.unknown);
    assert!(
        joined(&s, Side::Host) && joined(&s, Side::Target),
        "{:#?}",
        s.conns.rows
    );
}
