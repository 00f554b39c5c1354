//! Malloc bdevs: RAM-backed block devices, as SPDK's `bdev_malloc_create`
//! makes them.
//!
//! The memory is split into stripes, each behind its own lock, so that I/O
//! from several connections to different parts of the bdev does not
//! serialise on one lock. A request that crosses stripes locks them one
//! after the other; NVMe gives no atomicity across blocks beyond AWUN
//! (reported as 0, i.e. one block), so that is within the contract.

use std::sync::RwLock;

use bytes::BytesMut;
use uuid::Uuid;

/// Bytes per stripe lock; a power of two, a multiple of every block size.
const STRIPE: usize = 1 << 20;

/// Block sizes SPDK's malloc bdev accepts without metadata.
pub const VALID_BLOCK_SIZES: [u32; 8] = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

/// Largest malloc bdev we make whatever the machine has: 1 TiB.
pub const MAX_BDEV_BYTES: u64 = 1 << 40;

/// The machine's memory as `/proc/meminfo` reports it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub available: u64,
}

impl MemInfo {
    /// `None` where there is no `/proc/meminfo` (or it lacks the fields).
    pub fn read() -> Option<MemInfo> {
        MemInfo::parse(&std::fs::read_to_string("/proc/meminfo").ok()?)
    }

    pub fn parse(meminfo: &str) -> Option<MemInfo> {
        let field = |name: &str| {
            meminfo.lines().find_map(|l| {
                let kib = l.strip_prefix(name)?.strip_prefix(':')?;
                let kib: u64 = kib.trim().strip_suffix("kB")?.trim().parse().ok()?;
                kib.checked_mul(1024)
            })
        };
        Some(MemInfo {
            total: field("MemTotal")?,
            available: field("MemAvailable")?,
        })
    }
}

/// Whether a new malloc bdev of `bytes` fits, next to malloc bdevs that
/// already take `existing` bytes. SPDK allocates a malloc bdev's whole
/// buffer (pinned hugepages) when it is created and fails the RPC with
/// -ENOMEM when it cannot. Ours is calloc-backed and only costs memory as
/// it is written, so instead of failing late (the OOM killer, or minutes
/// of allocating while the target's lock is held) we refuse up front what
/// the machine could never back: more than 1 TiB, more than the memory
/// available right now (`MemAvailable`), or malloc bdevs adding up to more
/// than the machine's memory (`MemTotal`). Without `/proc/meminfo` only
/// the 1 TiB cap applies.
pub fn fits_in_memory(bytes: u64, existing: u64, mem: Option<MemInfo>) -> bool {
    if bytes > MAX_BDEV_BYTES {
        return false;
    }
    match mem {
        Some(m) => bytes <= m.available && existing.saturating_add(bytes) <= m.total,
        None => true,
    }
}

#[derive(Debug)]
pub struct MallocBdev {
    pub name: String,
    pub uuid: Uuid,
    pub block_size: u32,
    pub num_blocks: u64,
    stripes: Vec<RwLock<Box<[u8]>>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct OutOfRange;

impl MallocBdev {
    /// Allocates zeroed memory lazily (calloc-backed), so a 64 MiB bdev costs
    /// nothing until written.
    pub fn new(name: String, uuid: Uuid, block_size: u32, num_blocks: u64) -> Self {
        let total = (num_blocks * block_size as u64) as usize;
        let stripes = (0..total.div_ceil(STRIPE))
            .map(|i| {
                let len = STRIPE.min(total - i * STRIPE);
                RwLock::new(vec![0u8; len].into_boxed_slice())
            })
            .collect();
        MallocBdev {
            name,
            uuid,
            block_size,
            num_blocks,
            stripes,
        }
    }

    pub fn size_bytes(&self) -> u64 {
        self.num_blocks * self.block_size as u64
    }

    /// Checks `[slba, slba + nlb)` against the capacity without overflow.
    pub fn check_range(&self, slba: u64, nlb: u64) -> Result<(), OutOfRange> {
        match slba.checked_add(nlb) {
            Some(end) if end <= self.num_blocks => Ok(()),
            _ => Err(OutOfRange),
        }
    }

    /// Walks the stripes covering `len` bytes at byte offset `off`, calling
    /// `f(stripe, start_in_stripe, range_in_buffer)` for each piece.
    fn for_each_piece(
        &self,
        off: usize,
        len: usize,
        mut f: impl FnMut(&RwLock<Box<[u8]>>, usize, std::ops::Range<usize>),
    ) {
        let mut done = 0;
        while done < len {
            let pos = off + done;
            let (idx, within) = (pos / STRIPE, pos % STRIPE);
            let n = (STRIPE - within).min(len - done);
            f(&self.stripes[idx], within, done..done + n);
            done += n;
        }
    }

    /// Copies blocks into `out` (whose length must be `nlb * block_size`).
    pub fn read(&self, slba: u64, out: &mut [u8]) -> Result<(), OutOfRange> {
        let nlb = (out.len() / self.block_size as usize) as u64;
        self.check_range(slba, nlb)?;
        let off = (slba * self.block_size as u64) as usize;
        self.for_each_piece(off, out.len(), |stripe, within, r| {
            let s = stripe.read().unwrap_or_else(|p| p.into_inner());
            out[r.clone()].copy_from_slice(&s[within..within + r.len()]);
        });
        Ok(())
    }

    /// Appends `len` bytes of blocks at `slba` to `out`: the target puts
    /// read data straight into its send buffer, with no staging copy and no
    /// zero-fill. `len` must be a whole number of blocks.
    pub fn read_into(&self, slba: u64, len: usize, out: &mut BytesMut) -> Result<(), OutOfRange> {
        let nlb = (len / self.block_size as usize) as u64;
        self.check_range(slba, nlb)?;
        let off = (slba * self.block_size as u64) as usize;
        out.reserve(len);
        self.for_each_piece(off, len, |stripe, within, r| {
            let s = stripe.read().unwrap_or_else(|p| p.into_inner());
            out.extend_from_slice(&s[within..within + r.len()]);
        });
        Ok(())
    }

    pub fn write(&self, slba: u64, data: &[u8]) -> Result<(), OutOfRange> {
        let nlb = (data.len() / self.block_size as usize) as u64;
        self.check_range(slba, nlb)?;
        let off = (slba * self.block_size as u64) as usize;
        self.for_each_piece(off, data.len(), |stripe, within, r| {
            let mut s = stripe.write().unwrap_or_else(|p| p.into_inner());
            s[within..within + r.len()].copy_from_slice(&data[r]);
        });
        Ok(())
    }

    pub fn write_zeroes(&self, slba: u64, nlb: u64) -> Result<(), OutOfRange> {
        self.check_range(slba, nlb)?;
        let off = (slba * self.block_size as u64) as usize;
        let len = (nlb * self.block_size as u64) as usize;
        self.for_each_piece(off, len, |stripe, within, r| {
            let mut s = stripe.write().unwrap_or_else(|p| p.into_inner());
            s[within..within + r.len()].fill(0);
        });
        Ok(())
    }
}

impl MallocBdev {
    /// Whether the blocks at `slba` hold exactly `data` (Compare).
    pub fn compare(&self, slba: u64, data: &[u8]) -> Result<bool, OutOfRange> {
        let nlb = (data.len() / self.block_size as usize) as u64;
        self.check_range(slba, nlb)?;
        let off = (slba * self.block_size as u64) as usize;
        let mut same = true;
        self.for_each_piece(off, data.len(), |stripe, within, r| {
            let s = stripe.read().unwrap_or_else(|p| p.into_inner());
            same &= s[within..within + r.len()] == data[r];
        });
        Ok(same)
    }

    /// Fused Compare and Write: writes `data` only if the blocks hold
    /// `expect`, with every stripe of the range write-locked for the whole
    /// of it, so no other writer lands between the compare and the write.
    /// Stripes are locked in ascending order and other commands never hold
    /// two at once, so this cannot deadlock. `Ok(false)` is a miscompare.
    pub fn compare_and_write(
        &self,
        slba: u64,
        expect: &[u8],
        data: &[u8],
    ) -> Result<bool, OutOfRange> {
        let nlb = (data.len() / self.block_size as usize) as u64;
        self.check_range(slba, nlb)?;
        if expect.len() != data.len() {
            return Ok(false);
        }
        if data.is_empty() {
            return Ok(true);
        }
        let off = (slba * self.block_size as u64) as usize;
        let first = off / STRIPE;
        let last = (off + data.len() - 1) / STRIPE;
        let mut guards: Vec<_> = self.stripes[first..=last]
            .iter()
            .map(|s| s.write().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let piece = |pos: usize| (pos / STRIPE - first, pos % STRIPE);
        let mut done = 0;
        while done < data.len() {
            let (g, within) = piece(off + done);
            let n = (STRIPE - within).min(data.len() - done);
            if guards[g][within..within + n] != expect[done..done + n] {
                return Ok(false);
            }
            done += n;
        }
        done = 0;
        while done < data.len() {
            let (g, within) = piece(off + done);
            let n = (STRIPE - within).min(data.len() - done);
            guards[g][within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(true)
    }

    /// Copies `nlb` blocks from `src` to `dst` (ranges may overlap).
    pub fn copy_blocks(&self, src: u64, nlb: u64, dst: u64) -> Result<(), OutOfRange> {
        self.check_range(src, nlb)?;
        self.check_range(dst, nlb)?;
        let mut buf = vec![0u8; (nlb * self.block_size as u64) as usize];
        self.read(src, &mut buf)?;
        self.write(dst, &buf)
    }

    /// Deallocates blocks. A malloc bdev reads deallocated blocks as
    /// zeroes, as SPDK's does, so this is Write Zeroes.
    pub fn deallocate(&self, slba: u64, nlb: u64) -> Result<(), OutOfRange> {
        self.write_zeroes(slba, nlb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_across_stripes() {
        let b = MallocBdev::new("m".into(), Uuid::nil(), 512, 3 * (STRIPE as u64 / 512));
        let lba = STRIPE as u64 / 512 - 2; // 2 blocks before the first stripe boundary
        let data: Vec<u8> = (0..4 * 512).map(|i| (i % 251) as u8).collect();
        b.write(lba, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        b.read(lba, &mut back).unwrap();
        assert_eq!(back, data);
        b.write_zeroes(lba + 1, 2).unwrap();
        b.read(lba, &mut back).unwrap();
        assert_eq!(&back[..512], &data[..512]);
        assert!(back[512..1536].iter().all(|&x| x == 0));
        assert_eq!(&back[1536..], &data[1536..]);
        let mut out = BytesMut::from(&b"head"[..]);
        b.read_into(lba, back.len(), &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..], &back[..]);
    }

    #[test]
    fn compare_write_copy_across_stripes() {
        let b = MallocBdev::new("m".into(), Uuid::nil(), 512, 3 * (STRIPE as u64 / 512));
        let lba = STRIPE as u64 / 512 - 1; // one block each side of a boundary
        let old: Vec<u8> = (0..1024).map(|i| (i % 7) as u8).collect();
        let new: Vec<u8> = (0..1024).map(|i| (i % 5) as u8 + 1).collect();
        b.write(lba, &old).unwrap();
        assert!(b.compare(lba, &old).unwrap());
        assert!(!b.compare(lba, &new).unwrap());
        // A miscompare writes nothing.
        assert!(!b.compare_and_write(lba, &new, &new).unwrap());
        assert!(b.compare(lba, &old).unwrap());
        assert!(b.compare_and_write(lba, &old, &new).unwrap());
        assert!(b.compare(lba, &new).unwrap());
        b.copy_blocks(lba, 2, 10).unwrap();
        assert!(b.compare(10, &new).unwrap());
        b.deallocate(10, 2).unwrap();
        assert!(b.compare(10, &[0u8; 1024]).unwrap());
        assert_eq!(b.copy_blocks(lba, 2, b.num_blocks - 1), Err(OutOfRange));
        assert_eq!(b.compare_and_write(b.num_blocks, &[], &[]), Ok(true));
    }

    #[test]
    fn meminfo_and_the_size_bound() {
        let text = "MemTotal:       24684084 kB\nMemFree:        1000 kB\n\
                    MemAvailable:   20000000 kB\nBuffers: 5 kB\n";
        let m = MemInfo::parse(text).unwrap();
        assert_eq!(m.total, 24_684_084 * 1024);
        assert_eq!(m.available, 20_000_000 * 1024);
        assert_eq!(MemInfo::parse("MemTotal: 5 kB\n"), None);
        // 1 TiB on a 24 GiB machine: refused; 64 MiB: fine.
        assert!(!fits_in_memory(1 << 40, 0, Some(m)));
        assert!(fits_in_memory(64 << 20, 0, Some(m)));
        // More than available now, or than the machine with the others.
        assert!(!fits_in_memory(m.available + 1, 0, Some(m)));
        assert!(!fits_in_memory(8 << 30, 17 << 30, Some(m)));
        assert!(fits_in_memory(8 << 30, 8 << 30, Some(m)));
        // No meminfo: only the hard cap.
        assert!(fits_in_memory(1 << 40, 0, None));
        assert!(!fits_in_memory((1 << 40) + 1, 0, None));
    }

    #[test]
    fn range_checks_do_not_overflow() {
        let b = MallocBdev::new("m".into(), Uuid::nil(), 4096, 8);
        assert_eq!(b.check_range(u64::MAX, 2), Err(OutOfRange));
        assert_eq!(b.check_range(7, 2), Err(OutOfRange));
        assert!(b.check_range(7, 1).is_ok());
        let mut out = vec![0u8; 4096];
        assert_eq!(b.read(8, &mut out), Err(OutOfRange));
        let mut buf = BytesMut::new();
        assert_eq!(b.read_into(7, 8192, &mut buf), Err(OutOfRange));
        assert!(buf.is_empty());
    }
}
