//! Admin command conformance of the embedded target, over raw NVMe/TCP PDUs
//! (tests/raw): Get/Set Features per feature, Get Log Page offsets and
//! pages, the Identify CNS values, Abort of an AER and the AER limit. Each
//! test names the NVMe Base 2.0 section it checks and the SPDK v24.09
//! function (lib/nvmf/ctrlr.c) whose answers it expects.

mod common;
mod raw;

use raw::target::{admin_queue, io_queue, Howto};
use raw::{Cqe, Host, Sqe, HOSTID};

const GET_FEATURES: u8 = 0x0A;
const SET_FEATURES: u8 = 0x09;
const GET_LOG_PAGE: u8 = 0x02;
const IDENTIFY: u8 = 0x06;
const ABORT: u8 = 0x08;
const AER: u8 = 0x0C;

/// (SCT, SC) of a completion.
fn st(c: &Cqe) -> (u8, u8) {
    (c.sct(), c.sc())
}

fn admin() -> (Howto, Host, u16) {
    let t = Howto::start();
    let (a, cntlid) = admin_queue(t.p1, 10_000);
    (t, a, cntlid)
}

fn get_feature(a: &mut Host, fid: u8, cdw11: u32) -> Cqe {
    a.cmd(
        &Sqe::new(GET_FEATURES, 20)
            .cdw(10, fid as u32)
            .cdw(11, cdw11),
        &[],
    )
    .0
}

fn set_feature(a: &mut Host, fid: u8, cdw11: u32) -> Cqe {
    a.cmd(
        &Sqe::new(SET_FEATURES, 21)
            .cdw(10, fid as u32)
            .cdw(11, cdw11),
        &[],
    )
    .0
}

/// Get Log Page of `len` bytes at `offset`, into a buffer of `buf` bytes.
fn get_log(a: &mut Host, lid: u8, offset: u64, len: u32, buf: u32) -> (Cqe, Vec<u8>) {
    let numd = len / 4 - 1;
    let sqe = Sqe::new(GET_LOG_PAGE, 22)
        .nsid(0xFFFF_FFFF)
        .cdw(10, lid as u32 | (1 << 15) | ((numd & 0xFFFF) << 16))
        .cdw(11, numd >> 16)
        .cdw(12, offset as u32)
        .cdw(13, (offset >> 32) as u32)
        .sgl(0x5A, buf);
    a.cmd(&sqe, &[])
}

fn identify(a: &mut Host, cns: u8, cntid: u16, nsid: u32, csi: u8, buf: u32) -> (Cqe, Vec<u8>) {
    let sqe = Sqe::new(IDENTIFY, 23)
        .nsid(nsid)
        .cdw(10, cns as u32 | (cntid as u32) << 16)
        .cdw(11, (csi as u32) << 24)
        .sgl(0x5A, buf);
    a.cmd(&sqe, &[])
}

// ---- Get/Set Features ---------------------------------------------------------

/// Base 2.0 §5.27.1.26 (Host Identifier): over fabrics the host ID is the
/// 128-bit one given at Connect, returned as 16 bytes of data when EXHID=1.
/// SPDK: nvmf_ctrlr_get_features_host_identifier.
#[test]
fn get_features_host_identifier_returns_the_connect_host_id() {
    let (_t, mut a, _) = admin();
    let sqe = Sqe::new(GET_FEATURES, 1)
        .cdw(10, 0x81)
        .cdw(11, 1)
        .sgl(0x5A, 16);
    let (c, data) = a.cmd(&sqe, &[]);
    assert!(c.ok(), "{c:?}");
    assert_eq!(data, HOSTID);
}

/// Base 2.0 §5.27.1.26: EXHID=0 asks for a 64-bit host ID, which fabrics do
/// not have: Invalid Field. SPDK: nvmf_ctrlr_get_features_host_identifier.
#[test]
fn get_features_host_identifier_without_exhid_is_invalid_field() {
    let (_t, mut a, _) = admin();
    let sqe = Sqe::new(GET_FEATURES, 1).cdw(10, 0x81).sgl(0x5A, 16);
    assert_eq!(st(&a.cmd(&sqe, &[]).0), (0, 0x02));
}

/// Base 2.0 §5.27.1.26: the host ID of a fabrics controller is fixed by
/// Connect; setting it is a Command Sequence Error.
/// SPDK: nvmf_ctrlr_set_features_host_identifier.
#[test]
fn set_features_host_identifier_is_a_command_sequence_error() {
    let (_t, mut a, _) = admin();
    let c = a
        .cmd(
            &Sqe::new(SET_FEATURES, 1).cdw(10, 0x81).sgl(0x01, 16),
            &[7u8; 16],
        )
        .0;
    assert_eq!(st(&c), (0, 0x0C));
    // The host ID is unchanged.
    let sqe = Sqe::new(GET_FEATURES, 2)
        .cdw(10, 0x81)
        .cdw(11, 1)
        .sgl(0x5A, 16);
    assert_eq!(a.cmd(&sqe, &[]).1, HOSTID);
}

/// Base 2.0 §5.27 (SV, CDW10 bit 31): no feature is saveable, so a Set
/// Features that asks to save gets Feature Identifier Not Saveable (1/0Dh)
/// whatever the feature. SPDK: nvmf_ctrlr_set_features.
#[test]
fn set_features_with_save_is_not_saveable() {
    let (_t, mut a, _) = admin();
    for fid in [0x06u8, 0x0B, 0x0F] {
        let c = a
            .cmd(
                &Sqe::new(SET_FEATURES, 1)
                    .cdw(10, fid as u32 | 1 << 31)
                    .cdw(11, 1),
                &[],
            )
            .0;
        assert_eq!(st(&c), (1, 0x0D), "FID {fid:#x}");
    }
}

/// Base 2.0 §5.27.1.4 (Temperature Threshold): valid TMPSEL (0..8, 15) and
/// THSEL (0, 1) are taken (no sensor: every threshold reads 0), reserved
/// ones are Invalid Field on Get and on Set.
/// SPDK: nvmf_ctrlr_{get,set}_features_temperature_threshold.
#[test]
fn temperature_threshold_checks_tmpsel_and_thsel() {
    let (_t, mut a, _) = admin();
    let c = get_feature(&mut a, 0x04, 0);
    assert!(c.ok() && c.dw0 == 0, "{c:?}");
    assert!(set_feature(&mut a, 0x04, 15 << 16 | 1 << 20 | 300).ok());
    assert_eq!(
        st(&get_feature(&mut a, 0x04, 9 << 16)),
        (0, 0x02),
        "TMPSEL 9"
    );
    assert_eq!(
        st(&set_feature(&mut a, 0x04, 2 << 20)),
        (0, 0x02),
        "THSEL 2"
    );
}

/// Base 2.0 §5.27.1.5 (Error Recovery): TLER is kept and read back; DULBE
/// is refused since Identify Namespace does not offer it.
/// SPDK: nvmf_ctrlr_set_features_error_recovery.
#[test]
fn error_recovery_is_kept_and_dulbe_refused() {
    let (_t, mut a, _) = admin();
    assert_eq!(get_feature(&mut a, 0x05, 0).dw0, 0);
    assert!(set_feature(&mut a, 0x05, 0x0064).ok());
    assert_eq!(get_feature(&mut a, 0x05, 0).dw0, 0x0064);
    assert_eq!(st(&set_feature(&mut a, 0x05, 1 << 16)), (0, 0x02));
    assert_eq!(get_feature(&mut a, 0x05, 0).dw0, 0x0064);
}

/// Base 2.0 §5.27.1.6 (Volatile Write Cache): enabled at start, and what
/// the host sets is what it reads back.
/// SPDK: nvmf_ctrlr_set_features_volatile_write_cache.
#[test]
fn volatile_write_cache_can_be_switched() {
    let (_t, mut a, _) = admin();
    assert_eq!(get_feature(&mut a, 0x06, 0).dw0, 1);
    assert!(set_feature(&mut a, 0x06, 0).ok());
    assert_eq!(get_feature(&mut a, 0x06, 0).dw0, 0);
    assert!(set_feature(&mut a, 0x06, 1).ok());
    assert_eq!(get_feature(&mut a, 0x06, 0).dw0, 1);
}

/// Base 2.0 §5.27.1.1 (Arbitration): stored, reserved bits 7:3 dropped.
/// SPDK: nvmf_ctrlr_set_features_arbitration.
#[test]
fn arbitration_is_kept_without_reserved_bits() {
    let (_t, mut a, _) = admin();
    assert!(set_feature(&mut a, 0x01, 0x0302_01FB).ok());
    assert_eq!(get_feature(&mut a, 0x01, 0).dw0, 0x0302_0103);
}

/// Base 2.0 §5.27.1.2 (Power Management): NPSS is 0, so only power state 0
/// is valid. SPDK: nvmf_ctrlr_set_features_power_management.
#[test]
fn power_management_takes_power_state_zero_only() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&set_feature(&mut a, 0x02, 1)), (0, 0x02));
    assert!(set_feature(&mut a, 0x02, 0).ok());
    assert_eq!(get_feature(&mut a, 0x02, 0).dw0, 0);
}

/// Base 2.0 §5.27.1.7 (Number of Queues): may only be set before an I/O
/// queue exists; afterwards Command Sequence Error. Get still answers.
/// SPDK: nvmf_ctrlr_set_features_number_of_queues.
#[test]
fn number_of_queues_after_an_io_queue_is_a_sequence_error() {
    let (t, mut a, cntlid) = admin();
    let before = set_feature(&mut a, 0x07, 0x0003_0003);
    assert!(before.ok(), "{before:?}");
    let _q = io_queue(t.p1, cntlid, 15);
    assert_eq!(st(&set_feature(&mut a, 0x07, 0x0003_0003)), (0, 0x0C));
    let c = get_feature(&mut a, 0x07, 0);
    assert!(c.ok());
    assert_eq!(c.dw0, before.dw0);
}

/// Base 2.0 §5.27.1.8 (Interrupt Coalescing): meaningless over fabrics;
/// Feature Not Changeable (1/0Eh). SPDK: nvmf_ctrlr_set_features.
#[test]
fn interrupt_coalescing_is_not_changeable() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&set_feature(&mut a, 0x08, 0x0101)), (1, 0x0E));
    assert_eq!(get_feature(&mut a, 0x08, 0).dw0, 0);
}

/// Base 2.0 §5.27.1.9 (Interrupt Vector Configuration): Get answers for the
/// vector asked, with Coalescing Disable set.
/// SPDK: nvmf_ctrlr_get_features_interrupt_vector_configuration.
#[test]
fn interrupt_vector_configuration_reports_coalescing_disabled() {
    let (_t, mut a, _) = admin();
    let c = get_feature(&mut a, 0x09, 5);
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.dw0, 5 | 1 << 16);
}

/// Base 2.0 §5.27.1.10 (Write Atomicity Normal): DN kept and read back.
/// SPDK: nvmf_ctrlr_set_features_write_atomicity.
#[test]
fn write_atomicity_is_kept() {
    let (_t, mut a, _) = admin();
    assert!(set_feature(&mut a, 0x0A, 1).ok());
    assert_eq!(get_feature(&mut a, 0x0A, 0).dw0, 1);
}

/// Base 2.0 §5.27.1.12 (Keep Alive Timer): KATO 0 would switch the timer
/// off; the controller answers Keep Alive Timeout Invalid (0/1Ah) and keeps
/// the old value. SPDK: nvmf_ctrlr_set_features_keep_alive_timer.
#[test]
fn keep_alive_timer_of_zero_is_refused() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&set_feature(&mut a, 0x0F, 0)), (0, 0x1A));
    assert_eq!(get_feature(&mut a, 0x0F, 0).dw0, 10_000);
    assert!(set_feature(&mut a, 0x0F, 20_000).ok());
    assert_eq!(get_feature(&mut a, 0x0F, 0).dw0, 20_000);
}

/// Base 2.0 §5.27.1.18 (Host Behavior Support, FID 16h): a 512-byte
/// structure; ACRE and LBAFEE take 0 or 1 and read back.
/// SPDK: nvmf_ctrlr_{get,set}_features_host_behavior_support.
#[test]
fn host_behavior_support_round_trips() {
    let (_t, mut a, _) = admin();
    let set = |a: &mut Host, d: &[u8]| {
        a.cmd(
            &Sqe::new(SET_FEATURES, 3)
                .cdw(10, 0x16)
                .sgl(0x01, d.len() as u32),
            d,
        )
        .0
    };
    let get = |a: &mut Host| a.cmd(&Sqe::new(GET_FEATURES, 4).cdw(10, 0x16).sgl(0x5A, 512), &[]);
    let (c, d) = get(&mut a);
    assert!(c.ok() && d == vec![0u8; 512], "{c:?}");
    let mut hb = vec![0u8; 512];
    hb[0] = 1; // ACRE
    hb[2] = 1; // LBAFEE
    assert!(set(&mut a, &hb).ok());
    let (_, d) = get(&mut a);
    assert_eq!((d[0], d[2]), (1, 1));
    hb[0] = 2;
    assert_eq!(st(&set(&mut a, &hb)), (0, 0x02), "ACRE 2");
    assert_eq!(st(&set(&mut a, &hb[..256])), (0, 0x02), "short");
    assert_eq!(get(&mut a).1[0], 1, "unchanged");
}

/// Base 2.0 §5.27 / ANA (§8.20.3.5): a namespace-scoped feature (Error
/// Recovery) of a namespace that is inaccessible through this controller
/// answers Asymmetric Access Inaccessible (3/02h).
/// SPDK: nvmf_ctrlr_{get,set}_features (nvmf_ctrlr_get_ana_state_from_nsid).
#[test]
fn namespace_feature_through_an_inaccessible_path_is_a_path_error() {
    let (t, mut a, _) = admin();
    t.set_ana(t.p1, "inaccessible");
    let c = a
        .cmd(&Sqe::new(SET_FEATURES, 5).nsid(1).cdw(10, 0x05), &[])
        .0;
    assert_eq!(st(&c), (3, 0x02));
    let c = a
        .cmd(&Sqe::new(GET_FEATURES, 6).nsid(1).cdw(10, 0x05), &[])
        .0;
    assert_eq!(st(&c), (3, 0x02));
    // A controller-wide feature still answers.
    assert!(get_feature(&mut a, 0x06, 0).ok());
}

/// NVMe-oF 1.1 §5 (Discovery controller): only Keep Alive Timer and
/// Asynchronous Event Configuration are features of a discovery
/// controller. SPDK: nvmf_ctrlr_{get,set}_features, discovery branch.
#[test]
fn discovery_controller_has_two_features_only() {
    let t = Howto::start();
    let mut d = Host::connect(t.p1);
    d.ic(false, false);
    let c = d.fabrics_connect(
        0,
        31,
        30_000,
        0xFFFF,
        "nqn.2014-08.org.nvmexpress.discovery",
    );
    assert!(c.ok(), "{c:?}");
    assert!(d.prop_set(0x14, 0x0046_0001).ok());
    assert!(get_feature(&mut d, 0x0F, 0).ok());
    assert!(get_feature(&mut d, 0x0B, 0).ok());
    assert_eq!(st(&get_feature(&mut d, 0x06, 0)), (0, 0x02));
    assert_eq!(st(&set_feature(&mut d, 0x06, 0)), (0, 0x02));
    assert_eq!(st(&get_feature(&mut d, 0x07, 0)), (0, 0x02));
}

// ---- Get Log Page -----------------------------------------------------------------

/// Base 2.0 §5.16 (LPOL): the offset is in bytes and must be dword
/// aligned. SPDK: nvmf_ctrlr_get_log_page.
#[test]
fn get_log_page_unaligned_offset_is_invalid_field() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&get_log(&mut a, 0x02, 2, 64, 64).0), (0, 0x02));
}

/// Base 2.0 §5.16: an offset past the end of the log page is Invalid Field
/// (SPDK's per-page offset checks, nvmf_get_firmware_slot_log_page et al.).
#[test]
fn get_log_page_offset_past_the_page_is_invalid_field() {
    let (_t, mut a, _) = admin();
    assert!(get_log(&mut a, 0x03, 508, 4, 4).0.ok(), "last dword");
    assert_eq!(st(&get_log(&mut a, 0x03, 512, 4, 4).0), (0, 0x02));
    assert_eq!(st(&get_log(&mut a, 0x02, 1 << 32, 4, 4).0), (0, 0x02));
}

/// Base 2.0 §5.16 (NUMD): the transfer must fit the data buffer the SGL
/// describes. SPDK: nvmf_ctrlr_get_log_page (len > req->length).
#[test]
fn get_log_page_longer_than_its_buffer_is_invalid_field() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&get_log(&mut a, 0x02, 0, 512, 256).0), (0, 0x02));
}

/// Base 2.0 §5.16: a log page the controller does not have. SPDK (and
/// Linux nvmet) answer Invalid Field (0/02h).
/// SPDK: nvmf_ctrlr_get_log_page (invalid_log_page).
#[test]
fn get_log_page_unsupported_page_is_invalid_field() {
    let (_t, mut a, _) = admin();
    for lid in [0x06u8, 0x07, 0x70] {
        assert_eq!(
            st(&get_log(&mut a, lid, 0, 64, 64).0),
            (0, 0x02),
            "LID {lid:#x}"
        );
    }
}

/// Base 2.0 §5.16.1.5 (Firmware Slot Information): slot 1 active, its
/// revision the Identify Controller FR. SPDK: nvmf_get_firmware_slot_log_page.
#[test]
fn firmware_slot_log_names_the_active_slot() {
    let (_t, mut a, _) = admin();
    let (c, log) = get_log(&mut a, 0x03, 0, 512, 512);
    assert!(c.ok(), "{c:?}");
    assert_eq!(log[0] & 0x7, 1, "AFI active slot");
    let (_, id) = identify(&mut a, 1, 0, 0, 0, 4096);
    assert_eq!(&log[8..16], &id[64..72], "FRS1 = FR");
    assert!(log[16..].iter().all(|&b| b == 0));
}

/// Base 2.0 §5.16.1.6 (Commands Supported and Effects): CSUPP for the admin
/// commands served and for Read/Write/Flush, LBCC for those that change
/// data. SPDK: nvmf_get_cmds_and_effects_log_page.
#[test]
fn commands_supported_and_effects_log_lists_what_is_served() {
    let (_t, mut a, _) = admin();
    let (c, log) = get_log(&mut a, 0x05, 0, 4096, 4096);
    assert!(c.ok(), "{c:?}");
    let acs = |opc: usize| u32::from_le_bytes(log[4 * opc..4 * opc + 4].try_into().unwrap());
    let iocs = |opc: usize| acs(256 + opc);
    for opc in [0x02, 0x06, 0x08, 0x09, 0x0A, 0x0C, 0x18] {
        assert_eq!(acs(opc), 1, "admin {opc:#x}");
    }
    assert_eq!(acs(0x80), 0, "Format NVM not served");
    assert_eq!(iocs(0x00), 3, "Flush");
    assert_eq!(iocs(0x01), 3, "Write");
    assert_eq!(iocs(0x02), 1, "Read");
}

// ---- Identify -------------------------------------------------------------------

/// Base 2.0 §5.17: the Identify data structure is 4096 bytes; a smaller
/// buffer is Invalid Field. SPDK: nvmf_ctrlr_identify.
#[test]
fn identify_into_a_short_buffer_is_invalid_field() {
    let (_t, mut a, _) = admin();
    assert_eq!(st(&identify(&mut a, 1, 0, 0, 0, 1024).0), (0, 0x02));
}

/// Base 2.0 §5.17.2.2 (CNS 02h): NSIDs FFFFFFFEh and FFFFFFFFh have no
/// namespace after them: Invalid Namespace or Format.
/// SPDK: nvmf_ctrlr_identify_active_ns_list.
#[test]
fn active_namespace_list_after_fffffffe_is_invalid_namespace() {
    let (_t, mut a, _) = admin();
    for nsid in [0xFFFF_FFFEu32, 0xFFFF_FFFF] {
        assert_eq!(
            st(&identify(&mut a, 2, 0, nsid, 0, 4096).0),
            (0, 0x0B),
            "{nsid:#x}"
        );
    }
}

/// Base 2.0 §5.17.2.3 (CNS 03h): the descriptor list ends with the Command
/// Set Identifier descriptor (NIDT 4, NIDL 1, NVM).
/// SPDK: nvmf_ctrlr_identify_ns_id_descriptor_list.
#[test]
fn namespace_id_descriptors_include_the_command_set() {
    let (_t, mut a, _) = admin();
    let (c, d) = identify(&mut a, 3, 0, 1, 0, 4096);
    assert!(c.ok(), "{c:?}");
    let mut at = 0;
    let mut types = Vec::new();
    while d[at] != 0 {
        types.push((d[at], d[at + 1]));
        if d[at] == 4 {
            assert_eq!(d[at + 4], 0, "CSI NVM");
        }
        at += 4 + d[at + 1] as usize;
    }
    assert_eq!(types.last(), Some(&(4, 1)), "{types:?}");
}

/// Base 2.0 §5.17.2.5 (CNS 05h, I/O command set specific Identify
/// Namespace): zeros for an NVM namespace without protection information;
/// an inactive NSID is an invalid namespace.
/// SPDK: spdk_nvmf_ns_identify_iocs_specific.
#[test]
fn identify_cns_05_answers_for_active_namespaces() {
    let (_t, mut a, _) = admin();
    let (c, d) = identify(&mut a, 0x05, 0, 1, 0, 4096);
    assert!(c.ok(), "{c:?}");
    assert!(d.iter().all(|&b| b == 0));
    assert_eq!(st(&identify(&mut a, 0x05, 0, 7, 0, 4096).0), (0, 0x0B));
}

/// Base 2.0 §5.17.2.6 (CNS 06h, I/O command set specific Identify
/// Controller): for the NVM set, DMRL 1 and no size limits; zeros for
/// another set. SPDK: spdk_nvmf_ctrlr_identify_iocs_specific.
#[test]
fn identify_cns_06_answers_the_nvm_controller_structure() {
    let (_t, mut a, _) = admin();
    let (c, d) = identify(&mut a, 0x06, 0, 0, 0, 4096);
    assert!(c.ok(), "{c:?}");
    assert_eq!(&d[..16], &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let (c, d) = identify(&mut a, 0x06, 0, 0, 0x02, 4096);
    assert!(c.ok() && d.iter().all(|&b| b == 0), "{c:?}");
}

/// Base 2.0 §5.17.2.20 (CNS 1Ch, Identify I/O Command Set data structure):
/// for this controller (CNTID FFFFh or its own), the NVM command set;
/// another controller's is Invalid Field. SPDK: nvmf_ctrlr_identify_iocs.
#[test]
fn identify_cns_1c_lists_the_nvm_command_set() {
    let (_t, mut a, cntlid) = admin();
    for cntid in [0xFFFF, cntlid] {
        let (c, d) = identify(&mut a, 0x1C, cntid, 0, 0, 4096);
        assert!(c.ok(), "{c:?}");
        assert_eq!(u64::from_le_bytes(d[..8].try_into().unwrap()), 1);
    }
    let other = cntlid.wrapping_add(1);
    assert_eq!(st(&identify(&mut a, 0x1C, other, 0, 0, 4096).0), (0, 0x02));
}

// ---- Abort and AER ------------------------------------------------------------------

/// Base 2.0 §5.1 (Abort): an outstanding Asynchronous Event Request can be
/// aborted: it completes with Command Abort Requested (0/07h), then the
/// Abort with DW0 bit 0 cleared. A command that is not outstanding is "not
/// aborted" (DW0 bit 0 set). SPDK: nvmf_ctrlr_abort, nvmf_qpair_abort_aer.
#[test]
fn abort_of_an_outstanding_aer_completes_it() {
    let (_t, mut a, _) = admin();
    let c = a.cmd(&Sqe::new(ABORT, 31).cdw(10, 50 << 16), &[]).0;
    assert!(c.ok() && c.dw0 & 1 == 1, "nothing to abort: {c:?}");
    a.send_cmd(&Sqe::new(AER, 50), &[]);
    a.send_cmd(&Sqe::new(ABORT, 32).cdw(10, 50 << 16), &[]);
    let first = a.recv_cqe();
    assert_eq!((first.cid, st(&first)), (50, (0, 0x07)), "{first:?}");
    let second = a.recv_cqe();
    assert_eq!(second.cid, 32);
    assert!(second.ok() && second.dw0 & 1 == 0, "{second:?}");
}

/// Base 2.0 §5.2 (AERL): Identify's AERL is 3, so four AERs may be
/// outstanding; the fifth gets Asynchronous Event Request Limit Exceeded
/// (1/05h). SPDK: nvmf_ctrlr_async_event_request.
#[test]
fn fifth_outstanding_aer_exceeds_the_limit() {
    let (_t, mut a, _) = admin();
    let (_, id) = identify(&mut a, 1, 0, 0, 0, 4096);
    assert_eq!(id[259], 3, "AERL");
    for cid in 60..64 {
        a.send_cmd(&Sqe::new(AER, cid), &[]);
    }
    a.send_cmd(&Sqe::new(AER, 64), &[]);
    let c = a.recv_cqe();
    assert_eq!((c.cid, st(&c)), (64, (1, 0x05)), "{c:?}");
}

/// Property Get / Set with ATTRIB `attrib` (0: 4 bytes, 1: 8 bytes).
fn prop(a: &mut Host, set: bool, attrib: u8, ofst: u32, value: u64) -> Cqe {
    let sqe = Sqe::new(0x7F, 40)
        .u8_at(4, if set { 0x00 } else { 0x04 })
        .u8_at(40, attrib)
        .u32_at(44, ofst)
        .u64_at(48, value);
    a.cmd(&sqe, &[]).0
}

/// NVMe over Fabrics 1.1, Property Get/Set and the property map (SPDK
/// `nvmf_property_get` / `nvmf_property_set`, `nvmf_props`): CAP, VS, CC,
/// CSTS, AQA, ASQ, ACQ; a 4-byte access reads or writes either half of an
/// 8-byte register; an unknown offset, a reserved size or a write to a
/// read-only register is Invalid Parameter (1/82h).
#[test]
fn properties_as_spdk_maps_them() {
    let (_t, mut a, _) = admin();
    let cap = prop(&mut a, false, 1, 0x00, 0);
    assert!(cap.ok());
    let hi = prop(&mut a, false, 0, 0x04, 0);
    assert!(hi.ok());
    assert_eq!(hi.dw0, cap.dw1, "CAP's top half by a 4-byte read");
    // AQA: set and read back; ASQS or ACQS 0 is refused.
    assert!(prop(&mut a, true, 0, 0x24, 0x001F_001F).ok());
    assert_eq!(prop(&mut a, false, 0, 0x24, 0).dw0, 0x001F_001F);
    assert_eq!(st(&prop(&mut a, true, 0, 0x24, 0x001F_0000)), (1, 0x82));
    // ASQ: 8 bytes at once, then the top half alone.
    assert!(prop(&mut a, true, 1, 0x28, 0x1122_3344_5566_7788).ok());
    assert!(prop(&mut a, true, 0, 0x2C, 0xAABB_CCDD).ok());
    let asq = prop(&mut a, false, 1, 0x28, 0);
    assert_eq!((asq.dw0, asq.dw1), (0x5566_7788, 0xAABB_CCDD));
    // Read-only, unknown, reserved size, straddling: Invalid Parameter.
    assert_eq!(st(&prop(&mut a, true, 0, 0x08, 1)), (1, 0x82), "VS");
    assert_eq!(st(&prop(&mut a, true, 1, 0x00, 1)), (1, 0x82), "CAP");
    assert_eq!(st(&prop(&mut a, false, 0, 0x40, 0)), (1, 0x82));
    assert_eq!(st(&prop(&mut a, false, 2, 0x14, 0)), (1, 0x82));
    assert_eq!(st(&prop(&mut a, false, 1, 0x14, 0)), (1, 0x82));
}

/// `nvmf_ctrlr_process_fabrics_cmd`: on an I/O queue only Connect is a
/// fabrics command, so Property Get is Invalid Opcode; a second Connect on
/// an established queue is Invalid Opcode too.
#[test]
fn io_queue_fabrics_commands_are_invalid_opcodes() {
    let (t, mut a, cntlid) = admin();
    let mut io = io_queue(t.p1, cntlid, 31);
    assert_eq!(st(&prop(&mut io, false, 0, 0x08, 0)), (0, 0x01));
    let again = a.fabrics_connect(0, 15, 10_000, 0xFFFF, raw::target::NQN);
    assert_eq!(st(&again), (0, 0x01));
}
