//! Load over the last minute: NVMe commands per second split by path
//! (one line per path, their total in grey), then MiB/s and average
//! latency — as charts when the pane is tall, as sparklines (the widget
//! crate's `RateSparkline`) when it is not. Per-path numbers come from the
//! engine's per-path counters, which count commands (a verify I/O is a
//! write and a read, so twice bdevperf's IOPS in the header), or, on real
//! SPDK, from the kernel's byte counters of each path's socket (the
//! per-path chart is then in MiB/s). The legend names the unit.

use mpath_widgets::RateSparkline;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::{frame, grey};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::{Metric, Snapshot};
use crate::ui::theme::Theme;

/// Paths the legend names when not all fit: the busiest this many (and
/// the selected one).
const LEGEND_TOP: usize = 3;

fn last(m: &Metric, f: fn(f64) -> String) -> String {
    match m {
        Metric::Value(v) => f(*v),
        Metric::Unavailable(_) => "n/a".into(),
    }
}

/// Points right-aligned on a 60-second axis (newest at x = 59).
fn pts(v: &[f64]) -> Vec<(f64, f64)> {
    let n = v.len();
    v.iter()
        .enumerate()
        .map(|(i, y)| (59.0 - (n - 1 - i) as f64, *y))
        .filter(|(x, _)| *x >= 0.0)
        .collect()
}

/// One chart of several series over the last minute.
fn chart(
    r: Rect,
    t: &Theme,
    series: &[(Vec<(f64, f64)>, Style)],
    unit: &str,
    f: fn(f64) -> String,
    x_labels: bool,
    buf: &mut Buffer,
) {
    let ymax = series
        .iter()
        .flat_map(|(d, _)| d.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let ds: Vec<Dataset> = series
        .iter()
        .map(|(d, st)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(*st)
                .data(d)
        })
        .collect();
    let mut x = Axis::default().bounds([0.0, 59.0]).style(t.border);
    if x_labels {
        x = x.labels(vec![
            Span::styled("-60s", t.muted),
            Span::styled("-30s", t.muted),
            Span::styled("now", t.muted),
        ]);
    }
    let _ = unit;
    let y = Axis::default()
        .bounds([0.0, ymax])
        .style(t.border)
        .labels(vec![
            Span::styled(format!("{:>7}", "0"), t.muted),
            Span::styled(format!("{:>7}", f(ymax)), t.muted),
        ]);
    Chart::new(ds).x_axis(x).y_axis(y).render(r, buf);
}

/// Point-wise sum of series aligned on their newest point.
fn sum_aligned(series: &[&[f64]]) -> Vec<f64> {
    let n = series.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut out = vec![0.0; n];
    for v in series {
        let off = n - v.len();
        for (i, x) in v.iter().enumerate() {
            out[off + i] += x;
        }
    }
    out
}

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let h = &s.history;
    // The top chart is per path: NVMe commands per second from the
    // engine's counters (a verify I/O is a write and a read: twice the
    // header's IOPS), or the kernel's bytes on real SPDK; its total is the
    // paths' sum, in the same unit. Without paths, bdevperf's IOPS.
    let by_path = h.per_path_unit != "MiB/s";
    let (unit, fmt_y): (&str, fn(f64) -> String) = if h.per_path.is_empty() {
        ("IOPS", fmt::count)
    } else if by_path {
        ("cmd/s", fmt::count)
    } else {
        ("MiB/s", fmt::mibps)
    };
    let path_series: Vec<&[f64]> = h.per_path.iter().map(|(_, v)| v.as_slice()).collect();
    let total = sum_aligned(&path_series);
    let unit_span = Span::styled(format!("{unit} "), t.muted);
    let mut total_spans = Vec::new();
    if h.per_path.len() > 1 && by_path {
        total_spans.push(Span::styled("━ ", t.muted));
        total_spans.push(Span::styled("total ", t.hint));
    }
    // Ports when they tell the paths apart, else whole addresses.
    let port = |l: &str| l.rsplit(':').next().unwrap_or(l).to_string();
    let ports: Vec<String> = h.per_path.iter().map(|(l, _)| port(l)).collect();
    let unique = ports
        .iter()
        .enumerate()
        .all(|(i, p)| !ports[..i].contains(p));
    // The legend names every path when they fit, else the busiest ones
    // (by their latest rate) and the selected one, then "+N more": the
    // colours on the chart stay explained at any path count.
    let n_paths = h.per_path.len();
    let latest = |i: usize| h.per_path[i].1.last().copied().unwrap_or(0.0);
    let mut busiest: Vec<usize> = (0..n_paths).collect();
    busiest.sort_by(|&a, &b| latest(b).total_cmp(&latest(a)));
    let selected = app
        .selected_path()
        .map(|p| p.label())
        .and_then(|l| h.per_path.iter().position(|(x, _)| *x == l));
    let path_spans = |top: usize| -> Vec<Span<'static>> {
        let mut shown: Vec<usize> = busiest.iter().take(top).copied().collect();
        if let Some(i) = selected.filter(|i| !shown.contains(i)) {
            shown.push(i);
        }
        shown.sort_unstable();
        let mut v = Vec::new();
        for &i in &shown {
            v.push(Span::styled("━ ", t.series(i)));
            let text = if unique {
                format!(":{}", ports[i])
            } else {
                h.per_path[i].0.clone()
            };
            v.push(Span::styled(format!("{text} "), t.hint));
        }
        if shown.len() < n_paths {
            v.push(Span::styled(
                format!("+{} more ", n_paths - shown.len()),
                t.muted,
            ));
        }
        v
    };
    // The fullest legend that fits beside the title: every path, then
    // the top three, two, one (and the selected one); each with the unit
    // and the total, then without the total, then the paths alone.
    let room = usize::from(r.width).saturating_sub(Pane::Load.title().len() + 5);
    let width = |v: &[Span]| v.iter().map(|s| s.width()).sum::<usize>() + 1;
    let mut legend = vec![Span::raw(" ")];
    let tops = [n_paths, LEGEND_TOP, 2, 1, 0];
    let found = tops.iter().filter(|&&k| k <= n_paths).find_map(|&k| {
        let paths = path_spans(k);
        let full: Vec<Span> = std::iter::once(unit_span.clone())
            .chain(total_spans.iter().cloned())
            .chain(paths.iter().cloned())
            .collect();
        let no_total: Vec<Span> = std::iter::once(unit_span.clone())
            .chain(paths.iter().cloned())
            .collect();
        [full, no_total, paths]
            .into_iter()
            .find(|v| width(v) <= room)
    });
    legend.extend(found.unwrap_or_default());
    let block = frame(
        t,
        Pane::Load.title(),
        focused,
        Some(Line::from(legend)),
        s.initiator.error.as_deref(),
    );
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 || inner.width < 16 {
        return;
    }
    let l = &s.load;
    let label = |name: &str, now: String| {
        Line::from(vec![
            Span::styled(format!("{name:<6}"), t.muted),
            Span::styled(format!("{now:>8} "), t.title),
        ])
    };
    let spark_row = |y: u16, name: &str, v: &[f64], now: String, st: Style, buf: &mut Buffer| {
        let lr = Rect::new(inner.x, y, inner.width.min(15), 1);
        Paragraph::new(label(name, now)).render(lr, buf);
        let sr = Rect::new(inner.x + 15, y, inner.width.saturating_sub(15), 1);
        RateSparkline::new(v).style(st).render(sr, buf);
    };
    let mut per_path: Vec<(Vec<(f64, f64)>, Style)> = Vec::new();
    if h.per_path.is_empty() {
        per_path.push((pts(&h.iops), t.spark));
    } else if h.per_path.len() > 1 && by_path {
        per_path.push((pts(&total), t.muted));
    }
    for (i, (_, v)) in h.per_path.iter().enumerate() {
        per_path.push((pts(v), t.series(i)));
    }
    // Now: the paths' latest rates (what the I/O paths pane shows), the
    // chart's last point when they have none.
    let live: Vec<f64> = s
        .paths
        .iter()
        .filter_map(|p| {
            if by_path {
                p.iops.value()
            } else {
                p.mibps.value()
            }
        })
        .collect();
    let now_top = if h.per_path.is_empty() {
        last(&l.iops, fmt::count)
    } else if !live.is_empty() {
        fmt_y(live.iter().sum())
    } else {
        total.last().map_or("n/a".into(), |v| fmt_y(*v))
    };
    let top_caption = match unit {
        "cmd/s" => "NVMe commands/s by path",
        "MiB/s" => "MiB/s by path (kernel)",
        _ => "IOPS",
    };
    if inner.height >= 18 {
        // Three charts, each under a caption: IOPS by path, MiB/s, latency.
        let h3 = inner.height / 4;
        let caption = |y: u16, text: String, now: String, buf: &mut Buffer| {
            let l = Line::from(vec![
                Span::styled(text, t.title),
                Span::raw("  "),
                Span::styled(now, t.accent),
            ]);
            Paragraph::new(l).render(Rect::new(inner.x, y, inner.width, 1), buf);
        };
        let top_h = inner.height - 2 * h3;
        caption(
            inner.y,
            top_caption.to_string(),
            format!("now {now_top}"),
            buf,
        );
        chart(
            Rect::new(inner.x, inner.y + 1, inner.width, top_h - 1),
            t,
            &per_path,
            unit,
            fmt_y,
            true,
            buf,
        );
        let mid_y = inner.y + top_h;
        caption(
            mid_y,
            "MiB/s".into(),
            format!("now {}", last(&l.mibps, fmt::mibps)),
            buf,
        );
        chart(
            Rect::new(inner.x, mid_y + 1, inner.width, h3 - 1),
            t,
            &[(pts(&h.mibps), t.series(1))],
            "MiB/s",
            fmt::mibps,
            false,
            buf,
        );
        let bot_y = mid_y + h3;
        caption(
            bot_y,
            "average latency".into(),
            format!("now {}", last(&l.avg_lat_us, fmt::micros)),
            buf,
        );
        chart(
            Rect::new(inner.x, bot_y + 1, inner.width, h3 - 1),
            t,
            &[(pts(&h.lat_us), t.series(2))],
            "µs",
            fmt::micros,
            false,
            buf,
        );
    } else if inner.height >= 6 {
        let cr = Rect::new(inner.x, inner.y, inner.width, inner.height - 2);
        chart(cr, t, &per_path, unit, fmt_y, true, buf);
        spark_row(
            inner.bottom() - 2,
            "MiB/s",
            &h.mibps,
            last(&l.mibps, fmt::mibps),
            t.series(1),
            buf,
        );
        spark_row(
            inner.bottom() - 1,
            "lat",
            &h.lat_us,
            last(&l.avg_lat_us, fmt::micros),
            t.series(2),
            buf,
        );
    } else {
        let rows = [
            ("IOPS", &h.iops, last(&l.iops, fmt::count), t.spark),
            ("MiB/s", &h.mibps, last(&l.mibps, fmt::mibps), t.series(1)),
            (
                "lat",
                &h.lat_us,
                last(&l.avg_lat_us, fmt::micros),
                t.series(2),
            ),
        ];
        for (i, (n, v, now, st)) in rows.into_iter().enumerate().take(usize::from(inner.height)) {
            spark_row(inner.y + i as u16, n, v, now, st, buf);
        }
    }
    if s.initiator.stale() {
        grey(inner, t, buf);
    }
}
