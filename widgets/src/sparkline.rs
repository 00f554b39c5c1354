//! A one-line sparkline of rate samples, and the number formats the tables
//! use for rates.
//!
//! Not ratatui's `Sparkline`, which at height 1 also draws one of eight
//! blocks per sample, because a rate chart in a table cell needs three
//! things it does not do: any traffic at all is at least the lowest block
//! (ratatui rounds a small sample down to nothing, so a path carrying 1 %
//! of the I/O looks idle), samples are `f64` rates where NaN and negative
//! values are "no measurement" and stay blank, and the newest sample sits
//! at the right edge with fewer samples than columns.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::widgets::Widget;

/// Eighths of a cell, lowest first.
const LEVELS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// A number a sparkline can plot.
pub trait SparkSample: Copy {
    fn value(self) -> f64;
}

impl SparkSample for u64 {
    fn value(self) -> f64 {
        self as f64
    }
}

impl SparkSample for u32 {
    fn value(self) -> f64 {
        f64::from(self)
    }
}

impl SparkSample for f64 {
    fn value(self) -> f64 {
        self
    }
}

/// The block for `value` on a scale whose top is `max`: blank for zero (and
/// for what is not a measurement: negative, NaN, infinite, or an unusable
/// `max`), otherwise at least the lowest block, so that any traffic at all
/// is visible; values above `max` are a full block.
pub fn spark_symbol(value: f64, max: f64) -> &'static str {
    // is_finite and > 0 together also rule out NaN.
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if !usable(value) || !usable(max) {
        return " ";
    }
    let eighths = (value / max * 8.0).ceil();
    // In 1..=8 after the clamp, so the cast cannot truncate.
    LEVELS[eighths.clamp(1.0, 8.0) as usize - 1]
}

/// The samples as a one-row chart, newest at the right edge. With more
/// samples than columns the oldest are left out; with fewer, the chart is
/// right-aligned and the cells to its left are not touched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSparkline<'a, T = u64> {
    /// Oldest first.
    pub samples: &'a [T],
    /// The value drawn as a full block. `None` scales to the largest sample
    /// on screen; set it to share one scale across several sparklines.
    pub max: Option<f64>,
    pub style: Style,
}

impl<'a, T: SparkSample> RateSparkline<'a, T> {
    pub fn new(samples: &'a [T]) -> RateSparkline<'a, T> {
        RateSparkline {
            samples,
            max: None,
            style: Style::new(),
        }
    }

    /// A fixed top of scale.
    #[must_use]
    pub fn max(self, max: f64) -> RateSparkline<'a, T> {
        RateSparkline {
            max: Some(max),
            ..self
        }
    }

    #[must_use]
    pub fn style(self, style: Style) -> RateSparkline<'a, T> {
        RateSparkline { style, ..self }
    }

    /// The samples that fit in `width` columns: the newest.
    pub fn visible(&self, width: u16) -> &'a [T] {
        let n = self.samples.len().min(usize::from(width));
        &self.samples[self.samples.len() - n..]
    }

    /// The largest of the samples that fit in `width` columns (0 if none).
    pub fn visible_max(&self, width: u16) -> f64 {
        self.visible(width)
            .iter()
            .map(|s| s.value())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let shown = self.visible(area.width);
        let max = match self.max {
            Some(m) if m > 0.0 && m.is_finite() => m,
            _ => self.visible_max(area.width),
        };
        // shown.len() <= area.width, a u16.
        let first = area.right() - shown.len() as u16;
        // The samples drive the loop: polling the open range once more
        // could step past u16::MAX at the buffer's far edge.
        for (s, x) in shown.iter().zip(first..) {
            buf[(x, area.y)]
                .set_symbol(spark_symbol(s.value(), max))
                .set_style(self.style);
        }
    }
}

impl<T: SparkSample> Widget for RateSparkline<'_, T> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl<T: SparkSample> Widget for &RateSparkline<'_, T> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

/// Formats `s` with the first of `tiers` (decimals, limit) whose rounded
/// value is below its limit, so 999.96 never prints as "1000.0". The check
/// rounds half away from zero and the formatter half to even, so at an
/// exact tie the check errs towards the next tier, never towards a number
/// that prints too long.
fn fit(s: f64, tiers: &[(usize, f64)]) -> Option<String> {
    tiers.iter().find_map(|&(decimals, below)| {
        let scale = 10f64.powi(decimals as i32);
        ((s * scale).round() / scale < below).then(|| format!("{s:.decimals$}"))
    })
}

/// Scales `v` down by `step` until one of the unit's tiers fits it.
fn human(
    v: f64,
    step: f64,
    units: &[&str],
    first: &[(usize, f64)],
    rest: &[(usize, f64)],
) -> String {
    // An infinite rate is a division by a zero interval: no measurement.
    if !v.is_finite() {
        return crate::text::NOT_AVAILABLE.to_string();
    }
    if v < 0.0 {
        // Rates are never negative; if one is (a counter went backwards),
        // show it rather than hide it.
        return format!("-{}", human(-v, step, units, first, rest));
    }
    let mut s = v;
    for (i, unit) in units.iter().enumerate() {
        let tiers = if i == 0 { first } else { rest };
        if let Some(text) = fit(s, tiers) {
            return format!("{text}{unit}");
        }
        s /= step;
    }
    // Beyond the largest unit: scientific, so the text stays short enough
    // for a column.
    let last = units.last().copied().unwrap_or_default();
    format!("{:.2e}{last}", s * step)
}

/// A byte rate in binary units with three significant digits:
/// `"0 B/s"`, `"999 B/s"`, `"1.50 KiB/s"`, `"12.3 MiB/s"`, `"456 GiB/s"`.
/// The unit steps up at 1000 of the smaller one, not 1024, so the number
/// never takes four digits: at most 10 characters up to EiB/s. NaN and
/// infinities are `"n/a"`.
pub fn format_rate(bytes_per_sec: f64) -> String {
    const UNITS: [&str; 7] = [
        " B/s", " KiB/s", " MiB/s", " GiB/s", " TiB/s", " PiB/s", " EiB/s",
    ];
    human(
        bytes_per_sec,
        1024.0,
        &UNITS,
        &[(0, 1000.0)],
        &[(2, 10.0), (1, 100.0), (0, 1000.0)],
    )
}

/// An operation rate in decimal units: `"12"`, `"999"`, `"1.23M"`,
/// `"45.67K"`, `"456.7K"` — at most six characters up to `E`. NaN and
/// infinities are `"n/a"`.
pub fn format_iops(iops: f64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    human(
        iops,
        1000.0,
        &UNITS,
        &[(0, 1000.0)],
        &[(2, 100.0), (1, 1000.0)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{render_all_sizes, row};

    fn line<T: SparkSample>(s: RateSparkline<'_, T>, width: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, 1));
        s.render(buf.area, &mut buf);
        row(&buf, 0)
    }

    #[test]
    fn symbols_scale_to_max() {
        assert_eq!(spark_symbol(0.0, 8.0), " ");
        assert_eq!(spark_symbol(-1.0, 8.0), " ");
        assert_eq!(spark_symbol(f64::NAN, 8.0), " ");
        assert_eq!(spark_symbol(1.0, 0.0), " ");
        assert_eq!(spark_symbol(1.0, f64::NAN), " ");
        assert_eq!(spark_symbol(1.0, f64::INFINITY), " ");
        assert_eq!(spark_symbol(0.001, 8.0), "▁");
        assert_eq!(spark_symbol(1.0, 8.0), "▁");
        assert_eq!(spark_symbol(1.1, 8.0), "▂");
        assert_eq!(spark_symbol(4.0, 8.0), "▄");
        assert_eq!(spark_symbol(8.0, 8.0), "█");
        assert_eq!(spark_symbol(80.0, 8.0), "█");
        assert_eq!(spark_symbol(f64::INFINITY, 8.0), " ");
    }

    #[test]
    fn draws_newest_at_the_right() {
        let samples: [u64; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(line(RateSparkline::new(&samples), 9), " ▁▂▃▄▅▆▇█");
        // Too narrow: the oldest go, and the scale follows what is shown.
        assert_eq!(line(RateSparkline::new(&samples), 4), "▅▆▇█");
        assert_eq!(line(RateSparkline::new(&samples[..2]), 4), "   █");
        // A fixed max shared with other lines.
        assert_eq!(line(RateSparkline::new(&samples[..3]).max(16.0), 3), " ▁▁");
        assert_eq!(line(RateSparkline::new(&[4.0f64, 100.0]).max(8.0), 2), "▄█");
        // A max that is no use falls back to the samples'.
        assert_eq!(line(RateSparkline::new(&[1u32, 2]).max(0.0), 2), "▄█");
        assert_eq!(line(RateSparkline::new(&[0u64, 0]), 2), "  ");
        assert_eq!(line(RateSparkline::<u64>::new(&[]), 2), "  ");
        let odd = [f64::NAN, f64::INFINITY, -3.0, 2.0];
        assert_eq!(line(RateSparkline::new(&odd), 4), "   █");
    }

    #[test]
    fn styles_only_its_cells_and_only_the_first_row() {
        let style = Style::new().fg(ratatui_core::style::Color::Green);
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        RateSparkline::new(&[1u64, 2])
            .style(style)
            .render(buf.area, &mut buf);
        let mut want = Buffer::with_lines(["  ▄█", "    "]);
        want.set_style(Rect::new(2, 0, 2, 1), style);
        assert_eq!(buf, want);
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let samples: Vec<u64> = (0..100).collect();
        render_all_sizes(3, |area, buf| {
            RateSparkline::new(&samples).render(area, buf)
        });
        assert_eq!(line(RateSparkline::new(&samples), 1), "█");
        assert_eq!(line(RateSparkline::new(&samples), 0), "");
    }

    #[test]
    fn rates_use_binary_units_and_three_digits() {
        let cases: [(f64, &str); 16] = [
            (0.0, "0 B/s"),
            (0.4, "0 B/s"),
            (999.0, "999 B/s"),
            (999.6, "0.98 KiB/s"),
            (1000.0, "0.98 KiB/s"),
            (1536.0, "1.50 KiB/s"),
            (10.0 * 1024.0, "10.0 KiB/s"),
            (99.96 * 1024.0, "100 KiB/s"),
            (456.0 * 1024.0, "456 KiB/s"),
            (999.7 * 1024.0, "0.98 MiB/s"),
            (12.34 * 1048576.0, "12.3 MiB/s"),
            (3.0 * 1073741824.0, "3.00 GiB/s"),
            (1.5 * 1099511627776.0, "1.50 TiB/s"),
            (u64::MAX as f64, "16.0 EiB/s"),
            (-1536.0, "-1.50 KiB/s"),
            (f64::NAN, "n/a"),
        ];
        for (v, want) in cases {
            assert_eq!(format_rate(v), want, "{v}");
            assert!(format_rate(v).len() <= 11, "{v}");
        }
        assert_eq!(format_rate(f64::INFINITY), "n/a");
        assert_eq!(format_iops(f64::NEG_INFINITY), "n/a");
        assert!(format_rate(1e300).ends_with(" EiB/s"));
        assert!(format_rate(1e300).len() < 16);
    }

    #[test]
    fn iops_use_decimal_units() {
        let cases: [(f64, &str); 13] = [
            (0.0, "0"),
            (12.0, "12"),
            (12.4, "12"),
            (999.4, "999"),
            (999.5, "1.00K"),
            (1234.0, "1.23K"),
            (45_678.0, "45.68K"),
            (99_996.0, "100.0K"),
            (456_700.0, "456.7K"),
            (999_960.0, "1.00M"),
            (1_230_000.0, "1.23M"),
            (7.5e9, "7.50G"),
            (f64::NAN, "n/a"),
        ];
        for (v, want) in cases {
            assert_eq!(format_iops(v), want, "{v}");
        }
        assert_eq!(format_iops(-12.0), "-12");
        for v in [
            0.0, 1.0, 999.0, 1e3, 1e5, 1e6, 1e9, 1e12, 1e15, 1e18, 9.99e20,
        ] {
            assert!(format_iops(v).len() <= 6, "{v}: {}", format_iops(v));
        }
        assert!(format_iops(f64::MAX).len() < 12);
    }
}
