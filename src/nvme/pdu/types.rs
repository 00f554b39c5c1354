//! PDU types, the constants of their layout, negotiated framing and the
//! errors the decoder reports (FES/FEI as in the C2HTermReq).

use bytes::Bytes;

use crate::nvme::digest::DIGEST_LEN;
use crate::nvme::sqe::{Cqe, Sqe, CQE_LEN, SQE_LEN};

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

// Reasons of the decoder errors whose header may hold any type byte, so
// `term_req_for` can still tell which side found them.
pub(super) const REASON_BAD_TYPE_CONTROLLER: &str =
    "PDU type not valid for a controller to receive";
pub(super) const REASON_BAD_TYPE_HOST: &str = "PDU type not valid for a host to receive";
pub(super) const REASON_BEFORE_IC_CONTROLLER: &str = "PDU before ICReq";
pub(super) const REASON_BEFORE_IC_HOST: &str = "PDU before ICResp";
