//! The crate's one pseudo-random generator: xorshift64* (Vigna), seedable
//! and tiny. Chaos schedules replay from a printed seed with it, the load
//! draws its offsets and read/write mix from it, and tests use it for
//! deterministic spreads of bytes. Not for anything secret.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Any seed; 0 (the one state xorshift never leaves) is taken as 1.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[lo, hi]` (modulo bias below (hi - lo) / 2^64).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below
    /// n / 2^64). `n` must be > 0; 0 gives 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vigna's xorshift64* from state 1, worked through by hand: the
    /// chaos seeds printed in README replay only if this never changes.
    #[test]
    fn sequence_is_xorshift64_star() {
        let mut r = Rng::new(1);
        let mut x: u64 = 1;
        for _ in 0..1000 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            assert_eq!(r.next_u64(), x.wrapping_mul(0x2545_F491_4F6C_DD1D));
        }
        assert_eq!(Rng::new(0).next_u64(), Rng::new(1).next_u64());
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(42);
        for n in [1u64, 2, 3, 1000, u64::MAX] {
            for _ in 0..200 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..200 {
            let v = r.range(100, 500);
            assert!((100..=500).contains(&v));
        }
        assert_eq!(r.below(0), 0);
    }
}
