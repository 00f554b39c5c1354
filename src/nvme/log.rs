//! Log pages (Get Log Page, admin opcode 02h), as a target writes them and a
//! host reads them:
//!
//! * LID 01h Error Information: [`ErrorLogEntry`], [`encode_error_log`]
//! * LID 02h SMART / Health Information: [`SmartLog`]
//! * LID 04h Changed Namespace List: [`encode_changed_ns_list`],
//!   [`parse_changed_ns_list`]
//! * LID 0Ch Asymmetric Namespace Access: [`AnaLogPage`], [`AnaState`]
//! * LID 70h Discovery: [`DiscoveryLogPage`], [`DiscoveryLogEntry`]
//! * [`slice_log`]: the offset/length window a Get Log Page command asks for.
//!
//! All integers are little endian. Parsers bound every count taken from the
//! wire by the bytes actually present before allocating, and never panic on
//! input.

use std::fmt;
use std::str::FromStr;

use super::bytes::{
    rd, rd_u128, rd_u16, rd_u32, rd_u64, rd_u8, wr, wr_text, wr_u128, wr_u16, wr_u32, wr_u64, wr_u8,
};
use thiserror::Error;

/// Log Page Identifiers (CDW10 bits 7:0).
pub mod lid {
    /// Error Information.
    pub const ERROR: u8 = 0x01;
    /// SMART / Health Information.
    pub const SMART: u8 = 0x02;
    /// Changed Namespace List.
    pub const CHANGED_NS_LIST: u8 = 0x04;
    /// Asymmetric Namespace Access.
    pub const ANA: u8 = 0x0C;
    /// Discovery (discovery controllers only).
    pub const DISCOVERY: u8 = 0x70;
}

/// LSP bit 0 of an ANA log read: Return Groups Only (no NSID lists).
pub const ANA_LSP_RGO: u8 = 0x01;

/// ANA log header length.
pub const ANA_HEADER_LEN: usize = 16;
/// ANA group descriptor length, without its NSID list.
pub const ANA_DESCRIPTOR_LEN: usize = 32;
/// Discovery log header length (entries start here).
pub const DISCOVERY_HEADER_LEN: usize = 1024;
/// Discovery log entry length.
pub const DISCOVERY_ENTRY_LEN: usize = 1024;
/// Error Information log entry length.
pub const ERROR_LOG_ENTRY_LEN: usize = 64;
/// SMART / Health Information log length.
pub const SMART_LOG_LEN: usize = 512;
/// Changed Namespace List log length.
pub const CHANGED_NS_LIST_LEN: usize = 4096;
/// Entries in the Changed Namespace List.
pub const CHANGED_NS_LIST_MAX: usize = 1024;

/// Largest window [`slice_log`] will build. NUMD allows a host to ask for up
/// to 16 GiB; the real limit is the transfer size (MDTS, 128 KiB for an SPDK
/// target), so anything beyond this is refused before allocating.
pub const MAX_LOG_SLICE_LEN: usize = 16 << 20;

/// Errors from parsing or slicing log pages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogError {
    /// The buffer is shorter than the structure.
    #[error("{what}: need {need} bytes, got {got}")]
    TooShort {
        /// Which structure was being parsed.
        what: &'static str,
        /// Bytes required.
        need: usize,
        /// Bytes available.
        got: usize,
    },
    /// A count from the wire claims more items than the buffer can hold.
    #[error("{what}: count {count} exceeds the {fits} that fit in the buffer")]
    CountExceedsBuffer {
        /// Which count.
        what: &'static str,
        /// Count found on the wire.
        count: u64,
        /// Items the remaining bytes could hold.
        fits: u64,
    },
    /// An ANA group descriptor carries a state value the spec does not define.
    #[error("ANA group {anagrpid}: invalid ANA state {value:#x}")]
    InvalidAnaState {
        /// The group.
        anagrpid: u32,
        /// The low nibble found.
        value: u8,
    },
    /// An ANA state name is not one of SPDK's JSON names.
    #[error("unknown ANA state name {0:?}")]
    UnknownAnaStateName(String),
    /// A text field is not valid UTF-8.
    #[error("log field {field} is not valid UTF-8")]
    InvalidString {
        /// Field name as in the specification.
        field: &'static str,
    },
    /// Get Log Page offset not a multiple of 4 (Invalid Field in Command).
    #[error("log page offset {offset} is not dword aligned")]
    UnalignedOffset {
        /// The offset requested.
        offset: u64,
    },
    /// Get Log Page offset at or beyond the end of the log (Invalid Field in
    /// Command).
    #[error("log page offset {offset} is beyond the end of the {size}-byte log")]
    OffsetBeyondEnd {
        /// The offset requested.
        offset: u64,
        /// Size of the log page.
        size: usize,
    },
    /// The requested length is larger than [`MAX_LOG_SLICE_LEN`].
    #[error("log page length {len} exceeds the {max}-byte limit")]
    LengthTooLarge {
        /// The length requested.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Reads a text field whichever padding the writer used: the text ends at
/// the first NUL, and trailing spaces are padding too (SPDK pads TRSVCID and
/// TRADDR with spaces, Linux nvmet with NULs).
fn rd_text(b: &[u8], off: usize, len: usize, field: &'static str) -> Result<String, LogError> {
    let raw = off
        .checked_add(len)
        .and_then(|end| b.get(off..end))
        .unwrap_or_default();
    let nul = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    let text = &raw[..nul];
    let end = text.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    String::from_utf8(text[..end].to_vec()).map_err(|_| LogError::InvalidString { field })
}

fn need(what: &'static str, b: &[u8], n: usize) -> Result<(), LogError> {
    if b.len() < n {
        Err(LogError::TooShort {
            what,
            need: n,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Get Log Page window

/// Returns the `len`-byte window at `offset` of a complete log page, the way
/// a target answers Get Log Page (LPOL/LPOU = `offset`, (NUMD+1)×4 = `len`):
///
/// * `offset` must be a multiple of 4 ([`LogError::UnalignedOffset`]); SPDK
///   (v24.09 and later) rejects unaligned offsets with Invalid Field.
/// * `offset` at or past the end of the page is [`LogError::OffsetBeyondEnd`].
///   This is what current SPDK does for the pages it builds (ANA, Changed
///   NS List, Commands Supported and Effects, Firmware Slot: `offset >=
///   page size` → Invalid Field in Command), and what the NVMe base spec asks
///   for. SPDK v24.09's ANA path did not check and returned zeros; we follow
///   the later, spec-conforming behaviour. Pages built here are never empty.
/// * Bytes past the end of the page are zero (SPDK zero-fills the whole data
///   buffer before building a log page, e.g. its 52-byte ANA log is returned
///   as 1044 bytes when 1044 are asked for).
/// * `len` above [`MAX_LOG_SLICE_LEN`] is refused before allocating.
pub fn slice_log(page: &[u8], offset: u64, len: usize) -> Result<Vec<u8>, LogError> {
    if !offset.is_multiple_of(4) {
        return Err(LogError::UnalignedOffset { offset });
    }
    let size = page.len();
    let start = usize::try_from(offset)
        .ok()
        .filter(|&o| o < size)
        .ok_or(LogError::OffsetBeyondEnd { offset, size })?;
    if len > MAX_LOG_SLICE_LEN {
        return Err(LogError::LengthTooLarge {
            len,
            max: MAX_LOG_SLICE_LEN,
        });
    }
    let mut out = vec![0u8; len];
    let avail = page.get(start..).unwrap_or_default();
    let n = avail.len().min(len);
    out[..n].copy_from_slice(&avail[..n]);
    Ok(out)
}

// ---------------------------------------------------------------------------
// ANA (LID 0Ch)

/// Asymmetric Namespace Access state of a group as seen through one
/// controller (port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AnaState {
    /// 1h: ANA Optimized.
    Optimized = 0x01,
    /// 2h: ANA Non-Optimized.
    NonOptimized = 0x02,
    /// 3h: ANA Inaccessible.
    Inaccessible = 0x03,
    /// 4h: ANA Persistent Loss.
    PersistentLoss = 0x04,
    /// Fh: ANA Change (transitioning).
    Change = 0x0F,
}

impl AnaState {
    /// Every state, in value order.
    pub const ALL: [AnaState; 5] = [
        AnaState::Optimized,
        AnaState::NonOptimized,
        AnaState::Inaccessible,
        AnaState::PersistentLoss,
        AnaState::Change,
    ];

    /// The state value as carried in the low nibble of the descriptor byte.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The state for a value, `None` for values the spec leaves reserved
    /// (0, 5..=Eh, anything above Fh).
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0x01 => Some(Self::Optimized),
            0x02 => Some(Self::NonOptimized),
            0x03 => Some(Self::Inaccessible),
            0x04 => Some(Self::PersistentLoss),
            0x0F => Some(Self::Change),
            _ => None,
        }
    }

    /// SPDK's JSON name (`nvmf_subsystem_listener_set_ana_state`,
    /// `nvmf_subsystem_get_listeners`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optimized => "optimized",
            Self::NonOptimized => "non_optimized",
            Self::Inaccessible => "inaccessible",
            Self::PersistentLoss => "persistent_loss",
            Self::Change => "change",
        }
    }

    /// I/O is serviced in this state (optimized or non-optimized); the
    /// others fail I/O with a path-related status.
    pub fn is_accessible(self) -> bool {
        matches!(self, Self::Optimized | Self::NonOptimized)
    }
}

impl fmt::Display for AnaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses all five SPDK names. SPDK's set_ana_state RPC only accepts the
/// first three (optimized, non_optimized, inaccessible); that restriction
/// belongs to the RPC layer, not here.
impl FromStr for AnaState {
    type Err = LogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| LogError::UnknownAnaStateName(s.to_string()))
    }
}

impl serde::Serialize for AnaState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for AnaState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One ANA Group Descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnaGroupDescriptor {
    /// ANA Group ID (1..=ANAGRPMAX).
    pub anagrpid: u32,
    /// Per-group change count (SPDK always reports 0).
    pub change_count: u64,
    /// The group's state through this controller.
    pub state: AnaState,
    /// NSIDs in the group. Written in ascending order whatever the order
    /// here, because Linux merges them against its sorted namespace list.
    pub nsids: Vec<u32>,
}

/// Asymmetric Namespace Access log page (LID 0Ch).
///
/// Layout: 16-byte header (CHGCNT u64 @0, NGRPS u16 @8, 6 reserved), then
/// per group a 32-byte descriptor (ANAGRPID u32 @0, NNSIDS u32 @4, CHGCNT u64
/// @8, state in the low nibble of byte 16, 15 reserved) followed by NNSIDS
/// u32 NSIDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnaLogPage {
    /// Log change count (SPDK always reports 0).
    pub change_count: u64,
    /// Group descriptors, in the order they are written.
    pub groups: Vec<AnaGroupDescriptor>,
}

impl AnaLogPage {
    /// Bytes [`to_bytes`](Self::to_bytes) produces.
    pub fn encoded_len(&self, rgo: bool) -> usize {
        let groups = self.groups.iter().take(usize::from(u16::MAX));
        ANA_HEADER_LEN
            + groups
                .map(|g| ANA_DESCRIPTOR_LEN + if rgo { 0 } else { 4 * g.nsids.len() })
                .sum::<usize>()
    }

    /// Encodes the page, exactly as long as its content (no padding; use
    /// [`slice_log`] for the window a command asked for). With `rgo` (LSP
    /// bit 0, Return Groups Only) every descriptor has NNSIDS 0 and no NSID
    /// list. NGRPS is a u16, so at most 65535 groups are written.
    pub fn to_bytes(&self, rgo: bool) -> Vec<u8> {
        let groups: Vec<&AnaGroupDescriptor> =
            self.groups.iter().take(usize::from(u16::MAX)).collect();
        let mut b = vec![0u8; self.encoded_len(rgo)];
        wr_u64(&mut b, 0, self.change_count);
        // `groups` was capped at u16::MAX above.
        wr_u16(&mut b, 8, u16::try_from(groups.len()).unwrap_or(u16::MAX));
        let mut at = ANA_HEADER_LEN;
        for g in groups {
            let mut nsids = if rgo { Vec::new() } else { g.nsids.clone() };
            nsids.sort_unstable();
            wr_u32(&mut b, at, g.anagrpid);
            wr_u32(
                &mut b,
                at + 4,
                u32::try_from(nsids.len()).unwrap_or(u32::MAX),
            );
            wr_u64(&mut b, at + 8, g.change_count);
            wr_u8(&mut b, at + 16, g.state.as_u8());
            at += ANA_DESCRIPTOR_LEN;
            for n in nsids {
                wr_u32(&mut b, at, n);
                at += 4;
            }
        }
        b
    }

    /// Parses an ANA log page. Trailing bytes after the last descriptor
    /// (the zero fill of a longer read) are ignored. NGRPS and every NNSIDS
    /// are checked against the bytes present before anything is allocated;
    /// a reserved state value is an error (Linux rejects such a log too).
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        need("ANA log header", b, ANA_HEADER_LEN)?;
        let change_count = rd_u64(b, 0);
        let ngrps = rd_u16(b, 8);
        let fits = (b.len() - ANA_HEADER_LEN) / ANA_DESCRIPTOR_LEN;
        if usize::from(ngrps) > fits {
            return Err(LogError::CountExceedsBuffer {
                what: "ANA group descriptors",
                count: u64::from(ngrps),
                fits: fits as u64,
            });
        }
        let mut groups = Vec::with_capacity(usize::from(ngrps));
        let mut at = ANA_HEADER_LEN;
        for _ in 0..ngrps {
            let desc = b
                .get(at..at + ANA_DESCRIPTOR_LEN)
                .ok_or(LogError::TooShort {
                    what: "ANA group descriptor",
                    need: at + ANA_DESCRIPTOR_LEN,
                    got: b.len(),
                })?;
            let anagrpid = rd_u32(desc, 0);
            let nnsids = rd_u32(desc, 4);
            let grp_chgcnt = rd_u64(desc, 8);
            let value = rd_u8(desc, 16) & 0x0F;
            let state =
                AnaState::from_u8(value).ok_or(LogError::InvalidAnaState { anagrpid, value })?;
            at += ANA_DESCRIPTOR_LEN;
            let room = (b.len() - at) / 4;
            if u64::from(nnsids) > room as u64 {
                return Err(LogError::CountExceedsBuffer {
                    what: "ANA group NSIDs",
                    count: u64::from(nnsids),
                    fits: room as u64,
                });
            }
            // Bounded by `room` just above.
            let n = nnsids as usize;
            let nsids = b
                .get(at..at + 4 * n)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|c| rd_u32(c, 0))
                .collect();
            at += 4 * n;
            groups.push(AnaGroupDescriptor {
                anagrpid,
                change_count: grp_chgcnt,
                state,
                nsids,
            });
        }
        Ok(Self {
            change_count,
            groups,
        })
    }

    /// The descriptor of a group, if present.
    pub fn group(&self, anagrpid: u32) -> Option<&AnaGroupDescriptor> {
        self.groups.iter().find(|g| g.anagrpid == anagrpid)
    }

    /// The state of the group that lists `nsid`, if any (not meaningful for
    /// an RGO read, which carries no NSIDs).
    pub fn state_for_nsid(&self, nsid: u32) -> Option<AnaState> {
        self.groups
            .iter()
            .find(|g| g.nsids.contains(&nsid))
            .map(|g| g.state)
    }
}

/// Largest ANA log a controller can return: 16 + 32×NANAGRPID + 4×(number of
/// NSIDs). SPDK's host sizes its read as 16 + 32×NANAGRPID + 4×(active
/// namespaces) (1044 bytes for 32 groups and one namespace); Linux uses MNAN
/// for the NSID part. Saturates instead of overflowing.
pub fn ana_log_max_len(nanagrpid: u32, nsids: u32) -> usize {
    let total = ANA_HEADER_LEN as u64
        + ANA_DESCRIPTOR_LEN as u64 * u64::from(nanagrpid)
        + 4 * u64::from(nsids);
    usize::try_from(total).unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------
// Discovery (LID 70h)

/// TRTYPE values.
pub mod trtype {
    /// RDMA.
    pub const RDMA: u8 = 1;
    /// Fibre Channel.
    pub const FC: u8 = 2;
    /// TCP.
    pub const TCP: u8 = 3;
    /// Intra-host (loop).
    pub const LOOP: u8 = 0xFE;
}

/// ADRFAM values.
pub mod adrfam {
    /// IPv4.
    pub const IPV4: u8 = 1;
    /// IPv6.
    pub const IPV6: u8 = 2;
    /// InfiniBand.
    pub const IB: u8 = 3;
    /// Fibre Channel.
    pub const FC: u8 = 4;
    /// Intra-host (loop).
    pub const LOOP: u8 = 0xFE;
}

/// SUBTYPE values.
pub mod subtype {
    /// Referral to another discovery subsystem.
    pub const DISCOVERY_REFERRAL: u8 = 1;
    /// NVM subsystem.
    pub const NVME: u8 = 2;
    /// The discovery subsystem being read (current discovery subsystem).
    pub const CURRENT_DISCOVERY: u8 = 3;
}

/// TREQ bits 1:0, secure channel requirement.
pub mod treq {
    /// Not specified.
    pub const SECURE_CHANNEL_NOT_SPECIFIED: u8 = 0;
    /// Required.
    pub const SECURE_CHANNEL_REQUIRED: u8 = 1;
    /// Not required (what SPDK reports for a plain TCP listener).
    pub const SECURE_CHANNEL_NOT_REQUIRED: u8 = 2;
    /// Bit 2: SQ flow control disable supported.
    pub const DISABLE_SQFLOW: u8 = 1 << 2;
}

/// EFLAGS bits.
pub mod eflags {
    /// Duplicate Returned Information (set by SPDK on current-discovery
    /// entries).
    pub const DUPRETINFO: u16 = 1 << 0;
    /// Explicit Persistent Connection Support for Discovery.
    pub const EPCSD: u16 = 1 << 1;
    /// No CDC Connectivity.
    pub const NCC: u16 = 1 << 2;
}

/// TCP TSAS byte 0, security type.
pub mod sectype {
    /// No security.
    pub const NONE: u8 = 0;
    /// TLS 1.2.
    pub const TLS12: u8 = 1;
    /// TLS 1.3.
    pub const TLS13: u8 = 2;
}

mod disc_off {
    pub const TRTYPE: usize = 0;
    pub const ADRFAM: usize = 1;
    pub const SUBTYPE: usize = 2;
    pub const TREQ: usize = 3;
    pub const PORTID: usize = 4;
    pub const CNTLID: usize = 6;
    pub const ASQSZ: usize = 8;
    pub const EFLAGS: usize = 10;
    pub const TRSVCID: usize = 32;
    pub const TRSVCID_LEN: usize = 32;
    pub const SUBNQN: usize = 256;
    pub const SUBNQN_LEN: usize = 256;
    pub const TRADDR: usize = 512;
    pub const TRADDR_LEN: usize = 256;
    pub const TSAS: usize = 768;
}

/// One Discovery Log Page Entry (1024 bytes).
///
/// Text encoding follows SPDK's target: TRSVCID and TRADDR are space padded
/// (no NUL), SUBNQN is NUL padded. Parsing accepts either padding for all
/// three, as nvmet NUL-pads everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryLogEntry {
    /// Transport Type (@0), see [`trtype`].
    pub trtype: u8,
    /// Address Family (@1), see [`adrfam`].
    pub adrfam: u8,
    /// Subsystem Type (@2), see [`subtype`].
    pub subtype: u8,
    /// Transport Requirements (@3), see [`treq`].
    pub treq: u8,
    /// Port ID (@4).
    pub portid: u16,
    /// Controller ID (@6); 0xFFFF = dynamic controller model.
    pub cntlid: u16,
    /// Admin Max SQ Size (@8).
    pub asqsz: u16,
    /// Entry Flags (@10), see [`eflags`].
    pub eflags: u16,
    /// Transport Service Identifier (@32, 32 B), e.g. "4420".
    pub trsvcid: String,
    /// Subsystem NQN (@256, 256 B).
    pub subnqn: String,
    /// Transport Address (@512, 256 B), e.g. "127.0.0.1".
    pub traddr: String,
    /// Transport Specific Address Subtype (@768, 256 B); for TCP byte 0 is
    /// SECTYPE, see [`sectype`].
    pub tsas: [u8; 256],
}

impl Default for DiscoveryLogEntry {
    fn default() -> Self {
        Self {
            trtype: 0,
            adrfam: 0,
            subtype: 0,
            treq: 0,
            portid: 0,
            cntlid: 0,
            asqsz: 0,
            eflags: 0,
            trsvcid: String::new(),
            subnqn: String::new(),
            traddr: String::new(),
            tsas: [0; 256],
        }
    }
}

impl DiscoveryLogEntry {
    /// Encodes the 1024-byte entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        use disc_off as o;
        let mut b = vec![0u8; DISCOVERY_ENTRY_LEN];
        wr_u8(&mut b, o::TRTYPE, self.trtype);
        wr_u8(&mut b, o::ADRFAM, self.adrfam);
        wr_u8(&mut b, o::SUBTYPE, self.subtype);
        wr_u8(&mut b, o::TREQ, self.treq);
        wr_u16(&mut b, o::PORTID, self.portid);
        wr_u16(&mut b, o::CNTLID, self.cntlid);
        wr_u16(&mut b, o::ASQSZ, self.asqsz);
        wr_u16(&mut b, o::EFLAGS, self.eflags);
        wr_text(&mut b, o::TRSVCID, o::TRSVCID_LEN, &self.trsvcid, b' ');
        wr_text(&mut b, o::SUBNQN, o::SUBNQN_LEN, &self.subnqn, 0);
        wr_text(&mut b, o::TRADDR, o::TRADDR_LEN, &self.traddr, b' ');
        wr(&mut b, o::TSAS, &self.tsas);
        b
    }

    /// Parses one entry from the first 1024 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        use disc_off as o;
        need("discovery log entry", b, DISCOVERY_ENTRY_LEN)?;
        Ok(Self {
            trtype: rd_u8(b, o::TRTYPE),
            adrfam: rd_u8(b, o::ADRFAM),
            subtype: rd_u8(b, o::SUBTYPE),
            treq: rd_u8(b, o::TREQ),
            portid: rd_u16(b, o::PORTID),
            cntlid: rd_u16(b, o::CNTLID),
            asqsz: rd_u16(b, o::ASQSZ),
            eflags: rd_u16(b, o::EFLAGS),
            trsvcid: rd_text(b, o::TRSVCID, o::TRSVCID_LEN, "TRSVCID")?,
            subnqn: rd_text(b, o::SUBNQN, o::SUBNQN_LEN, "SUBNQN")?,
            traddr: rd_text(b, o::TRADDR, o::TRADDR_LEN, "TRADDR")?,
            tsas: rd(b, o::TSAS),
        })
    }

    /// TCP security type (TSAS byte 0).
    pub fn sectype(&self) -> u8 {
        self.tsas[0]
    }
}

/// The first 18 bytes of a discovery log: what a host reads first (libnvme
/// reads 20 bytes) to learn how many records to fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryLogHeader {
    /// Generation Counter (@0); changes whenever the log changes.
    pub genctr: u64,
    /// Number of Records (@8).
    pub numrec: u64,
    /// Record Format (@16); 0 is the only one defined.
    pub recfmt: u16,
}

impl DiscoveryLogHeader {
    /// Bytes needed to parse the header.
    pub const LEN: usize = 18;

    /// Parses the header fields from the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        need("discovery log header", b, Self::LEN)?;
        Ok(Self {
            genctr: rd_u64(b, 0),
            numrec: rd_u64(b, 8),
            recfmt: rd_u16(b, 16),
        })
    }

    /// Total log length for `numrec` records (header + entries), saturating.
    pub fn log_len(&self) -> usize {
        usize::try_from(self.numrec)
            .ok()
            .and_then(|n| n.checked_mul(DISCOVERY_ENTRY_LEN))
            .and_then(|n| n.checked_add(DISCOVERY_HEADER_LEN))
            .unwrap_or(usize::MAX)
    }
}

/// Discovery log page (LID 70h): a 1024-byte header (GENCTR u64 @0, NUMREC
/// u64 @8, RECFMT u16 @16) followed by NUMREC 1024-byte entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryLogPage {
    /// Generation Counter.
    pub genctr: u64,
    /// Record Format (0).
    pub recfmt: u16,
    /// The records; NUMREC is their count.
    pub entries: Vec<DiscoveryLogEntry>,
}

impl DiscoveryLogPage {
    /// Encodes the whole log: 1024 + 1024 × entries bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; DISCOVERY_HEADER_LEN];
        wr_u64(&mut b, 0, self.genctr);
        wr_u64(&mut b, 8, self.entries.len() as u64);
        wr_u16(&mut b, 16, self.recfmt);
        b.reserve(self.entries.len() * DISCOVERY_ENTRY_LEN);
        for e in &self.entries {
            b.extend_from_slice(&e.to_bytes());
        }
        b
    }

    /// Parses a complete log. NUMREC is checked against the entries the
    /// buffer holds before allocating; a host that read only part of the log
    /// should read [`DiscoveryLogHeader`] first and fetch the rest.
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        need("discovery log header", b, DISCOVERY_HEADER_LEN)?;
        let h = DiscoveryLogHeader::parse(b)?;
        let fits = (b.len() - DISCOVERY_HEADER_LEN) / DISCOVERY_ENTRY_LEN;
        if h.numrec > fits as u64 {
            return Err(LogError::CountExceedsBuffer {
                what: "discovery log records",
                count: h.numrec,
                fits: fits as u64,
            });
        }
        let entries = b
            .get(DISCOVERY_HEADER_LEN..)
            .unwrap_or_default()
            .chunks_exact(DISCOVERY_ENTRY_LEN)
            // numrec <= fits, checked above.
            .take(h.numrec as usize)
            .map(DiscoveryLogEntry::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            genctr: h.genctr,
            recfmt: h.recfmt,
            entries,
        })
    }
}

// ---------------------------------------------------------------------------
// Error Information (LID 01h)

/// One Error Information log entry (64 bytes). Offsets per NVMe 2.0: the
/// CSI, opcode and log page version fields are newer than 1.4 and read as
/// zero from older controllers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorLogEntry {
    /// Error Count (@0); 0 marks an unused entry.
    pub error_count: u64,
    /// Submission Queue ID (@8).
    pub sqid: u16,
    /// Command ID (@10).
    pub cid: u16,
    /// Status Field (@12): bit 0 phase tag, bits 15:1 the status.
    pub status: u16,
    /// Parameter Error Location (@14): byte b7:0, bit b10:8.
    pub parm_error_location: u16,
    /// LBA (@16).
    pub lba: u64,
    /// Namespace (@24).
    pub nsid: u32,
    /// Vendor Specific Information Available (@28).
    pub vs: u8,
    /// Transport Type (@29).
    pub trtype: u8,
    /// Command Set Indicator (@30).
    pub csi: u8,
    /// Opcode of the failed command (@31).
    pub opcode: u8,
    /// Command Specific Information (@32).
    pub cmd_specific_info: u64,
    /// Transport Type Specific Information (@40).
    pub trtype_specific_info: u16,
    /// Log Page Version (@63).
    pub log_page_version: u8,
}

impl ErrorLogEntry {
    /// Encodes the 64-byte entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; ERROR_LOG_ENTRY_LEN];
        wr_u64(&mut b, 0, self.error_count);
        wr_u16(&mut b, 8, self.sqid);
        wr_u16(&mut b, 10, self.cid);
        wr_u16(&mut b, 12, self.status);
        wr_u16(&mut b, 14, self.parm_error_location);
        wr_u64(&mut b, 16, self.lba);
        wr_u32(&mut b, 24, self.nsid);
        wr_u8(&mut b, 28, self.vs);
        wr_u8(&mut b, 29, self.trtype);
        wr_u8(&mut b, 30, self.csi);
        wr_u8(&mut b, 31, self.opcode);
        wr_u64(&mut b, 32, self.cmd_specific_info);
        wr_u16(&mut b, 40, self.trtype_specific_info);
        wr_u8(&mut b, 63, self.log_page_version);
        b
    }

    /// Parses one entry from the first 64 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        need("error log entry", b, ERROR_LOG_ENTRY_LEN)?;
        Ok(Self {
            error_count: rd_u64(b, 0),
            sqid: rd_u16(b, 8),
            cid: rd_u16(b, 10),
            status: rd_u16(b, 12),
            parm_error_location: rd_u16(b, 14),
            lba: rd_u64(b, 16),
            nsid: rd_u32(b, 24),
            vs: rd_u8(b, 28),
            trtype: rd_u8(b, 29),
            csi: rd_u8(b, 30),
            opcode: rd_u8(b, 31),
            cmd_specific_info: rd_u64(b, 32),
            trtype_specific_info: rd_u16(b, 40),
            log_page_version: rd_u8(b, 63),
        })
    }
}

/// Encodes the whole Error Information log: `capacity` entries (ELPE + 1,
/// so at most 256), newest first as given, unused slots zero. Entries beyond
/// `capacity` are dropped.
pub fn encode_error_log(entries: &[ErrorLogEntry], capacity: usize) -> Vec<u8> {
    let capacity = capacity.min(usize::from(u8::MAX) + 1);
    let mut b = vec![0u8; capacity * ERROR_LOG_ENTRY_LEN];
    for (i, e) in entries.iter().take(capacity).enumerate() {
        wr(&mut b, i * ERROR_LOG_ENTRY_LEN, &e.to_bytes());
    }
    b
}

// ---------------------------------------------------------------------------
// SMART / Health Information (LID 02h)

/// SMART / Health Information log (512 bytes). The 128-bit counters are
/// little endian like every other field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmartLog {
    /// Critical Warning bits (@0).
    pub critical_warning: u8,
    /// Composite Temperature in kelvin (@1, u16).
    pub temperature: u16,
    /// Available Spare, percent (@3).
    pub available_spare: u8,
    /// Available Spare Threshold, percent (@4).
    pub available_spare_threshold: u8,
    /// Percentage Used (@5).
    pub percentage_used: u8,
    /// Endurance Group Critical Warning Summary (@6).
    pub endurance_group_critical_warning: u8,
    /// Data Units Read, thousands of 512-byte units (@32).
    pub data_units_read: u128,
    /// Data Units Written (@48).
    pub data_units_written: u128,
    /// Host Read Commands (@64).
    pub host_read_commands: u128,
    /// Host Write Commands (@80).
    pub host_write_commands: u128,
    /// Controller Busy Time in minutes (@96).
    pub controller_busy_time: u128,
    /// Power Cycles (@112).
    pub power_cycles: u128,
    /// Power On Hours (@128).
    pub power_on_hours: u128,
    /// Unsafe Shutdowns (@144).
    pub unsafe_shutdowns: u128,
    /// Media and Data Integrity Errors (@160).
    pub media_errors: u128,
    /// Number of Error Information Log Entries (@176).
    pub num_err_log_entries: u128,
    /// Warning Composite Temperature Time in minutes (@192).
    pub warning_temp_time: u32,
    /// Critical Composite Temperature Time in minutes (@196).
    pub critical_temp_time: u32,
    /// Temperature Sensors 1..8 in kelvin (@200, u16 each; 0 = absent).
    pub temp_sensor: [u16; 8],
    /// Thermal Management Temperature 1 Transition Count (@216).
    pub thm_temp1_trans_count: u32,
    /// Thermal Management Temperature 2 Transition Count (@220).
    pub thm_temp2_trans_count: u32,
    /// Total Time For Thermal Management Temperature 1 in seconds (@224).
    pub thm_temp1_total_time: u32,
    /// Total Time For Thermal Management Temperature 2 in seconds (@228).
    pub thm_temp2_total_time: u32,
}

impl SmartLog {
    /// Encodes the 512-byte log.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; SMART_LOG_LEN];
        wr_u8(&mut b, 0, self.critical_warning);
        wr_u16(&mut b, 1, self.temperature);
        wr_u8(&mut b, 3, self.available_spare);
        wr_u8(&mut b, 4, self.available_spare_threshold);
        wr_u8(&mut b, 5, self.percentage_used);
        wr_u8(&mut b, 6, self.endurance_group_critical_warning);
        wr_u128(&mut b, 32, self.data_units_read);
        wr_u128(&mut b, 48, self.data_units_written);
        wr_u128(&mut b, 64, self.host_read_commands);
        wr_u128(&mut b, 80, self.host_write_commands);
        wr_u128(&mut b, 96, self.controller_busy_time);
        wr_u128(&mut b, 112, self.power_cycles);
        wr_u128(&mut b, 128, self.power_on_hours);
        wr_u128(&mut b, 144, self.unsafe_shutdowns);
        wr_u128(&mut b, 160, self.media_errors);
        wr_u128(&mut b, 176, self.num_err_log_entries);
        wr_u32(&mut b, 192, self.warning_temp_time);
        wr_u32(&mut b, 196, self.critical_temp_time);
        for (i, &t) in self.temp_sensor.iter().enumerate() {
            wr_u16(&mut b, 200 + 2 * i, t);
        }
        wr_u32(&mut b, 216, self.thm_temp1_trans_count);
        wr_u32(&mut b, 220, self.thm_temp2_trans_count);
        wr_u32(&mut b, 224, self.thm_temp1_total_time);
        wr_u32(&mut b, 228, self.thm_temp2_total_time);
        b
    }

    /// Parses the log from the first 512 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, LogError> {
        need("SMART / Health log", b, SMART_LOG_LEN)?;
        Ok(Self {
            critical_warning: rd_u8(b, 0),
            temperature: rd_u16(b, 1),
            available_spare: rd_u8(b, 3),
            available_spare_threshold: rd_u8(b, 4),
            percentage_used: rd_u8(b, 5),
            endurance_group_critical_warning: rd_u8(b, 6),
            data_units_read: rd_u128(b, 32),
            data_units_written: rd_u128(b, 48),
            host_read_commands: rd_u128(b, 64),
            host_write_commands: rd_u128(b, 80),
            controller_busy_time: rd_u128(b, 96),
            power_cycles: rd_u128(b, 112),
            power_on_hours: rd_u128(b, 128),
            unsafe_shutdowns: rd_u128(b, 144),
            media_errors: rd_u128(b, 160),
            num_err_log_entries: rd_u128(b, 176),
            warning_temp_time: rd_u32(b, 192),
            critical_temp_time: rd_u32(b, 196),
            temp_sensor: core::array::from_fn(|i| rd_u16(b, 200 + 2 * i)),
            thm_temp1_trans_count: rd_u32(b, 216),
            thm_temp2_trans_count: rd_u32(b, 220),
            thm_temp1_total_time: rd_u32(b, 224),
            thm_temp2_total_time: rd_u32(b, 228),
        })
    }
}

// ---------------------------------------------------------------------------
// Changed Namespace List (LID 04h)

/// Marker in entry 0 when more than 1024 namespaces changed.
pub const CHANGED_NS_OVERFLOW: u32 = 0xFFFF_FFFF;

/// Contents of a Changed Namespace List log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedNsList {
    /// The changed NSIDs (possibly none).
    Nsids(Vec<u32>),
    /// More than 1024 namespaces changed: the host must rescan them all.
    Overflow,
}

/// Encodes the 4096-byte Changed Namespace List. NSIDs are sorted and
/// de-duplicated (0 and the broadcast value dropped); if more than 1024
/// remain, entry 0 is FFFFFFFFh and the rest zero, as the spec requires.
pub fn encode_changed_ns_list(nsids: &[u32]) -> Vec<u8> {
    let mut ids: Vec<u32> = nsids
        .iter()
        .copied()
        .filter(|&n| n != 0 && n != CHANGED_NS_OVERFLOW)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut b = vec![0u8; CHANGED_NS_LIST_LEN];
    if ids.len() > CHANGED_NS_LIST_MAX {
        wr_u32(&mut b, 0, CHANGED_NS_OVERFLOW);
    } else {
        for (i, n) in ids.iter().enumerate() {
            wr_u32(&mut b, 4 * i, *n);
        }
    }
    b
}

/// Parses a Changed Namespace List: NSIDs up to the first zero, at most 1024,
/// never past the buffer; FFFFFFFFh in entry 0 means [`ChangedNsList::Overflow`].
pub fn parse_changed_ns_list(b: &[u8]) -> ChangedNsList {
    if b.len() >= 4 && rd_u32(b, 0) == CHANGED_NS_OVERFLOW {
        return ChangedNsList::Overflow;
    }
    ChangedNsList::Nsids(
        b.chunks_exact(4)
            .take(CHANGED_NS_LIST_MAX)
            .map(|c| rd_u32(c, 0))
            .take_while(|&n| n != 0)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(anagrpid: u32, state: AnaState, nsids: &[u32]) -> AnaGroupDescriptor {
        AnaGroupDescriptor {
            anagrpid,
            change_count: 0,
            state,
            nsids: nsids.to_vec(),
        }
    }

    // ---- AnaState

    #[test]
    fn ana_state_values_and_names() {
        let table = [
            (AnaState::Optimized, 1, "optimized", true),
            (AnaState::NonOptimized, 2, "non_optimized", true),
            (AnaState::Inaccessible, 3, "inaccessible", false),
            (AnaState::PersistentLoss, 4, "persistent_loss", false),
            (AnaState::Change, 0x0F, "change", false),
        ];
        for (st, v, name, acc) in table {
            assert_eq!(st.as_u8(), v);
            assert_eq!(AnaState::from_u8(v), Some(st));
            assert_eq!(st.as_str(), name);
            assert_eq!(st.to_string(), name);
            assert_eq!(name.parse::<AnaState>(), Ok(st));
            assert_eq!(st.is_accessible(), acc);
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<AnaState>(&format!("\"{name}\"")).unwrap(),
                st
            );
        }
        for v in [0u8, 5, 6, 0x0E, 0x10, 0xFF] {
            assert_eq!(AnaState::from_u8(v), None, "{v}");
        }
        assert_eq!(
            "Optimized".parse::<AnaState>(),
            Err(LogError::UnknownAnaStateName("Optimized".into()))
        );
        assert!("bogus".parse::<AnaState>().is_err());
        assert!(serde_json::from_str::<AnaState>("\"bogus\"").is_err());
    }

    // ---- ANA log

    #[test]
    fn ana_log_layout() {
        let page = AnaLogPage {
            change_count: 0x0102_0304_0506_0708,
            groups: vec![
                AnaGroupDescriptor {
                    anagrpid: 7,
                    change_count: 0x1122_3344_5566_7788,
                    state: AnaState::NonOptimized,
                    nsids: vec![9, 3],
                },
                group(8, AnaState::Change, &[]),
            ],
        };
        let b = page.to_bytes(false);
        assert_eq!(b.len(), 16 + 32 + 8 + 32);
        assert_eq!(page.encoded_len(false), b.len());
        assert_eq!(&b[0..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[8..10], &[2, 0]);
        assert_eq!(&b[10..16], &[0; 6]);
        assert_eq!(&b[16..20], &[7, 0, 0, 0]);
        assert_eq!(&b[20..24], &[2, 0, 0, 0]);
        assert_eq!(
            &b[24..32],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(b[32], 2);
        assert_eq!(&b[33..48], &[0; 15]);
        // NSIDs sorted ascending on the wire.
        assert_eq!(&b[48..56], &[3, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!(&b[56..60], &[8, 0, 0, 0]);
        assert_eq!(&b[60..64], &[0; 4]);
        assert_eq!(b[72], 0x0F);
        let back = AnaLogPage::parse(&b).unwrap();
        assert_eq!(back.groups[0].nsids, vec![3, 9]);
        assert_eq!(back.groups[1], page.groups[1]);
        assert_eq!(back.change_count, page.change_count);
    }

    #[test]
    fn ana_log_rgo() {
        let page = AnaLogPage {
            change_count: 0,
            groups: vec![
                group(1, AnaState::Optimized, &[1, 2]),
                group(2, AnaState::Inaccessible, &[3]),
            ],
        };
        let b = page.to_bytes(true);
        assert_eq!(b.len(), 16 + 2 * 32);
        assert_eq!(page.encoded_len(true), b.len());
        assert_eq!(&b[20..24], &[0; 4]); // NNSIDS 0
        assert_eq!(&b[48..52], &[2, 0, 0, 0]); // next descriptor right after
        let back = AnaLogPage::parse(&b).unwrap();
        assert!(back.groups.iter().all(|g| g.nsids.is_empty()));
        assert_eq!(back.groups[1].state, AnaState::Inaccessible);
    }

    #[test]
    fn ana_log_empty_and_padding() {
        let b = AnaLogPage::default().to_bytes(false);
        assert_eq!(b, vec![0u8; 16]);
        assert_eq!(AnaLogPage::parse(&b).unwrap(), AnaLogPage::default());
        // Zero fill after the content is ignored.
        let page = AnaLogPage {
            change_count: 0,
            groups: vec![group(1, AnaState::Optimized, &[1])],
        };
        let mut b = page.to_bytes(false);
        b.resize(1044, 0);
        assert_eq!(AnaLogPage::parse(&b).unwrap(), page);
    }

    #[test]
    fn ana_log_parse_bounded() {
        assert!(matches!(
            AnaLogPage::parse(&[0; 15]),
            Err(LogError::TooShort { .. })
        ));
        // NGRPS 65535 in a 16-byte buffer: refused before allocating.
        let mut b = vec![0u8; 16];
        b[8] = 0xFF;
        b[9] = 0xFF;
        assert_eq!(
            AnaLogPage::parse(&b),
            Err(LogError::CountExceedsBuffer {
                what: "ANA group descriptors",
                count: 65535,
                fits: 0
            })
        );
        // NNSIDS u32::MAX with room for 1.
        let mut b = vec![0u8; 16 + 32 + 4];
        b[8] = 1;
        b[16] = 1;
        b[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        b[32] = 1;
        assert_eq!(
            AnaLogPage::parse(&b),
            Err(LogError::CountExceedsBuffer {
                what: "ANA group NSIDs",
                count: u64::from(u32::MAX),
                fits: 1
            })
        );
        // Two groups declared; the first one's NSIDs eat the second's room.
        let mut b = vec![0u8; 16 + 64];
        b[8] = 2;
        b[16] = 1;
        b[20] = 4; // 16 bytes of NSIDs
        b[32] = 1;
        assert!(matches!(
            AnaLogPage::parse(&b),
            Err(LogError::TooShort { .. })
        ));
    }

    #[test]
    fn ana_log_rejects_reserved_state() {
        let page = AnaLogPage {
            change_count: 0,
            groups: vec![group(5, AnaState::Optimized, &[])],
        };
        let mut b = page.to_bytes(false);
        b[32] = 0;
        assert_eq!(
            AnaLogPage::parse(&b),
            Err(LogError::InvalidAnaState {
                anagrpid: 5,
                value: 0
            })
        );
        b[32] = 0x07;
        assert!(AnaLogPage::parse(&b).is_err());
        // The reserved high nibble is ignored.
        b[32] = 0xF3;
        assert_eq!(
            AnaLogPage::parse(&b).unwrap().groups[0].state,
            AnaState::Inaccessible
        );
    }

    #[test]
    fn ana_log_lookups_and_size() {
        let page = AnaLogPage {
            change_count: 0,
            groups: vec![
                group(1, AnaState::Optimized, &[1]),
                group(2, AnaState::Inaccessible, &[2, 4]),
            ],
        };
        assert_eq!(page.state_for_nsid(4), Some(AnaState::Inaccessible));
        assert_eq!(page.state_for_nsid(3), None);
        assert_eq!(page.group(2).map(|g| g.nsids.len()), Some(2));
        assert!(page.group(9).is_none());
        assert_eq!(ana_log_max_len(32, 1), 1044);
        assert_eq!(ana_log_max_len(32, 32), 16 + 1024 + 128);
        assert!(ana_log_max_len(u32::MAX, u32::MAX) > 0);
    }

    // ---- slice_log

    #[test]
    fn slice_log_window() {
        let page: Vec<u8> = (1..=52).collect();
        // Whole page, zero padded to the requested length.
        let s = slice_log(&page, 0, 1044).unwrap();
        assert_eq!(s.len(), 1044);
        assert_eq!(&s[..52], &page[..]);
        assert!(s[52..].iter().all(|&x| x == 0));
        // Shorter than the page.
        assert_eq!(slice_log(&page, 0, 20).unwrap(), page[..20].to_vec());
        // From an offset inside the page, running past its end.
        let s = slice_log(&page, 48, 8).unwrap();
        assert_eq!(s, vec![49, 50, 51, 52, 0, 0, 0, 0]);
        // Zero length is an empty (valid) window.
        assert_eq!(slice_log(&page, 0, 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn slice_log_errors() {
        let page = vec![1u8; 52];
        assert_eq!(
            slice_log(&page, 2, 4),
            Err(LogError::UnalignedOffset { offset: 2 })
        );
        assert_eq!(
            slice_log(&page, 52, 4),
            Err(LogError::OffsetBeyondEnd {
                offset: 52,
                size: 52
            })
        );
        assert!(matches!(
            slice_log(&page, u64::MAX - 3, 4),
            Err(LogError::OffsetBeyondEnd { .. })
        ));
        assert!(matches!(
            slice_log(&[], 0, 4),
            Err(LogError::OffsetBeyondEnd { .. })
        ));
        assert_eq!(
            slice_log(&page, 0, MAX_LOG_SLICE_LEN + 1),
            Err(LogError::LengthTooLarge {
                len: MAX_LOG_SLICE_LEN + 1,
                max: MAX_LOG_SLICE_LEN
            })
        );
    }

    // ---- Discovery

    fn entry() -> DiscoveryLogEntry {
        let mut tsas = [0u8; 256];
        tsas[0] = sectype::NONE;
        DiscoveryLogEntry {
            trtype: trtype::TCP,
            adrfam: adrfam::IPV4,
            subtype: subtype::NVME,
            treq: treq::SECURE_CHANNEL_NOT_REQUIRED,
            portid: 0x0102,
            cntlid: 0xFFFF,
            asqsz: 0x0080,
            eflags: 0x0003,
            trsvcid: "4420".into(),
            subnqn: "nqn.2022-02.io.spdk:cnode0".into(),
            traddr: "127.0.0.1".into(),
            tsas,
        }
    }

    #[test]
    fn discovery_entry_layout() {
        let mut e = entry();
        e.tsas[0] = sectype::TLS13;
        e.tsas[255] = 0xEE;
        let b = e.to_bytes();
        assert_eq!(b.len(), 1024);
        assert_eq!(&b[0..12], &[3, 1, 2, 2, 2, 1, 0xFF, 0xFF, 0x80, 0, 3, 0]);
        assert!(b[12..32].iter().all(|&x| x == 0));
        // TRSVCID and TRADDR space padded (as SPDK's TCP transport writes
        // them), SUBNQN NUL padded.
        let mut svc = [b' '; 32];
        svc[..4].copy_from_slice(b"4420");
        assert_eq!(&b[32..64], &svc);
        assert!(b[64..256].iter().all(|&x| x == 0));
        assert_eq!(&b[256..282], b"nqn.2022-02.io.spdk:cnode0");
        assert!(b[282..512].iter().all(|&x| x == 0));
        let mut addr = [b' '; 256];
        addr[..9].copy_from_slice(b"127.0.0.1");
        assert_eq!(&b[512..768], &addr);
        assert_eq!(b[768], 2);
        assert_eq!(b[1023], 0xEE);
        assert_eq!(DiscoveryLogEntry::parse(&b).unwrap(), e);
        assert_eq!(e.sectype(), 2);
    }

    #[test]
    fn discovery_entry_accepts_nul_padding() {
        let mut b = entry().to_bytes();
        b[32..64].fill(0);
        b[32..36].copy_from_slice(b"4420");
        b[512..768].fill(0);
        b[512..521].copy_from_slice(b"127.0.0.1");
        assert_eq!(DiscoveryLogEntry::parse(&b).unwrap(), entry());
        b[256] = 0xFF;
        assert_eq!(
            DiscoveryLogEntry::parse(&b),
            Err(LogError::InvalidString { field: "SUBNQN" })
        );
        assert!(matches!(
            DiscoveryLogEntry::parse(&b[..1000]),
            Err(LogError::TooShort { .. })
        ));
    }

    #[test]
    fn discovery_page_layout_and_round_trip() {
        let mut second = entry();
        second.adrfam = adrfam::IPV6;
        second.traddr = "::1".into();
        second.trsvcid = "5520".into();
        let page = DiscoveryLogPage {
            genctr: 0x0A0B,
            recfmt: 0,
            entries: vec![entry(), second],
        };
        let b = page.to_bytes();
        assert_eq!(b.len(), 1024 * 3);
        assert_eq!(&b[0..8], &[0x0B, 0x0A, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[8..16], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[16..18], &[0, 0]);
        assert!(b[18..1024].iter().all(|&x| x == 0));
        assert_eq!(b[1024], 3);
        assert_eq!(b[2048 + 1], 2);
        assert_eq!(DiscoveryLogPage::parse(&b).unwrap(), page);
        let h = DiscoveryLogHeader::parse(&b[..20]).unwrap();
        assert_eq!(
            h,
            DiscoveryLogHeader {
                genctr: 0x0A0B,
                numrec: 2,
                recfmt: 0
            }
        );
        assert_eq!(h.log_len(), 3072);
        // Empty log: the header alone.
        let empty = DiscoveryLogPage::default().to_bytes();
        assert_eq!(empty, vec![0u8; 1024]);
        assert_eq!(
            DiscoveryLogPage::parse(&empty).unwrap(),
            DiscoveryLogPage::default()
        );
    }

    #[test]
    fn discovery_page_parse_bounded() {
        assert!(matches!(
            DiscoveryLogHeader::parse(&[0; 17]),
            Err(LogError::TooShort { .. })
        ));
        assert!(matches!(
            DiscoveryLogPage::parse(&[0; 1023]),
            Err(LogError::TooShort { .. })
        ));
        let mut b = vec![0u8; 2047];
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            DiscoveryLogPage::parse(&b),
            Err(LogError::CountExceedsBuffer {
                what: "discovery log records",
                count: u64::MAX,
                fits: 0
            })
        );
        assert_eq!(DiscoveryLogHeader::parse(&b).unwrap().log_len(), usize::MAX);
        // Trailing bytes beyond NUMREC entries are ignored.
        let mut b = DiscoveryLogPage {
            genctr: 1,
            recfmt: 0,
            entries: vec![entry()],
        }
        .to_bytes();
        b.extend_from_slice(&[0xAB; 1500]);
        assert_eq!(DiscoveryLogPage::parse(&b).unwrap().entries.len(), 1);
    }

    // ---- Error information

    #[test]
    fn error_log_entry_offsets() {
        let e = ErrorLogEntry {
            error_count: 0x0102_0304_0506_0708,
            sqid: 0x1112,
            cid: 0x1314,
            status: 0x1516,
            parm_error_location: 0x1718,
            lba: 0x2122_2324_2526_2728,
            nsid: 0x3132_3334,
            vs: 0x41,
            trtype: 0x42,
            csi: 0x43,
            opcode: 0x44,
            cmd_specific_info: 0x5152_5354_5556_5758,
            trtype_specific_info: 0x6162,
            log_page_version: 0x71,
        };
        let b = e.to_bytes();
        let mut want = [0u8; 64];
        want[0..8].copy_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
        want[8..10].copy_from_slice(&[0x12, 0x11]);
        want[10..12].copy_from_slice(&[0x14, 0x13]);
        want[12..14].copy_from_slice(&[0x16, 0x15]);
        want[14..16].copy_from_slice(&[0x18, 0x17]);
        want[16..24].copy_from_slice(&[0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21]);
        want[24..28].copy_from_slice(&[0x34, 0x33, 0x32, 0x31]);
        want[28] = 0x41;
        want[29] = 0x42;
        want[30] = 0x43;
        want[31] = 0x44;
        want[32..40].copy_from_slice(&[0x58, 0x57, 0x56, 0x55, 0x54, 0x53, 0x52, 0x51]);
        want[40..42].copy_from_slice(&[0x62, 0x61]);
        want[63] = 0x71;
        assert_eq!(b, want.to_vec());
        assert_eq!(ErrorLogEntry::parse(&b).unwrap(), e);
        assert!(ErrorLogEntry::parse(&b[..63]).is_err());
    }

    #[test]
    fn error_log_page() {
        let e = ErrorLogEntry {
            error_count: 1,
            ..Default::default()
        };
        let b = encode_error_log(&[e, e, e], 2);
        assert_eq!(b.len(), 128);
        assert_eq!(b[0], 1);
        assert_eq!(b[64], 1);
        // ELPE 127 (SPDK) means 128 entries of zeros when nothing failed.
        assert_eq!(encode_error_log(&[], 128), vec![0u8; 128 * 64]);
        assert_eq!(encode_error_log(&[], 100_000).len(), 256 * 64);
    }

    // ---- SMART

    #[test]
    fn smart_offsets() {
        let s = SmartLog {
            critical_warning: 0x01,
            temperature: 0x0141,
            available_spare: 100,
            available_spare_threshold: 10,
            percentage_used: 3,
            endurance_group_critical_warning: 4,
            data_units_read: 0x20,
            data_units_written: 0x30,
            host_read_commands: 0x40,
            host_write_commands: 0x50,
            controller_busy_time: 0x60,
            power_cycles: 0x70,
            power_on_hours: 0x80,
            unsafe_shutdowns: 0x90,
            media_errors: 0xA0,
            num_err_log_entries: (1u128 << 120) | 0xB0,
            warning_temp_time: 0x0102_0304,
            critical_temp_time: 0x0506_0708,
            temp_sensor: [0x0A01, 2, 3, 4, 5, 6, 7, 0x0B08],
            thm_temp1_trans_count: 0xC1,
            thm_temp2_trans_count: 0xC2,
            thm_temp1_total_time: 0xC3,
            thm_temp2_total_time: 0xC4,
        };
        let b = s.to_bytes();
        assert_eq!(b.len(), 512);
        assert_eq!(&b[0..7], &[0x01, 0x41, 0x01, 100, 10, 3, 4]);
        for (off, v) in [
            (32, 0x20),
            (48, 0x30),
            (64, 0x40),
            (80, 0x50),
            (96, 0x60),
            (112, 0x70),
            (128, 0x80),
            (144, 0x90),
            (160, 0xA0),
            (176, 0xB0),
        ] {
            assert_eq!(b[off], v, "u128 at {off}");
        }
        assert_eq!(b[176 + 15], 1);
        assert_eq!(&b[192..200], &[4, 3, 2, 1, 8, 7, 6, 5]);
        assert_eq!(&b[200..202], &[0x01, 0x0A]);
        assert_eq!(&b[214..216], &[0x08, 0x0B]);
        assert_eq!((b[216], b[220], b[224], b[228]), (0xC1, 0xC2, 0xC3, 0xC4));
        let nonzero = b.iter().filter(|&&x| x != 0).count();
        assert_eq!(nonzero, 7 + 11 + 8 + 10 + 4);
        assert_eq!(SmartLog::parse(&b).unwrap(), s);
        assert!(SmartLog::parse(&b[..511]).is_err());
        assert_eq!(SmartLog::default().to_bytes(), vec![0u8; 512]);
    }

    /// Deterministic garbage of many lengths through every parser: errors
    /// are fine, panics are not.
    #[test]
    fn parsers_never_panic_on_garbage() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..400usize {
            let len = match round % 4 {
                0 => round % 80,
                1 => 1044,
                2 => 2048 + round,
                _ => (round * 53) % 5000,
            };
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly small values, so counts are often plausible.
                    if x.is_multiple_of(2) {
                        (x >> 8) as u8 & 0x03
                    } else {
                        (x >> 16) as u8
                    }
                })
                .collect();
            let _ = AnaLogPage::parse(&b);
            let _ = DiscoveryLogHeader::parse(&b);
            let _ = DiscoveryLogPage::parse(&b);
            let _ = DiscoveryLogEntry::parse(&b);
            let _ = ErrorLogEntry::parse(&b);
            let _ = SmartLog::parse(&b);
            let _ = parse_changed_ns_list(&b);
            let _ = slice_log(&b, (x % 6000) & !3, (round * 13) % 3000);
        }
    }

    // ---- Changed NS list

    #[test]
    fn changed_ns_list() {
        let b = encode_changed_ns_list(&[3, 1, 3, 0]);
        assert_eq!(b.len(), 4096);
        assert_eq!(&b[..12], &[1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_changed_ns_list(&b), ChangedNsList::Nsids(vec![1, 3]));
        assert_eq!(
            parse_changed_ns_list(&encode_changed_ns_list(&[])),
            ChangedNsList::Nsids(vec![])
        );
        let all: Vec<u32> = (1..=1024).collect();
        let b = encode_changed_ns_list(&all);
        assert_eq!(parse_changed_ns_list(&b), ChangedNsList::Nsids(all));
        let over: Vec<u32> = (1..=1025).collect();
        let b = encode_changed_ns_list(&over);
        assert_eq!(&b[..4], &[0xFF; 4]);
        assert!(b[4..].iter().all(|&x| x == 0));
        assert_eq!(parse_changed_ns_list(&b), ChangedNsList::Overflow);
        assert_eq!(parse_changed_ns_list(&[]), ChangedNsList::Nsids(vec![]));
        assert_eq!(
            parse_changed_ns_list(&[1u8; 9000]),
            ChangedNsList::Nsids(vec![0x0101_0101; 1024])
        );
    }
}
