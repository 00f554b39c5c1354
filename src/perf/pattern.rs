//! The verify data format: stronger than bdevperf's.
//!
//! bdevperf's verify pattern is the same for every write of a given size (a
//! counter of block index + byte offset), so it catches corruption, zeroes
//! and short I/O, but not a stale read (old data that bdevperf itself wrote
//! earlier) nor a read served from the wrong LBA. Multipath failover is
//! exactly where those two happen, so every block we write says where it
//! belongs and which write it is:
//!
//! ```text
//! bytes  0..8   LBA of this block                     (u64 LE)
//! bytes  8..16  write generation                      (u64 LE)
//! bytes 16..24  check = mix(LBA, generation)          (u64 LE)
//! bytes 24..    fill: u64 LE words seed + i * WEYL, seed = mix'(LBA, generation)
//! ```
//!
//! The generation of a verify slot (an IO-size unit of the LBA range) grows
//! with every write of that slot, so a read-back that finds a valid header
//! with an older generation is stale, one with another LBA is misdirected,
//! and anything else that differs is corruption. The check word tells a
//! header we wrote from random bytes or zeroes. The fill depends on both LBA
//! and generation, so the whole block changes from one write to the next.

use std::fmt;

/// Bytes of the per-block header.
pub const HEADER_LEN: usize = 24;
/// Smallest block that holds a header plus one fill word.
pub const MIN_BLOCK_SIZE: u32 = 32;

const MAGIC: u64 = 0x6d70_6174_6876_6572; // "mpathver"
/// Odd 64-bit constant (2^64 / golden ratio): consecutive fill words differ
/// in many bits and the sequence does not repeat within a block.
const WEYL: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finaliser: a bijective 64-bit mixer.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn header_check(lba: u64, generation: u64) -> u64 {
    mix(lba ^ MAGIC) ^ mix(generation.wrapping_add(MAGIC).rotate_left(29)).wrapping_add(1)
}

#[inline]
fn fill_seed(lba: u64, generation: u64) -> u64 {
    mix(lba.wrapping_mul(WEYL) ^ mix(generation ^ !MAGIC))
}

#[inline]
fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

/// Fills one block for (`lba`, `generation`). Blocks shorter than
/// `HEADER_LEN` get as much of the header as fits.
pub fn fill_block(block: &mut [u8], lba: u64, generation: u64) {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&lba.to_le_bytes());
    header[8..16].copy_from_slice(&generation.to_le_bytes());
    header[16..24].copy_from_slice(&header_check(lba, generation).to_le_bytes());
    let n = block.len().min(HEADER_LEN);
    block[..n].copy_from_slice(&header[..n]);
    if block.len() <= HEADER_LEN {
        return;
    }
    let seed = fill_seed(lba, generation);
    let body = &mut block[HEADER_LEN..];
    let mut chunks = body.chunks_exact_mut(8);
    let mut w = seed;
    for c in &mut chunks {
        c.copy_from_slice(&w.to_le_bytes());
        w = w.wrapping_add(WEYL);
    }
    let rem = chunks.into_remainder();
    let n = rem.len();
    rem.copy_from_slice(&w.to_le_bytes()[..n]);
}

/// Fills a whole I/O buffer: consecutive blocks from `first_lba`.
pub fn fill_io(buf: &mut [u8], first_lba: u64, generation: u64, block_size: usize) {
    if block_size == 0 {
        return;
    }
    for (i, block) in buf.chunks_mut(block_size).enumerate() {
        fill_block(block, first_lba.wrapping_add(i as u64), generation);
    }
}

/// What a read-back block held instead of what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MiscompareKind {
    /// A valid header of this LBA with an older generation: the read missed
    /// the latest write (lost write, or a path serving old data).
    Stale { found_generation: u64 },
    /// A valid header of this LBA with a newer generation than the one
    /// just written: another writer, or data from a later run.
    NewerGeneration { found_generation: u64 },
    /// A valid header of another LBA: the read (or the write) went to the
    /// wrong place.
    Misdirected {
        found_lba: u64,
        found_generation: u64,
    },
    /// The block is all zeroes (never written, or written as zeroes).
    Zeroed,
    /// Anything else: the first differing byte within the block.
    Corrupt { offset: usize },
    /// The device returned a buffer of the wrong size.
    WrongLength { expected: usize, found: usize },
}

/// One verify miscompare, located to the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miscompare {
    /// The LBA of the block that read back wrong.
    pub lba: u64,
    /// The generation written there just before the read.
    pub expected_generation: u64,
    pub kind: MiscompareKind,
}

impl fmt::Display for Miscompare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lba, g) = (self.lba, self.expected_generation);
        match &self.kind {
            MiscompareKind::Stale { found_generation } => write!(
                f,
                "LBA {lba}: stale data: expected generation {g}, found generation {found_generation}"
            ),
            MiscompareKind::NewerGeneration { found_generation } => write!(
                f,
                "LBA {lba}: unexpected generation: expected {g}, found newer {found_generation}"
            ),
            MiscompareKind::Misdirected {
                found_lba,
                found_generation,
            } => write!(
                f,
                "LBA {lba}: misdirected: expected LBA {lba} generation {g}, found LBA {found_lba} generation {found_generation}"
            ),
            MiscompareKind::Zeroed => {
                write!(f, "LBA {lba}: reads back as zeroes (expected generation {g})")
            }
            MiscompareKind::Corrupt { offset } => write!(
                f,
                "LBA {lba}: corrupt data at byte {offset} of the block (expected generation {g})"
            ),
            MiscompareKind::WrongLength { expected, found } => write!(
                f,
                "LBA {lba}: read returned {found} bytes, expected {expected} (generation {g})"
            ),
        }
    }
}

/// Index of the first byte where `block` differs from the expected
/// contents for (`lba`, `generation`), or `None` if it matches.
fn first_difference(block: &[u8], lba: u64, generation: u64) -> Option<usize> {
    // Header: three words.
    let hdr = [lba, generation, header_check(lba, generation)];
    for (k, want) in hdr.iter().enumerate() {
        let at = k * 8;
        if at >= block.len() {
            return None;
        }
        let end = (at + 8).min(block.len());
        let want = want.to_le_bytes();
        if let Some(d) = block[at..end]
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
        {
            return Some(at + d);
        }
    }
    if block.len() <= HEADER_LEN {
        return None;
    }
    // Body: a branch-free XOR pass first (the common, matching case), the
    // byte search only when something differs.
    let body = &block[HEADER_LEN..];
    let seed = fill_seed(lba, generation);
    let mut chunks = body.chunks_exact(8);
    let mut w = seed;
    let mut diff = 0u64;
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        diff |= u64::from_le_bytes(a) ^ w;
        w = w.wrapping_add(WEYL);
    }
    let rem = chunks.remainder();
    let tail_ok = rem == &w.to_le_bytes()[..rem.len()];
    if diff == 0 && tail_ok {
        return None;
    }
    let mut w = seed;
    for (i, c) in body.chunks(8).enumerate() {
        let want = w.to_le_bytes();
        if let Some(d) = c.iter().zip(want.iter()).position(|(a, b)| a != b) {
            return Some(HEADER_LEN + i * 8 + d);
        }
        w = w.wrapping_add(WEYL);
    }
    None
}

/// Checks one block read back from `lba` against `generation`.
pub fn check_block(block: &[u8], lba: u64, generation: u64) -> Result<(), Miscompare> {
    let miscompare = |kind| Miscompare {
        lba,
        expected_generation: generation,
        kind,
    };
    if block.len() >= HEADER_LEN {
        let (f_lba, f_gen, f_chk) = (read_u64(block, 0), read_u64(block, 8), read_u64(block, 16));
        if f_chk == header_check(f_lba, f_gen) {
            if f_lba != lba {
                return Err(miscompare(MiscompareKind::Misdirected {
                    found_lba: f_lba,
                    found_generation: f_gen,
                }));
            }
            if f_gen < generation {
                return Err(miscompare(MiscompareKind::Stale {
                    found_generation: f_gen,
                }));
            }
            if f_gen > generation {
                return Err(miscompare(MiscompareKind::NewerGeneration {
                    found_generation: f_gen,
                }));
            }
        }
    }
    match first_difference(block, lba, generation) {
        None => Ok(()),
        Some(_) if block.iter().all(|&b| b == 0) => Err(miscompare(MiscompareKind::Zeroed)),
        Some(offset) => Err(miscompare(MiscompareKind::Corrupt { offset })),
    }
}

/// Checks a whole read-back I/O (consecutive blocks from `first_lba`) and
/// reports the first bad block.
pub fn check_io(
    buf: &[u8],
    expected_len: usize,
    first_lba: u64,
    generation: u64,
    block_size: usize,
) -> Result<(), Miscompare> {
    if buf.len() != expected_len || block_size == 0 {
        return Err(Miscompare {
            lba: first_lba,
            expected_generation: generation,
            kind: MiscompareKind::WrongLength {
                expected: expected_len,
                found: buf.len(),
            },
        });
    }
    for (i, block) in buf.chunks(block_size).enumerate() {
        check_block(block, first_lba.wrapping_add(i as u64), generation)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(lba: u64, g: u64, size: usize) -> Vec<u8> {
        let mut b = vec![0u8; size];
        fill_block(&mut b, lba, g);
        b
    }

    #[test]
    fn round_trip_and_uniqueness() {
        for size in [32usize, 33, 512, 4096, 4100] {
            let b = block(7, 3, size);
            assert_eq!(check_block(&b, 7, 3), Ok(()), "size {size}");
            // Every (lba, generation) gives different bytes everywhere past
            // the header.
            let other = block(7, 4, size);
            assert!(b[HEADER_LEN..]
                .chunks(8)
                .zip(other[HEADER_LEN..].chunks(8))
                .all(|(x, y)| x != y));
        }
        // An all-zero block is not a valid header of LBA 0 generation 0.
        assert_ne!(header_check(0, 0), 0);
    }

    #[test]
    fn classification() {
        let b = block(10, 5, 512);
        assert_eq!(
            check_block(&b, 10, 6).unwrap_err().kind,
            MiscompareKind::Stale {
                found_generation: 5
            }
        );
        assert_eq!(
            check_block(&b, 10, 4).unwrap_err().kind,
            MiscompareKind::NewerGeneration {
                found_generation: 5
            }
        );
        let e = check_block(&b, 11, 5).unwrap_err();
        assert_eq!(e.lba, 11);
        assert_eq!(
            e.kind,
            MiscompareKind::Misdirected {
                found_lba: 10,
                found_generation: 5
            }
        );
        assert_eq!(
            check_block(&[0u8; 512], 10, 5).unwrap_err().kind,
            MiscompareKind::Zeroed
        );
        let mut c = b.clone();
        c[300] ^= 0x40;
        assert_eq!(
            check_block(&c, 10, 5).unwrap_err().kind,
            MiscompareKind::Corrupt { offset: 300 }
        );
        let mut c = b.clone();
        c[511] ^= 1;
        assert_eq!(
            check_block(&c, 10, 5).unwrap_err().kind,
            MiscompareKind::Corrupt { offset: 511 }
        );
        // A damaged header is corruption, not a misdirection.
        let mut c = b;
        c[3] ^= 1;
        assert_eq!(
            check_block(&c, 10, 5).unwrap_err().kind,
            MiscompareKind::Corrupt { offset: 3 }
        );
    }

    #[test]
    fn multi_block_io_reports_the_bad_block() {
        let mut buf = vec![0u8; 8 * 512];
        fill_io(&mut buf, 100, 9, 512);
        assert_eq!(check_io(&buf, 4096, 100, 9, 512), Ok(()));
        // Block 3 holds block 2's data (a misplaced block inside the I/O).
        let (a, b) = buf.split_at_mut(3 * 512);
        b[..512].copy_from_slice(&a[2 * 512..]);
        let e = check_io(&buf, 4096, 100, 9, 512).unwrap_err();
        assert_eq!(e.lba, 103);
        assert_eq!(
            e.kind,
            MiscompareKind::Misdirected {
                found_lba: 102,
                found_generation: 9
            }
        );
        assert_eq!(
            check_io(&buf[..512], 4096, 100, 9, 512).unwrap_err().kind,
            MiscompareKind::WrongLength {
                expected: 4096,
                found: 512
            }
        );
    }

    #[test]
    fn display_texts() {
        let m = Miscompare {
            lba: 16,
            expected_generation: 7,
            kind: MiscompareKind::Stale {
                found_generation: 6,
            },
        };
        assert_eq!(
            m.to_string(),
            "LBA 16: stale data: expected generation 7, found generation 6"
        );
    }
}
