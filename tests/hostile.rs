//! Hostile peers against the embedded target: each gets a bounded
//! answer as the NVMe/TCP spec and SPDK give it, the process's memory stays
//! bounded, and a bystander connection on the other listener keeps doing
//! I/O throughout.
//!
//! * thousands of connections, idle, half a PDU, ICReq only, or a whole
//!   admin Connect; afterwards the target holds no more connections (the
//!   kernel's sockets on its port) and no more qpairs than before;
//! * an ICReq and a Connect trickled one byte at a time;
//! * a host that submits Reads and never reads its socket, within its queue
//!   depth (large Reads) and far beyond it (a flood of small ones, also
//!   under a delay fault): the target stops reading and holds at most one
//!   write buffer of output (two under the delay);
//! * Connect with an SQSIZE of 0 or above the transport's depth;
//! * Connect with a RECFMT other than 0.
//!
//! An H2CData overrunning its R2T is covered by `tests/nvme_tcp.rs`
//! (`hostile_input_closes_only_that_connection`, "H2CData overrunning its
//! R2T": C2HTermReq with FES Data Transfer Out of Range, bystander alive),
//! not repeated here.
//!
//! The tests run one at a time (`SERIAL`): they measure this process's RSS
//! and the kernel's sockets, which tests running alongside would disturb.

mod common;
mod raw;

use std::io::{ErrorKind, Write};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{wait_for, wait_for_or};
use mpath_console::target::fault::ListenerFault;
use raw::target::{
    admin_queue, io_queue, kernel_sockets, rss_bytes, target_connections, Bystander, Howto, BS, NQN,
};
use raw::{Host, Sqe, HOSTNQN};
use serde_json::json;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const MIB: u64 = 1 << 20;
/// The target's write buffer high-water mark (`WBUF_HIGH` in
/// src/target/conn.rs): decoding pauses once this much output waits.
const WBUF_HIGH: u64 = 512 * 1024;

/// An ICReq (128 bytes), digests as asked.
fn icreq(hdgst: bool, ddgst: bool) -> Vec<u8> {
    let mut p = vec![0u8; 128];
    p[2] = 128;
    p[4..8].copy_from_slice(&128u32.to_le_bytes());
    p[11] = (hdgst as u8) | ((ddgst as u8) << 1);
    p
}

/// A fabrics Connect SQE (QID, SQSIZE, KATO) whose 1024-byte data goes
/// in-capsule.
fn connect_sqe(qid: u16, sqsize: u16, kato: u32) -> Sqe {
    Sqe::new(0x7F, 0)
        .u8_at(4, 0x01)
        .sgl(0x01, 1024)
        .u16_at(42, qid)
        .u16_at(44, sqsize)
        .u32_at(48, kato)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft
/// limit in force.
fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            let rc = libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            assert_eq!(
                rc,
                0,
                "setrlimit(RLIMIT_NOFILE, {}): {}",
                r.rlim_max,
                std::io::Error::last_os_error()
            );
        }
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
    }
    r.rlim_cur
}

// ---- 1. thousands of connections ---------------------------------------------

/// 2000 connections to one listener (each costs this process two fds, the
/// host's end and the target's: the soft RLIMIT_NOFILE is raised to the
/// hard limit, and the test fails if even that leaves too little room; it
/// never opens fewer). A quarter each stay
/// idle, send half an ICReq header, complete ICReq/ICResp, or go on to an
/// admin Connect. Every ICReq gets its ICResp and every Connect its
/// CNTLID, the target keeps serving the bystander and a new, well-behaved
/// host, and once they close, the target's connections (the kernel's
/// sockets on the listener's port), qpairs and controllers return to what
/// they were.
#[test]
fn thousands_of_connections_come_and_go() {
    let _serial = serial();
    let n: usize = 2000;
    let need = 2 * n as u64 + 512;
    let limit = raise_nofile();
    assert!(
        limit >= need,
        "RLIMIT_NOFILE: the hard limit {limit} is below the {need} descriptors {n} connections \
         need (two each, plus 512); raise it (ulimit -Hn {need}, or LimitNOFILE= for a service)"
    );
    eprintln!("opening {n} connections (RLIMIT_NOFILE {limit})");

    let t = Howto::start();
    let by = Bystander::start(&t);
    let port = t.p1.port();
    let (qpairs0, ctrls0) = (t.qpairs(), t.controllers());
    assert_eq!((qpairs0, ctrls0), (2, 1), "the bystander's");
    assert_eq!(target_connections(port), 0);
    let rss0 = rss_bytes();
    let started = Instant::now();

    let mut hosts = Vec::with_capacity(n);
    for i in 0..n {
        let mut h = Host::connect(t.p1);
        match i % 4 {
            0 => {}
            1 => h.send_raw(&icreq(false, false)[..8]),
            2 => h.send_raw(&icreq(false, false)),
            _ => {
                let mut b = icreq(false, false);
                b.extend(h.capsule_bytes(
                    &connect_sqe(0, 31, 0),
                    &raw::connect_data(0xFFFF, NQN, HOSTNQN),
                ));
                h.send_raw(&b);
            }
        }
        hosts.push(h);
    }
    let mut cntlids = std::collections::BTreeSet::new();
    for (i, h) in hosts.iter_mut().enumerate() {
        if i % 4 >= 2 {
            let r = h.recv().expect("ICResp");
            assert_eq!((r.ty, r.plen), (0x01, 128), "ICResp on connection {i}");
        }
        if i % 4 == 3 {
            let c = h.recv_cqe();
            assert!(c.ok(), "Connect on connection {i}: {c:?}");
            assert!(cntlids.insert(c.dw0 & 0xFFFF), "CNTLIDs unique");
        }
    }
    let opened = started.elapsed();
    wait_for_or(
        &format!("the target holds all {n}"),
        Duration::from_secs(20),
        || target_connections(port) == n,
        || format!("it holds {}", target_connections(port)),
    );
    let rss1 = rss_bytes();
    let connected = n / 4;
    assert_eq!(t.qpairs(), qpairs0 + connected);
    assert_eq!(t.controllers(), ctrls0 + connected);
    by.assert_progress(Duration::from_secs(5), "with thousands open");

    // A well-behaved host still gets served.
    let (mut a, cntlid) = admin_queue(t.p1, 0);
    let mut q = io_queue(t.p1, cntlid, 31);
    let data = raw::target::pattern(3, 4096);
    assert!(q.write_icd(1, 64, &data, BS).ok());
    assert_eq!(q.read(2, 64, 8, BS).1, data);
    assert!(a.cmd(&Sqe::new(0x18, 3), &[]).0.ok(), "keep alive");

    let grown = rss1.saturating_sub(rss0);
    eprintln!(
        "{n} connections ({connected} with a controller) opened and answered in {opened:?}; \
         RSS {} -> {} MiB (+{} KiB per connection)",
        rss0 / MIB,
        rss1 / MIB,
        grown / 1024 / n as u64
    );
    // What a connection costs the target is its task and its two buffers'
    // touched pages: well under 64 KiB on average.
    assert!(
        grown <= 64 * 1024 * n as u64,
        "RSS grew {} MiB for {n} connections",
        grown / MIB
    );

    drop((hosts, a, q));
    wait_for_or(
        "the target closes every connection",
        Duration::from_secs(20),
        || target_connections(port) == 0,
        || format!("{} left", target_connections(port)),
    );
    wait_for_or(
        "qpairs and controllers back to the bystander's",
        Duration::from_secs(5),
        || t.qpairs() == qpairs0 && t.controllers() == ctrls0,
        || format!("qpairs {} controllers {}", t.qpairs(), t.controllers()),
    );
    by.assert_progress(Duration::from_secs(5), "after they closed");
    eprintln!("closed: RSS {} MiB", rss_bytes() / MIB);
    assert!(by.finish() > 0);
}

// ---- 2. one byte at a time ---------------------------------------------------

/// Writes `b` one byte per send (Nagle off, so one segment each), sleeping
/// `pause` after every `every` bytes.
fn trickle(h: &mut Host, b: &[u8], every: usize, pause: Duration) {
    for (i, byte) in b.iter().enumerate() {
        h.sock.write_all(std::slice::from_ref(byte)).expect("send");
        if (i + 1) % every == 0 {
            thread::sleep(pause);
        }
    }
}

/// Sends all of `pdu` but its last byte a byte at a time, checks that
/// nothing is answered early, then the last byte.
fn trickle_pdu(h: &mut Host, pdu: &[u8], every: usize, pause: Duration) {
    let (head, last) = pdu.split_at(pdu.len() - 1);
    trickle(h, head, every, pause);
    assert!(
        h.recv_within(Duration::from_millis(100)).is_none(),
        "answered before the PDU was whole"
    );
    trickle(h, last, 1, Duration::ZERO);
}

/// An ICReq and then a Connect sent one byte at a time with 1 ms between
/// bytes: the answers are the ones a host sending whole PDUs gets. Then an
/// I/O queue with both digests, whose ICReq, Connect and a Write trickle
/// in the same way (no sleeps but every 16 bytes), reads back right.
#[test]
fn byte_at_a_time_icreq_and_connect() {
    let _serial = serial();
    let t = Howto::start();
    let by = Bystander::start(&t);
    let rss0 = rss_bytes();

    let mut h = Host::connect(t.p1);
    let ms = Duration::from_millis(1);
    trickle_pdu(&mut h, &icreq(false, false), 1, ms);
    let r = h.recv().expect("ICResp");
    assert_eq!((r.ty, r.plen, r.bytes[11]), (0x01, 128, 0), "ICResp");
    let connect = h.capsule_bytes(
        &connect_sqe(0, 31, 0),
        &raw::connect_data(0xFFFF, NQN, HOSTNQN),
    );
    assert_eq!(connect.len(), 72 + 1024);
    trickle_pdu(&mut h, &connect, 1, ms);
    let c = h.recv_cqe();
    assert!(c.ok(), "Connect: {c:?}");
    let cntlid = (c.dw0 & 0xFFFF) as u16;
    by.assert_progress(Duration::from_secs(5), "while trickling");
    assert!(h.prop_set(0x14, 0x0046_0001).ok(), "CC.EN=1");
    assert_eq!(h.prop_get(0x1C, false) & 1, 1, "CSTS.RDY");
    let (c, id) = h.identify(1, 0);
    assert!(c.ok());
    assert_eq!(u16::from_le_bytes([id[78], id[79]]), cntlid, "CNTLID");

    // An I/O queue with header and data digests, trickled the same way.
    let mut q = Host::connect(t.p1);
    trickle_pdu(&mut q, &icreq(true, true), 16, ms);
    let r = q.recv().expect("ICResp");
    assert_eq!((r.ty, r.bytes[11]), (0x01, 3), "both digests granted");
    (q.hdgst, q.ddgst) = (true, true);
    let connect = q.capsule_bytes(
        &connect_sqe(1, 31, 0),
        &raw::connect_data(cntlid, NQN, HOSTNQN),
    );
    trickle_pdu(&mut q, &connect, 16, ms);
    assert!(q.recv_cqe().ok(), "I/O Connect");
    let data = raw::target::pattern(5, 512);
    let write = q.capsule_bytes(&Sqe::new(0x01, 9).nsid(1).cdw(10, 77).sgl(0x01, 512), &data);
    trickle_pdu(&mut q, &write, 16, ms);
    assert!(q.recv_cqe().ok(), "Write");
    let (c, back) = q.read(10, 77, 1, BS);
    assert!(c.ok());
    assert_eq!(back, data);

    by.assert_progress(Duration::from_secs(5), "after trickling");
    let grown = rss_bytes().saturating_sub(rss0);
    eprintln!("byte at a time: RSS +{} KiB", grown / 1024);
    assert!(grown < 32 * MIB, "RSS grew {} MiB", grown / MIB);
    assert!(by.finish() > 0);
}

// ---- 3. a host that never reads -----------------------------------------------

/// What the kernel holds of a connection between the host's `host_port`
/// and the target's `target_port`: (bytes the target sent that the host
/// has not read, counting those not yet acknowledged; bytes the host sent
/// that the target has not read).
fn in_kernel(host_port: u16, target_port: u16) -> (u64, u64) {
    let socks = kernel_sockets();
    let one = |local: u16, remote: u16| {
        *socks
            .iter()
            .find(|s| s.local_port == local && s.remote_port == remote)
            .expect("the connection's socket")
    };
    let host = one(host_port, target_port);
    let target = one(target_port, host_port);
    (host.rx_queue + target.tx_queue, target.rx_queue)
}

/// Reads the answers to `cids` (Reads of `len` bytes each, no C2H success
/// optimisation): C2HData then a successful CapsuleResp for each, in order.
fn drain_reads(h: &mut Host, cids: impl Iterator<Item = u16>, len: usize) -> usize {
    h.sock.set_nonblocking(false).unwrap();
    h.sock
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut n = 0;
    for cid in cids {
        let d = h.recv().expect("C2HData");
        assert_eq!((d.ty, d.u16_at(8)), (0x07, cid), "C2HData for {cid}");
        assert_eq!(d.data().len(), len);
        let c = h.recv_cqe();
        assert!(c.ok() && c.cid == cid, "CapsuleResp for {cid}: {c:?}");
        n += 1;
    }
    n
}

/// Bytes a Read of `len` makes the target send: C2HData (24-byte header,
/// no digests) and CapsuleResp (24 bytes).
fn read_answer_bytes(len: u64) -> u64 {
    24 + len + 24
}

/// I/O commands the target handled for others than the bystander, read
/// while the bystander has nothing in flight.
fn others_io(t: &Howto, by: &Bystander) -> u64 {
    by.quiesced(|| t.completed_io() - by.ios())
}

/// The stage of the hosts that stop reading, one test at a time: the
/// target, the bystander on its second path, and on the first an admin
/// queue and an I/O queue of depth 128 with the host's local port. Bound
/// in this order, they drop in the reverse one.
fn stalling_host() -> (
    std::sync::MutexGuard<'static, ()>,
    Howto,
    Bystander,
    Host,
    Host,
    u16,
) {
    let serial = serial();
    let t = Howto::start();
    let by = Bystander::start(&t);
    let (a, cntlid) = admin_queue(t.p1, 0);
    let q = io_queue(t.p1, cntlid, 127);
    let host_port = q.sock.local_addr().unwrap().port();
    (serial, t, by, a, q, host_port)
}

/// A host that respects its queue depth but never reads: 128 Reads of
/// 128 KiB each (16 MiB of answers). The target writes what the sockets
/// take and holds no more than one write buffer (`WBUF_HIGH` plus one
/// answer) beyond that; when the host reads at last, every answer comes.
#[test]
fn stalled_reader_within_queue_depth() {
    let (_serial, t, by, _a, mut q, host_port) = stalling_host();
    let len: u64 = 128 * 1024;
    let rss0 = rss_bytes();
    let io0 = others_io(&t, &by);
    let mut batch = Vec::new();
    for cid in 0..128u16 {
        let sqe = Sqe::new(0x02, cid)
            .nsid(1)
            .cdw(10, cid as u32 * 256)
            .cdw(12, 255)
            .sgl(0x5A, len as u32);
        batch.extend(q.capsule_bytes(&sqe, &[]));
    }
    q.send_raw(&batch);
    // The target works until the sockets are full, then waits.
    let mut last = (0, 0);
    wait_for(
        "the target to stop reading",
        Duration::from_secs(10),
        || {
            thread::sleep(Duration::from_millis(200));
            let now = in_kernel(host_port, t.p1.port());
            std::mem::replace(&mut last, now) == now
        },
    );
    by.assert_progress(Duration::from_secs(5), "while the host is stalled");
    let (handled, (kernel, unread_cmds)) = by.quiesced(|| {
        (
            t.completed_io() - by.ios() - io0,
            in_kernel(host_port, t.p1.port()),
        )
    });
    let per = read_answer_bytes(len);
    let held = (handled * per).saturating_sub(kernel);
    let grown = rss_bytes().saturating_sub(rss0);
    eprintln!(
        "stalled reader: {handled} of 128 Reads handled, {} KiB of answers in the kernel's \
         buffers, {} KiB held by the target; {unread_cmds} command bytes unread; RSS +{} KiB",
        kernel / 1024,
        held / 1024,
        grown / 1024
    );
    assert!(
        held <= WBUF_HIGH + per,
        "the target holds {held} bytes of output"
    );
    assert!(grown < 32 * MIB, "RSS grew {} MiB", grown / MIB);
    // Reading at last: all 128, in order.
    assert_eq!(drain_reads(&mut q, 0..128, len as usize), 128);
    by.assert_progress(Duration::from_secs(5), "after the host read");
    assert!(by.finish() > 0);
}

/// A host that floods 4 KiB Reads far beyond its queue depth and never
/// reads. The target stops reading its socket once its write buffer is
/// full and the kernel's buffers with it (the host's sends then block,
/// and the target's receive queue holds unread commands), so neither the
/// answers nor the commands pile up in the process: it holds at most
/// `WBUF_HIGH` plus one answer of output, whatever the host sent.
#[test]
fn flooding_reader_that_never_reads_is_throttled() {
    flood_without_reading(None);
}

/// The same flood on a listener with a 5 s delay fault (`mpath_listener_*`):
/// output held back for the delay counts against the same limit, so the
/// target holds at most twice `WBUF_HIGH` plus one answer, and stops
/// reading meanwhile, instead of holding 5 s worth of answers.
#[test]
fn flooding_reader_under_a_delay_fault_is_throttled() {
    flood_without_reading(Some(5000));
}

fn flood_without_reading(delay_ms: Option<u32>) {
    let (_serial, t, by, _a, mut q, host_port) = stalling_host();
    let len: u64 = 4096;
    if let Some(delay_ms) = delay_ms {
        t.target.faults.set(t.p1, ListenerFault::Delay { delay_ms });
    }
    let bound = match delay_ms {
        None => WBUF_HIGH,
        Some(_) => 2 * WBUF_HIGH,
    } + read_answer_bytes(len);
    let rss0 = rss_bytes();
    let io0 = others_io(&t, &by);
    let started = Instant::now();

    // 64 Reads per batch, CIDs counting up (mod 2^16).
    let batch = |first: u64| {
        let mut b = Vec::new();
        for i in first..first + 64 {
            let sqe = Sqe::new(0x02, i as u16)
                .nsid(1)
                .cdw(10, (i % 16384) as u32 * 8)
                .cdw(12, 7)
                .sgl(0x5A, len as u32);
            b.extend(q.capsule_bytes(&sqe, &[]));
        }
        b
    };
    // Sends until no byte has gone for a second; a target that kept
    // reading would let all of `LIMIT` through.
    const LIMIT: u64 = 100_000;
    // Written through a second handle: `batch` borrows `q`.
    let mut w = q.sock.try_clone().unwrap();
    w.set_nonblocking(true).unwrap();
    let (mut sent, mut cur, mut off) = (0u64, batch(0), 0usize);
    let mut last_progress = Instant::now();
    while last_progress.elapsed() < Duration::from_secs(1) {
        assert!(
            sent < LIMIT * 72,
            "the target took {LIMIT} Reads without the host reading"
        );
        match w.write(&cur[off..]) {
            Ok(k) => {
                off += k;
                sent += k as u64;
                last_progress = Instant::now();
                if off == cur.len() {
                    cur = batch(sent / 72);
                    off = 0;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("send: {e}"),
        }
    }
    let cmds = sent / 72;
    by.assert_progress(Duration::from_secs(5), "while flooded");
    let (handled, (kernel, unread)) = by.quiesced(|| {
        (
            t.completed_io() - by.ios() - io0,
            in_kernel(host_port, t.p1.port()),
        )
    });
    let measured_at = started.elapsed();
    let per = read_answer_bytes(len);
    let held = (handled * per).saturating_sub(kernel);
    let grown = rss_bytes().saturating_sub(rss0);
    eprintln!(
        "flood (delay {delay_ms:?} ms, measured at {measured_at:?}): {cmds} Reads sent \
         ({} KiB), {handled} handled; {} KiB of answers in the kernel's buffers, {} KiB \
         held by the target (bound {} KiB); {} KiB of commands unread in the target's \
         receive queue; RSS +{} KiB",
        sent / 1024,
        kernel / 1024,
        held / 1024,
        bound / 1024,
        unread / 1024,
        grown / 1024
    );
    assert!(unread > 0, "the target stopped reading its socket");
    assert!(handled < cmds, "the target did not take every command");
    assert!(held <= bound, "the target holds {held} bytes of output");
    assert!(grown < 32 * MIB, "RSS grew {} MiB", grown / MIB);
    if delay_ms.is_none() {
        // Still stopped a second later, the bystander going on meanwhile.
        // (Under the delay the held answers fall due and go meanwhile.)
        thread::sleep(Duration::from_secs(1));
        by.assert_progress(Duration::from_secs(5), "still flooded");
        assert_eq!(others_io(&t, &by) - io0, handled, "no progress unread");
    }

    // Reading at last (the fault lifted): every whole command sent is
    // answered, in order; then the torn one, once its rest is sent.
    t.target.faults.set(t.p1, ListenerFault::None);
    assert_eq!(
        drain_reads(&mut q, (0..cmds).map(|i| i as u16), len as usize) as u64,
        cmds
    );
    if off % 72 != 0 {
        let rest = 72 - off % 72;
        w.write_all(&cur[off..off + rest]).unwrap();
        assert_eq!(
            drain_reads(&mut q, [cmds as u16].into_iter(), len as usize),
            1
        );
    }
    by.assert_progress(Duration::from_secs(5), "after the host read");
    assert!(by.finish() > 0);
}

// ---- 5. Connect with a queue size out of range --------------------------------

/// Connect Invalid Parameters naming SQSIZE (SPDK `_nvmf_ctrlr_connect`:
/// `SPDK_NVMF_INVALID_CONNECT_CMD(rsp, sqsize)`): SCT 1, SC 0x82, DNR
/// clear, IATTR 0 (the SQE), IPO 44 (SQSIZE's offset in the SQE).
fn assert_bad_sqsize(c: raw::Cqe, what: &str) {
    assert_eq!(
        (c.sct(), c.sc(), c.dnr(), c.dw0),
        (1, 0x82, false, 44),
        "{what}: {c:?}"
    );
}

fn connect_on(addr: std::net::SocketAddr, qid: u16, sqsize: u16, cntlid: u16) -> (Host, raw::Cqe) {
    let mut h = Host::connect(addr);
    h.ic(false, false);
    let c = h.fabrics_connect(qid, sqsize, 0, cntlid, NQN);
    (h, c)
}

/// SQSIZE is 0's based: 0 (a queue of one entry) is invalid, and it must
/// stay below MaxQueueDepth for I/O queues and below the admin queue depth
/// for the admin queue (SPDK lib/nvmf/ctrlr.c `_nvmf_ctrlr_connect`).
/// Checked with SPDK's defaults (128/128) and with a transport made with
/// `max_queue_depth` 32 and `max_aq_depth` 16. A refused Connect leaves
/// the connection open and registers nothing; a valid Connect on the same
/// connection then succeeds.
#[test]
fn connect_with_queue_size_out_of_range() {
    let _serial = serial();
    for (mqd, maqd) in [(128u16, 128u16), (32, 16)] {
        let t = if mqd == 128 {
            Howto::start()
        } else {
            Howto::start_with(json!({"max_queue_depth": mqd, "max_aq_depth": maqd}))
        };
        let by = Bystander::start(&t);
        let (q0, c0) = (t.qpairs(), t.controllers());

        // Admin queue.
        for bad in [0, maqd, maqd + 1, u16::MAX] {
            let (_h, c) = connect_on(t.p1, 0, bad, 0xFFFF);
            assert_bad_sqsize(c, &format!("admin SQSIZE {bad} (max_aq_depth {maqd})"));
        }
        assert_eq!((t.qpairs(), t.controllers()), (q0, c0), "nothing made");
        let (mut h, c) = connect_on(t.p1, 0, 0, 0xFFFF);
        assert_bad_sqsize(c, "admin SQSIZE 0");
        let c = h.fabrics_connect(0, maqd - 1, 0, 0xFFFF, NQN);
        assert!(c.ok(), "admin SQSIZE {} after a refusal: {c:?}", maqd - 1);
        let cntlid = (c.dw0 & 0xFFFF) as u16;
        assert!(h.prop_set(0x14, 0x0046_0001).ok(), "CC.EN=1");
        let cap = h.prop_get(0x00, true);
        assert_eq!(cap & 0xFFFF, mqd as u64 - 1, "CAP.MQES");

        // I/O queue.
        for bad in [0, mqd, mqd + 1, u16::MAX] {
            let (_h, c) = connect_on(t.p1, 1, bad, cntlid);
            assert_bad_sqsize(c, &format!("I/O SQSIZE {bad} (max_queue_depth {mqd})"));
        }
        let (mut q, c) = connect_on(t.p1, 1, 0, cntlid);
        assert_bad_sqsize(c, "I/O SQSIZE 0");
        let c = q.fabrics_connect(1, mqd - 1, 0, cntlid, NQN);
        assert!(c.ok(), "I/O SQSIZE {} after a refusal: {c:?}", mqd - 1);
        assert!(q.read(1, 0, 8, BS).0.ok());
        assert_eq!(t.qpairs(), q0 + 2);

        by.assert_progress(Duration::from_secs(5), "after the refusals");
        assert!(by.finish() > 0);
    }
}

/// RECFMT other than 0: Connect Incompatible Format (SCT 1, SC 0x80), but
/// only once the subsystem is known and the host allowed, and before
/// SQSIZE is looked at — SPDK's order (`spdk_nvmf_ctrlr_connect`, then
/// `_nvmf_ctrlr_connect`): to an unknown subsystem the answer names SUBNQN.
#[test]
fn connect_with_unsupported_recfmt() {
    let _serial = serial();
    let t = Howto::start();
    let (q0, c0) = (t.qpairs(), t.controllers());
    let connect = |recfmt: u16, sqsize: u16, subnqn: &str| {
        let mut h = Host::connect(t.p1);
        h.ic(false, false);
        let sqe = connect_sqe(0, sqsize, 0).u16_at(40, recfmt);
        h.cmd(&sqe, &raw::connect_data(0xFFFF, subnqn, HOSTNQN)).0
    };
    for (recfmt, sqsize) in [(1, 31), (0xFFFF, 31), (1, 0)] {
        let c = connect(recfmt, sqsize, NQN);
        assert_eq!(
            (c.sct(), c.sc(), c.dnr()),
            (1, 0x80, false),
            "RECFMT {recfmt:#x} SQSIZE {sqsize}: {c:?}"
        );
    }
    let c = connect(1, 31, "nqn.2016-06.io.spdk:nosuch");
    assert_eq!(
        (c.sct(), c.sc(), c.dw0),
        (1, 0x82, 256 | (1 << 16)),
        "RECFMT 1 to an unknown subsystem: {c:?}"
    );
    assert_eq!((t.qpairs(), t.controllers()), (q0, c0), "nothing made");
    let c = connect(0, 31, NQN);
    assert!(c.ok(), "RECFMT 0: {c:?}");
}
