//! NVMe/TCP PDUs: types ([`types`]), encoder ([`encode`]), and a
//! validating incremental decoder ([`decode`]).
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

pub mod decode;
pub mod encode;
pub mod types;

pub use decode::*;
pub use encode::*;
pub use types::*;

#[cfg(test)]
mod tests;
