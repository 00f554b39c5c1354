//! NVMe completion status (CQE bytes 14..16).
//!
//! Layout of the raw u16: `P | SC<<1 | SCT<<9 | CRD<<12 | M<<14 | DNR<<15`
//! (P = phase tag, always 0 on fabrics). The kernel's `NVME_SC_*` constants are
//! this value shifted right by one.

use std::fmt;

/// Status Code Type values (3 bits).
pub mod sct {
    pub const GENERIC: u8 = 0x0;
    pub const COMMAND_SPECIFIC: u8 = 0x1;
    pub const MEDIA: u8 = 0x2;
    pub const PATH: u8 = 0x3;
    pub const VENDOR: u8 = 0x7;
}

/// A completion status without the phase tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    /// Status Code Type (3 bits).
    pub sct: u8,
    /// Status Code.
    pub sc: u8,
    /// Command Retry Delay index (2 bits, 0 = retry at once).
    pub crd: u8,
    /// More: extra information in the Error log page.
    pub more: bool,
    /// Do Not Retry. Linux does not fail over a path error that carries DNR.
    pub dnr: bool,
}

impl Default for Status {
    fn default() -> Self {
        Status::SUCCESS
    }
}

impl Status {
    pub const fn new(sct: u8, sc: u8) -> Status {
        Status {
            sct: sct & 0x7,
            sc,
            crd: 0,
            more: false,
            dnr: false,
        }
    }
    /// SCT 0, generic command status.
    pub const fn generic(sc: u8) -> Status {
        Status::new(sct::GENERIC, sc)
    }
    /// SCT 1, command specific status.
    pub const fn cmd_specific(sc: u8) -> Status {
        Status::new(sct::COMMAND_SPECIFIC, sc)
    }
    /// SCT 2, media and data integrity errors.
    pub const fn media(sc: u8) -> Status {
        Status::new(sct::MEDIA, sc)
    }
    /// SCT 3, path related status.
    pub const fn path(sc: u8) -> Status {
        Status::new(sct::PATH, sc)
    }
    /// The same status with Do Not Retry set.
    pub const fn with_dnr(self) -> Status {
        Status { dnr: true, ..self }
    }
    /// The same status with DNR cleared.
    pub const fn without_dnr(self) -> Status {
        Status { dnr: false, ..self }
    }
    /// The same status with the More bit set.
    pub const fn with_more(self) -> Status {
        Status { more: true, ..self }
    }
    /// The same status with a Command Retry Delay index (0..=3).
    pub const fn with_crd(self, crd: u8) -> Status {
        Status {
            crd: crd & 0x3,
            ..self
        }
    }
    pub const fn is_success(&self) -> bool {
        self.sct == sct::GENERIC && self.sc == 0
    }
    /// SCT 3: the host may retry the command on another path (unless DNR).
    pub const fn is_path_error(&self) -> bool {
        self.sct == sct::PATH
    }
    /// An ANA state error (SCT 3, SC 0x01..=0x03).
    pub const fn is_ana_error(&self) -> bool {
        self.sct == sct::PATH && self.sc >= 0x01 && self.sc <= 0x03
    }
    /// Same SCT and SC, ignoring CRD/M/DNR.
    pub const fn same_code(&self, other: Status) -> bool {
        self.sct == other.sct && self.sc == other.sc
    }

    /// The raw CQE status field with the given phase tag.
    pub const fn to_field(&self, phase: bool) -> u16 {
        (phase as u16)
            | ((self.sc as u16) << 1)
            | (((self.sct & 0x7) as u16) << 9)
            | (((self.crd & 0x3) as u16) << 12)
            | ((self.more as u16) << 14)
            | ((self.dnr as u16) << 15)
    }
    /// Parse a raw CQE status field; the phase tag is dropped.
    pub const fn from_field(v: u16) -> Status {
        Status {
            sc: ((v >> 1) & 0xFF) as u8,
            sct: ((v >> 9) & 0x7) as u8,
            crd: ((v >> 12) & 0x3) as u8,
            more: (v >> 14) & 1 != 0,
            dnr: (v >> 15) & 1 != 0,
        }
    }

    // --- SCT 0: generic command status ---
    pub const SUCCESS: Status = Status::generic(0x00);
    pub const INVALID_OPCODE: Status = Status::generic(0x01);
    pub const INVALID_FIELD: Status = Status::generic(0x02);
    pub const CID_CONFLICT: Status = Status::generic(0x03);
    pub const DATA_XFER_ERROR: Status = Status::generic(0x04);
    pub const ABORTED_POWER_LOSS: Status = Status::generic(0x05);
    pub const INTERNAL: Status = Status::generic(0x06);
    pub const ABORT_REQUESTED: Status = Status::generic(0x07);
    pub const ABORTED_SQ_DELETION: Status = Status::generic(0x08);
    pub const ABORTED_FAILED_FUSED: Status = Status::generic(0x09);
    pub const ABORTED_MISSING_FUSED: Status = Status::generic(0x0A);
    pub const INVALID_NS: Status = Status::generic(0x0B);
    pub const COMMAND_SEQUENCE_ERROR: Status = Status::generic(0x0C);
    pub const INVALID_SGL_SEGMENT_DESCRIPTOR: Status = Status::generic(0x0D);
    pub const INVALID_NUM_SGL_DESCRIPTORS: Status = Status::generic(0x0E);
    pub const DATA_SGL_LENGTH_INVALID: Status = Status::generic(0x0F);
    pub const METADATA_SGL_LENGTH_INVALID: Status = Status::generic(0x10);
    pub const SGL_DESCRIPTOR_TYPE_INVALID: Status = Status::generic(0x11);
    pub const INVALID_CONTROLLER_MEM_BUF: Status = Status::generic(0x12);
    pub const INVALID_PRP_OFFSET: Status = Status::generic(0x13);
    pub const ATOMIC_WRITE_UNIT_EXCEEDED: Status = Status::generic(0x14);
    pub const OPERATION_DENIED: Status = Status::generic(0x15);
    pub const SGL_OFFSET_INVALID: Status = Status::generic(0x16);
    pub const HOSTID_INCONSISTENT_FORMAT: Status = Status::generic(0x18);
    pub const KEEP_ALIVE_EXPIRED: Status = Status::generic(0x19);
    pub const KEEP_ALIVE_INVALID: Status = Status::generic(0x1A);
    pub const ABORTED_PREEMPT: Status = Status::generic(0x1B);
    pub const SANITIZE_FAILED: Status = Status::generic(0x1C);
    pub const SANITIZE_IN_PROGRESS: Status = Status::generic(0x1D);
    pub const SGL_DATA_BLOCK_GRANULARITY_INVALID: Status = Status::generic(0x1E);
    pub const COMMAND_INVALID_IN_CMB: Status = Status::generic(0x1F);
    pub const NS_WRITE_PROTECTED: Status = Status::generic(0x20);
    pub const COMMAND_INTERRUPTED: Status = Status::generic(0x21);
    pub const TRANSIENT_TRANSPORT_ERROR: Status = Status::generic(0x22);
    pub const PROHIBITED_BY_LOCKDOWN: Status = Status::generic(0x23);
    pub const ADMIN_COMMAND_MEDIA_NOT_READY: Status = Status::generic(0x24);
    // NVM command set specific codes in the generic range.
    pub const LBA_OUT_OF_RANGE: Status = Status::generic(0x80);
    pub const CAPACITY_EXCEEDED: Status = Status::generic(0x81);
    pub const NS_NOT_READY: Status = Status::generic(0x82);
    pub const RESERVATION_CONFLICT: Status = Status::generic(0x83);
    pub const FORMAT_IN_PROGRESS: Status = Status::generic(0x84);

    // --- SCT 1: command specific status ---
    pub const COMPLETION_QUEUE_INVALID: Status = Status::cmd_specific(0x00);
    pub const INVALID_QUEUE_IDENTIFIER: Status = Status::cmd_specific(0x01);
    pub const INVALID_QUEUE_SIZE: Status = Status::cmd_specific(0x02);
    pub const ABORT_COMMAND_LIMIT_EXCEEDED: Status = Status::cmd_specific(0x03);
    pub const ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED: Status = Status::cmd_specific(0x05);
    pub const INVALID_FIRMWARE_SLOT: Status = Status::cmd_specific(0x06);
    pub const INVALID_FIRMWARE_IMAGE: Status = Status::cmd_specific(0x07);
    pub const INVALID_INTERRUPT_VECTOR: Status = Status::cmd_specific(0x08);
    pub const INVALID_LOG_PAGE: Status = Status::cmd_specific(0x09);
    pub const INVALID_FORMAT: Status = Status::cmd_specific(0x0A);
    pub const INVALID_QUEUE_DELETION: Status = Status::cmd_specific(0x0C);
    pub const FEATURE_NOT_SAVEABLE: Status = Status::cmd_specific(0x0D);
    pub const FEATURE_NOT_CHANGEABLE: Status = Status::cmd_specific(0x0E);
    pub const FEATURE_NOT_NS_SPECIFIC: Status = Status::cmd_specific(0x0F);
    pub const NS_INSUFFICIENT_CAPACITY: Status = Status::cmd_specific(0x15);
    pub const NS_ID_UNAVAILABLE: Status = Status::cmd_specific(0x16);
    pub const NS_ALREADY_ATTACHED: Status = Status::cmd_specific(0x18);
    pub const NS_IS_PRIVATE: Status = Status::cmd_specific(0x19);
    pub const NS_NOT_ATTACHED: Status = Status::cmd_specific(0x1A);
    pub const INVALID_CONTROLLER_LIST: Status = Status::cmd_specific(0x1C);
    pub const ANA_GROUP_ID_INVALID: Status = Status::cmd_specific(0x24);
    /// Copy: more source ranges or blocks than the namespace allows.
    pub const COMMAND_SIZE_LIMIT_EXCEEDED: Status = Status::cmd_specific(0x83);
    // Fabrics Connect (the same SC values mean other things for I/O commands).
    pub const CONNECT_INCOMPATIBLE_FORMAT: Status = Status::cmd_specific(0x80);
    pub const CONNECT_CTRL_BUSY: Status = Status::cmd_specific(0x81);
    pub const CONNECT_INVALID_PARAMS: Status = Status::cmd_specific(0x82);
    pub const CONNECT_RESTART_DISCOVERY: Status = Status::cmd_specific(0x83);
    pub const CONNECT_INVALID_HOST: Status = Status::cmd_specific(0x84);
    // NVM I/O command specific meanings of 0x80..0x82.
    pub const CONFLICTING_ATTRIBUTES: Status = Status::cmd_specific(0x80);
    pub const INVALID_PROTECTION_INFO: Status = Status::cmd_specific(0x81);
    pub const WRITE_TO_READ_ONLY_RANGE: Status = Status::cmd_specific(0x82);

    // --- SCT 2: media and data integrity errors ---
    pub const WRITE_FAULT: Status = Status::media(0x80);
    pub const UNRECOVERED_READ_ERROR: Status = Status::media(0x81);
    pub const COMPARE_FAILURE: Status = Status::media(0x85);
    pub const ACCESS_DENIED: Status = Status::media(0x86);
    pub const DEALLOCATED_OR_UNWRITTEN_BLOCK: Status = Status::media(0x87);

    // --- SCT 3: path related status ---
    pub const INTERNAL_PATH_ERROR: Status = Status::path(0x00);
    pub const ASYMMETRIC_ACCESS_PERSISTENT_LOSS: Status = Status::path(0x01);
    pub const ASYMMETRIC_ACCESS_INACCESSIBLE: Status = Status::path(0x02);
    pub const ASYMMETRIC_ACCESS_TRANSITION: Status = Status::path(0x03);
    pub const CONTROLLER_PATHING_ERROR: Status = Status::path(0x60);
    pub const HOST_PATHING_ERROR: Status = Status::path(0x70);
    pub const ABORTED_BY_HOST: Status = Status::path(0x71);

    /// A short human name for the status code, if it is one we know.
    /// SCT 1 codes 0x80..=0x82 are named by their fabrics Connect meaning.
    pub fn name(&self) -> Option<&'static str> {
        let n = match (self.sct, self.sc) {
            (sct::GENERIC, sc) => match sc {
                0x00 => "Success",
                0x01 => "Invalid Command Opcode",
                0x02 => "Invalid Field in Command",
                0x03 => "Command ID Conflict",
                0x04 => "Data Transfer Error",
                0x05 => "Aborted: Power Loss",
                0x06 => "Internal Error",
                0x07 => "Command Abort Requested",
                0x08 => "Aborted: SQ Deletion",
                0x09 => "Aborted: Failed Fused",
                0x0A => "Aborted: Missing Fused",
                0x0B => "Invalid Namespace or Format",
                0x0C => "Command Sequence Error",
                0x0D => "Invalid SGL Segment Descriptor",
                0x0E => "Invalid Number of SGL Descriptors",
                0x0F => "Data SGL Length Invalid",
                0x10 => "Metadata SGL Length Invalid",
                0x11 => "SGL Descriptor Type Invalid",
                0x12 => "Invalid Use of Controller Memory Buffer",
                0x13 => "PRP Offset Invalid",
                0x14 => "Atomic Write Unit Exceeded",
                0x15 => "Operation Denied",
                0x16 => "SGL Offset Invalid",
                0x18 => "Host Identifier Inconsistent Format",
                0x19 => "Keep Alive Timer Expired",
                0x1A => "Keep Alive Timeout Invalid",
                0x1B => "Aborted: Preempt and Abort",
                0x1C => "Sanitize Failed",
                0x1D => "Sanitize In Progress",
                0x1E => "SGL Data Block Granularity Invalid",
                0x1F => "Command Not Supported for Queue in CMB",
                0x20 => "Namespace Is Write Protected",
                0x21 => "Command Interrupted",
                0x22 => "Transient Transport Error",
                0x23 => "Prohibited by Command and Feature Lockdown",
                0x24 => "Admin Command Media Not Ready",
                0x80 => "LBA Out of Range",
                0x81 => "Capacity Exceeded",
                0x82 => "Namespace Not Ready",
                0x83 => "Reservation Conflict",
                0x84 => "Format In Progress",
                _ => return None,
            },
            (sct::COMMAND_SPECIFIC, sc) => match sc {
                0x00 => "Completion Queue Invalid",
                0x01 => "Invalid Queue Identifier",
                0x02 => "Invalid Queue Size",
                0x03 => "Abort Command Limit Exceeded",
                0x05 => "Asynchronous Event Request Limit Exceeded",
                0x06 => "Invalid Firmware Slot",
                0x07 => "Invalid Firmware Image",
                0x08 => "Invalid Interrupt Vector",
                0x09 => "Invalid Log Page",
                0x0A => "Invalid Format",
                0x0C => "Invalid Queue Deletion",
                0x0D => "Feature Identifier Not Saveable",
                0x0E => "Feature Not Changeable",
                0x0F => "Feature Not Namespace Specific",
                0x15 => "Namespace Insufficient Capacity",
                0x16 => "Namespace Identifier Unavailable",
                0x18 => "Namespace Already Attached",
                0x19 => "Namespace Is Private",
                0x1A => "Namespace Not Attached",
                0x1C => "Controller List Invalid",
                0x24 => "ANA Group Identifier Invalid",
                0x80 => "Connect Incompatible Format",
                0x81 => "Connect Controller Busy",
                0x82 => "Connect Invalid Parameters",
                0x83 => "Connect Restart Discovery",
                0x84 => "Connect Invalid Host",
                _ => return None,
            },
            (sct::MEDIA, sc) => match sc {
                0x80 => "Write Fault",
                0x81 => "Unrecovered Read Error",
                0x82 => "End-to-end Guard Check Error",
                0x83 => "End-to-end Application Tag Check Error",
                0x84 => "End-to-end Reference Tag Check Error",
                0x85 => "Compare Failure",
                0x86 => "Access Denied",
                0x87 => "Deallocated or Unwritten Logical Block",
                _ => return None,
            },
            (sct::PATH, sc) => match sc {
                0x00 => "Internal Path Error",
                0x01 => "Asymmetric Access Persistent Loss",
                0x02 => "Asymmetric Access Inaccessible",
                0x03 => "Asymmetric Access Transition",
                0x60 => "Controller Pathing Error",
                0x70 => "Host Pathing Error",
                0x71 => "Command Aborted By Host",
                _ => return None,
            },
            _ => return None,
        };
        Some(n)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n)?,
            None => write!(f, "SCT {:#x} SC {:#04x}", self.sct, self.sc)?,
        }
        if self.dnr {
            f.write_str(" (DNR)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_field_layout() {
        // Notes §4.2: ANA transition without DNR is 0x0606; the path codes'
        // raw values without DNR.
        assert_eq!(Status::ASYMMETRIC_ACCESS_TRANSITION.to_field(false), 0x0606);
        assert_eq!(Status::INTERNAL_PATH_ERROR.to_field(false), 0x0600);
        assert_eq!(
            Status::ASYMMETRIC_ACCESS_PERSISTENT_LOSS.to_field(false),
            0x0602
        );
        assert_eq!(
            Status::ASYMMETRIC_ACCESS_INACCESSIBLE.to_field(false),
            0x0604
        );
        assert_eq!(Status::CONTROLLER_PATHING_ERROR.to_field(false), 0x06C0);
        assert_eq!(Status::SUCCESS.to_field(false), 0);
        assert_eq!(Status::SUCCESS.to_field(true), 1);
        // Kernel NVME_SC_* = raw >> 1: Invalid Field + DNR = 0x4002.
        assert_eq!(
            Status::INVALID_FIELD.with_dnr().to_field(false) >> 1,
            0x4002
        );
        // Connect Invalid Parameters = SCT 1 SC 0x82 -> 0x0304 (kernel 0x182).
        assert_eq!(Status::CONNECT_INVALID_PARAMS.to_field(false), 0x0304);
        // Every bit position.
        let s = Status {
            sct: 7,
            sc: 0xFF,
            crd: 3,
            more: true,
            dnr: true,
        };
        assert_eq!(s.to_field(true), 0xFFFF);
        assert_eq!(Status::from_field(0xFFFF), s);
        assert_eq!(Status::with_crd(Status::SUCCESS, 2).to_field(false), 0x2000);
        assert_eq!(Status::SUCCESS.with_more().to_field(false), 0x4000);
    }

    #[test]
    fn round_trip_all_fields() {
        for v in 0..=u16::MAX {
            let s = Status::from_field(v);
            assert_eq!(s.to_field(v & 1 != 0), v);
        }
    }

    #[test]
    fn predicates_and_display() {
        assert!(Status::SUCCESS.is_success());
        assert!(!Status::INVALID_FIELD.is_success());
        assert!(!Status::path(0).is_success());
        assert!(Status::ASYMMETRIC_ACCESS_INACCESSIBLE.is_path_error());
        assert!(Status::ASYMMETRIC_ACCESS_INACCESSIBLE.is_ana_error());
        assert!(!Status::CONTROLLER_PATHING_ERROR.is_ana_error());
        assert!(!Status::LBA_OUT_OF_RANGE.is_path_error());
        assert!(Status::LBA_OUT_OF_RANGE
            .with_dnr()
            .same_code(Status::LBA_OUT_OF_RANGE));
        assert_eq!(
            Status::ASYMMETRIC_ACCESS_TRANSITION.to_string(),
            "Asymmetric Access Transition"
        );
        assert_eq!(
            Status::INVALID_NS.with_dnr().to_string(),
            "Invalid Namespace or Format (DNR)"
        );
        assert_eq!(Status::new(5, 0x42).to_string(), "SCT 0x5 SC 0x42");
        assert_eq!(Status::default(), Status::SUCCESS);
    }
}
