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
/// Type 6 (I/O command specific), Reservation Log Page Available, log 80h.
pub const AEN_RESERVATION_LOG: u32 = 0x0080_0006;

/// The most Reservation Notification log entries a controller queues.
const RESV_LOG_MAX: usize = 255;

/// One Reservation Notification log page entry (64 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResvLogEntry {
    pub count: u64,
    pub kind: u8,
    /// Entries queued ahead of this one when it was queued, as SPDK sets
    /// NALP (it does not change afterwards).
    pub nalp: u8,
    pub nsid: u32,
}

impl ResvLogEntry {
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&self.count.to_le_bytes());
        b[8] = self.kind;
        b[9] = self.nalp;
        b[12..16].copy_from_slice(&self.nsid.to_le_bytes());
        b
    }
}

/// The controller's queue of reservation notices (log page 80h).
#[derive(Debug, Default)]
pub struct ResvLog {
    /// Notices ever queued for this controller, overflowed ones included.
    pub count: u64,
    pub entries: VecDeque<ResvLogEntry>,
    /// An AEN was sent and no log read with RAE=0 has followed.
    pub aen_masked: bool,
}

impl ResvLog {
    /// Queues a notice; `true` when an AEN is due. Past 255 entries the
    /// newest notice only updates the last entry's count, so the host sees
    /// the gap.
    fn push(&mut self, nsid: u32, kind: u8) -> bool {
        self.count += 1;
        if self.entries.len() >= RESV_LOG_MAX {
            if let Some(last) = self.entries.back_mut() {
                last.count = self.count;
            }
            return false;
        }
        let nalp = self.entries.len() as u8;
        self.entries.push_back(ResvLogEntry {
            count: self.count,
            kind,
            nalp,
            nsid,
        });
        !std::mem::replace(&mut self.aen_masked, true)
    }

    /// Get Log Page 80h: consecutive entries from byte `offset`, `len`
    /// bytes (zero-filled past the last entry). Every entry read or walked
    /// past is consumed, as in SPDK.
    pub fn read(&mut self, offset: u64, len: usize, rae: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let avail = self.entries.len() as u64 * 64;
        let mut pos = 0u64;
        if offset < avail {
            while out.len() < len {
                let Some(e) = self.entries.pop_front() else {
                    break;
                };
                let bytes = e.to_bytes();
                let end = pos + 64;
                if end > offset {
                    let from = offset.saturating_sub(pos) as usize;
                    let n = (64 - from).min(len - out.len());
                    out.extend_from_slice(&bytes[from..from + n]);
                }
                pos = end;
            }
        }
        if !rae {
            self.aen_masked = false;
        }
        out.resize(len, 0);
        out
    }
}

/// AERL advertised in Identify (0's based): up to 4 outstanding AERs.
pub const AERL: u8 = 3;

#[derive(Debug)]
pub struct CtrlState {
    pub cc: u32,
    pub csts: u32,
    /// Admin queue attributes and base addresses: kept as written (a
    /// fabrics controller has no memory queues to place).
    pub aqa: u32,
    pub asq: u64,
    pub acq: u64,
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
    pub resv_log: ResvLog,
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
                aqa: 0,
                asq: 0,
                acq: 0,
                aec,
                aer_cids: VecDeque::new(),
                pending_aens: VecDeque::new(),
                masked: 0,
                io_queues_granted: io_queues_max,
                io_qids: BTreeSet::new(),
                last_keep_alive: Instant::now(),
                resv_log: ResvLog::default(),
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

    /// Queues a reservation notice for this controller. Its AEN is not
    /// gated by Asynchronous Event Configuration, only by the log's own
    /// mask (cleared by a log read with RAE=0).
    pub fn add_reservation_notice(&self, nsid: u32, n: super::resv::Notice) {
        let mut s = self.state();
        if s.resv_log.push(nsid, n as u8) {
            s.pending_aens.push_back(AEN_RESERVATION_LOG);
            drop(s);
            self.aen_ready.notify_one();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// SPDK's queue: counts 1.., NALP rising, the 255th entry carrying the
    /// newest count after an overflow, reads consuming what they pass.
    #[test]
    fn reservation_log_queue_and_reads() {
        let mut log = ResvLog::default();
        assert!(log.push(1, 2), "the first notice raises an AEN");
        assert!(!log.push(1, 2), "no second AEN before a RAE=0 read");
        for _ in 2..300 {
            log.push(1, 1);
        }
        assert_eq!(log.entries.len(), 255);
        assert_eq!(log.entries[254].count, 300);
        assert_eq!(log.entries[254].nalp, 254);
        // Offset 64, 32 bytes: entry 1 skipped (consumed), entry 2 half read.
        let b = log.read(64, 32, true);
        assert_eq!(u64::from_le_bytes(b[0..8].try_into().unwrap()), 2);
        assert_eq!(b[9], 1);
        assert_eq!(log.entries.len(), 253);
        assert_eq!(log.entries[0].count, 3);
        assert!(log.aen_masked, "RAE=1 keeps the AEN masked");
        let b = log.read(0, 64, false);
        assert_eq!((b[8], b.len()), (1, 64));
        assert!(!log.aen_masked);
        // Empty queue: zeroes.
        let mut empty = ResvLog::default();
        assert_eq!(empty.read(0, 128, false), vec![0u8; 128]);
    }
}
