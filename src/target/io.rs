//! NVM I/O commands on a namespace: Read, Write, Flush, Write Zeroes,
//! Compare, Dataset Management, Copy and fused Compare and Write, with the
//! ANA path check SPDK makes before touching the bdev.

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

/// Compare: Compare Failure (SCT 2, 85h) when the blocks differ.
pub fn compare(ns: &Namespace, sqe: &Sqe, data: &[u8]) -> Reply {
    let (slba, len) = match rw_len(ns, sqe) {
        Ok(x) => x,
        Err(st) => return Reply::status(st),
    };
    if data.len() < len {
        return Reply::status(Status::DATA_SGL_LENGTH_INVALID);
    }
    match ns.bdev.compare(slba, &data[..len]) {
        Ok(true) => Reply::ok(),
        Ok(false) => Reply::status(Status::COMPARE_FAILURE),
        Err(_) => Reply::status(Status::LBA_OUT_OF_RANGE.with_dnr()),
    }
}

/// Fused Compare and Write, atomic against every other writer: the
/// completions of the Compare and of the Write. A failed compare (or a bad
/// command) fails the Compare with its reason and the Write with Aborted
/// due to Failed Fused Command, as SPDK completes them.
pub fn compare_and_write(
    ns: &Namespace,
    cmp: &Sqe,
    cmp_data: &[u8],
    write: &Sqe,
    data: &[u8],
) -> (Reply, Reply) {
    let failed = |st: Status| {
        (
            Reply::status(st),
            Reply::status(Status::ABORTED_FAILED_FUSED),
        )
    };
    let (c, w) = (RwCommand::from_sqe(cmp), RwCommand::from_sqe(write));
    if (c.slba, c.nlb) != (w.slba, w.nlb) {
        return failed(Status::INVALID_FIELD);
    }
    let (slba, len) = match rw_len(ns, write) {
        Ok(x) => x,
        Err(st) => return failed(st),
    };
    if data.len() < len || cmp_data.len() < len {
        return failed(Status::DATA_SGL_LENGTH_INVALID);
    }
    match ns
        .bdev
        .compare_and_write(slba, &cmp_data[..len], &data[..len])
    {
        Ok(true) => (Reply::ok(), Reply::ok()),
        Ok(false) => failed(Status::COMPARE_FAILURE),
        Err(_) => failed(Status::LBA_OUT_OF_RANGE.with_dnr()),
    }
}

/// Dataset Management: with the Deallocate attribute (CDW11 bit 2), each
/// of the NR+1 ranges (16 bytes: attributes, length in blocks, start LBA)
/// is deallocated and then reads as zeroes; the other attributes are hints
/// and change nothing. A range of length 0 is skipped; a range past the
/// end fails the command with LBA Out of Range after the ranges before it.
pub fn dataset_management(ns: &Namespace, sqe: &Sqe, data: &[u8]) -> Reply {
    let nr = (sqe.cdw(10) & 0xFF) as usize + 1;
    if nr * 16 > data.len() {
        return Reply::status(Status::DATA_SGL_LENGTH_INVALID);
    }
    if sqe.cdw(11) & 0x4 == 0 {
        return Reply::ok();
    }
    for r in data[..nr * 16].chunks_exact(16) {
        let nlb = u32::from_le_bytes([r[4], r[5], r[6], r[7]]) as u64;
        let slba = u64::from_le_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]);
        if nlb == 0 {
            continue;
        }
        if ns.bdev.deallocate(slba, nlb).is_err() {
            return Reply::status(Status::LBA_OUT_OF_RANGE.with_dnr());
        }
    }
    Reply::ok()
}

/// Copy, source range format 0 with one range (NR 0), as SPDK offers it:
/// SDLBA in CDW10/11, the 32-byte range holds SLBA at 8 and NLB (0's
/// based) at 16.
pub fn copy(ns: &Namespace, sqe: &Sqe, data: &[u8]) -> Reply {
    let sdlba = (sqe.cdw(11) as u64) << 32 | sqe.cdw(10) as u64;
    let cdw12 = sqe.cdw(12);
    let nr = (cdw12 & 0xFF) as usize;
    let df = (cdw12 >> 8) & 0xF;
    if data.len() != (nr + 1) * 32 {
        return Reply::status(Status::DATA_SGL_LENGTH_INVALID);
    }
    if nr > 0 {
        return Reply::status(Status::COMMAND_SIZE_LIMIT_EXCEEDED);
    }
    if df != 0 {
        return Reply::status(Status::INVALID_FIELD);
    }
    let slba = u64::from_le_bytes(data[8..16].try_into().unwrap_or([0; 8]));
    let nlb = u16::from_le_bytes([data[16], data[17]]) as u64 + 1;
    match ns.bdev.copy_blocks(slba, nlb, sdlba) {
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
        // DEAC (deallocate) is honoured by zeroing too: a malloc bdev reads
        // deallocated blocks as zeroes.
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
