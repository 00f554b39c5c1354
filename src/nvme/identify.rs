//! Identify data structures (admin opcode 06h), as a target writes them and a
//! host reads them.
//!
//! * CNS 01h: [`IdentifyController`]
//! * CNS 00h: [`IdentifyNamespace`]
//! * CNS 02h: active namespace ID list ([`encode_ns_list`], [`parse_ns_list`])
//! * CNS 03h: namespace identification descriptor list
//!   ([`encode_ns_id_descriptors`], [`parse_ns_id_descriptors`])
//!
//! Every Identify transfer is 4096 bytes. Offsets are those of the NVMe Base
//! Specification (the same ones SPDK pins with static asserts in
//! `struct spdk_nvme_ctrlr_data` / `spdk_nvme_ns_data`). All multi-byte
//! integers are little endian.
//!
//! Bytes that are not modelled by a field are written as zero and ignored on
//! parse. The modelled set covers every byte SPDK v24.09's target fills, so
//! `parse(spdk_bytes).to_bytes() == spdk_bytes` (see the golden test in
//! `tests/nvme_identify_log_golden.rs`). Not modelled: power state
//! descriptors (2048..3072), vendor-specific areas, and rarely used
//! capability fields (HMB, RPMB, sanitize, thermal management, ...).
//!
//! Nothing here panics on input: lengths are checked before reading, and
//! every read goes through bounds-checked helpers.

use super::bytes::{
    fit, rd, rd_u128, rd_u16, rd_u32, rd_u64, rd_u8, wr, wr_text, wr_u128, wr_u16, wr_u32, wr_u64,
    wr_u8,
};
use thiserror::Error;

/// Size of every Identify data structure.
pub const IDENTIFY_DATA_LEN: usize = 4096;

/// Maximum number of NSIDs in one CNS 02h list (4096 / 4).
pub const NS_LIST_MAX_ENTRIES: usize = 1024;

/// Maximum number of LBA formats in Identify Namespace (NVMe 2.0: 64).
pub const MAX_LBA_FORMATS: usize = 64;

/// The broadcast NSID; never a real namespace.
pub const NSID_BROADCAST: u32 = 0xFFFF_FFFF;

/// CNS values (CDW10 bits 7:0) this module has structures for.
pub mod cns {
    /// Identify Namespace for the NSID in the command.
    pub const NAMESPACE: u8 = 0x00;
    /// Identify Controller.
    pub const CONTROLLER: u8 = 0x01;
    /// Active namespace ID list (NSIDs greater than the command's NSID).
    pub const ACTIVE_NS_LIST: u8 = 0x02;
    /// Namespace identification descriptor list.
    pub const NS_ID_DESCRIPTORS: u8 = 0x03;
}

/// CMIC bit 0: the subsystem may have more than one port.
pub const CMIC_MULTI_PORT: u8 = 1 << 0;
/// CMIC bit 1: the subsystem may have more than one controller. Linux refuses
/// a second controller in a subsystem without it.
pub const CMIC_MULTI_CTRL: u8 = 1 << 1;
/// CMIC bit 3: ANA reporting supported (hosts read LID 0Ch only with it).
pub const CMIC_ANA_REPORTING: u8 = 1 << 3;

/// OAES bit 8: Namespace Attribute Notices.
pub const OAES_NS_ATTRIBUTE: u32 = 1 << 8;
/// OAES bit 9: Firmware Activation Notices.
pub const OAES_FW_ACTIVATION: u32 = 1 << 9;
/// OAES bit 11: ANA Change Notices.
pub const OAES_ANA_CHANGE: u32 = 1 << 11;
/// OAES bit 31: Discovery Log Page Change Notification.
pub const OAES_DISCOVERY_LOG_CHANGE: u32 = 1 << 31;

/// ANACAP bit 0: reports the Optimized state.
pub const ANACAP_OPTIMIZED: u8 = 1 << 0;
/// ANACAP bit 1: reports the Non-Optimized state.
pub const ANACAP_NON_OPTIMIZED: u8 = 1 << 1;
/// ANACAP bit 2: reports the Inaccessible state.
pub const ANACAP_INACCESSIBLE: u8 = 1 << 2;
/// ANACAP bit 3: reports the Persistent Loss state.
pub const ANACAP_PERSISTENT_LOSS: u8 = 1 << 3;
/// ANACAP bit 4: reports the Change state.
pub const ANACAP_CHANGE: u8 = 1 << 4;
/// ANACAP bit 6: a namespace's ANAGRPID does not change while it is attached.
pub const ANACAP_GRPID_STATIC: u8 = 1 << 6;
/// ANACAP bit 7: non-zero ANAGRPID supported in Namespace Management.
pub const ANACAP_GRPID_NONZERO: u8 = 1 << 7;

/// CNTRLTYPE: I/O controller.
pub const CNTRLTYPE_IO: u8 = 1;
/// CNTRLTYPE: discovery controller.
pub const CNTRLTYPE_DISCOVERY: u8 = 2;
/// CNTRLTYPE: administrative controller.
pub const CNTRLTYPE_ADMIN: u8 = 3;

/// NMIC bit 0: the namespace may be attached to more than one controller
/// (required for a multipath shared namespace).
pub const NMIC_SHARED: u8 = 1 << 0;

/// Errors from parsing Identify data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentifyError {
    /// The buffer is shorter than the structure.
    #[error("{what}: need {need} bytes, got {got}")]
    TooShort {
        /// Which structure was being parsed.
        what: &'static str,
        /// Bytes required.
        need: usize,
        /// Bytes available.
        got: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("identify field {field} is not valid UTF-8")]
    InvalidString {
        /// Field name as in the specification.
        field: &'static str,
    },
    /// A known descriptor type carries a length the specification forbids.
    #[error(
        "NS identification descriptor at offset {offset}: NIDT {nidt} requires NIDL {expected}, got {nidl}"
    )]
    BadNidl {
        /// Byte offset of the descriptor in the list.
        offset: usize,
        /// Descriptor type.
        nidt: u8,
        /// Length found.
        nidl: u8,
        /// Length the type requires.
        expected: u8,
    },
    /// A descriptor's header or identifier runs past the end of the data.
    #[error("NS identification descriptor at offset {offset} runs past the end of the list ({len} bytes)")]
    TruncatedDescriptor {
        /// Byte offset of the descriptor in the list.
        offset: usize,
        /// Length of the list that was examined.
        len: usize,
    },
}

/// ASCII fields of Identify (SN, MN, FR) are space padded per the spec.
/// Text longer than the field is truncated (the RPC layer validates lengths
/// before the target ever builds an Identify page).
fn wr_space_padded(b: &mut [u8], off: usize, len: usize, s: &str) {
    wr_text(b, off, len, s, b' ');
}

/// NQN fields are NUL padded (and NUL terminated when shorter than the
/// field). The buffer is already zero, so only the text is written.
fn wr_nul_padded(b: &mut [u8], off: usize, len: usize, s: &str) {
    wr(b, off, fit(s, len));
}

/// Reads a space- (or NUL-) padded text field: trailing spaces and NULs are
/// padding, whatever the writer chose (SPDK and nvmet use spaces, some
/// devices NULs).
fn rd_padded(
    b: &[u8],
    off: usize,
    len: usize,
    field: &'static str,
) -> Result<String, IdentifyError> {
    let raw = off
        .checked_add(len)
        .and_then(|end| b.get(off..end))
        .unwrap_or_default();
    let end = raw
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p + 1);
    String::from_utf8(raw[..end].to_vec()).map_err(|_| IdentifyError::InvalidString { field })
}

/// Reads a NUL-terminated text field (NQNs): the text ends at the first NUL.
fn rd_nul_terminated(
    b: &[u8],
    off: usize,
    len: usize,
    field: &'static str,
) -> Result<String, IdentifyError> {
    let raw = off
        .checked_add(len)
        .and_then(|end| b.get(off..end))
        .unwrap_or_default();
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    String::from_utf8(raw[..end].to_vec()).map_err(|_| IdentifyError::InvalidString { field })
}

fn need(what: &'static str, b: &[u8], n: usize) -> Result<(), IdentifyError> {
    if b.len() < n {
        Err(IdentifyError::TooShort {
            what,
            need: n,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Identify Controller (CNS 01h)

/// Byte offsets in the Identify Controller data structure.
mod ctrl_off {
    pub const VID: usize = 0;
    pub const SSVID: usize = 2;
    pub const SN: usize = 4;
    pub const SN_LEN: usize = 20;
    pub const MN: usize = 24;
    pub const MN_LEN: usize = 40;
    pub const FR: usize = 64;
    pub const FR_LEN: usize = 8;
    pub const RAB: usize = 72;
    pub const IEEE: usize = 73;
    pub const CMIC: usize = 76;
    pub const MDTS: usize = 77;
    pub const CNTLID: usize = 78;
    pub const VER: usize = 80;
    pub const RTD3R: usize = 84;
    pub const RTD3E: usize = 88;
    pub const OAES: usize = 92;
    pub const CTRATT: usize = 96;
    pub const RRLS: usize = 100;
    pub const CNTRLTYPE: usize = 111;
    pub const FGUID: usize = 112;
    pub const CRDT: usize = 128;
    pub const OACS: usize = 256;
    pub const ACL: usize = 258;
    pub const AERL: usize = 259;
    pub const FRMW: usize = 260;
    pub const LPA: usize = 261;
    pub const ELPE: usize = 262;
    pub const NPSS: usize = 263;
    pub const AVSCC: usize = 264;
    pub const APSTA: usize = 265;
    pub const WCTEMP: usize = 266;
    pub const CCTEMP: usize = 268;
    pub const KAS: usize = 320;
    pub const ANATT: usize = 342;
    pub const ANACAP: usize = 343;
    pub const ANAGRPMAX: usize = 344;
    pub const NANAGRPID: usize = 348;
    pub const PELS: usize = 352;
    pub const SQES: usize = 512;
    pub const CQES: usize = 513;
    pub const MAXCMD: usize = 514;
    pub const NN: usize = 516;
    pub const ONCS: usize = 520;
    pub const FUSES: usize = 522;
    pub const FNA: usize = 524;
    pub const VWC: usize = 525;
    pub const AWUN: usize = 526;
    pub const AWUPF: usize = 528;
    pub const NVSCC: usize = 530;
    pub const NWPC: usize = 531;
    pub const ACWU: usize = 532;
    pub const OCFS: usize = 534;
    pub const SGLS: usize = 536;
    pub const MNAN: usize = 540;
    pub const SUBNQN: usize = 768;
    pub const SUBNQN_LEN: usize = 256;
    // NVMe over Fabrics attributes.
    pub const IOCCSZ: usize = 1792;
    pub const IORCSZ: usize = 1796;
    pub const ICDOFF: usize = 1800;
    pub const FCATT: usize = 1802;
    pub const MSDBD: usize = 1803;
    pub const OFCS: usize = 1804;
    pub const DCTYPE: usize = 1806;
}

/// Identify Controller data structure (CNS 01h), 4096 bytes on the wire.
///
/// Field names are the specification's. Bit-field bytes are kept raw (use the
/// `CMIC_*`, `OAES_*`, `ANACAP_*` constants to build or test them) so that a
/// parse/encode round trip is exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentifyController {
    /// PCI Vendor ID (@0).
    pub vid: u16,
    /// PCI Subsystem Vendor ID (@2).
    pub ssvid: u16,
    /// Serial Number (@4, 20 B ASCII, space padded; padding trimmed here).
    pub sn: String,
    /// Model Number (@24, 40 B ASCII, space padded).
    pub mn: String,
    /// Firmware Revision (@64, 8 B ASCII, space padded).
    pub fr: String,
    /// Recommended Arbitration Burst (@72).
    pub rab: u8,
    /// IEEE OUI Identifier (@73, 3 B).
    pub ieee: [u8; 3],
    /// Controller Multi-Path I/O and Namespace Sharing Capabilities (@76).
    pub cmic: u8,
    /// Maximum Data Transfer Size, 2^n units of CAP.MPSMIN (@77; 0 = no limit).
    pub mdts: u8,
    /// Controller ID (@78); must equal the CNTLID the Connect returned.
    pub cntlid: u16,
    /// Version, encoded like the VS property (@80).
    pub ver: u32,
    /// RTD3 Resume Latency in µs (@84).
    pub rtd3r: u32,
    /// RTD3 Entry Latency in µs (@88).
    pub rtd3e: u32,
    /// Optional Asynchronous Events Supported (@92).
    pub oaes: u32,
    /// Controller Attributes (@96).
    pub ctratt: u32,
    /// Read Recovery Levels Supported (@100).
    pub rrls: u16,
    /// Controller Type (@111): 1 I/O, 2 discovery, 3 administrative.
    pub cntrltype: u8,
    /// FRU Globally Unique Identifier (@112).
    pub fguid: [u8; 16],
    /// Command Retry Delay Times 1..3 in 100 ms units (@128, @130, @132).
    pub crdt: [u16; 3],
    /// Optional Admin Command Support (@256).
    pub oacs: u16,
    /// Abort Command Limit, 0's based (@258).
    pub acl: u8,
    /// Asynchronous Event Request Limit, 0's based (@259).
    pub aerl: u8,
    /// Firmware Updates (@260).
    pub frmw: u8,
    /// Log Page Attributes (@261).
    pub lpa: u8,
    /// Error Log Page Entries, 0's based (@262).
    pub elpe: u8,
    /// Number of Power States Support, 0's based (@263).
    pub npss: u8,
    /// Admin Vendor Specific Command Configuration (@264).
    pub avscc: u8,
    /// Autonomous Power State Transition Attributes (@265).
    pub apsta: u8,
    /// Warning Composite Temperature Threshold in K (@266).
    pub wctemp: u16,
    /// Critical Composite Temperature Threshold in K (@268).
    pub cctemp: u16,
    /// Keep Alive Support: granularity in 100 ms units, 0 = unsupported (@320).
    pub kas: u16,
    /// ANA Transition Time in seconds (@342).
    pub anatt: u8,
    /// Asymmetric Namespace Access Capabilities (@343).
    pub anacap: u8,
    /// ANA Group Identifier Maximum (@344).
    pub anagrpmax: u32,
    /// Number of ANA Group Identifiers (@348).
    pub nanagrpid: u32,
    /// Persistent Event Log Size in 64 KiB units (@352).
    pub pels: u32,
    /// Submission Queue Entry Size: b3:0 required, b7:4 maximum, log2 (@512).
    pub sqes: u8,
    /// Completion Queue Entry Size (@513).
    pub cqes: u8,
    /// Maximum Outstanding Commands (@514).
    pub maxcmd: u16,
    /// Number of Namespaces: the highest valid NSID (@516).
    pub nn: u32,
    /// Optional NVM Command Support (@520).
    pub oncs: u16,
    /// Fused Operation Support (@522).
    pub fuses: u16,
    /// Format NVM Attributes (@524).
    pub fna: u8,
    /// Volatile Write Cache (@525).
    pub vwc: u8,
    /// Atomic Write Unit Normal, 0's based (@526).
    pub awun: u16,
    /// Atomic Write Unit Power Fail, 0's based (@528).
    pub awupf: u16,
    /// I/O Command Set Vendor Specific Command Configuration (@530).
    pub nvscc: u8,
    /// Namespace Write Protection Capabilities (@531).
    pub nwpc: u8,
    /// Atomic Compare & Write Unit, 0's based (@532).
    pub acwu: u16,
    /// Optional Copy Formats Supported (@534). SPDK sets bit 0 because its
    /// ONCS advertises Copy.
    pub ocfs: u16,
    /// SGL Support (@536).
    pub sgls: u32,
    /// Maximum Number of Allowed Namespaces (@540).
    pub mnan: u32,
    /// NVM Subsystem NVMe Qualified Name (@768, 256 B, NUL padded).
    pub subnqn: String,
    /// I/O Queue Command Capsule Supported Size in 16 B units (@1792).
    pub ioccsz: u32,
    /// I/O Queue Response Capsule Supported Size in 16 B units (@1796).
    pub iorcsz: u32,
    /// In Capsule Data Offset in 16 B units (@1800); Linux requires 0.
    pub icdoff: u16,
    /// Fabrics Controller Attributes (@1802): b0 static controller model.
    pub fcatt: u8,
    /// Maximum SGL Data Block Descriptors (@1803; 0 = no limit).
    pub msdbd: u8,
    /// Optional Fabric Commands Support (@1804): b0 Disconnect.
    pub ofcs: u16,
    /// Discovery Controller Type (@1806): 0 not reported, 1 DDC, 2 CDC.
    pub dctype: u8,
}

impl IdentifyController {
    /// Encodes the 4096-byte Identify Controller data.
    pub fn to_bytes(&self) -> Vec<u8> {
        use ctrl_off as o;
        let mut b = vec![0u8; IDENTIFY_DATA_LEN];
        wr_u16(&mut b, o::VID, self.vid);
        wr_u16(&mut b, o::SSVID, self.ssvid);
        wr_space_padded(&mut b, o::SN, o::SN_LEN, &self.sn);
        wr_space_padded(&mut b, o::MN, o::MN_LEN, &self.mn);
        wr_space_padded(&mut b, o::FR, o::FR_LEN, &self.fr);
        wr_u8(&mut b, o::RAB, self.rab);
        wr(&mut b, o::IEEE, &self.ieee);
        wr_u8(&mut b, o::CMIC, self.cmic);
        wr_u8(&mut b, o::MDTS, self.mdts);
        wr_u16(&mut b, o::CNTLID, self.cntlid);
        wr_u32(&mut b, o::VER, self.ver);
        wr_u32(&mut b, o::RTD3R, self.rtd3r);
        wr_u32(&mut b, o::RTD3E, self.rtd3e);
        wr_u32(&mut b, o::OAES, self.oaes);
        wr_u32(&mut b, o::CTRATT, self.ctratt);
        wr_u16(&mut b, o::RRLS, self.rrls);
        wr_u8(&mut b, o::CNTRLTYPE, self.cntrltype);
        wr(&mut b, o::FGUID, &self.fguid);
        for (i, &d) in self.crdt.iter().enumerate() {
            wr_u16(&mut b, o::CRDT + 2 * i, d);
        }
        wr_u16(&mut b, o::OACS, self.oacs);
        wr_u8(&mut b, o::ACL, self.acl);
        wr_u8(&mut b, o::AERL, self.aerl);
        wr_u8(&mut b, o::FRMW, self.frmw);
        wr_u8(&mut b, o::LPA, self.lpa);
        wr_u8(&mut b, o::ELPE, self.elpe);
        wr_u8(&mut b, o::NPSS, self.npss);
        wr_u8(&mut b, o::AVSCC, self.avscc);
        wr_u8(&mut b, o::APSTA, self.apsta);
        wr_u16(&mut b, o::WCTEMP, self.wctemp);
        wr_u16(&mut b, o::CCTEMP, self.cctemp);
        wr_u16(&mut b, o::KAS, self.kas);
        wr_u8(&mut b, o::ANATT, self.anatt);
        wr_u8(&mut b, o::ANACAP, self.anacap);
        wr_u32(&mut b, o::ANAGRPMAX, self.anagrpmax);
        wr_u32(&mut b, o::NANAGRPID, self.nanagrpid);
        wr_u32(&mut b, o::PELS, self.pels);
        wr_u8(&mut b, o::SQES, self.sqes);
        wr_u8(&mut b, o::CQES, self.cqes);
        wr_u16(&mut b, o::MAXCMD, self.maxcmd);
        wr_u32(&mut b, o::NN, self.nn);
        wr_u16(&mut b, o::ONCS, self.oncs);
        wr_u16(&mut b, o::FUSES, self.fuses);
        wr_u8(&mut b, o::FNA, self.fna);
        wr_u8(&mut b, o::VWC, self.vwc);
        wr_u16(&mut b, o::AWUN, self.awun);
        wr_u16(&mut b, o::AWUPF, self.awupf);
        wr_u8(&mut b, o::NVSCC, self.nvscc);
        wr_u8(&mut b, o::NWPC, self.nwpc);
        wr_u16(&mut b, o::ACWU, self.acwu);
        wr_u16(&mut b, o::OCFS, self.ocfs);
        wr_u32(&mut b, o::SGLS, self.sgls);
        wr_u32(&mut b, o::MNAN, self.mnan);
        wr_nul_padded(&mut b, o::SUBNQN, o::SUBNQN_LEN, &self.subnqn);
        wr_u32(&mut b, o::IOCCSZ, self.ioccsz);
        wr_u32(&mut b, o::IORCSZ, self.iorcsz);
        wr_u16(&mut b, o::ICDOFF, self.icdoff);
        wr_u8(&mut b, o::FCATT, self.fcatt);
        wr_u8(&mut b, o::MSDBD, self.msdbd);
        wr_u16(&mut b, o::OFCS, self.ofcs);
        wr_u8(&mut b, o::DCTYPE, self.dctype);
        b
    }

    /// Parses Identify Controller data. `b` must hold at least 4096 bytes;
    /// anything after byte 4096 is ignored.
    pub fn parse(b: &[u8]) -> Result<Self, IdentifyError> {
        use ctrl_off as o;
        need("Identify Controller", b, IDENTIFY_DATA_LEN)?;
        Ok(Self {
            vid: rd_u16(b, o::VID),
            ssvid: rd_u16(b, o::SSVID),
            sn: rd_padded(b, o::SN, o::SN_LEN, "SN")?,
            mn: rd_padded(b, o::MN, o::MN_LEN, "MN")?,
            fr: rd_padded(b, o::FR, o::FR_LEN, "FR")?,
            rab: rd_u8(b, o::RAB),
            ieee: rd(b, o::IEEE),
            cmic: rd_u8(b, o::CMIC),
            mdts: rd_u8(b, o::MDTS),
            cntlid: rd_u16(b, o::CNTLID),
            ver: rd_u32(b, o::VER),
            rtd3r: rd_u32(b, o::RTD3R),
            rtd3e: rd_u32(b, o::RTD3E),
            oaes: rd_u32(b, o::OAES),
            ctratt: rd_u32(b, o::CTRATT),
            rrls: rd_u16(b, o::RRLS),
            cntrltype: rd_u8(b, o::CNTRLTYPE),
            fguid: rd(b, o::FGUID),
            crdt: [
                rd_u16(b, o::CRDT),
                rd_u16(b, o::CRDT + 2),
                rd_u16(b, o::CRDT + 4),
            ],
            oacs: rd_u16(b, o::OACS),
            acl: rd_u8(b, o::ACL),
            aerl: rd_u8(b, o::AERL),
            frmw: rd_u8(b, o::FRMW),
            lpa: rd_u8(b, o::LPA),
            elpe: rd_u8(b, o::ELPE),
            npss: rd_u8(b, o::NPSS),
            avscc: rd_u8(b, o::AVSCC),
            apsta: rd_u8(b, o::APSTA),
            wctemp: rd_u16(b, o::WCTEMP),
            cctemp: rd_u16(b, o::CCTEMP),
            kas: rd_u16(b, o::KAS),
            anatt: rd_u8(b, o::ANATT),
            anacap: rd_u8(b, o::ANACAP),
            anagrpmax: rd_u32(b, o::ANAGRPMAX),
            nanagrpid: rd_u32(b, o::NANAGRPID),
            pels: rd_u32(b, o::PELS),
            sqes: rd_u8(b, o::SQES),
            cqes: rd_u8(b, o::CQES),
            maxcmd: rd_u16(b, o::MAXCMD),
            nn: rd_u32(b, o::NN),
            oncs: rd_u16(b, o::ONCS),
            fuses: rd_u16(b, o::FUSES),
            fna: rd_u8(b, o::FNA),
            vwc: rd_u8(b, o::VWC),
            awun: rd_u16(b, o::AWUN),
            awupf: rd_u16(b, o::AWUPF),
            nvscc: rd_u8(b, o::NVSCC),
            nwpc: rd_u8(b, o::NWPC),
            acwu: rd_u16(b, o::ACWU),
            ocfs: rd_u16(b, o::OCFS),
            sgls: rd_u32(b, o::SGLS),
            mnan: rd_u32(b, o::MNAN),
            subnqn: rd_nul_terminated(b, o::SUBNQN, o::SUBNQN_LEN, "SUBNQN")?,
            ioccsz: rd_u32(b, o::IOCCSZ),
            iorcsz: rd_u32(b, o::IORCSZ),
            icdoff: rd_u16(b, o::ICDOFF),
            fcatt: rd_u8(b, o::FCATT),
            msdbd: rd_u8(b, o::MSDBD),
            ofcs: rd_u16(b, o::OFCS),
            dctype: rd_u8(b, o::DCTYPE),
        })
    }

    /// Maximum data transfer size in bytes for a given memory page size
    /// (CAP.MPSMIN, normally 4096), or `None` when MDTS is 0 (no limit) or
    /// the result does not fit in a u64.
    pub fn max_transfer_bytes(&self, min_page_size: u64) -> Option<u64> {
        if self.mdts == 0 {
            return None;
        }
        1u64.checked_shl(u32::from(self.mdts))
            .and_then(|pages| pages.checked_mul(min_page_size))
    }

    /// In-capsule data bytes an I/O command capsule can carry: IOCCSZ×16
    /// minus the 64-byte SQE (0 when IOCCSZ is below 4).
    pub fn in_capsule_data_size(&self) -> u64 {
        (u64::from(self.ioccsz) * 16).saturating_sub(64)
    }
}

// ---------------------------------------------------------------------------
// Identify Namespace (CNS 00h)

/// Byte offsets in the Identify Namespace data structure.
mod ns_off {
    pub const NSZE: usize = 0;
    pub const NCAP: usize = 8;
    pub const NUSE: usize = 16;
    pub const NSFEAT: usize = 24;
    pub const NLBAF: usize = 25;
    pub const FLBAS: usize = 26;
    pub const MC: usize = 27;
    pub const DPC: usize = 28;
    pub const DPS: usize = 29;
    pub const NMIC: usize = 30;
    pub const RESCAP: usize = 31;
    pub const FPI: usize = 32;
    pub const DLFEAT: usize = 33;
    pub const NAWUN: usize = 34;
    pub const NAWUPF: usize = 36;
    pub const NACWU: usize = 38;
    pub const NABSN: usize = 40;
    pub const NABO: usize = 42;
    pub const NABSPF: usize = 44;
    pub const NOIOB: usize = 46;
    pub const NVMCAP: usize = 48;
    pub const NPWG: usize = 64;
    pub const NPWA: usize = 66;
    pub const NPDG: usize = 68;
    pub const NPDA: usize = 70;
    pub const NOWS: usize = 72;
    pub const MSSRL: usize = 74;
    pub const MCL: usize = 76;
    pub const MSRC: usize = 80;
    pub const ANAGRPID: usize = 92;
    pub const NSATTR: usize = 99;
    pub const NVMSETID: usize = 100;
    pub const ENDGID: usize = 102;
    pub const NGUID: usize = 104;
    pub const EUI64: usize = 120;
    pub const LBAF: usize = 128;
    pub const LBAF_LEN: usize = 4;
}

/// One LBA Format entry of Identify Namespace (4 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LbaFormat {
    /// Metadata Size in bytes per LBA (@0, u16).
    pub ms: u16,
    /// LBA Data Size as a power of two (@2); 9 = 512 B, 12 = 4 KiB.
    pub lbads: u8,
    /// Relative Performance (@3, bits 1:0; the byte is kept raw).
    pub rp: u8,
}

impl LbaFormat {
    fn is_zero(&self) -> bool {
        self.ms == 0 && self.lbads == 0 && self.rp == 0
    }
}

/// Identify Namespace data structure (CNS 00h), 4096 bytes on the wire.
///
/// An inactive NSID is answered with all zeros, which is what
/// `IdentifyNamespace::default().to_bytes()` produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentifyNamespace {
    /// Namespace Size in LBAs (@0).
    pub nsze: u64,
    /// Namespace Capacity in LBAs (@8); 0 tells Linux the namespace is gone.
    pub ncap: u64,
    /// Namespace Utilization in LBAs (@16).
    pub nuse: u64,
    /// Namespace Features (@24).
    pub nsfeat: u8,
    /// Number of LBA Formats, 0's based (@25). Written as stored, not derived
    /// from `lbaf`, so that parsed data re-encodes exactly.
    pub nlbaf: u8,
    /// Formatted LBA Size (@26): b3:0 format index, b4 extended metadata,
    /// b6:5 index high bits.
    pub flbas: u8,
    /// Metadata Capabilities (@27).
    pub mc: u8,
    /// End-to-end Data Protection Capabilities (@28).
    pub dpc: u8,
    /// End-to-end Data Protection Type Settings (@29).
    pub dps: u8,
    /// Namespace Multi-path I/O and Namespace Sharing Capabilities (@30).
    pub nmic: u8,
    /// Reservation Capabilities (@31).
    pub rescap: u8,
    /// Format Progress Indicator (@32).
    pub fpi: u8,
    /// Deallocate Logical Block Features (@33).
    pub dlfeat: u8,
    /// Namespace Atomic Write Unit Normal (@34).
    pub nawun: u16,
    /// Namespace Atomic Write Unit Power Fail (@36).
    pub nawupf: u16,
    /// Namespace Atomic Compare & Write Unit (@38).
    pub nacwu: u16,
    /// Namespace Atomic Boundary Size Normal (@40).
    pub nabsn: u16,
    /// Namespace Atomic Boundary Offset (@42).
    pub nabo: u16,
    /// Namespace Atomic Boundary Size Power Fail (@44).
    pub nabspf: u16,
    /// Namespace Optimal I/O Boundary (@46).
    pub noiob: u16,
    /// NVM Capacity in bytes (@48, 16 B).
    pub nvmcap: u128,
    /// Namespace Preferred Write Granularity, 0's based (@64).
    pub npwg: u16,
    /// Namespace Preferred Write Alignment, 0's based (@66).
    pub npwa: u16,
    /// Namespace Preferred Deallocate Granularity, 0's based (@68).
    pub npdg: u16,
    /// Namespace Preferred Deallocate Alignment, 0's based (@70).
    pub npda: u16,
    /// Namespace Optimal Write Size, 0's based (@72).
    pub nows: u16,
    /// Maximum Single Source Range Length for Copy (@74).
    pub mssrl: u16,
    /// Maximum Copy Length (@76).
    pub mcl: u32,
    /// Maximum Source Range Count for Copy, 0's based (@80).
    pub msrc: u8,
    /// ANA Group Identifier (@92).
    pub anagrpid: u32,
    /// Namespace Attributes (@99): b0 write protected.
    pub nsattr: u8,
    /// NVM Set Identifier (@100).
    pub nvmsetid: u16,
    /// Endurance Group Identifier (@102).
    pub endgid: u16,
    /// Namespace Globally Unique Identifier (@104), big-endian bytes as sent.
    pub nguid: [u8; 16],
    /// IEEE Extended Unique Identifier (@120), bytes as sent.
    pub eui64: [u8; 8],
    /// LBA Formats (@128, 4 B each, at most 64). On parse, trailing all-zero
    /// entries beyond NLBAF are dropped (they encode back to zeros anyway).
    pub lbaf: Vec<LbaFormat>,
}

impl IdentifyNamespace {
    /// Encodes the 4096-byte Identify Namespace data. At most 64 LBA formats
    /// are written; further entries have no place in the structure.
    pub fn to_bytes(&self) -> Vec<u8> {
        use ns_off as o;
        let mut b = vec![0u8; IDENTIFY_DATA_LEN];
        wr_u64(&mut b, o::NSZE, self.nsze);
        wr_u64(&mut b, o::NCAP, self.ncap);
        wr_u64(&mut b, o::NUSE, self.nuse);
        wr_u8(&mut b, o::NSFEAT, self.nsfeat);
        wr_u8(&mut b, o::NLBAF, self.nlbaf);
        wr_u8(&mut b, o::FLBAS, self.flbas);
        wr_u8(&mut b, o::MC, self.mc);
        wr_u8(&mut b, o::DPC, self.dpc);
        wr_u8(&mut b, o::DPS, self.dps);
        wr_u8(&mut b, o::NMIC, self.nmic);
        wr_u8(&mut b, o::RESCAP, self.rescap);
        wr_u8(&mut b, o::FPI, self.fpi);
        wr_u8(&mut b, o::DLFEAT, self.dlfeat);
        wr_u16(&mut b, o::NAWUN, self.nawun);
        wr_u16(&mut b, o::NAWUPF, self.nawupf);
        wr_u16(&mut b, o::NACWU, self.nacwu);
        wr_u16(&mut b, o::NABSN, self.nabsn);
        wr_u16(&mut b, o::NABO, self.nabo);
        wr_u16(&mut b, o::NABSPF, self.nabspf);
        wr_u16(&mut b, o::NOIOB, self.noiob);
        wr_u128(&mut b, o::NVMCAP, self.nvmcap);
        wr_u16(&mut b, o::NPWG, self.npwg);
        wr_u16(&mut b, o::NPWA, self.npwa);
        wr_u16(&mut b, o::NPDG, self.npdg);
        wr_u16(&mut b, o::NPDA, self.npda);
        wr_u16(&mut b, o::NOWS, self.nows);
        wr_u16(&mut b, o::MSSRL, self.mssrl);
        wr_u32(&mut b, o::MCL, self.mcl);
        wr_u8(&mut b, o::MSRC, self.msrc);
        wr_u32(&mut b, o::ANAGRPID, self.anagrpid);
        wr_u8(&mut b, o::NSATTR, self.nsattr);
        wr_u16(&mut b, o::NVMSETID, self.nvmsetid);
        wr_u16(&mut b, o::ENDGID, self.endgid);
        wr(&mut b, o::NGUID, &self.nguid);
        wr(&mut b, o::EUI64, &self.eui64);
        for (i, f) in self.lbaf.iter().take(MAX_LBA_FORMATS).enumerate() {
            let at = o::LBAF + i * o::LBAF_LEN;
            wr_u16(&mut b, at, f.ms);
            wr_u8(&mut b, at + 2, f.lbads);
            wr_u8(&mut b, at + 3, f.rp);
        }
        b
    }

    /// Parses Identify Namespace data. `b` must hold at least 4096 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, IdentifyError> {
        use ns_off as o;
        need("Identify Namespace", b, IDENTIFY_DATA_LEN)?;
        let nlbaf = rd_u8(b, o::NLBAF);
        let mut lbaf: Vec<LbaFormat> = (0..MAX_LBA_FORMATS)
            .map(|i| {
                let at = o::LBAF + i * o::LBAF_LEN;
                LbaFormat {
                    ms: rd_u16(b, at),
                    lbads: rd_u8(b, at + 2),
                    rp: rd_u8(b, at + 3),
                }
            })
            .collect();
        // Keep every entry NLBAF declares plus any non-zero one after it, so
        // nothing is lost; all-zero trailing entries carry no information.
        let declared = (usize::from(nlbaf) + 1).min(MAX_LBA_FORMATS);
        let last_nonzero = lbaf.iter().rposition(|f| !f.is_zero()).map_or(0, |p| p + 1);
        let keep = if lbaf.iter().all(LbaFormat::is_zero) {
            0
        } else {
            declared.max(last_nonzero)
        };
        lbaf.truncate(keep);
        Ok(Self {
            nsze: rd_u64(b, o::NSZE),
            ncap: rd_u64(b, o::NCAP),
            nuse: rd_u64(b, o::NUSE),
            nsfeat: rd_u8(b, o::NSFEAT),
            nlbaf,
            flbas: rd_u8(b, o::FLBAS),
            mc: rd_u8(b, o::MC),
            dpc: rd_u8(b, o::DPC),
            dps: rd_u8(b, o::DPS),
            nmic: rd_u8(b, o::NMIC),
            rescap: rd_u8(b, o::RESCAP),
            fpi: rd_u8(b, o::FPI),
            dlfeat: rd_u8(b, o::DLFEAT),
            nawun: rd_u16(b, o::NAWUN),
            nawupf: rd_u16(b, o::NAWUPF),
            nacwu: rd_u16(b, o::NACWU),
            nabsn: rd_u16(b, o::NABSN),
            nabo: rd_u16(b, o::NABO),
            nabspf: rd_u16(b, o::NABSPF),
            noiob: rd_u16(b, o::NOIOB),
            nvmcap: rd_u128(b, o::NVMCAP),
            npwg: rd_u16(b, o::NPWG),
            npwa: rd_u16(b, o::NPWA),
            npdg: rd_u16(b, o::NPDG),
            npda: rd_u16(b, o::NPDA),
            nows: rd_u16(b, o::NOWS),
            mssrl: rd_u16(b, o::MSSRL),
            mcl: rd_u32(b, o::MCL),
            msrc: rd_u8(b, o::MSRC),
            anagrpid: rd_u32(b, o::ANAGRPID),
            nsattr: rd_u8(b, o::NSATTR),
            nvmsetid: rd_u16(b, o::NVMSETID),
            endgid: rd_u16(b, o::ENDGID),
            nguid: rd(b, o::NGUID),
            eui64: rd(b, o::EUI64),
            lbaf,
        })
    }

    /// Index of the LBA format in use. FLBAS bits 6:5 extend the index only
    /// when more than 16 formats exist (NLBAF, 0's based, > 16 per spec);
    /// otherwise the host must ignore them.
    pub fn lba_format_index(&self) -> usize {
        let low = usize::from(self.flbas & 0x0F);
        if self.nlbaf > 16 {
            low | (usize::from((self.flbas >> 5) & 0x03) << 4)
        } else {
            low
        }
    }

    /// Logical block size in bytes of the format in use, or `None` if that
    /// format is missing or its LBADS is outside what the spec allows
    /// (below 9, i.e. < 512 B) or what fits in a u32.
    pub fn block_size(&self) -> Option<u32> {
        let f = self.lbaf.get(self.lba_format_index())?;
        if (9..32).contains(&f.lbads) {
            Some(1u32 << f.lbads)
        } else {
            None
        }
    }

    /// Metadata bytes per block of the format in use (0 if the format is
    /// missing).
    pub fn metadata_size(&self) -> u16 {
        self.lbaf.get(self.lba_format_index()).map_or(0, |f| f.ms)
    }
}

// ---------------------------------------------------------------------------
// Active Namespace ID list (CNS 02h)

/// Encodes the CNS 02h list: the active NSIDs strictly greater than
/// `starting_after` (the command's NSID), ascending, at most 1024 of them,
/// zero filled to 4096 bytes. Duplicates, 0 and the broadcast NSID are
/// dropped. A host pages by asking again from the last NSID it got when all
/// 1024 slots are used.
pub fn encode_ns_list(nsids: &[u32], starting_after: u32) -> Vec<u8> {
    let mut ids: Vec<u32> = nsids
        .iter()
        .copied()
        .filter(|&n| n > starting_after && n != 0 && n != NSID_BROADCAST)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut b = vec![0u8; IDENTIFY_DATA_LEN];
    for (i, n) in ids.iter().take(NS_LIST_MAX_ENTRIES).enumerate() {
        wr_u32(&mut b, i * 4, *n);
    }
    b
}

/// Parses a CNS 02h (or Changed-Namespace-style) NSID list: entries up to the
/// first zero, reading at most 1024 entries and never past the buffer.
pub fn parse_ns_list(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .take(NS_LIST_MAX_ENTRIES)
        .map(|c| rd_u32(c, 0))
        .take_while(|&n| n != 0)
        .collect()
}

// ---------------------------------------------------------------------------
// Namespace Identification Descriptor list (CNS 03h)

/// NIDT values.
pub mod nidt {
    /// IEEE Extended Unique Identifier, NIDL 8.
    pub const EUI64: u8 = 0x01;
    /// Namespace Globally Unique Identifier, NIDL 16.
    pub const NGUID: u8 = 0x02;
    /// Namespace UUID, NIDL 16.
    pub const UUID: u8 = 0x03;
    /// Command Set Identifier, NIDL 1.
    pub const CSI: u8 = 0x04;
}

/// Length of a descriptor header (NIDT, NIDL, 2 reserved bytes).
const NID_HEADER_LEN: usize = 4;

/// One Namespace Identification Descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsIdDescriptor {
    /// NIDT 1: EUI-64 (NIDL 8).
    Eui64([u8; 8]),
    /// NIDT 2: NGUID (NIDL 16).
    Nguid([u8; 16]),
    /// NIDT 3: UUID (NIDL 16), RFC 4122 byte order as sent.
    Uuid([u8; 16]),
    /// NIDT 4: Command Set Identifier (NIDL 1); 0 = NVM.
    Csi(u8),
    /// A type this code does not know. Hosts skip these by their NIDL (as
    /// Linux and SPDK do), so they are kept rather than rejected.
    Other {
        /// Descriptor type.
        nidt: u8,
        /// Identifier bytes (NIDL of them; at most 255).
        nid: Vec<u8>,
    },
}

impl NsIdDescriptor {
    /// UUID descriptor from a [`uuid::Uuid`].
    pub fn from_uuid(u: uuid::Uuid) -> Self {
        Self::Uuid(*u.as_bytes())
    }

    /// The descriptor type (NIDT).
    pub fn nidt(&self) -> u8 {
        match self {
            Self::Eui64(_) => nidt::EUI64,
            Self::Nguid(_) => nidt::NGUID,
            Self::Uuid(_) => nidt::UUID,
            Self::Csi(_) => nidt::CSI,
            Self::Other { nidt, .. } => *nidt,
        }
    }

    /// The identifier bytes (length = NIDL).
    pub fn nid(&self) -> &[u8] {
        match self {
            Self::Eui64(v) => v,
            Self::Nguid(v) => v,
            Self::Uuid(v) => v,
            Self::Csi(v) => std::slice::from_ref(v),
            Self::Other { nid, .. } => nid.get(..nid.len().min(255)).unwrap_or_default(),
        }
    }

    /// The NIDL the specification requires for a known NIDT.
    fn required_nidl(nidt_value: u8) -> Option<u8> {
        match nidt_value {
            nidt::EUI64 => Some(8),
            nidt::NGUID | nidt::UUID => Some(16),
            nidt::CSI => Some(1),
            _ => None,
        }
    }
}

/// Encodes a CNS 03h list into 4096 bytes: descriptors back to back (a
/// 4-byte header plus NIDL bytes each, no alignment), then zeros, whose first byte (NIDT 0)
/// terminates the list. Descriptors that would not fit are left out; real
/// lists hold at most a handful. A descriptor of type 0 would end the list
/// early for the reader, so `Other { nidt: 0, .. }` is skipped.
pub fn encode_ns_id_descriptors(descs: &[NsIdDescriptor]) -> Vec<u8> {
    let mut b = vec![0u8; IDENTIFY_DATA_LEN];
    let mut at = 0usize;
    for d in descs {
        let t = d.nidt();
        if t == 0 {
            continue;
        }
        let nid = d.nid();
        let total = NID_HEADER_LEN + nid.len();
        if at + total > IDENTIFY_DATA_LEN {
            break;
        }
        wr_u8(&mut b, at, t);
        // nid() caps the length at 255, so this cannot truncate.
        wr_u8(&mut b, at + 1, u8::try_from(nid.len()).unwrap_or(u8::MAX));
        wr(&mut b, at + NID_HEADER_LEN, nid);
        at += total;
    }
    b
}

/// Parses a CNS 03h list. Reads at most the first 4096 bytes; stops at a
/// zero NIDT or the end of the data. A known NIDT with the wrong NIDL, or a
/// descriptor running past the end, is an error: a host must not guess at
/// namespace identity.
pub fn parse_ns_id_descriptors(b: &[u8]) -> Result<Vec<NsIdDescriptor>, IdentifyError> {
    let list = b.get(..b.len().min(IDENTIFY_DATA_LEN)).unwrap_or_default();
    let len = list.len();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < len {
        let t = rd_u8(list, at);
        if t == 0 {
            break;
        }
        let header = list
            .get(at..at + NID_HEADER_LEN)
            .ok_or(IdentifyError::TruncatedDescriptor { offset: at, len })?;
        let nidl = header[1];
        if let Some(expected) = NsIdDescriptor::required_nidl(t) {
            if nidl != expected {
                return Err(IdentifyError::BadNidl {
                    offset: at,
                    nidt: t,
                    nidl,
                    expected,
                });
            }
        }
        let start = at + NID_HEADER_LEN;
        let end = start + usize::from(nidl);
        let nid = list
            .get(start..end)
            .ok_or(IdentifyError::TruncatedDescriptor { offset: at, len })?;
        out.push(match t {
            nidt::EUI64 => NsIdDescriptor::Eui64(rd(nid, 0)),
            nidt::NGUID => NsIdDescriptor::Nguid(rd(nid, 0)),
            nidt::UUID => NsIdDescriptor::Uuid(rd(nid, 0)),
            nidt::CSI => NsIdDescriptor::Csi(rd_u8(nid, 0)),
            _ => NsIdDescriptor::Other {
                nidt: t,
                nid: nid.to_vec(),
            },
        });
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes 4..72 (SN, MN, FR) of a default controller are spaces: empty
    /// ASCII fields are still space padded. Everything else is zero.
    fn default_ctrl_byte(i: usize) -> u8 {
        if (4..72).contains(&i) {
            b' '
        } else {
            0
        }
    }

    /// Sets one field on a default controller, encodes it, and checks that
    /// exactly `expect` appears at `off` (the spec's offset, typed here
    /// independently of the implementation's table) and every other byte is
    /// as in the default encoding; then that parsing gives the struct back.
    fn pin_ctrl(name: &str, set: impl FnOnce(&mut IdentifyController), off: usize, expect: &[u8]) {
        let mut c = IdentifyController::default();
        set(&mut c);
        let b = c.to_bytes();
        assert_eq!(b.len(), 4096, "{name}");
        assert_eq!(&b[off..off + expect.len()], expect, "{name} at {off}");
        for (i, &x) in b.iter().enumerate() {
            if !(off..off + expect.len()).contains(&i) {
                assert_eq!(x, default_ctrl_byte(i), "{name}: stray byte at {i}");
            }
        }
        assert_eq!(
            IdentifyController::parse(&b).unwrap(),
            c,
            "{name} round trip"
        );
    }

    #[test]
    fn controller_default_encoding() {
        let b = IdentifyController::default().to_bytes();
        for (i, &x) in b.iter().enumerate() {
            assert_eq!(x, default_ctrl_byte(i), "byte {i}");
        }
    }

    #[test]
    fn controller_field_offsets() {
        pin_ctrl("vid", |c| c.vid = 0x8086, 0, &[0x86, 0x80]);
        pin_ctrl("ssvid", |c| c.ssvid = 0x1234, 2, &[0x34, 0x12]);
        let mut sn = *b"SN1                 ";
        pin_ctrl("sn", |c| c.sn = "SN1".into(), 4, &sn);
        sn.copy_from_slice(b"ABCDEFGHIJKLMNOPQRST");
        pin_ctrl("sn full", |c| c.sn = "ABCDEFGHIJKLMNOPQRST".into(), 4, &sn);
        let mut mn = [b' '; 40];
        mn[..5].copy_from_slice(b"Model");
        pin_ctrl("mn", |c| c.mn = "Model".into(), 24, &mn);
        pin_ctrl("fr", |c| c.fr = "24.09".into(), 64, b"24.09   ");
        pin_ctrl("rab", |c| c.rab = 6, 72, &[6]);
        pin_ctrl(
            "ieee",
            |c| c.ieee = [0xe4, 0xd2, 0x5c],
            73,
            &[0xe4, 0xd2, 0x5c],
        );
        pin_ctrl("cmic", |c| c.cmic = 0x0B, 76, &[0x0B]);
        pin_ctrl("mdts", |c| c.mdts = 5, 77, &[5]);
        pin_ctrl("cntlid", |c| c.cntlid = 0x0102, 78, &[2, 1]);
        pin_ctrl("ver", |c| c.ver = 0x0001_0300, 80, &[0, 3, 1, 0]);
        pin_ctrl("rtd3r", |c| c.rtd3r = 0x0403_0201, 84, &[1, 2, 3, 4]);
        pin_ctrl("rtd3e", |c| c.rtd3e = 0x0807_0605, 88, &[5, 6, 7, 8]);
        pin_ctrl("oaes", |c| c.oaes = 0x900, 92, &[0, 9, 0, 0]);
        pin_ctrl("ctratt", |c| c.ctratt = 0x0102_0304, 96, &[4, 3, 2, 1]);
        pin_ctrl("rrls", |c| c.rrls = 0x0A0B, 100, &[0x0B, 0x0A]);
        pin_ctrl("cntrltype", |c| c.cntrltype = 2, 111, &[2]);
        pin_ctrl("fguid", |c| c.fguid = [0xAA; 16], 112, &[0xAA; 16]);
        pin_ctrl(
            "crdt",
            |c| c.crdt = [1, 0x0203, 4],
            128,
            &[1, 0, 3, 2, 4, 0],
        );
        pin_ctrl("oacs", |c| c.oacs = 0x0102, 256, &[2, 1]);
        pin_ctrl("acl", |c| c.acl = 3, 258, &[3]);
        pin_ctrl("aerl", |c| c.aerl = 3, 259, &[3]);
        pin_ctrl("frmw", |c| c.frmw = 3, 260, &[3]);
        pin_ctrl("lpa", |c| c.lpa = 6, 261, &[6]);
        pin_ctrl("elpe", |c| c.elpe = 127, 262, &[127]);
        pin_ctrl("npss", |c| c.npss = 2, 263, &[2]);
        pin_ctrl("avscc", |c| c.avscc = 1, 264, &[1]);
        pin_ctrl("apsta", |c| c.apsta = 1, 265, &[1]);
        pin_ctrl("wctemp", |c| c.wctemp = 0x0157, 266, &[0x57, 0x01]);
        pin_ctrl("cctemp", |c| c.cctemp = 0x0173, 268, &[0x73, 0x01]);
        pin_ctrl("kas", |c| c.kas = 100, 320, &[100, 0]);
        pin_ctrl("anatt", |c| c.anatt = 10, 342, &[10]);
        pin_ctrl("anacap", |c| c.anacap = 0x47, 343, &[0x47]);
        pin_ctrl(
            "anagrpmax",
            |c| c.anagrpmax = 0x0102_0304,
            344,
            &[4, 3, 2, 1],
        );
        pin_ctrl("nanagrpid", |c| c.nanagrpid = 32, 348, &[32, 0, 0, 0]);
        pin_ctrl("pels", |c| c.pels = 0x0506_0708, 352, &[8, 7, 6, 5]);
        pin_ctrl("sqes", |c| c.sqes = 0x66, 512, &[0x66]);
        pin_ctrl("cqes", |c| c.cqes = 0x44, 513, &[0x44]);
        pin_ctrl("maxcmd", |c| c.maxcmd = 0x0180, 514, &[0x80, 0x01]);
        pin_ctrl("nn", |c| c.nn = 0x0A0B_0C0D, 516, &[0x0D, 0x0C, 0x0B, 0x0A]);
        pin_ctrl("oncs", |c| c.oncs = 0x012D, 520, &[0x2D, 0x01]);
        pin_ctrl("fuses", |c| c.fuses = 0x0201, 522, &[1, 2]);
        pin_ctrl("fna", |c| c.fna = 7, 524, &[7]);
        pin_ctrl("vwc", |c| c.vwc = 5, 525, &[5]);
        pin_ctrl("awun", |c| c.awun = 0x0102, 526, &[2, 1]);
        pin_ctrl("awupf", |c| c.awupf = 0x0304, 528, &[4, 3]);
        pin_ctrl("nvscc", |c| c.nvscc = 1, 530, &[1]);
        pin_ctrl("nwpc", |c| c.nwpc = 7, 531, &[7]);
        pin_ctrl("acwu", |c| c.acwu = 0x0506, 532, &[6, 5]);
        pin_ctrl("ocfs", |c| c.ocfs = 0x0001, 534, &[1, 0]);
        pin_ctrl("sgls", |c| c.sgls = 0x0010_0005, 536, &[5, 0, 0x10, 0]);
        pin_ctrl("mnan", |c| c.mnan = 0x0102_0304, 540, &[4, 3, 2, 1]);
        pin_ctrl("subnqn", |c| c.subnqn = "nqn.x".into(), 768, b"nqn.x");
        pin_ctrl("ioccsz", |c| c.ioccsz = 260, 1792, &[4, 1, 0, 0]);
        pin_ctrl("iorcsz", |c| c.iorcsz = 0x0102_0304, 1796, &[4, 3, 2, 1]);
        pin_ctrl("icdoff", |c| c.icdoff = 0x0102, 1800, &[2, 1]);
        pin_ctrl("fcatt", |c| c.fcatt = 1, 1802, &[1]);
        pin_ctrl("msdbd", |c| c.msdbd = 1, 1803, &[1]);
        pin_ctrl("ofcs", |c| c.ofcs = 0x0201, 1804, &[1, 2]);
        pin_ctrl("dctype", |c| c.dctype = 2, 1806, &[2]);
    }

    #[test]
    fn controller_text_fields() {
        // Longer than the field: truncated, never overflowing into MN.
        let c = IdentifyController {
            sn: "0123456789012345678901234".into(),
            ..Default::default()
        };
        let b = c.to_bytes();
        assert_eq!(&b[4..24], b"01234567890123456789");
        assert_eq!(b[24], b' '); // MN untouched (empty, space padded)
                                 // Multi-byte character straddling the limit is dropped whole.
        let c = IdentifyController {
            fr: "1234567é".into(),
            ..Default::default()
        };
        assert_eq!(&c.to_bytes()[64..72], b"1234567 ");
        // NUL padding is accepted as padding too.
        let mut b = IdentifyController::default().to_bytes();
        b[4..8].copy_from_slice(b"abc\0");
        assert_eq!(IdentifyController::parse(&b).unwrap().sn, "abc");
        // Subsystem NQN of exactly 256 bytes has no terminator.
        let nqn = "n".repeat(256);
        let c = IdentifyController {
            subnqn: nqn.clone(),
            ..Default::default()
        };
        let b = c.to_bytes();
        assert_eq!(IdentifyController::parse(&b).unwrap().subnqn, nqn);
        assert_eq!(b[1024], 0);
        // Invalid UTF-8 is a clear error, not a panic.
        let mut b = IdentifyController::default().to_bytes();
        b[768] = 0xFF;
        assert_eq!(
            IdentifyController::parse(&b),
            Err(IdentifyError::InvalidString { field: "SUBNQN" })
        );
    }

    #[test]
    fn controller_too_short() {
        assert_eq!(
            IdentifyController::parse(&[0u8; 4095]),
            Err(IdentifyError::TooShort {
                what: "Identify Controller",
                need: 4096,
                got: 4095
            })
        );
        assert!(IdentifyController::parse(&[]).is_err());
        // Longer buffers are fine; the tail is ignored.
        let mut b = IdentifyController::default().to_bytes();
        b.extend_from_slice(&[0xFF; 16]);
        assert_eq!(
            IdentifyController::parse(&b).unwrap(),
            IdentifyController::default()
        );
    }

    #[test]
    fn controller_helpers() {
        let c = IdentifyController {
            mdts: 5,
            ioccsz: 260,
            ..Default::default()
        };
        assert_eq!(c.max_transfer_bytes(4096), Some(128 * 1024));
        assert_eq!(c.in_capsule_data_size(), 4096);
        let c = IdentifyController {
            mdts: 0,
            ioccsz: 1,
            ..Default::default()
        };
        assert_eq!(c.max_transfer_bytes(4096), None);
        assert_eq!(c.in_capsule_data_size(), 0);
        let c = IdentifyController {
            mdts: 255,
            ..Default::default()
        };
        assert_eq!(c.max_transfer_bytes(4096), None);
    }

    fn pin_ns(name: &str, set: impl FnOnce(&mut IdentifyNamespace), off: usize, expect: &[u8]) {
        let mut n = IdentifyNamespace::default();
        set(&mut n);
        let b = n.to_bytes();
        assert_eq!(b.len(), 4096, "{name}");
        assert_eq!(&b[off..off + expect.len()], expect, "{name} at {off}");
        for (i, &x) in b.iter().enumerate() {
            if !(off..off + expect.len()).contains(&i) {
                assert_eq!(x, 0, "{name}: stray byte at {i}");
            }
        }
        assert_eq!(
            IdentifyNamespace::parse(&b).unwrap(),
            n,
            "{name} round trip"
        );
    }

    #[test]
    fn namespace_field_offsets() {
        pin_ns(
            "nsze",
            |n| n.nsze = 0x0102_0304_0506_0708,
            0,
            &[8, 7, 6, 5, 4, 3, 2, 1],
        );
        pin_ns("ncap", |n| n.ncap = 0x20000, 8, &[0, 0, 2, 0, 0, 0, 0, 0]);
        pin_ns("nuse", |n| n.nuse = 0xFF, 16, &[0xFF, 0, 0, 0, 0, 0, 0, 0]);
        pin_ns("nsfeat", |n| n.nsfeat = 0x12, 24, &[0x12]);
        pin_ns("nlbaf", |n| n.nlbaf = 3, 25, &[3]);
        pin_ns("flbas", |n| n.flbas = 0x11, 26, &[0x11]);
        pin_ns("mc", |n| n.mc = 1, 27, &[1]);
        pin_ns("dpc", |n| n.dpc = 0x1F, 28, &[0x1F]);
        pin_ns("dps", |n| n.dps = 9, 29, &[9]);
        pin_ns("nmic", |n| n.nmic = 1, 30, &[1]);
        pin_ns("rescap", |n| n.rescap = 0xFE, 31, &[0xFE]);
        pin_ns("fpi", |n| n.fpi = 0x80, 32, &[0x80]);
        pin_ns("dlfeat", |n| n.dlfeat = 1, 33, &[1]);
        pin_ns("nawun", |n| n.nawun = 0x0102, 34, &[2, 1]);
        pin_ns("nawupf", |n| n.nawupf = 0x0304, 36, &[4, 3]);
        pin_ns("nacwu", |n| n.nacwu = 0x0506, 38, &[6, 5]);
        pin_ns("nabsn", |n| n.nabsn = 0x0708, 40, &[8, 7]);
        pin_ns("nabo", |n| n.nabo = 0x090A, 42, &[0x0A, 9]);
        pin_ns("nabspf", |n| n.nabspf = 0x0B0C, 44, &[0x0C, 0x0B]);
        pin_ns("noiob", |n| n.noiob = 0x0D0E, 46, &[0x0E, 0x0D]);
        let mut cap = [0u8; 16];
        cap[0] = 1;
        cap[15] = 0x80;
        pin_ns("nvmcap", |n| n.nvmcap = (0x80u128 << 120) | 1, 48, &cap);
        pin_ns("npwg", |n| n.npwg = 0x0102, 64, &[2, 1]);
        pin_ns("npwa", |n| n.npwa = 0x0304, 66, &[4, 3]);
        pin_ns("npdg", |n| n.npdg = 0x0506, 68, &[6, 5]);
        pin_ns("npda", |n| n.npda = 0x0708, 70, &[8, 7]);
        pin_ns("nows", |n| n.nows = 0x00FF, 72, &[0xFF, 0]);
        pin_ns("mssrl", |n| n.mssrl = 0xFFFE, 74, &[0xFE, 0xFF]);
        pin_ns("mcl", |n| n.mcl = 0x0102_0304, 76, &[4, 3, 2, 1]);
        pin_ns("msrc", |n| n.msrc = 7, 80, &[7]);
        pin_ns("anagrpid", |n| n.anagrpid = 0x0102_0304, 92, &[4, 3, 2, 1]);
        pin_ns("nsattr", |n| n.nsattr = 1, 99, &[1]);
        pin_ns("nvmsetid", |n| n.nvmsetid = 0x0102, 100, &[2, 1]);
        pin_ns("endgid", |n| n.endgid = 0x0304, 102, &[4, 3]);
        let g: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        pin_ns("nguid", |n| n.nguid = g, 104, &g);
        pin_ns(
            "eui64",
            |n| n.eui64 = [1, 2, 3, 4, 5, 6, 7, 8],
            120,
            &[1, 2, 3, 4, 5, 6, 7, 8],
        );
        pin_ns(
            "lbaf0",
            |n| {
                n.lbaf = vec![LbaFormat {
                    ms: 0x0102,
                    lbads: 12,
                    rp: 2,
                }]
            },
            128,
            &[2, 1, 12, 2],
        );
        pin_ns(
            "lbaf1",
            |n| {
                // NLBAF left 0 so only the entry's bytes are non-zero.
                n.lbaf = vec![
                    LbaFormat::default(),
                    LbaFormat {
                        ms: 8,
                        lbads: 9,
                        rp: 1,
                    },
                ];
            },
            132,
            &[8, 0, 9, 1],
        );
    }

    #[test]
    fn namespace_last_lba_format_position() {
        let mut n = IdentifyNamespace {
            lbaf: vec![LbaFormat::default(); 64],
            ..Default::default()
        };
        n.lbaf[63] = LbaFormat {
            ms: 8,
            lbads: 9,
            rp: 1,
        };
        let b = n.to_bytes();
        assert_eq!(&b[128 + 63 * 4..128 + 64 * 4], &[8, 0, 9, 1]);
        assert!(b[384..].iter().all(|&x| x == 0));
        // Formats past 64 have no place and are not written.
        n.lbaf.push(LbaFormat {
            ms: 1,
            lbads: 1,
            rp: 1,
        });
        assert_eq!(n.to_bytes(), b);
    }

    #[test]
    fn namespace_all_zero_is_inactive_default() {
        let zeros = vec![0u8; 4096];
        let n = IdentifyNamespace::parse(&zeros).unwrap();
        assert_eq!(n, IdentifyNamespace::default());
        assert_eq!(IdentifyNamespace::default().to_bytes(), zeros);
        assert_eq!(n.block_size(), None);
        assert!(IdentifyNamespace::parse(&zeros[..100]).is_err());
    }

    #[test]
    fn namespace_lbaf_parse_keeps_declared_entries() {
        let mut b = vec![0u8; 4096];
        b[25] = 1; // two formats declared
        b[128 + 2] = 9; // format 0: 512 B; format 1 all zero
        let n = IdentifyNamespace::parse(&b).unwrap();
        assert_eq!(n.lbaf.len(), 2);
        assert_eq!(n.to_bytes(), b);
        // A non-zero entry beyond NLBAF is kept too, so nothing is lost.
        b[128 + 5 * 4 + 2] = 12;
        let n = IdentifyNamespace::parse(&b).unwrap();
        assert_eq!(n.lbaf.len(), 6);
        assert_eq!(n.to_bytes(), b);
    }

    #[test]
    fn namespace_block_size() {
        let mut n = IdentifyNamespace {
            lbaf: vec![
                LbaFormat {
                    ms: 0,
                    lbads: 9,
                    rp: 0,
                },
                LbaFormat {
                    ms: 8,
                    lbads: 12,
                    rp: 0,
                },
            ],
            nlbaf: 1,
            ..Default::default()
        };
        assert_eq!(n.block_size(), Some(512));
        assert_eq!(n.metadata_size(), 0);
        n.flbas = 1;
        assert_eq!(n.block_size(), Some(4096));
        assert_eq!(n.metadata_size(), 8);
        // High index bits are ignored with 16 or fewer formats...
        n.flbas = 0x20 | 1;
        assert_eq!(n.lba_format_index(), 1);
        // ...and used with more.
        n.nlbaf = 20;
        n.lbaf.resize(21, LbaFormat::default());
        n.lbaf[17] = LbaFormat {
            ms: 0,
            lbads: 13,
            rp: 0,
        };
        assert_eq!(n.lba_format_index(), 17);
        assert_eq!(n.block_size(), Some(8192));
        // Out-of-spec LBADS values yield None instead of a bogus size.
        n.lbaf[17].lbads = 8;
        assert_eq!(n.block_size(), None);
        n.lbaf[17].lbads = 40;
        assert_eq!(n.block_size(), None);
        n.flbas = 0x0F; // index 15, exists but zero
        n.nlbaf = 1;
        assert_eq!(n.block_size(), None);
    }

    #[test]
    fn ns_list_encode() {
        let b = encode_ns_list(&[5, 1, 3, 3, 0, NSID_BROADCAST, 2], 1);
        assert_eq!(b.len(), 4096);
        assert_eq!(&b[..16], &[2, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
        assert!(b[12..].iter().all(|&x| x == 0));
        assert_eq!(parse_ns_list(&b), vec![2, 3, 5]);
        assert_eq!(
            parse_ns_list(&encode_ns_list(&[1, 2], 2)),
            Vec::<u32>::new()
        );
    }

    #[test]
    fn ns_list_caps_at_1024() {
        let ids: Vec<u32> = (1..=2000).collect();
        let b = encode_ns_list(&ids, 0);
        let got = parse_ns_list(&b);
        assert_eq!(got.len(), 1024);
        assert_eq!(got[1023], 1024);
        // The next page starts after the last NSID returned.
        let next = parse_ns_list(&encode_ns_list(&ids, 1024));
        assert_eq!(next.first(), Some(&1025));
        assert_eq!(next.len(), 976);
    }

    #[test]
    fn ns_list_parse_bounded() {
        assert!(parse_ns_list(&[]).is_empty());
        assert_eq!(parse_ns_list(&[1, 0, 0, 0, 2, 0]), vec![1]);
        // Longer than 4096 bytes of non-zero entries: still at most 1024.
        assert_eq!(parse_ns_list(&[1u8; 8192]).len(), 1024);
    }

    #[test]
    fn ns_id_descriptors_layout() {
        let nguid = [0x11u8; 16];
        let uuid = [0x22u8; 16];
        let b = encode_ns_id_descriptors(&[
            NsIdDescriptor::Eui64([1, 2, 3, 4, 5, 6, 7, 8]),
            NsIdDescriptor::Nguid(nguid),
            NsIdDescriptor::Uuid(uuid),
            NsIdDescriptor::Csi(0),
        ]);
        assert_eq!(b.len(), 4096);
        assert_eq!(&b[0..4], &[1, 8, 0, 0]);
        assert_eq!(&b[4..12], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&b[12..16], &[2, 16, 0, 0]);
        assert_eq!(&b[16..32], &nguid);
        assert_eq!(&b[32..36], &[3, 16, 0, 0]);
        assert_eq!(&b[36..52], &uuid);
        assert_eq!(&b[52..56], &[4, 1, 0, 0]);
        assert_eq!(b[56], 0);
        assert!(b[57..].iter().all(|&x| x == 0));
        let d = parse_ns_id_descriptors(&b).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[3], NsIdDescriptor::Csi(0));
        assert_eq!(encode_ns_id_descriptors(&d), b);
    }

    #[test]
    fn ns_id_descriptors_reject_bad_nidl() {
        let mut b = vec![0u8; 4096];
        b[0] = 2;
        b[1] = 8; // NGUID must be 16
        assert_eq!(
            parse_ns_id_descriptors(&b),
            Err(IdentifyError::BadNidl {
                offset: 0,
                nidt: 2,
                nidl: 8,
                expected: 16
            })
        );
        b[0] = 4;
        b[1] = 4; // CSI must be 1
        assert!(matches!(
            parse_ns_id_descriptors(&b),
            Err(IdentifyError::BadNidl { .. })
        ));
    }

    #[test]
    fn ns_id_descriptors_bounded() {
        // Header cut short.
        assert_eq!(
            parse_ns_id_descriptors(&[3, 16]),
            Err(IdentifyError::TruncatedDescriptor { offset: 0, len: 2 })
        );
        // Identifier runs past the end of a short buffer.
        assert_eq!(
            parse_ns_id_descriptors(&[3, 16, 0, 0, 1, 2, 3]),
            Err(IdentifyError::TruncatedDescriptor { offset: 0, len: 7 })
        );
        // Descriptor straddling byte 4096 of a longer buffer: only 4096 count.
        let mut b = vec![0u8; 5000];
        for i in (0..4092).step_by(4) {
            b[i] = 0x80; // unknown type, NIDL 0: 4-byte steps
        }
        b[4092] = 3; // UUID whose 16 identifier bytes would start at 4096
        b[4093] = 16;
        b[4096..4112].fill(0x55);
        assert!(matches!(
            parse_ns_id_descriptors(&b),
            Err(IdentifyError::TruncatedDescriptor { len: 4096, .. })
        ));
        assert_eq!(parse_ns_id_descriptors(&[]).unwrap(), vec![]);
        assert_eq!(parse_ns_id_descriptors(&[0, 0xFF]).unwrap(), vec![]);
    }

    #[test]
    fn ns_id_descriptors_unknown_type_kept_and_skipped() {
        let mut b = vec![0u8; 4096];
        b[..7].copy_from_slice(&[0x7F, 3, 0, 0, 9, 8, 7]);
        b[7..12].copy_from_slice(&[4, 1, 0, 0, 2]);
        let d = parse_ns_id_descriptors(&b).unwrap();
        assert_eq!(
            d,
            vec![
                NsIdDescriptor::Other {
                    nidt: 0x7F,
                    nid: vec![9, 8, 7]
                },
                NsIdDescriptor::Csi(2)
            ]
        );
        assert_eq!(encode_ns_id_descriptors(&d), b);
    }

    #[test]
    fn ns_id_descriptors_encode_limits() {
        // NIDT 0 would terminate the list: skipped.
        let b = encode_ns_id_descriptors(&[
            NsIdDescriptor::Other {
                nidt: 0,
                nid: vec![1],
            },
            NsIdDescriptor::Csi(0),
        ]);
        assert_eq!(&b[..5], &[4, 1, 0, 0, 0]);
        // Oversized identifiers are capped at NIDL 255.
        let b = encode_ns_id_descriptors(&[NsIdDescriptor::Other {
            nidt: 0x90,
            nid: vec![0xAB; 300],
        }]);
        assert_eq!(&b[..2], &[0x90, 255]);
        assert_eq!(b[4 + 254], 0xAB);
        assert_eq!(b[4 + 255], 0);
        // More than fits: stops before overflowing 4096 bytes.
        let many = vec![NsIdDescriptor::Nguid([0xCD; 16]); 300];
        let b = encode_ns_id_descriptors(&many);
        assert_eq!(b.len(), 4096);
        assert_eq!(parse_ns_id_descriptors(&b).unwrap().len(), 4096 / 20);
    }

    /// Deterministic garbage of many lengths through every parser: errors
    /// are fine, panics are not.
    #[test]
    fn parsers_never_panic_on_garbage() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..400usize {
            let len = match round % 4 {
                0 => round % 64,
                1 => 4096,
                2 => 4096 + round,
                _ => (round * 37) % 5000,
            };
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Bias toward small values so descriptor walks go deep.
                    if x.is_multiple_of(3) {
                        (x >> 8) as u8 & 0x07
                    } else {
                        (x >> 16) as u8
                    }
                })
                .collect();
            let _ = IdentifyController::parse(&b);
            if let Ok(n) = IdentifyNamespace::parse(&b) {
                let _ = n.block_size();
                assert_eq!(n.to_bytes().len(), 4096);
            }
            let _ = parse_ns_list(&b);
            let _ = parse_ns_id_descriptors(&b);
        }
    }

    #[test]
    fn ns_id_uuid_helper() {
        let u = uuid::Uuid::from_bytes([7; 16]);
        assert_eq!(NsIdDescriptor::from_uuid(u), NsIdDescriptor::Uuid([7; 16]));
    }
}
