//! Golden tests: Identify and ANA log payloads exactly as SPDK v24.09 sent
//! them (tests/golden/spdk-v24.09/pcap/*.pdus.jsonl). Each admin-queue C2HData PDU
//! is matched to the CapsuleCmd it answers (same connection, CCCID = CID), its
//! payload is parsed with our decoders, checked against the field values SPDK's
//! configuration gives them, and re-encoded byte for byte.

mod common;

use std::collections::HashMap;

use common::golden_dir;

use mpath_console::nvme::identify::{
    encode_ns_id_descriptors, encode_ns_list, parse_ns_id_descriptors, parse_ns_list,
    IdentifyController, IdentifyNamespace, LbaFormat, NsIdDescriptor,
};
use mpath_console::nvme::log::{slice_log, AnaLogPage, AnaState};

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// One command on an admin queue and the data the controller returned for it.
#[derive(Debug, Clone)]
struct Transfer {
    frame: u64,
    conn: String,
    opc: u8,
    nsid: u32,
    cdw10: u32,
    data: Vec<u8>,
}

impl Transfer {
    fn cns(&self) -> u8 {
        (self.cdw10 & 0xFF) as u8
    }
}

/// All admin-queue controller-to-host data transfers of a capture, in order.
fn admin_transfers(capture: &str) -> Vec<Transfer> {
    let path = golden_dir().join("pcap").join(capture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    // (conn, cid) -> (opc, nsid, cdw10) of the latest command with that CID.
    let mut cmds: HashMap<(String, u16), (u8, u32, u32)> = HashMap::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("jsonl line");
        if v["qid"].as_u64() != Some(0) {
            continue;
        }
        let conn = v["conn"].as_str().unwrap().to_string();
        let frame = v["frame"].as_u64().unwrap();
        let pdu = unhex(v["hex"].as_str().unwrap());
        match (v["dir"].as_str().unwrap(), pdu[0]) {
            // CapsuleCmd: the SQE starts right after the 8-byte common header.
            ("h2c", 0x04) => {
                let sqe = &pdu[8..72];
                cmds.insert((conn, le16(sqe, 2)), (sqe[0], le32(sqe, 4), le32(sqe, 40)));
            }
            // C2HData: CCCID @8, DATAO @12, DATAL @16, data at PDO.
            ("c2h", 0x07) => {
                assert_eq!(pdu[2], 24, "C2HData HLEN, frame {frame}");
                let pdo = usize::from(pdu[3]);
                let datao = le32(&pdu, 12);
                let datal = le32(&pdu, 16) as usize;
                assert_eq!(datao, 0, "admin data in one PDU, frame {frame}");
                let cccid = le16(&pdu, 8);
                let (opc, nsid, cdw10) = *cmds
                    .get(&(conn.clone(), cccid))
                    .unwrap_or_else(|| panic!("no command for CCCID {cccid} before frame {frame}"));
                out.push(Transfer {
                    frame,
                    conn,
                    opc,
                    nsid,
                    cdw10,
                    data: pdu[pdo..pdo + datal].to_vec(),
                });
            }
            _ => {}
        }
    }
    out
}

fn identify(ts: &[Transfer], cns: u8) -> Vec<Transfer> {
    ts.iter()
        .filter(|t| t.opc == 0x06 && t.cns() == cns)
        .cloned()
        .collect()
}

fn ana_logs(ts: &[Transfer]) -> Vec<Transfer> {
    ts.iter()
        .filter(|t| t.opc == 0x02 && (t.cdw10 & 0xFF) == 0x0C)
        .cloned()
        .collect()
}

#[test]
fn identify_controller_matches_spdk() {
    for capture in ["howto.pdus.jsonl", "digests.pdus.jsonl"] {
        let ts = identify(&admin_transfers(capture), 0x01);
        assert_eq!(ts.len(), 2, "{capture}: one Identify Controller per path");
        let mut cntlids = Vec::new();
        for t in &ts {
            assert_eq!(t.data.len(), 4096);
            let c = IdentifyController::parse(&t.data).unwrap();
            assert_eq!(c.vid, 0x8086);
            assert_eq!(c.ssvid, 0x8086);
            assert_eq!(c.sn, "SPDK00000000000001");
            assert_eq!(c.mn, "SPDK bdev Controller");
            assert_eq!(c.fr, "24.09");
            assert_eq!(c.rab, 6);
            assert_eq!(c.ieee, [0xe4, 0xd2, 0x5c]);
            assert_eq!(c.cmic, 0x0B);
            assert_eq!(c.mdts, 5);
            assert_eq!(c.ver, 0x0001_0300);
            assert_eq!(c.rtd3r, 0);
            assert_eq!(c.rtd3e, 0);
            assert_eq!(c.oaes, 0x900);
            assert_eq!(c.ctratt, 0x1);
            assert_eq!(c.cntrltype, 1);
            assert_eq!(c.crdt, [0; 3]);
            assert_eq!(c.oacs, 0);
            assert_eq!(c.acl, 3);
            assert_eq!(c.aerl, 3);
            assert_eq!(c.frmw, 0x3);
            assert_eq!(c.lpa, 0x6);
            assert_eq!(c.elpe, 127);
            assert_eq!(c.npss, 0);
            assert_eq!(c.kas, 100);
            assert_eq!(c.anatt, 10);
            assert_eq!(c.anacap, 0x47);
            assert_eq!(c.anagrpmax, 32);
            assert_eq!(c.nanagrpid, 32);
            assert_eq!(c.sqes, 0x66);
            assert_eq!(c.cqes, 0x44);
            assert_eq!(c.maxcmd, 128);
            assert_eq!(c.nn, 32);
            assert_eq!(c.oncs, 0x12D);
            assert_eq!(c.fuses, 1);
            assert_eq!(c.vwc, 0x05);
            assert_eq!(c.ocfs, 1);
            assert_eq!(c.sgls, 0x0010_0005);
            assert_eq!(c.mnan, 32);
            assert_eq!(c.subnqn, "nqn.2022-02.io.spdk:cnode0");
            assert_eq!(c.ioccsz, 260);
            assert_eq!(c.iorcsz, 1);
            assert_eq!(c.icdoff, 0);
            assert_eq!(c.fcatt, 0);
            assert_eq!(c.msdbd, 1);
            assert_eq!(c.ofcs, 0);
            assert_eq!(c.in_capsule_data_size(), 4096);
            assert_eq!(c.max_transfer_bytes(4096), Some(128 * 1024));
            assert_eq!(
                c.to_bytes(),
                t.data,
                "{capture} frame {}: re-encoding differs",
                t.frame
            );
            cntlids.push((t.conn.clone(), c.cntlid));
        }
        // CNTLID 1 on the first path (4420), 2 on the second (5520).
        assert_eq!(cntlids[0].1, 1, "{capture}: {cntlids:?}");
        assert_eq!(cntlids[1].1, 2, "{capture}: {cntlids:?}");
        assert!(cntlids[0].0.ends_with("4420") && cntlids[1].0.ends_with("5520"));
    }
}

#[test]
fn identify_namespace_matches_spdk() {
    let ts = identify(&admin_transfers("howto.pdus.jsonl"), 0x00);
    assert_eq!(ts.len(), 2);
    let mut nguids = Vec::new();
    for t in &ts {
        assert_eq!(t.nsid, 1);
        let n = IdentifyNamespace::parse(&t.data).unwrap();
        assert_eq!(n.nsze, 131_072);
        assert_eq!(n.ncap, 131_072);
        assert_eq!(n.nuse, 131_072);
        assert_eq!(n.nsfeat, 0x12);
        assert_eq!(n.nlbaf, 0);
        assert_eq!(n.flbas, 0);
        assert_eq!(n.nmic, 0x1);
        assert_eq!(n.rescap, 0xFE);
        assert_eq!(n.anagrpid, 1);
        assert_eq!(n.nows, 255); // 128 KiB max I/O / 512 B blocks - 1
        assert_eq!(n.mssrl, 0xFFFF);
        assert_eq!(n.mcl, 0xFFFF);
        assert_eq!(n.msrc, 0);
        assert_eq!(n.eui64, [0; 8]);
        assert_ne!(n.nguid, [0; 16]);
        assert_eq!(
            n.lbaf,
            vec![LbaFormat {
                ms: 0,
                lbads: 9,
                rp: 0
            }]
        );
        assert_eq!(n.block_size(), Some(512));
        assert_eq!(
            n.to_bytes(),
            t.data,
            "frame {}: re-encoding differs",
            t.frame
        );
        nguids.push(n.nguid);
    }
    // Same namespace through both paths: identical NGUID.
    assert_eq!(nguids[0], nguids[1]);
}

#[test]
fn active_ns_list_matches_spdk() {
    let ts = identify(&admin_transfers("howto.pdus.jsonl"), 0x02);
    assert_eq!(ts.len(), 2);
    for t in &ts {
        assert_eq!(t.nsid, 0, "list starts after NSID 0");
        assert_eq!(parse_ns_list(&t.data), vec![1]);
        assert_eq!(encode_ns_list(&[1], t.nsid), t.data, "frame {}", t.frame);
    }
}

#[test]
fn ns_id_descriptors_match_spdk() {
    let all = admin_transfers("howto.pdus.jsonl");
    let ns = identify(&all, 0x00);
    let ts = identify(&all, 0x03);
    assert_eq!(ts.len(), 2);
    for (t, n) in ts.iter().zip(&ns) {
        let nguid = IdentifyNamespace::parse(&n.data).unwrap().nguid;
        let d = parse_ns_id_descriptors(&t.data).unwrap();
        // SPDK sends NGUID then UUID, both the namespace's UUID bytes.
        assert_eq!(
            d,
            vec![NsIdDescriptor::Nguid(nguid), NsIdDescriptor::Uuid(nguid)]
        );
        assert_eq!(encode_ns_id_descriptors(&d), t.data, "frame {}", t.frame);
    }
}

#[test]
fn ana_log_matches_spdk() {
    let ts = ana_logs(&admin_transfers("howto.pdus.jsonl"));
    let path1: Vec<&Transfer> = ts.iter().filter(|t| t.conn.ends_with("4420")).collect();
    let path2: Vec<&Transfer> = ts.iter().filter(|t| t.conn.ends_with("5520")).collect();
    // Bring-up, then one read per ANA change on 4420 (optimized ->
    // non_optimized -> inaccessible -> optimized); 5520 read once at bring-up.
    let want1 = [
        AnaState::Optimized,
        AnaState::NonOptimized,
        AnaState::Inaccessible,
        AnaState::Optimized,
    ];
    assert_eq!(path1.len(), want1.len());
    assert_eq!(path2.len(), 1);
    let cases = path1
        .iter()
        .zip(want1)
        .chain(path2.iter().zip([AnaState::Optimized]));
    for (t, state) in cases {
        assert_eq!(t.nsid, 0xFFFF_FFFF);
        assert_eq!(t.cdw10, 0x0104_000C, "LID 0Ch, NUMDL 0x104 (1044 bytes)");
        assert_eq!(t.data.len(), 1044);
        let page = AnaLogPage::parse(&t.data).unwrap();
        assert_eq!(page.change_count, 0);
        assert_eq!(
            page.groups.len(),
            1,
            "only groups with namespaces are listed"
        );
        let g = &page.groups[0];
        assert_eq!(
            (g.anagrpid, g.change_count, g.state),
            (1, 0, state),
            "frame {}",
            t.frame
        );
        assert_eq!(g.nsids, vec![1]);
        assert_eq!(page.state_for_nsid(1), Some(state));
        // Our page is 52 bytes of content; the 1044-byte window SPDK returned
        // is that content zero padded.
        let ours = page.to_bytes(false);
        assert_eq!(ours.len(), 52);
        let len = ((t.cdw10 >> 16) as usize + 1) * 4;
        assert_eq!(
            slice_log(&ours, 0, len).unwrap(),
            t.data,
            "frame {}",
            t.frame
        );
    }
}
