//! Per-connection TCP state from the kernel, the way `ss -tni` gets it.
//!
//! [`query`] sends one `SOCK_DIAG_BY_FAMILY` dump request (an
//! `inet_diag_req_v2` for `IPPROTO_TCP`) per address family over a
//! `NETLINK_SOCK_DIAG` socket, asking for the `INET_DIAG_INFO` (`struct
//! tcp_info`) and `INET_DIAG_CONG` attributes, and parses every reply
//! datagram up to `NLMSG_DONE`.
//!
//! No privilege is needed: the kernel lists every TCP socket in the
//! caller's network namespace, with tcp_info, to any user (that is why
//! plain `ss -tni` works for everyone). Only a few attributes this module
//! does not ask for, such as the socket mark, need `CAP_NET_ADMIN`.
//!
//! Layout: `netlink` holds the syscalls, `parse` the wire format (pure,
//! tested on hand-built datagrams), `tcp_info` the struct offsets, and
//! `sampler` the byte-rate bookkeeping, `json` the form sockets travel in
//! over JSON-RPC (`mpath_sock_get_connections`).

mod json;
mod netlink;
mod parse;
mod sampler;
mod tcp_info;

use std::io;
use std::net::SocketAddr;

pub use sampler::{ConnRate, Sampler};
pub use tcp_info::{opt as tcpi_opt, TcpInfo};

/// One TCP socket as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpConn {
    pub local: SocketAddr,
    /// `0.0.0.0:0` or `[::]:0` for listening sockets.
    pub peer: SocketAddr,
    pub state: TcpState,
    /// For `LISTEN` sockets: connections waiting in the accept queue. For
    /// any other state: bytes received and not yet read by the application.
    /// (The kernel fills it in that way; `ss` prints it as Recv-Q.)
    pub recv_q: u32,
    /// For `LISTEN` sockets: the accept backlog limit. For any other
    /// state: bytes sent and not yet acknowledged, plus bytes not yet sent.
    pub send_q: u32,
    /// Socket inode, as in `/proc/<pid>/fd` links (`socket:[inode]`); 0
    /// for sockets no process holds, such as TIME-WAIT ones.
    pub inode: u64,
    /// Owner's user id (in the caller's user namespace).
    pub uid: u32,
    /// The kernel's unique id for this socket (`ss -e` prints it as `sk:`).
    /// Unlike the address pair, it changes when a 4-tuple is reused.
    pub cookie: u64,
    /// Congestion-control algorithm, e.g. `cubic`, when the kernel said.
    pub cong: Option<String>,
    /// `None` for sockets without full TCP state (TIME-WAIT, SYN-RECV
    /// requests) or if the kernel sent a malformed struct.
    pub info: Option<TcpInfo>,
}

/// Kernel TCP states (`include/net/tcp_states.h`), numbered as there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    Unknown(u8),
}

impl TcpState {
    /// Every known state, in kernel order.
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    pub fn from_kernel(n: u8) -> TcpState {
        match n {
            1..=12 => TcpState::ALL[usize::from(n) - 1],
            _ => TcpState::Unknown(n),
        }
    }

    /// The kernel's number for this state.
    pub fn to_kernel(self) -> u8 {
        match self {
            TcpState::Established => 1,
            TcpState::SynSent => 2,
            TcpState::SynRecv => 3,
            TcpState::FinWait1 => 4,
            TcpState::FinWait2 => 5,
            TcpState::TimeWait => 6,
            TcpState::Close => 7,
            TcpState::CloseWait => 8,
            TcpState::LastAck => 9,
            TcpState::Listen => 10,
            TcpState::Closing => 11,
            TcpState::NewSynRecv => 12,
            TcpState::Unknown(n) => n,
        }
    }

    /// This state's bit in a [`Filter::states`] mask (the kernel's
    /// `TCPF_*` = `1 << state`). 0 for states that do not fit in the mask.
    pub fn bit(self) -> u32 {
        1u32.checked_shl(u32::from(self.to_kernel())).unwrap_or(0)
    }

    /// The name `ss` prints in its State column.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "UNCONN",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW-SYN-RECV",
            TcpState::Unknown(_) => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which sockets [`query`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Keep sockets whose local or peer port is one of these; empty keeps
    /// all. Applied after the dump, in user space.
    pub ports: Vec<u16>,
    /// Bitmask of [`TcpState::bit`]s to dump; the kernel does this part.
    /// [`Filter::default`] uses [`Filter::CONNECTED`], what `ss -t` shows
    /// without `-a` or `-l`.
    pub states: u32,
}

impl Filter {
    /// Every state, like `ss -ta`.
    pub const ALL: u32 = 0x1ffe; // bits 1..=12
    /// `ss`'s default: every state except LISTEN, CLOSE, TIME-WAIT and
    /// SYN-RECV (and so half-open request sockets too).
    pub const CONNECTED: u32 =
        Filter::ALL & !((1 << 10) | (1 << 7) | (1 << 6) | (1 << 3) | (1 << 12));
    /// Listening sockets only, like `ss -tl`.
    pub const LISTEN: u32 = 1 << 10;

    /// Sockets in `states` with `port` at either end.
    pub fn port(port: u16, states: u32) -> Filter {
        Filter {
            ports: vec![port],
            states,
        }
    }

    pub fn matches(&self, c: &TcpConn) -> bool {
        let ports_ok = self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|&p| p == c.local.port() || p == c.peer.port());
        ports_ok && self.states & c.state.bit() != 0
    }
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            ports: Vec::new(),
            states: Filter::CONNECTED,
        }
    }
}

/// Tries per family when the kernel flags a dump as inconsistent.
const DUMP_TRIES: usize = 3;

/// Every TCP socket (IPv4, then IPv6) in this network namespace that
/// passes `filter`.
pub fn query(filter: &Filter) -> io::Result<Vec<TcpConn>> {
    let mut sock = netlink::DiagSocket::open()?;
    let mut out = Vec::new();
    let mut seq = 0u32;
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        for attempt in 1..=DUMP_TRIES {
            seq = seq.wrapping_add(1);
            let mut batch = Vec::new();
            match dump(&mut sock, family, filter.states, seq, &mut batch) {
                Ok(interrupted) if interrupted && attempt < DUMP_TRIES => continue,
                Ok(_) => {
                    out.append(&mut batch);
                    break;
                }
                // A kernel without IPv6 diag support: there is nothing to
                // list, which is not a failure.
                Err(e) if family == libc::AF_INET6 as u8 && no_family(&e) => break,
                Err(e) => return Err(e),
            }
        }
    }
    out.retain(|c| filter.matches(c));
    Ok(out)
}

fn no_family(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::EOPNOTSUPP)
    )
}

/// Runs one dump to `NLMSG_DONE`. Returns whether the kernel flagged it
/// as interrupted.
fn dump(
    sock: &mut netlink::DiagSocket,
    family: u8,
    states: u32,
    seq: u32,
    out: &mut Vec<TcpConn>,
) -> io::Result<bool> {
    sock.send(&parse::build_request(family, states, seq))?;
    let mut interrupted = false;
    loop {
        let p = parse::parse_datagram(sock.recv()?, seq, out)?;
        interrupted |= p.interrupted;
        if p.done {
            return Ok(interrupted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_numbers_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(TcpState::from_kernel(n).to_kernel(), n);
        }
        assert_eq!(TcpState::from_kernel(1), TcpState::Established);
        assert_eq!(TcpState::from_kernel(10), TcpState::Listen);
        assert_eq!(TcpState::from_kernel(12), TcpState::NewSynRecv);
        assert_eq!(TcpState::from_kernel(13), TcpState::Unknown(13));
        assert_eq!(TcpState::Unknown(200).bit(), 0);
    }

    #[test]
    fn ss_names() {
        assert_eq!(TcpState::Established.as_str(), "ESTAB");
        assert_eq!(TcpState::Listen.to_string(), "LISTEN");
        assert_eq!(TcpState::TimeWait.as_str(), "TIME-WAIT");
        assert_eq!(TcpState::CloseWait.as_str(), "CLOSE-WAIT");
    }

    #[test]
    fn filter_masks() {
        assert_eq!(
            Filter::ALL,
            TcpState::ALL.iter().fold(0, |m, s| m | s.bit())
        );
        let conn = [
            TcpState::Established,
            TcpState::SynSent,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::CloseWait,
            TcpState::LastAck,
            TcpState::Closing,
        ];
        assert_eq!(Filter::CONNECTED, conn.iter().fold(0, |m, s| m | s.bit()));
        assert_eq!(Filter::LISTEN, TcpState::Listen.bit());
        assert_eq!(Filter::default().states, Filter::CONNECTED);
    }

    #[test]
    fn filter_matches_either_port() {
        let c = TcpConn {
            local: "127.0.0.1:5000".parse().unwrap(),
            peer: "127.0.0.1:4420".parse().unwrap(),
            state: TcpState::Established,
            recv_q: 0,
            send_q: 0,
            inode: 0,
            uid: 0,
            cookie: 0,
            cong: None,
            info: None,
        };
        assert!(Filter::default().matches(&c));
        assert!(Filter::port(4420, Filter::ALL).matches(&c));
        assert!(Filter::port(5000, Filter::ALL).matches(&c));
        assert!(!Filter::port(1, Filter::ALL).matches(&c));
        assert!(!Filter::port(4420, Filter::LISTEN).matches(&c));
    }
}
