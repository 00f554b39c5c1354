//! NVM I/O commands beyond Read and Write, as the host encodes them: Flush,
//! Write Zeroes, Dataset Management, Compare and the four reservation
//! commands, and the parser of Reservation Report's extended data.
//!
//! Each encoder gives the SQE (CID and SGL left for the queue pair to
//! fill) and, for commands that carry host-to-controller data, that data;
//! `NvmeBdev` sends them with its multipath retry rules.

use bytes::Bytes;

use crate::nvme::opcodes::nvm;
use crate::nvme::sqe::Sqe;

/// Dataset Management ranges per command (NR is 8 bits, 0's based).
pub const DSM_MAX_RANGES: usize = 256;
/// Bytes of one Dataset Management range entry.
pub const DSM_RANGE_LEN: usize = 16;
/// Blocks one range can describe (its length is a full 32-bit count).
pub const DSM_RANGE_MAX_BLOCKS: u64 = u32::MAX as u64;

/// Dataset Management attributes (CDW11).
pub mod dsm_attr {
    /// Integral Dataset for Read.
    pub const IDR: u32 = 1 << 0;
    /// Integral Dataset for Write.
    pub const IDW: u32 = 1 << 1;
    /// Deallocate.
    pub const AD: u32 = 1 << 2;
}

/// One Dataset Management range: context attributes @0, length in blocks
/// @4 (a count, not 0's based), starting LBA @8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsmRange {
    pub cattr: u32,
    pub blocks: u32,
    pub slba: u64,
}

impl DsmRange {
    pub fn to_bytes(&self) -> [u8; DSM_RANGE_LEN] {
        let mut b = [0u8; DSM_RANGE_LEN];
        b[0..4].copy_from_slice(&self.cattr.to_le_bytes());
        b[4..8].copy_from_slice(&self.blocks.to_le_bytes());
        b[8..16].copy_from_slice(&self.slba.to_le_bytes());
        b
    }
}

/// The ranges that deallocate `blocks` blocks at `lba`, as bdev_nvme's
/// unmap builds them: full-size ranges, then the rest. `None` when more
/// than 256 ranges would be needed (or `blocks` is 0).
pub fn unmap_ranges(lba: u64, blocks: u64) -> Option<Vec<DsmRange>> {
    if blocks == 0 || blocks.div_ceil(DSM_RANGE_MAX_BLOCKS) > DSM_MAX_RANGES as u64 {
        return None;
    }
    let mut v = Vec::new();
    let (mut at, mut left) = (lba, blocks);
    while left > 0 {
        let n = left.min(DSM_RANGE_MAX_BLOCKS);
        v.push(DsmRange {
            cattr: 0,
            blocks: n as u32,
            slba: at,
        });
        at += n;
        left -= n;
    }
    Some(v)
}

fn io_sqe(opc: u8, nsid: u32) -> Sqe {
    let mut s = Sqe::new(opc, 0);
    s.set_nsid(nsid);
    s
}

/// Flush (0x00): no data, no range.
pub fn flush(nsid: u32) -> Sqe {
    io_sqe(nvm::FLUSH, nsid)
}

/// Write Zeroes (0x08): SLBA in CDW10-11, NLB (0's based) in CDW12 b15:0,
/// DEAC (deallocate the blocks too) in CDW12 b25. `blocks` is 1..=65536.
pub fn write_zeroes(nsid: u32, lba: u64, blocks: u32, deac: bool) -> Sqe {
    let mut s = io_sqe(nvm::WRITE_ZEROES, nsid);
    s.set_cdw(10, lba as u32);
    s.set_cdw(11, (lba >> 32) as u32);
    s.set_cdw(
        12,
        (blocks.wrapping_sub(1) & 0xFFFF) | (u32::from(deac) << 25),
    );
    s
}

/// Dataset Management (0x09): NR (0's based range count) in CDW10 b7:0,
/// the attributes in CDW11, the ranges as host-to-controller data.
/// `None` for no ranges or more than 256.
pub fn dataset_management(nsid: u32, ranges: &[DsmRange], attrs: u32) -> Option<(Sqe, Bytes)> {
    if ranges.is_empty() || ranges.len() > DSM_MAX_RANGES {
        return None;
    }
    let mut s = io_sqe(nvm::DSM, nsid);
    s.set_cdw(10, (ranges.len() - 1) as u32);
    s.set_cdw(11, attrs);
    let data: Vec<u8> = ranges.iter().flat_map(|r| r.to_bytes()).collect();
    Some((s, data.into()))
}

/// Compare (0x05) lays out like a Write: SLBA, NLB 0's based; its data,
/// what the blocks are compared with, goes host to controller.
pub fn compare(nsid: u32, lba: u64, blocks: u32) -> Sqe {
    let mut s = io_sqe(nvm::COMPARE, nsid);
    s.set_cdw(10, lba as u32);
    s.set_cdw(11, (lba >> 32) as u32);
    s.set_cdw(12, blocks.wrapping_sub(1) & 0xFFFF);
    s
}

/// Reservation types (RTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReservationType {
    WriteExclusive = 1,
    ExclusiveAccess = 2,
    WriteExclusiveRegistrantsOnly = 3,
    ExclusiveAccessRegistrantsOnly = 4,
    WriteExclusiveAllRegistrants = 5,
    ExclusiveAccessAllRegistrants = 6,
}

impl ReservationType {
    /// The type an RTYPE byte names; `None` for 0 (none) and reserved values.
    pub fn from_u8(v: u8) -> Option<ReservationType> {
        use ReservationType::*;
        [
            WriteExclusive,
            ExclusiveAccess,
            WriteExclusiveRegistrantsOnly,
            ExclusiveAccessRegistrantsOnly,
            WriteExclusiveAllRegistrants,
            ExclusiveAccessAllRegistrants,
        ]
        .into_iter()
        .find(|t| *t as u8 == v)
    }
}

/// Reservation Register action (RREGA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RegisterAction {
    Register = 0,
    Unregister = 1,
    Replace = 2,
}

/// Change Persist Through Power Loss state (CPTPL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cptpl {
    NoChange = 0,
    Clear = 2,
    Set = 3,
}

/// Reservation Acquire action (RACQA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AcquireAction {
    Acquire = 0,
    Preempt = 1,
    PreemptAndAbort = 2,
}

/// Reservation Release action (RRELA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReleaseAction {
    Release = 0,
    Clear = 1,
}

fn two_keys(a: u64, b: u64) -> Bytes {
    let mut d = Vec::with_capacity(16);
    d.extend_from_slice(&a.to_le_bytes());
    d.extend_from_slice(&b.to_le_bytes());
    d.into()
}

/// Reservation Register (0x0D): CDW10 b2:0 RREGA, b3 IEKEY, b31:30 CPTPL;
/// 16 bytes of data, CRKEY @0 and NRKEY @8.
pub fn reservation_register(
    nsid: u32,
    action: RegisterAction,
    iekey: bool,
    cptpl: Cptpl,
    crkey: u64,
    nrkey: u64,
) -> (Sqe, Bytes) {
    let mut s = io_sqe(nvm::RESERVATION_REGISTER, nsid);
    s.set_cdw(
        10,
        action as u32 | (u32::from(iekey) << 3) | ((cptpl as u32) << 30),
    );
    (s, two_keys(crkey, nrkey))
}

/// Reservation Acquire (0x11): CDW10 b2:0 RACQA, b3 IEKEY, b15:8 RTYPE;
/// 16 bytes of data, CRKEY @0 and PRKEY @8.
pub fn reservation_acquire(
    nsid: u32,
    action: AcquireAction,
    iekey: bool,
    rtype: ReservationType,
    crkey: u64,
    prkey: u64,
) -> (Sqe, Bytes) {
    let mut s = io_sqe(nvm::RESERVATION_ACQUIRE, nsid);
    s.set_cdw(
        10,
        action as u32 | (u32::from(iekey) << 3) | ((rtype as u32) << 8),
    );
    (s, two_keys(crkey, prkey))
}

/// Reservation Release (0x15): CDW10 b2:0 RRELA, b3 IEKEY, b15:8 RTYPE;
/// 8 bytes of data, CRKEY.
pub fn reservation_release(
    nsid: u32,
    action: ReleaseAction,
    iekey: bool,
    rtype: ReservationType,
    crkey: u64,
) -> (Sqe, Bytes) {
    let mut s = io_sqe(nvm::RESERVATION_RELEASE, nsid);
    s.set_cdw(
        10,
        action as u32 | (u32::from(iekey) << 3) | ((rtype as u32) << 8),
    );
    (s, Bytes::copy_from_slice(&crkey.to_le_bytes()))
}

/// Bytes of the extended report's header and of each registrant entry.
pub const REPORT_EXT_HEADER_LEN: usize = 64;
pub const REPORT_EXT_ENTRY_LEN: usize = 64;

/// Reservation Report (0x0E) for `len` bytes (a multiple of 4, at least
/// the 64-byte header): NUMD (0's based dwords) in CDW10 and always EDS
/// (CDW11 b0), the extended layout with 128-bit host IDs; SPDK's target
/// refuses a report without it.
pub fn reservation_report(nsid: u32, len: u32) -> Sqe {
    let mut s = io_sqe(nvm::RESERVATION_REPORT, nsid);
    s.set_cdw(10, (len / 4).saturating_sub(1));
    s.set_cdw(11, 1);
    s
}

/// One registrant of an extended report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrant {
    pub cntlid: u16,
    /// RCSTS bit 0: this registrant holds the reservation.
    pub holds: bool,
    pub rkey: u64,
    pub hostid: [u8; 16],
}

/// Reservation Report's extended data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationStatus {
    /// GEN: bumped by every Register, Preempt and Clear.
    pub generation: u32,
    /// RTYPE: 0 when nothing is reserved.
    pub rtype: u8,
    /// REGCTL: registrants in all, also those that did not fit.
    pub registrants_total: u16,
    /// PTPLS bit 0: persist through power loss is on.
    pub ptpl: bool,
    /// The entries that fit whole in the data read.
    pub registrants: Vec<Registrant>,
}

impl ReservationStatus {
    /// Header: GEN u32 @0, RTYPE @4, REGCTL u16 @5, PTPLS @9; entries of
    /// 64 bytes from @64: CNTLID u16 @0, RCSTS @2, RKEY u64 @8, HOSTID @16.
    /// An entry cut off by the data's end is left out.
    pub fn parse(d: &[u8]) -> Result<ReservationStatus, &'static str> {
        if d.len() < REPORT_EXT_HEADER_LEN {
            return Err("reservation report shorter than its 64-byte header");
        }
        let u16_at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
        let total = u16_at(5);
        let registrants = d[REPORT_EXT_HEADER_LEN..]
            .chunks_exact(REPORT_EXT_ENTRY_LEN)
            .take(total as usize)
            .map(|e| {
                let mut rkey = [0u8; 8];
                rkey.copy_from_slice(&e[8..16]);
                let mut hostid = [0u8; 16];
                hostid.copy_from_slice(&e[16..32]);
                Registrant {
                    cntlid: u16::from_le_bytes([e[0], e[1]]),
                    holds: e[2] & 1 == 1,
                    rkey: u64::from_le_bytes(rkey),
                    hostid,
                }
            })
            .collect();
        Ok(ReservationStatus {
            generation: u32::from_le_bytes([d[0], d[1], d[2], d[3]]),
            rtype: d[4],
            registrants_total: total,
            ptpl: d[9] & 1 == 1,
            registrants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvme::opcodes::{data_direction, DataDir};

    /// The SQE's bytes with CID and SGL zero: OPC @0, FLAGS @1, NSID @4,
    /// CDW10.. @40.
    fn sqe_bytes(opc: u8, nsid: u32, cdws: &[(usize, u32)]) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0] = opc;
        b[1] = 0x40;
        b[4..8].copy_from_slice(&nsid.to_le_bytes());
        for &(n, v) in cdws {
            b[n * 4..n * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn flush_and_write_zeroes_layout() {
        assert_eq!(flush(7).0, sqe_bytes(0x00, 7, &[]));
        let s = write_zeroes(1, 0x1_0000_0010, 8, false);
        assert_eq!(s.0, sqe_bytes(0x08, 1, &[(10, 0x10), (11, 1), (12, 7)]));
        // 65536 blocks is NLB 0xFFFF; DEAC is CDW12 bit 25.
        let s = write_zeroes(1, 0, 65536, true);
        assert_eq!(s.0, sqe_bytes(0x08, 1, &[(12, 0x0200_FFFF)]));
    }

    #[test]
    fn dataset_management_layout() {
        let ranges = [
            DsmRange {
                cattr: 0,
                blocks: 8,
                slba: 0x10,
            },
            DsmRange {
                cattr: 0xA1B2_C3D4,
                blocks: u32::MAX,
                slba: 0x0102_0304_0506_0708,
            },
        ];
        let (s, d) = dataset_management(1, &ranges, dsm_attr::AD).unwrap();
        // NR 0's based; AD is CDW11 bit 2.
        assert_eq!(s.0, sqe_bytes(0x09, 1, &[(10, 1), (11, 4)]));
        let want: Vec<u8> = [
            [0, 0, 0, 0, 8, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0],
            [
                0xD4, 0xC3, 0xB2, 0xA1, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
                0x02, 0x01,
            ],
        ]
        .concat();
        assert_eq!(&d[..], &want[..]);
        assert!(dataset_management(1, &[], dsm_attr::AD).is_none());
        let many = vec![ranges[0]; 257];
        assert!(dataset_management(1, &many[..256], 0).is_some());
        assert!(dataset_management(1, &many, 0).is_none());
    }

    #[test]
    fn unmap_ranges_as_bdev_nvme_builds_them() {
        assert_eq!(
            unmap_ranges(100, 8).unwrap(),
            vec![DsmRange {
                cattr: 0,
                blocks: 8,
                slba: 100
            }]
        );
        let v = unmap_ranges(5, DSM_RANGE_MAX_BLOCKS + 3).unwrap();
        assert_eq!(
            v,
            vec![
                DsmRange {
                    cattr: 0,
                    blocks: u32::MAX,
                    slba: 5
                },
                DsmRange {
                    cattr: 0,
                    blocks: 3,
                    slba: 5 + DSM_RANGE_MAX_BLOCKS
                }
            ]
        );
        assert_eq!(
            unmap_ranges(0, 256 * DSM_RANGE_MAX_BLOCKS).unwrap().len(),
            256
        );
        assert!(unmap_ranges(0, 256 * DSM_RANGE_MAX_BLOCKS + 1).is_none());
        assert!(unmap_ranges(0, 0).is_none());
    }

    #[test]
    fn compare_layout() {
        let s = compare(3, 0x2_0000_0001, 32);
        assert_eq!(s.0, sqe_bytes(0x05, 3, &[(10, 1), (11, 2), (12, 31)]));
    }

    #[test]
    fn reservation_register_acquire_release_layout() {
        let (s, d) = reservation_register(
            1,
            RegisterAction::Replace,
            true,
            Cptpl::Set,
            0x1122_3344_5566_7788,
            0x99AA_BBCC_DDEE_FF00,
        );
        // RREGA 2, IEKEY bit 3, CPTPL 11b in bits 31:30.
        assert_eq!(s.0, sqe_bytes(0x0D, 1, &[(10, 0xC000_000A)]));
        assert_eq!(
            &d[..],
            &[
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB,
                0xAA, 0x99
            ]
        );
        let (s, d) =
            reservation_register(1, RegisterAction::Register, false, Cptpl::NoChange, 0, 0xAB);
        assert_eq!(s.0, sqe_bytes(0x0D, 1, &[]));
        assert_eq!(d.len(), 16);
        assert_eq!(d[8], 0xAB);

        let (s, d) = reservation_acquire(
            2,
            AcquireAction::PreemptAndAbort,
            false,
            ReservationType::ExclusiveAccessAllRegistrants,
            7,
            9,
        );
        // RACQA 2, RTYPE 6 in bits 15:8.
        assert_eq!(s.0, sqe_bytes(0x11, 2, &[(10, 0x0602)]));
        assert_eq!(&d[..], &[7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);

        let (s, d) = reservation_release(
            2,
            ReleaseAction::Clear,
            true,
            ReservationType::WriteExclusive,
            0x0102_0304_0506_0708,
        );
        // RRELA 1, IEKEY, RTYPE 1.
        assert_eq!(s.0, sqe_bytes(0x15, 2, &[(10, 0x0109)]));
        assert_eq!(&d[..], &[8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn reservation_report_always_asks_for_the_extended_layout() {
        // 4096 bytes: NUMD 1023; EDS is CDW11 bit 0.
        assert_eq!(
            reservation_report(1, 4096).0,
            sqe_bytes(0x0E, 1, &[(10, 1023), (11, 1)])
        );
        assert_eq!(
            reservation_report(1, 64).0,
            sqe_bytes(0x0E, 1, &[(10, 15), (11, 1)])
        );
    }

    #[test]
    fn reservation_report_extended_parse() {
        let mut d = vec![0u8; 64 + 2 * 64 + 32];
        d[0..4].copy_from_slice(&0x0102_0304u32.to_le_bytes());
        d[4] = 5;
        // REGCTL 3: one more registrant than the buffer holds whole.
        d[5..7].copy_from_slice(&3u16.to_le_bytes());
        d[9] = 1;
        let e0 = &mut d[64..128];
        e0[0..2].copy_from_slice(&0xFFFFu16.to_le_bytes());
        e0[2] = 1;
        e0[8..16].copy_from_slice(&0xDEAD_BEEFu64.to_le_bytes());
        e0[16..32].copy_from_slice(&[0x11; 16]);
        let e1 = &mut d[128..192];
        e1[0..2].copy_from_slice(&2u16.to_le_bytes());
        e1[8..16].copy_from_slice(&7u64.to_le_bytes());
        e1[16..32].copy_from_slice(&(1..=16).collect::<Vec<u8>>());
        let r = ReservationStatus::parse(&d).unwrap();
        assert_eq!(r.generation, 0x0102_0304);
        assert_eq!(r.rtype, 5);
        assert_eq!(r.registrants_total, 3);
        assert!(r.ptpl);
        assert_eq!(
            r.registrants,
            vec![
                Registrant {
                    cntlid: 0xFFFF,
                    holds: true,
                    rkey: 0xDEAD_BEEF,
                    hostid: [0x11; 16]
                },
                Registrant {
                    cntlid: 2,
                    holds: false,
                    rkey: 7,
                    hostid: core::array::from_fn(|i| i as u8 + 1)
                }
            ]
        );
        // REGCTL below what the data holds: only REGCTL entries.
        d[5] = 1;
        assert_eq!(ReservationStatus::parse(&d).unwrap().registrants.len(), 1);
        assert!(ReservationStatus::parse(&d[..63]).is_err());
    }

    /// Every encoder's data goes the way its opcode says (bits 1:0): the
    /// queue pair sends data in the capsule or on R2T only for these.
    #[test]
    fn data_directions_match_the_opcodes() {
        let h2c = [
            dataset_management(
                1,
                &[DsmRange {
                    cattr: 0,
                    blocks: 1,
                    slba: 0,
                }],
                0,
            )
            .unwrap()
            .0,
            reservation_register(1, RegisterAction::Register, false, Cptpl::NoChange, 0, 1).0,
            reservation_acquire(
                1,
                AcquireAction::Acquire,
                false,
                ReservationType::WriteExclusive,
                1,
                0,
            )
            .0,
            reservation_release(
                1,
                ReleaseAction::Release,
                false,
                ReservationType::WriteExclusive,
                1,
            )
            .0,
            compare(1, 0, 1),
        ];
        for s in h2c {
            assert_eq!(
                data_direction(s.opc()),
                DataDir::HostToCtrl,
                "{:#x}",
                s.opc()
            );
        }
        assert_eq!(
            data_direction(reservation_report(1, 64).opc()),
            DataDir::CtrlToHost
        );
        for s in [flush(1), write_zeroes(1, 0, 1, false)] {
            assert_eq!(data_direction(s.opc()), DataDir::None);
        }
    }
}
