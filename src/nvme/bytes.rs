//! Little-endian field access for the fixed-layout NVMe structures
//! (Identify data, log pages). Reads never panic: a read past the end gives
//! zeros, but every parser checks the length first so that never happens in
//! practice. Writes go to buffers the caller allocated with a fixed size
//! (an out-of-range write is a bug: it asserts in debug builds and is
//! dropped in release).

pub(crate) fn rd<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = off.checked_add(N).and_then(|end| b.get(off..end)) {
        a.copy_from_slice(s);
    }
    a
}

pub(crate) fn rd_u8(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

pub(crate) fn rd_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(rd(b, off))
}

pub(crate) fn rd_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(rd(b, off))
}

pub(crate) fn rd_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(rd(b, off))
}

pub(crate) fn rd_u128(b: &[u8], off: usize) -> u128 {
    u128::from_le_bytes(rd(b, off))
}

pub(crate) fn wr(b: &mut [u8], off: usize, v: &[u8]) {
    let dst = off.checked_add(v.len()).and_then(|end| b.get_mut(off..end));
    debug_assert!(dst.is_some(), "write out of range at {off}");
    if let Some(d) = dst {
        d.copy_from_slice(v);
    }
}

pub(crate) fn wr_u8(b: &mut [u8], off: usize, v: u8) {
    wr(b, off, &[v]);
}

pub(crate) fn wr_u16(b: &mut [u8], off: usize, v: u16) {
    wr(b, off, &v.to_le_bytes());
}

pub(crate) fn wr_u32(b: &mut [u8], off: usize, v: u32) {
    wr(b, off, &v.to_le_bytes());
}

pub(crate) fn wr_u64(b: &mut [u8], off: usize, v: u64) {
    wr(b, off, &v.to_le_bytes());
}

pub(crate) fn wr_u128(b: &mut [u8], off: usize, v: u128) {
    wr(b, off, &v.to_le_bytes());
}

/// Longest prefix of `s` that fits in `max` bytes without splitting a UTF-8
/// character.
pub(crate) fn fit(s: &str, max: usize) -> &[u8] {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.as_bytes().get(..n).unwrap_or_default()
}

/// Writes `s` into a `len`-byte field filled with `pad` (truncating text
/// that does not fit).
pub(crate) fn wr_text(b: &mut [u8], off: usize, len: usize, s: &str, pad: u8) {
    let mut field = vec![pad; len];
    let src = fit(s, len);
    field[..src.len()].copy_from_slice(src);
    wr(b, off, &field);
}
