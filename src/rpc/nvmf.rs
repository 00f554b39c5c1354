//! SPDK's `nvmf_*` methods on the embedded target: parameters decoded with
//! SPDK's keys and strictness, errors with SPDK's codes and messages, results
//! in SPDK v24.09's shapes (see the golden exchanges).

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{decode, decode_relaxed};
use super::{Router, RpcError, RpcResult};
use crate::nvme::log::AnaState;
use crate::target::subsystem::{
    SubsystemParams, DEFAULT_MAX_NAMESPACES, DEFAULT_MODEL, DEFAULT_SERIAL, MAX_CNTLID, MIN_CNTLID,
};
use crate::target::transport::TcpTransportOpts;
use crate::target::{NsParams, Target, TargetError};
use crate::trid::Adrfam;

/// Registers every `nvmf_*` method served by the embedded target.
pub fn register(r: &mut Router, t: &Arc<Target>) {
    macro_rules! method {
        ($name:literal, $f:expr) => {{
            let t = t.clone();
            r.register_fn($name, move |p| {
                let t = t.clone();
                async move { $f(&t, p).await }
            });
        }};
    }
    method!("nvmf_create_transport", create_transport);
    method!("nvmf_get_transports", get_transports);
    method!("nvmf_create_subsystem", create_subsystem);
    method!("nvmf_delete_subsystem", delete_subsystem);
    method!("nvmf_get_subsystems", get_subsystems);
    method!("nvmf_subsystem_add_ns", add_ns);
    method!("nvmf_subsystem_remove_ns", remove_ns);
    method!("nvmf_subsystem_add_listener", add_listener);
    method!("nvmf_subsystem_remove_listener", remove_listener);
    method!("nvmf_subsystem_listener_set_ana_state", set_ana_state);
    method!("nvmf_subsystem_get_listeners", get_listeners);
    method!("nvmf_subsystem_get_controllers", get_controllers);
    method!("nvmf_subsystem_get_qpairs", get_qpairs);
    method!("nvmf_subsystem_add_host", add_host);
    method!("nvmf_subsystem_remove_host", remove_host);
    method!("nvmf_subsystem_allow_any_host", allow_any_host);
    method!("nvmf_get_stats", get_stats);
}

fn no_subsystem(nqn: &str) -> RpcError {
    RpcError::invalid_params_msg(format!("Unable to find subsystem with NQN {nqn}"))
}

/// The common mapping for target errors in `nvmf_*` methods: SPDK answers
/// almost all of them with -32602 "Invalid parameters".
fn nvmf_error(nqn: &str, e: TargetError) -> RpcError {
    match e {
        TargetError::NoSubsystem => no_subsystem(nqn),
        _ => RpcError::invalid_params(),
    }
}

// ---- transports ------------------------------------------------------------

/// `nvmf_create_transport` decodes relaxed in SPDK: keys for other transports
/// (RDMA's `no_srq`, ...) and deprecated ones are accepted and ignored.
#[derive(Deserialize)]
struct CreateTransport {
    trtype: String,
    max_queue_depth: Option<u16>,
    max_io_qpairs_per_ctrlr: Option<u16>,
    in_capsule_data_size: Option<u32>,
    max_io_size: Option<u32>,
    io_unit_size: Option<u32>,
    max_aq_depth: Option<u32>,
    num_shared_buffers: Option<u32>,
    buf_cache_size: Option<u32>,
    dif_insert_or_strip: Option<bool>,
    zcopy: Option<bool>,
    c2h_success: Option<bool>,
    sock_priority: Option<u32>,
    abort_timeout_sec: Option<u32>,
    ack_timeout: Option<u32>,
    data_wr_pool_size: Option<u32>,
}

async fn create_transport(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: CreateTransport = decode_relaxed(p, RpcError::invalid_params)?;
    if !req.trtype.eq_ignore_ascii_case("tcp") {
        return Err(RpcError::invalid_params_msg(format!(
            "Invalid transport type '{}'",
            req.trtype
        )));
    }
    let mut o = TcpTransportOpts::default();
    if let Some(v) = req.max_queue_depth {
        // SPDK replaces depths below 2 by the default.
        o.max_queue_depth = if v < 2 { o.max_queue_depth } else { v };
    }
    if let Some(v) = req.max_io_qpairs_per_ctrlr {
        o.max_io_qpairs_per_ctrlr = v.max(1);
    }
    if let Some(v) = req.max_io_size {
        if v < 4096 || !v.is_power_of_two() {
            return Err(RpcError::invalid_params());
        }
        o.max_io_size = v;
    }
    if let Some(v) = req.in_capsule_data_size {
        o.in_capsule_data_size = v.min(o.max_io_size);
    }
    if let Some(v) = req.io_unit_size {
        o.io_unit_size = v;
    }
    if let Some(v) = req.max_aq_depth {
        o.max_aq_depth = if (2..=4096).contains(&v) { v } else { 128 };
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = req.$f { o.$f = v; } )* };
    }
    set!(
        num_shared_buffers,
        buf_cache_size,
        dif_insert_or_strip,
        zcopy,
        c2h_success,
        sock_priority,
        abort_timeout_sec,
        ack_timeout,
        data_wr_pool_size
    );
    t.create_transport(o).map_err(|_| {
        RpcError::internal_msg(format!(
            "Transport type '{}' already exists",
            req.trtype.to_ascii_lowercase()
        ))
    })?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetTransports {
    trtype: Option<String>,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn get_transports(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: GetTransports = decode(p, RpcError::invalid_params)?;
    let list: Vec<Value> = t.transport().iter().map(|o| o.to_json()).collect();
    if let Some(tt) = req.trtype {
        if !tt.eq_ignore_ascii_case("tcp") || list.is_empty() {
            return Err(RpcError::invalid_params());
        }
    }
    Ok(Value::Array(list))
}

// ---- subsystems --------------------------------------------------------------

/// Keys of v24.09's rpc.py and of newer clients (`passthrough`,
/// `enable_nssr`, ...), so that both work.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSubsystem {
    nqn: String,
    serial_number: Option<String>,
    model_number: Option<String>,
    allow_any_host: Option<bool>,
    ana_reporting: Option<bool>,
    max_namespaces: Option<u32>,
    min_cntlid: Option<u16>,
    max_cntlid: Option<u16>,
    #[allow(dead_code)]
    tgt_name: Option<String>,
    #[allow(dead_code)]
    max_discard_size_kib: Option<u64>,
    #[allow(dead_code)]
    max_write_zeroes_size_kib: Option<u64>,
    #[allow(dead_code)]
    passthrough: Option<bool>,
    #[allow(dead_code)]
    enable_nssr: Option<bool>,
    #[allow(dead_code)]
    ana_group_max: Option<u32>,
    #[allow(dead_code)]
    dmrsl: Option<u32>,
    #[allow(dead_code)]
    wzsl: Option<u32>,
    #[allow(dead_code)]
    admin_label: Option<String>,
}

/// Printable ASCII, as SPDK requires of serial and model numbers.
fn printable(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

async fn create_subsystem(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: CreateSubsystem = decode(p, RpcError::invalid_params)?;
    let serial = req.serial_number.unwrap_or_else(|| DEFAULT_SERIAL.into());
    if !printable(&serial, 20) {
        return Err(RpcError::invalid_params_msg(format!("Invalid SN {serial}")));
    }
    let model = req.model_number.unwrap_or_else(|| DEFAULT_MODEL.into());
    if !printable(&model, 40) {
        return Err(RpcError::invalid_params_msg(format!("Invalid MN {model}")));
    }
    let (min, max) = (
        req.min_cntlid.unwrap_or(MIN_CNTLID),
        req.max_cntlid.unwrap_or(MAX_CNTLID),
    );
    if min == 0 || max > MAX_CNTLID || min > max {
        return Err(RpcError::invalid_params_msg(format!(
            "Invalid cntlid range [{min}-{max}]"
        )));
    }
    let max_namespaces = match req.max_namespaces {
        None | Some(0) => DEFAULT_MAX_NAMESPACES,
        // The ANA state table and log page are sized by it; keep it to what
        // a 4 KiB identify list and a sane log page can describe.
        Some(n) if n > 1024 => return Err(RpcError::invalid_params()),
        Some(n) => n,
    };
    let nqn = req.nqn;
    t.create_subsystem(SubsystemParams {
        nqn: nqn.clone(),
        serial,
        model,
        allow_any_host: req.allow_any_host.unwrap_or(false),
        ana_reporting: req.ana_reporting.unwrap_or(false),
        max_namespaces,
        min_cntlid: min,
        max_cntlid: max,
    })
    .map_err(|_| RpcError::internal_msg(format!("Unable to create subsystem {nqn}")))?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NqnOnly {
    nqn: String,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn delete_subsystem(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: NqnOnly = decode(p, RpcError::invalid_params)?;
    t.delete_subsystem(&req.nqn)
        .map_err(|_| RpcError::invalid_params())?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetSubsystems {
    nqn: Option<String>,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn get_subsystems(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: GetSubsystems = decode(p, RpcError::invalid_params)?;
    let subs = t.subsystems();
    let subs: Vec<_> = match &req.nqn {
        Some(n) => {
            let one: Vec<_> = subs.into_iter().filter(|s| &s.nqn == n).collect();
            if one.is_empty() {
                return Err(RpcError::invalid_params());
            }
            one
        }
        None => subs,
    };
    Ok(Value::Array(
        subs.iter().map(|s| subsystem_json(s)).collect(),
    ))
}

/// One `nvmf_get_subsystems` entry, keys in SPDK v24.09's order.
fn subsystem_json(s: &crate::target::subsystem::Subsystem) -> Value {
    let cfg = s.config();
    let listen: Vec<Value> = cfg.listeners.iter().map(|l| l.trid.to_json()).collect();
    let hosts: Vec<Value> = cfg.hosts.iter().map(|h| json!({ "nqn": h })).collect();
    if s.discovery {
        return json!({
            "nqn": s.nqn,
            "subtype": "Discovery",
            "listen_addresses": listen,
            "allow_any_host": cfg.allow_any_host,
            "hosts": hosts,
        });
    }
    let namespaces: Vec<Value> = s
        .namespaces()
        .iter()
        .map(|ns| {
            let mut o = serde_json::Map::new();
            o.insert("nsid".into(), json!(ns.nsid));
            o.insert("bdev_name".into(), json!(ns.bdev.name));
            o.insert("name".into(), json!(ns.bdev.name));
            o.insert("nguid".into(), json!(hex_upper(&ns.nguid)));
            if ns.eui64 != [0; 8] {
                o.insert("eui64".into(), json!(hex_upper(&ns.eui64)));
            }
            o.insert("uuid".into(), json!(ns.uuid.to_string()));
            if s.ana_reporting {
                o.insert("anagrpid".into(), json!(ns.anagrpid));
            }
            Value::Object(o)
        })
        .collect();
    json!({
        "nqn": s.nqn,
        "subtype": "NVMe",
        "listen_addresses": listen,
        "allow_any_host": cfg.allow_any_host,
        "hosts": hosts,
        "serial_number": cfg.serial,
        "model_number": cfg.model,
        "max_namespaces": cfg.max_namespaces,
        "min_cntlid": cfg.min_cntlid,
        "max_cntlid": cfg.max_cntlid,
        "namespaces": namespaces,
    })
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

// ---- namespaces ------------------------------------------------------------------

#[derive(Deserialize)]
struct AddNs {
    nqn: String,
    namespace: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NsOpts {
    bdev_name: String,
    nsid: Option<u32>,
    anagrpid: Option<u32>,
    nguid: Option<String>,
    eui64: Option<String>,
    uuid: Option<String>,
    ptpl_file: Option<String>,
    #[allow(dead_code)]
    no_auto_visible: Option<bool>,
    #[allow(dead_code)]
    hide_metadata: Option<bool>,
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // SPDK accepts the hex digits with optional dashes in between.
    let digits: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

async fn add_ns(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    // Relaxed at the top level (tgt_name and newer keys pass), strict inside.
    let req: AddNs = decode_relaxed(p, RpcError::invalid_params)?;
    let ns: NsOpts = decode(Some(req.namespace), RpcError::invalid_params)?;
    let nguid = match ns.nguid.as_deref().map(parse_hex::<16>) {
        Some(None) => return Err(RpcError::invalid_params_msg("Invalid nguid")),
        Some(v) => v,
        None => None,
    };
    let eui64 = match ns.eui64.as_deref().map(parse_hex::<8>) {
        Some(None) => return Err(RpcError::invalid_params_msg("Invalid eui64")),
        Some(v) => v,
        None => None,
    };
    let uuid = match ns.uuid.as_deref().map(uuid::Uuid::parse_str) {
        Some(Err(_)) => return Err(RpcError::invalid_params_msg("Invalid uuid")),
        Some(Ok(u)) => Some(u),
        None => None,
    };
    let nsid = t
        .add_namespace(
            &req.nqn,
            NsParams {
                bdev_name: ns.bdev_name,
                nsid: ns.nsid.unwrap_or(0),
                anagrpid: ns.anagrpid.unwrap_or(0),
                uuid,
                nguid,
                eui64,
                ptpl_file: ns.ptpl_file.map(std::path::PathBuf::from),
            },
        )
        .map_err(|e| match e {
            TargetError::Ptpl(why) => {
                RpcError::invalid_params_msg(format!("Unable to restore reservations: {why}"))
            }
            e => nvmf_error(&req.nqn, e),
        })?;
    Ok(json!(nsid))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveNs {
    nqn: String,
    nsid: u32,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn remove_ns(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: RemoveNs = decode(p, RpcError::invalid_params)?;
    t.remove_namespace(&req.nqn, req.nsid)
        .map_err(|e| nvmf_error(&req.nqn, e))?;
    Ok(Value::Bool(true))
}

// ---- listeners -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListenAddress {
    trtype: String,
    adrfam: Option<String>,
    traddr: String,
    trsvcid: Option<String>,
}

impl ListenAddress {
    /// The socket address, if this is a TCP address we can listen on.
    pub(super) fn to_addr(&self) -> Option<SocketAddr> {
        if !self.trtype.eq_ignore_ascii_case("tcp") {
            return None;
        }
        let ip: std::net::IpAddr = self.traddr.parse().ok()?;
        if let Some(f) = &self.adrfam {
            if Adrfam::parse(f)? != Adrfam::of(&ip) {
                return None;
            }
        }
        let port: u16 = self.trsvcid.as_deref()?.parse().ok()?;
        Some(SocketAddr::new(ip, port))
    }
}

#[derive(Deserialize)]
struct AddListener {
    nqn: String,
    listen_address: ListenAddress,
    ana_state: Option<String>,
    secure_channel: Option<bool>,
    sock_impl: Option<String>,
}

/// TLS on a listener is not built: a listener asked for it is refused (with
/// the key named) rather than opened in plain text. `sock_impl` "ssl" is
/// how SPDK spells the same request without `secure_channel`.
fn refuse_tls_listener(req: &AddListener) -> Result<(), RpcError> {
    let refuse = |key: &str| {
        RpcError::internal_msg(format!(
            "{key}: TLS is not supported by this target; refusing rather than listening in plain text"
        ))
    };
    if req.secure_channel == Some(true) {
        return Err(refuse("secure_channel"));
    }
    if req.sock_impl.as_deref() == Some("ssl") {
        return Err(refuse("sock_impl"));
    }
    Ok(())
}

async fn add_listener(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: AddListener = decode_relaxed(p, RpcError::invalid_params)?;
    let addr = req
        .listen_address
        .to_addr()
        .ok_or_else(RpcError::invalid_params)?;
    let state = match req.ana_state.as_deref() {
        None => AnaState::Optimized,
        Some(s) => settable_ana_state(s).ok_or_else(RpcError::invalid_params)?,
    };
    // -32603, the code SPDK gives a secure channel it cannot set up.
    refuse_tls_listener(&req)?;
    t.add_listener(&req.nqn, addr, state)
        .await
        .map_err(|e| nvmf_error(&req.nqn, e))?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveListener {
    nqn: String,
    listen_address: ListenAddress,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn remove_listener(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: RemoveListener = decode(p, RpcError::invalid_params)?;
    let addr = req
        .listen_address
        .to_addr()
        .ok_or_else(RpcError::invalid_params)?;
    t.remove_listener(&req.nqn, addr)
        .map_err(|e| nvmf_error(&req.nqn, e))?;
    Ok(Value::Bool(true))
}

/// Only these three can be set through RPC (SPDK's enum decoder).
fn settable_ana_state(s: &str) -> Option<AnaState> {
    match s {
        "optimized" => Some(AnaState::Optimized),
        "non_optimized" => Some(AnaState::NonOptimized),
        "inaccessible" => Some(AnaState::Inaccessible),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetAnaState {
    nqn: String,
    listen_address: ListenAddress,
    ana_state: String,
    anagrpid: Option<u32>,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn set_ana_state(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: SetAnaState = decode(p, RpcError::invalid_params)?;
    let state = settable_ana_state(&req.ana_state).ok_or_else(RpcError::invalid_params)?;
    let ana_err = || RpcError::internal_msg("error setting ANA state: -22");
    let addr = req.listen_address.to_addr().ok_or_else(ana_err)?;
    let grp = req.anagrpid.filter(|g| *g != 0);
    match t.set_ana_state(&req.nqn, addr, grp, state) {
        Ok(()) => Ok(Value::Bool(true)),
        Err(TargetError::NoSubsystem) => Err(no_subsystem(&req.nqn)),
        Err(_) => Err(ana_err()),
    }
}

async fn get_listeners(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: NqnOnly = decode(p, RpcError::invalid_params)?;
    let ss = t
        .subsystem(&req.nqn)
        .ok_or_else(|| no_subsystem(&req.nqn))?;
    let cfg = ss.config();
    let out: Vec<Value> = cfg
        .listeners
        .iter()
        .map(|l| {
            let mut o = serde_json::Map::new();
            o.insert("address".into(), l.trid.to_json());
            if ss.ana_reporting {
                let states: Vec<Value> = (1..=l.groups())
                    .map(|g| json!({"ana_group": g, "ana_state": l.ana_state(g).as_str()}))
                    .collect();
                o.insert("ana_states".into(), Value::Array(states));
            }
            Value::Object(o)
        })
        .collect();
    Ok(Value::Array(out))
}

async fn get_controllers(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: NqnOnly = decode(p, RpcError::invalid_params)?;
    let ss = t
        .subsystem(&req.nqn)
        .ok_or_else(|| no_subsystem(&req.nqn))?;
    let ctrls: Vec<_> = ss.config().controllers.values().cloned().collect();
    let out: Vec<Value> = ctrls
        .iter()
        .map(|c| {
            json!({
                "cntlid": c.cntlid,
                "hostnqn": c.hostnqn,
                "hostid": uuid::Uuid::from_bytes(c.hostid).to_string(),
                // SPDK counts the bits of its qpair mask, the admin queue
                // included.
                "num_io_qpairs": c.state().io_qids.len() + 1,
            })
        })
        .collect();
    Ok(Value::Array(out))
}

async fn get_qpairs(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: NqnOnly = decode(p, RpcError::invalid_params)?;
    if t.subsystem(&req.nqn).is_none() {
        return Err(no_subsystem(&req.nqn));
    }
    let out: Vec<Value> = t
        .qpairs(&req.nqn)
        .iter()
        .map(|q| {
            json!({
                "cntlid": q.cntlid,
                "qid": q.qid,
                "state": "enabled",
                "thread": "nvmf_tgt_poll_group_000",
                "hostnqn": q.hostnqn,
                "listen_address": crate::trid::TransportId::from_addr(q.listen).to_json(),
                "peer_address": crate::trid::TransportId::from_addr(q.peer).to_json(),
            })
        })
        .collect();
    Ok(Value::Array(out))
}

// ---- hosts -----------------------------------------------------------------------

#[derive(Deserialize)]
struct HostReq {
    nqn: String,
    host: String,
    psk: Option<Value>,
    dhchap_key: Option<Value>,
    dhchap_ctrlr_key: Option<Value>,
}

/// Neither TLS nor DH-HMAC-CHAP is built: a host entry that asks for either
/// is refused, naming the key, rather than added and then let in without
/// the protection it asked for. `null` counts as absent.
fn refuse_host_keys(req: &HostReq) -> Result<(), RpcError> {
    let given = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
    let why = if given(&req.psk) {
        "psk: TLS is not supported by this target; refusing rather than admitting the host in plain text"
    } else if given(&req.dhchap_key) {
        "dhchap_key: DH-HMAC-CHAP is not supported by this target; refusing rather than admitting the host unauthenticated"
    } else if given(&req.dhchap_ctrlr_key) {
        "dhchap_ctrlr_key: DH-HMAC-CHAP is not supported by this target; refusing rather than admitting the host without authenticating to it"
    } else {
        return Ok(());
    };
    Err(RpcError::invalid_params_msg(why))
}

async fn add_host(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    // Relaxed in SPDK: tgt_name and other keys pass through.
    let req: HostReq = decode_relaxed(p, RpcError::invalid_params)?;
    if t.subsystem(&req.nqn).is_none() {
        return Err(no_subsystem(&req.nqn));
    }
    // -32602, as SPDK answers a key it cannot use here.
    refuse_host_keys(&req)?;
    t.add_host(&req.nqn, &req.host).map_err(|e| match e {
        TargetError::NoSubsystem => no_subsystem(&req.nqn),
        _ => RpcError::internal(),
    })?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveHost {
    nqn: String,
    host: String,
    #[allow(dead_code)]
    tgt_name: Option<String>,
    #[allow(dead_code)]
    timeout_ms: Option<u64>,
}

async fn remove_host(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: RemoveHost = decode(p, RpcError::invalid_params)?;
    t.remove_host(&req.nqn, &req.host).map_err(|e| match e {
        TargetError::NoSubsystem => no_subsystem(&req.nqn),
        _ => RpcError::internal(),
    })?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowAnyHost {
    nqn: String,
    allow_any_host: bool,
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

async fn allow_any_host(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: AllowAnyHost = decode(p, RpcError::invalid_params)?;
    t.set_allow_any_host(&req.nqn, req.allow_any_host)
        .map_err(|e| nvmf_error(&req.nqn, e))?;
    Ok(Value::Bool(true))
}

// ---- stats -----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TgtOnly {
    #[allow(dead_code)]
    tgt_name: Option<String>,
}

/// Ticks are reported in nanoseconds: a 1 GHz tick rate.
const TICK_RATE: u64 = 1_000_000_000;

async fn get_stats(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let _: TgtOnly = decode(p, RpcError::invalid_params)?;
    use std::sync::atomic::Ordering::Relaxed;
    let qps = t.all_qpairs();
    let cur_admin = qps.iter().filter(|q| q.qid == 0).count();
    let transports: Vec<Value> = t
        .transport()
        .iter()
        .map(|_| json!({"trtype": "TCP"}))
        .collect();
    Ok(json!({
        "tick_rate": TICK_RATE,
        "poll_groups": [{
            "name": "nvmf_tgt_poll_group_000",
            "admin_qpairs": t.stats.admin_qpairs.load(Relaxed),
            "io_qpairs": t.stats.io_qpairs.load(Relaxed),
            "current_admin_qpairs": cur_admin,
            "current_io_qpairs": qps.len() - cur_admin,
            "pending_bdev_io": 0,
            "completed_nvme_io": t.stats.completed_nvme_io.load(Relaxed),
            "transports": transports,
        }]
    }))
}
