//! The TCP transport's options (`nvmf_create_transport -t tcp`), with SPDK
//! v24.09's defaults and its `nvmf_get_transports` shape.

use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct TcpTransportOpts {
    pub max_queue_depth: u16,
    pub max_io_qpairs_per_ctrlr: u16,
    pub in_capsule_data_size: u32,
    pub max_io_size: u32,
    pub io_unit_size: u32,
    pub max_aq_depth: u32,
    pub num_shared_buffers: u32,
    pub buf_cache_size: u32,
    pub dif_insert_or_strip: bool,
    pub zcopy: bool,
    /// C2H success optimisation: the last C2HData of a read carries SUCCESS
    /// and no CapsuleResp follows (only where the host disabled SQ flow
    /// control). `-o` on the command line turns it off.
    pub c2h_success: bool,
    pub sock_priority: u32,
    pub abort_timeout_sec: u32,
    pub ack_timeout: u32,
    pub data_wr_pool_size: u32,
}

impl Default for TcpTransportOpts {
    fn default() -> Self {
        TcpTransportOpts {
            max_queue_depth: 128,
            max_io_qpairs_per_ctrlr: 127,
            in_capsule_data_size: 4096,
            max_io_size: 131072,
            io_unit_size: 131072,
            max_aq_depth: 128,
            num_shared_buffers: 511,
            buf_cache_size: u32::MAX,
            dif_insert_or_strip: false,
            zcopy: false,
            c2h_success: true,
            sock_priority: 0,
            abort_timeout_sec: 1,
            ack_timeout: 0,
            data_wr_pool_size: 0,
        }
    }
}

impl TcpTransportOpts {
    /// Admin and fabrics commands may carry up to 8 KiB in-capsule on any
    /// queue whatever IOCCSZ says (both the Linux and SPDK hosts do).
    pub const ADMIN_ICD_MAX: u32 = 8192;

    /// MAXH2CDATA we advertise in ICResp: one H2CData may carry a whole
    /// maximal command, as SPDK does.
    pub fn maxh2cdata(&self) -> u32 {
        self.max_io_size
    }

    /// `nvmf_get_transports` entry, SPDK v24.09 key order.
    pub fn to_json(&self) -> Value {
        json!({
            "trtype": "TCP",
            "max_queue_depth": self.max_queue_depth,
            "max_io_qpairs_per_ctrlr": self.max_io_qpairs_per_ctrlr,
            "in_capsule_data_size": self.in_capsule_data_size,
            "max_io_size": self.max_io_size,
            "io_unit_size": self.io_unit_size,
            "max_aq_depth": self.max_aq_depth,
            "num_shared_buffers": self.num_shared_buffers,
            "buf_cache_size": self.buf_cache_size,
            "dif_insert_or_strip": self.dif_insert_or_strip,
            "zcopy": self.zcopy,
            "c2h_success": self.c2h_success,
            "sock_priority": self.sock_priority,
            "abort_timeout_sec": self.abort_timeout_sec,
            "ack_timeout": self.ack_timeout,
            "data_wr_pool_size": self.data_wr_pool_size,
        })
    }
}
