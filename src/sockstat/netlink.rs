//! The only code here that makes syscalls: a `NETLINK_SOCK_DIAG` socket
//! that sends one request and hands back reply datagrams as byte slices.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// linux/netlink.h; spelled out because older `libc` releases do not
/// export it on every Linux target.
const NETLINK_SOCK_DIAG: libc::c_int = 4;

/// Large enough for any dump datagram: the kernel sizes them at most
/// 32 KiB minus skb overhead (netlink_recvmsg caps `max_recvmsg_len`).
/// Offering a big buffer also lets it pack more sockets per datagram.
const RECV_BUF: usize = 64 * 1024;

/// How long to wait for the next reply datagram before giving up, so a
/// caller on a UI thread can never hang on the kernel.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct DiagSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl DiagSocket {
    pub(crate) fn open() -> io::Result<DiagSocket> {
        // SAFETY: socket() takes no pointers; any return value is handled.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor socket() just created and nothing
        // else owns it; OwnedFd closes it exactly once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let tv = libc::timeval {
            tv_sec: RECV_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a live timeval and the length passed is its size;
        // the kernel only reads it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(DiagSocket {
            fd,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Sends one complete netlink message to the kernel. No address is
    /// needed: an unconnected netlink socket sends to port id 0, the kernel.
    pub(crate) fn send(&self, msg: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the pointer and length describe `msg`, which is live
            // for the call; the kernel only reads it.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
            if n >= 0 {
                return if n as usize == msg.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "short netlink send",
                    ))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Receives the next datagram. A datagram larger than the buffer is an
    /// error rather than silently cut: `MSG_TRUNC` makes netlink return its
    /// real length.
    pub(crate) fn recv(&mut self) -> io::Result<&[u8]> {
        loop {
            // SAFETY: the pointer and length describe `self.buf`, which is
            // live and exclusively borrowed; the kernel writes at most
            // `len` bytes into it.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "sock_diag: no reply from the kernel",
                        ))
                    }
                    _ => return Err(e),
                }
            }
            let n = n as usize;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "sock_diag: empty datagram",
                ));
            }
            if n > self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "sock_diag: datagram of {n} bytes exceeds the {} byte buffer",
                        self.buf.len()
                    ),
                ));
            }
            return Ok(&self.buf[..n]);
        }
    }
}
