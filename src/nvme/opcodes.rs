//! Command opcodes and identifiers from the NVMe Base, NVM Command Set and
//! NVMe-oF specifications.

/// Admin command opcodes.
pub mod admin {
    pub const DELETE_IO_SQ: u8 = 0x00;
    pub const CREATE_IO_SQ: u8 = 0x01;
    pub const GET_LOG_PAGE: u8 = 0x02;
    pub const DELETE_IO_CQ: u8 = 0x04;
    pub const CREATE_IO_CQ: u8 = 0x05;
    pub const IDENTIFY: u8 = 0x06;
    pub const ABORT: u8 = 0x08;
    pub const SET_FEATURES: u8 = 0x09;
    pub const GET_FEATURES: u8 = 0x0A;
    pub const ASYNC_EVENT_REQUEST: u8 = 0x0C;
    pub const NS_MANAGEMENT: u8 = 0x0D;
    pub const FIRMWARE_COMMIT: u8 = 0x10;
    pub const FIRMWARE_IMAGE_DOWNLOAD: u8 = 0x11;
    pub const DEVICE_SELF_TEST: u8 = 0x14;
    pub const NS_ATTACHMENT: u8 = 0x15;
    pub const KEEP_ALIVE: u8 = 0x18;
    pub const DIRECTIVE_SEND: u8 = 0x19;
    pub const DIRECTIVE_RECEIVE: u8 = 0x1A;
    pub const VIRTUALIZATION_MANAGEMENT: u8 = 0x1C;
    pub const NVME_MI_SEND: u8 = 0x1D;
    pub const NVME_MI_RECEIVE: u8 = 0x1E;
    pub const DOORBELL_BUFFER_CONFIG: u8 = 0x7C;
    /// Fabrics commands; the command is selected by FCTYPE (SQE byte 4).
    pub const FABRICS: u8 = 0x7F;
    pub const FORMAT_NVM: u8 = 0x80;
    pub const SECURITY_SEND: u8 = 0x81;
    pub const SECURITY_RECEIVE: u8 = 0x82;
    pub const SANITIZE: u8 = 0x84;
    pub const GET_LBA_STATUS: u8 = 0x86;
}

/// NVM command set I/O opcodes.
pub mod nvm {
    pub const FLUSH: u8 = 0x00;
    pub const WRITE: u8 = 0x01;
    pub const READ: u8 = 0x02;
    pub const WRITE_UNCORRECTABLE: u8 = 0x04;
    pub const COMPARE: u8 = 0x05;
    pub const WRITE_ZEROES: u8 = 0x08;
    pub const DSM: u8 = 0x09;
    pub const VERIFY: u8 = 0x0C;
    pub const RESERVATION_REGISTER: u8 = 0x0D;
    pub const RESERVATION_REPORT: u8 = 0x0E;
    pub const RESERVATION_ACQUIRE: u8 = 0x11;
    pub const RESERVATION_RELEASE: u8 = 0x15;
    pub const COPY: u8 = 0x19;
}

/// Reservation types (RTYPE).
pub mod rtype {
    pub const NONE: u8 = 0;
    pub const WRITE_EXCLUSIVE: u8 = 1;
    pub const EXCLUSIVE_ACCESS: u8 = 2;
    pub const WRITE_EXCLUSIVE_REG_ONLY: u8 = 3;
    pub const EXCLUSIVE_ACCESS_REG_ONLY: u8 = 4;
    pub const WRITE_EXCLUSIVE_ALL_REGS: u8 = 5;
    pub const EXCLUSIVE_ACCESS_ALL_REGS: u8 = 6;

    /// Short names, as operators and the console write them.
    pub fn name(t: u8) -> &'static str {
        match t {
            NONE => "none",
            WRITE_EXCLUSIVE => "write_exclusive",
            EXCLUSIVE_ACCESS => "exclusive_access",
            WRITE_EXCLUSIVE_REG_ONLY => "write_exclusive_reg_only",
            EXCLUSIVE_ACCESS_REG_ONLY => "exclusive_access_reg_only",
            WRITE_EXCLUSIVE_ALL_REGS => "write_exclusive_all_regs",
            EXCLUSIVE_ACCESS_ALL_REGS => "exclusive_access_all_regs",
            _ => "reserved",
        }
    }
}

/// Fabrics command types (FCTYPE, SQE byte 4 when OPC = 0x7F).
pub mod fctype {
    pub const PROPERTY_SET: u8 = 0x00;
    pub const CONNECT: u8 = 0x01;
    pub const PROPERTY_GET: u8 = 0x04;
    pub const AUTH_SEND: u8 = 0x05;
    pub const AUTH_RECV: u8 = 0x06;
    pub const DISCONNECT: u8 = 0x08;
}

/// Feature identifiers (Get/Set Features CDW10 bits 7:0).
pub mod feature {
    pub const ARBITRATION: u8 = 0x01;
    pub const POWER_MGMT: u8 = 0x02;
    pub const LBA_RANGE_TYPE: u8 = 0x03;
    pub const TEMP_THRESHOLD: u8 = 0x04;
    pub const ERROR_RECOVERY: u8 = 0x05;
    pub const VOLATILE_WRITE_CACHE: u8 = 0x06;
    pub const NUMBER_OF_QUEUES: u8 = 0x07;
    pub const INTERRUPT_COALESCING: u8 = 0x08;
    pub const INTERRUPT_VECTOR_CONFIG: u8 = 0x09;
    pub const WRITE_ATOMICITY: u8 = 0x0A;
    pub const ASYNC_EVENT_CONFIG: u8 = 0x0B;
    pub const AUTONOMOUS_POWER_STATE_TRANSITION: u8 = 0x0C;
    pub const HOST_MEM_BUFFER: u8 = 0x0D;
    pub const TIMESTAMP: u8 = 0x0E;
    pub const KEEP_ALIVE_TIMER: u8 = 0x0F;
    pub const HOST_CONTROLLED_THERMAL_MGMT: u8 = 0x10;
    pub const NON_OPERATIONAL_POWER_STATE: u8 = 0x11;
    pub const HOST_IDENTIFIER: u8 = 0x81;
    pub const RESERVATION_NOTIFICATION_MASK: u8 = 0x82;
    pub const RESERVATION_PERSISTENCE: u8 = 0x83;
}

/// Log page identifiers (Get Log Page CDW10 bits 7:0).
pub mod log_id {
    pub const ERROR: u8 = 0x01;
    pub const SMART: u8 = 0x02;
    pub const FIRMWARE_SLOT: u8 = 0x03;
    pub const CHANGED_NS_LIST: u8 = 0x04;
    pub const COMMANDS_SUPPORTED: u8 = 0x05;
    pub const DEVICE_SELF_TEST: u8 = 0x06;
    pub const TELEMETRY_HOST: u8 = 0x07;
    pub const TELEMETRY_CTRLR: u8 = 0x08;
    pub const ANA: u8 = 0x0C;
    pub const PERSISTENT_EVENT: u8 = 0x0D;
    pub const DISCOVERY: u8 = 0x70;
    pub const RESERVATION_NOTIFICATION: u8 = 0x80;
    pub const SANITIZE_STATUS: u8 = 0x81;
}

/// Identify CNS values (Identify CDW10 bits 7:0).
pub mod cns {
    pub const NAMESPACE: u8 = 0x00;
    pub const CONTROLLER: u8 = 0x01;
    pub const ACTIVE_NS_LIST: u8 = 0x02;
    pub const NS_ID_DESCRIPTORS: u8 = 0x03;
    pub const NVM_SET_LIST: u8 = 0x04;
    pub const CSI_NAMESPACE: u8 = 0x05;
    pub const CSI_CONTROLLER: u8 = 0x06;
    pub const CSI_ACTIVE_NS_LIST: u8 = 0x07;
    pub const ALLOCATED_NS_LIST: u8 = 0x10;
    pub const ALLOCATED_NS: u8 = 0x11;
    pub const NS_ATTACHED_CTRLR_LIST: u8 = 0x12;
    pub const CTRLR_LIST: u8 = 0x13;
    pub const PRIMARY_CTRLR_CAPS: u8 = 0x14;
    pub const SECONDARY_CTRLR_LIST: u8 = 0x15;
    pub const NS_GRANULARITY_LIST: u8 = 0x16;
    pub const UUID_LIST: u8 = 0x17;
    pub const IO_COMMAND_SET: u8 = 0x1C;
}

/// Asynchronous event types and information (AER completion DW0).
pub mod aer {
    pub const TYPE_ERROR: u8 = 0x0;
    pub const TYPE_SMART: u8 = 0x1;
    pub const TYPE_NOTICE: u8 = 0x2;
    pub const TYPE_IMMEDIATE: u8 = 0x3;
    pub const TYPE_IO_COMMAND_SET: u8 = 0x6;
    pub const TYPE_VENDOR: u8 = 0x7;
    // Notice information.
    pub const NOTICE_NS_ATTR_CHANGED: u8 = 0x00;
    pub const NOTICE_FW_ACTIVATION_STARTING: u8 = 0x01;
    pub const NOTICE_TELEMETRY_LOG_CHANGED: u8 = 0x02;
    pub const NOTICE_ANA_CHANGE: u8 = 0x03;
    pub const NOTICE_PREDICTABLE_LATENCY: u8 = 0x04;
    pub const NOTICE_LBA_STATUS_ALERT: u8 = 0x05;
    pub const NOTICE_ENDURANCE_GROUP_EVENT: u8 = 0x06;
    pub const NOTICE_DISCOVERY_LOG_CHANGE: u8 = 0xF0;
}

/// Which way a command moves data, from the opcode's two low bits (for
/// fabrics commands, from FCTYPE's two low bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataDir {
    /// 00b: no data.
    None,
    /// 01b: host to controller (write-like).
    HostToCtrl,
    /// 10b: controller to host (read-like).
    CtrlToHost,
    /// 11b: bidirectional.
    Bidir,
}

impl DataDir {
    const fn from_bits(b: u8) -> DataDir {
        match b & 0x3 {
            0 => DataDir::None,
            1 => DataDir::HostToCtrl,
            2 => DataDir::CtrlToHost,
            _ => DataDir::Bidir,
        }
    }
}

/// Data direction of an admin or I/O opcode (bits 1:0).
pub const fn data_direction(opc: u8) -> DataDir {
    DataDir::from_bits(opc)
}

/// Data direction of a fabrics command (FCTYPE bits 1:0). OPC 0x7F itself
/// says "bidirectional"; the real direction is in the command type.
pub const fn fabrics_data_direction(fctype: u8) -> DataDir {
    DataDir::from_bits(fctype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        assert_eq!(data_direction(nvm::WRITE), DataDir::HostToCtrl);
        assert_eq!(data_direction(nvm::READ), DataDir::CtrlToHost);
        assert_eq!(data_direction(nvm::FLUSH), DataDir::None);
        assert_eq!(data_direction(nvm::DSM), DataDir::HostToCtrl);
        assert_eq!(data_direction(nvm::WRITE_ZEROES), DataDir::None);
        assert_eq!(data_direction(admin::IDENTIFY), DataDir::CtrlToHost);
        assert_eq!(data_direction(admin::GET_LOG_PAGE), DataDir::CtrlToHost);
        assert_eq!(data_direction(admin::SET_FEATURES), DataDir::HostToCtrl);
        assert_eq!(data_direction(admin::GET_FEATURES), DataDir::CtrlToHost);
        assert_eq!(data_direction(admin::KEEP_ALIVE), DataDir::None);
        assert_eq!(data_direction(admin::ASYNC_EVENT_REQUEST), DataDir::None);
        assert_eq!(data_direction(admin::FABRICS), DataDir::Bidir);
        assert_eq!(fabrics_data_direction(fctype::CONNECT), DataDir::HostToCtrl);
        assert_eq!(fabrics_data_direction(fctype::PROPERTY_GET), DataDir::None);
        assert_eq!(fabrics_data_direction(fctype::PROPERTY_SET), DataDir::None);
        assert_eq!(
            fabrics_data_direction(fctype::AUTH_SEND),
            DataDir::HostToCtrl
        );
        assert_eq!(
            fabrics_data_direction(fctype::AUTH_RECV),
            DataDir::CtrlToHost
        );
    }
}
