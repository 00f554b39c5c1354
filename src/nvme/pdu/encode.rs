//! Encoding PDUs, with digests and padding as framed, and the TermReq to
//! send for a decoder error.

use bytes::{BufMut, Bytes, BytesMut};

use super::types::*;
use super::types::{
    REASON_BAD_TYPE_CONTROLLER, REASON_BAD_TYPE_HOST, REASON_BEFORE_IC_CONTROLLER,
    REASON_BEFORE_IC_HOST,
};
use crate::nvme::digest::{self, DIGEST_LEN};

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
