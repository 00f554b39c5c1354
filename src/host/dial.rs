//! How a queue pair reaches its controller: a TCP connection unless the
//! initiator was given a [`Dialer`]. A dialer hands back any byte stream
//! for an address, so a harness can play the controller in memory (the
//! initiator fuzz target plays a hostile one over `tokio::io::duplex`,
//! with no kernel socket per input) while everything above the stream —
//! ICReq, Connect, the queue pair's tasks, the controller and multipath —
//! runs exactly as over TCP.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

/// A duplex byte stream to a controller.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A connected stream and the local address it stands for (what the
/// connection tables show as the host side).
pub struct Dialed {
    pub stream: Box<dyn Stream>,
    pub local: SocketAddr,
}

pub type DialFuture = Pin<Box<dyn Future<Output = io::Result<Dialed>> + Send>>;

/// Opens a stream to a controller's address in place of `connect(2)`.
#[derive(Clone)]
pub struct Dialer(Arc<dyn Fn(SocketAddr) -> DialFuture + Send + Sync>);

impl Dialer {
    pub fn new(f: impl Fn(SocketAddr) -> DialFuture + Send + Sync + 'static) -> Dialer {
        Dialer(Arc::new(f))
    }

    pub fn dial(&self, addr: SocketAddr) -> DialFuture {
        (self.0)(addr)
    }
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dialer")
    }
}
