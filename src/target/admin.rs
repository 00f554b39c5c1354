//! Admin commands on an NVM or discovery controller: Identify, Get Log Page,
//! Set/Get Features, Asynchronous Event Request, Keep Alive, Abort.

use std::sync::Arc;

use bytes::Bytes;

use super::controller::{Controller, AEC_ANA_CHANGE_NOTICE, AEC_NS_ATTR_NOTICE, AERL};
use super::reply::Reply;
use super::transport::TcpTransportOpts;
use super::Target;
use crate::nvme::fabrics::{GetLogPage, Identify};
use crate::nvme::identify::{
    encode_ns_id_descriptors, encode_ns_list, IdentifyController, IdentifyNamespace, LbaFormat,
    NsIdDescriptor,
};
use crate::nvme::log::{
    slice_log, AnaGroupDescriptor, AnaLogPage, DiscoveryLogEntry, DiscoveryLogPage,
};
use crate::nvme::opcodes as op;
use crate::nvme::sqe::Sqe;
use crate::nvme::status::Status;

/// Firmware revision we report: the SPDK release whose RPC surface we serve.
const FIRMWARE_REVISION: &str = "24.09";
/// NVMe version 1.3, as SPDK v24.09 reports.
pub const NVME_VERSION: u32 = 0x0001_0300;
/// ANA transition time in seconds.
const ANATT: u8 = 10;
/// Error log entries minus one (ELPE is 0's based).
const ELPE: u8 = 127;

/// Outcome of an admin command: a reply now, or none yet (an AER is held
/// until an event happens).
pub enum AdminOutcome {
    Reply(Reply),
    Held,
}

pub fn handle(
    target: &Target,
    opts: &TcpTransportOpts,
    ctrl: &Arc<Controller>,
    sqe: &Sqe,
    data: &[u8],
) -> AdminOutcome {
    let reply = match sqe.opc() {
        op::admin::IDENTIFY => identify(opts, ctrl, sqe),
        op::admin::GET_LOG_PAGE => get_log_page(target, ctrl, sqe),
        op::admin::SET_FEATURES => set_features(ctrl, sqe, data),
        op::admin::GET_FEATURES => get_features(ctrl, sqe),
        op::admin::ASYNC_EVENT_REQUEST => return async_event_request(ctrl, sqe),
        op::admin::KEEP_ALIVE => {
            ctrl.touch_keep_alive();
            Reply::ok()
        }
        // Abort: "command not aborted" (DW0 bit 0 set). Every command here
        // completes before the next PDU is read, so there is never anything
        // to abort.
        op::admin::ABORT => Reply::dw0(1),
        _ => Reply::status(Status::INVALID_OPCODE.with_dnr()),
    };
    AdminOutcome::Reply(reply)
}

fn async_event_request(ctrl: &Controller, sqe: &Sqe) -> AdminOutcome {
    let mut s = ctrl.state();
    if s.aer_cids.len() > AERL as usize {
        return AdminOutcome::Reply(Reply::status(Status::ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED));
    }
    s.aer_cids.push_back(sqe.cid());
    drop(s);
    // An event may already be waiting for this AER.
    ctrl.aen_ready.notify_one();
    AdminOutcome::Held
}

// ---- Identify ------------------------------------------------------------

fn identify(opts: &TcpTransportOpts, ctrl: &Controller, sqe: &Sqe) -> Reply {
    let id = Identify::from_sqe(sqe);
    match id.cns {
        op::cns::CONTROLLER => Reply::data(Bytes::from(identify_controller(opts, ctrl).to_bytes())),
        _ if ctrl.subsys.discovery => Reply::invalid_field(),
        op::cns::NAMESPACE => match ctrl.subsys.namespace(id.nsid) {
            Some(ns) => {
                let state = ctrl.ana_state(ns.anagrpid);
                // NUSE reads 0 while the namespace is unreachable through
                // this controller, as SPDK reports it.
                let nuse = if state.is_accessible() {
                    ns.bdev.num_blocks
                } else {
                    0
                };
                let idns = IdentifyNamespace {
                    nsze: ns.bdev.num_blocks,
                    ncap: ns.bdev.num_blocks,
                    nuse,
                    nsfeat: 0x12,
                    nlbaf: 0,
                    flbas: 0,
                    nmic: 1,
                    // All six types and IEKEY; PTPL only with a PTPL file.
                    rescap: 0xFE | ns.resv.ptpl_capable() as u8,
                    // Optimal write size: the maximum I/O size, as SPDK
                    // reports it.
                    nows: (opts.max_io_size / ns.bdev.block_size).saturating_sub(1) as u16,
                    // One source range per Copy, of any length.
                    mssrl: u16::MAX,
                    mcl: u16::MAX as u32,
                    msrc: 0,
                    anagrpid: if ctrl.subsys.ana_reporting {
                        ns.anagrpid
                    } else {
                        0
                    },
                    nguid: ns.nguid,
                    eui64: ns.eui64,
                    lbaf: vec![LbaFormat {
                        ms: 0,
                        lbads: ns.bdev.block_size.trailing_zeros() as u8,
                        rp: 0,
                    }],
                    ..Default::default()
                };
                Reply::data(Bytes::from(idns.to_bytes()))
            }
            // An inactive NSID in range reads as zeros; outside it is an
            // invalid namespace.
            None if id.nsid >= 1 && id.nsid <= ctrl.subsys.config().max_namespaces => {
                Reply::data(Bytes::from(vec![0u8; 4096]))
            }
            None => Reply::status(Status::INVALID_NS.with_dnr()),
        },
        op::cns::ACTIVE_NS_LIST => {
            let ids: Vec<u32> = ctrl.subsys.namespaces().iter().map(|n| n.nsid).collect();
            if id.nsid >= 0xFFFF_FFFE {
                return Reply::invalid_field();
            }
            Reply::data(Bytes::from(encode_ns_list(&ids, id.nsid)))
        }
        op::cns::NS_ID_DESCRIPTORS => match ctrl.subsys.namespace(id.nsid) {
            Some(ns) => {
                let mut d = Vec::new();
                if ns.eui64 != [0; 8] {
                    d.push(NsIdDescriptor::Eui64(ns.eui64));
                }
                d.push(NsIdDescriptor::Nguid(ns.nguid));
                d.push(NsIdDescriptor::Uuid(*ns.uuid.as_bytes()));
                Reply::data(Bytes::from(encode_ns_id_descriptors(&d)))
            }
            None => Reply::status(Status::INVALID_NS.with_dnr()),
        },
        _ => Reply::invalid_field(),
    }
}

/// The Identify Controller data: the fields that the Linux and SPDK hosts
/// check, with SPDK v24.09's values (see the golden capture).
pub fn identify_controller(opts: &TcpTransportOpts, ctrl: &Controller) -> IdentifyController {
    let ss = &ctrl.subsys;
    let cfg = ss.config();
    let (serial, model, max_ns) = (cfg.serial.clone(), cfg.model.clone(), cfg.max_namespaces);
    drop(cfg);
    let mut id = IdentifyController {
        vid: 0x8086,
        ssvid: 0x8086,
        sn: serial,
        mn: model,
        fr: FIRMWARE_REVISION.to_string(),
        rab: 6,
        ieee: [0xe4, 0xd2, 0x5c],
        cntlid: ctrl.cntlid,
        ver: NVME_VERSION,
        ctratt: 0x1,
        acl: 3,
        aerl: AERL,
        frmw: 0x3,
        lpa: 0x6,
        elpe: ELPE,
        sqes: 0x66,
        cqes: 0x44,
        maxcmd: opts.max_queue_depth,
        sgls: 0x0010_0005,
        subnqn: ss.nqn.clone(),
        // In-capsule data size in 16-byte units, SQE included.
        ioccsz: ((64 + opts.in_capsule_data_size) / 16),
        iorcsz: 1,
        icdoff: 0,
        fcatt: 0,
        msdbd: 1,
        ofcs: 0,
        ..Default::default()
    };
    if ss.discovery {
        id.cntrltype = 2;
        id.kas = KAS;
        id.oaes = AEC_DISCOVERY_OAES;
        id.maxcmd = opts.max_aq_depth as u16;
        return id;
    }
    id.cntrltype = 1;
    // Multi-port, multi-controller, and ANA reporting when enabled.
    id.cmic = if ss.ana_reporting { 0x0B } else { 0x03 };
    // 2^5 × 4 KiB = 128 KiB = max_io_size.
    id.mdts = (opts.max_io_size / 4096).max(1).trailing_zeros() as u8;
    id.oaes = AEC_NS_ATTR_NOTICE
        | if ss.ana_reporting {
            AEC_ANA_CHANGE_NOTICE
        } else {
            0
        };
    id.kas = KAS;
    id.nn = max_ns;
    id.mnan = max_ns;
    // Compare, Dataset Management, Write Zeroes, Reservations and Copy,
    // with fused Compare and Write, and Copy's source range format 0: SPDK's
    // values for a malloc namespace.
    id.oncs = ONCS_COMPARE | ONCS_DSM | ONCS_WRITE_ZEROES | ONCS_RESERVATIONS | ONCS_COPY;
    id.fuses = 1;
    id.ocfs = 1;
    // A volatile write cache is present and Flush with NSID FFFFFFFFh works,
    // as SPDK reports for malloc bdevs.
    id.vwc = 0x05;
    if ss.ana_reporting {
        id.anatt = ANATT;
        // Optimized, non-optimized and inaccessible reportable; ANAGRPID does
        // not change while attached; non-zero ANAGRPID supported.
        id.anacap = 0x47;
        id.anagrpmax = max_ns;
        id.nanagrpid = max_ns;
    }
    id
}

const ONCS_COMPARE: u16 = 1 << 0;
const ONCS_DSM: u16 = 1 << 2;
const ONCS_WRITE_ZEROES: u16 = 1 << 3;
const ONCS_RESERVATIONS: u16 = 1 << 5;
const ONCS_COPY: u16 = 1 << 8;

/// The discovery controller announces discovery log change notices.
const AEC_DISCOVERY_OAES: u32 = super::controller::AEC_DISCOVERY_LOG_CHANGE;

/// Keep-alive granularity in 100 ms units: 10 s, SPDK's default.
const KAS: u16 = 100;

// ---- Get Log Page --------------------------------------------------------

fn get_log_page(target: &Target, ctrl: &Controller, sqe: &Sqe) -> Reply {
    let glp = GetLogPage::from_sqe(sqe);
    let len = glp.len_bytes();
    let full: Vec<u8> = match glp.lid {
        op::log_id::DISCOVERY if ctrl.subsys.discovery => discovery_log(target, ctrl).to_bytes(),
        _ if ctrl.subsys.discovery => return Reply::status(Status::INVALID_LOG_PAGE),
        op::log_id::ANA if ctrl.subsys.ana_reporting => {
            if !glp.rae {
                ctrl.state().masked &= !AEC_ANA_CHANGE_NOTICE;
            }
            ana_log(ctrl).to_bytes(glp.lsp & 1 == 1)
        }
        op::log_id::RESERVATION_NOTIFICATION => {
            // Read straight from the queue: entries read are consumed.
            let b = ctrl.state().resv_log.read(glp.lpo, len, glp.rae);
            return Reply::data(Bytes::from(b));
        }
        // Zeroed entries: no errors are recorded.
        op::log_id::ERROR => vec![0u8; 64 * (ELPE as usize + 1)],
        op::log_id::SMART => smart_log(target, ctrl),
        op::log_id::CHANGED_NS_LIST => {
            if !glp.rae {
                ctrl.state().masked &= !AEC_NS_ATTR_NOTICE;
            }
            vec![0u8; 4096]
        }
        _ => return Reply::status(Status::INVALID_LOG_PAGE),
    };
    match slice_log(&full, glp.lpo, len) {
        Ok(b) => Reply::data(Bytes::from(b)),
        Err(_) => Reply::invalid_field(),
    }
}

/// The ANA log page as this controller sees it: only groups that hold at
/// least one namespace, ascending, each with its NSIDs. Change counts stay 0,
/// as SPDK reports them.
pub fn ana_log(ctrl: &Controller) -> AnaLogPage {
    let mut groups: Vec<AnaGroupDescriptor> = Vec::new();
    let mut nss = ctrl.subsys.namespaces();
    nss.sort_by_key(|n| (n.anagrpid, n.nsid));
    for ns in nss {
        match groups.last_mut() {
            Some(g) if g.anagrpid == ns.anagrpid => g.nsids.push(ns.nsid),
            _ => groups.push(AnaGroupDescriptor {
                anagrpid: ns.anagrpid,
                change_count: 0,
                state: ctrl.ana_state(ns.anagrpid),
                nsids: vec![ns.nsid],
            }),
        }
    }
    AnaLogPage {
        change_count: 0,
        groups,
    }
}

fn discovery_log(target: &Target, ctrl: &Controller) -> DiscoveryLogPage {
    let entries = target
        .discovery_entries(&ctrl.hostnqn)
        .into_iter()
        .enumerate()
        .map(|(i, (nqn, trid))| DiscoveryLogEntry {
            trtype: 3,
            adrfam: trid.adrfam.code(),
            subtype: 2,
            // Secure channel not required.
            treq: 2,
            portid: i as u16,
            cntlid: 0xFFFF,
            asqsz: 32,
            eflags: 0,
            trsvcid: trid.trsvcid,
            subnqn: nqn,
            traddr: trid.traddr,
            tsas: [0; 256],
        })
        .collect();
    DiscoveryLogPage {
        genctr: target.discovery_genctr(),
        recfmt: 0,
        entries,
    }
}

fn smart_log(_target: &Target, _ctrl: &Controller) -> Vec<u8> {
    let log = crate::nvme::log::SmartLog {
        // 38 °C in Kelvin: a plausible idle temperature for RAM.
        temperature: 311,
        available_spare: 100,
        available_spare_threshold: 10,
        ..Default::default()
    };
    log.to_bytes()
}

// ---- Features --------------------------------------------------------------

fn set_features(ctrl: &Controller, sqe: &Sqe, _data: &[u8]) -> Reply {
    let fid = (sqe.cdw(10) & 0xFF) as u8;
    let cdw11 = sqe.cdw(11);
    match fid {
        op::feature::NUMBER_OF_QUEUES => {
            if cdw11 & 0xFFFF == 0xFFFF || cdw11 >> 16 == 0xFFFF {
                return Reply::invalid_field();
            }
            // SPDK grants its maximum whatever is asked, and says so.
            let n = ctrl.state().io_queues_granted.saturating_sub(1) as u32;
            Reply::dw0(n | n << 16)
        }
        op::feature::ASYNC_EVENT_CONFIG => {
            ctrl.state().aec = cdw11;
            Reply::ok()
        }
        op::feature::KEEP_ALIVE_TIMER => {
            ctrl.kato_ms
                .store(cdw11, std::sync::atomic::Ordering::Relaxed);
            ctrl.touch_keep_alive();
            Reply::ok()
        }
        op::feature::RESERVATION_NOTIFICATION_MASK => {
            match reservation_namespaces(ctrl, sqe.nsid(), true) {
                Ok(nss) => {
                    // Stored as sent, one value per namespace (SPDK).
                    for ns in nss {
                        ns.resv.state().mask = cdw11;
                    }
                    Reply::ok()
                }
                Err(r) => r,
            }
        }
        op::feature::RESERVATION_PERSISTENCE => {
            match reservation_namespaces(ctrl, sqe.nsid(), true) {
                Ok(nss) => {
                    let nss: Vec<_> = nss.into_iter().filter(|n| n.resv.ptpl_capable()).collect();
                    if nss.is_empty() {
                        return Reply::invalid_field();
                    }
                    for ns in nss {
                        ns.resv.state().ptpl = cdw11 & 1 == 1;
                    }
                    // Applied, but not saved: SPDK answers Feature Identifier
                    // Not Saveable and leaves the PTPL file as it was.
                    Reply::status(Status::FEATURE_NOT_SAVEABLE)
                }
                Err(r) => r,
            }
        }
        _ => Reply::invalid_field(),
    }
}

/// The namespaces Get/Set Features 82h/83h act on: one visible namespace,
/// or with `broadcast` (Set only) every one for NSID FFFFFFFFh. The path
/// must be accessible, as for reservation commands.
fn reservation_namespaces(
    ctrl: &Controller,
    nsid: u32,
    broadcast: bool,
) -> Result<Vec<Arc<crate::target::subsystem::Namespace>>, Reply> {
    let nss = if nsid == 0xFFFF_FFFF && broadcast {
        ctrl.subsys.namespaces()
    } else {
        match ctrl.subsys.namespace(nsid) {
            Some(ns) => vec![ns],
            None => return Err(Reply::invalid_field()),
        }
    };
    for ns in &nss {
        if let Some(st) = super::io::ana_status(ctrl.ana_state(ns.anagrpid)) {
            return Err(Reply::status(st));
        }
    }
    Ok(nss)
}

fn get_features(ctrl: &Controller, sqe: &Sqe) -> Reply {
    let fid = (sqe.cdw(10) & 0xFF) as u8;
    match fid {
        op::feature::NUMBER_OF_QUEUES => {
            let n = ctrl.state().io_queues_granted.saturating_sub(1) as u32;
            Reply::dw0(n | n << 16)
        }
        op::feature::ASYNC_EVENT_CONFIG => Reply::dw0(ctrl.state().aec),
        op::feature::KEEP_ALIVE_TIMER => {
            Reply::dw0(ctrl.kato_ms.load(std::sync::atomic::Ordering::Relaxed))
        }
        op::feature::VOLATILE_WRITE_CACHE => Reply::dw0(1),
        op::feature::ARBITRATION => Reply::dw0(0),
        op::feature::POWER_MGMT => Reply::dw0(0),
        op::feature::TEMP_THRESHOLD => Reply::dw0(0x0157),
        op::feature::ERROR_RECOVERY => Reply::dw0(0),
        op::feature::WRITE_ATOMICITY => Reply::dw0(0),
        op::feature::INTERRUPT_COALESCING => Reply::dw0(0),
        op::feature::RESERVATION_NOTIFICATION_MASK => {
            match reservation_namespaces(ctrl, sqe.nsid(), false) {
                Ok(nss) => Reply::dw0(nss.first().map_or(0, |n| n.resv.state().mask)),
                Err(r) => r,
            }
        }
        op::feature::RESERVATION_PERSISTENCE => {
            match reservation_namespaces(ctrl, sqe.nsid(), false) {
                Ok(nss) => Reply::dw0(nss.first().map_or(0, |n| n.resv.state().ptpl as u32)),
                Err(r) => r,
            }
        }
        _ => Reply::invalid_field(),
    }
}
