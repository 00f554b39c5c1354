//! NVMe/TCP PDUs: types, encoder, and a validating incremental decoder.
//!
//! Every PDU starts with an 8-byte common header (CH): type @0, FLAGS @1,
//! HLEN @2 (CH + PDU specific header, without the header digest), PDO @3
//! (offset of the data, 0 without data), PLEN @4 (u32, the whole PDU). Then:
//!
//! ```text
//! | CH+PSH (HLEN) | HDGST (4, if HDGSTF) | PAD (to PDO) | DATA | DDGST (4, if DDGSTF) |
//! ```
//!
//! Header digests apply to CapsuleCmd, CapsuleResp, H2CData, C2HData and
//! R2T; data digests to those of them that carry data. ICReq/ICResp and the
//! TermReqs never carry digests.
//!
//! The decoder mirrors the checks of SPDK's target (`nvmf_tcp_pdu_ch_handle`,
//! the PSH and payload handlers) and reports failures with the FES/FEI SPDK
//! puts in its C2HTermReq. It takes bytes from a `BytesMut` the caller fills
//! from the socket; payloads come back as zero-copy `Bytes` slices.

use bytes::{BufMut, Bytes, BytesMut};

use super::digest::{self, DIGEST_LEN};
use super::sqe::{Cqe, Sqe, CQE_LEN, SQE_LEN};

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/// Common header length.
pub const CH_LEN: usize = 8;
/// ICReq / ICResp: HLEN = PLEN = 128.
pub const IC_LEN: usize = 128;
/// CapsuleCmd HLEN: CH + 64-byte SQE.
pub const CAPSULE_CMD_HLEN: usize = CH_LEN + SQE_LEN;
/// CapsuleResp HLEN: CH + 16-byte CQE.
pub const CAPSULE_RESP_HLEN: usize = CH_LEN + CQE_LEN;
/// H2CData / C2HData HLEN.
pub const DATA_HLEN: usize = 24;
/// R2T HLEN.
pub const R2T_HLEN: usize = 24;
/// H2CTermReq / C2HTermReq HLEN.
pub const TERM_REQ_HLEN: usize = 24;
/// A TermReq carries at most this many bytes of the offending header.
pub const TERM_REQ_MAX_HDR_COPY: usize = 128;
/// Largest TermReq PLEN (24 + 128).
pub const TERM_REQ_MAX_PLEN: usize = TERM_REQ_HLEN + TERM_REQ_MAX_HDR_COPY;
/// Largest HPDA / CPDA value (0's based dwords, so 128-byte alignment).
pub const MAX_PDA_FIELD: u8 = 31;
/// Smallest MAXH2CDATA an ICResp may announce.
pub const MIN_MAXH2CDATA: u32 = 4096;

/// CH FLAGS: header digest present.
pub const HDGSTF: u8 = 0x01;
/// CH FLAGS: data digest present.
pub const DDGSTF: u8 = 0x02;
/// CH FLAGS (H2CData/C2HData): last PDU of the transfer.
pub const LAST_PDU: u8 = 0x04;
/// CH FLAGS (C2HData, only with LAST_PDU): the command succeeded and no
/// CapsuleResp follows.
pub const SUCCESS: u8 = 0x08;

/// Byte offsets used as FEI (Fatal Error Information) values.
pub mod fei {
    /// CH: PDU type.
    pub const PDU_TYPE: u32 = 0;
    /// CH: FLAGS.
    pub const FLAGS: u32 = 1;
    /// CH: HLEN.
    pub const HLEN: u32 = 2;
    /// CH: PDO.
    pub const PDO: u32 = 3;
    /// CH: PLEN.
    pub const PLEN: u32 = 4;
    /// ICReq/ICResp PFV; TermReq FES.
    pub const PFV: u32 = 8;
    /// ICReq HPDA / ICResp CPDA.
    pub const PDA: u32 = 10;
    /// ICResp MAXH2CDATA.
    pub const MAXH2CDATA: u32 = 12;
    /// H2CData/C2HData DATAL; R2T R2TL.
    pub const DATAL: u32 = 16;
    /// CapsuleCmd: SQE SGL1 address (CH 8 + SQE 24).
    pub const SGL1_ADDRESS: u32 = 32;
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/// PDU type (CH byte 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PduType {
    IcReq = 0x00,
    IcResp = 0x01,
    H2CTermReq = 0x02,
    C2HTermReq = 0x03,
    CapsuleCmd = 0x04,
    CapsuleResp = 0x05,
    H2CData = 0x06,
    C2HData = 0x07,
    R2T = 0x09,
}

impl PduType {
    pub const fn from_u8(v: u8) -> Option<PduType> {
        Some(match v {
            0x00 => PduType::IcReq,
            0x01 => PduType::IcResp,
            0x02 => PduType::H2CTermReq,
            0x03 => PduType::C2HTermReq,
            0x04 => PduType::CapsuleCmd,
            0x05 => PduType::CapsuleResp,
            0x06 => PduType::H2CData,
            0x07 => PduType::C2HData,
            0x09 => PduType::R2T,
            _ => return None,
        })
    }
    /// The fixed HLEN of this type.
    pub const fn hlen(self) -> usize {
        match self {
            PduType::IcReq | PduType::IcResp => IC_LEN,
            PduType::H2CTermReq | PduType::C2HTermReq => TERM_REQ_HLEN,
            PduType::CapsuleCmd => CAPSULE_CMD_HLEN,
            PduType::CapsuleResp => CAPSULE_RESP_HLEN,
            PduType::H2CData | PduType::C2HData => DATA_HLEN,
            PduType::R2T => R2T_HLEN,
        }
    }
    /// Whether a negotiated header digest applies to this type.
    pub const fn digest_capable(self) -> bool {
        !matches!(
            self,
            PduType::IcReq | PduType::IcResp | PduType::H2CTermReq | PduType::C2HTermReq
        )
    }
    /// Whether this type may carry data (and then a data digest).
    pub const fn carries_data(self) -> bool {
        matches!(
            self,
            PduType::CapsuleCmd | PduType::H2CData | PduType::C2HData
        )
    }
    /// True for the types a host sends (and a controller receives).
    pub const fn is_host_to_controller(self) -> bool {
        matches!(
            self,
            PduType::IcReq | PduType::H2CTermReq | PduType::CapsuleCmd | PduType::H2CData
        )
    }
}

/// The 8-byte common header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommonHeader {
    pub pdu_type: u8,
    pub flags: u8,
    pub hlen: u8,
    pub pdo: u8,
    pub plen: u32,
}

impl CommonHeader {
    /// Parse the first 8 bytes; `None` if shorter.
    pub fn parse(b: &[u8]) -> Option<CommonHeader> {
        let b = b.get(..CH_LEN)?;
        Some(CommonHeader {
            pdu_type: b[0],
            flags: b[1],
            hlen: b[2],
            pdo: b[3],
            plen: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
    pub fn to_bytes(&self) -> [u8; CH_LEN] {
        let p = self.plen.to_le_bytes();
        [
            self.pdu_type,
            self.flags,
            self.hlen,
            self.pdo,
            p[0],
            p[1],
            p[2],
            p[3],
        ]
    }
}

/// ICReq (host → controller), 128 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcReq {
    /// PDU format version, 0.
    pub pfv: u16,
    /// Host PDU data alignment, 0's based dwords: the controller pads C2H
    /// data to `(hpda + 1) * 4`.
    pub hpda: u8,
    /// Header digest requested (DGST b0).
    pub hdgst: bool,
    /// Data digest requested (DGST b1).
    pub ddgst: bool,
    /// Maximum outstanding R2Ts per command, 0's based.
    pub maxr2t: u32,
}

/// ICResp (controller → host), 128 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcResp {
    pub pfv: u16,
    /// Controller PDU data alignment, 0's based dwords: the host pads
    /// in-capsule and H2C data to `(cpda + 1) * 4`.
    pub cpda: u8,
    /// Header digest enabled.
    pub hdgst: bool,
    /// Data digest enabled.
    pub ddgst: bool,
    /// Largest data in one H2CData PDU (>= 4096).
    pub maxh2cdata: u32,
}

/// H2CTermReq / C2HTermReq body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TermReq {
    /// Fatal error status (raw, see [`Fes`]).
    pub fes: u16,
    /// Fatal error information (byte offset for FES 1 and 6, else 0).
    pub fei: u32,
    /// Copy of the offending PDU's header, at most 128 bytes.
    pub header: Bytes,
}

/// CapsuleCmd: an SQE plus optional in-capsule data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapsuleCmd {
    pub sqe: Sqe,
    /// In-capsule data, empty if none.
    pub data: Bytes,
}

/// H2CData / C2HData.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataPdu {
    /// Command capsule CID.
    pub cccid: u16,
    /// Transfer tag from the R2T (H2CData); reserved (0) in C2HData.
    pub ttag: u16,
    /// Offset of this PDU's data in the command's buffer.
    pub datao: u32,
    /// LAST_PDU flag.
    pub last: bool,
    /// SUCCESS flag (C2HData only; needs `last`).
    pub success: bool,
    pub data: Bytes,
}

/// R2T (controller → host): "send me `r2tl` bytes from offset `r2to`".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct R2t {
    pub cccid: u16,
    pub ttag: u16,
    pub r2to: u32,
    pub r2tl: u32,
}

/// One NVMe/TCP PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pdu {
    IcReq(IcReq),
    IcResp(IcResp),
    H2CTermReq(TermReq),
    C2HTermReq(TermReq),
    CapsuleCmd(CapsuleCmd),
    CapsuleResp(Cqe),
    H2CData(DataPdu),
    C2HData(DataPdu),
    R2T(R2t),
}

impl Pdu {
    pub fn pdu_type(&self) -> PduType {
        match self {
            Pdu::IcReq(_) => PduType::IcReq,
            Pdu::IcResp(_) => PduType::IcResp,
            Pdu::H2CTermReq(_) => PduType::H2CTermReq,
            Pdu::C2HTermReq(_) => PduType::C2HTermReq,
            Pdu::CapsuleCmd(_) => PduType::CapsuleCmd,
            Pdu::CapsuleResp(_) => PduType::CapsuleResp,
            Pdu::H2CData(_) => PduType::H2CData,
            Pdu::C2HData(_) => PduType::C2HData,
            Pdu::R2T(_) => PduType::R2T,
        }
    }
    /// The command identifier this PDU refers to, if any.
    pub fn cid(&self) -> Option<u16> {
        match self {
            Pdu::CapsuleCmd(c) => Some(c.sqe.cid()),
            Pdu::CapsuleResp(c) => Some(c.cid),
            Pdu::H2CData(d) | Pdu::C2HData(d) => Some(d.cccid),
            Pdu::R2T(r) => Some(r.cccid),
            _ => None,
        }
    }
    /// The data bytes this PDU carries (empty for header-only PDUs; for a
    /// TermReq, the copied header).
    pub fn data(&self) -> &[u8] {
        match self {
            Pdu::CapsuleCmd(c) => &c.data,
            Pdu::H2CData(d) | Pdu::C2HData(d) => &d.data,
            Pdu::H2CTermReq(t) | Pdu::C2HTermReq(t) => &t.header,
            _ => &[],
        }
    }
}

/// Which side a decoder runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The target: decodes ICReq, H2CTermReq, CapsuleCmd, H2CData.
    Controller,
    /// The initiator: decodes ICResp, C2HTermReq, CapsuleResp, C2HData, R2T.
    Host,
}

impl Role {
    /// Whether a PDU of type `t` may arrive at this side.
    pub const fn receives(self, t: PduType) -> bool {
        match self {
            Role::Controller => t.is_host_to_controller(),
            Role::Host => !t.is_host_to_controller(),
        }
    }
}

/// Per-connection framing parameters, fixed after ICReq/ICResp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framing {
    /// Header digests negotiated.
    pub hdgst: bool,
    /// Data digests negotiated.
    pub ddgst: bool,
    /// Data alignment for PDUs this side SENDS, in bytes: `(CPDA+1)*4` for a
    /// host, `(HPDA+1)*4` for a controller; 0 or 4 means no padding.
    pub pda: u32,
}

/// Alignment in bytes for an HPDA/CPDA field value (0's based dwords).
pub const fn pda_bytes(pxda: u8) -> u32 {
    (pxda as u32 + 1) * 4
}

impl Framing {
    /// The controller's framing after receiving `req` and answering with
    /// CPDA 0 and exactly the digests the host asked for (what Linux hosts
    /// require): it pads C2H data to the host's HPDA.
    pub const fn for_controller(req: &IcReq) -> Framing {
        Framing {
            hdgst: req.hdgst,
            ddgst: req.ddgst,
            pda: pda_bytes(req.hpda),
        }
    }
    /// The host's framing after receiving `resp`: digests as the controller
    /// enabled them, H2C/in-capsule data padded to the controller's CPDA.
    pub const fn for_host(resp: &IcResp) -> Framing {
        Framing {
            hdgst: resp.hdgst,
            ddgst: resp.ddgst,
            pda: pda_bytes(resp.cpda),
        }
    }
    pub const fn hdgst_len(&self) -> usize {
        if self.hdgst {
            DIGEST_LEN
        } else {
            0
        }
    }
    pub const fn ddgst_len(&self) -> usize {
        if self.ddgst {
            DIGEST_LEN
        } else {
            0
        }
    }
    /// PDO for a PDU with data that this side sends: header + digest,
    /// rounded up to a multiple of `pda` when `pda > 4` (the spec requires a
    /// multiple; SPDK's receive side checks exactly that).
    pub const fn data_pdo(&self, hlen: usize) -> usize {
        let base = hlen + self.hdgst_len();
        let a = self.pda as usize;
        if a <= 4 {
            return base;
        }
        let pdo = base.div_ceil(a) * a;
        // PDO is one byte; an absurd alignment falls back to no padding
        // rather than producing a header that lies.
        if pdo > u8::MAX as usize {
            base
        } else {
            pdo
        }
    }
}

/// Fatal error status of a TermReq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Fes {
    /// FEI = byte offset of the bad field.
    InvalidHeaderField = 0x01,
    PduSequenceError = 0x02,
    HeaderDigestError = 0x03,
    DataTransferOutOfRange = 0x04,
    /// Also "R2T limit exceeded".
    DataTransferLimitExceeded = 0x05,
    /// FEI = byte offset of the unsupported field.
    UnsupportedParameter = 0x06,
}

impl Fes {
    pub const fn from_u16(v: u16) -> Option<Fes> {
        Some(match v {
            0x01 => Fes::InvalidHeaderField,
            0x02 => Fes::PduSequenceError,
            0x03 => Fes::HeaderDigestError,
            0x04 => Fes::DataTransferOutOfRange,
            0x05 => Fes::DataTransferLimitExceeded,
            0x06 => Fes::UnsupportedParameter,
            _ => return None,
        })
    }
    /// Whether FEI carries a byte offset for this FES (SPDK sets FEI only
    /// for these two).
    pub const fn has_offset(self) -> bool {
        matches!(self, Fes::InvalidHeaderField | Fes::UnsupportedParameter)
    }
    pub const fn name(self) -> &'static str {
        match self {
            Fes::InvalidHeaderField => "Invalid PDU Header Field",
            Fes::PduSequenceError => "PDU Sequence Error",
            Fes::HeaderDigestError => "Header Digest Error",
            Fes::DataTransferOutOfRange => "Data Transfer Out of Range",
            Fes::DataTransferLimitExceeded => "Data Transfer Limit Exceeded",
            Fes::UnsupportedParameter => "Unsupported Parameter",
        }
    }
}

/// A fatal transport error found while decoding: everything needed for the
/// TermReq that must be sent before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NVMe/TCP: {reason} (FES {fes:?}, FEI {fei})")]
pub struct PduError {
    pub fes: Fes,
    /// Byte offset of the offending field for FES 1 / 6, else 0.
    pub fei: u32,
    /// Up to 128 bytes of the offending PDU's header, for the TermReq. For
    /// errors found in the 8-byte common header alone (before the rest has
    /// been waited for) this is just those 8 bytes.
    pub header: Bytes,
    pub reason: &'static str,
}

/// `reason` of the error [`Decoder::decode`] returns for a data digest
/// mismatch.
pub const DATA_DIGEST_REASON: &str = "data digest mismatch";

impl PduError {
    /// Build an error, keeping at most 128 bytes of `header`.
    pub fn new(fes: Fes, fei: u32, header: &[u8], reason: &'static str) -> PduError {
        let n = header.len().min(TERM_REQ_MAX_HDR_COPY);
        PduError {
            fes,
            fei,
            header: Bytes::copy_from_slice(&header[..n]),
            reason,
        }
    }
    /// True if this is the data digest error of [`Decoder::decode`]: the PDU
    /// was consumed, and the caller may instead complete the command with
    /// [`Status::TRANSIENT_TRANSPORT_ERROR`](super::status::Status::TRANSIENT_TRANSPORT_ERROR)
    /// and keep the connection (SPDK), see [`PduError::command_id`].
    pub fn is_data_digest_error(&self) -> bool {
        self.reason == DATA_DIGEST_REASON
    }
    /// The CID named in the copied header: the SQE's CID for a CapsuleCmd,
    /// CCCID for data PDUs, R2T and the CQE's CID for a CapsuleResp.
    pub fn command_id(&self) -> Option<u16> {
        let h = &self.header;
        let at = |off: usize| -> Option<u16> {
            let b = h.get(off..off + 2)?;
            Some(u16::from_le_bytes([b[0], b[1]]))
        };
        match PduType::from_u8(*h.first()?)? {
            PduType::CapsuleCmd => at(CH_LEN + 2),
            PduType::CapsuleResp => at(CH_LEN + 12),
            PduType::H2CData | PduType::C2HData | PduType::R2T => at(CH_LEN),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

fn term_req_psh(t: &TermReq) -> [u8; TERM_REQ_HLEN - CH_LEN] {
    let mut p = [0u8; TERM_REQ_HLEN - CH_LEN];
    p[0..2].copy_from_slice(&t.fes.to_le_bytes());
    p[2..6].copy_from_slice(&t.fei.to_le_bytes());
    p
}

fn data_psh(d: &DataPdu) -> [u8; DATA_HLEN - CH_LEN] {
    let mut p = [0u8; DATA_HLEN - CH_LEN];
    p[0..2].copy_from_slice(&d.cccid.to_le_bytes());
    p[2..4].copy_from_slice(&d.ttag.to_le_bytes());
    p[4..8].copy_from_slice(&d.datao.to_le_bytes());
    p[8..12].copy_from_slice(&u32_len(d.data.len()).to_le_bytes());
    p
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The parts of one encoded PDU, for vectored writes: `head` (header,
/// header digest and padding), then `data` (zero-copy), then `ddgst`.
#[derive(Clone, Debug)]
pub struct EncodedParts {
    pub head: BytesMut,
    pub data: Bytes,
    pub ddgst: Option<[u8; DIGEST_LEN]>,
}

impl EncodedParts {
    pub fn len(&self) -> usize {
        self.head.len() + self.data.len() + self.ddgst.map_or(0, |d| d.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Write one PDU's head into `out` and return its data and data digest.
/// `psh` is everything after the CH up to HLEN.
fn encode_generic(
    out: &mut BytesMut,
    ty: PduType,
    type_flags: u8,
    psh: &[u8],
    data: &Bytes,
    f: &Framing,
) -> (Bytes, Option<[u8; DIGEST_LEN]>) {
    let hlen = CH_LEN + psh.len();
    let digests = ty.digest_capable();
    let hd = digests && f.hdgst;
    let has_data = !data.is_empty();
    let dd = digests && has_data && f.ddgst;

    let mut flags = type_flags;
    if hd {
        flags |= HDGSTF;
    }
    if dd {
        flags |= DDGSTF;
    }
    // TermReq data (the copied header) follows the header directly with PDO
    // 0, as SPDK sends it; real data starts at the aligned PDO.
    let (pdo, data_start) = if !has_data {
        (0, hlen + if hd { DIGEST_LEN } else { 0 })
    } else if digests {
        let p = f.data_pdo(hlen);
        (p, p)
    } else {
        (0, hlen)
    };
    let plen = data_start + data.len() + if dd { DIGEST_LEN } else { 0 };
    let ch = CommonHeader {
        pdu_type: ty as u8,
        flags,
        hlen: hlen as u8,
        pdo: pdo as u8,
        plen: u32_len(plen),
    };
    let start = out.len();
    out.reserve(data_start);
    out.put_slice(&ch.to_bytes());
    out.put_slice(psh);
    if hd {
        let crc = digest::header_digest(&out[start..start + hlen]);
        out.put_slice(&crc.to_le_bytes());
    }
    let written = out.len() - start;
    out.put_bytes(0, data_start.saturating_sub(written));
    let ddgst = dd.then(|| digest::data_digest(data).to_le_bytes());
    (data.clone(), ddgst)
}

/// Encode one PDU as parts for a vectored write (no copy of the data).
/// Flags, digests and PDO follow `f` and the PDU type exactly as [`encode`].
pub fn encode_parts(pdu: &Pdu, f: &Framing) -> EncodedParts {
    let mut head = BytesMut::new();
    let (data, ddgst) = encode_head(pdu, f, &mut head);
    EncodedParts { head, data, ddgst }
}

fn encode_head(pdu: &Pdu, f: &Framing, out: &mut BytesMut) -> (Bytes, Option<[u8; 4]>) {
    let empty = Bytes::new();
    match pdu {
        Pdu::IcReq(ic) => {
            let mut p = [0u8; IC_LEN - CH_LEN];
            p[0..2].copy_from_slice(&ic.pfv.to_le_bytes());
            p[2] = ic.hpda;
            p[3] = (ic.hdgst as u8) | ((ic.ddgst as u8) << 1);
            p[4..8].copy_from_slice(&ic.maxr2t.to_le_bytes());
            encode_generic(out, PduType::IcReq, 0, &p, &empty, f)
        }
        Pdu::IcResp(ic) => {
            let mut p = [0u8; IC_LEN - CH_LEN];
            p[0..2].copy_from_slice(&ic.pfv.to_le_bytes());
            p[2] = ic.cpda;
            p[3] = (ic.hdgst as u8) | ((ic.ddgst as u8) << 1);
            p[4..8].copy_from_slice(&ic.maxh2cdata.to_le_bytes());
            encode_generic(out, PduType::IcResp, 0, &p, &empty, f)
        }
        Pdu::H2CTermReq(t) | Pdu::C2HTermReq(t) => {
            let ty = pdu.pdu_type();
            let n = t.header.len().min(TERM_REQ_MAX_HDR_COPY);
            let hdr = t.header.slice(..n);
            encode_generic(out, ty, 0, &term_req_psh(t), &hdr, f)
        }
        Pdu::CapsuleCmd(c) => encode_generic(out, PduType::CapsuleCmd, 0, &c.sqe.0, &c.data, f),
        Pdu::CapsuleResp(cqe) => {
            encode_generic(out, PduType::CapsuleResp, 0, &cqe.to_bytes(), &empty, f)
        }
        Pdu::H2CData(d) => {
            // SUCCESS is reserved in H2CData.
            let fl = if d.last { LAST_PDU } else { 0 };
            encode_generic(out, PduType::H2CData, fl, &data_psh(d), &d.data, f)
        }
        Pdu::C2HData(d) => {
            let mut fl = if d.last { LAST_PDU } else { 0 };
            if d.success {
                fl |= SUCCESS;
            }
            encode_generic(out, PduType::C2HData, fl, &data_psh(d), &d.data, f)
        }
        Pdu::R2T(r) => {
            let mut p = [0u8; R2T_HLEN - CH_LEN];
            p[0..2].copy_from_slice(&r.cccid.to_le_bytes());
            p[2..4].copy_from_slice(&r.ttag.to_le_bytes());
            p[4..8].copy_from_slice(&r.r2to.to_le_bytes());
            p[8..12].copy_from_slice(&r.r2tl.to_le_bytes());
            encode_generic(out, PduType::R2T, 0, &p, &empty, f)
        }
    }
}

/// Append one PDU to `out`. Digests and their flags follow `f` and the PDU
/// type (never on ICReq/ICResp/TermReq; DDGST only when there is data). PDO
/// is as SPDK sends it: 0 without data (a data-less CapsuleCmd too), else
/// HLEN (+4 with header digest), padded up to a multiple of `f.pda`.
pub fn encode(pdu: &Pdu, f: &Framing, out: &mut BytesMut) {
    let (data, ddgst) = encode_head(pdu, f, out);
    out.extend_from_slice(&data);
    if let Some(d) = ddgst {
        out.extend_from_slice(&d);
    }
}

/// Encode one PDU into a fresh buffer.
pub fn encode_to_bytes(pdu: &Pdu, f: &Framing) -> Bytes {
    let mut out = BytesMut::new();
    encode(pdu, f, &mut out);
    out.freeze()
}

/// The TermReq to send for `err`, in the direction of the side that found
/// it. For errors from a [`Decoder`] this is always right; for an error
/// built by hand it is inferred from the offending PDU's type (a PDU a host
/// sends was received by a controller, which answers with C2HTermReq), and
/// defaults to C2HTermReq if the type byte is garbage. [`term_req`] and
/// [`Decoder::term_req`] take the role explicitly.
pub fn term_req_for(err: &PduError) -> Pdu {
    let role = match err.reason {
        REASON_BAD_TYPE_CONTROLLER | REASON_BEFORE_IC_CONTROLLER => Role::Controller,
        REASON_BAD_TYPE_HOST | REASON_BEFORE_IC_HOST => Role::Host,
        _ => match err.header.first().and_then(|&t| PduType::from_u8(t)) {
            Some(t) if !t.is_host_to_controller() => Role::Host,
            _ => Role::Controller,
        },
    };
    term_req(role, err)
}

// Reasons of the decoder errors whose header may hold any type byte, so
// `term_req_for` can still tell which side found them.
const REASON_BAD_TYPE_CONTROLLER: &str = "PDU type not valid for a controller to receive";
const REASON_BAD_TYPE_HOST: &str = "PDU type not valid for a host to receive";
const REASON_BEFORE_IC_CONTROLLER: &str = "PDU before ICReq";
const REASON_BEFORE_IC_HOST: &str = "PDU before ICResp";

/// The TermReq a side in `role` sends for `err`: C2HTermReq from a
/// controller, H2CTermReq from a host. FEI is kept only for FES 1 and 6 (as
/// SPDK does), and at most 128 header bytes are copied.
pub fn term_req(role: Role, err: &PduError) -> Pdu {
    let n = err.header.len().min(TERM_REQ_MAX_HDR_COPY);
    let t = TermReq {
        fes: err.fes as u16,
        fei: if err.fes.has_offset() { err.fei } else { 0 },
        header: err.header.slice(..n),
    };
    match role {
        Role::Controller => Pdu::C2HTermReq(t),
        Role::Host => Pdu::H2CTermReq(t),
    }
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

/// Result of [`Decoder::decode_checked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A valid PDU.
    Pdu(Pdu),
    /// A PDU whose data digest did not match. Everything else was valid and
    /// the bytes were consumed, so the stream stays in sync. SPDK completes
    /// the command with Transient Transport Error (SCT 0, SC 0x22) and keeps
    /// the connection; the Linux host completes it with a data transfer
    /// error; older SPDK and nvmet end the connection.
    DataDigestError(Pdu),
}

/// Incremental decoder for one direction of one connection.
///
/// `Role::Controller` decodes what a target receives (ICReq, H2CTermReq,
/// CapsuleCmd, H2CData); `Role::Host` what a host receives (ICResp,
/// C2HTermReq, CapsuleResp, C2HData, R2T). Anything else is an error.
///
/// After any `Err` the connection must be terminated: the decoder does not
/// resynchronise (the one exception is a data digest error, see
/// [`PduError::is_data_digest_error`]).
#[derive(Clone, Debug)]
pub struct Decoder {
    pub role: Role,
    /// Digests negotiated for this connection (its `pda` is the send side
    /// alignment and is not used for decoding).
    pub framing: Framing,
    /// Largest data a PDU may carry; a PLEN implying more is rejected from
    /// the common header, before anything is buffered.
    pub max_data: u32,
    /// Alignment in bytes the peer must use for PDO (`(CPDA+1)*4` on a
    /// controller, `(HPDA+1)*4` on a host). 0 or 4: not checked. SPDK only
    /// checks it when CPDA != 0.
    pub rx_pda: u32,
    ic_done: bool,
}

impl Decoder {
    pub fn new(role: Role, max_data: u32) -> Decoder {
        Decoder {
            role,
            framing: Framing::default(),
            max_data,
            rx_pda: 0,
            ic_done: false,
        }
    }
    /// Set the negotiated framing. Also marks the IC exchange as done, so
    /// any further ICReq/ICResp is a sequence error.
    pub fn set_framing(&mut self, f: Framing) {
        self.framing = f;
        self.ic_done = true;
    }
    /// Whether the ICReq/ICResp has been seen (or framing set).
    pub fn ic_done(&self) -> bool {
        self.ic_done
    }
    /// The TermReq this side sends for `err`.
    pub fn term_req(&self, err: &PduError) -> Pdu {
        term_req(self.role, err)
    }

    /// Parse one PDU from the front of `buf`. `Ok(None)`: more bytes are
    /// needed and nothing was consumed. On success the PDU's bytes are split
    /// off `buf`; data payloads are zero-copy slices of them.
    ///
    /// A data digest mismatch is returned as an `Err` whose
    /// [`PduError::is_data_digest_error`] is true (FES Header Digest Error,
    /// the FES older SPDK used for it), with the PDU consumed. Treating it
    /// as fatal is the safe default; a caller that wants SPDK's behaviour
    /// (fail only the command) can use [`PduError::command_id`] and carry
    /// on, or call [`Decoder::decode_checked`] to get the whole PDU.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Pdu>, PduError> {
        match self.decode_inner(buf)? {
            None => Ok(None),
            Some((p, None)) => Ok(Some(p)),
            Some((_, Some(header))) => Err(PduError {
                fes: Fes::HeaderDigestError,
                fei: 0,
                header,
                reason: DATA_DIGEST_REASON,
            }),
        }
    }

    /// Like [`Decoder::decode`], but a data digest mismatch comes back as
    /// `Ok(Some(Decoded::DataDigestError(pdu)))` so the caller decides.
    pub fn decode_checked(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, PduError> {
        Ok(self.decode_inner(buf)?.map(|(p, bad)| match bad {
            None => Decoded::Pdu(p),
            Some(_) => Decoded::DataDigestError(p),
        }))
    }

    /// One PDU; the second element is the PDU's header (at most 128 bytes)
    /// when its data digest did not match.
    fn decode_inner(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(Pdu, Option<Bytes>)>, PduError> {
        // Stage 1: the common header alone. Everything that bounds the PDU's
        // size is checked here, before waiting for (and buffering) the rest.
        let ch_bytes: [u8; CH_LEN] = match buf.get(..CH_LEN).and_then(|b| b.try_into().ok()) {
            Some(b) => b,
            None => return Ok(None),
        };
        let ch = CommonHeader {
            pdu_type: ch_bytes[0],
            flags: ch_bytes[1],
            hlen: ch_bytes[2],
            pdo: ch_bytes[3],
            plen: u32::from_le_bytes([ch_bytes[4], ch_bytes[5], ch_bytes[6], ch_bytes[7]]),
        };
        let ch_err = |fes, fei, reason| Err(PduError::new(fes, fei, &ch_bytes, reason));

        let ty = PduType::from_u8(ch.pdu_type).filter(|t| self.role.receives(*t));
        let is_ic = matches!(ty, Some(PduType::IcReq | PduType::IcResp));
        let is_term = matches!(ty, Some(PduType::H2CTermReq | PduType::C2HTermReq));
        // A TermReq may legitimately answer a rejected ICReq, so it is
        // accepted before the IC exchange (SPDK's host would reject it; the
        // connection ends either way, this way we get to see the FES).
        // These two errors can carry any type byte, so their reason names
        // the receiving side (see `term_req_for`).
        if !self.ic_done && !is_ic && !is_term {
            let reason = match self.role {
                Role::Controller => REASON_BEFORE_IC_CONTROLLER,
                Role::Host => REASON_BEFORE_IC_HOST,
            };
            return ch_err(Fes::PduSequenceError, 0, reason);
        }
        if self.ic_done && is_ic {
            return ch_err(Fes::PduSequenceError, 0, "second ICReq/ICResp");
        }
        let Some(ty) = ty else {
            let reason = match self.role {
                Role::Controller => REASON_BAD_TYPE_CONTROLLER,
                Role::Host => REASON_BAD_TYPE_HOST,
            };
            return ch_err(Fes::InvalidHeaderField, fei::PDU_TYPE, reason);
        };
        let hlen = ty.hlen();
        if ch.hlen as usize != hlen {
            return ch_err(
                Fes::InvalidHeaderField,
                fei::HLEN,
                "HLEN does not match the PDU type",
            );
        }

        let digests = ty.digest_capable();
        let hd = if digests && self.framing.hdgst {
            DIGEST_LEN
        } else {
            0
        };
        if digests {
            if (ch.flags & HDGSTF != 0) != self.framing.hdgst {
                return ch_err(
                    Fes::InvalidHeaderField,
                    fei::FLAGS,
                    "HDGSTF does not match the negotiated header digest",
                );
            }
            if ch.flags & DDGSTF != 0 && !self.framing.ddgst {
                return ch_err(
                    Fes::InvalidHeaderField,
                    fei::FLAGS,
                    "DDGSTF set but data digest not negotiated",
                );
            }
        }

        // u64 so no sum below can overflow, whatever the wire says.
        let plen = ch.plen as u64;
        let hdr_end = (hlen + hd) as u64;
        // (offset, length) of the data inside the PDU.
        let mut data_at: Option<(usize, usize)> = None;
        match ty {
            PduType::IcReq | PduType::IcResp => {
                if plen != IC_LEN as u64 {
                    return ch_err(
                        Fes::InvalidHeaderField,
                        fei::PLEN,
                        "ICReq/ICResp PLEN is not 128",
                    );
                }
            }
            PduType::H2CTermReq | PduType::C2HTermReq => {
                // The Linux host accepts 24..=152; SPDK also rejects 24 (no
                // header copied). Accepting it costs nothing: a TermReq
                // ends the connection anyway.
                if plen < TERM_REQ_HLEN as u64 || plen > TERM_REQ_MAX_PLEN as u64 {
                    return ch_err(
                        Fes::InvalidHeaderField,
                        fei::PLEN,
                        "TermReq PLEN out of range",
                    );
                }
            }
            PduType::CapsuleResp | PduType::R2T => {
                if plen != hdr_end {
                    return ch_err(
                        Fes::InvalidHeaderField,
                        fei::PLEN,
                        "PLEN does not match a header-only PDU",
                    );
                }
            }
            PduType::CapsuleCmd | PduType::H2CData | PduType::C2HData => {
                if plen < hdr_end {
                    return ch_err(
                        Fes::InvalidHeaderField,
                        fei::PLEN,
                        "PLEN shorter than the header",
                    );
                }
                if plen == hdr_end {
                    if ty != PduType::CapsuleCmd {
                        return ch_err(Fes::InvalidHeaderField, fei::PLEN, "data PDU without data");
                    }
                    // A CapsuleCmd without data: SPDK ignores PDO here.
                } else {
                    let pdo = ch.pdo as u64;
                    if pdo < hdr_end {
                        return ch_err(
                            Fes::InvalidHeaderField,
                            fei::PDO,
                            "PDO inside the header or header digest",
                        );
                    }
                    if self.rx_pda > 4 && !pdo.is_multiple_of(self.rx_pda as u64) {
                        return ch_err(
                            Fes::InvalidHeaderField,
                            fei::PDO,
                            "PDO not aligned to the negotiated PDA",
                        );
                    }
                    let dd = if self.framing.ddgst {
                        if ch.flags & DDGSTF == 0 {
                            return ch_err(
                                Fes::InvalidHeaderField,
                                fei::FLAGS,
                                "DDGSTF clear on a PDU with data",
                            );
                        }
                        DIGEST_LEN as u64
                    } else {
                        0
                    };
                    if plen <= pdo + dd {
                        return ch_err(
                            Fes::InvalidHeaderField,
                            fei::PLEN,
                            "PLEN leaves no room for data",
                        );
                    }
                    let len = plen - pdo - dd;
                    if len > self.max_data as u64 {
                        return ch_err(
                            Fes::DataTransferLimitExceeded,
                            0,
                            "PDU data larger than this connection accepts",
                        );
                    }
                    // Both fit in usize: pdo < 256, len <= max_data (u32).
                    data_at = Some((pdo as usize, len as usize));
                }
            }
        }
        let plen = plen as usize;

        // Stage 2: the full header (+ digest). ICs and TermReqs are small
        // and bounded, so wait for all of them at once.
        let need = if digests { hlen + hd } else { plen };
        if buf.len() < need {
            return Ok(None);
        }
        let hdr = &buf[..hlen];
        let hdr_err = |fes, fei, reason| Err(PduError::new(fes, fei, hdr, reason));
        if hd != 0 {
            let wire = digest::read_digest(&buf[hlen..]);
            if wire != Some(digest::header_digest(hdr)) {
                return hdr_err(Fes::HeaderDigestError, 0, "header digest mismatch");
            }
        }
        let u16_at = |off: usize| u16::from_le_bytes([hdr[off], hdr[off + 1]]);
        let u32_at =
            |off: usize| u32::from_le_bytes([hdr[off], hdr[off + 1], hdr[off + 2], hdr[off + 3]]);
        match ty {
            PduType::IcReq | PduType::IcResp => {
                if u16_at(8) != 0 {
                    return hdr_err(
                        Fes::InvalidHeaderField,
                        fei::PFV,
                        "unsupported PDU format version",
                    );
                }
                if hdr[10] > MAX_PDA_FIELD {
                    return hdr_err(Fes::InvalidHeaderField, fei::PDA, "HPDA/CPDA above 31");
                }
                if ty == PduType::IcResp && u32_at(12) < MIN_MAXH2CDATA {
                    return hdr_err(
                        Fes::InvalidHeaderField,
                        fei::MAXH2CDATA,
                        "MAXH2CDATA below 4096",
                    );
                }
            }
            PduType::H2CTermReq | PduType::C2HTermReq => {
                if u16_at(8) > Fes::UnsupportedParameter as u16 {
                    return hdr_err(Fes::InvalidHeaderField, fei::PFV, "unknown FES in TermReq");
                }
            }
            PduType::H2CData | PduType::C2HData => {
                let datal = u32_at(16) as usize;
                if Some(datal) != data_at.map(|(_, len)| len) {
                    return hdr_err(
                        Fes::InvalidHeaderField,
                        fei::DATAL,
                        "DATAL does not match PLEN and PDO",
                    );
                }
                if ty == PduType::C2HData && ch.flags & SUCCESS != 0 && ch.flags & LAST_PDU == 0 {
                    return hdr_err(
                        Fes::InvalidHeaderField,
                        fei::FLAGS,
                        "SUCCESS flag without LAST_PDU",
                    );
                }
            }
            PduType::R2T => {
                if u32_at(16) == 0 {
                    return hdr_err(Fes::InvalidHeaderField, fei::DATAL, "R2T with R2TL 0");
                }
            }
            PduType::CapsuleCmd => {
                // In-capsule data must be exactly what SGL1 describes, at
                // offset 0 (NVMe/TCP has no ICDOFF); SPDK makes both fatal.
                let sgl = Sqe::from_bytes(&hdr[CH_LEN..]).map(|s| s.sgl());
                if let Some(sgl) = sgl.filter(|s| s.is_in_capsule()) {
                    let len = data_at.map_or(0, |(_, len)| len);
                    if sgl.len as usize != len {
                        return hdr_err(
                            Fes::InvalidHeaderField,
                            fei::PLEN,
                            "in-capsule data length differs from SGL length",
                        );
                    }
                    if sgl.addr != 0 {
                        return hdr_err(
                            Fes::UnsupportedParameter,
                            fei::SGL1_ADDRESS,
                            "in-capsule data offset is not 0",
                        );
                    }
                }
            }
            PduType::CapsuleResp => {}
        }

        // Stage 3: the whole PDU.
        if buf.len() < plen {
            return Ok(None);
        }
        let bytes = buf.split_to(plen).freeze();
        let le16 = |off: usize| u16::from_le_bytes([bytes[off], bytes[off + 1]]);
        let le32 = |off: usize| {
            u32::from_le_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]])
        };
        let (data, ddgst_ok) = match data_at {
            Some((pdo, len)) => {
                let data = bytes.slice(pdo..pdo + len);
                let ok = !self.framing.ddgst
                    || digest::read_digest(&bytes[pdo + len..])
                        .is_some_and(|w| digest::data_digest_matches(&data, w));
                (data, ok)
            }
            None => (Bytes::new(), true),
        };
        let pdu = match ty {
            PduType::IcReq => {
                self.ic_done = true;
                Pdu::IcReq(IcReq {
                    pfv: le16(8),
                    hpda: bytes[10],
                    hdgst: bytes[11] & 0x1 != 0,
                    ddgst: bytes[11] & 0x2 != 0,
                    maxr2t: le32(12),
                })
            }
            PduType::IcResp => {
                self.ic_done = true;
                Pdu::IcResp(IcResp {
                    pfv: le16(8),
                    cpda: bytes[10],
                    hdgst: bytes[11] & 0x1 != 0,
                    ddgst: bytes[11] & 0x2 != 0,
                    maxh2cdata: le32(12),
                })
            }
            PduType::H2CTermReq | PduType::C2HTermReq => {
                let t = TermReq {
                    fes: le16(8),
                    fei: le32(10),
                    header: bytes.slice(TERM_REQ_HLEN..plen),
                };
                if ty == PduType::H2CTermReq {
                    Pdu::H2CTermReq(t)
                } else {
                    Pdu::C2HTermReq(t)
                }
            }
            PduType::CapsuleCmd => {
                let mut sqe = Sqe::default();
                sqe.0.copy_from_slice(&bytes[CH_LEN..CAPSULE_CMD_HLEN]);
                Pdu::CapsuleCmd(CapsuleCmd { sqe, data })
            }
            PduType::CapsuleResp => {
                let cqe = Cqe::from_bytes(&bytes[CH_LEN..CAPSULE_RESP_HLEN]).unwrap_or_default();
                Pdu::CapsuleResp(cqe)
            }
            PduType::H2CData | PduType::C2HData => {
                let d = DataPdu {
                    cccid: le16(8),
                    ttag: le16(10),
                    datao: le32(12),
                    last: ch.flags & LAST_PDU != 0,
                    success: ty == PduType::C2HData && ch.flags & SUCCESS != 0,
                    data,
                };
                if ty == PduType::H2CData {
                    Pdu::H2CData(d)
                } else {
                    Pdu::C2HData(d)
                }
            }
            PduType::R2T => Pdu::R2T(R2t {
                cccid: le16(8),
                ttag: le16(10),
                r2to: le32(12),
                r2tl: le32(16),
            }),
        };
        let bad_header = (!ddgst_ok).then(|| bytes.slice(..hlen.min(TERM_REQ_MAX_HDR_COPY)));
        Ok(Some((pdu, bad_header)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvme::fabrics::{Connect, CONNECT_DATA_LEN};
    use crate::nvme::sqe::SglDescriptor;
    use crate::nvme::status::Status;

    const MAX: u32 = 128 * 1024;

    fn ctrl() -> Decoder {
        let mut d = Decoder::new(Role::Controller, MAX);
        d.set_framing(Framing::default());
        d
    }
    fn host() -> Decoder {
        let mut d = Decoder::new(Role::Host, MAX);
        d.set_framing(Framing::default());
        d
    }
    fn framing(hdgst: bool, ddgst: bool, pda: u32) -> Framing {
        Framing { hdgst, ddgst, pda }
    }
    fn data(n: usize) -> Bytes {
        (0..n)
            .map(|i| (i * 7 + 3) as u8)
            .collect::<Vec<u8>>()
            .into()
    }
    fn decode_one(dec: &mut Decoder, bytes: &[u8]) -> Result<Option<Pdu>, PduError> {
        let mut b = BytesMut::from(bytes);
        let r = dec.decode(&mut b);
        if let Ok(Some(_)) = r {
            assert!(b.is_empty(), "decoder left {} bytes", b.len());
        }
        r
    }

    // -- byte layout ------------------------------------------------------

    #[test]
    fn sizes() {
        assert_eq!(IC_LEN, 128);
        assert_eq!(CAPSULE_CMD_HLEN, 72);
        assert_eq!(CAPSULE_RESP_HLEN, 24);
        assert_eq!(DATA_HLEN, 24);
        assert_eq!(R2T_HLEN, 24);
        assert_eq!(TERM_REQ_HLEN, 24);
        assert_eq!(SQE_LEN, 64);
        assert_eq!(CQE_LEN, 16);
        assert_eq!(CONNECT_DATA_LEN, 1024);
        assert_eq!(TERM_REQ_MAX_PLEN, 152);
    }

    #[test]
    fn icreq_layout() {
        let p = Pdu::IcReq(IcReq {
            pfv: 0,
            hpda: 2,
            hdgst: true,
            ddgst: true,
            maxr2t: 0x0102_0304,
        });
        // Digests never apply to IC PDUs, even if framing says so.
        let b = encode_to_bytes(&p, &framing(true, true, 16));
        assert_eq!(b.len(), 128);
        assert_eq!(&b[..8], &[0x00, 0x00, 0x80, 0x00, 0x80, 0, 0, 0]);
        assert_eq!(&b[8..10], &[0, 0]);
        assert_eq!(b[10], 2);
        assert_eq!(b[11], 3);
        assert_eq!(&b[12..16], &[4, 3, 2, 1]);
        assert!(b[16..].iter().all(|&x| x == 0));
        let r = Pdu::IcResp(IcResp {
            pfv: 0,
            cpda: 0,
            hdgst: false,
            ddgst: true,
            maxh2cdata: 131072,
        });
        let b = encode_to_bytes(&r, &Framing::default());
        assert_eq!(&b[..8], &[0x01, 0x00, 0x80, 0x00, 0x80, 0, 0, 0]);
        assert_eq!(b[11], 2);
        assert_eq!(&b[12..16], &131072u32.to_le_bytes());
    }

    #[test]
    fn capsule_layout() {
        let sqe = Connect {
            recfmt: 0,
            qid: 0,
            sqsize: 31,
            cattr: 0,
            kato: 10000,
        }
        .to_sqe(0);
        // No data: PDO 0 even with a header digest.
        let p = Pdu::CapsuleCmd(CapsuleCmd {
            sqe,
            data: Bytes::new(),
        });
        let b = encode_to_bytes(&p, &Framing::default());
        assert_eq!(&b[..8], &[4, 0, 72, 0, 72, 0, 0, 0]);
        assert_eq!(&b[8..72], &sqe.0);
        let b = encode_to_bytes(&p, &framing(true, true, 0));
        assert_eq!(&b[..8], &[4, 1, 72, 0, 76, 0, 0, 0]);
        assert_eq!(&b[72..76], &digest::crc32c(&b[..72]).to_le_bytes());
        // With data: PDO = HLEN (+4), DDGST after the data.
        let p = Pdu::CapsuleCmd(CapsuleCmd {
            sqe,
            data: data(1024),
        });
        let b = encode_to_bytes(&p, &Framing::default());
        assert_eq!(&b[..8], &[4, 0, 72, 72, 0x48, 0x04, 0, 0]);
        let b = encode_to_bytes(&p, &framing(true, true, 0));
        assert_eq!(b[1], 0x03);
        assert_eq!(b[3], 76);
        assert_eq!(b.len(), 72 + 4 + 1024 + 4);
        assert_eq!(
            &b[76 + 1024..],
            &digest::crc32c(&b[76..76 + 1024]).to_le_bytes()
        );
        // Padding to PDA 8: 76 -> 80, zero filled.
        let b = encode_to_bytes(&p, &framing(true, false, 8));
        assert_eq!(b[3], 80);
        assert_eq!(&b[76..80], &[0, 0, 0, 0]);
        assert_eq!(b.len(), 80 + 1024);
    }

    #[test]
    fn resp_data_r2t_term_layout() {
        let cqe = Cqe {
            dw0: 1,
            dw1: 0,
            sqhd: 1,
            sqid: 0,
            cid: 0,
            status: Status::SUCCESS,
        };
        // The Connect CQE with HDGST from digests.pcap.
        let b = encode_to_bytes(&Pdu::CapsuleResp(cqe), &framing(true, true, 0));
        assert_eq!(
            &b[..],
            &[
                0x05, 0x01, 0x18, 0x00, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                0, 0x42, 0x62, 0x33, 0x32
            ]
        );

        let d = DataPdu {
            cccid: 0x0102,
            ttag: 0x0304,
            datao: 0x0506_0708,
            last: true,
            success: true,
            data: data(5),
        };
        let b = encode_to_bytes(&Pdu::C2HData(d.clone()), &Framing::default());
        assert_eq!(
            &b[..24],
            &[7, 0x0C, 24, 24, 29, 0, 0, 0, 2, 1, 4, 3, 8, 7, 6, 5, 5, 0, 0, 0, 0, 0, 0, 0]
        );
        // H2CData never carries SUCCESS.
        let b = encode_to_bytes(&Pdu::H2CData(d), &framing(true, true, 0));
        assert_eq!(b[0], 6);
        assert_eq!(b[1], LAST_PDU | HDGSTF | DDGSTF);
        assert_eq!(b[3], 28);
        assert_eq!(b.len(), 28 + 5 + 4);

        let r = R2t {
            cccid: 9,
            ttag: 1,
            r2to: 4096,
            r2tl: 8192,
        };
        let b = encode_to_bytes(&Pdu::R2T(r), &Framing::default());
        assert_eq!(
            &b[..],
            &[9, 0, 24, 0, 24, 0, 0, 0, 9, 0, 1, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0]
        );

        let t = TermReq {
            fes: Fes::InvalidHeaderField as u16,
            fei: 4,
            header: Bytes::from_static(&[4, 0, 72, 0, 0xFF, 0xFF, 0xFF, 0xFF]),
        };
        // TermReqs never carry digests, and the header copy follows at 24.
        let b = encode_to_bytes(&Pdu::C2HTermReq(t), &framing(true, true, 0));
        assert_eq!(&b[..8], &[3, 0, 24, 0, 32, 0, 0, 0]);
        assert_eq!(&b[8..14], &[1, 0, 4, 0, 0, 0]);
        assert!(b[14..24].iter().all(|&x| x == 0));
        assert_eq!(&b[24..], &[4, 0, 72, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    // -- round trips --------------------------------------------------------

    fn samples() -> Vec<(Role, Pdu)> {
        let mut sqe = Sqe::new(0x01, 7);
        sqe.set_nsid(1);
        vec![
            (
                Role::Controller,
                Pdu::H2CTermReq(TermReq {
                    fes: 3,
                    fei: 0,
                    header: data(24),
                }),
            ),
            (
                Role::Controller,
                Pdu::CapsuleCmd(CapsuleCmd {
                    sqe: {
                        let mut s = sqe;
                        s.set_sgl(SglDescriptor::in_capsule(4096));
                        s
                    },
                    data: data(4096),
                }),
            ),
            (
                Role::Controller,
                Pdu::CapsuleCmd(CapsuleCmd {
                    sqe: {
                        let mut s = sqe;
                        s.set_sgl(SglDescriptor::transport(0));
                        s
                    },
                    data: Bytes::new(),
                }),
            ),
            (
                Role::Controller,
                Pdu::H2CData(DataPdu {
                    cccid: 7,
                    ttag: 1,
                    datao: 8192,
                    last: true,
                    success: false,
                    data: data(4099),
                }),
            ),
            (
                Role::Host,
                Pdu::C2HTermReq(TermReq {
                    fes: 1,
                    fei: 2,
                    header: data(128),
                }),
            ),
            (
                Role::Host,
                Pdu::CapsuleResp(Cqe {
                    dw0: 0x000C_0302,
                    dw1: 0,
                    sqhd: 5,
                    sqid: 0,
                    cid: 3,
                    status: Status::ASYMMETRIC_ACCESS_TRANSITION.with_dnr(),
                }),
            ),
            (
                Role::Host,
                Pdu::C2HData(DataPdu {
                    cccid: 2,
                    ttag: 0,
                    datao: 0,
                    last: true,
                    success: true,
                    data: data(512),
                }),
            ),
            (
                Role::Host,
                Pdu::C2HData(DataPdu {
                    cccid: 2,
                    ttag: 0,
                    datao: 512,
                    last: false,
                    success: false,
                    data: data(1),
                }),
            ),
            (
                Role::Host,
                Pdu::R2T(R2t {
                    cccid: 7,
                    ttag: 1,
                    r2to: 0,
                    r2tl: 65536,
                }),
            ),
        ]
    }

    #[test]
    fn round_trip_every_type_and_framing() {
        let framings = [
            framing(false, false, 0),
            framing(true, false, 0),
            framing(false, true, 0),
            framing(true, true, 0),
            framing(false, false, 8),
            framing(true, true, 8),
            framing(true, true, 128),
        ];
        for f in framings {
            // IC exchange first, on fresh decoders.
            let req = Pdu::IcReq(IcReq {
                pfv: 0,
                hpda: 1,
                hdgst: f.hdgst,
                ddgst: f.ddgst,
                maxr2t: 0,
            });
            let resp = Pdu::IcResp(IcResp {
                pfv: 0,
                cpda: 1,
                hdgst: f.hdgst,
                ddgst: f.ddgst,
                maxh2cdata: MAX,
            });
            let mut c = Decoder::new(Role::Controller, MAX);
            let mut h = Decoder::new(Role::Host, MAX);
            let got = decode_one(&mut c, &encode_to_bytes(&req, &f)).unwrap();
            assert_eq!(got.as_ref(), Some(&req));
            let got = decode_one(&mut h, &encode_to_bytes(&resp, &f)).unwrap();
            assert_eq!(got.as_ref(), Some(&resp));
            c.set_framing(f);
            h.set_framing(f);
            c.rx_pda = f.pda;
            h.rx_pda = f.pda;

            for (role, pdu) in samples() {
                let dec = if role == Role::Controller {
                    &mut c
                } else {
                    &mut h
                };
                let wire = encode_to_bytes(&pdu, &f);
                let parts = encode_parts(&pdu, &f);
                assert_eq!(parts.len(), wire.len());
                let mut joined = parts.head.to_vec();
                joined.extend_from_slice(&parts.data);
                if let Some(d) = parts.ddgst {
                    joined.extend_from_slice(&d);
                }
                assert_eq!(joined, wire.to_vec());
                let ch = CommonHeader::parse(&wire).unwrap();
                assert_eq!(ch.plen as usize, wire.len());
                if !pdu.data().is_empty() && pdu.pdu_type().digest_capable() && f.pda > 4 {
                    assert_eq!(ch.pdo as u32 % f.pda, 0, "{pdu:?}");
                }
                let got = decode_one(dec, &wire)
                    .unwrap_or_else(|e| panic!("{f:?} {pdu:?}: {e}"))
                    .expect("complete PDU");
                assert_eq!(got, pdu, "{f:?}");
                assert_eq!(encode_to_bytes(&got, &f), wire);
            }
        }
    }

    #[test]
    fn partial_input_consumes_nothing_and_stream_splits() {
        let f = framing(true, true, 0);
        let mut wire = BytesMut::new();
        let pdus: Vec<Pdu> = samples()
            .into_iter()
            .filter(|(r, _)| *r == Role::Host)
            .map(|(_, p)| p)
            .collect();
        for p in &pdus {
            encode(p, &f, &mut wire);
        }
        let all = wire.freeze();
        let mut dec = Decoder::new(Role::Host, MAX);
        dec.set_framing(f);
        // Feed one byte at a time.
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in all.iter() {
            buf.put_u8(b);
            let before = buf.len();
            match dec.decode(&mut buf).unwrap() {
                Some(p) => out.push(p),
                None => assert_eq!(buf.len(), before),
            }
        }
        assert!(buf.is_empty());
        assert_eq!(out, pdus);
    }

    #[test]
    fn data_is_zero_copy() {
        let f = Framing::default();
        let p = Pdu::C2HData(DataPdu {
            cccid: 1,
            last: true,
            data: data(4096),
            ..Default::default()
        });
        let mut buf = BytesMut::new();
        encode(&p, &f, &mut buf);
        let base = buf.as_ptr() as usize;
        match host().decode(&mut buf).unwrap() {
            Some(Pdu::C2HData(d)) => assert_eq!(d.data.as_ptr() as usize, base + 24),
            other => panic!("{other:?}"),
        }
    }

    // -- hostile input ------------------------------------------------------

    fn expect_err(r: Result<Option<Pdu>, PduError>, fes: Fes, fei_v: u32) -> PduError {
        match r {
            Err(e) => {
                assert_eq!((e.fes, e.fei), (fes, fei_v), "{e}");
                e
            }
            Ok(p) => panic!("expected {fes:?}/{fei_v}, got {p:?}"),
        }
    }

    #[test]
    fn huge_plen_rejected_from_common_header() {
        // A CapsuleCmd announcing 4 GiB: only the 8 CH bytes are present and
        // the decision is made without waiting for (or allocating) more.
        let ch = [4u8, 0, 72, 72, 0xFF, 0xFF, 0xFF, 0xFF];
        let mut buf = BytesMut::from(&ch[..]);
        let cap = buf.capacity();
        let e = expect_err(ctrl().decode(&mut buf), Fes::DataTransferLimitExceeded, 0);
        assert_eq!(&e.header[..], &ch);
        assert_eq!(buf.capacity(), cap);
        assert_eq!(buf.len(), 8);
        // Same for every data-carrying type and for fixed-size types.
        let ch = [6u8, 0, 24, 24, 0xFF, 0xFF, 0xFF, 0xFF];
        expect_err(
            decode_one(&mut ctrl(), &ch),
            Fes::DataTransferLimitExceeded,
            0,
        );
        let ch = [7u8, 0, 24, 24, 0, 0, 0, 0x80];
        expect_err(
            decode_one(&mut host(), &ch),
            Fes::DataTransferLimitExceeded,
            0,
        );
        let ch = [5u8, 0, 24, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        expect_err(decode_one(&mut host(), &ch), Fes::InvalidHeaderField, 4);
        let ch = [0u8, 0, 128, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        expect_err(
            decode_one(&mut Decoder::new(Role::Controller, MAX), &ch),
            Fes::InvalidHeaderField,
            4,
        );
        let ch = [2u8, 0, 24, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        expect_err(decode_one(&mut ctrl(), &ch), Fes::InvalidHeaderField, 4);
        // Just over the limit, just at it.
        let mut d = Decoder::new(Role::Controller, 4096);
        d.set_framing(Framing::default());
        let over = (72 + 4097u32).to_le_bytes();
        let ch = [4u8, 0, 72, 72, over[0], over[1], over[2], over[3]];
        expect_err(decode_one(&mut d, &ch), Fes::DataTransferLimitExceeded, 0);
        let at = (72 + 4096u32).to_le_bytes();
        let ch = [4u8, 0, 72, 72, at[0], at[1], at[2], at[3]];
        assert_eq!(decode_one(&mut d, &ch).unwrap(), None);
    }

    #[test]
    fn garbage_and_wrong_direction_types() {
        for t in [0x08u8, 0x0A, 0x42, 0xFF] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            expect_err(decode_one(&mut ctrl(), &ch), Fes::InvalidHeaderField, 0);
            expect_err(decode_one(&mut host(), &ch), Fes::InvalidHeaderField, 0);
        }
        // A controller never receives CapsuleResp / C2HData / R2T / ICResp.
        for t in [1u8, 3, 5, 7, 9] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            expect_err(decode_one(&mut ctrl(), &ch), Fes::InvalidHeaderField, 0);
        }
        // ... and a host never receives ICReq / H2CTermReq / CapsuleCmd /
        // H2CData (SPDK's host: "unexpected PDU type", FEI 0).
        for t in [0u8, 2, 4, 6] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            expect_err(decode_one(&mut host(), &ch), Fes::InvalidHeaderField, 0);
        }
    }

    #[test]
    fn hlen_mismatch() {
        let ch = [4u8, 0, 24, 0, 72, 0, 0, 0];
        expect_err(decode_one(&mut ctrl(), &ch), Fes::InvalidHeaderField, 2);
        let ch = [5u8, 0, 72, 0, 72, 0, 0, 0];
        expect_err(decode_one(&mut host(), &ch), Fes::InvalidHeaderField, 2);
        let ch = [0u8, 0, 0, 0, 128, 0, 0, 0];
        expect_err(
            decode_one(&mut Decoder::new(Role::Controller, MAX), &ch),
            Fes::InvalidHeaderField,
            2,
        );
    }

    #[test]
    fn sequence_errors() {
        // CapsuleCmd before ICReq.
        let p = Pdu::CapsuleCmd(CapsuleCmd {
            sqe: Sqe::new(0x18, 1),
            data: Bytes::new(),
        });
        let wire = encode_to_bytes(&p, &Framing::default());
        let mut fresh = Decoder::new(Role::Controller, MAX);
        expect_err(decode_one(&mut fresh, &wire), Fes::PduSequenceError, 0);
        // Second ICReq.
        let ic = encode_to_bytes(&Pdu::IcReq(IcReq::default()), &Framing::default());
        let mut d = Decoder::new(Role::Controller, MAX);
        assert!(decode_one(&mut d, &ic).unwrap().is_some());
        assert!(d.ic_done());
        expect_err(decode_one(&mut d, &ic), Fes::PduSequenceError, 0);
        // Host: CapsuleResp before ICResp; a TermReq is fine.
        let resp = encode_to_bytes(&Pdu::CapsuleResp(Cqe::default()), &Framing::default());
        expect_err(
            decode_one(&mut Decoder::new(Role::Host, MAX), &resp),
            Fes::PduSequenceError,
            0,
        );
        let term = encode_to_bytes(
            &Pdu::C2HTermReq(TermReq {
                fes: 1,
                fei: 8,
                header: Bytes::copy_from_slice(&ic[..]),
            }),
            &Framing::default(),
        );
        let got = decode_one(&mut Decoder::new(Role::Host, MAX), &term).unwrap();
        assert!(matches!(got, Some(Pdu::C2HTermReq(t)) if t.fes == 1 && t.header.len() == 128));
    }

    #[test]
    fn header_digest_corruption() {
        let f = framing(true, false, 0);
        let mut d = ctrl();
        d.set_framing(f);
        let p = Pdu::CapsuleCmd(CapsuleCmd {
            sqe: Sqe::new(0x18, 1),
            data: Bytes::new(),
        });
        let good = encode_to_bytes(&p, &f);
        for i in [8usize, 40, 71, 72, 75] {
            let mut bad = good.to_vec();
            bad[i] ^= 0x10;
            let e = expect_err(decode_one(&mut d, &bad), Fes::HeaderDigestError, 0);
            assert_eq!(e.header.len(), 72);
            assert_eq!(e.command_id(), Some(1));
        }
        // Detected as soon as header + digest are in, before the data.
        let p = Pdu::CapsuleCmd(CapsuleCmd {
            sqe: {
                let mut s = Sqe::new(0x01, 1);
                s.set_sgl(SglDescriptor::in_capsule(4096));
                s
            },
            data: data(4096),
        });
        let mut bad = encode_to_bytes(&p, &f).to_vec();
        bad[20] ^= 1;
        expect_err(decode_one(&mut d, &bad[..76]), Fes::HeaderDigestError, 0);
    }

    #[test]
    fn digest_flags_must_match_negotiation() {
        let f = framing(true, true, 0);
        let resp = Pdu::CapsuleResp(Cqe::default());
        // Sent without digest to a connection that negotiated one.
        let wire = encode_to_bytes(&resp, &Framing::default());
        let mut h = host();
        h.set_framing(f);
        expect_err(decode_one(&mut h, &wire), Fes::InvalidHeaderField, 1);
        // Sent with digest to a connection that did not.
        let wire = encode_to_bytes(&resp, &f);
        expect_err(decode_one(&mut host(), &wire), Fes::InvalidHeaderField, 1);
        // Data PDU without DDGSTF on a data digest connection.
        let d = Pdu::C2HData(DataPdu {
            cccid: 1,
            last: true,
            data: data(8),
            ..Default::default()
        });
        let mut wire = encode_to_bytes(&d, &f).to_vec();
        wire[1] &= !DDGSTF;
        expect_err(decode_one(&mut h, &wire), Fes::InvalidHeaderField, 1);
    }

    #[test]
    fn data_digest_error_is_distinct() {
        let f = framing(false, true, 0);
        let p = Pdu::H2CData(DataPdu {
            cccid: 0x77,
            ttag: 1,
            datao: 0,
            last: true,
            success: false,
            data: data(4096),
        });
        let mut wire = encode_to_bytes(&p, &f).to_vec();
        let n = wire.len();
        wire[n - 5] ^= 0x01; // last data byte
        let mut d = ctrl();
        d.set_framing(f);
        // decode(): an Err marked as a data digest error, PDU consumed.
        let mut buf = BytesMut::from(&wire[..]);
        buf.extend_from_slice(&wire); // a second copy behind it
        let e = d.decode(&mut buf).unwrap_err();
        assert!(e.is_data_digest_error());
        assert_eq!(e.fes, Fes::HeaderDigestError);
        assert_eq!(e.command_id(), Some(0x77));
        assert_eq!(buf.len(), wire.len(), "the bad PDU was consumed");
        // decode_checked(): the PDU itself.
        match d.decode_checked(&mut buf).unwrap() {
            Some(Decoded::DataDigestError(Pdu::H2CData(x))) => {
                assert_eq!(x.cccid, 0x77);
                assert_eq!(x.data.len(), 4096);
            }
            other => panic!("{other:?}"),
        }
        assert!(buf.is_empty());
        // Header digest errors are not data digest errors.
        let hd = PduError::new(Fes::HeaderDigestError, 0, &[6], "header digest mismatch");
        assert!(!hd.is_data_digest_error());
    }

    #[test]
    fn spdk_padded_data_digest_accepted() {
        let f = framing(false, true, 0);
        let payload = data(5);
        let mut wire = encode_to_bytes(
            &Pdu::C2HData(DataPdu {
                cccid: 1,
                last: true,
                data: payload.clone(),
                ..Default::default()
            }),
            &f,
        )
        .to_vec();
        let n = wire.len();
        wire[n - 4..].copy_from_slice(&digest::data_digest_padded(&payload).to_le_bytes());
        let mut h = host();
        h.set_framing(f);
        assert!(decode_one(&mut h, &wire).unwrap().is_some());
    }

    #[test]
    fn pdo_and_plen_consistency() {
        let mut c = ctrl();
        // Data PDU whose PDO points into the header.
        let ch = [6u8, 0, 24, 8, 40, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 3);
        // PDO beyond PLEN.
        let ch = [6u8, 0, 24, 64, 40, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 4);
        // Data PDU with no data.
        let ch = [6u8, 0, 24, 24, 24, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 4);
        // PLEN shorter than HLEN.
        let ch = [4u8, 0, 72, 0, 60, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 4);
        // Misaligned PDO when the controller asked for 8-byte alignment.
        let mut c8 = ctrl();
        c8.rx_pda = 8;
        let ch = [6u8, 0, 24, 28, 40, 0, 0, 0];
        expect_err(decode_one(&mut c8, &ch), Fes::InvalidHeaderField, 3);
        // DATAL disagreeing with PLEN - PDO.
        let mut wire = encode_to_bytes(
            &Pdu::H2CData(DataPdu {
                cccid: 1,
                ttag: 1,
                last: true,
                data: data(16),
                ..Default::default()
            }),
            &Framing::default(),
        )
        .to_vec();
        wire[16] = 15;
        expect_err(decode_one(&mut c, &wire), Fes::InvalidHeaderField, 16);
        // CapsuleResp with trailing bytes.
        let ch = [5u8, 0, 24, 0, 28, 0, 0, 0];
        expect_err(decode_one(&mut host(), &ch), Fes::InvalidHeaderField, 4);
        // TermReq bounds.
        let ch = [2u8, 0, 24, 0, 153, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 4);
        let ch = [2u8, 0, 24, 0, 23, 0, 0, 0];
        expect_err(decode_one(&mut c, &ch), Fes::InvalidHeaderField, 4);
    }

    #[test]
    fn psh_field_checks() {
        // ICReq with PFV 1 / HPDA 32.
        let mut ic = encode_to_bytes(&Pdu::IcReq(IcReq::default()), &Framing::default()).to_vec();
        ic[8] = 1;
        expect_err(
            decode_one(&mut Decoder::new(Role::Controller, MAX), &ic),
            Fes::InvalidHeaderField,
            8,
        );
        ic[8] = 0;
        ic[10] = 32;
        expect_err(
            decode_one(&mut Decoder::new(Role::Controller, MAX), &ic),
            Fes::InvalidHeaderField,
            10,
        );
        // ICResp with MAXH2CDATA 512.
        let r = encode_to_bytes(
            &Pdu::IcResp(IcResp {
                maxh2cdata: 512,
                ..Default::default()
            }),
            &Framing::default(),
        );
        expect_err(
            decode_one(&mut Decoder::new(Role::Host, MAX), &r),
            Fes::InvalidHeaderField,
            12,
        );
        // TermReq with an unknown FES.
        let t = encode_to_bytes(
            &Pdu::H2CTermReq(TermReq {
                fes: 7,
                fei: 0,
                header: data(8),
            }),
            &Framing::default(),
        );
        expect_err(decode_one(&mut ctrl(), &t), Fes::InvalidHeaderField, 8);
        // C2HData SUCCESS without LAST.
        let mut w = encode_to_bytes(
            &Pdu::C2HData(DataPdu {
                cccid: 1,
                last: true,
                success: true,
                data: data(4),
                ..Default::default()
            }),
            &Framing::default(),
        )
        .to_vec();
        w[1] &= !LAST_PDU;
        expect_err(decode_one(&mut host(), &w), Fes::InvalidHeaderField, 1);
        // R2T asking for 0 bytes.
        let w = encode_to_bytes(&Pdu::R2T(R2t::default()), &Framing::default());
        expect_err(decode_one(&mut host(), &w), Fes::InvalidHeaderField, 16);
    }

    #[test]
    fn in_capsule_sgl_must_match_data() {
        let mut sqe = Sqe::new(0x01, 3);
        sqe.set_sgl(SglDescriptor::in_capsule(4096));
        let w = encode_to_bytes(
            &Pdu::CapsuleCmd(CapsuleCmd {
                sqe,
                data: data(512),
            }),
            &Framing::default(),
        );
        expect_err(decode_one(&mut ctrl(), &w), Fes::InvalidHeaderField, 4);
        let mut sqe2 = sqe;
        sqe2.set_sgl(SglDescriptor {
            addr: 16,
            len: 512,
            id: 0x01,
        });
        let w = encode_to_bytes(
            &Pdu::CapsuleCmd(CapsuleCmd {
                sqe: sqe2,
                data: data(512),
            }),
            &Framing::default(),
        );
        expect_err(decode_one(&mut ctrl(), &w), Fes::UnsupportedParameter, 32);
        // Set Features-style: descriptor 0x01 with length 0 and no data.
        let mut sf = Sqe::new(0x09, 4);
        sf.set_sgl(SglDescriptor::in_capsule(0));
        let w = encode_to_bytes(
            &Pdu::CapsuleCmd(CapsuleCmd {
                sqe: sf,
                data: Bytes::new(),
            }),
            &Framing::default(),
        );
        assert!(decode_one(&mut ctrl(), &w).unwrap().is_some());
    }

    #[test]
    fn term_req_builders() {
        let e = PduError::new(Fes::InvalidHeaderField, 4, &[4, 0, 72, 0, 1, 2, 3, 4], "x");
        match term_req_for(&e) {
            Pdu::C2HTermReq(t) => {
                assert_eq!((t.fes, t.fei), (1, 4));
                assert_eq!(t.header.len(), 8);
            }
            other => panic!("{other:?}"),
        }
        let e = PduError::new(Fes::HeaderDigestError, 99, &[5u8; 200], "y");
        assert_eq!(e.header.len(), 128);
        match term_req_for(&e) {
            Pdu::H2CTermReq(t) => assert_eq!((t.fes, t.fei, t.header.len()), (3, 0, 128)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(host().term_req(&e), Pdu::H2CTermReq(_)));
        // Decoder errors on a garbage or wrong-direction type still answer
        // in the decoder's direction.
        for t in [4u8, 0xEE] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            let e = decode_one(&mut host(), &ch).unwrap_err();
            assert!(matches!(term_req_for(&e), Pdu::H2CTermReq(_)), "{t}");
        }
        for t in [5u8, 0xEE] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            let e = decode_one(&mut ctrl(), &ch).unwrap_err();
            assert!(matches!(term_req_for(&e), Pdu::C2HTermReq(_)), "{t}");
        }
        for t in [4u8, 5, 0xEE] {
            let ch = [t, 0, 24, 0, 24, 0, 0, 0];
            let e = decode_one(&mut Decoder::new(Role::Host, MAX), &ch).unwrap_err();
            assert!(matches!(term_req_for(&e), Pdu::H2CTermReq(_)), "{t}");
            let e = decode_one(&mut Decoder::new(Role::Controller, MAX), &ch).unwrap_err();
            assert!(matches!(term_req_for(&e), Pdu::C2HTermReq(_)), "{t}");
        }
        assert!(matches!(ctrl().term_req(&e), Pdu::C2HTermReq(_)));
        // The TermReq for a rejected PDU decodes on the other side.
        let wire = encode_to_bytes(&term_req_for(&e), &Framing::default());
        assert_eq!(wire.len(), 24 + 128);
        let got = decode_one(&mut ctrl(), &wire).unwrap();
        assert!(matches!(got, Some(Pdu::H2CTermReq(_))));
        assert_eq!(Fes::from_u16(5), Some(Fes::DataTransferLimitExceeded));
        assert_eq!(Fes::from_u16(0), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic fuzz: random headers with plausible types.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let n = (next() % 200) as usize;
            let mut v: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            if v.len() >= 8 {
                v[0] = [0u8, 1, 2, 3, 4, 5, 6, 7, 9][(next() % 9) as usize];
                v[2] = PduType::from_u8(v[0]).map_or(24, |t| t.hlen() as u8);
                let pl = (next() % 220) as u32;
                v[4..8].copy_from_slice(&pl.to_le_bytes());
            }
            for role in [Role::Controller, Role::Host] {
                let mut d = Decoder::new(role, 4096);
                if i % 2 == 0 {
                    d.set_framing(framing(i % 3 == 0, i % 5 == 0, 0));
                }
                let mut b = BytesMut::from(&v[..]);
                while let Ok(Some(_)) = d.decode(&mut b) {}
            }
        }
    }
}
