//! The target as any specification-following host sees it: I/O queues of
//! hosts that vary their Host Identifier, commands whose SGL describes no
//! data, the NVM command set SPDK offers for a malloc namespace (Compare,
//! Dataset Management, Copy, Write Zeroes, fused Compare and Write) and NVMe
//! reservations with their notices and persistence. Everything goes over
//! raw PDUs (`tests/raw`, written from the specifications), so no part of
//! our initiator can hide a target bug. Expected values are SPDK v24.09's;
//! each test names the specification section and the SPDK function it
//! follows.

mod common;
mod raw;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use raw::target::{Howto, BS, NQN};
use raw::{Cqe, Host, Sqe, HOSTNQN};
use serde_json::json;

const FUSE_FIRST: u8 = 0x01;
const FUSE_SECOND: u8 = 0x02;

/// A Host Identifier per test host: `[n; 16]`.
fn hostid(n: u8) -> [u8; 16] {
    [n; 16]
}

/// Connect data with our own Host Identifier (Connect data: HOSTID at 0,
/// CNTLID at 16, SUBNQN at 256, HOSTNQN at 512).
fn connect_data(id: [u8; 16], cntlid: u16) -> Vec<u8> {
    let mut d = raw::connect_data(cntlid, NQN, HOSTNQN);
    d[..16].copy_from_slice(&id);
    d
}

fn connect(h: &mut Host, qid: u16, id: [u8; 16], cntlid: u16) -> Cqe {
    let sqe = Sqe::new(0x7F, 0)
        .u8_at(4, 0x01)
        .sgl(0x01, 1024)
        .u16_at(42, qid)
        .u16_at(44, if qid == 0 { 31 } else { 127 })
        .u32_at(48, if qid == 0 { 10_000 } else { 0 });
    h.cmd(&sqe, &connect_data(id, cntlid)).0
}

/// One host's controller on one path: its admin and one I/O queue.
struct Path {
    admin: Host,
    io: Host,
}

fn path(addr: SocketAddr, id: [u8; 16]) -> Path {
    let mut admin = Host::connect(addr);
    admin.ic(false, false);
    let c = connect(&mut admin, 0, id, 0xFFFF);
    assert!(c.ok(), "admin connect: {c:?}");
    let cntlid = c.dw0 as u16;
    assert!(admin.prop_set(0x14, 0x0046_0001).ok(), "CC.EN=1");
    let mut io = Host::connect(addr);
    io.ic(false, false);
    let c = connect(&mut io, 1, id, cntlid);
    assert!(c.ok(), "I/O connect: {c:?}");
    Path { admin, io }
}

fn status(c: &Cqe) -> (u8, u8, bool) {
    (c.sct(), c.sc(), c.dnr())
}

fn rw(opc: u8, cid: u16, slba: u64, nblocks: u32) -> Sqe {
    Sqe::new(opc, cid)
        .nsid(1)
        .cdw(10, slba as u32)
        .cdw(11, (slba >> 32) as u32)
        .cdw(12, nblocks - 1)
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// NVMe Base 2.0, Connect command / Connect data: the Host Identifier of
/// an I/O queue's Connect is not compared with the admin queue's. SPDK finds
/// the controller by SUBNQN and CNTLID (`_nvmf_ctrlr_add_io_qpair`), as does
/// Linux (`nvmet_ctrl_find_get`); a host that sends a fresh HOSTID in every
/// Connect must still get I/O queues.
#[test]
fn io_connect_with_another_host_identifier_is_accepted() {
    let t = Howto::start();
    let mut admin = Host::connect(t.p1);
    admin.ic(false, false);
    let c = connect(&mut admin, 0, hostid(1), 0xFFFF);
    assert!(c.ok(), "{c:?}");
    let cntlid = c.dw0 as u16;
    assert!(admin.prop_set(0x14, 0x0046_0001).ok());
    let mut io = Host::connect(t.p1);
    io.ic(false, false);
    let c = connect(&mut io, 1, hostid(2), cntlid);
    assert!(c.ok(), "I/O Connect with another HOSTID refused: {c:?}");
    let data = pattern(7, 4 * BS);
    assert!(io.write_icd(1, 10, &data, BS).ok());
    let (c, back) = io.read(2, 10, 4, BS);
    assert!(c.ok());
    assert_eq!(back, data);
}

/// `spdk_nvmf_req_get_xfer` (include/spdk/nvmf_transport.h): a command
/// whose SGL1 length is 0 transfers no data whatever the descriptor type,
/// and runs. Set Features (Asynchronous Event Configuration) sent with a
/// zero-length Data Block descriptor, as some hosts send it.
#[test]
fn a_zero_length_sgl_is_a_command_without_data() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    for (cid, sgl_id) in [(10u16, 0x00u8), (11, 0x01), (12, 0x5A), (13, 0x20)] {
        let sqe = Sqe::new(0x09, cid)
            .cdw(10, 0x0B)
            .cdw(11, 0x0900)
            .sgl(sgl_id, 0);
        let c = p.admin.cmd(&sqe, &[]).0;
        assert!(
            c.ok(),
            "Set Features with SGL id {sgl_id:#x}, length 0: {c:?}"
        );
    }
    let get = Sqe::new(0x0A, 14).cdw(10, 0x0B).sgl(0x00, 0);
    let c = p.admin.cmd(&get, &[]).0;
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.dw0, 0x0900);
    // An I/O command with a zero-length SGL of another type too: Flush.
    let c = p.io.cmd(&Sqe::new(0x00, 15).nsid(1).sgl(0x00, 0), &[]).0;
    assert!(c.ok(), "{c:?}");
}

/// Identify Controller ONCS / FUSES / OCFS and Identify Namespace RESCAP,
/// NOWS, MSSRL, MCL, MSRC as SPDK v24.09 reports them for a malloc
/// namespace (`nvmf_ctrlr_cdata_init`, `nvmf_bdev_ctrlr_identify_ns`; the
/// values are those of the golden capture in tests/nvme_identify_log_golden.rs).
#[test]
fn identify_advertises_the_nvm_command_set_and_reservations() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    let (c, id) = p.admin.identify(0x01, 0);
    assert!(c.ok());
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    assert_eq!(u16_at(&id, 520), 0x012D, "ONCS");
    assert_eq!(u16_at(&id, 522), 0x0001, "FUSES");
    assert_eq!(u16_at(&id, 534), 0x0001, "OCFS");
    let (c, ns) = p.admin.identify(0x00, 1);
    assert!(c.ok());
    assert_eq!(ns[30], 0x01, "NMIC");
    assert_eq!(ns[31], 0xFE, "RESCAP without a PTPL file");
    assert_eq!(u16_at(&ns, 72), 255, "NOWS");
    assert_eq!(u16_at(&ns, 74), 0xFFFF, "MSSRL");
    assert_eq!(
        u32::from_le_bytes(ns[76..80].try_into().unwrap()),
        0xFFFF,
        "MCL"
    );
    assert_eq!(ns[80], 0, "MSRC");
}

/// NVM Command Set 1.0, Compare: Compare Failure (SCT 2h, SC 85h) when the
/// data differs (`nvmf_bdev_ctrlr_compare_cmd`; SPDK's bdev reports a
/// miscompare as that status), success when equal; in-capsule and R2T.
#[test]
fn compare_reports_miscompare() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    let data = pattern(1, 2 * BS);
    assert!(p.io.write_icd(1, 50, &data, BS).ok());
    let same = rw(0x05, 2, 50, 2).sgl(0x01, data.len() as u32);
    assert!(p.io.cmd(&same, &data).0.ok());
    let mut other = data.clone();
    other[700] ^= 1;
    let c = p.io.cmd(&same, &other).0;
    assert_eq!(status(&c), (2, 0x85, false), "{c:?}");
    // Through R2T: the target asks for the data, then compares.
    let sqe = rw(0x05, 3, 50, 2).sgl(0x5A, data.len() as u32);
    p.io.send_cmd(&sqe, &[]);
    let r2t = p.io.recv().expect("R2T");
    assert_eq!(r2t.ty, 0x09);
    p.io.send_h2c(3, r2t.u16_at(10), 0, &other, true);
    assert_eq!(status(&p.io.recv_cqe()), (2, 0x85, false));
    // Past the end: LBA Out of Range.
    let past = rw(0x05, 4, raw::target::BLOCKS - 1, 2).sgl(0x01, data.len() as u32);
    assert_eq!(status(&p.io.cmd(&past, &data).0), (0, 0x80, true));
}

/// NVM Command Set 1.0, Dataset Management with the Attribute – Deallocate
/// bit: deallocated blocks of a malloc namespace read as zeroes
/// (`nvmf_bdev_ctrlr_dsm_cmd` → unmap); without AD the command is a hint.
#[test]
fn deallocate_reads_zeroes() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    let data = pattern(3, 8 * BS);
    assert!(p.io.write_icd(1, 100, &data, BS).ok());
    // Two ranges: 2 blocks at 101, 1 block at 106; plus an empty range.
    let mut ranges = Vec::new();
    for (nlb, slba) in [(2u32, 101u64), (1, 106), (0, 0)] {
        ranges.extend_from_slice(&0u32.to_le_bytes());
        ranges.extend_from_slice(&nlb.to_le_bytes());
        ranges.extend_from_slice(&slba.to_le_bytes());
    }
    let hint = Sqe::new(0x09, 2)
        .nsid(1)
        .cdw(10, 2)
        .cdw(11, 0x1)
        .sgl(0x01, 48);
    assert!(p.io.cmd(&hint, &ranges).0.ok());
    assert_eq!(p.io.read(3, 100, 8, BS).1, data, "no AD: nothing changes");
    let dealloc = Sqe::new(0x09, 4)
        .nsid(1)
        .cdw(10, 2)
        .cdw(11, 0x4)
        .sgl(0x01, 48);
    assert!(p.io.cmd(&dealloc, &ranges).0.ok());
    let back = p.io.read(5, 100, 8, BS).1;
    let mut want = data.clone();
    want[BS..3 * BS].fill(0);
    want[6 * BS..7 * BS].fill(0);
    assert_eq!(back, want);
    // NR says more ranges than the data holds.
    let short = Sqe::new(0x09, 6)
        .nsid(1)
        .cdw(10, 5)
        .cdw(11, 0x4)
        .sgl(0x01, 48);
    assert_eq!(status(&p.io.cmd(&short, &ranges).0).1, 0x0F);
}

/// NVM Command Set 1.0, Copy with source range format 0 and one range
/// (`nvmf_bdev_ctrlr_copy_cmd`): more than one range is Command Size Limit
/// Exceeded (SCT 1h, SC 83h), another format is Invalid Field.
#[test]
fn copy_one_range() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    let data = pattern(9, 4 * BS);
    assert!(p.io.write_icd(1, 200, &data, BS).ok());
    let mut range = vec![0u8; 32];
    range[8..16].copy_from_slice(&200u64.to_le_bytes());
    range[16..18].copy_from_slice(&3u16.to_le_bytes());
    let copy = Sqe::new(0x19, 2).nsid(1).cdw(10, 300).sgl(0x01, 32);
    assert!(p.io.cmd(&copy, &range).0.ok());
    assert_eq!(p.io.read(3, 300, 4, BS).1, data);
    let two = Sqe::new(0x19, 4)
        .nsid(1)
        .cdw(10, 300)
        .cdw(12, 1)
        .sgl(0x01, 64);
    let mut ranges = range.clone();
    ranges.extend_from_slice(&range);
    assert_eq!(status(&p.io.cmd(&two, &ranges).0), (1, 0x83, false));
    let fmt1 = Sqe::new(0x19, 5)
        .nsid(1)
        .cdw(10, 300)
        .cdw(12, 1 << 8)
        .sgl(0x01, 32);
    assert_eq!(status(&p.io.cmd(&fmt1, &range).0), (0, 0x02, false));
}

/// Fused operations (NVMe Base 2.0, "Fused Operations"; SPDK
/// `nvmf_ctrlr_process_io_fused_cmd`, `nvmf_bdev_ctrlr_compare_and_write_cmd`):
/// Compare (FUSE 01b) then Write (FUSE 10b) on the same LBAs. On a
/// miscompare the Compare gets Compare Failure and the Write Aborted due to
/// Failed Fused Command (09h), and nothing is written; a Compare followed by
/// anything but its Write is Aborted due to Missing Fused Command (0Ah).
#[test]
fn fused_compare_and_write() {
    let t = Howto::start();
    let mut p = path(t.p1, hostid(1));
    let old = pattern(1, BS);
    let new = pattern(2, BS);
    assert!(p.io.write_icd(1, 400, &old, BS).ok());
    let cmp = |cid, id, len| {
        rw(0x05, cid, 400, 1)
            .u8_at(1, 0x40 | FUSE_FIRST)
            .sgl(id, len)
    };
    let wr = |cid, id, len| {
        rw(0x01, cid, 400, 1)
            .u8_at(1, 0x40 | FUSE_SECOND)
            .sgl(id, len)
    };
    // Miscompare: both fail, the block is unchanged.
    p.io.send_cmd(&cmp(2, 0x01, BS as u32), &new);
    p.io.send_cmd(&wr(3, 0x01, BS as u32), &new);
    let (a, b) = (p.io.recv_cqe(), p.io.recv_cqe());
    assert_eq!((a.cid, status(&a)), (2, (2, 0x85, false)));
    assert_eq!((b.cid, status(&b)), (3, (0, 0x09, false)));
    assert_eq!(p.io.read(4, 400, 1, BS).1, old);
    // Match, in-capsule: both succeed, the block is the new data.
    p.io.send_cmd(&cmp(5, 0x01, BS as u32), &old);
    p.io.send_cmd(&wr(6, 0x01, BS as u32), &new);
    assert!(p.io.recv_cqe().ok() && p.io.recv_cqe().ok());
    assert_eq!(p.io.read(7, 400, 1, BS).1, new);
    // Both halves through R2T.
    p.io.send_cmd(&cmp(8, 0x5A, BS as u32), &[]);
    let r1 = p.io.recv().expect("R2T for the Compare");
    p.io.send_cmd(&wr(9, 0x5A, BS as u32), &[]);
    let r2 = p.io.recv().expect("R2T for the Write");
    assert_eq!((r1.ty, r2.ty), (0x09, 0x09));
    p.io.send_h2c(8, r1.u16_at(10), 0, &new, true);
    p.io.send_h2c(9, r2.u16_at(10), 0, &old, true);
    let (a, b) = (p.io.recv_cqe(), p.io.recv_cqe());
    assert!(a.ok() && b.ok(), "{a:?} {b:?}");
    assert_eq!(p.io.read(10, 400, 1, BS).1, old);
    // A Compare followed by a plain Read: the Compare is aborted.
    p.io.send_cmd(&cmp(11, 0x01, BS as u32), &old);
    p.io.send_cmd(&rw(0x02, 12, 400, 1).sgl(0x5A, BS as u32), &[]);
    // The aborted Compare's completion comes first, then the Read's.
    let c = p.io.recv_cqe();
    assert_eq!((c.cid, status(&c)), (11, (0, 0x0A, false)));
    let data = p.io.recv().expect("the Read's data");
    assert_eq!((data.ty, data.data()), (0x07, &old[..]));
    let c = p.io.recv_cqe();
    assert!(c.ok() && c.cid == 12, "{c:?}");
    // A lone second half.
    let c = p.io.cmd(&wr(13, 0x01, BS as u32), &new).0;
    assert_eq!(status(&c), (0, 0x0A, false));
}

/// Fused Compare and Write is atomic: two hosts increment a counter in one
/// block by compare-and-swap, each retrying on a miscompare; with a gap
/// between the compare and the write some increments would be lost.
#[test]
fn fused_compare_and_write_is_atomic_under_concurrent_writers() {
    let t = Howto::start();
    const PER_HOST: u64 = 300;
    let block = |v: u64| {
        let mut b = vec![0u8; BS];
        b[..8].copy_from_slice(&v.to_le_bytes());
        b
    };
    {
        let mut p = path(t.p1, hostid(1));
        assert!(p.io.write_icd(1, 500, &block(0), BS).ok());
    }
    let retries = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = [(t.p1, 1u8), (t.p2, 2u8)]
        .into_iter()
        .map(|(addr, n)| {
            let retries = retries.clone();
            std::thread::spawn(move || {
                let mut p = path(addr, hostid(n));
                let mut cid = 0u16;
                let mut done = 0;
                while done < PER_HOST {
                    cid = cid.wrapping_add(2);
                    let (c, cur) = p.io.read(cid, 500, 1, BS);
                    assert!(c.ok());
                    let v = u64::from_le_bytes(cur[..8].try_into().unwrap());
                    let cmp = rw(0x05, cid.wrapping_add(1), 500, 1)
                        .u8_at(1, 0x40 | FUSE_FIRST)
                        .sgl(0x01, BS as u32);
                    let wr = rw(0x01, cid.wrapping_add(2), 500, 1)
                        .u8_at(1, 0x40 | FUSE_SECOND)
                        .sgl(0x01, BS as u32);
                    p.io.send_cmd(&cmp, &cur);
                    p.io.send_cmd(&wr, &block(v + 1));
                    let (a, b) = (p.io.recv_cqe(), p.io.recv_cqe());
                    if a.ok() && b.ok() {
                        done += 1;
                    } else {
                        assert_eq!(status(&a), (2, 0x85, false), "{a:?}");
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                    cid = cid.wrapping_add(2);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut p = path(t.p1, hostid(3));
    let v = p.io.read(1, 500, 1, BS).1;
    assert_eq!(
        u64::from_le_bytes(v[..8].try_into().unwrap()),
        2 * PER_HOST,
        "lost increments ({} retries)",
        retries.load(Ordering::Relaxed)
    );
}

// ---- reservations ----------------------------------------------------------------

fn register(io: &mut Host, cid: u16, rrega: u32, cptpl: u32, crkey: u64, nrkey: u64) -> Cqe {
    let mut d = crkey.to_le_bytes().to_vec();
    d.extend_from_slice(&nrkey.to_le_bytes());
    let sqe = Sqe::new(0x0D, cid)
        .nsid(1)
        .cdw(10, rrega | cptpl << 30)
        .sgl(0x01, 16);
    io.cmd(&sqe, &d).0
}

fn acquire(io: &mut Host, cid: u16, racqa: u32, rtype: u32, crkey: u64, prkey: u64) -> Cqe {
    let mut d = crkey.to_le_bytes().to_vec();
    d.extend_from_slice(&prkey.to_le_bytes());
    let sqe = Sqe::new(0x11, cid)
        .nsid(1)
        .cdw(10, racqa | rtype << 8)
        .sgl(0x01, 16);
    io.cmd(&sqe, &d).0
}

fn release(io: &mut Host, cid: u16, rrela: u32, rtype: u32, crkey: u64) -> Cqe {
    let sqe = Sqe::new(0x15, cid)
        .nsid(1)
        .cdw(10, rrela | rtype << 8)
        .sgl(0x01, 8);
    io.cmd(&sqe, &crkey.to_le_bytes()).0
}

fn report(io: &mut Host, cid: u16, eds: bool, len: u32) -> (Cqe, Vec<u8>) {
    let sqe = Sqe::new(0x0E, cid)
        .nsid(1)
        .cdw(10, len / 4 - 1)
        .cdw(11, eds as u32)
        .sgl(0x5A, len);
    io.cmd(&sqe, &[])
}

/// Read, Write, Flush, Write Zeroes and Dataset Management from one path.
fn access(io: &mut Host) -> [bool; 5] {
    let w = io.write_icd(1, 600, &pattern(5, BS), BS).status == 0;
    let r = io.read(2, 600, 1, BS).0.status == 0;
    let f = io.cmd(&Sqe::new(0x00, 3).nsid(1), &[]).0.status == 0;
    let wz = io.cmd(&rw(0x08, 4, 600, 1), &[]).0.status == 0;
    let mut range = vec![0u8; 16];
    range[4..8].copy_from_slice(&1u32.to_le_bytes());
    range[8..16].copy_from_slice(&600u64.to_le_bytes());
    let dsm = Sqe::new(0x09, 5).nsid(1).cdw(11, 4).sgl(0x01, 16);
    let d = io.cmd(&dsm, &range).0.status == 0;
    [r, w, f, wz, d]
}

/// Host A holds the reservation on two paths, B is a registrant, D is not:
/// the access matrix of NVMe Base 2.0 "Command Behavior in the Presence of
/// a Reservation" for all six types, as `nvmf_ns_reservation_request_check`
/// applies it; conflicts are Reservation Conflict (0/83h) without DNR.
#[test]
fn reservation_access_matrix_for_every_type() {
    let t = Howto::start();
    let mut a1 = path(t.p1, hostid(0xA));
    let mut a2 = path(t.p2, hostid(0xA));
    let mut b = path(t.p1, hostid(0xB));
    let mut d = path(t.p2, hostid(0xD));
    assert!(register(&mut a1.io, 1, 0, 0, 0, 0xA1).ok());
    // The same host's other path is the same registrant.
    assert!(register(&mut a2.io, 1, 0, 0, 0, 0xA1).ok());
    assert_eq!(
        status(&register(&mut a2.io, 1, 0, 0, 0, 0xA2)),
        (0, 0x83, false)
    );
    assert!(register(&mut b.io, 1, 0, 0, 0, 0xB1).ok());
    // (type, registrant read/write, non-registrant read/write)
    let table = [
        (1, [true, false], [true, false]),
        (2, [false, false], [false, false]),
        (3, [true, true], [true, false]),
        (4, [true, true], [false, false]),
        (5, [true, true], [true, false]),
        (6, [true, true], [false, false]),
    ];
    for (rtype, reg, non) in table {
        assert!(
            acquire(&mut a1.io, 2, 0, rtype, 0xA1, 0).ok(),
            "type {rtype}"
        );
        for (who, h) in [("A1", &mut a1), ("A2", &mut a2)] {
            assert_eq!(access(&mut h.io), [true; 5], "type {rtype}: holder {who}");
        }
        let [r, w, f, wz, dsm] = access(&mut b.io);
        assert_eq!(
            [r, w, f, wz, dsm],
            [reg[0], reg[1], reg[1], reg[1], reg[1]],
            "type {rtype}: registrant"
        );
        let [r, w, f, wz, dsm] = access(&mut d.io);
        assert_eq!(
            [r, w, f, wz, dsm],
            [non[0], non[1], non[1], non[1], non[1]],
            "type {rtype}: stranger"
        );
        // A conflict is 0/83h without DNR.
        if !non[1] {
            let c = d.io.write_icd(9, 600, &pattern(1, BS), BS);
            assert_eq!(status(&c), (0, 0x83, false));
        }
        // The stranger's Acquire and Release conflict; its Copy does not.
        assert_eq!(status(&acquire(&mut d.io, 3, 1, rtype, 0, 0xA1)).1, 0x83);
        assert_eq!(status(&release(&mut d.io, 4, 0, rtype, 0)).1, 0x83);
        assert!(
            release(&mut a2.io, 5, 0, rtype, 0xA1).ok(),
            "type {rtype}: release from A2"
        );
    }
}

/// Register / Acquire / Release / Report errors as SPDK answers them
/// (`nvmf_ns_reservation_register`, `_acquire`, `_release`, `_report`):
/// Report needs the extended data structure (EDS=0 is Host Identifier
/// Inconsistent Format, 0/18h), Preempt-and-Abort and IEKEY on Acquire are
/// Invalid Field.
#[test]
fn reservation_command_errors_and_report_layout() {
    let t = Howto::start();
    let mut a = path(t.p1, hostid(0xA));
    let mut b = path(t.p2, hostid(0xB));
    assert_eq!(
        status(&register(&mut a.io, 1, 0, 0, 0, 0)),
        (0, 0x02, false)
    );
    assert!(register(&mut a.io, 2, 0, 0, 0, 0xA1).ok());
    assert!(register(&mut b.io, 2, 0, 0, 0, 0xB1).ok());
    assert_eq!(
        status(&register(&mut a.io, 3, 3, 0, 0, 1)),
        (0, 0x02, false)
    );
    // CPTPL=11b without a PTPL file.
    assert_eq!(
        status(&register(&mut a.io, 4, 0, 3, 0, 0xA1)),
        (0, 0x02, false)
    );
    assert!(acquire(&mut a.io, 5, 0, 1, 0xA1, 0).ok());
    assert_eq!(
        status(&acquire(&mut b.io, 6, 2, 1, 0xB1, 0xA1)),
        (0, 0x02, false)
    );
    assert_eq!(
        status(&acquire(&mut b.io, 7, 0, 1, 0xB1, 0)),
        (0, 0x83, false)
    );
    let (c, _) = report(&mut a.io, 8, false, 4096);
    assert_eq!(status(&c), (0, 0x18, false));
    let (c, _) = report(&mut a.io, 9, true, 60);
    assert_eq!(status(&c), (0, 0x06, false));
    let (c, r) = report(&mut b.io, 10, true, 4096);
    assert!(c.ok());
    assert_eq!(r.len(), 4096);
    assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 2, "GEN");
    assert_eq!(r[4], 1, "RTYPE");
    assert_eq!(u16::from_le_bytes([r[5], r[6]]), 2, "REGCTL");
    let entry = |i: usize| &r[64 + 64 * i..128 + 64 * i];
    assert_eq!(&entry(0)[16..32], &hostid(0xA));
    assert_eq!((entry(0)[2], entry(1)[2]), (1, 0), "RCSTS: A holds");
    assert_eq!(
        u64::from_le_bytes(entry(1)[8..16].try_into().unwrap()),
        0xB1
    );
    assert_eq!(u16::from_le_bytes([entry(1)[0], entry(1)[1]]), 0xFFFF);
    assert!(r[192..].iter().all(|&x| x == 0));
}

/// Reservation notices (NVMe Base 2.0, "Reservation Notification" log
/// page and its asynchronous event): B preempts A's Write Exclusive; both of
/// A's controllers get an AEN with CDW0 00800006h and a Registration
/// Preempted entry; a masked type raises nothing
/// (`nvmf_subsystem_gen_ctrlr_notification`, `_nvmf_ctrlr_add_reservation_log`,
/// `nvmf_get_reservation_notification_log_page`).
#[test]
fn preempt_notifies_every_path_of_the_preempted_host() {
    let t = Howto::start();
    let mut a1 = path(t.p1, hostid(0xA));
    let mut a2 = path(t.p2, hostid(0xA));
    let mut b = path(t.p1, hostid(0xB));
    let mut c = path(t.p2, hostid(0xC));
    for (h, k) in [(&mut a1, 0xA1), (&mut b, 0xB1), (&mut c, 0xC1)] {
        assert!(register(&mut h.io, 1, 0, 0, 0, k).ok());
    }
    assert!(acquire(&mut a1.io, 2, 0, 1, 0xA1, 0).ok());
    // C masks Reservation Released (bit 2) for the namespace: the mask is
    // one per namespace, so A reads it back too.
    let mask = Sqe::new(0x09, 30).nsid(1).cdw(10, 0x82).cdw(11, 1 << 2);
    assert!(c.admin.cmd(&mask, &[]).0.ok());
    let get = Sqe::new(0x0A, 31).nsid(1).cdw(10, 0x82);
    assert_eq!(a1.admin.cmd(&get, &[]).0.dw0, 1 << 2);
    for h in [&mut a1, &mut a2, &mut c] {
        h.admin.send_cmd(&Sqe::new(0x0C, 40), &[]);
    }
    assert!(acquire(&mut b.io, 3, 1, 1, 0xB1, 0xA1).ok());
    for (who, h) in [("A1", &mut a1), ("A2", &mut a2)] {
        let aen = h.admin.recv_cqe();
        assert_eq!((aen.cid, aen.dw0), (40, 0x0080_0006), "{who}: {aen:?}");
        let (st, log) = h.admin.get_log(0x80, 64, false);
        assert!(st.ok());
        assert_eq!(
            u64::from_le_bytes(log[0..8].try_into().unwrap()),
            1,
            "{who} count"
        );
        assert_eq!(
            (log[8], log[9]),
            (1, 0),
            "{who}: Registration Preempted, NALP 0"
        );
        assert_eq!(u32::from_le_bytes(log[12..16].try_into().unwrap()), 1);
        // Read: the queue is empty now.
        assert!(h.admin.get_log(0x80, 64, false).1.iter().all(|&x| x == 0));
    }
    // C's Reservation Released was masked: no AEN within a second.
    assert!(c
        .admin
        .recv_within(std::time::Duration::from_secs(1))
        .is_none());
    assert!(c.admin.get_log(0x80, 64, false).1.iter().all(|&x| x == 0));
    // B holds now; A's registration is gone on both paths.
    let (_, r) = report(&mut c.io, 4, true, 256);
    assert_eq!(u16::from_le_bytes([r[5], r[6]]), 2);
    assert_eq!(
        status(&a2.io.write_icd(5, 1, &pattern(0, BS), BS)),
        (0, 0x83, false)
    );
}

/// Reservation Persistence (feature 83h) and Persist Through Power Loss:
/// with `--ptpl-file`, registrations and the reservation survive a restart
/// of `mpath-console serve`, in SPDK's file layout; RESCAP gains bit 0;
/// Set Features 83h applies but answers Feature Identifier Not Saveable
/// (`nvmf_ns_reservation_update_json`, `nvmf_ns_reservation_restore`,
/// `nvmf_ctrlr_set_features_reservation_persistence`).
#[test]
fn ptpl_survives_a_serve_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cnode0-ns1.json");
    let file_s = file.to_str().unwrap();
    let port = common::free_port("127.0.0.1");
    let start = || {
        let s = common::Serve::start();
        howto_target_via_spdk_rpc(&s, port, &["--ptpl-file", file_s]);
        s
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let serve = start();
    let mut a = path(addr, hostid(0xA));
    let mut b = path(addr, hostid(0xB));
    let (_, ns) = a.admin.identify(0x00, 1);
    assert_eq!(ns[31], 0xFF, "RESCAP with a PTPL file");
    // A plain Register while PTPL is off leaves an empty file.
    assert!(register(&mut b.io, 1, 0, 0, 0, 0xB1).ok());
    assert_eq!(std::fs::read(&file).unwrap().len(), 0);
    assert!(
        register(&mut a.io, 1, 0, 3, 0, 0xA1).ok(),
        "register with CPTPL=11b"
    );
    assert!(acquire(&mut a.io, 2, 0, 4, 0xA1, 0).ok());
    let text = std::fs::read_to_string(&file).unwrap();
    let a_uuid = "0a0a0a0a-0a0a-0a0a-0a0a-0a0a0a0a0a0a";
    let b_uuid = "0b0b0b0b-0b0b-0b0b-0b0b-0b0b0b0b0b0b";
    assert_eq!(
        text,
        format!(
            r#"{{"ptpl":true,"rtype":4,"crkey":161,"bdev_uuid":"11111111-2222-3333-4444-555555555555","holder_uuid":"{a_uuid}","registrants":[{{"rkey":177,"host_uuid":"{b_uuid}"}},{{"rkey":161,"host_uuid":"{a_uuid}"}}]}}"#
        )
    );
    let set = Sqe::new(0x09, 7).nsid(1).cdw(10, 0x83).cdw(11, 1);
    assert_eq!(status(&a.admin.cmd(&set, &[]).0), (1, 0x0D, false));
    drop((a, b));
    drop(serve);
    let _serve = start();
    let mut a = path(addr, hostid(0xA));
    let mut d = path(addr, hostid(0xD));
    let (c, r) = report(&mut d.io, 1, true, 4096);
    assert!(c.ok());
    assert_eq!(
        u32::from_le_bytes(r[0..4].try_into().unwrap()),
        0,
        "GEN restarts at 0"
    );
    assert_eq!((r[4], r[9]), (4, 1), "RTYPE EA-RO, PTPLS");
    assert_eq!(u16::from_le_bytes([r[5], r[6]]), 2);
    assert_eq!((r[64 + 2], r[128 + 2]), (0, 1), "A holds again");
    let get = Sqe::new(0x0A, 8).nsid(1).cdw(10, 0x83);
    assert_eq!(a.admin.cmd(&get, &[]).0.dw0, 1);
    // The reservation is in force: the stranger cannot read (EA-RO).
    assert_eq!(status(&d.io.read(2, 0, 1, BS).0), (0, 0x83, false));
    assert!(a.io.read(2, 0, 1, BS).0.ok());
}

/// A PTPL file that cannot be restored fails `nvmf_subsystem_add_ns` with
/// a message naming the file and changes nothing (SPDK's
/// `nvmf_ns_reservation_load_json` refuses an empty or foreign file).
#[test]
fn a_broken_ptpl_file_fails_add_ns_and_changes_nothing() {
    let t = Howto::start();
    t.call(
        "bdev_malloc_create",
        json!({"num_blocks": 128, "block_size": 512, "name": "Malloc9"}),
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("empty.json", ""),
        ("junk.json", "{not json"),
        (
            "other.json",
            r#"{"ptpl":true,"bdev_uuid":"00000000-0000-0000-0000-000000000001","registrants":[{"rkey":1,"host_uuid":"0a0a0a0a-0a0a-0a0a-0a0a-0a0a0a0a0a0a"}]}"#,
        ),
    ] {
        let f = dir.path().join(name);
        std::fs::write(&f, body).unwrap();
        let before = t.call("nvmf_get_subsystems", json!({}));
        let e = t
            .try_call(
                "nvmf_subsystem_add_ns",
                json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc9", "ptpl_file": f}}),
            )
            .expect_err(name);
        assert!(format!("{e:?}").contains(name), "{name}: {e:?}");
        assert_eq!(t.call("nvmf_get_subsystems", json!({})), before);
    }
}

/// `bdev_nvme_send_cmd` (SPDK's `module/bdev/nvme/nvme_rpc.c`) through
/// SPDK's own client: the initiator sends raw commands on its controller and
/// answers the completion and data base64-encoded (URL-safe). Get Features
/// Host Identifier (EXHID=1) tells the console which registrant is this
/// host; Register and Report go over the I/O queue.
#[test]
fn send_cmd_carries_reservation_commands() {
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine;
    let s = common::Serve::start();
    let port = common::free_port("127.0.0.1");
    howto_target_via_spdk_rpc(&s, port, &[]);
    let port = port.to_string();
    let out = common::rpc_cli(
        &s.isock,
        &[
            "bdev_nvme_attach_controller",
            "-b",
            "Nvme0",
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &port,
            "-f",
            "ipv4",
            "-n",
            NQN,
        ],
    );
    assert_eq!(out.status, 0, "{out:?}");
    let send = |t: &str, dir: &str, sqe: &Sqe, extra: &[&str]| {
        let cmd = URL_SAFE.encode(sqe.0);
        let mut args = vec![
            "bdev_nvme_send_cmd",
            "-n",
            "Nvme0",
            "-t",
            t,
            "-r",
            dir,
            "-c",
            &cmd,
        ];
        args.extend_from_slice(extra);
        let out = common::rpc_cli(&s.isock, &args);
        assert_eq!(out.status, 0, "{args:?}: {out:?}");
        let v = out.json();
        let cpl = URL_SAFE
            .decode(v["cpl"].as_str().expect("cpl"))
            .expect("base64 cpl");
        assert_eq!(cpl.len(), 16);
        let st = u16::from_le_bytes([cpl[14], cpl[15]]) >> 1;
        let data = v["data"]
            .as_str()
            .map(|d| URL_SAFE.decode(d).expect("base64 data"))
            .unwrap_or_default();
        (st, data)
    };
    // Get Features 81h, EXHID=1: the host's 128-bit Host Identifier.
    let (st, id) = send(
        "admin",
        "c2h",
        &Sqe::new(0x0A, 0).cdw(10, 0x81).cdw(11, 1),
        &["-D", "16"],
    );
    assert_eq!((st, id.len()), (0, 16));
    assert_ne!(id, vec![0u8; 16]);
    let mut keys = 0u64.to_le_bytes().to_vec();
    keys.extend_from_slice(&0x1234u64.to_le_bytes());
    let data = URL_SAFE.encode(&keys);
    let (st, _) = send("io", "h2c", &Sqe::new(0x0D, 0).nsid(1), &["-d", &data]);
    assert_eq!(st, 0, "Register");
    let report = Sqe::new(0x0E, 0).nsid(1).cdw(10, 4096 / 4 - 1).cdw(11, 1);
    let (st, r) = send("io", "c2h", &report, &["-D", "4096"]);
    assert_eq!((st, r.len()), (0, 4096));
    assert_eq!(u16::from_le_bytes([r[5], r[6]]), 1, "REGCTL");
    assert_eq!(u64::from_le_bytes(r[72..80].try_into().unwrap()), 0x1234);
    assert_eq!(&r[80..96], &id[..], "the registrant is this host");
    // A bad cmdbuf (not 64 bytes) is -32602 "Invalid argument".
    let out = common::rpc_cli(
        &s.isock,
        &[
            "bdev_nvme_send_cmd",
            "-n",
            "Nvme0",
            "-t",
            "io",
            "-r",
            "c2h",
            "-c",
            "AAAA",
        ],
    );
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("Invalid argument") || out.stdout.contains("Invalid argument"),
        "{out:?}"
    );
}

/// The HOWTO's target half through SPDK's own client, one listener on
/// 127.0.0.1:`port`, the malloc bdev with a fixed UUID (a PTPL file names
/// it), `ns_args` added to `nvmf_subsystem_add_ns`.
fn howto_target_via_spdk_rpc(s: &common::Serve, port: u16, ns_args: &[&str]) {
    let port = port.to_string();
    let uuid = "11111111-2222-3333-4444-555555555555";
    let mut add_ns = vec!["nvmf_subsystem_add_ns", NQN, "Malloc0"];
    add_ns.extend_from_slice(ns_args);
    for args in [
        vec!["nvmf_create_transport", "-t", "tcp"],
        vec!["nvmf_create_subsystem", NQN, "-a", "-r"],
        vec![
            "bdev_malloc_create",
            "64",
            "512",
            "-b",
            "Malloc0",
            "-u",
            uuid,
        ],
        add_ns,
        vec![
            "nvmf_subsystem_add_listener",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &port,
        ],
    ] {
        let out = common::rpc_cli(&s.sock, &args);
        assert_eq!(out.status, 0, "{args:?}: {out:?}");
    }
}
