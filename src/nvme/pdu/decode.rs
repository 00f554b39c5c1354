//! The validating incremental decoder: common header, then PDU specific
//! header, then the whole PDU, each checked before the next is waited for.

use bytes::{Bytes, BytesMut};

use super::encode::term_req;
use super::types::*;
use super::types::{
    REASON_BAD_TYPE_CONTROLLER, REASON_BAD_TYPE_HOST, REASON_BEFORE_IC_CONTROLLER,
    REASON_BEFORE_IC_HOST,
};
use crate::nvme::digest::{self, DIGEST_LEN};
use crate::nvme::sqe::{Cqe, Sqe};

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
        let Some(ch) = buf
            .get(..CH_LEN)
            .and_then(|b| <[u8; CH_LEN]>::try_from(b).ok())
        else {
            return Ok(None);
        };
        let f = self.check_common_header(&ch)?;

        // Stage 2: the full header (+ digest). ICs and TermReqs are small
        // and bounded, so wait for all of them at once.
        let need = if f.digests { f.hlen + f.hd } else { f.plen };
        if buf.len() < need {
            return Ok(None);
        }
        self.check_header(&f, buf)?;

        // Stage 3: the whole PDU.
        if buf.len() < f.plen {
            return Ok(None);
        }
        let bytes = buf.split_to(f.plen).freeze();
        Ok(Some(self.build(&f, bytes)))
    }

    /// Stage 1: the type, lengths, flags and data placement the common
    /// header announces, checked against the role and the negotiation.
    fn check_common_header(&self, ch_bytes: &[u8; CH_LEN]) -> Result<Frame, PduError> {
        let ch = CommonHeader {
            pdu_type: ch_bytes[0],
            flags: ch_bytes[1],
            hlen: ch_bytes[2],
            pdo: ch_bytes[3],
            plen: u32::from_le_bytes([ch_bytes[4], ch_bytes[5], ch_bytes[6], ch_bytes[7]]),
        };
        let ch_err = |fes, fei, reason| Err(PduError::new(fes, fei, ch_bytes, reason));

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
        Ok(Frame {
            ty,
            ch,
            hlen,
            hd,
            digests,
            plen: plen as usize,
            data_at,
        })
    }

    /// Stage 2: the header digest and the PDU specific header's fields.
    /// `buf` holds at least the header and its digest.
    fn check_header(&self, f: &Frame, buf: &[u8]) -> Result<(), PduError> {
        let Frame {
            ty,
            ch,
            hlen,
            hd,
            data_at,
            ..
        } = *f;
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
        Ok(())
    }

    /// Stage 3: the PDU out of its bytes (all of them, checked), and its
    /// header when the data digest did not match.
    fn build(&mut self, f: &Frame, bytes: Bytes) -> (Pdu, Option<Bytes>) {
        let Frame {
            ty,
            ch,
            hlen,
            plen,
            data_at,
            ..
        } = *f;
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
        (pdu, bad_header)
    }
}

/// What a checked common header says of the PDU that follows.
#[derive(Clone, Copy)]
struct Frame {
    ty: PduType,
    ch: CommonHeader,
    hlen: usize,
    /// Length of the header digest: 0 or 4.
    hd: usize,
    /// Whether this PDU type may carry digests.
    digests: bool,
    plen: usize,
    /// (offset, length) of the data inside the PDU.
    data_at: Option<(usize, usize)>,
}
