//! sockstat against the running kernel, on loopback connections this test
//! makes itself (127.0.0.1 and ::1, ephemeral ports). A machine without
//! IPv6 on `lo` fails the IPv6 test, saying so.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::thread;
use std::time::Duration;

use mpath_console::sockstat::{query, Filter, Sampler, TcpConn, TcpState};

/// Polls `query` until `ok` accepts the result; the kernel updates ACK
/// counters asynchronously, even on loopback.
fn wait_for(filter: &Filter, ok: impl Fn(&[TcpConn]) -> bool) -> Vec<TcpConn> {
    common::wait_for_or(
        "the kernel's sockets as expected",
        Duration::from_secs(10),
        || {
            let conns = query(filter).expect("query");
            ok(&conns).then_some(conns)
        },
        || format!("{:#?}", query(filter)),
    )
}

fn find(conns: &[TcpConn], local: SocketAddr, peer: SocketAddr) -> Option<&TcpConn> {
    conns.iter().find(|c| c.local == local && c.peer == peer)
}

/// The inode of the socket behind `fd`, as the kernel reports it.
fn inode_of(s: &impl AsRawFd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd()))
        .expect("stat fd")
        .ino()
}

/// Our real uid, without unsafe: the owner of our own /proc entry.
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .expect("stat /proc/self")
        .uid()
}

struct Pair {
    listener: TcpListener,
    client: TcpStream,
    server: TcpStream,
}

fn pair(addr: &str) -> io::Result<Pair> {
    let listener = TcpListener::bind(addr)?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    Ok(Pair {
        listener,
        client,
        server,
    })
}

/// Full check on one address family: ESTAB at both ends with the right
/// addresses, byte counters, the listener on request, and Recv-Q.
fn check_family(p: Pair) {
    const N: usize = 200_000;
    let Pair {
        listener,
        mut client,
        mut server,
    } = p;
    let lport = listener.local_addr().unwrap().port();
    let (c_addr, s_addr) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), s_addr);

    let writer = thread::spawn(move || {
        client.write_all(&vec![0x5a; N]).unwrap();
        client
    });
    let mut got = vec![0u8; N];
    server.read_exact(&mut got).unwrap();
    let client = writer.join().unwrap();

    let filter = Filter::port(lport, Filter::CONNECTED);
    let conns = wait_for(&filter, |cs| {
        find(cs, c_addr, s_addr)
            .and_then(|c| c.info.as_ref()?.bytes_acked)
            .is_some_and(|b| b >= N as u64)
    });
    assert_eq!(conns.len(), 2, "exactly the two ends: {conns:#?}");
    let cl = find(&conns, c_addr, s_addr).expect("client end listed");
    let sv = find(&conns, s_addr, c_addr).expect("server end listed");
    for c in [cl, sv] {
        assert_eq!(c.state, TcpState::Established);
        assert_eq!(c.state.as_str(), "ESTAB");
        assert_eq!(c.uid, my_uid());
        assert!(c.cookie != 0);
        let i = c.info.as_ref().expect("tcp_info for an established socket");
        assert_eq!(i.state, 1);
        assert!(i.snd_mss > 0 && i.rcv_mss > 0 && i.cwnd > 0);
        assert!(i.rtt_us > 0);
    }
    assert_eq!(cl.inode, inode_of(&client));
    assert_eq!(sv.inode, inode_of(&server));
    let (ci, si) = (cl.info.as_ref().unwrap(), sv.info.as_ref().unwrap());
    assert!(
        ci.bytes_acked.unwrap() >= N as u64,
        "sender bytes_acked {ci:?}"
    );
    assert!(
        si.bytes_received.unwrap() >= N as u64,
        "receiver bytes_received {si:?}"
    );
    if let Some(sent) = ci.bytes_sent {
        assert!(sent >= N as u64);
    }
    assert!(ci.segs_out.unwrap() > 0 && si.segs_in.unwrap() > 0);
    // Everything was read: both queues are empty.
    assert_eq!((sv.recv_q, cl.send_q), (0, 0));

    // The listener only shows up when LISTEN is asked for.
    assert!(!conns.iter().any(|c| c.state == TcpState::Listen));
    let all = query(&Filter::port(lport, Filter::ALL)).unwrap();
    let l = all
        .iter()
        .find(|c| c.state == TcpState::Listen)
        .expect("listener listed with Filter::ALL");
    assert_eq!(l.local, listener.local_addr().unwrap());
    assert_eq!(l.peer.port(), 0);
    assert!(l.peer.ip().is_unspecified());
    assert_eq!(l.inode, inode_of(&listener));
    assert!(l.send_q > 0, "LISTEN Send-Q is the backlog limit");
    assert_eq!(l.recv_q, 0, "nothing waiting in the accept queue");
    let only = query(&Filter::port(lport, Filter::LISTEN)).unwrap();
    assert_eq!(only.len(), 1);

    // Bytes the server does not read sit in its Recv-Q.
    const M: usize = 5000;
    (&client).write_all(&[1; M]).unwrap();
    let conns = wait_for(&filter, |cs| {
        find(cs, s_addr, c_addr).is_some_and(|c| c.recv_q > 0)
    });
    let sv = find(&conns, s_addr, c_addr).unwrap();
    assert_eq!(sv.recv_q, M as u32, "Recv-Q holds the unread bytes");

    // A connection waiting to be accepted shows in the listener's Recv-Q.
    let _queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let conns = wait_for(&Filter::port(lport, Filter::LISTEN), |cs| {
        cs.iter().any(|c| c.recv_q == 1)
    });
    assert_eq!(conns[0].recv_q, 1);
    drop((server, client));
}

#[test]
fn ipv4_loopback_connection() {
    check_family(pair("127.0.0.1:0").expect("IPv4 loopback"));
}

#[test]
fn ipv6_loopback_connection() {
    let p = pair("[::1]:0").unwrap_or_else(|e| {
        panic!(
            "no IPv6 loopback here: a connection over [::1] fails ({e}). This test needs ::1 \
             on lo: enable IPv6 (sysctl -w net.ipv6.conf.lo.disable_ipv6=0; not booted with \
             ipv6.disable=1)"
        )
    });
    check_family(p);
}

#[test]
fn default_filter_lists_connections_like_ss() {
    let p = pair("127.0.0.2:0").expect("127.0.0.2 is loopback too");
    let (c, s) = (
        p.client.local_addr().unwrap(),
        p.server.local_addr().unwrap(),
    );
    let conns = query(&Filter::default()).unwrap();
    assert!(find(&conns, c, s).is_some());
    assert!(find(&conns, s, c).is_some());
    let l = p.listener.local_addr().unwrap();
    assert!(!conns
        .iter()
        .any(|x| x.local == l && x.state == TcpState::Listen));
}

#[test]
fn sampler_sees_tx_and_rx_rates() {
    let Pair {
        listener,
        mut client,
        mut server,
    } = pair("127.0.0.1:0").unwrap();
    let filter = Filter::port(listener.local_addr().unwrap().port(), Filter::CONNECTED);
    let (c_addr, s_addr) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    let mut sampler = Sampler::new();
    let first = sampler.sample(&filter).unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|r| r.tx_bps == 0.0 && r.rx_bps == 0.0));

    const N: usize = 4 << 20;
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        while total < N {
            total += server.read(&mut buf).unwrap();
        }
        server
    });
    client.write_all(&vec![7u8; N]).unwrap();
    let _server = reader.join().unwrap();
    // Let the last ACKs land so the whole transfer counts.
    wait_for(&filter, |cs| {
        find(cs, c_addr, s_addr)
            .and_then(|c| c.info.as_ref()?.bytes_acked)
            .is_some_and(|b| b >= N as u64)
    });
    thread::sleep(Duration::from_millis(20));

    let rates = sampler.sample(&filter).unwrap();
    let tx = rates
        .iter()
        .find(|r| r.conn.local == c_addr)
        .expect("client");
    let rx = rates
        .iter()
        .find(|r| r.conn.local == s_addr)
        .expect("server");
    assert!(tx.tx_bps > 0.0, "{tx:?}");
    assert!(rx.rx_bps > 0.0, "{rx:?}");
    assert_eq!(tx.rx_bps, 0.0);
    // The rate is bytes over the time between samples, so at most the bytes
    // moved divided by the sleep above.
    assert!(tx.tx_bps <= N as f64 / 0.02 + 1.0);
}
