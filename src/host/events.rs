//! What the initiator did and saw, in order: AENs, ANA log reads, lost and
//! regained paths, path switches. The console's Events pane shows it; tests
//! read it to time failovers.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Events kept; older ones are dropped.
const CAPACITY: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    Aen {
        path: String,
        dw0: u32,
    },
    AnaLog {
        path: String,
        changes: Vec<String>,
    },
    PathLost {
        path: String,
        reason: String,
    },
    Reconnected {
        path: String,
        after_ms: u64,
    },
    PathDeleted {
        path: String,
    },
    PathSwitch {
        bdev: String,
        from: Option<String>,
        to: Option<String>,
    },
}

impl fmt::Display for HostEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostEvent::Aen { path, dw0 } => {
                let what = if (dw0 >> 16) & 0xFF == 0x0C && (dw0 >> 8) & 0xFF == 0x03 {
                    "ANA change"
                } else {
                    "event"
                };
                write!(f, "AEN {what} (DW0 {dw0:#010x}) on {path}")
            }
            HostEvent::AnaLog { path, changes } if changes.is_empty() => {
                write!(f, "ANA log read on {path}: no change")
            }
            HostEvent::AnaLog { path, changes } => {
                write!(f, "ANA log read on {path}: {}", changes.join(", "))
            }
            HostEvent::PathLost { path, reason } => write!(f, "path {path} lost: {reason}"),
            HostEvent::Reconnected { path, after_ms } => {
                write!(f, "path {path} reconnected after {after_ms} ms")
            }
            HostEvent::PathDeleted { path } => {
                write!(f, "path {path} deleted (ctrlr_loss_timeout_sec expired)")
            }
            HostEvent::PathSwitch { bdev, from, to } => write!(
                f,
                "{bdev}: current path {} → {}",
                from.as_deref().unwrap_or("none"),
                to.as_deref().unwrap_or("none")
            ),
        }
    }
}

/// A shared, bounded, append-only log with sequence numbers, so readers can
/// ask for what is new since they last looked.
#[derive(Clone, Default)]
pub struct EventLog {
    inner: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    next_seq: u64,
    items: VecDeque<(u64, SystemTime, HostEvent)>,
}

impl EventLog {
    pub fn push(&self, e: HostEvent) {
        tracing::info!("{e}");
        let mut l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let seq = l.next_seq;
        l.next_seq += 1;
        if l.items.len() == CAPACITY {
            l.items.pop_front();
        }
        l.items.push_back((seq, SystemTime::now(), e));
    }

    /// Events with a sequence number ≥ `seq`.
    pub fn since(&self, seq: u64) -> Vec<(u64, SystemTime, HostEvent)> {
        let l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        l.items
            .iter()
            .filter(|(s, _, _)| *s >= seq)
            .cloned()
            .collect()
    }
}
