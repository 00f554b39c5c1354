//! `pdu_decoder`: the NVMe/TCP PDU decoder on arbitrary byte streams.
//!
//! Input layout (all reads are total, see [`Reader`]):
//! * byte 0, configuration: bit 0 role (0 controller, 1 host), bit 1
//!   header digest, bit 2 data digest, bit 3 framing already negotiated
//!   (else the stream must start with ICReq/ICResp), bit 4 use
//!   `decode_checked` (else `decode`), bits 5-6 the PDO alignment checked
//!   (`rx_pda` 0, 0, 8 or 128);
//! * byte 1: `max_data` (4 KiB, 8 KiB, 128 KiB or 1 MiB);
//! * byte 2: number of split points (0-7), then that many u16 offsets:
//!   the stream arrives in pieces cut there;
//! * the rest: the byte stream.
//!
//! Properties, for every input:
//! * no panic, and `Ok(None)` consumes nothing;
//! * a decoded PDU consumed exactly PLEN bytes and is a type this role
//!   receives;
//! * round trip: `encode` of a decoded PDU decodes (fresh decoder, same
//!   role and framing) to an equal PDU and consumes all of it; encoding that
//!   again gives the same bytes; `encode_parts`/`encode_to_bytes` agree with
//!   `encode`;
//! * an error yields a TermReq (`Decoder::term_req`, which `term_req_for`
//!   must agree with) that the peer's decoder accepts as is.

use bytes::BytesMut;
use mpath_console::nvme::pdu::{
    encode, encode_parts, encode_to_bytes, term_req_for, Decoded, Decoder, Framing, Pdu, PduError,
    PduType, Role,
};

use super::reader::Reader;

pub fn run(data: &[u8]) {
    let mut r = Reader::new(data);
    let cfg = r.u8();
    let role = if cfg & 1 == 0 {
        Role::Controller
    } else {
        Role::Host
    };
    let hdgst = cfg & 0x02 != 0;
    let ddgst = cfg & 0x04 != 0;
    let preset = cfg & 0x08 != 0;
    let checked = cfg & 0x10 != 0;
    let rx_pda = [0u32, 0, 8, 128][usize::from((cfg >> 5) & 3)];
    let max_data = r.pick(&[4096u32, 8192, 128 * 1024, 1 << 20]);
    let nsplit = usize::from(r.u8() % 8);
    let mut splits: Vec<usize> = (0..nsplit).map(|_| usize::from(r.u16())).collect();
    let stream = r.rest();
    splits.retain(|&s| s < stream.len());
    splits.sort_unstable();
    splits.dedup();
    splits.push(stream.len());

    let mut dec = Decoder::new(role, max_data);
    dec.rx_pda = rx_pda;
    if preset {
        dec.set_framing(Framing {
            hdgst,
            ddgst,
            pda: 0,
        });
    }
    let mut buf = BytesMut::new();
    let mut at = 0;
    'feed: for end in splits {
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            let before = buf.len();
            let plen = buf
                .get(4..8)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let res = if checked {
                dec.decode_checked(&mut buf)
            } else {
                dec.decode(&mut buf).map(|o| o.map(Decoded::Pdu))
            };
            match res {
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                    continue 'feed;
                }
                Ok(Some(d)) => {
                    let consumed = before - buf.len();
                    assert_eq!(Some(consumed as u32), plen, "consumed bytes != PLEN");
                    let pdu = match d {
                        Decoded::Pdu(p) | Decoded::DataDigestError(p) => p,
                    };
                    assert!(
                        role.receives(pdu.pdu_type()),
                        "{role:?} decoded a {:?}",
                        pdu.pdu_type()
                    );
                    round_trip(&dec, &pdu);
                }
                Err(e) => {
                    check_error(&dec, &e);
                    if e.is_data_digest_error() && !checked {
                        // The PDU was consumed; the stream stays in sync.
                        assert!(before > buf.len(), "data digest error consumed nothing");
                        continue;
                    }
                    break 'feed;
                }
            }
        }
    }
}

/// Encode `pdu` as the peer would send it on this connection and decode it
/// with a fresh decoder in the same state: it must come back unchanged.
fn round_trip(dec: &Decoder, pdu: &Pdu) {
    let f = Framing {
        hdgst: dec.framing.hdgst,
        ddgst: dec.framing.ddgst,
        pda: dec.rx_pda,
    };
    let mut wire = BytesMut::new();
    encode(pdu, &f, &mut wire);
    let encoded = wire.clone().freeze();

    let parts = encode_parts(pdu, &f);
    let mut joined = parts.head.to_vec();
    joined.extend_from_slice(&parts.data);
    if let Some(d) = parts.ddgst {
        joined.extend_from_slice(&d);
    }
    assert_eq!(joined, encoded.as_ref(), "encode_parts != encode");
    assert_eq!(parts.len(), encoded.len(), "EncodedParts::len");
    assert_eq!(
        encode_to_bytes(pdu, &f),
        encoded,
        "encode_to_bytes != encode"
    );

    let mut fresh = Decoder::new(dec.role, dec.max_data);
    fresh.rx_pda = dec.rx_pda;
    if !matches!(pdu.pdu_type(), PduType::IcReq | PduType::IcResp) {
        fresh.set_framing(dec.framing);
    }
    let again = match fresh.decode_checked(&mut wire) {
        Ok(Some(Decoded::Pdu(p))) => p,
        other => panic!(
            "re-encoded {pdu:?} does not decode: {other:?}\nbytes: {:02x?}",
            encoded.as_ref()
        ),
    };
    assert!(wire.is_empty(), "re-encoded PDU left {} bytes", wire.len());
    assert_eq!(&again, pdu, "round trip changed the PDU");
    assert_eq!(
        encode_to_bytes(&again, &f),
        encoded,
        "second encode differs"
    );
}

/// The TermReq for a decoder error must be a valid PDU for the peer.
fn check_error(dec: &Decoder, e: &PduError) {
    assert!(
        e.header.len() <= 128,
        "error header of {} bytes",
        e.header.len()
    );
    let _ = e.command_id();
    let t = dec.term_req(e);
    assert_eq!(
        term_req_for(e),
        t,
        "term_req_for disagrees with the decoder's role"
    );
    let peer = match dec.role {
        Role::Controller => Role::Host,
        Role::Host => Role::Controller,
    };
    let mut wire = BytesMut::new();
    encode(&t, &Framing::default(), &mut wire);
    let mut pd = Decoder::new(peer, 4096);
    match pd.decode(&mut wire) {
        Ok(Some(p)) => assert_eq!(p, t, "TermReq changed on the wire"),
        other => panic!("our TermReq for {e:?} does not decode at the peer: {other:?}"),
    }
    assert!(wire.is_empty());
}
