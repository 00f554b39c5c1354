//! A log-linear latency histogram with SPDK's bucket layout
//! (`include/spdk/histogram_data.h`, default bucket shift 7), fixed memory
//! and O(1) recording.
//!
//! Values (nanoseconds here; SPDK counts TSC ticks) below 128 get one
//! bucket each (range 0). Range `r` >= 1 holds `[2^(r+6), 2^(r+7))` in 128
//! equal buckets, so a bucket is at most 1/128 (0.8 %) of its values wide,
//! over the whole `u64` range: 58 ranges, 7424 buckets, 58 KiB per
//! histogram, allocated once when the job starts. Being SPDK's layout,
//! percentiles land on the same bucket edges as bdevperf's `-l` output
//! (in nanoseconds rather than ticks).

/// `SPDK_HISTOGRAM_BUCKET_SHIFT_DEFAULT`: 2^7 buckets per range.
const BUCKET_SHIFT: u32 = 7;
const PER_RANGE: u64 = 1 << BUCKET_SHIFT;
/// `SPDK_HISTOGRAM_BUCKET_LSB`: the highest range number.
const BUCKET_LSB: u32 = 64 - BUCKET_SHIFT;
/// `SPDK_HISTOGRAM_NUM_BUCKETS`: 128 buckets in each of 58 ranges.
pub const NUM_BUCKETS: usize = (PER_RANGE * (BUCKET_LSB as u64 + 1)) as usize;

/// SPDK's `spdk_histogram_data_tally` bucket: the range from the count
/// of high zero bits, the index from the 7 bits below the highest set bit.
fn bucket_index(v: u64) -> usize {
    let clz = v.leading_zeros();
    let range = BUCKET_LSB.saturating_sub(clz);
    let index = (v >> range.saturating_sub(1)) & (PER_RANGE - 1);
    ((u64::from(range) << BUCKET_SHIFT) + index) as usize
}

/// The smallest and largest value that land in bucket `i`.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let (range, index) = ((i as u64) >> BUCKET_SHIFT, (i as u64) & (PER_RANGE - 1));
    if range == 0 {
        return (index, index);
    }
    let width = 1u64 << (range - 1);
    let low = (1u64 << (range + u64::from(BUCKET_SHIFT) - 1)) + index * width;
    // The last bucket ends exactly at u64::MAX: low + width - 1 never wraps.
    (low, low + (width - 1))
}

/// Latency histogram plus exact count, sum, min and max.
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Box<[u64]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min())
            .field("max", &self.max())
            .finish()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            counts: vec![0u64; NUM_BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one value: no allocation, constant time.
    #[inline]
    pub fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(bucket_index(v)) {
            *c += 1;
        }
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact sum of the recorded values.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Exact smallest value, `None` when empty.
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// Exact largest value, `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// Exact mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The value at percentile `p` (0..=100): the upper bound of the bucket
    /// holding the `ceil(p% * count)`-th smallest value, clamped to the exact
    /// min and max. Exact below 128; otherwise at most 1/128 above the true
    /// value. `None` when empty.
    pub fn value_at_percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let p = if p.is_nan() {
            100.0
        } else {
            p.clamp(0.0, 100.0)
        };
        // Shave float noise (99.9% of 1000 computes as 999.0000000000001)
        // before rounding the rank up.
        let x = (p / 100.0) * self.count as f64;
        let rank = (x - x * 1e-12).ceil() as u64;
        let rank = rank.clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (_, high) = bucket_bounds(i);
                return Some(high.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Adds another histogram's values into this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Non-empty buckets as (low, high, count), in value order.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| {
                let (l, h) = bucket_bounds(i);
                (l, h, c)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_u64_range() {
        assert_eq!(NUM_BUCKETS, 7424);
        let mut expected_low = 0u64;
        for i in 0..NUM_BUCKETS {
            let (l, h) = bucket_bounds(i);
            assert_eq!(l, expected_low, "bucket {i}");
            assert!(h >= l);
            assert_eq!(bucket_index(l), i);
            assert_eq!(bucket_index(h), i);
            if h == u64::MAX {
                assert_eq!(i, NUM_BUCKETS - 1);
                return;
            }
            expected_low = h + 1;
        }
        panic!("last bucket does not end at u64::MAX");
    }

    #[test]
    fn bucket_width_is_within_one_128th() {
        for i in PER_RANGE as usize..NUM_BUCKETS {
            let (l, h) = bucket_bounds(i);
            assert!((h - l) as f64 <= l as f64 / 128.0, "bucket {i}: {l}..{h}");
        }
    }

    /// Bucket numbers as SPDK's `__spdk_histogram_data_get_bucket_range`
    /// and `_index` compute them, worked by hand from their definitions.
    #[test]
    fn layout_is_spdks() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(127), 127);
        assert_eq!(bucket_index(128), 128); // range 1, index 0
        assert_eq!(bucket_index(255), 255); // range 1, index 127
        assert_eq!(bucket_index(256), 256); // range 2, index 0 (width 2)
        assert_eq!(bucket_index(257), 256);
        // 10^6 lies in [2^19, 2^20): range 13, buckets 2^12 wide.
        assert_eq!(
            bucket_index(1_000_000),
            (13 << 7) + ((1_000_000 >> 12) & 127)
        );
        assert_eq!(bucket_index(u64::MAX), NUM_BUCKETS - 1);
        assert_eq!(bucket_bounds(256), (256, 257));
    }

    #[test]
    fn exact_percentiles_in_the_linear_range() {
        let mut h = LatencyHistogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.min(), Some(1));
        assert_eq!(h.max(), Some(100));
        assert_eq!(h.mean(), Some(50.5));
        assert_eq!(h.value_at_percentile(50.0), Some(50));
        assert_eq!(h.value_at_percentile(99.0), Some(99));
        assert_eq!(h.value_at_percentile(99.9), Some(100));
        assert_eq!(h.value_at_percentile(0.0), Some(1));
        assert_eq!(h.value_at_percentile(100.0), Some(100));
    }

    #[test]
    fn percentiles_of_a_skewed_distribution() {
        // 990 fast I/Os at 100 us, 9 at 1 ms, 1 at 50 ms (values in ns).
        let mut h = LatencyHistogram::new();
        for _ in 0..990 {
            h.record(100_000);
        }
        for _ in 0..9 {
            h.record(1_000_000);
        }
        h.record(50_000_000);
        let within = |got: u64, want: u64| {
            assert!(
                got >= want && (got - want) as f64 <= want as f64 / 128.0,
                "{got} vs {want}"
            )
        };
        within(h.value_at_percentile(50.0).unwrap(), 100_000);
        within(h.value_at_percentile(99.0).unwrap(), 100_000);
        within(h.value_at_percentile(99.9).unwrap(), 1_000_000);
        assert_eq!(h.value_at_percentile(100.0), Some(50_000_000));
        assert_eq!(h.max(), Some(50_000_000));
    }

    #[test]
    fn relative_error_bound_on_a_spread() {
        let mut h = LatencyHistogram::new();
        let mut vals: Vec<u64> = (0..10_000u64).map(|i| 1000 + i * 997 % 1_000_003).collect();
        for &v in &vals {
            h.record(v);
        }
        vals.sort_unstable();
        for p in [50.0, 90.0, 99.0, 99.9] {
            let rank = ((p / 100.0) * vals.len() as f64).ceil() as usize;
            let want = vals[rank - 1];
            let got = h.value_at_percentile(p).unwrap();
            assert!(got >= want, "p{p}: {got} < {want}");
            assert!(
                (got - want) as f64 <= want as f64 / 128.0,
                "p{p}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn extremes_and_merge() {
        let mut a = LatencyHistogram::new();
        assert_eq!(a.value_at_percentile(50.0), None);
        assert_eq!(a.mean(), None);
        a.record(0);
        a.record(u64::MAX);
        assert_eq!(a.value_at_percentile(100.0), Some(u64::MAX));
        let mut b = LatencyHistogram::new();
        b.record(5);
        b.merge(&a);
        assert_eq!(b.count(), 3);
        assert_eq!(b.min(), Some(0));
        assert_eq!(b.max(), Some(u64::MAX));
        assert_eq!(b.value_at_percentile(50.0), Some(5));
        assert_eq!(b.buckets().count(), 3);
        assert_eq!(b.value_at_percentile(f64::NAN), Some(u64::MAX));
    }
}
