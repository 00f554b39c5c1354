//! Controller properties over fabrics: Property Get and Property Set on the
//! admin queue. The registers are SPDK v24.09's (`nvmf_props` in
//! `lib/nvmf/ctrlr.c`): CAP, VS, CC, CSTS, AQA, ASQ, ACQ. A 4-byte access
//! may read or write either half of an 8-byte register; any other offset,
//! a reserved size, or a write to a read-only register is Invalid
//! Parameter (SCT 1h, SC 82h), as SPDK answers it.

use super::admin::NVME_VERSION;
use super::controller::Controller;
use super::reply::Reply;
use super::transport::TcpTransportOpts;
use crate::nvme::fabrics::{property_size, PROPERTY_OFST, PROPERTY_VALUE};
use crate::nvme::sqe::Sqe;
use crate::nvme::status::Status;

/// CAP: MQES (filled in), CQR, TO 30 (15 s), CSS NVM — SPDK's value.
const CAP_BASE: u64 = 0x0000_0020_1e01_0000;

const CAP: u32 = 0x00;
const VS: u32 = 0x08;
const CC: u32 = 0x14;
const CSTS: u32 = 0x1C;
const AQA: u32 = 0x24;
const ASQ: u32 = 0x28;
const ACQ: u32 = 0x30;

/// (offset, size, writable)
const REGISTERS: [(u32, u32, bool); 7] = [
    (CAP, 8, false),
    (VS, 4, false),
    (CC, 4, true),
    (CSTS, 4, false),
    (AQA, 4, true),
    (ASQ, 8, true),
    (ACQ, 8, true),
];

/// The register an access of `size` bytes at `ofst` falls in, whole.
fn register(ofst: u32, size: u32) -> Option<(u32, u32, bool)> {
    REGISTERS
        .into_iter()
        .find(|&(o, s, _)| ofst >= o && ofst.checked_add(size).is_some_and(|e| e <= o + s))
}

fn invalid_param() -> Reply {
    Reply::status(Status::CONNECT_INVALID_PARAMS)
}

/// The queue's access: its size and the register it names.
fn access(sqe: &Sqe) -> Option<(u32, u32, (u32, u32, bool))> {
    let size = property_size(sqe)?;
    let ofst = sqe.u32_at(PROPERTY_OFST);
    Some((size, ofst, register(ofst, size)?))
}

pub fn get(opts: &TcpTransportOpts, ctrl: &Controller, sqe: &Sqe) -> Reply {
    let Some((size, ofst, (reg, reg_size, _))) = access(sqe) else {
        return invalid_param();
    };
    let s = ctrl.state();
    let full: u64 = match reg {
        CAP => CAP_BASE | opts.max_queue_depth.saturating_sub(1) as u64,
        VS => NVME_VERSION as u64,
        CC => s.cc as u64,
        CSTS => s.csts as u64,
        AQA => s.aqa as u64,
        ASQ => s.asq,
        _ => s.acq,
    };
    let value = if size == reg_size {
        full
    } else if ofst == reg {
        full & 0xFFFF_FFFF
    } else {
        full >> 32
    };
    Reply {
        dw0: value as u32,
        dw1: (value >> 32) as u32,
        ..Reply::ok()
    }
}

pub fn set(ctrl: &Controller, sqe: &Sqe) -> Reply {
    let Some((size, ofst, (reg, reg_size, writable))) = access(sqe) else {
        return invalid_param();
    };
    if !writable {
        return invalid_param();
    }
    let value = sqe.u64_at(PROPERTY_VALUE);
    let mut s = ctrl.state();
    match reg {
        CC => set_cc(&mut s, value as u32),
        AQA => {
            // ASQS and ACQS at least 1 (2 entries), reserved bits clear.
            let v = value as u32;
            if v & 0xFFF == 0 || (v >> 16) & 0xFFF == 0 || v & 0xF000_F000 != 0 {
                return invalid_param();
            }
            s.aqa = v;
        }
        _ => {
            let r = if reg == ASQ { &mut s.asq } else { &mut s.acq };
            *r = if size == reg_size {
                value
            } else if ofst == reg {
                (*r & !0xFFFF_FFFF) | (value & 0xFFFF_FFFF)
            } else {
                (*r & 0xFFFF_FFFF) | (value << 32)
            };
        }
    }
    Reply::ok()
}

/// CC: enabling sets RDY (or CFS for entry sizes NVMe/TCP does not know),
/// disabling resets the controller's events, SHN completes at once.
fn set_cc(s: &mut super::controller::CtrlState, cc: u32) {
    let was_enabled = s.cc & 1 == 1;
    let enable = cc & 1 == 1;
    if enable && !was_enabled {
        // IOSQES 6 and IOCQES 4 are the only entry sizes NVMe/TCP knows.
        let iosqes = (cc >> 16) & 0xF;
        let iocqes = (cc >> 20) & 0xF;
        let mps = (cc >> 7) & 0xF;
        if iosqes != 6 || iocqes != 4 || mps != 0 {
            s.csts |= 0x2; // CFS
        } else {
            s.csts |= 0x1; // RDY
        }
    } else if !enable && was_enabled {
        // Reset: outstanding AERs are dropped with the old state.
        s.csts &= !0x1;
        s.aer_cids.clear();
        s.pending_aens.clear();
    }
    // SHN: a normal or abrupt shutdown completes at once for RAM.
    if (cc >> 14) & 0x3 != 0 {
        s.csts = (s.csts & !0xC) | 0x8;
    } else {
        s.csts &= !0xC;
    }
    s.cc = cc;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_fall_in_whole_registers() {
        assert_eq!(register(0x00, 8), Some((CAP, 8, false)));
        assert_eq!(register(0x04, 4), Some((CAP, 8, false)), "CAP's top half");
        assert_eq!(register(0x2C, 4), Some((ASQ, 8, true)));
        assert_eq!(register(0x14, 8), None, "8 bytes at CC spill into 0x18");
        assert_eq!(register(0x18, 4), None);
        assert_eq!(register(0x38, 4), None);
        assert_eq!(register(u32::MAX, 4), None);
    }
}
