//! Subsystems, their namespaces and listeners, and ANA state per listener
//! and ANA group.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use uuid::Uuid;

use super::bdev::MallocBdev;
use super::controller::Controller;
use super::resv::{HostId, Notice};
use super::resv_exec::NsReservation;
use crate::nvme::log::AnaState;
use crate::trid::TransportId;

pub const DEFAULT_SERIAL: &str = "00000000000000000000";
pub const DEFAULT_MODEL: &str = "SPDK bdev Controller";
/// `max_namespaces` 0 means this many, and it is also the ANA group count.
pub const DEFAULT_MAX_NAMESPACES: u32 = 32;
pub const MIN_CNTLID: u16 = 1;
pub const MAX_CNTLID: u16 = 0xFFEF;

#[derive(Debug)]
pub struct Namespace {
    pub nsid: u32,
    pub bdev: Arc<MallocBdev>,
    pub anagrpid: u32,
    pub uuid: Uuid,
    pub nguid: [u8; 16],
    pub eui64: [u8; 8],
    /// Registrations and the reservation, shared by every controller.
    pub resv: NsReservation,
}

/// One subsystem listener: the transport ID plus its ANA state per group.
/// Read on every I/O, so the states are atomics rather than behind a lock.
#[derive(Debug)]
pub struct SubsysListener {
    pub trid: TransportId,
    pub addr: SocketAddr,
    ana: Box<[AtomicU8]>,
    /// Set when the listener is removed: controllers still bound to it then
    /// read every group as inaccessible, as SPDK's do.
    removed: AtomicBool,
}

impl SubsysListener {
    pub fn new(addr: SocketAddr, groups: u32, initial: AnaState) -> Self {
        SubsysListener {
            trid: TransportId::from_addr(addr),
            addr,
            ana: (0..groups).map(|_| AtomicU8::new(initial as u8)).collect(),
            removed: AtomicBool::new(false),
        }
    }

    pub fn ana_state(&self, anagrpid: u32) -> AnaState {
        if self.removed.load(Ordering::Acquire) {
            return AnaState::Inaccessible;
        }
        let raw = anagrpid
            .checked_sub(1)
            .and_then(|i| self.ana.get(i as usize))
            .map(|a| a.load(Ordering::Acquire))
            .unwrap_or(AnaState::Inaccessible as u8);
        AnaState::from_u8(raw).unwrap_or(AnaState::Inaccessible)
    }

    /// Sets one group (1-based) or, with `None`, every group. Returns whether
    /// an AEN is due: SPDK skips it only for a single group that did not
    /// change.
    pub fn set_ana_state(&self, anagrpid: Option<u32>, state: AnaState) -> bool {
        match anagrpid {
            None => {
                for a in self.ana.iter() {
                    a.store(state as u8, Ordering::Release);
                }
                true
            }
            Some(g) => match g.checked_sub(1).and_then(|i| self.ana.get(i as usize)) {
                Some(a) => a.swap(state as u8, Ordering::AcqRel) != state as u8,
                None => false,
            },
        }
    }

    pub fn groups(&self) -> u32 {
        self.ana.len() as u32
    }

    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }
}

/// Mutable configuration of a subsystem; behind one lock, taken briefly.
#[derive(Debug)]
pub struct SubsysConfig {
    pub serial: String,
    pub model: String,
    pub allow_any_host: bool,
    pub hosts: Vec<String>,
    pub max_namespaces: u32,
    pub min_cntlid: u16,
    pub max_cntlid: u16,
    /// Newest first, as SPDK lists them.
    pub listeners: Vec<Arc<SubsysListener>>,
    pub controllers: BTreeMap<u16, Arc<Controller>>,
    next_cntlid: u16,
}

#[derive(Debug)]
pub struct Subsystem {
    pub nqn: String,
    pub discovery: bool,
    pub ana_reporting: bool,
    config: Mutex<SubsysConfig>,
    /// Namespaces by NSID; read on every I/O, written by RPCs only.
    namespaces: RwLock<BTreeMap<u32, Arc<Namespace>>>,
}

pub struct SubsystemParams {
    pub nqn: String,
    pub serial: String,
    pub model: String,
    pub allow_any_host: bool,
    pub ana_reporting: bool,
    pub max_namespaces: u32,
    pub min_cntlid: u16,
    pub max_cntlid: u16,
}

impl Subsystem {
    pub fn new(p: SubsystemParams) -> Self {
        Subsystem {
            discovery: p.nqn == super::nqn::DISCOVERY_NQN,
            nqn: p.nqn,
            ana_reporting: p.ana_reporting,
            config: Mutex::new(SubsysConfig {
                serial: p.serial,
                model: p.model,
                allow_any_host: p.allow_any_host,
                hosts: Vec::new(),
                max_namespaces: p.max_namespaces,
                min_cntlid: p.min_cntlid,
                max_cntlid: p.max_cntlid,
                listeners: Vec::new(),
                controllers: BTreeMap::new(),
                next_cntlid: p.min_cntlid,
            }),
            namespaces: RwLock::new(BTreeMap::new()),
        }
    }

    pub fn new_discovery() -> Self {
        Subsystem::new(SubsystemParams {
            nqn: super::nqn::DISCOVERY_NQN.to_string(),
            serial: DEFAULT_SERIAL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            allow_any_host: true,
            ana_reporting: false,
            max_namespaces: 0,
            min_cntlid: MIN_CNTLID,
            max_cntlid: MAX_CNTLID,
        })
    }

    pub fn config(&self) -> MutexGuard<'_, SubsysConfig> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn namespace(&self, nsid: u32) -> Option<Arc<Namespace>> {
        self.ns_read().get(&nsid).cloned()
    }

    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        self.ns_read().values().cloned().collect()
    }

    fn ns_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, Arc<Namespace>>> {
        self.namespaces.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ns_write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u32, Arc<Namespace>>> {
        self.namespaces.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn host_allowed(&self, hostnqn: &str) -> bool {
        let c = self.config();
        c.allow_any_host || c.hosts.iter().any(|h| h == hostnqn)
    }

    /// Queues reservation notices in the log of every controller of the
    /// hosts named, on every path (the sender is never among them).
    pub fn notify_reservation(&self, nsid: u32, notices: &[(HostId, Notice)]) {
        if notices.is_empty() {
            return;
        }
        let ctrls: Vec<Arc<Controller>> = self.config().controllers.values().cloned().collect();
        for (host, n) in notices {
            for c in ctrls.iter().filter(|c| &c.hostid == host) {
                c.add_reservation_notice(nsid, *n);
            }
        }
    }

    /// The listener a connection arrived on, if this subsystem listens there.
    pub fn listener_at(&self, local: SocketAddr) -> Option<Arc<SubsysListener>> {
        self.config()
            .listeners
            .iter()
            .find(|l| l.addr == local)
            .cloned()
    }
}

impl SubsysConfig {
    /// Next free controller ID in [min_cntlid, max_cntlid], unique within the
    /// subsystem across all listeners (multipath hosts rely on that).
    pub fn allocate_cntlid(&mut self) -> Option<u16> {
        let span = (self.max_cntlid - self.min_cntlid) as u32 + 1;
        for _ in 0..span {
            let id = self.next_cntlid;
            self.next_cntlid = if id >= self.max_cntlid {
                self.min_cntlid
            } else {
                id + 1
            };
            if !self.controllers.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }
}
