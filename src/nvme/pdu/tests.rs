use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::nvme::digest;
use crate::nvme::fabrics::{Connect, CONNECT_DATA_LEN};
use crate::nvme::sqe::SglDescriptor;
use crate::nvme::sqe::{Cqe, Sqe, CQE_LEN, SQE_LEN};
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
            0x05, 0x01, 0x18, 0x00, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            0x42, 0x62, 0x33, 0x32
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
