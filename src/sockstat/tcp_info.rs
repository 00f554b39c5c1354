//! `struct tcp_info` as the kernel sends it in the `INET_DIAG_INFO` attribute.
//!
//! The kernel appends fields to `struct tcp_info` over time and sends only
//! as many bytes as it knows about, so an older kernel sends a shorter
//! struct. A reader must check the attribute length before reading any
//! field. All reads go through [`Fields`], which returns `None` for any
//! field that ends past the end of the attribute.

/// Byte offsets into `struct tcp_info`, from the UAPI header
/// `include/uapi/linux/tcp.h`. They hold for every architecture: the
/// struct is 8-byte fields after 4-byte fields after 1-byte fields, laid
/// out so that no padding depends on the ABI. They were checked with
/// `offsetof()` against `/usr/include/linux/tcp.h` (sizeof 232 there).
/// `RCV_WND` follows that header's last field in newer headers; a 6.18
/// kernel sends 280 bytes and its receive window sits at offset 232.
///
/// The kernel version that first sent each later field is noted so that
/// readers know why it is optional.
mod off {
    pub const STATE: usize = 0; // u8
    pub const CA_STATE: usize = 1; // u8
    pub const RETRANSMITS: usize = 2; // u8
    pub const PROBES: usize = 3; // u8
    pub const BACKOFF: usize = 4; // u8
    pub const OPTIONS: usize = 5; // u8
    pub const WSCALE: usize = 6; // u8: snd_wscale:4, rcv_wscale:4
    pub const APP_LIMITED: usize = 7; // u8: delivery_rate_app_limited:1, ...
    pub const RTO: usize = 8;
    pub const ATO: usize = 12;
    pub const SND_MSS: usize = 16;
    pub const RCV_MSS: usize = 20;
    pub const UNACKED: usize = 24;
    pub const SACKED: usize = 28;
    pub const LOST: usize = 32;
    pub const RETRANS: usize = 36;
    // 40: fackets (always 0 since 4.15)
    pub const LAST_DATA_SENT: usize = 44;
    // 48: last_ack_sent (never filled in)
    pub const LAST_DATA_RECV: usize = 52;
    pub const LAST_ACK_RECV: usize = 56;
    pub const PMTU: usize = 60;
    pub const RCV_SSTHRESH: usize = 64;
    pub const RTT: usize = 68;
    pub const RTTVAR: usize = 72;
    pub const SND_SSTHRESH: usize = 76;
    pub const SND_CWND: usize = 80;
    pub const ADVMSS: usize = 84;
    pub const REORDERING: usize = 88;
    pub const RCV_RTT: usize = 92;
    pub const RCV_SPACE: usize = 96;
    pub const TOTAL_RETRANS: usize = 100;
    /// Everything before this offset has been sent since Linux 2.6; a
    /// shorter attribute is treated as malformed.
    pub const CORE_END: usize = 104;
    pub const PACING_RATE: usize = 104; // u64, 3.15
    pub const MAX_PACING_RATE: usize = 112; // u64, 3.15
    pub const BYTES_ACKED: usize = 120; // u64, 4.1
    pub const BYTES_RECEIVED: usize = 128; // u64, 4.1
    pub const SEGS_OUT: usize = 136; // 4.2
    pub const SEGS_IN: usize = 140; // 4.2
    pub const NOTSENT_BYTES: usize = 144; // 4.6
    pub const MIN_RTT: usize = 148; // 4.6
    pub const DATA_SEGS_IN: usize = 152; // 4.6
    pub const DATA_SEGS_OUT: usize = 156; // 4.6
    pub const DELIVERY_RATE: usize = 160; // u64, 4.9
    pub const BUSY_TIME: usize = 168; // u64, 4.10
    pub const RWND_LIMITED: usize = 176; // u64, 4.10
    pub const SNDBUF_LIMITED: usize = 184; // u64, 4.10
    pub const DELIVERED: usize = 192; // 4.18
    pub const DELIVERED_CE: usize = 196; // 4.18
    pub const BYTES_SENT: usize = 200; // u64, 4.19
    pub const BYTES_RETRANS: usize = 208; // u64, 4.19
    pub const DSACK_DUPS: usize = 216; // 4.19
    pub const REORD_SEEN: usize = 220; // 4.19
    pub const RCV_OOOPACK: usize = 224; // 5.4
    pub const SND_WND: usize = 228; // 5.4
    pub const RCV_WND: usize = 232; // 6.2
}

/// `tcpi_options` bits (linux/tcp.h `TCPI_OPT_*`).
pub mod opt {
    pub const TIMESTAMPS: u8 = 1;
    pub const SACK: u8 = 2;
    pub const WSCALE: u8 = 4;
    pub const ECN: u8 = 8;
    pub const ECN_SEEN: u8 = 16;
    pub const SYN_DATA: u8 = 32;
}

/// Per-connection TCP statistics, the numbers `ss -i` prints.
///
/// Fields present in every kernel since 2.6 are plain values. Fields the
/// kernel added later are `Option`: `None` means this kernel's struct is
/// too short to hold them, never "zero". Units follow the kernel: times
/// are microseconds unless the name says `_ms`, rates are bytes per second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Length in bytes of the struct the kernel sent.
    pub len: usize,
    /// Kernel TCP state (same numbering as [`super::TcpState`]).
    pub state: u8,
    /// Congestion-avoidance state (0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss).
    pub ca_state: u8,
    /// Retransmits of the current unacknowledged segment.
    pub retransmits: u8,
    /// Unanswered zero-window probes.
    pub probes: u8,
    /// RTO backoff exponent (ss prints it as `backoff:`).
    pub backoff: u8,
    /// `TCPI_OPT_*` bits negotiated, see [`opt`].
    pub options: u8,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    /// The last delivery-rate sample was limited by the application.
    pub delivery_rate_app_limited: bool,
    pub rto_us: u32,
    pub ato_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    /// Segments retransmitted and not yet acknowledged.
    pub retrans: u32,
    pub last_data_sent_ms: u32,
    pub last_data_recv_ms: u32,
    pub last_ack_recv_ms: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    /// Smoothed round-trip time.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub snd_ssthresh: u32,
    /// Congestion window in segments.
    pub cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt_us: u32,
    pub rcv_space: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    pub pacing_rate: Option<u64>,
    pub max_pacing_rate: Option<u64>,
    /// Payload bytes sent and acknowledged by the peer.
    pub bytes_acked: Option<u64>,
    /// Payload bytes received in order.
    pub bytes_received: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    /// Bytes written by the application but not yet sent.
    pub notsent_bytes: Option<u32>,
    pub min_rtt_us: Option<u32>,
    pub data_segs_in: Option<u32>,
    pub data_segs_out: Option<u32>,
    pub delivery_rate: Option<u64>,
    /// Time the connection had data in flight.
    pub busy_time_us: Option<u64>,
    pub rwnd_limited_us: Option<u64>,
    pub sndbuf_limited_us: Option<u64>,
    pub delivered: Option<u32>,
    pub delivered_ce: Option<u32>,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: Option<u64>,
    pub bytes_retrans: Option<u64>,
    pub dsack_dups: Option<u32>,
    pub reord_seen: Option<u32>,
    pub rcv_ooopack: Option<u32>,
    /// Peer's advertised receive window, scaled, in bytes.
    pub snd_wnd: Option<u32>,
    /// Our advertised receive window, scaled, in bytes.
    pub rcv_wnd: Option<u32>,
}

impl TcpInfo {
    /// Parses the payload of an `INET_DIAG_INFO` attribute. Returns `None`
    /// when it is shorter than the fields every kernel since 2.6 sends.
    pub fn parse(buf: &[u8]) -> Option<TcpInfo> {
        if buf.len() < off::CORE_END {
            return None;
        }
        let f = Fields(buf);
        let wscale = f.u8(off::WSCALE)?;
        let app_limited = f.u8(off::APP_LIMITED)?;
        // Bit fields in a C `__u8` are allocated from the least significant
        // bit on little-endian ABIs and from the most significant on
        // big-endian ones.
        let (snd_wscale, rcv_wscale, app_limited) = if cfg!(target_endian = "little") {
            (wscale & 0x0f, wscale >> 4, app_limited & 0x01 != 0)
        } else {
            (wscale >> 4, wscale & 0x0f, app_limited & 0x80 != 0)
        };
        Some(TcpInfo {
            len: buf.len(),
            state: f.u8(off::STATE)?,
            ca_state: f.u8(off::CA_STATE)?,
            retransmits: f.u8(off::RETRANSMITS)?,
            probes: f.u8(off::PROBES)?,
            backoff: f.u8(off::BACKOFF)?,
            options: f.u8(off::OPTIONS)?,
            snd_wscale,
            rcv_wscale,
            delivery_rate_app_limited: app_limited,
            rto_us: f.u32(off::RTO)?,
            ato_us: f.u32(off::ATO)?,
            snd_mss: f.u32(off::SND_MSS)?,
            rcv_mss: f.u32(off::RCV_MSS)?,
            unacked: f.u32(off::UNACKED)?,
            sacked: f.u32(off::SACKED)?,
            lost: f.u32(off::LOST)?,
            retrans: f.u32(off::RETRANS)?,
            last_data_sent_ms: f.u32(off::LAST_DATA_SENT)?,
            last_data_recv_ms: f.u32(off::LAST_DATA_RECV)?,
            last_ack_recv_ms: f.u32(off::LAST_ACK_RECV)?,
            pmtu: f.u32(off::PMTU)?,
            rcv_ssthresh: f.u32(off::RCV_SSTHRESH)?,
            rtt_us: f.u32(off::RTT)?,
            rttvar_us: f.u32(off::RTTVAR)?,
            snd_ssthresh: f.u32(off::SND_SSTHRESH)?,
            cwnd: f.u32(off::SND_CWND)?,
            advmss: f.u32(off::ADVMSS)?,
            reordering: f.u32(off::REORDERING)?,
            rcv_rtt_us: f.u32(off::RCV_RTT)?,
            rcv_space: f.u32(off::RCV_SPACE)?,
            total_retrans: f.u32(off::TOTAL_RETRANS)?,
            pacing_rate: f.u64(off::PACING_RATE),
            max_pacing_rate: f.u64(off::MAX_PACING_RATE),
            bytes_acked: f.u64(off::BYTES_ACKED),
            bytes_received: f.u64(off::BYTES_RECEIVED),
            segs_out: f.u32(off::SEGS_OUT),
            segs_in: f.u32(off::SEGS_IN),
            notsent_bytes: f.u32(off::NOTSENT_BYTES),
            min_rtt_us: f.u32(off::MIN_RTT),
            data_segs_in: f.u32(off::DATA_SEGS_IN),
            data_segs_out: f.u32(off::DATA_SEGS_OUT),
            delivery_rate: f.u64(off::DELIVERY_RATE),
            busy_time_us: f.u64(off::BUSY_TIME),
            rwnd_limited_us: f.u64(off::RWND_LIMITED),
            sndbuf_limited_us: f.u64(off::SNDBUF_LIMITED),
            delivered: f.u32(off::DELIVERED),
            delivered_ce: f.u32(off::DELIVERED_CE),
            bytes_sent: f.u64(off::BYTES_SENT),
            bytes_retrans: f.u64(off::BYTES_RETRANS),
            dsack_dups: f.u32(off::DSACK_DUPS),
            reord_seen: f.u32(off::REORD_SEEN),
            rcv_ooopack: f.u32(off::RCV_OOOPACK),
            snd_wnd: f.u32(off::SND_WND),
            rcv_wnd: f.u32(off::RCV_WND),
        })
    }

    /// The sending rate `ss -i` prints as `send`: one congestion window per
    /// smoothed RTT, in bits per second. `None` before an RTT sample exists.
    pub fn send_rate_bits(&self) -> Option<f64> {
        if self.rtt_us == 0 {
            return None;
        }
        let window_bits = f64::from(self.cwnd) * f64::from(self.snd_mss) * 8.0;
        Some(window_bits * 1_000_000.0 / f64::from(self.rtt_us))
    }
}

/// Bounds-checked native-endian reads from a byte slice. Netlink payloads
/// are in host byte order, except where a field says `__be`.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a>(pub(crate) &'a [u8]);

impl Fields<'_> {
    fn array<const N: usize>(self, at: usize) -> Option<[u8; N]> {
        let end = at.checked_add(N)?;
        self.0.get(at..end)?.try_into().ok()
    }
    pub(crate) fn u8(self, at: usize) -> Option<u8> {
        self.0.get(at).copied()
    }
    pub(crate) fn u16(self, at: usize) -> Option<u16> {
        self.array(at).map(u16::from_ne_bytes)
    }
    pub(crate) fn u16_be(self, at: usize) -> Option<u16> {
        self.array(at).map(u16::from_be_bytes)
    }
    pub(crate) fn u32(self, at: usize) -> Option<u32> {
        self.array(at).map(u32::from_ne_bytes)
    }
    pub(crate) fn i32(self, at: usize) -> Option<i32> {
        self.array(at).map(i32::from_ne_bytes)
    }
    pub(crate) fn u64(self, at: usize) -> Option<u64> {
        self.array(at).map(u64::from_ne_bytes)
    }
    pub(crate) fn bytes<const N: usize>(self, at: usize) -> Option<[u8; N]> {
        self.array(at)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a tcp_info payload of `len` bytes with recognisable values in
    /// the fields the tests check.
    pub(crate) fn synthetic(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[off::STATE] = 1;
        b[off::OPTIONS] = opt::TIMESTAMPS | opt::SACK | opt::WSCALE;
        b[off::WSCALE] = if cfg!(target_endian = "little") {
            0x97 // rcv 9, snd 7
        } else {
            0x79
        };
        let put32 = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        };
        let put64 = |b: &mut Vec<u8>, at: usize, v: u64| {
            b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        };
        put32(&mut b, off::SND_MSS, 32768);
        put32(&mut b, off::RCV_MSS, 536);
        put32(&mut b, off::RTT, 31);
        put32(&mut b, off::RTTVAR, 15);
        put32(&mut b, off::SND_CWND, 10);
        put32(&mut b, off::TOTAL_RETRANS, 3);
        put64(&mut b, off::BYTES_ACKED, 1001);
        put64(&mut b, off::BYTES_RECEIVED, 2002);
        put32(&mut b, off::SEGS_OUT, 7);
        put32(&mut b, off::NOTSENT_BYTES, 44);
        put64(&mut b, off::DELIVERY_RATE, 123_456);
        put64(&mut b, off::BUSY_TIME, 5000);
        put64(&mut b, off::BYTES_SENT, 3003);
        put32(&mut b, off::SND_WND, 65536);
        put32(&mut b, off::RCV_WND, 131072);
        b.truncate(len);
        b
    }

    #[test]
    fn full_struct() {
        let i = TcpInfo::parse(&synthetic(240)).expect("parses");
        assert_eq!(i.len, 240);
        assert_eq!(i.state, 1);
        assert_eq!((i.snd_wscale, i.rcv_wscale), (7, 9));
        assert_eq!(i.options & opt::SACK, opt::SACK);
        assert_eq!(
            (i.snd_mss, i.rcv_mss, i.rtt_us, i.rttvar_us),
            (32768, 536, 31, 15)
        );
        assert_eq!((i.cwnd, i.total_retrans), (10, 3));
        assert_eq!(i.bytes_acked, Some(1001));
        assert_eq!(i.bytes_received, Some(2002));
        assert_eq!(i.segs_out, Some(7));
        assert_eq!(i.notsent_bytes, Some(44));
        assert_eq!(i.delivery_rate, Some(123_456));
        assert_eq!(i.busy_time_us, Some(5000));
        assert_eq!(i.bytes_sent, Some(3003));
        assert_eq!(i.snd_wnd, Some(65536));
        assert_eq!(i.rcv_wnd, Some(131072));
        let send = i.send_rate_bits().expect("rtt known");
        assert!((send - 10.0 * 32768.0 * 8.0 / 31e-6).abs() < 1.0);
    }

    #[test]
    fn older_kernels_send_shorter_structs() {
        // 4.18 ends after delivered_ce: no bytes_sent.
        let i = TcpInfo::parse(&synthetic(200)).expect("parses");
        assert_eq!(i.bytes_acked, Some(1001));
        assert_eq!(i.bytes_sent, None);
        assert_eq!(i.snd_wnd, None);
        // A field that would straddle the end is absent, not half-read.
        let i = TcpInfo::parse(&synthetic(204)).expect("parses");
        assert_eq!(i.bytes_sent, None);
        // 3.x ends after max_pacing_rate: no byte counters at all.
        let i = TcpInfo::parse(&synthetic(120)).expect("parses");
        assert_eq!(i.bytes_acked, None);
        assert_eq!(i.bytes_received, None);
        assert_eq!(i.rtt_us, 31);
        // Exactly the 2.6 core.
        let i = TcpInfo::parse(&synthetic(104)).expect("parses");
        assert_eq!(i.pacing_rate, None);
        assert_eq!(i.total_retrans, 3);
        // Modern kernel on a machine whose headers predate rcv_wnd.
        let i = TcpInfo::parse(&synthetic(232)).expect("parses");
        assert_eq!(i.snd_wnd, Some(65536));
        assert_eq!(i.rcv_wnd, None);
    }

    #[test]
    fn too_short_is_none() {
        for len in 0..off::CORE_END {
            assert_eq!(TcpInfo::parse(&synthetic(len)), None, "len {len}");
        }
    }

    #[test]
    fn fields_never_read_out_of_bounds() {
        let f = Fields(&[1, 2, 3]);
        assert_eq!(f.u8(2), Some(3));
        assert_eq!(f.u8(3), None);
        assert_eq!(f.u16(2), None);
        assert_eq!(f.u32(0), None);
        assert_eq!(f.u64(usize::MAX - 2), None);
        assert_eq!(f.u16_be(0), Some(0x0102));
    }
}
