//! A raw NVMe/TCP host for tests, written from the NVMe/TCP transport spec
//! byte layouts, independent of the crate's codec (`src/nvme`), so that the
//! target is checked against the spec rather than against itself.

#![allow(dead_code)]

pub mod target;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444";
pub const HOSTID: [u8; 16] = [
    0, 0, 0, 0, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
];

pub fn crc32c(data: &[u8]) -> u32 {
    // Bitwise CRC-32C (Castagnoli, reflected 0x82F63B78): slow, obviously
    // right, and not the implementation the crate uses.
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One PDU as received: the common header fields plus the whole PDU bytes.
#[derive(Debug, Clone)]
pub struct RxPdu {
    pub ty: u8,
    pub flags: u8,
    pub hlen: u8,
    pub pdo: u8,
    pub plen: u32,
    pub bytes: Vec<u8>,
}

impl RxPdu {
    pub fn u16_at(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.bytes[off], self.bytes[off + 1]])
    }
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.bytes[off..off + 4].try_into().unwrap())
    }
    /// Data of a C2HData PDU.
    pub fn data(&self) -> &[u8] {
        let ddgst = if self.flags & 0x02 != 0 { 4 } else { 0 };
        &self.bytes[self.pdo as usize..self.plen as usize - ddgst]
    }
}

/// A completion queue entry (NVMe base spec figure "Completion Queue Entry").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cqe {
    pub dw0: u32,
    pub dw1: u32,
    pub sqhd: u16,
    pub sqid: u16,
    pub cid: u16,
    pub status: u16,
}

impl Cqe {
    pub fn sct(&self) -> u8 {
        ((self.status >> 9) & 0x7) as u8
    }
    pub fn sc(&self) -> u8 {
        ((self.status >> 1) & 0xFF) as u8
    }
    pub fn dnr(&self) -> bool {
        self.status & 0x8000 != 0
    }
    pub fn ok(&self) -> bool {
        self.status >> 1 == 0
    }
}

pub struct Host {
    pub sock: TcpStream,
    pub hdgst: bool,
    pub ddgst: bool,
}

/// A 64-byte submission queue entry builder.
#[derive(Clone, Copy)]
pub struct Sqe(pub [u8; 64]);

impl Sqe {
    pub fn new(opc: u8, cid: u16) -> Sqe {
        let mut s = [0u8; 64];
        s[0] = opc;
        s[1] = 0x40; // PSDT = SGL, as NVMe/TCP requires
        s[2..4].copy_from_slice(&cid.to_le_bytes());
        // No data by default: transport data block, length 0.
        s[39] = 0x5A;
        Sqe(s)
    }
    pub fn nsid(mut self, nsid: u32) -> Self {
        self.0[4..8].copy_from_slice(&nsid.to_le_bytes());
        self
    }
    pub fn cdw(mut self, n: usize, v: u32) -> Self {
        self.0[n * 4..n * 4 + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u8_at(mut self, off: usize, v: u8) -> Self {
        self.0[off] = v;
        self
    }
    pub fn u16_at(mut self, off: usize, v: u16) -> Self {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32_at(mut self, off: usize, v: u32) -> Self {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64_at(mut self, off: usize, v: u64) -> Self {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    /// SGL1: type/subtype byte at 39, length at 32, address at 24.
    pub fn sgl(mut self, id: u8, len: u32) -> Self {
        self.0[24..32].fill(0);
        self.0[32..36].copy_from_slice(&len.to_le_bytes());
        self.0[39] = id;
        self
    }
}

pub fn connect_data(cntlid: u16, subnqn: &str, hostnqn: &str) -> Vec<u8> {
    let mut d = vec![0u8; 1024];
    d[..16].copy_from_slice(&HOSTID);
    d[16..18].copy_from_slice(&cntlid.to_le_bytes());
    d[256..256 + subnqn.len()].copy_from_slice(subnqn.as_bytes());
    d[512..512 + hostnqn.len()].copy_from_slice(hostnqn.as_bytes());
    d
}

impl Host {
    pub fn connect(addr: SocketAddr) -> Host {
        let sock = TcpStream::connect(addr).expect("tcp connect");
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.set_nodelay(true).unwrap();
        Host {
            sock,
            hdgst: false,
            ddgst: false,
        }
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.sock.write_all(b).expect("send");
    }

    /// ICReq (128 bytes: CH, PFV, HPDA, DGST, MAXR2T) and its ICResp.
    pub fn ic(&mut self, hdgst: bool, ddgst: bool) -> RxPdu {
        let mut p = vec![0u8; 128];
        p[0] = 0x00;
        p[2] = 128;
        p[4..8].copy_from_slice(&128u32.to_le_bytes());
        p[11] = (hdgst as u8) | ((ddgst as u8) << 1);
        self.send_raw(&p);
        let r = self.recv().expect("ICResp");
        assert_eq!(r.ty, 0x01, "ICResp type");
        assert_eq!(r.plen, 128);
        self.hdgst = r.bytes[11] & 1 != 0;
        self.ddgst = r.bytes[11] & 2 != 0;
        r
    }

    /// A CapsuleCmd with optional in-capsule data, digests as negotiated.
    pub fn capsule_bytes(&self, sqe: &Sqe, data: &[u8]) -> Vec<u8> {
        let hd = if self.hdgst { 4 } else { 0 };
        let dd = if self.ddgst && !data.is_empty() { 4 } else { 0 };
        let pdo = if data.is_empty() { 0 } else { 72 + hd };
        let plen = 72 + hd + data.len() + dd;
        let mut p = Vec::with_capacity(plen);
        p.push(0x04);
        p.push((self.hdgst as u8) | (((dd != 0) as u8) << 1));
        p.push(72);
        p.push(pdo as u8);
        p.extend_from_slice(&(plen as u32).to_le_bytes());
        p.extend_from_slice(&sqe.0);
        if self.hdgst {
            let c = crc32c(&p[..72]);
            p.extend_from_slice(&c.to_le_bytes());
        }
        p.extend_from_slice(data);
        if dd != 0 {
            p.extend_from_slice(&crc32c(data).to_le_bytes());
        }
        p
    }

    pub fn send_cmd(&mut self, sqe: &Sqe, data: &[u8]) {
        let b = self.capsule_bytes(sqe, data);
        self.send_raw(&b);
    }

    pub fn send_h2c(&mut self, cccid: u16, ttag: u16, datao: u32, data: &[u8], last: bool) {
        let hd = if self.hdgst { 4 } else { 0 };
        let dd = if self.ddgst { 4 } else { 0 };
        let plen = 24 + hd + data.len() + dd;
        let mut p = vec![0u8; 24];
        p[0] = 0x06;
        p[1] = (self.hdgst as u8) | ((self.ddgst as u8) << 1) | if last { 0x04 } else { 0 };
        p[2] = 24;
        p[3] = (24 + hd) as u8;
        p[4..8].copy_from_slice(&(plen as u32).to_le_bytes());
        p[8..10].copy_from_slice(&cccid.to_le_bytes());
        p[10..12].copy_from_slice(&ttag.to_le_bytes());
        p[12..16].copy_from_slice(&datao.to_le_bytes());
        p[16..20].copy_from_slice(&(data.len() as u32).to_le_bytes());
        if self.hdgst {
            let c = crc32c(&p[..24]);
            p.extend_from_slice(&c.to_le_bytes());
        }
        p.extend_from_slice(data);
        if self.ddgst {
            p.extend_from_slice(&crc32c(data).to_le_bytes());
        }
        self.send_raw(&p);
    }

    /// Reads one PDU; checks its digests when they were negotiated. `None`
    /// when the target closed the connection.
    pub fn recv(&mut self) -> Option<RxPdu> {
        let mut ch = [0u8; 8];
        if let Err(e) = self.sock.read_exact(&mut ch) {
            use std::io::ErrorKind::*;
            assert!(
                !matches!(e.kind(), WouldBlock | TimedOut),
                "timed out waiting for a PDU"
            );
            return None;
        }
        let plen = u32::from_le_bytes(ch[4..8].try_into().unwrap());
        assert!(
            (8..=1 << 20).contains(&plen),
            "sane PLEN from target: {plen}"
        );
        let mut bytes = ch.to_vec();
        bytes.resize(plen as usize, 0);
        self.sock.read_exact(&mut bytes[8..]).expect("PDU body");
        let p = RxPdu {
            ty: ch[0],
            flags: ch[1],
            hlen: ch[2],
            pdo: ch[3],
            plen,
            bytes,
        };
        if p.flags & 0x01 != 0 {
            let h = p.hlen as usize;
            assert_eq!(p.u32_at(h), crc32c(&p.bytes[..h]), "header digest");
        }
        if p.flags & 0x02 != 0 {
            let end = p.plen as usize - 4;
            assert_eq!(
                p.u32_at(end),
                crc32c(&p.bytes[p.pdo as usize..end]),
                "data digest"
            );
        }
        Some(p)
    }

    /// Whether a PDU arrives within `wait` (consuming it), without treating
    /// silence as an error.
    pub fn recv_within(&mut self, wait: Duration) -> Option<RxPdu> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut one = [0u8; 1];
        let got = self.sock.peek(&mut one);
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        match got {
            Ok(n) if n > 0 => self.recv(),
            _ => None,
        }
    }

    pub fn recv_cqe(&mut self) -> Cqe {
        let p = self.recv().expect("a CapsuleResp");
        assert_eq!(p.ty, 0x05, "expected CapsuleResp, got type {:#x}", p.ty);
        parse_cqe(&p.bytes[8..24])
    }

    /// A command whose answer may be C2HData then a CapsuleResp.
    pub fn cmd(&mut self, sqe: &Sqe, data: &[u8]) -> (Cqe, Vec<u8>) {
        self.send_cmd(sqe, data);
        let mut got = Vec::new();
        loop {
            let p = self.recv().expect("answer");
            match p.ty {
                0x07 => {
                    let datao = p.u32_at(12) as usize;
                    assert_eq!(datao, got.len(), "C2HData in order");
                    got.extend_from_slice(p.data());
                    if p.flags & 0x08 != 0 {
                        // SUCCESS: no CapsuleResp follows.
                        let cid = u16::from_le_bytes([sqe.0[2], sqe.0[3]]);
                        return (
                            Cqe {
                                dw0: 0,
                                dw1: 0,
                                sqhd: 0,
                                sqid: 0,
                                cid,
                                status: 0,
                            },
                            got,
                        );
                    }
                }
                0x05 => return (parse_cqe(&p.bytes[8..24]), got),
                t => panic!("unexpected PDU type {t:#x}"),
            }
        }
    }

    pub fn fabrics_connect(
        &mut self,
        qid: u16,
        sqsize: u16,
        kato: u32,
        cntlid: u16,
        subnqn: &str,
    ) -> Cqe {
        self.fabrics_connect_as(qid, sqsize, kato, cntlid, subnqn, HOSTNQN)
    }

    pub fn fabrics_connect_as(
        &mut self,
        qid: u16,
        sqsize: u16,
        kato: u32,
        cntlid: u16,
        subnqn: &str,
        hostnqn: &str,
    ) -> Cqe {
        let sqe = Sqe::new(0x7F, 0)
            .u8_at(4, 0x01)
            .sgl(0x01, 1024)
            .u16_at(42, qid)
            .u16_at(44, sqsize)
            .u32_at(48, kato);
        self.cmd(&sqe, &connect_data(cntlid, subnqn, hostnqn)).0
    }

    pub fn prop_get(&mut self, ofst: u32, size8: bool) -> u64 {
        let sqe = Sqe::new(0x7F, 1)
            .u8_at(4, 0x04)
            .u8_at(40, size8 as u8)
            .u32_at(44, ofst);
        let c = self.cmd(&sqe, &[]).0;
        assert!(c.ok(), "property get {ofst:#x}: {c:?}");
        c.dw0 as u64 | (c.dw1 as u64) << 32
    }

    pub fn prop_set(&mut self, ofst: u32, value: u64) -> Cqe {
        let sqe = Sqe::new(0x7F, 2)
            .u8_at(4, 0x00)
            .u32_at(44, ofst)
            .u64_at(48, value);
        self.cmd(&sqe, &[]).0
    }

    /// Admin queue bring-up as SPDK's host does it; returns the CNTLID.
    pub fn admin_bringup(addr: SocketAddr, subnqn: &str, digests: bool) -> (Host, u16) {
        let mut h = Host::connect(addr);
        h.ic(digests, digests);
        let c = h.fabrics_connect(0, 31, 10_000, 0xFFFF, subnqn);
        assert!(c.ok(), "admin connect: {c:?}");
        let cntlid = (c.dw0 & 0xFFFF) as u16;
        assert_eq!(h.prop_get(0x08, false), 0x0001_0300, "VS");
        let cap = h.prop_get(0x00, true);
        assert_eq!(cap & 0xFFFF, 127, "CAP.MQES");
        assert!(h.prop_set(0x14, 0x0046_0001).ok(), "CC.EN=1");
        assert_eq!(h.prop_get(0x1C, false) & 1, 1, "CSTS.RDY");
        (h, cntlid)
    }

    pub fn identify(&mut self, cns: u8, nsid: u32) -> (Cqe, Vec<u8>) {
        let sqe = Sqe::new(0x06, 5)
            .nsid(nsid)
            .cdw(10, cns as u32)
            .sgl(0x5A, 4096);
        self.cmd(&sqe, &[])
    }

    pub fn get_log(&mut self, lid: u8, len: u32, rae: bool) -> (Cqe, Vec<u8>) {
        let numd = len / 4 - 1;
        let cdw10 = lid as u32 | ((rae as u32) << 15) | ((numd & 0xFFFF) << 16);
        let sqe = Sqe::new(0x02, 6)
            .nsid(0xFFFF_FFFF)
            .cdw(10, cdw10)
            .cdw(11, numd >> 16)
            .sgl(0x5A, len);
        self.cmd(&sqe, &[])
    }

    /// An I/O queue for a controller: ICReq, Connect QID 1.
    pub fn io_queue(addr: SocketAddr, subnqn: &str, cntlid: u16, digests: bool) -> Host {
        let mut h = Host::connect(addr);
        h.ic(digests, digests);
        let c = h.fabrics_connect(1, 127, 0, cntlid, subnqn);
        assert!(c.ok(), "I/O connect: {c:?}");
        h
    }

    pub fn write_icd(&mut self, cid: u16, slba: u64, data: &[u8], bs: usize) -> Cqe {
        let nlb = (data.len() / bs - 1) as u32;
        let sqe = Sqe::new(0x01, cid)
            .nsid(1)
            .cdw(10, slba as u32)
            .cdw(11, (slba >> 32) as u32)
            .cdw(12, nlb)
            .sgl(0x01, data.len() as u32);
        self.cmd(&sqe, data).0
    }

    /// A Write whose data goes through R2T and H2CData, split in `chunk`s.
    pub fn write_r2t(&mut self, cid: u16, slba: u64, data: &[u8], bs: usize, chunk: usize) -> Cqe {
        let nlb = (data.len() / bs - 1) as u32;
        let sqe = Sqe::new(0x01, cid)
            .nsid(1)
            .cdw(10, slba as u32)
            .cdw(11, (slba >> 32) as u32)
            .cdw(12, nlb)
            .sgl(0x5A, data.len() as u32);
        self.send_cmd(&sqe, &[]);
        let r2t = self.recv().expect("R2T");
        assert_eq!(r2t.ty, 0x09, "R2T type");
        assert_eq!(r2t.u16_at(8), cid, "R2T CCCID");
        let ttag = r2t.u16_at(10);
        let (r2to, r2tl) = (r2t.u32_at(12) as usize, r2t.u32_at(16) as usize);
        assert_eq!((r2to, r2tl), (0, data.len()), "one R2T for all of it");
        let mut off = 0;
        while off < data.len() {
            let n = chunk.min(data.len() - off);
            self.send_h2c(
                cid,
                ttag,
                off as u32,
                &data[off..off + n],
                off + n == data.len(),
            );
            off += n;
        }
        self.recv_cqe()
    }

    pub fn read(&mut self, cid: u16, slba: u64, nblocks: u32, bs: usize) -> (Cqe, Vec<u8>) {
        let sqe = Sqe::new(0x02, cid)
            .nsid(1)
            .cdw(10, slba as u32)
            .cdw(11, (slba >> 32) as u32)
            .cdw(12, nblocks - 1)
            .sgl(0x5A, nblocks * bs as u32);
        self.cmd(&sqe, &[])
    }

    /// Waits until the target closes the connection (EOF), skipping any
    /// PDUs; returns them.
    pub fn drain_until_close(&mut self) -> Vec<RxPdu> {
        let mut v = Vec::new();
        while let Some(p) = self.recv() {
            v.push(p);
        }
        v
    }
}

pub fn parse_cqe(b: &[u8]) -> Cqe {
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    Cqe {
        dw0: u32::from_le_bytes(b[0..4].try_into().unwrap()),
        dw1: u32::from_le_bytes(b[4..8].try_into().unwrap()),
        sqhd: u16_at(8),
        sqid: u16_at(10),
        cid: u16_at(12),
        status: u16_at(14),
    }
}
