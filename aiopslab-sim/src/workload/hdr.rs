//! The parts of HdrHistogram_c that wrk2 prints from: a histogram of integer values with three
//! significant digits (2048 sub-buckets, lowest value 1), its mean and standard deviation, the
//! value at a percentile, and the percentile iterator behind the `Detailed Percentile
//! spectrum` (five ticks per half distance), computed the way the C library does.

use std::collections::BTreeMap;

/// Sub-buckets per bucket for three significant digits.
pub const SUB_BUCKETS: u64 = 2048;
/// Buckets of wrk2's histograms (values up to one day in microseconds).
pub const BUCKETS: u64 = 27;

/// The index of the bucket holding `v` (`log2` of the equivalent range's size).
fn bucket_index(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | (SUB_BUCKETS - 1)).leading_zeros();
    pow2ceiling - 11
}

/// The smallest value equivalent to `v` (same bucket slot).
pub fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

/// The size of the range of values equivalent to `v`.
fn equivalent_range(v: u64) -> u64 {
    1u64 << bucket_index(v)
}

/// The largest value equivalent to `v`.
pub fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + equivalent_range(v) - 1
}

/// The middle of `v`'s range, used for the mean.
fn median_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + (equivalent_range(v) >> 1)
}

/// A histogram of non-negative integers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hdr {
    /// Count per slot, keyed by the slot's lowest value.
    counts: BTreeMap<u64, u64>,
    total: u64,
    max: u64,
}

/// One row of the percentile spectrum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumRow {
    /// The slot's highest equivalent value.
    pub value: u64,
    /// The percentile reported (0..=100).
    pub percentile: f64,
    /// Values at or below this slot.
    pub total_count: u64,
}

impl Hdr {
    /// An empty histogram.
    pub fn new() -> Self {
        Hdr::default()
    }

    /// Records `v` once.
    pub fn record(&mut self, v: u64) {
        *self.counts.entry(lowest_equivalent(v)).or_insert(0) += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Adds every value of `other`.
    pub fn add(&mut self, other: &Hdr) {
        for (k, c) in &other.counts {
            *self.counts.entry(*k).or_insert(0) += c;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        *self = Hdr::default();
    }

    /// How many values were recorded.
    pub fn total_count(&self) -> u64 {
        self.total
    }

    /// The mean (NaN when empty, as the C library's 0/0).
    pub fn mean(&self) -> f64 {
        let sum: f64 = self
            .counts
            .iter()
            .map(|(v, c)| *c as f64 * median_equivalent(*v) as f64)
            .sum();
        sum / self.total as f64
    }

    /// The standard deviation (NaN when empty).
    pub fn stddev(&self) -> f64 {
        let mean = self.mean();
        let dev: f64 = self
            .counts
            .iter()
            .map(|(v, c)| {
                let d = median_equivalent(*v) as f64 - mean;
                d * d * *c as f64
            })
            .sum();
        (dev / self.total as f64).sqrt()
    }

    /// The largest value, as the lowest value of its slot (0 when empty).
    pub fn max(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            lowest_equivalent(self.max)
        }
    }

    /// The value at `percentile` (0..=100): the highest equivalent value of the slot where
    /// the cumulative count reaches it; 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = ((p / 100.0) * self.total as f64 + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (v, c) in &self.counts {
            seen += c;
            if seen >= wanted {
                return highest_equivalent(*v);
            }
        }
        0
    }

    /// The share of values within `[lower, upper]` (by slot), in percent; 0 when empty.
    pub fn within(&self, lower: f64, upper: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let inside: u64 = self
            .counts
            .iter()
            .filter(|(v, _)| (lower..=upper).contains(&(**v as f64)))
            .map(|(_, c)| *c)
            .sum();
        100.0 * inside as f64 / self.total as f64
    }

    /// The percentile spectrum as `hdr_percentiles_print` walks it with five ticks per half
    /// distance: a row each time the cumulative share reaches the next reporting percentile
    /// (a slot can give several rows; the last slot gives one), then a last row at 100%.
    pub fn spectrum(&self) -> Vec<SpectrumRow> {
        let slots: Vec<(u64, u64)> = self.counts.iter().map(|(v, c)| (*v, *c)).collect();
        let mut rows = Vec::new();
        let mut index: Option<usize> = None;
        let mut cumulative = 0u64;
        let mut last_value = 0u64;
        let mut to_iterate_to = 0.0f64;
        loop {
            if cumulative >= self.total {
                rows.push(SpectrumRow {
                    value: last_value,
                    percentile: 100.0,
                    total_count: cumulative,
                });
                return rows;
            }
            let mut i = match index {
                Some(i) => i,
                None => {
                    cumulative += slots[0].1;
                    0
                }
            };
            loop {
                let (value, count) = slots[i];
                let share = 100.0 * cumulative as f64 / self.total as f64;
                if count != 0 && to_iterate_to <= share {
                    last_value = highest_equivalent(value);
                    rows.push(SpectrumRow {
                        value: last_value,
                        percentile: to_iterate_to,
                        total_count: cumulative,
                    });
                    let half = ((100.0 / (100.0 - to_iterate_to)).ln() / 2f64.ln()) as i64 + 1;
                    to_iterate_to += 100.0 / (5.0 * 2f64.powi(half as i32));
                    break;
                }
                if i + 1 >= slots.len() {
                    break;
                }
                i += 1;
                cumulative += slots[i].1;
            }
            index = Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_have_three_significant_digits() {
        assert_eq!(lowest_equivalent(2047), 2047);
        assert_eq!(highest_equivalent(2047), 2047);
        assert_eq!(lowest_equivalent(2049), 2048);
        assert_eq!(highest_equivalent(2049), 2049);
        // 34 656 us sits in a slot of 32: printed as 34.687 ms at 100%.
        assert_eq!(highest_equivalent(34_660), 34_687);
        assert_eq!(lowest_equivalent(34_660), 34_656);
        assert_eq!(highest_equivalent(1_212_500), 1_213_439);
    }

    #[test]
    fn statistics() {
        let mut h = Hdr::new();
        assert!(h.mean().is_nan() && h.stddev().is_nan());
        assert_eq!((h.max(), h.value_at_percentile(50.0)), (0, 0));
        for v in 1..=100 {
            h.record(v * 100);
        }
        assert_eq!(h.total_count(), 100);
        assert!((h.mean() - 5050.5).abs() < 1.0, "{}", h.mean());
        assert_eq!(h.value_at_percentile(50.0), 5003);
        assert_eq!(h.value_at_percentile(99.0), 9903);
        assert_eq!(h.value_at_percentile(100.0), 10_007);
        assert_eq!(h.max(), 10_000);
        let within = h.within(h.mean() - h.stddev(), h.mean() + h.stddev());
        assert!((55.0..60.0).contains(&within), "{within}");
    }

    #[test]
    fn spectrum_walks_like_hdr_percentiles_print() {
        let mut h = Hdr::new();
        for v in 1..=10 {
            h.record(v);
        }
        let rows = h.spectrum();
        let got: Vec<(u64, f64, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.value,
                    (r.percentile * 1000.0).round() / 1000.0,
                    r.total_count,
                )
            })
            .collect();
        assert_eq!(
            got[..6],
            [
                (1, 0.0, 1),
                (1, 10.0, 1),
                (2, 20.0, 2),
                (3, 30.0, 3),
                (4, 40.0, 4),
                (5, 50.0, 5)
            ]
        );
        assert_eq!(rows.last().unwrap().percentile, 100.0);
        assert_eq!(rows.last().unwrap().value, 10);
        assert_eq!(rows.last().unwrap().total_count, 10);
        // Every percentile is reported once, in order.
        assert!(rows.windows(2).all(|w| w[0].percentile < w[1].percentile));
        let empty = Hdr::new().spectrum();
        assert_eq!(
            empty,
            [SpectrumRow {
                value: 0,
                percentile: 100.0,
                total_count: 0
            }]
        );
    }
}
