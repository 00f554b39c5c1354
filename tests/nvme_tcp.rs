//! The embedded target over real loopback TCP, driven by a raw NVMe/TCP host
//! written from the spec (tests/raw): the HOWTO's two listeners, admin
//! bring-up, Identify, the ANA log page, I/O queues, in-capsule and R2T
//! writes read back, the ANA change AEN, path errors, and hostile input.

mod common;
mod raw;

use std::thread;
use std::time::Duration;

use raw::target::{expect_term, listen, pattern, Bystander, Howto, BS, NQN};
use raw::{Host, Sqe};
use serde_json::json;

/// ANA log page (LID 0Ch): the state byte of the first group descriptor.
fn ana_state_in_log(log: &[u8]) -> (u16, u32, u8, u32) {
    let ngrps = u16::from_le_bytes([log[8], log[9]]);
    let grp = u32::from_le_bytes(log[16..20].try_into().unwrap());
    let state = log[32] & 0xF;
    let nsid = u32::from_le_bytes(log[48..52].try_into().unwrap());
    (ngrps, grp, state, nsid)
}

#[test]
fn howto_paths_io_aen_and_path_error() {
    for digests in [false, true] {
        howto_scenario(digests);
    }
}

fn howto_scenario(digests: bool) {
    let t = Howto::start();
    let (mut a1, c1) = Host::admin_bringup(t.p1, NQN, digests);
    let (mut a2, c2) = Host::admin_bringup(t.p2, NQN, digests);
    assert_ne!(c1, c2, "CNTLIDs are unique across the subsystem's paths");

    // Identify Controller: the fields multipath hosts check.
    let (c, id) = a1.identify(1, 0);
    assert!(c.ok());
    assert_eq!(&id[4..24], b"SPDK00000000000001  ", "SN");
    assert_eq!(u16::from_le_bytes([id[78], id[79]]), c1, "CNTLID");
    assert_eq!(id[76] & 0x0B, 0x0B, "CMIC: multi-port, multi-ctrl, ANA");
    assert_ne!(u16::from_le_bytes([id[320], id[321]]), 0, "KAS");
    assert_eq!(&id[768..768 + NQN.len()], NQN.as_bytes(), "SUBNQN");
    assert_eq!(
        u32::from_le_bytes(id[1792..1796].try_into().unwrap()),
        260,
        "IOCCSZ"
    );

    // Active namespace list and the namespace, identical through both paths.
    let (_, list) = a1.identify(2, 0);
    assert_eq!(u32::from_le_bytes(list[0..4].try_into().unwrap()), 1);
    assert_eq!(u32::from_le_bytes(list[4..8].try_into().unwrap()), 0);
    let (_, ns1) = a1.identify(0, 1);
    let (_, ns2) = a2.identify(0, 1);
    assert_eq!(
        u64::from_le_bytes(ns1[0..8].try_into().unwrap()),
        131072,
        "NSZE"
    );
    assert_eq!(&ns1[104..120], &ns2[104..120], "NGUID same on both paths");
    assert_ne!(&ns1[104..120], &[0u8; 16], "NGUID set");
    assert_eq!(
        u32::from_le_bytes(ns1[92..96].try_into().unwrap()),
        1,
        "ANAGRPID"
    );

    // ANA log: one group (1), optimized, NSID 1.
    let (c, log) = a1.get_log(0x0C, 1044, false);
    assert!(c.ok());
    assert_eq!(ana_state_in_log(&log), (1, 1, 1, 1));

    // Post an AER on both admin queues.
    a1.send_cmd(&Sqe::new(0x0C, 40), &[]);
    a2.send_cmd(&Sqe::new(0x0C, 40), &[]);

    // I/O through path 1: in-capsule write, R2T write in 3 H2CData, reads.
    let mut q1 = Host::io_queue(t.p1, NQN, c1, digests);
    let w1 = pattern(1, 4096);
    assert!(q1.write_icd(10, 100, &w1, BS).ok());
    let w2 = pattern(2, 32 * 1024);
    assert!(q1.write_r2t(11, 200, &w2, BS, 12_000).ok());
    let (c, r1) = q1.read(12, 100, 8, BS);
    assert!(c.ok());
    assert_eq!(r1, w1);
    let (c, r2) = q1.read(13, 200, 64, BS);
    assert!(c.ok());
    assert_eq!(r2, w2);
    // Out of range: LBA Out of Range with DNR.
    let (c, _) = q1.read(14, 131070, 4, BS);
    assert_eq!((c.sct(), c.sc(), c.dnr()), (0, 0x80, true));

    // Path 2 reads what path 1 wrote: one namespace behind both.
    let mut q2 = Host::io_queue(t.p2, NQN, c2, digests);
    let (c, r) = q2.read(1, 200, 64, BS);
    assert!(c.ok());
    assert_eq!(r, w2);

    // ANA change on listener 1: AEN only on controller 1, DW0 = 0x000C0302.
    t.set_ana(t.p1, "non_optimized");
    let aen = a1.recv_cqe();
    assert_eq!((aen.cid, aen.dw0), (40, 0x000C_0302));
    assert!(
        a2.recv_within(Duration::from_millis(300)).is_none(),
        "no AEN on path 2"
    );
    let (_, log) = a1.get_log(0x0C, 1044, false);
    assert_eq!(ana_state_in_log(&log).2, 2, "non_optimized in the log");
    // Non-optimized still serves I/O.
    assert!(q1.read(15, 100, 8, BS).0.ok());

    // Inaccessible: path error SCT 3 / SC 2, DNR clear; path 2 unaffected.
    a1.send_cmd(&Sqe::new(0x0C, 41), &[]);
    t.set_ana(t.p1, "inaccessible");
    let aen = a1.recv_cqe();
    assert_eq!((aen.cid, aen.dw0), (41, 0x000C_0302));
    let (c, _) = q1.read(16, 100, 8, BS);
    assert_eq!((c.sct(), c.sc(), c.dnr()), (3, 0x02, false), "{c:?}");
    assert_eq!(c.status & 0xFFFE, 0x0604);
    let c = q1.write_icd(17, 100, &w1, BS);
    assert_eq!((c.sct(), c.sc(), c.dnr()), (3, 0x02, false));
    assert!(q2.read(2, 100, 8, BS).0.ok());

    // Until the host reads the log with RAE=0, further ANA changes raise no
    // AEN (SPDK masks the event); RAE=1 reads leave it masked.
    a1.send_cmd(&Sqe::new(0x0C, 42), &[]);
    let (_, log) = a1.get_log(0x0C, 1044, true);
    assert_eq!(ana_state_in_log(&log).2, 3);
    t.set_ana(t.p1, "optimized");
    assert!(
        a1.recv_within(Duration::from_millis(300)).is_none(),
        "masked until RAE=0 read"
    );
    let (_, log) = a1.get_log(0x0C, 1044, false);
    assert_eq!(ana_state_in_log(&log).2, 1);
    assert!(q1.read(18, 100, 8, BS).0.ok());
    // Unmasked again: the next change is announced on the held AER.
    t.set_ana(t.p1, "non_optimized");
    let aen = a1.recv_cqe();
    assert_eq!((aen.cid, aen.dw0), (42, 0x000C_0302));

    // Keep Alive is answered.
    assert!(a1.cmd(&Sqe::new(0x18, 7), &[]).0.ok());
    // Shutdown: CC.SHN=01 → CSTS.SHST=10b.
    assert!(a2.prop_set(0x14, 0x0046_4001).ok());
    assert_eq!(a2.prop_get(0x1C, false) & 0xC, 0x8);
}

#[test]
fn removing_a_listener_disconnects_its_queues_only() {
    let t = Howto::start();
    let (_a1, c1) = Host::admin_bringup(t.p1, NQN, false);
    let (_a2, c2) = Host::admin_bringup(t.p2, NQN, false);
    let mut q1 = Host::io_queue(t.p1, NQN, c1, false);
    let mut q2 = Host::io_queue(t.p2, NQN, c2, false);
    t.call(
        "nvmf_subsystem_remove_listener",
        json!({"nqn": NQN, "listen_address": listen(t.p1)}),
    );
    assert!(q1.drain_until_close().is_empty(), "path 1 closed");
    assert!(q2.read(1, 0, 1, BS).0.ok(), "path 2 still works");
    // Back again: a new connection works.
    t.call(
        "nvmf_subsystem_add_listener",
        json!({"nqn": NQN, "listen_address": listen(t.p1)}),
    );
    let (_a1, c1) = Host::admin_bringup(t.p1, NQN, false);
    let mut q1 = Host::io_queue(t.p1, NQN, c1, false);
    assert!(q1.read(1, 0, 1, BS).0.ok());
}

#[test]
fn hostile_input_closes_only_that_connection() {
    let t = Howto::start();
    let by = Bystander::start(&t);

    // Garbage bytes first: not an ICReq → PDU sequence error (as SPDK).
    let mut h = Host::connect(t.p1);
    h.send_raw(&[0xEE; 64]);
    assert!(expect_term(&mut h, 0x02).is_some());

    // Garbage after the ICReq: unknown PDU type → invalid header field,
    // FEI 0 (the PDU-Type byte).
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    h.send_raw(&[0xEE; 64]);
    assert_eq!(expect_term(&mut h, 0x01), Some(0));

    // ICReq announcing a PLEN of 4 GiB: refused from the header alone.
    let mut h = Host::connect(t.p1);
    let mut p = vec![0u8; 8];
    p[0] = 0x00;
    p[2] = 128;
    p[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    h.send_raw(&p);
    assert_eq!(expect_term(&mut h, 0x01), Some(4), "FEI = offset of PLEN");

    // A CapsuleCmd after ICReq claiming a 4 GiB PLEN: more in-capsule data
    // than allowed, Data Transfer Limit Exceeded (as SPDK), refused from
    // the common header alone.
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    let mut b = h.capsule_bytes(&Sqe::new(0x01, 1).sgl(0x01, 4096), &[0u8; 4096]);
    b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    h.send_raw(&b[..8]);
    assert!(expect_term(&mut h, 0x05).is_some());

    // A CapsuleCmd before ICReq: PDU sequence error.
    let mut h = Host::connect(t.p1);
    let b = h.capsule_bytes(&Sqe::new(0x18, 1), &[]);
    h.send_raw(&b);
    assert!(expect_term(&mut h, 0x02).is_some());

    // A header digest that does not match.
    let mut h = Host::connect(t.p1);
    h.ic(true, true);
    let mut b = h.capsule_bytes(&Sqe::new(0x18, 1), &[]);
    b[72] ^= 0xFF;
    h.send_raw(&b);
    assert!(expect_term(&mut h, 0x03).is_some());

    // I/O-queue Connect naming an unknown CNTLID: Connect Invalid
    // Parameters, IATTR=1 (in the data), IPO=16.
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    let c = h.fabrics_connect(1, 127, 0, 0x1234, NQN);
    assert_eq!((c.sct(), c.sc()), (1, 0x82));
    assert_eq!(c.dw0, 16 | 1 << 16);

    // Unknown subsystem NQN: IPO=256 (SUBNQN).
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    let c = h.fabrics_connect(0, 31, 0, 0xFFFF, "nqn.2016-06.io.spdk:nosuch");
    assert_eq!((c.sct(), c.sc(), c.dw0), (1, 0x82, 256 | 1 << 16));

    // A host not on the allow-list: Connect Invalid Host.
    t.call(
        "nvmf_subsystem_allow_any_host",
        json!({"nqn": NQN, "allow_any_host": false}),
    );
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    let c = h.fabrics_connect(0, 31, 0, 0xFFFF, NQN);
    assert_eq!((c.sct(), c.sc()), (1, 0x84));
    // Allowed once listed.
    t.call(
        "nvmf_subsystem_add_host",
        json!({"nqn": NQN, "host": raw::HOSTNQN}),
    );
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    assert!(h.fabrics_connect(0, 31, 0, 0xFFFF, NQN).ok());

    // Admin command before CC.EN: command sequence error.
    let c = h.cmd(&Sqe::new(0x18, 3), &[]).0;
    assert_eq!((c.sct(), c.sc()), (0, 0x0C));

    // H2CData for a TTAG the target never issued.
    let (_a, cntlid) = {
        t.call(
            "nvmf_subsystem_allow_any_host",
            json!({"nqn": NQN, "allow_any_host": true}),
        );
        Host::admin_bringup(t.p1, NQN, false)
    };
    let mut q = Host::io_queue(t.p1, NQN, cntlid, false);
    q.send_h2c(1, 77, 0, &[0u8; 512], true);
    assert_eq!(expect_term(&mut q, 0x01), Some(10), "FEI = offset of TTAG");

    // H2CData overrunning its R2T.
    let mut q = Host::io_queue(t.p1, NQN, cntlid, false);
    let sqe = Sqe::new(0x01, 5).nsid(1).cdw(12, 7).sgl(0x5A, 4096);
    q.send_cmd(&sqe, &[]);
    let r2t = q.recv().unwrap();
    assert_eq!(r2t.ty, 0x09);
    q.send_h2c(5, r2t.u16_at(10), 0, &[0u8; 8192], true);
    assert!(expect_term(&mut q, 0x04).is_some());

    let n = by.finish();
    assert!(n > 0, "the bystander kept doing I/O");
}

/// The discovery subsystem answers on any listener, and its log page (70h)
/// lists every (subsystem, listener) pair, honouring offset and length.
#[test]
fn discovery_log_lists_every_listener() {
    let t = Howto::start();
    let (mut h, _) = Host::admin_bringup(t.p1, "nqn.2014-08.org.nvmexpress.discovery", false);
    let (c, id) = h.identify(1, 0);
    assert!(c.ok());
    assert_eq!(id[111], 2, "CNTRLTYPE: discovery controller");
    // The header first (libnvme reads 20 bytes), then the entries at 1024.
    let (c, hdr) = h.get_log(0x70, 20, true);
    assert!(c.ok());
    let numrec = u64::from_le_bytes(hdr[8..16].try_into().unwrap());
    assert_eq!(numrec, 2, "one entry per listener");
    let sqe = Sqe::new(0x02, 6)
        .cdw(10, 0x70 | ((2 * 1024 / 4 - 1) << 16))
        .cdw(12, 1024)
        .sgl(0x5A, 2048);
    let (c, entries) = h.cmd(&sqe, &[]);
    assert!(c.ok(), "{c:?}");
    let mut seen: Vec<String> = entries
        .chunks(1024)
        .map(|e| {
            assert_eq!(e[0], 3, "TRTYPE TCP");
            assert_eq!(e[2], 2, "SUBTYPE NVMe subsystem");
            let s = |r: std::ops::Range<usize>| {
                String::from_utf8_lossy(&e[r])
                    .trim_end_matches(['\0', ' '])
                    .to_string()
            };
            assert_eq!(s(256..512), NQN);
            format!("{}:{}", s(512..768), s(32..64))
        })
        .collect();
    seen.sort();
    let mut want = vec![t.p1.to_string(), t.p2.to_string()];
    want.sort();
    assert_eq!(seen, want);
}

/// No Keep Alive within KATO: the target tears the controller down and
/// closes its connections.
#[test]
fn keep_alive_timeout_closes_the_controller() {
    let t = Howto::start();
    let mut h = Host::connect(t.p1);
    h.ic(false, false);
    let c = h.fabrics_connect(0, 31, 1000, 0xFFFF, NQN);
    assert!(c.ok());
    assert!(h.prop_set(0x14, 0x0046_0001).ok());
    let started = std::time::Instant::now();
    h.sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(h.drain_until_close().is_empty(), "closed without a word");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "not before KATO: {took:?}"
    );
    // The connection task tears the controller down right after closing
    // the socket: allow it a moment.
    let gone = (0..100).any(|_| {
        thread::sleep(Duration::from_millis(20));
        t.call("nvmf_subsystem_get_controllers", json!({"nqn": NQN})) == json!([])
    });
    assert!(gone, "controller still listed after its connection closed");
}
