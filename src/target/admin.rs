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
    slice_log, AnaGroupDescriptor, AnaLogPage, AnaState, DiscoveryLogEntry, DiscoveryLogPage,
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
    /// Complete the held commands `(cid, reply)` first, then this one (an
    /// Abort that ends an outstanding AER).
    ReplyAfter(Vec<(u16, Reply)>, Reply),
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
        op::admin::ABORT => return abort(ctrl, sqe),
        _ => Reply::status(Status::INVALID_OPCODE.with_dnr()),
    };
    AdminOutcome::Reply(reply)
}

/// Abort (Base 2.0 §5.1): only an outstanding Asynchronous Event Request
/// can still be aborted, since every other command completes before the
/// next PDU is read. The AER completes with Command Abort Requested and the
/// Abort with DW0 bit 0 cleared; anything else is "not aborted" (DW0 = 1).
/// SPDK: `nvmf_ctrlr_abort`, `nvmf_qpair_abort_aer`.
fn abort(ctrl: &Controller, sqe: &Sqe) -> AdminOutcome {
    let cdw10 = sqe.cdw(10);
    let (sqid, cid) = (cdw10 as u16, (cdw10 >> 16) as u16);
    let mut s = ctrl.state();
    let at = s.aer_cids.iter().position(|&c| c == cid);
    match at {
        Some(i) if sqid == 0 => {
            s.aer_cids.remove(i);
            let aer = Reply::status(Status::ABORT_REQUESTED);
            AdminOutcome::ReplyAfter(vec![(cid, aer)], Reply::dw0(0))
        }
        _ => AdminOutcome::Reply(Reply::dw0(1)),
    }
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

/// Identify (Base 2.0 §5.17) with the CNS values SPDK answers: 00h, 01h,
/// 02h, 03h, 05h, 06h and 1Ch (a discovery controller: 01h only). The data
/// buffer must hold the 4096-byte structure. SPDK: `nvmf_ctrlr_identify`.
fn identify(opts: &TcpTransportOpts, ctrl: &Controller, sqe: &Sqe) -> Reply {
    let id = Identify::from_sqe(sqe);
    if (sqe.sgl().len as usize) < IDENTIFY_LEN {
        return Reply::invalid_field();
    }
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
                return Reply::status(Status::INVALID_NS.with_dnr());
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
                // The namespace's command set: NVM.
                d.push(NsIdDescriptor::Csi(CSI_NVM));
                Reply::data(Bytes::from(encode_ns_id_descriptors(&d)))
            }
            None => Reply::status(Status::INVALID_NS.with_dnr()),
        },
        // I/O command set specific Identify Namespace: nothing beyond the
        // common structure for an NVM namespace without protection
        // information, so zeros; an inactive or invalid NSID is an invalid
        // namespace here.
        op::cns::CSI_NAMESPACE => match ctrl.subsys.namespace(id.nsid) {
            Some(_) => Reply::data(Bytes::from(vec![0u8; IDENTIFY_LEN])),
            None => Reply::status(Status::INVALID_NS.with_dnr()),
        },
        // I/O command set specific Identify Controller: for the NVM set,
        // no Write Zeroes or Dataset Management size limits and DMRL 1
        // (what SPDK reports with its default subsystem limits); zeros for
        // any other set.
        op::cns::CSI_CONTROLLER => {
            let mut b = vec![0u8; IDENTIFY_LEN];
            if csi(sqe) == CSI_NVM {
                b[3] = 1;
            }
            Reply::data(Bytes::from(b))
        }
        // Identify I/O Command Set data structure, for this controller
        // only: vector 0 with the NVM command set.
        op::cns::IO_COMMAND_SET => {
            if id.cntid != 0xFFFF && id.cntid != ctrl.cntlid {
                return Reply::invalid_field();
            }
            let mut b = vec![0u8; IDENTIFY_LEN];
            b[0] = 1;
            Reply::data(Bytes::from(b))
        }
        _ => Reply::invalid_field(),
    }
}

/// Identify data structures are 4 KiB.
const IDENTIFY_LEN: usize = 4096;
const CSI_NVM: u8 = 0x00;

/// CSI, Identify CDW11 bits 31:24.
fn csi(sqe: &Sqe) -> u8 {
    (sqe.cdw(11) >> 24) as u8
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

/// Get Log Page (Base 2.0 §5.16). The offset must be dword aligned and
/// inside the page, and the transfer must fit the buffer the SGL gives
/// (else Invalid Field). An unsupported log page is Invalid Field too, as
/// SPDK and Linux answer it. SPDK: `nvmf_ctrlr_get_log_page`.
fn get_log_page(target: &Target, ctrl: &Controller, sqe: &Sqe) -> Reply {
    let glp = GetLogPage::from_sqe(sqe);
    let len = glp.len_bytes();
    if len > sqe.sgl().len as usize {
        return Reply::invalid_field();
    }
    let full: Vec<u8> = match glp.lid {
        op::log_id::DISCOVERY if ctrl.subsys.discovery => discovery_log(target, ctrl).to_bytes(),
        _ if ctrl.subsys.discovery => return Reply::invalid_field(),
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
        op::log_id::FIRMWARE_SLOT => firmware_slot_log(),
        op::log_id::COMMANDS_SUPPORTED => commands_effects_log(ctrl),
        op::log_id::CHANGED_NS_LIST => {
            if !glp.rae {
                ctrl.state().masked &= !AEC_NS_ATTR_NOTICE;
            }
            vec![0u8; 4096]
        }
        _ => return Reply::invalid_field(),
    };
    match slice_log(&full, glp.lpo, len) {
        Ok(b) => Reply::data(Bytes::from(b)),
        Err(_) => Reply::invalid_field(),
    }
}

/// Firmware Slot Information (LID 03h, 512 bytes): slot 1 active, its
/// revision the one Identify Controller reports.
fn firmware_slot_log() -> Vec<u8> {
    let mut p = vec![0u8; 512];
    p[0] = 1; // AFI: active slot 1, no slot pending for the next reset
    let mut frs1 = [b' '; 8];
    frs1[..FIRMWARE_REVISION.len()].copy_from_slice(FIRMWARE_REVISION.as_bytes());
    p[8..16].copy_from_slice(&frs1);
    p
}

/// Commands Supported and Effects (LID 05h, 4096 bytes): CSUPP for the
/// admin commands served here, and for the I/O commands Identify
/// Controller ONCS says are supported, with LBCC for those that change
/// logical block content.
fn commands_effects_log(ctrl: &Controller) -> Vec<u8> {
    const CSUPP: u32 = 1;
    const LBCC: u32 = 1 << 1;
    let mut p = vec![0u8; 4096];
    let mut put = |base: usize, opc: u8, v: u32| {
        let at = base + 4 * opc as usize;
        p[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };
    for opc in [
        op::admin::GET_LOG_PAGE,
        op::admin::IDENTIFY,
        op::admin::ABORT,
        op::admin::SET_FEATURES,
        op::admin::GET_FEATURES,
        op::admin::ASYNC_EVENT_REQUEST,
        op::admin::KEEP_ALIVE,
    ] {
        put(0, opc, CSUPP);
    }
    let oncs = oncs(ctrl);
    let io = 1024;
    put(io, op::nvm::FLUSH, CSUPP | LBCC);
    put(io, op::nvm::WRITE, CSUPP | LBCC);
    put(io, op::nvm::READ, CSUPP);
    // ONCS bits: 0 Compare, 2 DSM, 3 Write Zeroes, 8 Copy.
    let optional = [
        (3, op::nvm::WRITE_ZEROES, CSUPP | LBCC),
        (2, op::nvm::DSM, CSUPP | LBCC),
        (0, op::nvm::COMPARE, CSUPP),
        (8, op::nvm::COPY, CSUPP | LBCC),
    ];
    for (bit, opc, v) in optional {
        if oncs & (1 << bit) != 0 {
            put(io, opc, v);
        }
    }
    p
}

/// ONCS as Identify Controller reports it for this controller.
fn oncs(ctrl: &Controller) -> u16 {
    identify_controller(&TcpTransportOpts::default(), ctrl).oncs
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

/// The feature values a host may change and read back (per controller).
/// Reserved bits are dropped on Set, as SPDK drops them.
#[derive(Debug, Clone)]
pub struct Features {
    pub arbitration: u32,
    pub power_management: u32,
    pub error_recovery: u32,
    pub volatile_write_cache: u32,
    pub write_atomicity: u32,
    /// Host Behavior Support (FID 16h): ACRE and LBAFEE, each 0 or 1.
    pub acre: bool,
    pub lbafee: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            arbitration: 0,
            power_management: 0,
            error_recovery: 0,
            // The write cache is reported enabled from the start (VWC.WCE).
            volatile_write_cache: 1,
            write_atomicity: 0,
            acre: false,
            lbafee: false,
        }
    }
}

const FEAT_HOST_BEHAVIOR_SUPPORT: u8 = 0x16;
/// Host Behavior Support data size (Base 2.0 Figure 346).
const HOST_BEHAVIOR_LEN: usize = 512;
/// CDW11 bit 0 of Get Features Host Identifier: extended (128-bit) host ID.
const EXHID: u32 = 1;
/// Set Features CDW10 bit 31: save the value across resets.
const SV: u32 = 1 << 31;

/// Temperature Threshold CDW11: TMPSEL 0..=8 or 15, THSEL 0 or 1.
fn temp_threshold_valid(cdw11: u32) -> bool {
    let tmpsel = (cdw11 >> 16) & 0xF;
    let thsel = (cdw11 >> 20) & 0x3;
    (tmpsel <= 8 || tmpsel == 15) && thsel <= 1
}

/// The path status a namespace-scoped feature gets while the namespace is
/// not reachable through this controller (SPDK checks the same FIDs).
fn feature_path_error(ctrl: &Controller, nsid: u32, fid: u8, set: bool) -> Option<Status> {
    if ctrl.subsys.discovery {
        return None;
    }
    let ns = ctrl.subsys.namespace(nsid)?;
    let state = ctrl.ana_state(ns.anagrpid);
    let scoped = matches!(
        fid,
        op::feature::ERROR_RECOVERY | op::feature::WRITE_ATOMICITY
    );
    match state {
        AnaState::PersistentLoss if set => Some(Status::ASYMMETRIC_ACCESS_PERSISTENT_LOSS),
        AnaState::PersistentLoss if scoped => Some(Status::ASYMMETRIC_ACCESS_PERSISTENT_LOSS),
        AnaState::Inaccessible if scoped => Some(Status::ASYMMETRIC_ACCESS_INACCESSIBLE),
        AnaState::Change if scoped => Some(Status::ASYMMETRIC_ACCESS_TRANSITION),
        _ => None,
    }
}

/// Checks every Get/Set Features passes first: a discovery controller
/// knows only Keep Alive Timer and Asynchronous Event Configuration, and a
/// namespace-scoped feature needs an accessible path.
fn feature_refused(ctrl: &Controller, nsid: u32, fid: u8, set: bool) -> Option<Reply> {
    if ctrl.subsys.discovery
        && !matches!(
            fid,
            op::feature::KEEP_ALIVE_TIMER | op::feature::ASYNC_EVENT_CONFIG
        )
    {
        return Some(Reply::invalid_field());
    }
    feature_path_error(ctrl, nsid, fid, set).map(Reply::status)
}

/// Set Features (Base 2.0 §5.27). Nothing is saveable (SV → Feature
/// Identifier Not Saveable); a discovery controller takes only Keep Alive
/// Timer and Asynchronous Event Configuration. SPDK:
/// `nvmf_ctrlr_set_features` and its per-FID handlers.
fn set_features(ctrl: &Controller, sqe: &Sqe, data: &[u8]) -> Reply {
    let cdw10 = sqe.cdw(10);
    if cdw10 & SV != 0 {
        return Reply::status(Status::FEATURE_NOT_SAVEABLE.with_dnr());
    }
    let fid = (cdw10 & 0xFF) as u8;
    let cdw11 = sqe.cdw(11);
    if let Some(r) = feature_refused(ctrl, sqe.nsid(), fid, true) {
        return r;
    }
    let mut f = ctrl.feat.lock().unwrap_or_else(|p| p.into_inner());
    match fid {
        // AB, LPW, MPW, HPW kept; bits 7:3 reserved.
        op::feature::ARBITRATION => f.arbitration = cdw11 & 0xFFFF_FF07,
        op::feature::POWER_MGMT => {
            // NPSS is 0: power state 0 is the only one.
            if cdw11 & 0x1F != 0 {
                return Reply::invalid_field();
            }
            f.power_management = cdw11 & 0xFF;
        }
        // No sensor: valid selections are accepted and nothing changes.
        op::feature::TEMP_THRESHOLD if !temp_threshold_valid(cdw11) => {
            return Reply::invalid_field()
        }
        op::feature::TEMP_THRESHOLD => {}
        op::feature::ERROR_RECOVERY => {
            // DULBE is not offered in Identify Namespace.
            if cdw11 & (1 << 16) != 0 {
                return Reply::invalid_field();
            }
            f.error_recovery = cdw11 & 0xFFFF;
        }
        op::feature::VOLATILE_WRITE_CACHE => f.volatile_write_cache = cdw11 & 1,
        op::feature::NUMBER_OF_QUEUES => {
            if cdw11 & 0xFFFF == 0xFFFF || cdw11 >> 16 == 0xFFFF {
                return Reply::invalid_field();
            }
            let s = ctrl.state();
            // Too late once an I/O queue exists.
            if !s.io_qids.is_empty() {
                return Reply::status(Status::COMMAND_SEQUENCE_ERROR);
            }
            // SPDK grants its maximum whatever is asked, and says so.
            let n = s.io_queues_granted.saturating_sub(1) as u32;
            return Reply::dw0(n | n << 16);
        }
        op::feature::INTERRUPT_COALESCING => {
            return Reply::status(Status::FEATURE_NOT_CHANGEABLE.with_dnr())
        }
        op::feature::WRITE_ATOMICITY => f.write_atomicity = cdw11 & 1,
        op::feature::ASYNC_EVENT_CONFIG => {
            // Critical warnings, the notices 11:8 and discovery log change.
            ctrl.state().aec = cdw11 & 0x8000_0FFF;
        }
        op::feature::KEEP_ALIVE_TIMER => {
            // The timer cannot be switched off once running.
            if cdw11 == 0 {
                return Reply::status(Status::KEEP_ALIVE_INVALID.with_dnr());
            }
            ctrl.kato_ms
                .store(cdw11, std::sync::atomic::Ordering::Relaxed);
            ctrl.touch_keep_alive();
        }
        op::feature::RESERVATION_NOTIFICATION_MASK => {
            match reservation_namespaces(ctrl, sqe.nsid(), true) {
                Ok(nss) => {
                    // Stored as sent, one value per namespace (SPDK).
                    for ns in nss {
                        ns.resv.state().mask = cdw11;
                    }
                    return Reply::ok();
                }
                Err(r) => return r,
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
                    return Reply::status(Status::FEATURE_NOT_SAVEABLE);
                }
                Err(r) => return r,
            }
        }
        // The host ID is the one given at Connect; it cannot be changed.
        op::feature::HOST_IDENTIFIER => {
            return Reply::status(Status::COMMAND_SEQUENCE_ERROR.with_dnr())
        }
        FEAT_HOST_BEHAVIOR_SUPPORT => {
            if data.len() != HOST_BEHAVIOR_LEN {
                return Reply::invalid_field();
            }
            let flag = |b: u8| match b {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            };
            let (Some(acre), Some(lbafee)) = (flag(data[0]), flag(data[2])) else {
                return Reply::invalid_field();
            };
            f.acre = acre;
            f.lbafee = lbafee;
        }
        _ => return Reply::invalid_field(),
    }
    Reply::ok()
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

/// Get Features (Base 2.0 §5.15): the current values (SEL is not looked
/// at: nothing is saveable or changes by itself). SPDK:
/// `nvmf_ctrlr_get_features`.
fn get_features(ctrl: &Controller, sqe: &Sqe) -> Reply {
    let fid = (sqe.cdw(10) & 0xFF) as u8;
    let cdw11 = sqe.cdw(11);
    if let Some(r) = feature_refused(ctrl, sqe.nsid(), fid, false) {
        return r;
    }
    let f = ctrl.feat.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match fid {
        op::feature::ARBITRATION => Reply::dw0(f.arbitration),
        op::feature::POWER_MGMT => Reply::dw0(f.power_management),
        // No sensor: every threshold reads 0.
        op::feature::TEMP_THRESHOLD if temp_threshold_valid(cdw11) => Reply::dw0(0),
        op::feature::TEMP_THRESHOLD => Reply::invalid_field(),
        op::feature::ERROR_RECOVERY => Reply::dw0(f.error_recovery),
        op::feature::VOLATILE_WRITE_CACHE => Reply::dw0(f.volatile_write_cache),
        op::feature::NUMBER_OF_QUEUES => {
            let n = ctrl.state().io_queues_granted.saturating_sub(1) as u32;
            Reply::dw0(n | n << 16)
        }
        op::feature::INTERRUPT_COALESCING => Reply::dw0(0),
        // The vector asked about, with Coalescing Disable set.
        op::feature::INTERRUPT_VECTOR_CONFIG => Reply::dw0((cdw11 & 0xFFFF) | 1 << 16),
        op::feature::WRITE_ATOMICITY => Reply::dw0(f.write_atomicity),
        op::feature::ASYNC_EVENT_CONFIG => Reply::dw0(ctrl.state().aec),
        op::feature::KEEP_ALIVE_TIMER => {
            Reply::dw0(ctrl.kato_ms.load(std::sync::atomic::Ordering::Relaxed))
        }
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
        op::feature::HOST_IDENTIFIER => {
            // Over fabrics the host ID is the 128-bit one (EXHID = 1).
            if cdw11 & EXHID == 0 || (sqe.sgl().len as usize) < ctrl.hostid.len() {
                return Reply::invalid_field();
            }
            Reply::data(Bytes::copy_from_slice(&ctrl.hostid))
        }
        FEAT_HOST_BEHAVIOR_SUPPORT => {
            if (sqe.sgl().len as usize) < HOST_BEHAVIOR_LEN {
                return Reply::invalid_field();
            }
            let mut d = vec![0u8; HOST_BEHAVIOR_LEN];
            d[0] = f.acre as u8;
            d[2] = f.lbafee as u8;
            Reply::data(Bytes::from(d))
        }
        _ => Reply::invalid_field(),
    }
}
