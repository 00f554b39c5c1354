//! Fabrics commands (Connect, Property Get/Set, Disconnect), the controller
//! registers reached through properties, and field views of the admin and
//! NVM commands the target decodes and the host builds.
//!
//! Every view has `from_sqe` (reads fields, never fails: semantic checks are
//! the caller's) and `to_sqe` (builds the command the way SPDK's host does,
//! including the SGL descriptor the golden captures show).

use super::opcodes::{self, admin, fctype, DataDir};
use super::sqe::{SglDescriptor, Sqe};

// ---------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------

/// Size of the Connect command's in-capsule data.
pub const CONNECT_DATA_LEN: usize = 1024;
/// Connect data offsets (also the IPO values for Connect Invalid Parameters
/// with IATTR = 1).
pub const CONNECT_DATA_HOSTID: usize = 0;
pub const CONNECT_DATA_CNTLID: usize = 16;
pub const CONNECT_DATA_SUBNQN: usize = 256;
pub const CONNECT_DATA_HOSTNQN: usize = 512;
/// Size of the SUBNQN and HOSTNQN fields, including the terminating NUL.
pub const NQN_FIELD_LEN: usize = 256;
/// CNTLID in an admin Connect: dynamic controller model, "allocate one".
pub const CNTLID_DYNAMIC: u16 = 0xFFFF;
/// CNTLID in an admin Connect: static model, "any controller".
pub const CNTLID_STATIC_ANY: u16 = 0xFFFE;

/// SQE offsets of the Connect fields (also the IPO values with IATTR = 0).
pub const CONNECT_RECFMT: usize = 40;
pub const CONNECT_QID: usize = 42;
pub const CONNECT_SQSIZE: usize = 44;
pub const CONNECT_CATTR: usize = 46;
pub const CONNECT_KATO: usize = 48;

/// Connect CATTR bit 2: the host disables SQ flow control (then the
/// controller may use C2HData SUCCESS and skip the CapsuleResp).
pub const CATTR_DISABLE_SQ_FLOW_CONTROL: u8 = 0x04;

/// The Connect command (OPC 0x7F, FCTYPE 0x01).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    /// Record format, 0 is the only one defined.
    pub recfmt: u16,
    /// Queue ID: 0 = admin queue.
    pub qid: u16,
    /// Submission queue size, 0's based (must be >= 1).
    pub sqsize: u16,
    /// Connect attributes (b2 = disable SQ flow control).
    pub cattr: u8,
    /// Keep alive timeout in ms (admin queue; 0 = none).
    pub kato: u32,
}

impl Connect {
    pub fn from_sqe(sqe: &Sqe) -> Connect {
        Connect {
            recfmt: sqe.u16_at(CONNECT_RECFMT),
            qid: sqe.u16_at(CONNECT_QID),
            sqsize: sqe.u16_at(CONNECT_SQSIZE),
            cattr: sqe.0[CONNECT_CATTR],
            kato: sqe.u32_at(CONNECT_KATO),
        }
    }
    /// The Connect SQE with the 1024 bytes of Connect data in-capsule.
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::FABRICS, cid);
        s.set_fctype(fctype::CONNECT);
        s.set_sgl(SglDescriptor::in_capsule(CONNECT_DATA_LEN as u32));
        s.set_u16_at(CONNECT_RECFMT, self.recfmt);
        s.set_u16_at(CONNECT_QID, self.qid);
        s.set_u16_at(CONNECT_SQSIZE, self.sqsize);
        s.0[CONNECT_CATTR] = self.cattr;
        s.set_u32_at(CONNECT_KATO, self.kato);
        s
    }
    pub fn sq_flow_control_disabled(&self) -> bool {
        self.cattr & CATTR_DISABLE_SQ_FLOW_CONTROL != 0
    }
}

/// Connect response DW0 for Connect Invalid Parameters: IPO (byte offset of
/// the bad field) in b15:0, IATTR in b16 (0 = the field is in the SQE, 1 =
/// in the Connect data).
pub const fn connect_invalid_params_dw0(in_data: bool, ipo: u16) -> u32 {
    (ipo as u32) | ((in_data as u32) << 16)
}

/// Connect response DW0 on success: CNTLID in b15:0. ATR (b17) and ASCR
/// (b18) stay 0: no authentication, which the Linux host requires.
pub const fn connect_success_dw0(cntlid: u16) -> u32 {
    cntlid as u32
}

/// Why Connect data could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectDataError {
    /// Fewer than 1024 bytes of in-capsule data.
    #[error("connect data is {len} bytes, expected {CONNECT_DATA_LEN}")]
    TooShort { len: usize },
    /// An NQN field is not NUL-terminated within its 256 bytes.
    #[error("{field} at offset {offset} is not NUL-terminated")]
    Unterminated { field: &'static str, offset: u16 },
    /// An NQN field is not valid UTF-8 (`at` is the offset of the bad byte).
    #[error("{field} at offset {offset} is not UTF-8 (byte {at})")]
    NotUtf8 {
        field: &'static str,
        offset: u16,
        at: u16,
    },
}

impl ConnectDataError {
    /// The IPO to report with IATTR = 1 in Connect Invalid Parameters: the
    /// offset of the offending field, as SPDK and nvmet report it.
    pub fn ipo(&self) -> u16 {
        match self {
            ConnectDataError::TooShort { .. } => 0,
            ConnectDataError::Unterminated { offset, .. } => *offset,
            ConnectDataError::NotUtf8 { offset, .. } => *offset,
        }
    }
    /// Same as [`ConnectDataError::ipo`].
    pub fn offset(&self) -> u16 {
        self.ipo()
    }
}

/// The 1024 bytes of Connect data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectData {
    pub hostid: [u8; 16],
    /// 0xFFFF on an admin Connect (dynamic model); the admin queue's CNTLID
    /// on an I/O Connect.
    pub cntlid: u16,
    pub subnqn: String,
    pub hostnqn: String,
}

fn nqn_field(data: &[u8], offset: usize, field: &'static str) -> Result<String, ConnectDataError> {
    let bytes = data
        .get(offset..offset + NQN_FIELD_LEN)
        .ok_or(ConnectDataError::TooShort { len: data.len() })?;
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or(ConnectDataError::Unterminated {
            field,
            offset: offset as u16,
        })?;
    let s = std::str::from_utf8(&bytes[..end]).map_err(|e| ConnectDataError::NotUtf8 {
        field,
        offset: offset as u16,
        at: (offset + e.valid_up_to()) as u16,
    })?;
    Ok(s.to_owned())
}

fn put_nqn(out: &mut [u8], s: &str) {
    // Keep one byte for the NUL and cut at a character boundary.
    let mut n = s.len().min(NQN_FIELD_LEN - 1);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
}

impl ConnectData {
    /// Parse Connect data. Reserved bytes are ignored; only the first 1024
    /// bytes are read.
    pub fn parse(data: &[u8]) -> Result<ConnectData, ConnectDataError> {
        if data.len() < CONNECT_DATA_LEN {
            return Err(ConnectDataError::TooShort { len: data.len() });
        }
        let mut hostid = [0u8; 16];
        hostid.copy_from_slice(&data[CONNECT_DATA_HOSTID..CONNECT_DATA_HOSTID + 16]);
        let cntlid = u16::from_le_bytes([data[CONNECT_DATA_CNTLID], data[CONNECT_DATA_CNTLID + 1]]);
        let subnqn = nqn_field(data, CONNECT_DATA_SUBNQN, "SUBNQN")?;
        let hostnqn = nqn_field(data, CONNECT_DATA_HOSTNQN, "HOSTNQN")?;
        Ok(ConnectData {
            hostid,
            cntlid,
            subnqn,
            hostnqn,
        })
    }
    /// The 1024-byte wire form. NQNs longer than 255 bytes are truncated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; CONNECT_DATA_LEN];
        b[CONNECT_DATA_HOSTID..CONNECT_DATA_HOSTID + 16].copy_from_slice(&self.hostid);
        b[CONNECT_DATA_CNTLID..CONNECT_DATA_CNTLID + 2].copy_from_slice(&self.cntlid.to_le_bytes());
        put_nqn(
            &mut b[CONNECT_DATA_SUBNQN..CONNECT_DATA_SUBNQN + NQN_FIELD_LEN],
            &self.subnqn,
        );
        put_nqn(
            &mut b[CONNECT_DATA_HOSTNQN..CONNECT_DATA_HOSTNQN + NQN_FIELD_LEN],
            &self.hostnqn,
        );
        b
    }
}

// ---------------------------------------------------------------------------
// Property Get / Set, Disconnect
// ---------------------------------------------------------------------------

/// SQE offsets of the property command fields.
pub const PROPERTY_ATTRIB: usize = 40;
pub const PROPERTY_OFST: usize = 44;
pub const PROPERTY_VALUE: usize = 48;

/// Property size from ATTRIB b2:0: 0 = 4 bytes, 1 = 8 bytes, others
/// reserved (`None`: answer Invalid Field).
pub fn property_size(sqe: &Sqe) -> Option<u32> {
    match sqe.0[PROPERTY_ATTRIB] & 0x7 {
        0 => Some(4),
        1 => Some(8),
        _ => None,
    }
}

/// Property Get (FCTYPE 0x04). The value comes back in CQE DW0 (low 32 bits)
/// and DW1 (high 32 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PropertyGet {
    /// 8-byte access (ATTRIB size 1). A reserved size reads as 4 bytes here;
    /// use [`property_size`] to reject it.
    pub size8: bool,
    pub ofst: u32,
}

impl PropertyGet {
    pub fn from_sqe(sqe: &Sqe) -> PropertyGet {
        PropertyGet {
            size8: sqe.0[PROPERTY_ATTRIB] & 0x7 == 1,
            ofst: sqe.u32_at(PROPERTY_OFST),
        }
    }
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::FABRICS, cid);
        s.set_fctype(fctype::PROPERTY_GET);
        s.set_sgl(SglDescriptor::transport(0));
        s.0[PROPERTY_ATTRIB] = self.size8 as u8;
        s.set_u32_at(PROPERTY_OFST, self.ofst);
        s
    }
}

/// Split a property value into CQE (DW0, DW1).
pub const fn property_value_dws(value: u64) -> (u32, u32) {
    (value as u32, (value >> 32) as u32)
}

/// Property Set (FCTYPE 0x00).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PropertySet {
    pub size8: bool,
    pub ofst: u32,
    /// For a 4-byte Set only the low 32 bits are meaningful.
    pub value: u64,
}

impl PropertySet {
    pub fn from_sqe(sqe: &Sqe) -> PropertySet {
        PropertySet {
            size8: sqe.0[PROPERTY_ATTRIB] & 0x7 == 1,
            ofst: sqe.u32_at(PROPERTY_OFST),
            value: sqe.u64_at(PROPERTY_VALUE),
        }
    }
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::FABRICS, cid);
        s.set_fctype(fctype::PROPERTY_SET);
        s.set_sgl(SglDescriptor::transport(0));
        s.0[PROPERTY_ATTRIB] = self.size8 as u8;
        s.set_u32_at(PROPERTY_OFST, self.ofst);
        let v = if self.size8 {
            self.value
        } else {
            self.value & 0xFFFF_FFFF
        };
        s.set_u64_at(PROPERTY_VALUE, v);
        s
    }
}

/// Disconnect (FCTYPE 0x08): close this queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    pub recfmt: u16,
}

impl Disconnect {
    pub fn from_sqe(sqe: &Sqe) -> Disconnect {
        Disconnect {
            recfmt: sqe.u16_at(CONNECT_RECFMT),
        }
    }
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::FABRICS, cid);
        s.set_fctype(fctype::DISCONNECT);
        s.set_sgl(SglDescriptor::transport(0));
        s.set_u16_at(CONNECT_RECFMT, self.recfmt);
        s
    }
}

// ---------------------------------------------------------------------------
// Controller registers (properties)
// ---------------------------------------------------------------------------

pub const REG_CAP: u32 = 0x00;
pub const REG_VS: u32 = 0x08;
pub const REG_CC: u32 = 0x14;
pub const REG_CSTS: u32 = 0x1C;
pub const REG_NSSR: u32 = 0x20;
pub const REG_CRTO: u32 = 0x68;

/// Size in bytes of a register on fabrics (CAP is 8, the rest 4), or `None`
/// for offsets this codebase does not define.
pub const fn register_size(ofst: u32) -> Option<u32> {
    match ofst {
        REG_CAP => Some(8),
        REG_VS | REG_CC | REG_CSTS | REG_NSSR | REG_CRTO => Some(4),
        _ => None,
    }
}

const fn bits64(v: u64, lo: u32, width: u32) -> u64 {
    (v >> lo) & ((1u64 << width) - 1)
}

const fn bits32(v: u32, lo: u32, width: u32) -> u32 {
    (v >> lo) & ((1u32 << width) - 1)
}

/// CAP, Controller Capabilities (8 bytes at 0x00).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cap(pub u64);

/// CAP.CSS bit 0 (CAP b37): NVM command set.
pub const CAP_CSS_NVM: u8 = 0x01;
/// CAP.CSS bit 6 (CAP b43): one or more I/O command sets (CC.CSS = 6 allowed).
pub const CAP_CSS_IO_SETS: u8 = 0x40;
/// CAP.CSS bit 7 (CAP b44): admin command set only.
pub const CAP_CSS_ADMIN_ONLY: u8 = 0x80;

impl Cap {
    /// CAP from its commonly set fields; AMS, DSTRD and the optional
    /// capability bits are 0.
    pub const fn build(mqes: u16, cqr: bool, to: u8, css: u8, mpsmin: u8, mpsmax: u8) -> Cap {
        Cap((mqes as u64)
            | ((cqr as u64) << 16)
            | ((to as u64) << 24)
            | ((css as u64) << 37)
            | (((mpsmin & 0xF) as u64) << 48)
            | (((mpsmax & 0xF) as u64) << 52))
    }
    /// Maximum queue entries supported, 0's based.
    pub const fn mqes(&self) -> u16 {
        bits64(self.0, 0, 16) as u16
    }
    /// Contiguous queues required.
    pub const fn cqr(&self) -> bool {
        bits64(self.0, 16, 1) != 0
    }
    /// Arbitration mechanisms supported.
    pub const fn ams(&self) -> u8 {
        bits64(self.0, 17, 2) as u8
    }
    /// Timeout for CSTS.RDY transitions, in 500 ms units.
    pub const fn to(&self) -> u8 {
        bits64(self.0, 24, 8) as u8
    }
    pub const fn dstrd(&self) -> u8 {
        bits64(self.0, 32, 4) as u8
    }
    pub const fn nssrs(&self) -> bool {
        bits64(self.0, 36, 1) != 0
    }
    /// Command sets supported (b44:37).
    pub const fn css(&self) -> u8 {
        bits64(self.0, 37, 8) as u8
    }
    /// Minimum memory page size: 2^(12 + MPSMIN).
    pub const fn mpsmin(&self) -> u8 {
        bits64(self.0, 48, 4) as u8
    }
    /// Maximum memory page size: 2^(12 + MPSMAX).
    pub const fn mpsmax(&self) -> u8 {
        bits64(self.0, 52, 4) as u8
    }
    /// Controller ready modes supported (b60:59).
    pub const fn crms(&self) -> u8 {
        bits64(self.0, 59, 2) as u8
    }
}

/// VS, Version (4 bytes at 0x08).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vs(pub u32);

impl Vs {
    pub const V1_3: Vs = Vs::new(1, 3, 0);
    pub const V1_4: Vs = Vs::new(1, 4, 0);
    pub const V2_0: Vs = Vs::new(2, 0, 0);
    pub const fn new(major: u16, minor: u8, tertiary: u8) -> Vs {
        Vs(((major as u32) << 16) | ((minor as u32) << 8) | tertiary as u32)
    }
    pub const fn major(&self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub const fn minor(&self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub const fn tertiary(&self) -> u8 {
        self.0 as u8
    }
}

/// CC, Controller Configuration (4 bytes at 0x14).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cc(pub u32);

/// CC.SHN values.
pub const SHN_NONE: u8 = 0;
pub const SHN_NORMAL: u8 = 1;
pub const SHN_ABRUPT: u8 = 2;
/// CC.CSS values.
pub const CC_CSS_NVM: u8 = 0;
pub const CC_CSS_ALL_IO_SETS: u8 = 6;
pub const CC_CSS_ADMIN_ONLY: u8 = 7;

impl Cc {
    pub const fn en(&self) -> bool {
        bits32(self.0, 0, 1) != 0
    }
    /// I/O command set selected (b6:4).
    pub const fn css(&self) -> u8 {
        bits32(self.0, 4, 3) as u8
    }
    /// Memory page size 2^(12 + MPS) (b10:7).
    pub const fn mps(&self) -> u8 {
        bits32(self.0, 7, 4) as u8
    }
    /// Arbitration mechanism (b13:11).
    pub const fn ams(&self) -> u8 {
        bits32(self.0, 11, 3) as u8
    }
    /// Shutdown notification (b15:14).
    pub const fn shn(&self) -> u8 {
        bits32(self.0, 14, 2) as u8
    }
    /// I/O SQ entry size as log2 (b19:16); 6 = 64 bytes.
    pub const fn iosqes(&self) -> u8 {
        bits32(self.0, 16, 4) as u8
    }
    /// I/O CQ entry size as log2 (b23:20); 4 = 16 bytes.
    pub const fn iocqes(&self) -> u8 {
        bits32(self.0, 20, 4) as u8
    }
    /// Controller ready independent of media enable (b24).
    pub const fn crime(&self) -> bool {
        bits32(self.0, 24, 1) != 0
    }
    /// The same value with EN changed.
    pub const fn with_en(self, en: bool) -> Cc {
        Cc((self.0 & !1) | en as u32)
    }
}

/// CSTS, Controller Status (4 bytes at 0x1C).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Csts(pub u32);

/// CSTS.SHST values.
pub const SHST_NORMAL: u8 = 0;
pub const SHST_OCCURRING: u8 = 1;
pub const SHST_COMPLETE: u8 = 2;

impl Csts {
    pub const fn new(rdy: bool, cfs: bool, shst: u8) -> Csts {
        Csts((rdy as u32) | ((cfs as u32) << 1) | (((shst & 0x3) as u32) << 2))
    }
    pub const fn rdy(&self) -> bool {
        bits32(self.0, 0, 1) != 0
    }
    /// Controller fatal status.
    pub const fn cfs(&self) -> bool {
        bits32(self.0, 1, 1) != 0
    }
    /// Shutdown status (b3:2).
    pub const fn shst(&self) -> u8 {
        bits32(self.0, 2, 2) as u8
    }
    pub const fn nssro(&self) -> bool {
        bits32(self.0, 4, 1) != 0
    }
    pub const fn pp(&self) -> bool {
        bits32(self.0, 5, 1) != 0
    }
}

// ---------------------------------------------------------------------------
// Admin command views
// ---------------------------------------------------------------------------

/// SGL for a command built by our host, following the opcode's direction the
/// way SPDK's host does it: host-to-controller data in-capsule (descriptor
/// 0x01, also with length 0), everything else a transport data block (0x5A).
fn host_sgl(dir: DataDir, len: u32) -> SglDescriptor {
    match dir {
        DataDir::HostToCtrl => SglDescriptor::in_capsule(len),
        _ => SglDescriptor::transport(len),
    }
}

/// Get Log Page (admin 0x02).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetLogPage {
    /// Log page identifier (CDW10 b7:0).
    pub lid: u8,
    /// Log specific field (CDW10 b14:8, 7 bits).
    pub lsp: u8,
    /// Retain asynchronous event (CDW10 b15).
    pub rae: bool,
    /// Number of dwords, 0's based: NUMDL (CDW10 b31:16) | NUMDU (CDW11
    /// b15:0) << 16. The transfer is `(numd + 1) * 4` bytes.
    pub numd: u32,
    /// Log page offset in bytes: LPOL (CDW12) | LPOU (CDW13) << 32.
    pub lpo: u64,
    pub nsid: u32,
}

impl GetLogPage {
    pub fn from_sqe(sqe: &Sqe) -> GetLogPage {
        let cdw10 = sqe.cdw(10);
        let cdw11 = sqe.cdw(11);
        GetLogPage {
            lid: cdw10 as u8,
            lsp: ((cdw10 >> 8) & 0x7F) as u8,
            rae: cdw10 & (1 << 15) != 0,
            numd: (cdw10 >> 16) | ((cdw11 & 0xFFFF) << 16),
            lpo: sqe.cdw(12) as u64 | ((sqe.cdw(13) as u64) << 32),
            nsid: sqe.nsid(),
        }
    }
    /// Transfer length in bytes, `(numd + 1) * 4` (up to 16 GiB; saturates
    /// on a 32-bit target).
    pub const fn len_bytes(&self) -> usize {
        let n = (self.numd as u64 + 1) * 4;
        if n > usize::MAX as u64 {
            usize::MAX
        } else {
            n as usize
        }
    }
    /// NUMD (0's based dwords) for a transfer of `bytes` (rounded up to a
    /// dword; 0 bytes gives NUMD 0).
    pub const fn numd_for_len(bytes: u32) -> u32 {
        let dw = bytes.div_ceil(4);
        if dw == 0 {
            0
        } else {
            dw - 1
        }
    }
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::GET_LOG_PAGE, cid);
        s.set_nsid(self.nsid);
        let len = u32::try_from(self.len_bytes()).unwrap_or(u32::MAX);
        s.set_sgl(SglDescriptor::transport(len));
        s.set_cdw(
            10,
            self.lid as u32
                | ((self.lsp as u32 & 0x7F) << 8)
                | ((self.rae as u32) << 15)
                | ((self.numd & 0xFFFF) << 16),
        );
        s.set_cdw(11, self.numd >> 16);
        s.set_cdw(12, self.lpo as u32);
        s.set_cdw(13, (self.lpo >> 32) as u32);
        s
    }
}

/// Size of every Identify data structure.
pub const IDENTIFY_DATA_LEN: u32 = 4096;

/// Identify (admin 0x06).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identify {
    /// Controller or namespace structure (CDW10 b7:0).
    pub cns: u8,
    /// Controller identifier (CDW10 b31:16).
    pub cntid: u16,
    pub nsid: u32,
}

impl Identify {
    pub fn from_sqe(sqe: &Sqe) -> Identify {
        let cdw10 = sqe.cdw(10);
        Identify {
            cns: cdw10 as u8,
            cntid: (cdw10 >> 16) as u16,
            nsid: sqe.nsid(),
        }
    }
    pub fn to_sqe(&self, cid: u16) -> Sqe {
        let mut s = Sqe::new(admin::IDENTIFY, cid);
        s.set_nsid(self.nsid);
        s.set_sgl(SglDescriptor::transport(IDENTIFY_DATA_LEN));
        s.set_cdw(10, self.cns as u32 | ((self.cntid as u32) << 16));
        s
    }
}

/// Get Features (0x0A) / Set Features (0x09). One view serves both: SV only
/// exists in Set, SEL only in Get, and they use different bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Feature identifier (CDW10 b7:0).
    pub fid: u8,
    /// Save (Set Features CDW10 b31).
    pub sv: bool,
    /// Select (Get Features CDW10 b10:8): 0 current, 1 default, 2 saved,
    /// 3 supported capabilities.
    pub sel: u8,
    /// Feature specific value.
    pub cdw11: u32,
}

impl Features {
    pub fn from_sqe(sqe: &Sqe) -> Features {
        let cdw10 = sqe.cdw(10);
        Features {
            fid: cdw10 as u8,
            sv: cdw10 & (1 << 31) != 0,
            sel: ((cdw10 >> 8) & 0x7) as u8,
            cdw11: sqe.cdw(11),
        }
    }
    /// Build a Get (`opc` 0x0A) or Set (`opc` 0x09) Features command without
    /// a data buffer.
    pub fn to_sqe(&self, opc: u8, cid: u16) -> Sqe {
        let mut s = Sqe::new(opc, cid);
        s.set_sgl(host_sgl(opcodes::data_direction(opc), 0));
        s.set_cdw(
            10,
            self.fid as u32 | ((self.sel as u32 & 0x7) << 8) | ((self.sv as u32) << 31),
        );
        s.set_cdw(11, self.cdw11);
        s
    }
}

/// Number of Queues feature value (CDW11 and the completion's DW0): NSQR in
/// b15:0 and NCQR in b31:16, both 0's based.
pub const fn number_of_queues_value(nsq: u16, ncq: u16) -> u32 {
    nsq as u32 | ((ncq as u32) << 16)
}

/// Asynchronous Event Request completion DW0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AerCompletion {
    /// Event type (b2:0), e.g. 2 = notice.
    pub ty: u8,
    /// Event information (b15:8), e.g. 0x03 = ANA change.
    pub info: u8,
    /// Log page to read to clear the event (b23:16).
    pub lid: u8,
}

impl AerCompletion {
    /// The ANA change notice: type 2, info 0x03, LID 0x0C (DW0 0x000C0302).
    pub const ANA_CHANGE: AerCompletion = AerCompletion {
        ty: opcodes::aer::TYPE_NOTICE,
        info: opcodes::aer::NOTICE_ANA_CHANGE,
        lid: opcodes::log_id::ANA,
    };
    /// Namespace attribute changed: type 2, info 0x00, LID 0x04.
    pub const NS_ATTR_CHANGED: AerCompletion = AerCompletion {
        ty: opcodes::aer::TYPE_NOTICE,
        info: opcodes::aer::NOTICE_NS_ATTR_CHANGED,
        lid: opcodes::log_id::CHANGED_NS_LIST,
    };
    /// Discovery log page changed: type 2, info 0xF0, LID 0x70.
    pub const DISCOVERY_LOG_CHANGE: AerCompletion = AerCompletion {
        ty: opcodes::aer::TYPE_NOTICE,
        info: opcodes::aer::NOTICE_DISCOVERY_LOG_CHANGE,
        lid: opcodes::log_id::DISCOVERY,
    };
    pub const fn to_dw0(&self) -> u32 {
        (self.ty as u32 & 0x7) | ((self.info as u32) << 8) | ((self.lid as u32) << 16)
    }
    pub const fn from_dw0(dw0: u32) -> AerCompletion {
        AerCompletion {
            ty: (dw0 & 0x7) as u8,
            info: (dw0 >> 8) as u8,
            lid: (dw0 >> 16) as u8,
        }
    }
}

// ---------------------------------------------------------------------------
// NVM I/O view
// ---------------------------------------------------------------------------

/// Read / Write / Write Zeroes / Compare / Verify range fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RwCommand {
    /// Starting LBA: CDW10 | CDW11 << 32.
    pub slba: u64,
    /// Number of logical blocks, 0's based (CDW12 b15:0).
    pub nlb: u32,
}

impl RwCommand {
    pub fn from_sqe(sqe: &Sqe) -> RwCommand {
        RwCommand {
            slba: sqe.cdw(10) as u64 | ((sqe.cdw(11) as u64) << 32),
            nlb: sqe.cdw(12) & 0xFFFF,
        }
    }
    /// Block count (NLB + 1).
    pub const fn blocks(&self) -> u32 {
        (self.nlb & 0xFFFF) + 1
    }
    /// One past the last LBA, without overflow.
    pub const fn end_lba(&self) -> Option<u64> {
        self.slba.checked_add(self.blocks() as u64)
    }
    /// Build the command. CDW12's other bits (FUA, LR, DEAC, PRINFO) are 0;
    /// `sgl` describes the data (in-capsule or transport).
    pub fn to_sqe(&self, opc: u8, cid: u16, nsid: u32, sgl: SglDescriptor) -> Sqe {
        let mut s = Sqe::new(opc, cid);
        s.set_nsid(nsid);
        s.set_sgl(sgl);
        s.set_cdw(10, self.slba as u32);
        s.set_cdw(11, (self.slba >> 32) as u32);
        s.set_cdw(12, self.nlb & 0xFFFF);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvme::opcodes::{feature, log_id, nvm};

    #[test]
    fn connect_layout() {
        let c = Connect {
            recfmt: 0,
            qid: 1,
            sqsize: 127,
            cattr: 0,
            kato: 10000,
        };
        let s = c.to_sqe(0);
        // Bytes 40..52 of the I/O-queue Connect in howto.pcap.
        assert_eq!(&s.0[40..52], &[0, 0, 1, 0, 0x7f, 0, 0, 0, 0x10, 0x27, 0, 0]);
        assert_eq!(s.opc(), 0x7F);
        assert_eq!(s.fctype(), 0x01);
        assert_eq!(s.sgl(), SglDescriptor::in_capsule(1024));
        assert_eq!(Connect::from_sqe(&s), c);
        let mut s2 = s;
        s2.0[46] = 0x04;
        assert!(Connect::from_sqe(&s2).sq_flow_control_disabled());
        assert_eq!(connect_invalid_params_dw0(true, 256), 0x0001_0100);
        assert_eq!(connect_invalid_params_dw0(false, 44), 44);
        assert_eq!(connect_success_dw0(2), 2);
    }

    #[test]
    fn connect_data_round_trip_and_errors() {
        let d = ConnectData {
            hostid: [7; 16],
            cntlid: 0xFFFF,
            subnqn: "nqn.2016-06.io.spdk:cnode1".into(),
            hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0".into(),
        };
        let b = d.to_bytes();
        assert_eq!(b.len(), CONNECT_DATA_LEN);
        assert_eq!(&b[16..18], &[0xFF, 0xFF]);
        assert_eq!(&b[256..260], b"nqn.");
        assert_eq!(&b[512..516], b"nqn.");
        assert_eq!(ConnectData::parse(&b).as_ref(), Ok(&d));

        assert_eq!(
            ConnectData::parse(&b[..1023]),
            Err(ConnectDataError::TooShort { len: 1023 })
        );
        let mut bad = b.clone();
        bad[256..512].fill(b'a');
        let e = ConnectData::parse(&bad).unwrap_err();
        assert_eq!(e.ipo(), 256);
        let mut bad = b.clone();
        bad[512] = 0xFF;
        let e = ConnectData::parse(&bad).unwrap_err();
        assert_eq!(
            e,
            ConnectDataError::NotUtf8 {
                field: "HOSTNQN",
                offset: 512,
                at: 512
            }
        );
        assert_eq!(e.ipo(), 512);

        // Over-long NQNs are cut so the NUL still fits; multi-byte chars are
        // not split.
        let long = ConnectData {
            subnqn: "é".repeat(200),
            ..d.clone()
        };
        let parsed = ConnectData::parse(&long.to_bytes()).expect("parses");
        assert_eq!(parsed.subnqn.len(), 254);
    }

    #[test]
    fn property_layout() {
        let g = PropertyGet {
            size8: true,
            ofst: REG_CAP,
        };
        let s = g.to_sqe(4);
        assert_eq!(s.0[40], 1);
        assert_eq!(s.u32_at(44), 0);
        assert_eq!(s.fctype(), fctype::PROPERTY_GET);
        assert_eq!(PropertyGet::from_sqe(&s), g);
        assert_eq!(property_size(&s), Some(8));
        let mut r = s;
        r.0[40] = 2;
        assert_eq!(property_size(&r), None);

        let p = PropertySet {
            size8: false,
            ofst: REG_CC,
            value: 0x0046_0001,
        };
        let s = p.to_sqe(4);
        assert_eq!(
            &s.0[40..56],
            &[0, 0, 0, 0, 0x14, 0, 0, 0, 0x01, 0, 0x46, 0, 0, 0, 0, 0]
        );
        assert_eq!(PropertySet::from_sqe(&s), p);
        assert_eq!(
            property_value_dws(0x0000_0020_1e01_007f),
            (0x1e01_007f, 0x20)
        );

        let d = Disconnect { recfmt: 0 };
        let s = d.to_sqe(9);
        assert_eq!(s.fctype(), fctype::DISCONNECT);
        assert_eq!(Disconnect::from_sqe(&s), d);
    }

    #[test]
    fn registers() {
        // CAP as SPDK v24.09 reports it.
        let cap = Cap(0x0000_0020_1e01_007f);
        assert_eq!(cap.mqes(), 127);
        assert!(cap.cqr());
        assert_eq!(cap.ams(), 0);
        assert_eq!(cap.to(), 30);
        assert_eq!(cap.css(), CAP_CSS_NVM);
        assert_eq!(cap.mpsmin(), 0);
        assert_eq!(cap.mpsmax(), 0);
        assert_eq!(Cap::build(127, true, 30, CAP_CSS_NVM, 0, 0), cap);
        let c2 = Cap::build(1023, false, 15, CAP_CSS_NVM | CAP_CSS_IO_SETS, 0, 4);
        assert_eq!(c2.css(), 0x41);
        assert_eq!(c2.0 >> 43 & 1, 1);
        assert_eq!(c2.mpsmax(), 4);
        assert_eq!(c2.mqes(), 1023);

        assert_eq!(Vs::V1_3.0, 0x0001_0300);
        assert_eq!(Vs::V1_4.0, 0x0001_0400);
        assert_eq!(Vs::V2_0.0, 0x0002_0000);
        assert_eq!(Vs(0x0001_0300).minor(), 3);

        let cc = Cc(0x0046_0001);
        assert!(cc.en());
        assert_eq!(cc.iosqes(), 6);
        assert_eq!(cc.iocqes(), 4);
        assert_eq!(cc.css(), 0);
        assert_eq!(cc.mps(), 0);
        assert_eq!(cc.ams(), 0);
        assert_eq!(cc.shn(), SHN_NONE);
        assert_eq!(Cc(0x0046_4001).shn(), SHN_NORMAL);
        assert_eq!(Cc(0x0046_0060).css(), CC_CSS_ALL_IO_SETS);
        assert_eq!(Cc(0x0046_0000).with_en(true), Cc(0x0046_0001));
        assert!(!Cc(0x0100_0000).en());
        assert!(Cc(0x0100_0000).crime());

        let csts = Csts(0x9);
        assert!(csts.rdy());
        assert!(!csts.cfs());
        assert_eq!(csts.shst(), SHST_COMPLETE);
        assert_eq!(Csts::new(true, false, SHST_COMPLETE), csts);
        assert!(Csts::new(false, true, 0).cfs());

        assert_eq!(register_size(REG_CAP), Some(8));
        assert_eq!(register_size(REG_CSTS), Some(4));
        assert_eq!(register_size(0x30), None);
    }

    #[test]
    fn get_log_page_fields() {
        // The ANA log read in howto.pcap: CDW10 0x0104000C, NSID all-ones.
        let mut s = Sqe::new(admin::GET_LOG_PAGE, 4);
        s.set_cdw(10, 0x0104_000C);
        s.set_nsid(0xFFFF_FFFF);
        let g = GetLogPage::from_sqe(&s);
        assert_eq!(g.lid, log_id::ANA);
        assert_eq!(g.numd, 0x104);
        assert_eq!(g.len_bytes(), 1044);
        assert!(!g.rae);
        assert_eq!(g.lsp, 0);
        assert_eq!(g.nsid, 0xFFFF_FFFF);
        let rebuilt = g.to_sqe(4);
        assert_eq!(rebuilt.cdw(10), 0x0104_000C);
        assert_eq!(rebuilt.sgl(), SglDescriptor::transport(1044));

        // All fields at their bit positions.
        let g = GetLogPage {
            lid: 0x70,
            lsp: 0x7F,
            rae: true,
            numd: 0x1234_5678,
            lpo: 0x0000_0001_0000_0200,
            nsid: 0,
        };
        let s = g.to_sqe(1);
        assert_eq!(s.cdw(10), 0x5678_FF70);
        assert_eq!(s.cdw(11), 0x1234);
        assert_eq!(s.cdw(12), 0x200);
        assert_eq!(s.cdw(13), 1);
        assert_eq!(GetLogPage::from_sqe(&s), g);
        assert_eq!(GetLogPage::numd_for_len(1044), 0x104);
        assert_eq!(GetLogPage::numd_for_len(0), 0);
        assert_eq!(GetLogPage::numd_for_len(5), 1);
        let max = GetLogPage {
            numd: u32::MAX,
            ..g
        };
        assert_eq!(max.len_bytes() as u64, 1u64 << 34);
        assert_eq!(max.to_sqe(0).sgl().len, u32::MAX);
    }

    #[test]
    fn identify_and_features() {
        let i = Identify {
            cns: 0x01,
            cntid: 0x1234,
            nsid: 0,
        };
        let s = i.to_sqe(4);
        assert_eq!(s.cdw(10), 0x1234_0001);
        assert_eq!(s.sgl(), SglDescriptor::transport(4096));
        assert_eq!(Identify::from_sqe(&s), i);

        let f = Features {
            fid: feature::NUMBER_OF_QUEUES,
            sv: false,
            sel: 0,
            cdw11: number_of_queues_value(0x3FF, 0x3FF),
        };
        let s = f.to_sqe(admin::SET_FEATURES, 4);
        assert_eq!(s.cdw(10), 7);
        assert_eq!(s.cdw(11), 0x03FF_03FF);
        assert_eq!(s.sgl(), SglDescriptor::in_capsule(0));
        let g = Features {
            fid: feature::KEEP_ALIVE_TIMER,
            sv: false,
            sel: 3,
            cdw11: 0,
        };
        let s = g.to_sqe(admin::GET_FEATURES, 4);
        assert_eq!(s.cdw(10), 0x30F);
        assert_eq!(s.sgl(), SglDescriptor::transport(0));
        assert_eq!(Features::from_sqe(&s), g);
        let sv = Features { sv: true, ..f };
        assert_eq!(sv.to_sqe(admin::SET_FEATURES, 0).cdw(10), 0x8000_0007);
    }

    #[test]
    fn aer_dw0() {
        assert_eq!(AerCompletion::ANA_CHANGE.to_dw0(), 0x000C_0302);
        assert_eq!(
            AerCompletion::from_dw0(0x000C_0302),
            AerCompletion::ANA_CHANGE
        );
        assert_eq!(AerCompletion::NS_ATTR_CHANGED.to_dw0(), 0x0004_0002);
        assert_eq!(AerCompletion::DISCOVERY_LOG_CHANGE.to_dw0(), 0x0070_F002);
    }

    #[test]
    fn rw_fields() {
        let rw = RwCommand {
            slba: 0x0000_0001_0000_0010,
            nlb: 7,
        };
        let s = rw.to_sqe(nvm::WRITE, 3, 1, SglDescriptor::in_capsule(4096));
        assert_eq!(s.cdw(10), 0x10);
        assert_eq!(s.cdw(11), 1);
        assert_eq!(s.cdw(12), 7);
        assert_eq!(s.nsid(), 1);
        assert_eq!(RwCommand::from_sqe(&s), rw);
        assert_eq!(rw.blocks(), 8);
        // Upper CDW12 bits (FUA, LR) are not part of NLB.
        let mut s2 = s;
        s2.set_cdw(12, 0xC000_0007);
        assert_eq!(RwCommand::from_sqe(&s2).nlb, 7);
        let edge = RwCommand {
            slba: u64::MAX,
            nlb: 0,
        };
        assert_eq!(edge.end_lba(), None);
    }
}
