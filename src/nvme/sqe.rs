//! Submission queue entry (64 bytes), its SGL descriptor, and the completion
//! queue entry (16 bytes). All fields little-endian.
//!
//! SQE layout: OPC @0, FLAGS @1 (FUSE b1:0, PSDT b7:6), CID @2, NSID @4
//! (FCTYPE @4 for fabrics commands), CDW2-3 @8, MPTR @16, SGL1 @24..40,
//! CDW10..CDW15 @40..64. CQE layout: DW0 @0, DW1 @4, SQHD @8, SQID @10,
//! CID @12, STATUS @14.

use std::fmt;

use super::status::Status;

/// SQE size in bytes.
pub const SQE_LEN: usize = 64;
/// CQE size in bytes.
pub const CQE_LEN: usize = 16;
/// SGL descriptor size in bytes.
pub const SGL_LEN: usize = 16;
/// SQE offset of SGL1.
pub const SGL1_OFFSET: usize = 24;
/// FLAGS byte for a command using SGLs: PSDT = 01b, FUSE = 0. NVMe/TCP
/// requires SGLs, and Linux nvmet rejects any other value.
pub const FLAGS_PSDT_SGL: u8 = 0x40;

/// SGL identifier: Transport SGL Data Block (type 5, subtype 0xA). The data
/// moves in separate H2CData/C2HData PDUs; ADDR is 0.
pub const SGL_TRANSPORT_DATA_BLOCK: u8 = 0x5A;
/// SGL identifier: Data Block (type 0), subtype Offset (1). The data is in
/// the capsule; ADDR is the offset into it (always 0 on TCP).
pub const SGL_DATA_BLOCK_OFFSET: u8 = 0x01;

fn le16(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn put(b: &mut [u8], off: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(off..off + v.len()) {
        d.copy_from_slice(v);
    }
}

/// A 16-byte SGL descriptor in the unkeyed form used on TCP: ADDR u64 @0,
/// LENGTH u32 @8, reserved @12..15, SGL identifier @15 (`type<<4 | subtype`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SglDescriptor {
    pub addr: u64,
    pub len: u32,
    pub id: u8,
}

impl SglDescriptor {
    /// Same as the module constant [`SGL_TRANSPORT_DATA_BLOCK`].
    pub const SGL_TRANSPORT_DATA_BLOCK: u8 = SGL_TRANSPORT_DATA_BLOCK;
    /// Same as the module constant [`SGL_DATA_BLOCK_OFFSET`].
    pub const SGL_DATA_BLOCK_OFFSET: u8 = SGL_DATA_BLOCK_OFFSET;

    /// Data moved by R2T/H2CData or C2HData PDUs (also used with `len` 0 for
    /// commands without data).
    pub const fn transport(len: u32) -> SglDescriptor {
        SglDescriptor {
            addr: 0,
            len,
            id: SGL_TRANSPORT_DATA_BLOCK,
        }
    }
    /// In-capsule data at offset 0.
    pub const fn in_capsule(len: u32) -> SglDescriptor {
        SglDescriptor {
            addr: 0,
            len,
            id: SGL_DATA_BLOCK_OFFSET,
        }
    }
    /// Descriptor type (upper nibble of the identifier).
    pub const fn sgl_type(&self) -> u8 {
        self.id >> 4
    }
    /// Descriptor subtype (lower nibble of the identifier).
    pub const fn subtype(&self) -> u8 {
        self.id & 0xF
    }
    pub const fn is_transport(&self) -> bool {
        self.id == SGL_TRANSPORT_DATA_BLOCK
    }
    pub const fn is_in_capsule(&self) -> bool {
        self.id == SGL_DATA_BLOCK_OFFSET
    }
    pub fn to_bytes(&self) -> [u8; SGL_LEN] {
        let mut b = [0u8; SGL_LEN];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[15] = self.id;
        b
    }
    /// Reads the first 16 bytes; `None` if shorter.
    pub fn from_bytes(b: &[u8]) -> Option<SglDescriptor> {
        let b = b.get(..SGL_LEN)?;
        Some(SglDescriptor {
            addr: le64(b, 0),
            len: le32(b, 8),
            id: b[15],
        })
    }
}

/// A submission queue entry, kept as its wire bytes; accessors read and
/// write the fields in place so unknown fields survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sqe(pub [u8; SQE_LEN]);

impl Default for Sqe {
    fn default() -> Self {
        Sqe([0; SQE_LEN])
    }
}

impl Sqe {
    /// A zeroed command with the opcode, CID and FLAGS = 0x40 (PSDT = SGL).
    pub fn new(opc: u8, cid: u16) -> Sqe {
        let mut s = Sqe::default();
        s.0[0] = opc;
        s.0[1] = FLAGS_PSDT_SGL;
        s.set_cid(cid);
        s
    }
    /// Copy of the first 64 bytes of `b`; `None` if shorter.
    pub fn from_bytes(b: &[u8]) -> Option<Sqe> {
        let a: [u8; SQE_LEN] = b.get(..SQE_LEN)?.try_into().ok()?;
        Some(Sqe(a))
    }
    pub fn as_bytes(&self) -> &[u8; SQE_LEN] {
        &self.0
    }
    pub fn opc(&self) -> u8 {
        self.0[0]
    }
    pub fn set_opc(&mut self, opc: u8) {
        self.0[0] = opc;
    }
    /// FLAGS byte: FUSE b1:0, PSDT b7:6.
    pub fn flags(&self) -> u8 {
        self.0[1]
    }
    pub fn set_flags(&mut self, flags: u8) {
        self.0[1] = flags;
    }
    /// FUSE bits (0 = normal command).
    pub fn fuse(&self) -> u8 {
        self.0[1] & 0x3
    }
    /// PSDT bits (1 = SGL with a single descriptor; the only value TCP allows).
    pub fn psdt(&self) -> u8 {
        self.0[1] >> 6
    }
    pub fn cid(&self) -> u16 {
        le16(&self.0, 2)
    }
    pub fn set_cid(&mut self, cid: u16) {
        put(&mut self.0, 2, &cid.to_le_bytes());
    }
    pub fn nsid(&self) -> u32 {
        le32(&self.0, 4)
    }
    pub fn set_nsid(&mut self, nsid: u32) {
        put(&mut self.0, 4, &nsid.to_le_bytes());
    }
    /// Fabrics command type (byte 4, only meaningful when OPC = 0x7F).
    pub fn fctype(&self) -> u8 {
        self.0[4]
    }
    pub fn set_fctype(&mut self, fctype: u8) {
        self.0[4] = fctype;
    }
    /// Command dword `n` (at byte `4*n`). Meaningful for 2..=15; `n` > 15
    /// reads 0.
    pub fn cdw(&self, n: usize) -> u32 {
        if n >= SQE_LEN / 4 {
            return 0;
        }
        le32(&self.0, 4 * n)
    }
    /// Write command dword `n` (at byte `4*n`); `n` > 15 is ignored.
    pub fn set_cdw(&mut self, n: usize, v: u32) {
        if n < SQE_LEN / 4 {
            put(&mut self.0, 4 * n, &v.to_le_bytes());
        }
    }
    /// Little-endian u16 at a byte offset inside the SQE (0 if out of range).
    pub fn u16_at(&self, off: usize) -> u16 {
        le16(&self.0, off)
    }
    /// Little-endian u32 at a byte offset inside the SQE (0 if out of range).
    pub fn u32_at(&self, off: usize) -> u32 {
        le32(&self.0, off)
    }
    /// Little-endian u64 at a byte offset inside the SQE (0 if out of range).
    pub fn u64_at(&self, off: usize) -> u64 {
        le64(&self.0, off)
    }
    pub fn set_u16_at(&mut self, off: usize, v: u16) {
        put(&mut self.0, off, &v.to_le_bytes());
    }
    pub fn set_u32_at(&mut self, off: usize, v: u32) {
        put(&mut self.0, off, &v.to_le_bytes());
    }
    pub fn set_u64_at(&mut self, off: usize, v: u64) {
        put(&mut self.0, off, &v.to_le_bytes());
    }
    /// SGL1 (bytes 24..40).
    pub fn sgl(&self) -> SglDescriptor {
        SglDescriptor::from_bytes(&self.0[SGL1_OFFSET..SGL1_OFFSET + SGL_LEN]).unwrap_or_default()
    }
    pub fn set_sgl(&mut self, sgl: SglDescriptor) {
        put(&mut self.0, SGL1_OFFSET, &sgl.to_bytes());
    }
}

impl fmt::Debug for Sqe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sqe")
            .field("opc", &format_args!("{:#04x}", self.opc()))
            .field("flags", &format_args!("{:#04x}", self.flags()))
            .field("cid", &self.cid())
            .field("nsid", &format_args!("{:#x}", self.nsid()))
            .field("sgl", &self.sgl())
            .field(
                "cdw10_15",
                &format_args!(
                    "[{:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}]",
                    self.cdw(10),
                    self.cdw(11),
                    self.cdw(12),
                    self.cdw(13),
                    self.cdw(14),
                    self.cdw(15)
                ),
            )
            .finish()
    }
}

/// A completion queue entry. The phase tag is not kept: it is always 0 on
/// fabrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cqe {
    /// Command specific result (e.g. CNTLID for Connect, property value low).
    pub dw0: u32,
    /// Command specific result (property value high for an 8-byte Get).
    pub dw1: u32,
    /// SQ head pointer.
    pub sqhd: u16,
    /// SQ identifier (SPDK leaves it 0 even on I/O queues).
    pub sqid: u16,
    pub cid: u16,
    pub status: Status,
}

impl Cqe {
    /// A completion with the given CID and status, everything else 0.
    pub fn new(cid: u16, status: Status) -> Cqe {
        Cqe {
            cid,
            status,
            ..Cqe::default()
        }
    }
    pub fn to_bytes(&self) -> [u8; CQE_LEN] {
        let mut b = [0u8; CQE_LEN];
        b[0..4].copy_from_slice(&self.dw0.to_le_bytes());
        b[4..8].copy_from_slice(&self.dw1.to_le_bytes());
        b[8..10].copy_from_slice(&self.sqhd.to_le_bytes());
        b[10..12].copy_from_slice(&self.sqid.to_le_bytes());
        b[12..14].copy_from_slice(&self.cid.to_le_bytes());
        b[14..16].copy_from_slice(&self.status.to_field(false).to_le_bytes());
        b
    }
    /// Parse the first 16 bytes; `None` if shorter. The phase tag is dropped.
    pub fn from_bytes(b: &[u8]) -> Option<Cqe> {
        let b = b.get(..CQE_LEN)?;
        Some(Cqe {
            dw0: le32(b, 0),
            dw1: le32(b, 4),
            sqhd: le16(b, 8),
            sqid: le16(b, 10),
            cid: le16(b, 12),
            status: Status::from_field(le16(b, 14)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqe_field_offsets() {
        let mut s = Sqe::new(0x7F, 0xBEEF);
        assert_eq!(s.0.len(), 64);
        assert_eq!(s.0[0], 0x7F);
        assert_eq!(s.0[1], 0x40);
        assert_eq!(&s.0[2..4], &[0xEF, 0xBE]);
        assert_eq!(s.psdt(), 1);
        assert_eq!(s.fuse(), 0);
        s.set_nsid(0x1122_3344);
        assert_eq!(&s.0[4..8], &[0x44, 0x33, 0x22, 0x11]);
        s.set_fctype(0x01);
        assert_eq!(s.0[4], 0x01);
        assert_eq!(s.fctype(), 0x01);
        for n in 2..=15usize {
            s.set_cdw(n, 0xA0B0_C000 | n as u32);
            assert_eq!(
                &s.0[4 * n..4 * n + 4],
                &(0xA0B0_C000 | n as u32).to_le_bytes()
            );
            assert_eq!(s.cdw(n), 0xA0B0_C000 | n as u32);
        }
        // Out of range dwords are ignored rather than panicking.
        s.set_cdw(16, 1);
        assert_eq!(s.cdw(16), 0);
        assert_eq!(s.cdw(usize::MAX), 0);
        assert_eq!(s.u32_at(62), 0);
    }

    #[test]
    fn sgl_layout() {
        let mut s = Sqe::new(0x02, 1);
        s.set_sgl(SglDescriptor {
            addr: 0x0102_0304_0506_0708,
            len: 0x1000,
            id: SGL_TRANSPORT_DATA_BLOCK,
        });
        assert_eq!(
            &s.0[24..40],
            &[
                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00, 0x10, 0x00, 0x00, 0, 0, 0,
                0x5A
            ]
        );
        assert_eq!(s.sgl().len, 0x1000);
        assert_eq!(s.sgl().sgl_type(), 5);
        assert_eq!(s.sgl().subtype(), 0xA);
        assert!(s.sgl().is_transport());
        assert!(SglDescriptor::in_capsule(1024).is_in_capsule());
        assert_eq!(
            SglDescriptor::in_capsule(1024).to_bytes(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x04, 0, 0, 0, 0, 0, 0x01]
        );
        assert_eq!(SglDescriptor::from_bytes(&[0u8; 15]), None);
    }

    #[test]
    fn sqe_from_bytes_bounds() {
        assert!(Sqe::from_bytes(&[0u8; 63]).is_none());
        let mut b = [0u8; 70];
        b[0] = 6;
        let s = Sqe::from_bytes(&b).expect("64 bytes present");
        assert_eq!(s.opc(), 6);
    }

    #[test]
    fn cqe_layout() {
        let c = Cqe {
            dw0: 0x0403_0201,
            dw1: 0x0807_0605,
            sqhd: 0x0A09,
            sqid: 0x0C0B,
            cid: 0x0E0D,
            status: Status::ASYMMETRIC_ACCESS_TRANSITION,
        };
        let b = c.to_bytes();
        assert_eq!(b.len(), 16);
        assert_eq!(
            b,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 0xA, 0xB, 0xC, 0xD, 0xE, 0x06, 0x06]
        );
        assert_eq!(Cqe::from_bytes(&b), Some(c));
        assert_eq!(Cqe::from_bytes(&b[..15]), None);
        // The phase tag is dropped on parse.
        let mut p = b;
        p[14] |= 1;
        assert_eq!(Cqe::from_bytes(&p), Some(c));
    }
}
