//! A namespace's reservations as the target runs them: the state behind a
//! lock, a flag that lets I/O skip the lock while nothing is reserved, and
//! the PTPL file written after each change that must survive a restart.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use uuid::Uuid;

use super::ptpl;
use super::reply::Reply;
use super::resv::{AcquireCmd, HostId, Notice, RegisterCmd, ReleaseCmd, Reservation};
use crate::nvme::opcodes::nvm;
use crate::nvme::sqe::Sqe;
use crate::nvme::status::Status;

#[derive(Debug, Default)]
pub struct NsReservation {
    state: Mutex<Reservation>,
    /// A reservation restricts access: only then do I/O commands take the
    /// lock to check it.
    restricted: AtomicBool,
    /// `nvmf_subsystem_add_ns --ptpl-file`: the namespace can persist.
    ptpl_file: Option<PathBuf>,
}

/// What a reservation command answers, and the notices it raised (already
/// filtered by the namespace's notification mask).
pub struct Executed {
    pub reply: Reply,
    pub notices: Vec<(HostId, Notice)>,
}

impl NsReservation {
    pub fn new(state: Reservation, ptpl_file: Option<PathBuf>) -> Self {
        NsReservation {
            restricted: AtomicBool::new(state.restricts()),
            state: Mutex::new(state),
            ptpl_file,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Reservation> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ptpl_capable(&self) -> bool {
        self.ptpl_file.is_some()
    }

    pub fn ptpl_file(&self) -> Option<&PathBuf> {
        self.ptpl_file.as_ref()
    }

    /// The I/O path's reservation check: false is Reservation Conflict.
    pub fn allows(&self, host: &HostId, sqe: &Sqe) -> bool {
        if !self.restricted.load(Ordering::Acquire) {
            return true;
        }
        self.state().allows(host, sqe.opc(), sqe.cdw(10))
    }

    /// Runs Register, Acquire, Release or Report from `host`; `data` is the
    /// command's host-to-controller data, `xfer_len` its SGL length.
    pub fn execute(&self, host: &HostId, sqe: &Sqe, data: &[u8], bdev_uuid: &Uuid) -> Executed {
        let cdw10 = sqe.cdw(10);
        let mut st = self.state();
        let out = match sqe.opc() {
            nvm::RESERVATION_REGISTER => match RegisterCmd::parse(cdw10, data) {
                Some(c) => st.register(host, c, self.ptpl_capable()),
                None => return refused(Status::INVALID_FIELD),
            },
            nvm::RESERVATION_ACQUIRE => match AcquireCmd::parse(cdw10, data) {
                Some(c) => st.acquire(host, c),
                None => return refused(Status::INVALID_FIELD),
            },
            nvm::RESERVATION_RELEASE => match ReleaseCmd::parse(cdw10, data) {
                Some(c) => st.release(host, c),
                None => return refused(Status::INVALID_FIELD),
            },
            nvm::RESERVATION_REPORT => {
                let numd_len = (cdw10 as usize).saturating_add(1).saturating_mul(4);
                let reply = match st.report(sqe.cdw(11) & 1 == 1, numd_len) {
                    Ok(b) => Reply::data(Bytes::from(b)),
                    Err(s) => Reply::status(s),
                };
                return Executed {
                    reply,
                    notices: Vec::new(),
                };
            }
            _ => return refused(Status::INVALID_OPCODE.with_dnr()),
        };
        let mut status = out.status;
        // Register writes the file after any change (an empty one while PTPL
        // is off); the others only while PTPL is on, as SPDK does.
        let persist = st.ptpl || sqe.opc() == nvm::RESERVATION_REGISTER;
        if let (true, true, Some(path)) = (out.changed, persist, &self.ptpl_file) {
            if let Err(e) = ptpl::save(path, &st, bdev_uuid) {
                tracing::warn!("PTPL file {}: {e}", path.display());
                // The change stands in memory; the host learns it did not
                // persist.
                if status.is_success() {
                    status = Status::INTERNAL;
                }
            }
        }
        self.restricted.store(st.restricts(), Ordering::Release);
        let notices = st.unmasked(out.notices);
        Executed {
            reply: Reply::status(status),
            notices,
        }
    }
}

fn refused(s: Status) -> Executed {
    Executed {
        reply: Reply::status(s),
        notices: Vec::new(),
    }
}
