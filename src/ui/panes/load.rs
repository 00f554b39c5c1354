//! Load: IOPS over the last minute split by path (a line per path), then
//! MiB/s and average latency as sparklines. Per-path numbers come from
//! the engine's per-path counters, or, on real SPDK, from the kernel's
//! byte counters of each path's socket (the chart then shows MiB/s).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::{frame, grey, spark};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::{Metric, Snapshot};

fn last(m: &Metric, f: fn(f64) -> String) -> String {
    match m {
        Metric::Value(v) => f(*v),
        Metric::Unavailable(_) => "n/a".into(),
    }
}

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let h = &s.history;
    let mut legend = vec![Span::raw(" ")];
    for (i, (label, _)) in h.per_path.iter().enumerate() {
        legend.push(Span::styled("━ ", t.series(i)));
        legend.push(Span::styled(format!("{label} "), t.hint));
    }
    let block = frame(t, Pane::Load.title(), focused, Some(Line::from(legend)), s.initiator.error.as_deref());
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let l = &s.load;
    let label_w = 14u16;
    let spark_w = usize::from(inner.width.saturating_sub(label_w + 1));
    let spark_line = |name: &str, v: &[f64], now: String, st| {
        Line::from(vec![
            Span::styled(format!("{name:<5}"), t.muted),
            Span::styled(format!("{now:>8} "), t.title),
            Span::styled(spark(v, spark_w), st),
        ])
    };
    let summary = [
        spark_line("MiB/s", &h.mibps, last(&l.mibps, fmt::mibps), t.series(1)),
        spark_line("lat", &h.lat_us, last(&l.avg_lat_us, fmt::micros), t.series(2)),
    ];
    if inner.height < 6 {
        let lines = vec![
            spark_line("IOPS", &h.iops, last(&l.iops, fmt::count), t.spark),
            summary[0].clone(),
            summary[1].clone(),
        ];
        ratatui::widgets::Paragraph::new(lines).render(inner, buf);
    } else {
        let chart_r = Rect::new(inner.x, inner.y, inner.width, inner.height - 2);
        let series: Vec<Vec<(f64, f64)>> = h
            .per_path
            .iter()
            .map(|(_, v)| pts(v))
            .collect();
        let total = pts(&h.iops);
        let by_path = h.per_path_unit == "IOPS" || h.per_path.is_empty();
        let ymax = series
            .iter()
            .flatten()
            .chain(if by_path { total.iter() } else { [].iter() })
            .map(|p| p.1)
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let mut ds = Vec::new();
        if by_path && h.per_path.len() != 1 {
            ds.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(t.muted)
                    .data(&total),
            );
        }
        for (i, d) in series.iter().enumerate() {
            ds.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(t.series(i))
                    .data(d),
            );
        }
        let unit = if by_path { "IOPS" } else { "MiB/s" };
        let y_labels = vec![
            Span::styled("0", t.muted),
            Span::styled(fmt::count(ymax / 2.0), t.muted),
            Span::styled(format!("{} {unit}", fmt::count(ymax)), t.muted),
        ];
        let chart = Chart::new(ds)
            .x_axis(
                Axis::default()
                    .bounds([0.0, 59.0])
                    .style(t.border)
                    .labels(vec![Span::styled("-60s", t.muted), Span::styled("now", t.muted)]),
            )
            .y_axis(Axis::default().bounds([0.0, ymax]).style(t.border).labels(y_labels));
        chart.render(chart_r, buf);
        let sr = Rect::new(inner.x, inner.bottom() - 2, inner.width, 2);
        ratatui::widgets::Paragraph::new(summary.to_vec()).render(sr, buf);
    }
    if s.initiator.stale() {
        grey(inner, t, buf);
    }
}

/// Points right-aligned on a 60-second axis (newest at x = 59).
fn pts(v: &[f64]) -> Vec<(f64, f64)> {
    let n = v.len();
    v.iter()
        .enumerate()
        .map(|(i, y)| ((59 + i) as f64 - (n as f64 - 1.0).max(0.0), *y))
        .map(|(x, y)| (x - 0.0, y))
        .filter(|(x, _)| *x >= 0.0)
        .collect()
}
