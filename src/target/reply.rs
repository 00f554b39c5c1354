//! What handling one command produces: a completion, and for commands that
//! move data to the host, the data to send first.

use bytes::Bytes;

use crate::nvme::status::Status;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: Status,
    pub dw0: u32,
    pub dw1: u32,
    /// Controller-to-host data, sent as C2HData before the completion.
    pub data: Option<Bytes>,
}

impl Reply {
    pub fn ok() -> Self {
        Reply::status(Status::SUCCESS)
    }

    pub fn status(status: Status) -> Self {
        Reply {
            status,
            dw0: 0,
            dw1: 0,
            data: None,
        }
    }

    pub fn dw0(dw0: u32) -> Self {
        Reply { dw0, ..Reply::ok() }
    }

    pub fn data(data: Bytes) -> Self {
        Reply {
            data: Some(data),
            ..Reply::ok()
        }
    }

    /// Invalid Field in Command, with DNR: the host must not retry it.
    pub fn invalid_field() -> Self {
        Reply::status(Status::INVALID_FIELD.with_dnr())
    }
}
