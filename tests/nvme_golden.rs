//! Golden tests for the NVMe/TCP codec: every PDU SPDK v24.09 put on the
//! wire in `tests/golden/spdk-v24.09/pcap/{howto,digests}.pdus.jsonl` is decoded
//! with the direction's role and the connection's negotiated framing, then
//! re-encoded from the decoded fields and compared byte for byte.
//!
//! Lines whose payload was cut from the capture (`data_len_cut`, I/O queue
//! samples) hold the PDU up to its data. They are completed with zero data
//! (and, when DDGSTF is set, the digest of those zeros) so the decoder sees a
//! whole PDU; only the captured prefix is compared, which covers the full
//! header and the header digest.

mod common;

use std::collections::HashMap;

use bytes::BytesMut;
use common::golden_dir;
use serde_json::Value;

use mpath_console::nvme::digest;
use mpath_console::nvme::fabrics::{
    AerCompletion, Cap, Cc, Connect, ConnectData, Csts, Features, GetLogPage, Identify,
    PropertyGet, PropertySet, RwCommand, Vs, CNTLID_DYNAMIC, REG_CAP, REG_CC, REG_CSTS, REG_VS,
};
use mpath_console::nvme::opcodes::{admin, fctype, nvm};
use mpath_console::nvme::pdu::{encode, Decoder, Framing, Pdu, Role};
use mpath_console::nvme::sqe::{SglDescriptor, Sqe};
use mpath_console::nvme::status::Status;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn load(capture: &str) -> Vec<Value> {
    let path = golden_dir().join("pcap").join(capture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("field {k} in {v}"))
}

/// The complete PDU for a line, and how many leading bytes were captured.
fn complete(line: &Value) -> (Vec<u8>, usize) {
    let mut b = unhex(line["hex"].as_str().expect("hex"));
    let captured = b.len();
    let plen = num(line, "plen") as usize;
    if captured < plen {
        assert!(
            line.get("data_len_cut").is_some(),
            "short PDU without data_len_cut: {line}"
        );
        assert_eq!(captured, num(line, "pdo") as usize, "cut lines end at PDO");
        let ddgst = num(line, "flags") & 0x02 != 0;
        let data_len = plen - captured - if ddgst { 4 } else { 0 };
        let zeros = vec![0u8; data_len];
        b.extend_from_slice(&zeros);
        if ddgst {
            b.extend_from_slice(&digest::data_digest(&zeros).to_le_bytes());
        }
    }
    assert_eq!(b.len(), plen);
    (b, captured)
}

#[derive(Default)]
struct ConnState {
    /// Framing of what the host sends (h2c) and what the controller sends.
    host_tx: Framing,
    ctrl_tx: Framing,
    h2c: Option<Decoder>,
    c2h: Option<Decoder>,
    /// Captured h2c/c2h bytes, for the chunked re-decode.
    streams: [Vec<u8>; 2],
}

#[derive(Default, Debug)]
struct Tally {
    pdus: usize,
    identical_whole: usize,
    identical_prefix: usize,
    by_type: HashMap<u8, usize>,
    hdgst: usize,
    ddgst: usize,
}

/// Decode every line of a capture and re-encode it. Returns the tally and
/// the decoded PDUs with their lines.
fn run_capture(capture: &str) -> (Tally, Vec<(Value, Pdu)>) {
    let lines = load(capture);
    let mut conns: HashMap<String, ConnState> = HashMap::new();
    let mut tally = Tally::default();
    let mut out = Vec::new();
    for line in lines {
        let conn = line["conn"].as_str().expect("conn").to_string();
        let dir = line["dir"].as_str().expect("dir");
        let st = conns.entry(conn.clone()).or_default();
        let (wire, captured) = complete(&line);
        let (role, idx) = match dir {
            "h2c" => (Role::Controller, 0),
            "c2h" => (Role::Host, 1),
            other => panic!("dir {other}"),
        };
        st.streams[idx].extend_from_slice(&wire);
        let dec = if idx == 0 { &mut st.h2c } else { &mut st.c2h };
        let dec = dec.get_or_insert_with(|| Decoder::new(role, 1 << 20));

        let mut buf = BytesMut::from(&wire[..]);
        let pdu = match dec.decode(&mut buf) {
            Ok(Some(p)) => p,
            other => panic!("{capture} frame {}: {other:?}", line["frame"]),
        };
        assert!(buf.is_empty(), "frame {}: bytes left", line["frame"]);
        assert_eq!(pdu.pdu_type() as u64, num(&line, "type"));

        // The IC exchange fixes the framing, as target and host would.
        match &pdu {
            Pdu::IcReq(req) => {
                dec.set_framing(Framing::for_controller(req));
                st.ctrl_tx = Framing::for_controller(req);
                st.host_tx.hdgst = req.hdgst;
                st.host_tx.ddgst = req.ddgst;
            }
            Pdu::IcResp(resp) => {
                dec.set_framing(Framing::for_host(resp));
                st.host_tx = Framing::for_host(resp);
            }
            _ => {}
        }
        let tx = if idx == 0 { st.host_tx } else { st.ctrl_tx };
        let mut re = BytesMut::new();
        encode(&pdu, &tx, &mut re);
        assert_eq!(re.len(), wire.len(), "{capture} frame {}", line["frame"]);
        assert_eq!(
            &re[..captured],
            &wire[..captured],
            "{capture} frame {} {:?}: re-encoding differs",
            line["frame"],
            pdu.pdu_type()
        );
        if captured == wire.len() {
            tally.identical_whole += 1;
        } else {
            tally.identical_prefix += 1;
        }
        tally.pdus += 1;
        *tally.by_type.entry(wire[0]).or_default() += 1;
        if wire[1] & 0x01 != 0 {
            tally.hdgst += 1;
        }
        if wire[1] & 0x02 != 0 {
            tally.ddgst += 1;
        }
        out.push((line, pdu));
    }

    // Each direction of each connection again, as one byte stream fed in
    // odd-sized chunks: same PDUs, nothing left over.
    for (conn, st) in &conns {
        for (idx, role) in [(0usize, Role::Controller), (1, Role::Host)] {
            let mut dec = Decoder::new(role, 1 << 20);
            let mut buf = BytesMut::new();
            let mut n = 0usize;
            for chunk in st.streams[idx].chunks(37) {
                buf.extend_from_slice(chunk);
                while let Some(p) = dec
                    .decode(&mut buf)
                    .unwrap_or_else(|e| panic!("{conn}: {e}"))
                {
                    match &p {
                        Pdu::IcReq(r) => dec.set_framing(Framing::for_controller(r)),
                        Pdu::IcResp(r) => dec.set_framing(Framing::for_host(r)),
                        _ => {}
                    }
                    n += 1;
                }
            }
            assert!(buf.is_empty(), "{conn}: trailing bytes");
            let expected = out
                .iter()
                .filter(|(l, _)| {
                    l["conn"] == conn.as_str() && l["dir"] == if idx == 0 { "h2c" } else { "c2h" }
                })
                .count();
            assert_eq!(n, expected, "{conn} dir {idx}");
        }
    }
    (tally, out)
}

fn qid(line: &Value) -> Option<u64> {
    line["qid"].as_u64()
}

/// Rebuild a captured SQE with our command views' `to_sqe`, as our host
/// would build it, when we have a view for it.
fn rebuild(sqe: &Sqe, io: bool) -> Option<Sqe> {
    let cid = sqe.cid();
    Some(match (io, sqe.opc()) {
        (_, admin::FABRICS) => match sqe.fctype() {
            fctype::CONNECT => Connect::from_sqe(sqe).to_sqe(cid),
            fctype::PROPERTY_GET => PropertyGet::from_sqe(sqe).to_sqe(cid),
            fctype::PROPERTY_SET => PropertySet::from_sqe(sqe).to_sqe(cid),
            _ => return None,
        },
        (false, admin::IDENTIFY) => Identify::from_sqe(sqe).to_sqe(cid),
        (false, admin::GET_LOG_PAGE) => GetLogPage::from_sqe(sqe).to_sqe(cid),
        (false, op @ (admin::SET_FEATURES | admin::GET_FEATURES)) => {
            Features::from_sqe(sqe).to_sqe(op, cid)
        }
        (false, op @ (admin::KEEP_ALIVE | admin::ASYNC_EVENT_REQUEST)) => {
            let mut s = Sqe::new(op, cid);
            s.set_sgl(SglDescriptor::transport(0));
            s
        }
        (true, nvm::READ) => RwCommand::from_sqe(sqe).to_sqe(
            nvm::READ,
            cid,
            sqe.nsid(),
            SglDescriptor::transport(sqe.sgl().len),
        ),
        (true, nvm::WRITE) => RwCommand::from_sqe(sqe).to_sqe(
            nvm::WRITE,
            cid,
            sqe.nsid(),
            SglDescriptor::in_capsule(sqe.sgl().len),
        ),
        _ => return None,
    })
}

/// Facts of SPDK's recorded sessions, checked on the decoded values, plus
/// every SQE rebuilt through the command views.
fn check_semantics(capture: &str, pdus: &[(Value, Pdu)]) -> usize {
    let mut rebuilt = 0;
    // Outstanding commands per (conn, cid) to pair completions with them.
    let mut pending: HashMap<(String, u16), Sqe> = HashMap::new();
    let mut seen_cap = 0;
    let mut seen_cc_en = 0;
    let mut seen_connect = 0;
    let mut seen_aen = 0;
    for (line, pdu) in pdus {
        let conn = line["conn"].as_str().unwrap_or_default().to_string();
        let port_4420 = conn.ends_with("->4420");
        match pdu {
            Pdu::IcReq(r) => {
                assert_eq!((r.pfv, r.hpda, r.maxr2t), (0, 0, 0));
                let dg = capture.starts_with("digests") && port_4420;
                assert_eq!((r.hdgst, r.ddgst), (dg, dg), "{conn}");
            }
            Pdu::IcResp(r) => {
                assert_eq!((r.pfv, r.cpda, r.maxh2cdata), (0, 0, 131072));
            }
            Pdu::CapsuleCmd(c) => {
                let io = qid(line).is_some_and(|q| q != 0);
                let sqe = c.sqe;
                assert_eq!(sqe.flags(), 0x40, "PSDT = SGL");
                if let Some(r) = rebuild(&sqe, io) {
                    assert_eq!(
                        r.0, sqe.0,
                        "{capture} frame {}: rebuilt {:?} != captured {:?}",
                        line["frame"], r, sqe
                    );
                    rebuilt += 1;
                }
                if !io && sqe.opc() == admin::FABRICS && sqe.fctype() == fctype::CONNECT {
                    let cn = Connect::from_sqe(&sqe);
                    assert_eq!((cn.recfmt, cn.qid, cn.sqsize, cn.kato), (0, 0, 31, 10000));
                    let cd = ConnectData::parse(&c.data).expect("connect data");
                    assert_eq!(cd.cntlid, CNTLID_DYNAMIC);
                    assert!(cd.hostnqn.starts_with("nqn.2014-08.org.nvmexpress:uuid:"));
                    assert_eq!(cd.to_bytes(), c.data.to_vec(), "ConnectData round trip");
                    seen_connect += 1;
                }
                if io && sqe.opc() == admin::FABRICS {
                    let cn = Connect::from_sqe(&sqe);
                    assert_eq!((cn.qid, cn.sqsize, cn.kato), (1, 127, 10000));
                    let cd = ConnectData::parse(&c.data).expect("connect data");
                    assert_eq!(cd.cntlid, if port_4420 { 1 } else { 2 });
                    assert_eq!(cd.to_bytes(), c.data.to_vec());
                }
                if !io && sqe.opc() == admin::FABRICS && sqe.fctype() == fctype::PROPERTY_SET {
                    let ps = PropertySet::from_sqe(&sqe);
                    assert_eq!(ps.ofst, REG_CC);
                    let cc = Cc(ps.value as u32);
                    assert_eq!((cc.iosqes(), cc.iocqes()), (6, 4));
                    assert!(cc.en());
                    if cc.shn() == 0 {
                        assert_eq!(ps.value, 0x0046_0001);
                        seen_cc_en += 1;
                    } else {
                        assert_eq!(ps.value, 0x0046_4001);
                    }
                }
                if !io && sqe.opc() == admin::SET_FEATURES {
                    let f = Features::from_sqe(&sqe);
                    match f.fid {
                        0x0B => assert_eq!(f.cdw11, 0x0000_091F),
                        0x07 => assert_eq!(f.cdw11, 0x03FF_03FF),
                        other => panic!("unexpected Set Features {other:#x}"),
                    }
                }
                if !io && sqe.opc() == admin::GET_LOG_PAGE {
                    let g = GetLogPage::from_sqe(&sqe);
                    assert_eq!(
                        (g.lid, g.numd, g.nsid, g.rae),
                        (0x0C, 0x104, u32::MAX, false)
                    );
                    assert_eq!(g.len_bytes(), 1044);
                }
                pending.insert((conn.clone(), sqe.cid()), sqe);
            }
            Pdu::CapsuleResp(cqe) => {
                assert_eq!(cqe.sqid, 0, "SPDK leaves SQID 0");
                let Some(sqe) = pending.remove(&(conn.clone(), cqe.cid)) else {
                    continue; // I/O samples keep only some commands
                };
                let io = qid(line).is_some_and(|q| q != 0);
                assert_eq!(cqe.status, Status::SUCCESS, "frame {}", line["frame"]);
                if sqe.opc() == admin::FABRICS && sqe.fctype() == fctype::CONNECT {
                    assert_eq!(cqe.dw0, if port_4420 { 1 } else { 2 });
                }
                if !io && sqe.opc() == admin::FABRICS && sqe.fctype() == fctype::PROPERTY_GET {
                    let pg = PropertyGet::from_sqe(&sqe);
                    let v = cqe.dw0 as u64 | ((cqe.dw1 as u64) << 32);
                    match pg.ofst {
                        REG_CAP => {
                            assert!(pg.size8);
                            assert_eq!(v, 0x0000_0020_1e01_007f);
                            let cap = Cap(v);
                            assert_eq!((cap.mqes(), cap.to(), cap.css()), (127, 30, 1));
                            seen_cap += 1;
                        }
                        REG_VS => assert_eq!(Vs(v as u32), Vs::V1_3),
                        REG_CC => assert!(v == 0 || v == 0x0046_0001, "CC {v:#x}"),
                        REG_CSTS => {
                            let c = Csts(v as u32);
                            assert!(v == 0 || v == 1 || v == 9, "CSTS {v:#x}");
                            assert!(!c.cfs());
                        }
                        other => panic!("Property Get {other:#x}"),
                    }
                }
                if !io && sqe.opc() == admin::SET_FEATURES && Features::from_sqe(&sqe).fid == 7 {
                    assert_eq!(cqe.dw0, 0x007E_007E);
                }
                if !io && sqe.opc() == admin::GET_FEATURES {
                    assert_eq!(cqe.dw0, 10000, "KATO");
                }
                if !io && sqe.opc() == admin::ASYNC_EVENT_REQUEST {
                    assert_eq!(AerCompletion::from_dw0(cqe.dw0), AerCompletion::ANA_CHANGE);
                    assert_eq!(cqe.dw0, 0x000C_0302);
                    seen_aen += 1;
                }
            }
            Pdu::C2HData(d) => {
                assert!(d.last && !d.success, "-o: no C2H success optimisation");
                assert_eq!(d.datao, 0);
                if let Some(sqe) = pending.get(&(conn.clone(), d.cccid)) {
                    assert_eq!(d.data.len() as u32, sqe.sgl().len);
                }
            }
            other => panic!("{capture}: unexpected {other:?}"),
        }
    }
    assert_eq!(seen_connect, 2, "{capture}: two admin Connects");
    assert_eq!(seen_cap, 2, "{capture}: CAP read on both paths");
    assert_eq!(seen_cc_en, 2, "{capture}: CC.EN set on both paths");
    if capture.starts_with("howto") {
        assert_eq!(seen_aen, 3, "three ANA change AENs");
    }
    rebuilt
}

#[test]
fn howto_pdus_decode_and_reencode_identically() {
    let (t, pdus) = run_capture("howto.pdus.jsonl");
    eprintln!("howto: {t:?}");
    assert_eq!(t.pdus, 157);
    assert_eq!(t.identical_whole + t.identical_prefix, 157);
    assert_eq!(t.identical_prefix, 11, "cut I/O samples");
    assert_eq!(t.by_type.get(&0), Some(&5));
    assert_eq!(t.by_type.get(&1), Some(&5));
    let rebuilt = check_semantics("howto", &pdus);
    eprintln!("howto: {rebuilt} SQEs rebuilt identically from command views");
    assert!(rebuilt >= 60);
}

#[test]
fn digests_pdus_decode_and_reencode_identically() {
    let (t, pdus) = run_capture("digests.pdus.jsonl");
    eprintln!("digests: {t:?}");
    assert_eq!(t.pdus, 138);
    assert_eq!(t.identical_whole + t.identical_prefix, 138);
    assert_eq!(t.identical_prefix, 11, "cut I/O samples");
    // Every post-IC PDU on 4420 has a header digest (verified by decoding);
    // data digests only on PDUs with data.
    assert_eq!(t.hdgst, 30 + 3 + 4 + 28 + 5 + 7);
    assert_eq!(t.ddgst, 3 + 4 + 5 + 7);
    let rebuilt = check_semantics("digests", &pdus);
    eprintln!("digests: {rebuilt} SQEs rebuilt identically from command views");
    assert!(rebuilt >= 40);
}

#[test]
fn golden_digests_are_crc32c_le() {
    // A Connect CQE with a header digest, as SPDK's target sent it.
    let lines = load("digests.pdus.jsonl");
    let resp = lines
        .iter()
        .map(|l| unhex(l["hex"].as_str().unwrap()))
        .find(|b| b.len() == 28 && b[0] == 5 && b[8] == 1)
        .expect("a Connect CQE with HDGST");
    assert_eq!(
        resp,
        unhex(concat!(
            "050118001c000000",
            "0100000000000000",
            "0100000000000000",
            "42623332"
        ))
    );
    assert_eq!(digest::header_digest(&resp[..24]), 0x3233_6242);
    // Every complete PDU with DDGSTF: the digest covers exactly the data.
    let mut checked = 0;
    for l in &lines {
        let b = unhex(l["hex"].as_str().unwrap());
        let plen = num(l, "plen") as usize;
        if b.len() != plen || b[1] & 0x02 == 0 {
            continue;
        }
        let pdo = b[3] as usize;
        let data = &b[pdo..plen - 4];
        assert_eq!(
            digest::read_digest(&b[plen - 4..]),
            Some(digest::data_digest(data))
        );
        checked += 1;
    }
    assert_eq!(checked, 3 + 5);
}
