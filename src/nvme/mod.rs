//! The NVMe and NVMe/TCP wire, with no I/O: PDUs and their framing
//! ([`pdu`]), SQE/CQE ([`sqe`]), status codes ([`status`]), opcodes and
//! identifiers ([`opcodes`]), fabrics commands, controller registers and
//! admin/I/O command views ([`fabrics`]), Identify data ([`identify`]), log
//! pages ([`log`]) and CRC32C digests ([`digest`]).
//!
//! Nothing here touches tokio or sockets: every function maps bytes to
//! values and back, bounds every length read from the wire before
//! allocating, and never panics on input.

// Wire parsing needs no unsafe code; keep it that way.
#![forbid(unsafe_code)]

mod bytes;
pub mod digest;
pub mod fabrics;
pub mod identify;
pub mod log;
pub mod opcodes;
pub mod pdu;
pub mod sqe;
pub mod status;

pub use opcodes::DataDir;
pub use pdu::{encode, term_req_for, Decoded, Decoder, Fes, Framing, Pdu, PduError, PduType, Role};
pub use sqe::{Cqe, SglDescriptor, Sqe};
pub use status::Status;
