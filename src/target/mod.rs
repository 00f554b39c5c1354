//! The embedded NVMe-oF target: a TCP transport, subsystems with namespaces
//! on malloc bdevs, listeners with ANA states, controllers, and the
//! discovery subsystem. Its operations are what SPDK's `nvmf_*` and
//! `bdev_malloc_*` RPCs do; `crate::rpc::nvmf` maps JSON onto them.
//!
//! Lock order: `Target::inner` → `Subsystem::config` → `Controller::state`.
//! Connection tasks never hold a subsystem or controller lock while taking
//! `Target::inner`.

mod admin;
pub mod bdev;
mod conn;
pub mod controller;
pub mod fault;
mod io;
pub mod nqn;
mod props;
pub mod ptpl;
mod reply;
pub mod resv;
pub mod resv_exec;
pub mod subsystem;
pub mod transport;

pub use conn::serve_stream;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::nvme::log::AnaState;
use crate::trid::TransportId;
use bdev::MallocBdev;
use controller::{Controller, AEC_ANA_CHANGE_NOTICE, AEN_ANA_CHANGE};
use subsystem::{Namespace, SubsysListener, Subsystem, SubsystemParams};
use transport::TcpTransportOpts;

/// Why a target operation was refused. The RPC layer turns each into the
/// code and message SPDK sends for that method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("subsystem not found")]
    NoSubsystem,
    #[error("invalid NQN or subsystem exists")]
    CannotCreateSubsystem,
    #[error("transport exists")]
    TransportExists,
    #[error("no such transport")]
    NoTransport,
    #[error("no such listener")]
    NoListener,
    #[error("listener exists")]
    ListenerExists,
    #[error("listen failed: {0}")]
    ListenFailed(String),
    #[error("ANA reporting is disabled")]
    AnaDisabled,
    #[error("invalid parameter: {0}")]
    Invalid(&'static str),
    #[error("cannot allocate memory")]
    NoMemory,
    #[error("no such bdev")]
    NoBdev,
    #[error("bdev exists")]
    BdevExists,
    #[error("bdev is claimed")]
    BdevClaimed,
    #[error("no such namespace")]
    NoNamespace,
    #[error("no such host")]
    NoHost,
    #[error("host exists")]
    HostExists,
    #[error("PTPL file {0}")]
    Ptpl(String),
}

/// What the target knows about one connected queue pair, for
/// `nvmf_subsystem_get_qpairs` and for disconnecting it.
#[derive(Debug, Clone)]
pub struct QpairInfo {
    pub subnqn: String,
    pub cntlid: u16,
    pub qid: u16,
    pub hostnqn: String,
    pub listen: SocketAddr,
    pub peer: SocketAddr,
    kill: Arc<Notify>,
}

impl QpairInfo {
    pub fn disconnect(&self) {
        self.kill.notify_one();
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub admin_qpairs: AtomicU64,
    pub io_qpairs: AtomicU64,
    pub completed_nvme_io: AtomicU64,
}

struct Port {
    accept: JoinHandle<()>,
    users: usize,
}

struct BdevEntry {
    bdev: Arc<MallocBdev>,
    claimed_by: Option<String>,
}

#[derive(Default)]
struct Inner {
    transport: Option<Arc<TcpTransportOpts>>,
    /// In creation order, as `bdev_get_bdevs` lists them.
    bdevs: Vec<BdevEntry>,
    /// By NQN: `nvmf_get_subsystems` lists them sorted.
    subsystems: BTreeMap<String, Arc<Subsystem>>,
    ports: HashMap<SocketAddr, Port>,
    qpairs: BTreeMap<u64, QpairInfo>,
    discovery_genctr: u64,
}

pub struct Target {
    inner: Mutex<Inner>,
    next_qpair: AtomicU64,
    pub stats: Stats,
    /// Faults injected per listener address (`mpath_listener_*`).
    pub faults: fault::Faults,
}

/// A new namespace, as `nvmf_subsystem_add_ns` describes it.
#[derive(Debug, Default, Clone)]
pub struct NsParams {
    pub bdev_name: String,
    pub nsid: u32,
    pub anagrpid: u32,
    pub uuid: Option<Uuid>,
    pub nguid: Option<[u8; 16]>,
    pub eui64: Option<[u8; 8]>,
    /// `--ptpl-file`: reservations persist there and are restored from it.
    pub ptpl_file: Option<std::path::PathBuf>,
}

impl Target {
    pub fn new() -> Arc<Target> {
        let mut inner = Inner::default();
        let disc = Arc::new(Subsystem::new_discovery());
        inner.subsystems.insert(disc.nqn.clone(), disc);
        Arc::new(Target {
            inner: Mutex::new(inner),
            next_qpair: AtomicU64::new(1),
            stats: Stats::default(),
            faults: fault::Faults::default(),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- transport -----------------------------------------------------

    pub fn create_transport(&self, opts: TcpTransportOpts) -> Result<(), TargetError> {
        let mut inner = self.inner();
        if inner.transport.is_some() {
            return Err(TargetError::TransportExists);
        }
        inner.transport = Some(Arc::new(opts));
        Ok(())
    }

    pub fn transport(&self) -> Option<Arc<TcpTransportOpts>> {
        self.inner().transport.clone()
    }

    // ---- bdevs ---------------------------------------------------------

    pub fn bdev_malloc_create(
        &self,
        name: Option<String>,
        uuid: Option<Uuid>,
        block_size: u32,
        num_blocks: u64,
    ) -> Result<String, TargetError> {
        if !bdev::VALID_BLOCK_SIZES.contains(&block_size) {
            return Err(TargetError::Invalid("block_size"));
        }
        if num_blocks == 0 {
            return Err(TargetError::Invalid("num_blocks"));
        }
        // Sizes this process could not address are invalid; sizes the
        // machine could not back fail as SPDK's allocation would, -ENOMEM
        // (see `bdev::fits_in_memory`), before anything is allocated.
        let bytes = num_blocks
            .checked_mul(block_size as u64)
            .filter(|b| usize::try_from(*b).is_ok())
            .ok_or(TargetError::Invalid("num_blocks"))?;
        let pick_name = |inner: &Inner| -> Result<String, TargetError> {
            let taken = |n: &str| inner.bdevs.iter().any(|b| b.bdev.name == n);
            match &name {
                Some(n) if taken(n) => Err(TargetError::BdevExists),
                Some(n) => Ok(n.clone()),
                None => Ok((0..)
                    .map(|i| format!("Malloc{i}"))
                    .find(|n| !taken(n))
                    .unwrap_or_default()),
            }
        };
        let (picked, existing) = {
            let inner = self.inner();
            let existing: u64 = inner.bdevs.iter().map(|b| b.bdev.size_bytes()).sum();
            (pick_name(&inner)?, existing)
        };
        if !bdev::fits_in_memory(bytes, existing, bdev::MemInfo::read()) {
            return Err(TargetError::NoMemory);
        }
        // Allocated without the lock: a big bdev must not stall every other
        // RPC and connection meanwhile.
        let uuid = uuid.unwrap_or_else(Uuid::new_v4);
        let mut b = MallocBdev::new(picked, uuid, block_size, num_blocks);
        let mut inner = self.inner();
        // Another create may have taken the name meanwhile.
        b.name = pick_name(&inner)?;
        let name = b.name.clone();
        inner.bdevs.push(BdevEntry {
            bdev: Arc::new(b),
            claimed_by: None,
        });
        Ok(name)
    }

    pub fn bdev_malloc_delete(&self, name: &str) -> Result<(), TargetError> {
        let mut inner = self.inner();
        let pos = inner
            .bdevs
            .iter()
            .position(|b| b.bdev.name == name || b.bdev.uuid.to_string() == name)
            .ok_or(TargetError::NoBdev)?;
        // SPDK hot-removes a claimed bdev, taking its namespace away; we do
        // the same so that the call never leaves a namespace without memory.
        if let Some(nqn) = inner.bdevs[pos].claimed_by.clone() {
            if let Some(ss) = inner.subsystems.get(&nqn) {
                ss.ns_write().retain(|_, ns| ns.bdev.name != name);
            }
        }
        inner.bdevs.remove(pos);
        Ok(())
    }

    /// Bdevs with whether a subsystem claimed them.
    pub fn bdevs(&self) -> Vec<(Arc<MallocBdev>, bool)> {
        self.inner()
            .bdevs
            .iter()
            .map(|b| (b.bdev.clone(), b.claimed_by.is_some()))
            .collect()
    }

    // ---- subsystems ----------------------------------------------------

    pub fn create_subsystem(&self, p: SubsystemParams) -> Result<(), TargetError> {
        if !nqn::is_valid(&p.nqn) || p.nqn == nqn::DISCOVERY_NQN {
            return Err(TargetError::CannotCreateSubsystem);
        }
        let mut inner = self.inner();
        if inner.subsystems.contains_key(&p.nqn) {
            return Err(TargetError::CannotCreateSubsystem);
        }
        inner
            .subsystems
            .insert(p.nqn.clone(), Arc::new(Subsystem::new(p)));
        inner.discovery_genctr += 1;
        Ok(())
    }

    pub fn subsystem(&self, nqn: &str) -> Option<Arc<Subsystem>> {
        self.inner().subsystems.get(nqn).cloned()
    }

    pub fn subsystems(&self) -> Vec<Arc<Subsystem>> {
        self.inner().subsystems.values().cloned().collect()
    }

    /// Deletes a subsystem: its listeners go (hosts are disconnected), its
    /// bdevs are released.
    pub fn delete_subsystem(&self, nqn: &str) -> Result<(), TargetError> {
        let mut inner = self.inner();
        if nqn == nqn::DISCOVERY_NQN {
            return Err(TargetError::Invalid("discovery subsystem"));
        }
        let ss = inner
            .subsystems
            .remove(nqn)
            .ok_or(TargetError::NoSubsystem)?;
        let listeners = std::mem::take(&mut ss.config().listeners);
        for l in &listeners {
            l.mark_removed();
            inner.release_port(l.addr);
        }
        for q in inner.qpairs.values().filter(|q| q.subnqn == nqn) {
            q.disconnect();
        }
        for b in inner.bdevs.iter_mut() {
            if b.claimed_by.as_deref() == Some(nqn) {
                b.claimed_by = None;
            }
        }
        inner.discovery_genctr += 1;
        Ok(())
    }

    pub fn add_namespace(&self, nqn: &str, p: NsParams) -> Result<u32, TargetError> {
        let mut inner = self.inner();
        let ss = inner
            .subsystems
            .get(nqn)
            .cloned()
            .ok_or(TargetError::NoSubsystem)?;
        if ss.discovery {
            return Err(TargetError::Invalid("discovery subsystem"));
        }
        let entry = inner
            .bdevs
            .iter_mut()
            .find(|b| b.bdev.name == p.bdev_name)
            .ok_or(TargetError::NoBdev)?;
        if entry.claimed_by.is_some() {
            return Err(TargetError::BdevClaimed);
        }
        let max = ss.config().max_namespaces;
        let mut nss = ss.ns_write();
        let nsid = if p.nsid == 0 {
            (1..=max)
                .find(|id| !nss.contains_key(id))
                .ok_or(TargetError::Invalid("no free nsid"))?
        } else {
            p.nsid
        };
        if nsid > max || nss.contains_key(&nsid) {
            return Err(TargetError::Invalid("nsid"));
        }
        let anagrpid = if p.anagrpid == 0 { nsid } else { p.anagrpid };
        if anagrpid > max {
            return Err(TargetError::Invalid("anagrpid"));
        }
        let bdev = entry.bdev.clone();
        let uuid = p.uuid.unwrap_or(bdev.uuid);
        // A PTPL file that is there but cannot be restored fails the add,
        // as in SPDK: starting without the registrations would lose them.
        let state = match &p.ptpl_file {
            Some(f) => ptpl::load(f, &bdev.uuid)
                .map_err(|e| TargetError::Ptpl(format!("{}: {e}", f.display())))?,
            None => resv::Reservation::default(),
        };
        let ns = Namespace {
            resv: resv_exec::NsReservation::new(state, p.ptpl_file.clone()),
            nsid,
            anagrpid,
            uuid,
            // An absent NGUID takes the UUID's bytes, as SPDK does, so that
            // every path reports the same identifiers.
            nguid: p.nguid.unwrap_or(*uuid.as_bytes()),
            eui64: p.eui64.unwrap_or([0; 8]),
            bdev,
        };
        nss.insert(nsid, Arc::new(ns));
        entry.claimed_by = Some(nqn.to_string());
        drop(nss);
        for c in ss.config().controllers.values() {
            c.raise_aen(
                controller::AEC_NS_ATTR_NOTICE,
                controller::AEN_NS_ATTR_CHANGED,
            );
        }
        Ok(nsid)
    }

    pub fn remove_namespace(&self, nqn: &str, nsid: u32) -> Result<(), TargetError> {
        let mut inner = self.inner();
        let ss = inner
            .subsystems
            .get(nqn)
            .cloned()
            .ok_or(TargetError::NoSubsystem)?;
        let ns = ss
            .ns_write()
            .remove(&nsid)
            .ok_or(TargetError::NoNamespace)?;
        if let Some(b) = inner
            .bdevs
            .iter_mut()
            .find(|b| Arc::ptr_eq(&b.bdev, &ns.bdev))
        {
            b.claimed_by = None;
        }
        for c in ss.config().controllers.values() {
            c.raise_aen(
                controller::AEC_NS_ATTR_NOTICE,
                controller::AEN_NS_ATTR_CHANGED,
            );
        }
        Ok(())
    }

    // ---- listeners -----------------------------------------------------

    /// Adds a listener and starts accepting on its address (shared with
    /// other subsystems listening on the same address).
    pub async fn add_listener(
        self: &Arc<Self>,
        nqn: &str,
        addr: SocketAddr,
        initial: AnaState,
    ) -> Result<(), TargetError> {
        let ss = self.subsystem(nqn).ok_or(TargetError::NoSubsystem)?;
        if self.transport().is_none() {
            return Err(TargetError::NoTransport);
        }
        if ss.listener_at(addr).is_some() {
            return Err(TargetError::ListenerExists);
        }
        let need_bind = !self.inner().ports.contains_key(&addr);
        let bound = if need_bind {
            Some(bind(addr).map_err(|e| TargetError::ListenFailed(e.to_string()))?)
        } else {
            None
        };
        let mut inner = self.inner();
        // Re-check under the lock: an RPC may have raced us.
        if !inner.subsystems.contains_key(nqn) || ss.listener_at(addr).is_some() {
            return Err(TargetError::ListenerExists);
        }
        match (inner.ports.get_mut(&addr), bound) {
            (Some(p), _) => p.users += 1,
            (None, Some(l)) => {
                let accept = tokio::spawn(accept_loop(Arc::downgrade(self), l, addr));
                inner.ports.insert(addr, Port { accept, users: 1 });
            }
            (None, None) => return Err(TargetError::ListenFailed("port vanished".into())),
        }
        let groups = ss.config().max_namespaces;
        ss.config()
            .listeners
            .insert(0, Arc::new(SubsysListener::new(addr, groups, initial)));
        inner.discovery_genctr += 1;
        Ok(())
    }

    /// Removes a listener and disconnects this subsystem's qpairs that came
    /// through it: this is what makes hosts fail over.
    pub fn remove_listener(&self, nqn: &str, addr: SocketAddr) -> Result<(), TargetError> {
        let mut inner = self.inner();
        let ss = inner
            .subsystems
            .get(nqn)
            .cloned()
            .ok_or(TargetError::NoSubsystem)?;
        let l = {
            let mut cfg = ss.config();
            let pos = cfg
                .listeners
                .iter()
                .position(|l| l.addr == addr)
                .ok_or(TargetError::NoListener)?;
            cfg.listeners.remove(pos)
        };
        l.mark_removed();
        for q in inner
            .qpairs
            .values()
            .filter(|q| q.subnqn == nqn && q.listen == addr)
        {
            q.disconnect();
        }
        inner.release_port(addr);
        inner.discovery_genctr += 1;
        Ok(())
    }

    /// Sets the ANA state of one group, or of all groups, on a listener, and
    /// sends the ANA change AEN to the controllers bound to that listener.
    pub fn set_ana_state(
        &self,
        nqn: &str,
        addr: SocketAddr,
        anagrpid: Option<u32>,
        state: AnaState,
    ) -> Result<(), TargetError> {
        let ss = self.subsystem(nqn).ok_or(TargetError::NoSubsystem)?;
        if !ss.ana_reporting {
            return Err(TargetError::AnaDisabled);
        }
        let l = ss.listener_at(addr).ok_or(TargetError::NoListener)?;
        if let Some(g) = anagrpid {
            if g == 0 || g > l.groups() {
                return Err(TargetError::Invalid("anagrpid"));
            }
        }
        if !l.set_ana_state(anagrpid, state) {
            return Ok(());
        }
        let ctrls: Vec<_> = ss.config().controllers.values().cloned().collect();
        for c in ctrls {
            if c.listener.as_ref().is_some_and(|cl| Arc::ptr_eq(cl, &l)) {
                c.raise_aen(AEC_ANA_CHANGE_NOTICE, AEN_ANA_CHANGE);
            }
        }
        Ok(())
    }

    // ---- hosts -----------------------------------------------------------

    pub fn add_host(&self, nqn: &str, host: &str) -> Result<(), TargetError> {
        let ss = self.subsystem(nqn).ok_or(TargetError::NoSubsystem)?;
        if !nqn::is_valid(host) {
            return Err(TargetError::Invalid("host NQN"));
        }
        let mut cfg = ss.config();
        if cfg.hosts.iter().any(|h| h == host) {
            return Err(TargetError::HostExists);
        }
        cfg.hosts.push(host.to_string());
        Ok(())
    }

    /// Removes a host from the allow-list and disconnects its controllers.
    pub fn remove_host(&self, nqn: &str, host: &str) -> Result<(), TargetError> {
        let inner = self.inner();
        let ss = inner
            .subsystems
            .get(nqn)
            .cloned()
            .ok_or(TargetError::NoSubsystem)?;
        {
            let mut cfg = ss.config();
            let pos = cfg
                .hosts
                .iter()
                .position(|h| h == host)
                .ok_or(TargetError::NoHost)?;
            cfg.hosts.remove(pos);
        }
        for q in inner
            .qpairs
            .values()
            .filter(|q| q.subnqn == nqn && q.hostnqn == host)
        {
            q.disconnect();
        }
        Ok(())
    }

    pub fn set_allow_any_host(&self, nqn: &str, allow: bool) -> Result<(), TargetError> {
        let ss = self.subsystem(nqn).ok_or(TargetError::NoSubsystem)?;
        ss.config().allow_any_host = allow;
        Ok(())
    }

    // ---- queries -----------------------------------------------------------

    pub fn qpairs(&self, nqn: &str) -> Vec<QpairInfo> {
        self.inner()
            .qpairs
            .values()
            .filter(|q| q.subnqn == nqn)
            .cloned()
            .collect()
    }

    pub fn all_qpairs(&self) -> Vec<QpairInfo> {
        self.inner().qpairs.values().cloned().collect()
    }

    /// Drops every connection of every subsystem that arrived on `addr`
    /// without removing the listener (fault injection, and the console's
    /// "drop path" key).
    pub fn disconnect_listener_qpairs(&self, addr: SocketAddr) -> usize {
        let inner = self.inner();
        let hits: Vec<_> = inner.qpairs.values().filter(|q| q.listen == addr).collect();
        for q in &hits {
            q.disconnect();
        }
        hits.len()
    }

    pub fn discovery_genctr(&self) -> u64 {
        self.inner().discovery_genctr
    }

    /// Every (subsystem, listener) pair a host may see in the discovery log.
    pub fn discovery_entries(&self, hostnqn: &str) -> Vec<(String, TransportId)> {
        let subs = self.subsystems();
        let mut out = Vec::new();
        for ss in subs.iter().filter(|s| !s.discovery) {
            if !ss.host_allowed(hostnqn) {
                continue;
            }
            for l in ss.config().listeners.iter().rev() {
                out.push((ss.nqn.clone(), l.trid.clone()));
            }
        }
        out
    }

    // ---- connection bookkeeping (used by conn.rs) ------------------------

    fn register_qpair(&self, info: QpairInfo) -> u64 {
        let id = self.next_qpair.fetch_add(1, Ordering::Relaxed);
        if info.qid == 0 {
            self.stats.admin_qpairs.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.io_qpairs.fetch_add(1, Ordering::Relaxed);
        }
        self.inner().qpairs.insert(id, info);
        id
    }

    fn unregister_qpair(&self, id: u64) {
        self.inner().qpairs.remove(&id);
    }

    /// Tears a controller down: it leaves its subsystem and every one of its
    /// queues is disconnected.
    fn destroy_controller(&self, ctrl: &Controller) {
        let removed = {
            let mut cfg = ctrl.subsys.config();
            match cfg.controllers.get(&ctrl.cntlid) {
                Some(c) if std::ptr::eq(Arc::as_ptr(c), ctrl) => {
                    cfg.controllers.remove(&ctrl.cntlid);
                    true
                }
                _ => false,
            }
        };
        if removed {
            let inner = self.inner();
            for q in inner
                .qpairs
                .values()
                .filter(|q| q.subnqn == ctrl.subsys.nqn && q.cntlid == ctrl.cntlid)
            {
                q.disconnect();
            }
        }
    }
}

impl Inner {
    fn release_port(&mut self, addr: SocketAddr) {
        if let Some(p) = self.ports.get_mut(&addr) {
            p.users -= 1;
            if p.users == 0 {
                p.accept.abort();
                self.ports.remove(&addr);
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        for p in inner.ports.values() {
            p.accept.abort();
        }
        for q in inner.qpairs.values() {
            q.disconnect();
        }
    }
}

/// Binds with SO_REUSEADDR so a port freed a moment ago (TIME_WAIT) can be
/// listened on again, as SPDK's posix sock layer does.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(512)
}

async fn accept_loop(target: std::sync::Weak<Target>, l: TcpListener, addr: SocketAddr) {
    loop {
        let (sock, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("accept on {addr}: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(t) = target.upgrade() else { return };
        tokio::spawn(conn::run(t, sock, addr, peer));
    }
}
