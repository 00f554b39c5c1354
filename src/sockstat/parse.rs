//! The sock_diag wire format: building the dump request and parsing the
//! kernel's replies. Pure functions over byte slices, no syscalls, so the
//! tests can feed them captured or hand-made datagrams.
//!
//! Layouts are from the UAPI headers `linux/netlink.h`,
//! `linux/sock_diag.h` and `linux/inet_diag.h`. Netlink headers and
//! inet_diag integers are in host byte order; ports and addresses in
//! `struct inet_diag_sockid` are in network byte order.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::tcp_info::{Fields, TcpInfo};
use super::{TcpConn, TcpState};

// linux/netlink.h
pub(crate) const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x100 | 0x200; // NLM_F_ROOT | NLM_F_MATCH

// linux/sock_diag.h
pub(crate) const SOCK_DIAG_BY_FAMILY: u16 = 20;

// linux/inet_diag.h
/// sizeof(struct inet_diag_req_v2)
const REQ_V2_LEN: usize = 56;
/// sizeof(struct inet_diag_msg); attributes follow it (already 4-aligned).
const DIAG_MSG_LEN: usize = 72;
/// Offsets in struct inet_diag_msg.
mod msg {
    pub const FAMILY: usize = 0;
    pub const STATE: usize = 1;
    pub const SPORT: usize = 4; // __be16
    pub const DPORT: usize = 6; // __be16
    pub const SRC: usize = 8; // __be32[4]
    pub const DST: usize = 24; // __be32[4]
    pub const IF: usize = 40;
    pub const COOKIE: usize = 44; // __u32[2], low word first
    pub const RQUEUE: usize = 56;
    pub const WQUEUE: usize = 60;
    pub const UID: usize = 64;
    pub const INODE: usize = 68;
}
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
/// `idiag_ext` asks for attribute N with bit N-1.
const EXT_MASK: u8 = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1));
/// rtattr type bits above these are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
const NLA_TYPE_MASK: u16 = 0x3fff;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// A complete `SOCK_DIAG_BY_FAMILY` dump request for TCP sockets of
/// `family` in the kernel states set in `states`, asking for tcp_info and
/// the congestion-control name.
pub(crate) fn build_request(family: u8, states: u32, seq: u32) -> [u8; NLMSG_HDRLEN + REQ_V2_LEN] {
    let mut b = [0u8; NLMSG_HDRLEN + REQ_V2_LEN];
    let len = (NLMSG_HDRLEN + REQ_V2_LEN) as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nlmsg_pid 0: the kernel fills in our port id.
    let r = NLMSG_HDRLEN;
    b[r] = family;
    b[r + 1] = libc::IPPROTO_TCP as u8;
    b[r + 2] = EXT_MASK;
    b[r + 4..r + 8].copy_from_slice(&states.to_ne_bytes());
    // The socket id stays zero: a dump ignores it.
    b
}

/// What one datagram of the reply stream told us.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// `NLMSG_DONE` arrived: the dump is complete.
    pub done: bool,
    /// The kernel flagged the dump as inconsistent (`NLM_F_DUMP_INTR`).
    pub interrupted: bool,
    /// inet_diag messages too short or of an unknown family, skipped.
    pub skipped: usize,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("sock_diag reply: {what}"),
    )
}

/// Parses one datagram of a dump reply, appending sockets to `out`.
/// Messages with another sequence number are stale and ignored. An
/// `NLMSG_ERROR` with a non-zero code becomes that OS error. A message
/// whose length runs past the datagram ends parsing with `InvalidData`,
/// since nothing after it can be framed.
pub(crate) fn parse_datagram(buf: &[u8], seq: u32, out: &mut Vec<TcpConn>) -> io::Result<Progress> {
    let mut p = Progress::default();
    let mut at = 0usize;
    while buf.len().saturating_sub(at) >= NLMSG_HDRLEN {
        let h = Fields(&buf[at..]);
        let (Some(len), Some(ty), Some(flags), Some(mseq)) =
            (h.u32(0), h.u16(4), h.u16(6), h.u32(8))
        else {
            break;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            return Err(invalid("message length out of bounds"));
        }
        let payload = &buf[at + NLMSG_HDRLEN..at + len];
        at = at.saturating_add(align4(len));
        if mseq != seq {
            continue;
        }
        if flags & NLM_F_DUMP_INTR != 0 {
            p.interrupted = true;
        }
        match ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                // struct nlmsgerr: int error, then the offending header.
                let code = Fields(payload)
                    .i32(0)
                    .ok_or_else(|| invalid("short NLMSG_ERROR"))?;
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(code.saturating_neg()));
                }
            }
            NLMSG_DONE => {
                // A dump that failed part-way reports the error here.
                if let Some(code) = Fields(payload).i32(0) {
                    if code < 0 {
                        return Err(io::Error::from_raw_os_error(code.saturating_neg()));
                    }
                }
                p.done = true;
                return Ok(p);
            }
            NLMSG_OVERRUN => return Err(invalid("overrun")),
            SOCK_DIAG_BY_FAMILY => match parse_diag_msg(payload) {
                Some(c) => out.push(c),
                None => p.skipped += 1,
            },
            _ => {}
        }
    }
    Ok(p)
}

/// Parses a `struct inet_diag_msg` and its attributes. `None` if it is too
/// short or not IPv4/IPv6.
pub(crate) fn parse_diag_msg(payload: &[u8]) -> Option<TcpConn> {
    if payload.len() < DIAG_MSG_LEN {
        return None;
    }
    let f = Fields(payload);
    let family = f.u8(msg::FAMILY)?;
    let sport = f.u16_be(msg::SPORT)?;
    let dport = f.u16_be(msg::DPORT)?;
    let ifindex = f.u32(msg::IF)?;
    let src: [u8; 16] = f.bytes(msg::SRC)?;
    let dst: [u8; 16] = f.bytes(msg::DST)?;
    let (local, peer) = match family {
        AF_INET => (v4(&src, sport), v4(&dst, dport)),
        AF_INET6 => (v6(src, sport, ifindex), v6(dst, dport, ifindex)),
        _ => return None,
    };
    let cookie = u64::from(f.u32(msg::COOKIE)?) | (u64::from(f.u32(msg::COOKIE + 4)?) << 32);
    let mut conn = TcpConn {
        local,
        peer,
        state: TcpState::from_kernel(f.u8(msg::STATE)?),
        recv_q: f.u32(msg::RQUEUE)?,
        send_q: f.u32(msg::WQUEUE)?,
        inode: u64::from(f.u32(msg::INODE)?),
        uid: f.u32(msg::UID)?,
        cookie,
        cong: None,
        info: None,
    };
    for (ty, data) in Attrs(&payload[DIAG_MSG_LEN..]) {
        match ty {
            INET_DIAG_INFO => conn.info = TcpInfo::parse(data),
            INET_DIAG_CONG => {
                let name = data.split(|&b| b == 0).next().unwrap_or_default();
                conn.cong = Some(String::from_utf8_lossy(name).into_owned());
            }
            _ => {}
        }
    }
    Some(conn)
}

fn v4(addr: &[u8; 16], port: u16) -> SocketAddr {
    let ip = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

fn v6(addr: [u8; 16], port: u16, ifindex: u32) -> SocketAddr {
    let ip = Ipv6Addr::from(addr);
    // The interface only qualifies link-local addresses (ss prints it as
    // `%ifname` there); elsewhere it would make equal addresses unequal.
    let scope = if ip.is_unicast_link_local() {
        ifindex
    } else {
        0
    };
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
}

/// Iterator over `struct rtattr` (type, payload) pairs. Stops at the first
/// attribute whose length is impossible rather than guessing.
struct Attrs<'a>(&'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let f = Fields(self.0);
        let len = usize::from(f.u16(0)?);
        let ty = f.u16(2)? & NLA_TYPE_MASK;
        if len < 4 || len > self.0.len() {
            self.0 = &[];
            return None;
        }
        let data = &self.0[4..len];
        self.0 = self.0.get(align4(len)..).unwrap_or_default();
        Some((ty, data))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tcp_info::tests::synthetic;
    use super::*;

    /// Builder for fake kernel replies.
    pub(crate) struct Msg {
        pub ty: u16,
        pub flags: u16,
        pub seq: u32,
        pub payload: Vec<u8>,
    }

    impl Msg {
        pub(crate) fn encode(&self) -> Vec<u8> {
            let len = (NLMSG_HDRLEN + self.payload.len()) as u32;
            let mut b = Vec::new();
            b.extend_from_slice(&len.to_ne_bytes());
            b.extend_from_slice(&self.ty.to_ne_bytes());
            b.extend_from_slice(&self.flags.to_ne_bytes());
            b.extend_from_slice(&self.seq.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&self.payload);
            b.resize(align4(b.len()), 0);
            b
        }
    }

    pub(crate) fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&ty.to_ne_bytes());
        b.extend_from_slice(data);
        b.resize(align4(b.len()), 0);
        b
    }

    /// A struct inet_diag_msg as the kernel would send it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn diag_msg(
        family: u8,
        state: u8,
        src: &[u8],
        sport: u16,
        dst: &[u8],
        dport: u16,
        rq: u32,
        wq: u32,
        attrs: &[Vec<u8>],
    ) -> Vec<u8> {
        let mut b = vec![0u8; DIAG_MSG_LEN];
        b[msg::FAMILY] = family;
        b[msg::STATE] = state;
        b[msg::SPORT..msg::SPORT + 2].copy_from_slice(&sport.to_be_bytes());
        b[msg::DPORT..msg::DPORT + 2].copy_from_slice(&dport.to_be_bytes());
        b[msg::SRC..msg::SRC + src.len()].copy_from_slice(src);
        b[msg::DST..msg::DST + dst.len()].copy_from_slice(dst);
        b[msg::IF..msg::IF + 4].copy_from_slice(&1u32.to_ne_bytes());
        b[msg::COOKIE..msg::COOKIE + 4].copy_from_slice(&0x1234u32.to_ne_bytes());
        b[msg::COOKIE + 4..msg::COOKIE + 8].copy_from_slice(&1u32.to_ne_bytes());
        b[msg::RQUEUE..msg::RQUEUE + 4].copy_from_slice(&rq.to_ne_bytes());
        b[msg::WQUEUE..msg::WQUEUE + 4].copy_from_slice(&wq.to_ne_bytes());
        b[msg::UID..msg::UID + 4].copy_from_slice(&1000u32.to_ne_bytes());
        b[msg::INODE..msg::INODE + 4].copy_from_slice(&424242u32.to_ne_bytes());
        for a in attrs {
            b.extend_from_slice(a);
        }
        b
    }

    fn estab_v4(seq: u32) -> Vec<u8> {
        let payload = diag_msg(
            AF_INET,
            1,
            &[127, 0, 0, 1],
            40000,
            &[127, 0, 0, 2],
            4420,
            5,
            6,
            &[
                attr(INET_DIAG_INFO, &synthetic(232)),
                attr(INET_DIAG_CONG, b"cubic\0"),
            ],
        );
        Msg {
            ty: SOCK_DIAG_BY_FAMILY,
            flags: 2,
            seq,
            payload,
        }
        .encode()
    }

    fn done(seq: u32) -> Vec<u8> {
        Msg {
            ty: NLMSG_DONE,
            flags: 2,
            seq,
            payload: 0i32.to_ne_bytes().to_vec(),
        }
        .encode()
    }

    #[test]
    fn request_layout() {
        let r = build_request(AF_INET6, 0xabc, 7);
        assert_eq!(r.len(), 72);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), 20);
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        assert_eq!(&r[16..20], &[AF_INET6, 6, 0b1010, 0]);
        assert_eq!(u32::from_ne_bytes(r[20..24].try_into().unwrap()), 0xabc);
        assert!(r[24..].iter().all(|&b| b == 0));
    }

    #[test]
    fn parses_a_v4_socket_and_done() {
        let mut dgram = estab_v4(9);
        dgram.extend(done(9));
        let mut out = Vec::new();
        let p = parse_datagram(&dgram, 9, &mut out).expect("parses");
        assert!(p.done);
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.local, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(c.peer, "127.0.0.2:4420".parse().unwrap());
        assert_eq!(c.state, TcpState::Established);
        assert_eq!((c.recv_q, c.send_q, c.uid, c.inode), (5, 6, 1000, 424242));
        assert_eq!(c.cookie, 0x1_0000_1234);
        assert_eq!(c.cong.as_deref(), Some("cubic"));
        let i = c.info.as_ref().expect("tcp_info");
        assert_eq!(i.len, 232);
        assert_eq!(i.bytes_acked, Some(1001));
        assert_eq!(i.rtt_us, 31);
    }

    #[test]
    fn parses_v6_with_link_local_scope() {
        let lo = Ipv6Addr::LOCALHOST.octets();
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let payload = diag_msg(AF_INET6, 10, &ll.octets(), 4420, &[0; 16], 0, 0, 128, &[]);
        let mut dgram = Msg {
            ty: SOCK_DIAG_BY_FAMILY,
            flags: 2,
            seq: 1,
            payload,
        }
        .encode();
        let payload = diag_msg(AF_INET6, 1, &lo, 1, &lo, 2, 0, 0, &[]);
        dgram.extend(
            Msg {
                ty: SOCK_DIAG_BY_FAMILY,
                flags: 2,
                seq: 1,
                payload,
            }
            .encode(),
        );
        let mut out = Vec::new();
        let p = parse_datagram(&dgram, 1, &mut out).unwrap();
        assert!(!p.done);
        assert_eq!(out[0].local, "[fe80::1%1]:4420".parse().unwrap());
        assert_eq!(out[0].state, TcpState::Listen);
        assert_eq!(out[0].send_q, 128);
        assert!(out[0].info.is_none());
        assert_eq!(out[1].local, "[::1]:1".parse().unwrap());
    }

    #[test]
    fn error_message_becomes_os_error() {
        let mut payload = (-libc::EPERM).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; 16]);
        let dgram = Msg {
            ty: NLMSG_ERROR,
            flags: 0,
            seq: 3,
            payload,
        }
        .encode();
        let e = parse_datagram(&dgram, 3, &mut Vec::new()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // An error code of zero is an acknowledgement, not a failure.
        let dgram = Msg {
            ty: NLMSG_ERROR,
            flags: 0,
            seq: 3,
            payload: vec![0; 20],
        }
        .encode();
        assert_eq!(
            parse_datagram(&dgram, 3, &mut Vec::new()).unwrap(),
            Progress::default()
        );
        // DONE carrying a negative code reports a failed dump.
        let dgram = Msg {
            ty: NLMSG_DONE,
            flags: 2,
            seq: 3,
            payload: (-libc::ENOBUFS).to_ne_bytes().to_vec(),
        }
        .encode();
        let e = parse_datagram(&dgram, 3, &mut Vec::new()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
        // A DONE without the int is still done.
        let dgram = Msg {
            ty: NLMSG_DONE,
            flags: 2,
            seq: 3,
            payload: vec![],
        }
        .encode();
        assert!(parse_datagram(&dgram, 3, &mut Vec::new()).unwrap().done);
    }

    #[test]
    fn stale_sequence_and_unknown_types_are_ignored() {
        let mut dgram = estab_v4(1);
        dgram.extend(
            Msg {
                ty: 0x99,
                flags: 0,
                seq: 2,
                payload: vec![1, 2, 3],
            }
            .encode(),
        );
        dgram.extend(
            Msg {
                ty: NLMSG_NOOP,
                flags: 0,
                seq: 2,
                payload: vec![],
            }
            .encode(),
        );
        let mut out = Vec::new();
        let p = parse_datagram(&dgram, 2, &mut out).unwrap();
        assert!(out.is_empty());
        assert!(!p.done);
    }

    #[test]
    fn dump_interrupted_flag_is_reported() {
        let mut dgram = estab_v4(4);
        dgram[6..8].copy_from_slice(&(2 | NLM_F_DUMP_INTR).to_ne_bytes());
        let p = parse_datagram(&dgram, 4, &mut Vec::new()).unwrap();
        assert!(p.interrupted);
    }

    #[test]
    fn short_diag_message_and_unknown_family_are_skipped() {
        let mut dgram = Msg {
            ty: SOCK_DIAG_BY_FAMILY,
            flags: 2,
            seq: 1,
            payload: vec![2; 40],
        }
        .encode();
        let payload = diag_msg(1 /* AF_UNIX */, 1, &[], 0, &[], 0, 0, 0, &[]);
        dgram.extend(
            Msg {
                ty: SOCK_DIAG_BY_FAMILY,
                flags: 2,
                seq: 1,
                payload,
            }
            .encode(),
        );
        let mut out = Vec::new();
        let p = parse_datagram(&dgram, 1, &mut out).unwrap();
        assert_eq!(p.skipped, 2);
        assert!(out.is_empty());
    }

    #[test]
    fn bad_attributes_stop_attribute_parsing_only() {
        // Attribute claiming more bytes than present, then a too-small one.
        for bad in [
            vec![200u8, 0, 2, 0, 1, 2, 3, 4],
            vec![2u8, 0, 2, 0],
            vec![9u8],
        ] {
            let payload = diag_msg(
                AF_INET,
                1,
                &[127, 0, 0, 1],
                1,
                &[127, 0, 0, 1],
                2,
                0,
                0,
                &[bad],
            );
            let c = parse_diag_msg(&payload).expect("socket still parsed");
            assert!(c.info.is_none());
        }
        // A tcp_info too short to hold the core fields is dropped.
        let payload = diag_msg(
            AF_INET,
            1,
            &[127, 0, 0, 1],
            1,
            &[127, 0, 0, 1],
            2,
            0,
            0,
            &[attr(INET_DIAG_INFO, &[0; 50])],
        );
        assert!(parse_diag_msg(&payload).unwrap().info.is_none());
        // Flag bits in the attribute type are ignored; unterminated names are fine.
        let mut a = attr(INET_DIAG_CONG, b"bbr");
        a[2..4].copy_from_slice(&(INET_DIAG_CONG | 0x8000).to_ne_bytes());
        let payload = diag_msg(
            AF_INET,
            1,
            &[127, 0, 0, 1],
            1,
            &[127, 0, 0, 1],
            2,
            0,
            0,
            &[a],
        );
        assert_eq!(
            parse_diag_msg(&payload).unwrap().cong.as_deref(),
            Some("bbr")
        );
    }

    #[test]
    fn length_overrunning_the_datagram_is_an_error() {
        let mut dgram = estab_v4(1);
        dgram[0..4].copy_from_slice(&10_000u32.to_ne_bytes());
        assert!(parse_datagram(&dgram, 1, &mut Vec::new()).is_err());
        let mut dgram = estab_v4(1);
        dgram[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse_datagram(&dgram, 1, &mut Vec::new()).is_err());
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let mut good = estab_v4(5);
        good.extend(done(5));
        for cut in 0..=good.len() {
            let mut out = Vec::new();
            let _ = parse_datagram(&good[..cut], 5, &mut out);
            // Also cut inside the payload while the header still claims it.
            let _ = parse_diag_msg(good.get(NLMSG_HDRLEN..cut).unwrap_or_default());
        }
        // Deterministic pseudo-random bytes, with and without a plausible
        // header in front.
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        for round in 0..2000 {
            let len = (round % 300) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if round % 2 == 0 && len >= NLMSG_HDRLEN {
                buf[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
                buf[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
                buf[8..12].copy_from_slice(&5u32.to_ne_bytes());
                if len > NLMSG_HDRLEN {
                    buf[NLMSG_HDRLEN] = if round % 4 == 0 { AF_INET } else { AF_INET6 };
                }
            }
            let _ = parse_datagram(&buf, 5, &mut Vec::new());
            let _ = parse_diag_msg(&buf);
            let _ = TcpInfo::parse(&buf);
        }
    }
}
