//! A controller: created by an admin-queue Connect, joined by I/O-queue
//! Connects, destroyed when its admin queue goes away or keep-alive expires.
//! Holds the register file, Asynchronous Event Requests and AEN masking.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::subsystem::{SubsysListener, Subsystem};
use crate::nvme::log::AnaState;

/// Asynchronous Event Configuration bits (Set Features 0Bh) for the notices
/// we raise.
pub const AEC_NS_ATTR_NOTICE: u32 = 1 << 8;
pub const AEC_ANA_CHANGE_NOTICE: u32 = 1 << 11;
pub const AEC_DISCOVERY_LOG_CHANGE: u32 = 1 << 31;

/// AER completion DW0 values: type 2 (notice), info, log page.
pub const AEN_NS_ATTR_CHANGED: u32 = 0x0004_0002;
pub const AEN_ANA_CHANGE: u32 = 0x000C_0302;
pub const AEN_DISCOVERY_LOG_CHANGE: u32 = 0x0070_F002;

/// AERL advertised in Identify (0's based): up to 4 outstanding AERs.
pub const AERL: u8 = 3;

#[derive(Debug)]
pub struct CtrlState {
    pub cc: u32,
    pub csts: u32,
    pub aec: u32,
    /// CIDs of outstanding Asynchronous Event Requests, oldest first.
    pub aer_cids: VecDeque<u16>,
    /// Events raised while no AER was outstanding.
    pub pending_aens: VecDeque<u32>,
    /// Events sent and not yet acknowledged by a log read with RAE=0; the
    /// same event is not raised again until then.
    pub masked: u32,
    /// I/O queues granted by Set Features Number of Queues (count, not
    /// 0's based).
    pub io_queues_granted: u16,
    pub io_qids: BTreeSet<u16>,
    pub last_keep_alive: Instant,
}

#[derive(Debug)]
pub struct Controller {
    pub cntlid: u16,
    pub subsys: Arc<Subsystem>,
    pub hostnqn: String,
    pub hostid: [u8; 16],
    /// The listener the admin queue arrived on: its ANA states are what this
    /// controller reports.
    pub listener: Option<Arc<SubsysListener>>,
    pub kato_ms: AtomicU32,
    state: Mutex<CtrlState>,
    /// Wakes the admin queue to deliver AENs.
    pub aen_ready: Notify,
    /// Feature values Set Features stores and Get Features reports.
    pub feat: Mutex<super::admin::Features>,
}

impl Controller {
    pub fn new(
        cntlid: u16,
        subsys: Arc<Subsystem>,
        hostnqn: String,
        hostid: [u8; 16],
        listener: Option<Arc<SubsysListener>>,
        kato_ms: u32,
        io_queues_max: u16,
    ) -> Self {
        // SPDK enables the notices it supports when the controller is made,
        // before any Set Features from the host.
        let aec = if subsys.ana_reporting {
            AEC_ANA_CHANGE_NOTICE | AEC_NS_ATTR_NOTICE
        } else {
            AEC_NS_ATTR_NOTICE
        };
        Controller {
            cntlid,
            subsys,
            hostnqn,
            hostid,
            listener,
            kato_ms: AtomicU32::new(kato_ms),
            state: Mutex::new(CtrlState {
                cc: 0,
                csts: 0,
                aec,
                aer_cids: VecDeque::new(),
                pending_aens: VecDeque::new(),
                masked: 0,
                io_queues_granted: io_queues_max,
                io_qids: BTreeSet::new(),
                last_keep_alive: Instant::now(),
            }),
            aen_ready: Notify::new(),
            feat: Mutex::new(Default::default()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, CtrlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// ANA state of a group as this controller sees it.
    pub fn ana_state(&self, anagrpid: u32) -> AnaState {
        match (&self.listener, self.subsys.ana_reporting) {
            (_, false) => AnaState::Optimized,
            (Some(l), true) => l.ana_state(anagrpid),
            (None, true) => AnaState::Inaccessible,
        }
    }

    /// Whether CC.EN=1 and CSTS.RDY=1: I/O queues may connect.
    pub fn is_ready(&self) -> bool {
        let s = self.state();
        s.cc & 1 == 1 && s.csts & 1 == 1
    }

    /// Raises an asynchronous event if the host enabled it and it is not
    /// masked; the admin queue delivers it on its next AER.
    pub fn raise_aen(&self, aec_bit: u32, dw0: u32) {
        let mut s = self.state();
        if s.aec & aec_bit == 0 || s.masked & aec_bit != 0 {
            return;
        }
        s.masked |= aec_bit;
        s.pending_aens.push_back(dw0);
        drop(s);
        self.aen_ready.notify_one();
    }

    /// Pairs pending events with outstanding AERs: (cid, dw0) to complete.
    pub fn take_aen_completions(&self) -> Vec<(u16, u32)> {
        let mut s = self.state();
        let mut out = Vec::new();
        while !s.pending_aens.is_empty() && !s.aer_cids.is_empty() {
            let (Some(cid), Some(dw0)) = (s.aer_cids.pop_front(), s.pending_aens.pop_front())
            else {
                break;
            };
            out.push((cid, dw0));
        }
        out
    }

    pub fn touch_keep_alive(&self) {
        self.state().last_keep_alive = Instant::now();
    }

    /// True once no Keep Alive arrived within KATO (0 disables the timer).
    pub fn keep_alive_expired(&self, now: Instant) -> bool {
        let kato = self.kato_ms.load(Ordering::Relaxed);
        if kato == 0 {
            return false;
        }
        let last = self.state().last_keep_alive;
        now.saturating_duration_since(last).as_millis() > kato as u128
    }
}
