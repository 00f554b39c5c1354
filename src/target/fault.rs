//! Faults injected on a listener address, for demos, tests and `bench
//! --chaos` (ours: SPDK has nothing like it). A fault applies to every
//! connection that arrived on the address, present and future, whatever
//! subsystem it serves, until it is cleared.
//!
//! * `Blackhole`: the connection keeps reading (so TCP on the host side sees
//!   its bytes acknowledged and never errors) but nothing is processed and
//!   nothing is sent — a partitioned path that only the host's keep-alive
//!   (or its I/O timeouts) can detect. Bytes were thrown away mid-PDU, so a
//!   connection that lived through a blackhole is closed when it is lifted.
//! * `Delay(ms)`: everything the connection sends is held for that long,
//!   in order — a slow path that stays correct.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

/// Longest response delay we accept: a delay is a slow path, not a dead one
/// (that is what a blackhole is for).
pub const MAX_DELAY_MS: u32 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum ListenerFault {
    #[default]
    None,
    Blackhole,
    Delay {
        delay_ms: u32,
    },
}

/// One watch channel per address that ever had a fault; connections
/// subscribe when they start, so a change reaches the ones already open.
#[derive(Default)]
pub struct Faults {
    by_addr: Mutex<HashMap<SocketAddr, watch::Sender<ListenerFault>>>,
}

impl Faults {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, watch::Sender<ListenerFault>>> {
        // Plain data: a panic elsewhere cannot leave it half-updated.
        self.by_addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, addr: SocketAddr, fault: ListenerFault) {
        self.map()
            .entry(addr)
            .or_insert_with(|| watch::channel(ListenerFault::None).0)
            .send_replace(fault);
    }

    /// The fault channel a new connection on `addr` follows.
    pub fn subscribe(&self, addr: SocketAddr) -> watch::Receiver<ListenerFault> {
        self.map()
            .entry(addr)
            .or_insert_with(|| watch::channel(ListenerFault::None).0)
            .subscribe()
    }

    /// Addresses with a fault in force, for `mpath_listener_get_faults`.
    pub fn active(&self) -> Vec<(SocketAddr, ListenerFault)> {
        let mut v: Vec<_> = self
            .map()
            .iter()
            .map(|(a, tx)| (*a, *tx.borrow()))
            .filter(|(_, f)| *f != ListenerFault::None)
            .collect();
        v.sort_by_key(|(a, _)| *a);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_see_later_changes() {
        let f = Faults::default();
        let a: SocketAddr = "127.0.0.1:4420".parse().unwrap();
        let mut rx = f.subscribe(a);
        assert_eq!(*rx.borrow_and_update(), ListenerFault::None);
        f.set(a, ListenerFault::Blackhole);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), ListenerFault::Blackhole);
        assert_eq!(f.active(), vec![(a, ListenerFault::Blackhole)]);
        f.set(a, ListenerFault::None);
        assert!(f.active().is_empty());
    }
}
