//! NVM I/O commands on a namespace: Read, Write, Flush, Write Zeroes, with
//! the ANA path check SPDK makes before touching the bdev.

use bytes::BytesMut;

use super::controller::Controller;
use super::reply::Reply;
use super::subsystem::Namespace;
use crate::nvme::fabrics::RwCommand;
use crate::nvme::log::AnaState;
use crate::nvme::opcodes as op;
use crate::nvme::sqe::Sqe;
use crate::nvme::status::Status;

/// The path status for I/O through a controller whose ANA group is not
/// accessible: SCT 3, DNR clear so that hosts fail over (as SPDK and nvmet).
pub fn ana_status(state: AnaState) -> Option<Status> {
    match state {
        AnaState::Optimized | AnaState::NonOptimized => None,
        AnaState::Inaccessible => Some(Status::ASYMMETRIC_ACCESS_INACCESSIBLE),
        AnaState::PersistentLoss => Some(Status::ASYMMETRIC_ACCESS_PERSISTENT_LOSS),
        AnaState::Change => Some(Status::ASYMMETRIC_ACCESS_TRANSITION),
    }
}

/// Looks up the namespace and checks the path: the first two checks of
/// every I/O command, in SPDK's order.
pub fn resolve(ctrl: &Controller, sqe: &Sqe) -> Result<std::sync::Arc<Namespace>, Status> {
    let ns = ctrl
        .subsys
        .namespace(sqe.nsid())
        .ok_or(Status::INVALID_NS.with_dnr())?;
    if let Some(st) = ana_status(ctrl.ana_state(ns.anagrpid)) {
        return Err(st);
    }
    Ok(ns)
}

/// Byte length of a Read/Write, after checking the LBA range.
pub fn rw_len(ns: &Namespace, sqe: &Sqe) -> Result<(u64, usize), Status> {
    let rw = RwCommand::from_sqe(sqe);
    let nlb = rw.nlb as u64 + 1;
    ns.bdev
        .check_range(rw.slba, nlb)
        .map_err(|_| Status::LBA_OUT_OF_RANGE.with_dnr())?;
    Ok((rw.slba, (nlb * ns.bdev.block_size as u64) as usize))
}

/// Appends a Read's data to `out` (the connection's send buffer).
pub fn read_into(ns: &Namespace, slba: u64, len: usize, out: &mut BytesMut) -> Result<(), Status> {
    ns.bdev
        .read_into(slba, len, out)
        .map_err(|_| Status::LBA_OUT_OF_RANGE.with_dnr())
}

pub fn write(ns: &Namespace, slba: u64, data: &[u8]) -> Reply {
    match ns.bdev.write(slba, data) {
        Ok(()) => Reply::ok(),
        Err(_) => Reply::status(Status::LBA_OUT_OF_RANGE.with_dnr()),
    }
}

/// Commands that move no data: Flush and Write Zeroes.
pub fn no_data(ns: &Namespace, sqe: &Sqe) -> Reply {
    match sqe.opc() {
        // RAM has nothing to flush; the completion orders after prior writes
        // because commands on a queue complete in order here.
        op::nvm::FLUSH => Reply::ok(),
        op::nvm::WRITE_ZEROES => {
            let rw = RwCommand::from_sqe(sqe);
            match ns.bdev.write_zeroes(rw.slba, rw.nlb as u64 + 1) {
                Ok(()) => Reply::ok(),
                Err(_) => Reply::status(Status::LBA_OUT_OF_RANGE.with_dnr()),
            }
        }
        _ => Reply::status(Status::INVALID_OPCODE.with_dnr()),
    }
}
