//! `nvme_structs`: the parsers of `nvme::identify`, `nvme::log`,
//! `nvme::fabrics` and `nvme::sqe` on arbitrary bytes.
//!
//! Byte 0 picks the structure, the rest is its bytes. A fixed-size
//! structure is parsed as given and, when the input is shorter than the
//! structure, once more zero-extended (so the fuzzer reaches the field
//! checks without having to grow inputs to 4 KiB).
//!
//! Properties: no panic; where an encoder exists, `parse(to_bytes(x)) == x`
//! for every `x` that `parse` returned (after the normalisation the
//! encoder documents, e.g. sorted ANA NSIDs), and the encoding has the
//! documented length.

use mpath_console::nvme::fabrics::{
    property_size, AerCompletion, Connect, ConnectData, Disconnect, Features, GetLogPage, Identify,
    PropertyGet, PropertySet, RwCommand, CONNECT_DATA_LEN,
};
use mpath_console::nvme::identify::{
    encode_ns_id_descriptors, encode_ns_list, parse_ns_id_descriptors, parse_ns_list,
    IdentifyController, IdentifyNamespace, IDENTIFY_DATA_LEN,
};
use mpath_console::nvme::log::{
    encode_changed_ns_list, encode_error_log, parse_changed_ns_list, slice_log, AnaLogPage,
    ChangedNsList, DiscoveryLogEntry, DiscoveryLogHeader, DiscoveryLogPage, ErrorLogEntry,
    SmartLog, DISCOVERY_ENTRY_LEN, DISCOVERY_HEADER_LEN, ERROR_LOG_ENTRY_LEN, SMART_LOG_LEN,
};
use mpath_console::nvme::sqe::{Cqe, SglDescriptor, Sqe, CQE_LEN, SQE_LEN};

use super::reader::Reader;

const NSID_BROADCAST: u32 = 0xFFFF_FFFF;

pub fn run(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    match sel % 14 {
        0 => with_size(body, IDENTIFY_DATA_LEN, identify_controller),
        1 => with_size(body, IDENTIFY_DATA_LEN, identify_namespace),
        2 => ana_log(body),
        3 => discovery_log(body),
        4 => with_size(body, DISCOVERY_ENTRY_LEN, discovery_entry),
        5 => ns_list(body),
        6 => ns_id_descriptors(body),
        7 => with_size(body, CONNECT_DATA_LEN, connect_data),
        8 => with_size(body, ERROR_LOG_ENTRY_LEN, error_log_entry),
        9 => with_size(body, SMART_LOG_LEN, smart_log),
        10 => changed_ns_list(body),
        11 => with_size(body, SQE_LEN, sqe_views),
        12 => with_size(body, CQE_LEN, cqe),
        _ => log_slice(body),
    }
}

fn with_size(b: &[u8], size: usize, f: fn(&[u8])) {
    f(b);
    if b.len() < size {
        let mut padded = b.to_vec();
        padded.resize(size, 0);
        f(&padded);
    }
}

fn identify_controller(b: &[u8]) {
    let Ok(c) = IdentifyController::parse(b) else {
        return;
    };
    let bytes = c.to_bytes();
    assert_eq!(bytes.len(), IDENTIFY_DATA_LEN);
    let again = IdentifyController::parse(&bytes).expect("our Identify Controller parses");
    assert_eq!(again, c, "Identify Controller round trip");
    let _ = c.max_transfer_bytes(4096);
    let _ = c.max_transfer_bytes(0);
    let _ = c.in_capsule_data_size();
}

fn identify_namespace(b: &[u8]) {
    let Ok(n) = IdentifyNamespace::parse(b) else {
        return;
    };
    let bytes = n.to_bytes();
    assert_eq!(bytes.len(), IDENTIFY_DATA_LEN);
    let again = IdentifyNamespace::parse(&bytes).expect("our Identify Namespace parses");
    assert_eq!(again, n, "Identify Namespace round trip");
    let _ = n.lba_format_index();
    let _ = n.block_size();
    let _ = n.metadata_size();
}

fn ana_log(b: &[u8]) {
    let Ok(page) = AnaLogPage::parse(b) else {
        return;
    };
    for rgo in [false, true] {
        let bytes = page.to_bytes(rgo);
        assert_eq!(
            bytes.len(),
            page.encoded_len(rgo),
            "ANA encoded_len (rgo {rgo})"
        );
        let again = AnaLogPage::parse(&bytes).expect("our ANA log parses");
        let mut want = page.clone();
        for g in &mut want.groups {
            if rgo {
                g.nsids.clear();
            } else {
                g.nsids.sort_unstable();
            }
        }
        assert_eq!(again, want, "ANA log round trip (rgo {rgo})");
    }
    for g in &page.groups {
        let _ = page.group(g.anagrpid);
        for &n in g.nsids.iter().take(4) {
            let _ = page.state_for_nsid(n);
        }
    }
}

fn discovery_log(b: &[u8]) {
    if let Ok(h) = DiscoveryLogHeader::parse(b) {
        let _ = h.log_len();
    }
    let mut padded;
    let b = if b.len() < DISCOVERY_HEADER_LEN {
        padded = b.to_vec();
        padded.resize(DISCOVERY_HEADER_LEN, 0);
        &padded[..]
    } else {
        b
    };
    let Ok(page) = DiscoveryLogPage::parse(b) else {
        return;
    };
    let bytes = page.to_bytes();
    assert_eq!(
        bytes.len(),
        DISCOVERY_HEADER_LEN + DISCOVERY_ENTRY_LEN * page.entries.len()
    );
    let again = DiscoveryLogPage::parse(&bytes).expect("our discovery log parses");
    assert_eq!(again, page, "discovery log round trip");
}

fn discovery_entry(b: &[u8]) {
    let Ok(e) = DiscoveryLogEntry::parse(b) else {
        return;
    };
    let bytes = e.to_bytes();
    assert_eq!(bytes.len(), DISCOVERY_ENTRY_LEN);
    let again = DiscoveryLogEntry::parse(&bytes).expect("our discovery entry parses");
    assert_eq!(again, e, "discovery entry round trip");
    let _ = e.sectype();
}

fn ns_list(b: &[u8]) {
    let mut r = Reader::new(b);
    let starting_after = r.u32();
    let list = parse_ns_list(r.rest());
    assert!(list.len() <= 1024);
    assert!(!list.contains(&0));
    let bytes = encode_ns_list(&list, starting_after);
    assert_eq!(bytes.len(), IDENTIFY_DATA_LEN);
    let mut want: Vec<u32> = list
        .iter()
        .copied()
        .filter(|&n| n > starting_after && n != NSID_BROADCAST)
        .collect();
    want.sort_unstable();
    want.dedup();
    assert_eq!(parse_ns_list(&bytes), want, "NS list round trip");
}

fn ns_id_descriptors(b: &[u8]) {
    let Ok(descs) = parse_ns_id_descriptors(b) else {
        return;
    };
    let bytes = encode_ns_id_descriptors(&descs);
    assert_eq!(bytes.len(), IDENTIFY_DATA_LEN);
    let again = parse_ns_id_descriptors(&bytes).expect("our NS ID descriptors parse");
    assert_eq!(again, descs, "NS ID descriptor round trip");
    for d in &descs {
        let _ = (d.nidt(), d.nid());
    }
}

fn connect_data(b: &[u8]) {
    let cd = match ConnectData::parse(b) {
        Ok(cd) => cd,
        Err(e) => {
            let _ = (e.ipo(), e.offset(), e.to_string());
            return;
        }
    };
    let bytes = cd.to_bytes();
    assert_eq!(bytes.len(), CONNECT_DATA_LEN);
    let again = ConnectData::parse(&bytes).expect("our Connect data parses");
    assert_eq!(again, cd, "Connect data round trip");
}

fn error_log_entry(b: &[u8]) {
    let Ok(e) = ErrorLogEntry::parse(b) else {
        return;
    };
    let bytes = e.to_bytes();
    assert_eq!(bytes.len(), ERROR_LOG_ENTRY_LEN);
    assert_eq!(
        ErrorLogEntry::parse(&bytes).ok(),
        Some(e),
        "error log round trip"
    );
    let log = encode_error_log(&[e, e], 3);
    assert_eq!(log.len(), 3 * ERROR_LOG_ENTRY_LEN);
}

fn smart_log(b: &[u8]) {
    let Ok(s) = SmartLog::parse(b) else {
        return;
    };
    let bytes = s.to_bytes();
    assert_eq!(bytes.len(), SMART_LOG_LEN);
    assert_eq!(
        SmartLog::parse(&bytes).ok(),
        Some(s),
        "SMART log round trip"
    );
}

fn changed_ns_list(b: &[u8]) {
    match parse_changed_ns_list(b) {
        ChangedNsList::Overflow => {}
        ChangedNsList::Nsids(list) => {
            assert!(list.len() <= 1024);
            let bytes = encode_changed_ns_list(&list);
            let mut want: Vec<u32> = list
                .iter()
                .copied()
                .filter(|&n| n != NSID_BROADCAST)
                .collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(
                parse_changed_ns_list(&bytes),
                ChangedNsList::Nsids(want),
                "changed NS list round trip"
            );
        }
    }
}

/// Every SQE view: no panic, and `to_sqe(from_sqe(s))` reads back the same
/// view.
fn sqe_views(b: &[u8]) {
    let Some(sqe) = Sqe::from_bytes(b) else {
        return;
    };
    let cid = sqe.cid();
    let _ = (sqe.opc(), sqe.flags(), sqe.fuse(), sqe.psdt(), sqe.nsid());
    let _ = (sqe.fctype(), sqe.sgl(), format!("{sqe:?}"));
    let _ = property_size(&sqe);
    let sgl = sqe.sgl();
    assert_eq!(SglDescriptor::from_bytes(&sgl.to_bytes()), Some(sgl));

    let c = Connect::from_sqe(&sqe);
    assert_eq!(Connect::from_sqe(&c.to_sqe(cid)), c);
    let _ = c.sq_flow_control_disabled();
    let pg = PropertyGet::from_sqe(&sqe);
    assert_eq!(PropertyGet::from_sqe(&pg.to_sqe(cid)), pg);
    let ps = PropertySet::from_sqe(&sqe);
    let ps2 = PropertySet::from_sqe(&ps.to_sqe(cid));
    assert_eq!((ps2.size8, ps2.ofst), (ps.size8, ps.ofst));
    let d = Disconnect::from_sqe(&sqe);
    assert_eq!(Disconnect::from_sqe(&d.to_sqe(cid)), d);
    let glp = GetLogPage::from_sqe(&sqe);
    assert_eq!(GetLogPage::from_sqe(&glp.to_sqe(cid)), glp);
    let _ = glp.len_bytes();
    let _ = GetLogPage::numd_for_len(sqe.cdw(10));
    let id = Identify::from_sqe(&sqe);
    assert_eq!(Identify::from_sqe(&id.to_sqe(cid)), id);
    let feat = Features::from_sqe(&sqe);
    assert_eq!(Features::from_sqe(&feat.to_sqe(sqe.opc(), cid)), feat);
    let rw = RwCommand::from_sqe(&sqe);
    assert_eq!(
        RwCommand::from_sqe(&rw.to_sqe(sqe.opc(), cid, sqe.nsid(), sgl)),
        rw
    );
    let _ = (rw.blocks(), rw.end_lba());
    let aer = AerCompletion::from_dw0(sqe.cdw(10));
    assert_eq!(AerCompletion::from_dw0(aer.to_dw0()), aer);
}

fn cqe(b: &[u8]) {
    let Some(c) = Cqe::from_bytes(b) else {
        return;
    };
    assert_eq!(Cqe::from_bytes(&c.to_bytes()), Some(c), "CQE round trip");
    let _ = format!("{:?}", c.status);
}

fn log_slice(b: &[u8]) {
    let mut r = Reader::new(b);
    let offset = r.u64() % 8192;
    let len = match r.u8() {
        0 => usize::MAX,
        1 => (16 << 20) + 1,
        _ => usize::from(r.u16()),
    };
    let page = r.rest();
    if let Ok(out) = slice_log(page, offset, len) {
        assert_eq!(out.len(), len);
        let start = offset as usize;
        let n = page.len().saturating_sub(start).min(len);
        assert_eq!(&out[..n], &page[start..start + n]);
        assert!(out[n..].iter().all(|&x| x == 0));
    }
}
