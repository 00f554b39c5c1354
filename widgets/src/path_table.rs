//! The I/O paths of a multipath bdev, one row per path, as SPDK's
//! `bdev_nvme_get_io_paths` describes them, plus the engine's counters.
//!
//! ```text
//!   controller cntlid transport ID   conn acc ANA           health   outst   IOPS  MiB/s lat µs err IOPS history
//! ★ Nvme0           1 127.0.0.1:4420 yes  yes optimized     KA 2 s ago  12 45.68K  178.4    412   0 ▁▂▄█
//!   Nvme0           2 127.0.0.2:5520 yes  yes non_optimized –          n/a    n/a    n/a    n/a n/a
//! ```
//!
//! As the pane narrows, columns shrink to their minimum and then leave in
//! this order: err, IOPS history, MiB/s, lat µs, cntlid, acc, outst, conn,
//! health, IOPS, transport ID. The star, controller and ANA state always stay; ANA
//! switches to short labels (`OPT`, `NON`, ...) when the full ones do not
//! all fit. Under multipath the controller name is the same on every
//! path, so the transport ID is what tells paths apart: it is cut in the
//! middle (keeping the port) and is the last optional column to go.

use std::fmt::Write as _;

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::widgets::Widget;

use crate::ana_badge::{AnaBadge, LabelMode};
use crate::columns::{self, Col, Head};
use crate::sparkline::{format_iops, RateSparkline};
use crate::text::{self, Cut, NOT_AVAILABLE};
use crate::theme::Theme;

/// One I/O path, as plain data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathRow {
    /// The controller (`Nvme0`).
    pub name: String,
    pub cntlid: u16,
    pub traddr: String,
    pub trsvcid: String,
    pub connected: bool,
    pub accessible: bool,
    /// As SPDK reports it: `optimized`, `non_optimized`, ...
    pub ana_state: String,
    /// The path the selector sends I/O to now; marked with a star.
    pub current: bool,
    /// Commands submitted and not yet completed; `None` when unknown
    /// (shown as "n/a", never as 0).
    pub outstanding: Option<u32>,
    pub iops: Option<f64>,
    pub mibps: Option<f64>,
    /// IOPS samples, oldest first; the last 60 (or as many as fit) are
    /// drawn, on one scale shared by all rows.
    pub history: Vec<u64>,
    /// One short health note (a fault, the keep-alive clock, a reconnect
    /// countdown); empty shows as a dim dash, and the column is left out
    /// when every row's is empty (as are latency and errors when no row
    /// has them).
    pub health: String,
    /// Whether the note is an alarm (drawn in the error style).
    pub health_alarm: bool,
    /// Average latency over the last interval, in µs.
    pub latency_us: Option<f64>,
    /// Commands that completed with an error status.
    pub errors: Option<u64>,
}

/// The paths table. Renders in a bordered pane (unless `bordered` is
/// false) with a header row; scrolls so that the selected row is visible.
#[derive(Clone, Copy, Debug)]
pub struct PathTable<'a> {
    pub rows: &'a [PathRow],
    /// Highlighted row; an index past the end highlights nothing.
    pub selected: Option<usize>,
    /// Whether the pane has the keyboard (border and selection styles).
    pub focused: bool,
    pub theme: &'a Theme,
    pub title: Option<&'a str>,
    pub bordered: bool,
    /// Headings of the rate column and of the history column: `IOPS` and
    /// `IOPS history` unless [`PathTable::rate_heading`] names the unit
    /// (e.g. `cmd/s` when the counts are NVMe commands, which a verify
    /// workload issues two of per I/O).
    pub rate_heading: (&'static str, &'static str),
    /// The column sorted by (its index, left to right) and whether
    /// descending: its heading gets ▲ or ▼.
    pub sort: columns::SortMark,
}

/// Columns, left to right.
const MARK: usize = 0;
const NAME: usize = 1;
const CNTLID: usize = 2;
const TRID: usize = 3;
const CONN: usize = 4;
const ACC: usize = 5;
const ANA: usize = 6;
const HEALTH: usize = 7;
const OUTST: usize = 8;
const IOPS: usize = 9;
const MIBPS: usize = 10;
const LAT: usize = 11;
const ERR: usize = 12;
const HIST: usize = 13;
const NCOLS: usize = 14;

const HEADS: [Head; NCOLS] = [
    Head::left("", ""),
    Head::left("controller", "ctrlr"),
    Head::right("cntlid", "cntlid"),
    Head::left("transport ID", "trid"),
    Head::left("conn", "conn"),
    Head::left("acc", "acc"),
    Head::left("ANA", "ANA"),
    Head::left("health", "health"),
    Head::right("outst", "outst"),
    Head::right("IOPS", "IOPS"),
    Head::right("MiB/s", "MiB/s"),
    Head::right("lat µs", "lat"),
    Head::right("err", "err"),
    Head::left("IOPS history", "history"),
];

/// Samples in a full sparkline.
const HISTORY: u16 = 60;

const EMPTY: &str = "no I/O paths";

impl<'a> PathTable<'a> {
    pub fn new(rows: &'a [PathRow], theme: &'a Theme) -> PathTable<'a> {
        PathTable {
            rows,
            selected: None,
            focused: false,
            theme,
            title: None,
            bordered: true,
            rate_heading: (HEADS[IOPS].long, HEADS[HIST].long),
            sort: None,
        }
    }

    /// Marks column `col` (left to right, from 0) as the one the rows
    /// are sorted by, descending or not.
    #[must_use]
    pub fn sorted(self, sort: Option<(usize, bool)>) -> PathTable<'a> {
        PathTable { sort, ..self }
    }

    /// Headings for the rate column and its history (`"cmd/s"`,
    /// `"cmd/s history"`).
    #[must_use]
    pub fn rate_heading(self, rate: &'static str, history: &'static str) -> PathTable<'a> {
        PathTable {
            rate_heading: (rate, history),
            ..self
        }
    }

    #[must_use]
    pub fn selected(self, selected: Option<usize>) -> PathTable<'a> {
        PathTable { selected, ..self }
    }

    #[must_use]
    pub fn focused(self, focused: bool) -> PathTable<'a> {
        PathTable { focused, ..self }
    }

    #[must_use]
    pub fn title(self, title: &'a str) -> PathTable<'a> {
        PathTable {
            title: Some(title),
            ..self
        }
    }

    #[must_use]
    pub fn bordered(self, bordered: bool) -> PathTable<'a> {
        PathTable { bordered, ..self }
    }

    /// Rows that fit in `area` below the header (for page up/down).
    pub fn page_size(&self, area: Rect) -> usize {
        columns::page_size(area, self.bordered)
    }

    fn columns(&self) -> [Col; NCOLS] {
        let widest = |f: &dyn Fn(&PathRow) -> usize, floor: usize, cap: u16| -> u16 {
            let w = self.rows.iter().map(f).max().unwrap_or(0).max(floor);
            // Capped, so it fits in u16.
            w.min(usize::from(cap)) as u16
        };
        let name = widest(&|r| text::width(&r.name), HEADS[NAME].long.len(), 32);
        let name_min = widest(&|r| text::width(&r.name), 4, 8);
        // An IPv6 address in brackets, a colon and a port: 47 at most.
        let trid = widest(&|r| trid_width(r), HEADS[TRID].long.len(), 47);
        // Squeezing the one column that tells paths apart is worse than
        // losing a less useful one, so it keeps room for any IPv4
        // `addr:port` (21) before the others are even shown.
        let trid_min = widest(&|r| trid_width(r), 9, 21);
        let ana = widest(&|r| text::width(ana_label(r)), HEADS[ANA].long.len(), 32);
        let health = widest(&|r| text::width(&r.health), HEADS[HEALTH].long.len(), 48);
        // Room for `reconnect in 10 s` before the counters get theirs: a
        // cut countdown says nothing.
        let health_min = widest(&|r| text::width(&r.health), 6, 17);
        let outst = widest(
            &|r| r.outstanding.map_or(0, |n| digits(u64::from(n))),
            HEADS[OUTST].long.len(),
            10,
        );
        [
            Col::fixed(1, 0),
            // Never dropped, but a long name waits for room until the
            // address and the rate have theirs.
            Col::new(name_min, name, 0).grow(4),
            Col::fixed(6, 8),
            Col::new(trid_min, trid, 2),
            Col::fixed(4, 5),
            Col::fixed(3, 7),
            Col::new(4, ana, 0),
            // A dead path must show, so it stays long after the counters.
            Col::new(health_min, health, 4),
            // Numbers are never cut: a cut number reads as a smaller one.
            Col::fixed(outst, 6),
            Col::fixed(6, 3),
            Col::fixed(6, 9),
            Col::fixed(6, 8),
            Col::fixed(3, 11),
            // Always as wide as a full history when there is room, so the
            // layout does not shift while samples accumulate.
            Col::new(8, HISTORY, 10),
        ]
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let Some(frame) = columns::frame(
            area,
            buf,
            theme,
            self.focused,
            self.bordered,
            self.title,
            self.rows.len(),
            self.selected,
        ) else {
            return;
        };
        // Health, latency and errors only where some row has them: a
        // backend without them keeps the table as it was.
        let mut shown = [true; NCOLS];
        shown[HEALTH] = self.rows.iter().any(|r| !r.health.is_empty());
        shown[LAT] = self.rows.iter().any(|r| r.latency_us.is_some());
        shown[ERR] = self.rows.iter().any(|r| r.errors.is_some());
        let place = columns::place_shown(&self.columns(), frame.header.width, shown);

        let mut heads = HEADS;
        let (rate, history) = self.rate_heading;
        heads[IOPS] = Head::right(rate, rate);
        heads[HIST] = Head::left(history, HEADS[HIST].short);
        columns::draw_header(buf, frame.header, &place, &heads, theme.header, self.sort);

        let body = frame.body;
        if body.is_empty() {
            return;
        }
        if self.rows.is_empty() {
            text::put(buf, body.x, body.y, EMPTY, body.width, theme.dim, Cut::End);
            return;
        }

        // One scale for every sparkline, so rows compare at a glance.
        let spark_max = place[HIST].map_or(0.0, |(_, w)| {
            self.rows
                .iter()
                .map(|r| RateSparkline::new(&r.history).visible_max(w))
                .fold(0.0, f64::max)
        });
        let ana_mode = match place[ANA] {
            Some((_, w))
                if self
                    .rows
                    .iter()
                    .all(|r| text::width(ana_label(r)) <= usize::from(w)) =>
            {
                LabelMode::Full
            }
            _ => LabelMode::Short,
        };
        let selection = columns::selection_style(theme, self.focused);
        let mut scratch = String::new();
        let visible = self.rows.iter().enumerate().skip(frame.offset);
        for ((index, row), y) in visible.zip(body.y..body.bottom()) {
            let line = Rect {
                y,
                height: 1,
                ..body
            };
            let cell = |col: usize| place[col].map(|(x, w)| (line.x + x, w));
            if let (Some((x, _)), true) = (cell(MARK), row.current) {
                buf.set_stringn(x, y, "★", 1, theme.accent);
            }
            if let Some((x, w)) = cell(NAME) {
                text::put(buf, x, y, &row.name, w, Style::new(), Cut::End);
            }
            if let Some((x, w)) = cell(CNTLID) {
                scratch.clear();
                let _ = write!(scratch, "{}", row.cntlid);
                text::put_right(buf, x, y, &scratch, w, Style::new());
            }
            if let Some((x, w)) = cell(TRID) {
                scratch.clear();
                write_trid(&mut scratch, row);
                text::put(buf, x, y, &scratch, w, Style::new(), Cut::Middle);
            }
            if let Some((x, w)) = cell(CONN) {
                let (t, s) = yes_no(row.connected, theme.ok, theme.error);
                text::put(buf, x, y, t, w, s, Cut::End);
            }
            if let Some((x, w)) = cell(ACC) {
                let (t, s) = yes_no(row.accessible, theme.ok, theme.warn);
                text::put(buf, x, y, t, w, s, Cut::End);
            }
            if let Some((x, w)) = cell(ANA) {
                AnaBadge::new(&row.ana_state)
                    .palette(theme.ana)
                    .mode(ana_mode)
                    .render(Rect::new(x, y, w, 1), buf);
            }
            if let Some((x, w)) = cell(HEALTH) {
                if row.health.is_empty() {
                    text::put(buf, x, y, "–", w, theme.dim, Cut::End);
                } else {
                    let s = if row.health_alarm {
                        theme.error
                    } else {
                        Style::new()
                    };
                    text::put(buf, x, y, &row.health, w, s, Cut::End);
                }
            }
            if let Some((x, w)) = cell(LAT) {
                scratch.clear();
                if let Some(v) = row.latency_us.filter(|v| v.is_finite()) {
                    let _ = write!(scratch, "{v:.0}");
                }
                number(buf, x, y, w, &scratch, theme);
            }
            if let Some((x, w)) = cell(ERR) {
                scratch.clear();
                if let Some(n) = row.errors {
                    let _ = write!(scratch, "{n}");
                }
                number(buf, x, y, w, &scratch, theme);
            }
            if let Some((x, w)) = cell(OUTST) {
                scratch.clear();
                if let Some(n) = row.outstanding {
                    let _ = write!(scratch, "{n}");
                }
                number(buf, x, y, w, &scratch, theme);
            }
            if let Some((x, w)) = cell(IOPS) {
                let t = row.iops.map(format_iops).unwrap_or_default();
                number(buf, x, y, w, &t, theme);
            }
            if let Some((x, w)) = cell(MIBPS) {
                scratch.clear();
                if let Some(v) = row.mibps.filter(|v| v.is_finite()) {
                    // Four significant digits at most, so it fits in six.
                    let decimals = if v.abs() < 10.0 {
                        2
                    } else if v.abs() < 1000.0 {
                        1
                    } else {
                        0
                    };
                    let _ = write!(scratch, "{v:.decimals$}");
                }
                number(buf, x, y, w, &scratch, theme);
            }
            if let Some((x, w)) = cell(HIST) {
                RateSparkline::new(&row.history)
                    .max(spark_max)
                    .style(theme.sparkline)
                    .render(Rect::new(x, y, w, 1), buf);
            }
            if self.selected == Some(index) {
                columns::highlight_row(buf, line, selection, theme);
            }
        }
    }
}

/// A right-aligned number, or a dim "n/a" when `text` is empty.
fn number(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, theme: &Theme) {
    if text.is_empty() || text == NOT_AVAILABLE {
        text::put_right(buf, x, y, NOT_AVAILABLE, w, theme.dim);
    } else {
        text::put_right(buf, x, y, text, w, Style::new());
    }
}

fn yes_no(v: bool, yes: Style, no: Style) -> (&'static str, Style) {
    if v {
        ("yes", yes)
    } else {
        ("no", no)
    }
}

fn ana_label(r: &PathRow) -> &str {
    AnaBadge::new(&r.ana_state).label()
}

/// `traddr:trsvcid`, with an IPv6 address in brackets so the port is
/// unambiguous; just `traddr` when there is no service ID.
fn write_trid(out: &mut String, r: &PathRow) {
    let v6 = r.traddr.contains(':');
    if v6 {
        out.push('[');
    }
    out.push_str(&r.traddr);
    if v6 {
        out.push(']');
    }
    if !r.trsvcid.is_empty() {
        out.push(':');
        out.push_str(&r.trsvcid);
    }
}

fn trid_width(r: &PathRow) -> usize {
    let brackets = if r.traddr.contains(':') { 2 } else { 0 };
    let port = if r.trsvcid.is_empty() {
        0
    } else {
        1 + text::width(&r.trsvcid)
    };
    text::width(&r.traddr) + brackets + port
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Widget for PathTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl Widget for &PathTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{find, lines, render_all_sizes, row};
    use ratatui_core::style::{Color, Modifier};

    fn path(name: &str, cntlid: u16, traddr: &str, trsvcid: &str, ana: &str) -> PathRow {
        PathRow {
            name: name.into(),
            cntlid,
            traddr: traddr.into(),
            trsvcid: trsvcid.into(),
            connected: true,
            accessible: true,
            ana_state: ana.into(),
            ..PathRow::default()
        }
    }

    fn demo() -> Vec<PathRow> {
        vec![
            PathRow {
                current: true,
                outstanding: Some(12),
                iops: Some(45_678.0),
                mibps: Some(178.43),
                history: vec![0, 10, 20, 40, 80],
                ..path("Nvme0", 1, "127.0.0.1", "4420", "optimized")
            },
            path("Nvme0", 2, "127.0.0.2", "5520", "non_optimized"),
        ]
    }

    fn render(t: &PathTable<'_>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        t.render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn full_width_layout() {
        let theme = Theme::dark();
        let rows = demo();
        let t = PathTable::new(&rows, &theme).title("I/O paths");
        let buf = render(&t, 100, 5);
        assert_eq!(
            rows_of(&buf),
            [
                "┌ I/O paths ───────────────────────────────────────────────────────────────────────────────────────┐",
                "│  controller cntlid transport ID   conn acc ANA           outst   IOPS  MiB/s IOPS history        │",
                "│★ Nvme0           1 127.0.0.1:4420 yes  yes optimized        12 45.68K  178.4                 ▁▂▄█│",
                "│  Nvme0           2 127.0.0.2:5520 yes  yes non_optimized   n/a    n/a    n/a                     │",
                "└──────────────────────────────────────────────────────────────────────────────────────────────────┘",
            ]
        );
    }

    fn rows_of(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height).map(|y| row(buf, y)).collect()
    }

    #[test]
    fn styles_follow_the_theme() {
        let theme = Theme::dark();
        let mut rows = demo();
        rows[1].connected = false;
        rows[1].accessible = false;
        let buf = render(
            &PathTable::new(&rows, &theme)
                .selected(Some(0))
                .focused(true),
            100,
            5,
        );
        // Focused border, header style on the whole header row.
        assert_eq!(buf[(0, 0)].fg, Color::Cyan);
        assert_eq!(buf[(3, 1)].fg, Color::Yellow);
        assert!(buf[(60, 1)].modifier.contains(Modifier::BOLD));
        // Star in accent, badge colours, selection reversed over the row.
        assert_eq!(buf[(1, 2)].symbol(), "★");
        assert_eq!(buf[(1, 2)].fg, Color::Cyan);
        let ana = find(&buf, 2, "optimized").unwrap();
        assert_eq!(buf[(ana, 2)].bg, Color::Green);
        assert!((1..99).all(|x| buf[(x, 2)].modifier.contains(Modifier::REVERSED)));
        assert!(!buf[(1, 3)].modifier.contains(Modifier::REVERSED));
        // n/a dim, connected "no" as an error, accessible "no" as a warning.
        let na = find(&buf, 3, "n/a").unwrap();
        assert_eq!(buf[(na, 3)].fg, Color::DarkGray);
        let no = find(&buf, 3, "no ").unwrap();
        assert_eq!(buf[(no, 3)].fg, Color::Red);
        assert_eq!(buf[(no + 5, 3)].symbol(), "n");
        assert_eq!(buf[(no + 5, 3)].fg, Color::Yellow);
        // Sparkline style.
        let spark = find(&buf, 2, "█").unwrap();
        assert_eq!(buf[(spark, 2)].fg, Color::Green);

        // Unfocused: plain border, quiet selection.
        let buf = render(&PathTable::new(&rows, &theme).selected(Some(1)), 100, 5);
        assert_eq!(buf[(0, 0)].fg, Color::DarkGray);
        assert!(buf[(5, 3)].modifier.contains(Modifier::UNDERLINED));
        assert!(!buf[(5, 3)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn none_is_never_zero() {
        let theme = Theme::mono();
        let rows = vec![path("n", 0, "a", "1", "optimized")];
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 100, 2);
        let r = row(&buf, 1);
        assert_eq!(r.matches("n/a").count(), 3, "{r}");
        // The only 0 is the cntlid.
        assert_eq!(r.matches('0').count(), 1, "{r}");
    }

    #[test]
    fn columns_drop_in_order_as_width_shrinks() {
        let theme = Theme::dark();
        let rows = demo();
        let header = |w: u16| {
            row(
                &render(&PathTable::new(&rows, &theme).bordered(false), w, 3),
                0,
            )
        };
        // Which columns are there at each width, narrowest last.
        let names = [
            "history",
            "MiB/s",
            "cntlid",
            "acc",
            "outst",
            "conn",
            "IOPS",
            "transport",
        ];
        let mut gone = Vec::new();
        for w in (0..=120).rev() {
            let h = header(w);
            for name in names {
                if !gone.contains(&name) && !h.contains(name) {
                    gone.push(name);
                }
            }
            // Once gone, a column stays gone at every narrower width.
            for name in &gone {
                assert!(!h.contains(name), "{w}: {h}");
            }
        }
        assert_eq!(gone, names);
        // At 80 columns (78 inside a border) everything is still there.
        let h = header(78);
        let missing: Vec<_> = names.iter().filter(|n| !h.contains(*n)).collect();
        assert!(missing.is_empty(), "{h}: {missing:?}");
        // At the narrowest: star, name, ANA with short labels.
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 14, 3);
        assert_eq!(lines(&buf), ["  ctrlr ANA", "★ Nvme0 OPT", "  Nvme0 NON"]);
    }

    #[test]
    fn sparklines_share_one_scale() {
        let theme = Theme::dark();
        let mut rows = demo();
        rows[0].history = vec![10, 20];
        rows[1].history = vec![40, 80];
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 120, 3);
        let x = usize::from(find(&buf, 0, "IOPS history").unwrap());
        let spark = |y| row(&buf, y).chars().skip(x).collect::<String>();
        assert_eq!(spark(1).trim(), "▁▂");
        assert_eq!(spark(2).trim(), "▄█");
    }

    #[test]
    fn long_history_shows_the_last_sixty() {
        let theme = Theme::dark();
        let mut rows = demo();
        rows[0].history = (0..200).collect();
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 200, 2);
        let x = find(&buf, 0, "IOPS history").unwrap();
        let spark: String = row(&buf, 1).chars().skip(usize::from(x)).collect();
        assert_eq!(spark.trim_end().chars().count(), 60);
        assert!(spark.trim_end().ends_with('█'));
    }

    #[test]
    fn scrolls_to_the_selection_and_counts() {
        let theme = Theme::dark();
        let rows: Vec<PathRow> = (0..10)
            .map(|i| path(&format!("Nvme{i}"), i, "127.0.0.1", "4420", "optimized"))
            .collect();
        let t = PathTable::new(&rows, &theme).selected(Some(7));
        let buf = render(&t, 60, 6);
        assert_eq!(t.page_size(buf.area), 3);
        let r = rows_of(&buf);
        assert!(r[2].contains("Nvme5") && r[4].contains("Nvme7"), "{r:?}");
        assert!(r[5].ends_with(" 6-8 of 10 ┘"), "{r:?}");
        // Everything fits: no counter.
        let buf = render(&t, 60, 14);
        assert!(row(&buf, 13).starts_with("└────"));
        assert!(!row(&buf, 13).contains("of"));
    }

    #[test]
    fn empty_table_says_so() {
        let theme = Theme::dark();
        let buf = render(&PathTable::new(&[], &theme), 30, 4);
        assert_eq!(row(&buf, 2), "│no I/O paths                │");
        assert_eq!(buf[(1, 2)].fg, Color::DarkGray);
    }

    #[test]
    fn odd_text_is_cut_safely() {
        let theme = Theme::dark();
        let long = "控制器".repeat(40) + "\x1b[2J";
        let rows = vec![PathRow {
            current: true,
            ana_state: "状态未知的状态".into(),
            iops: Some(f64::NAN),
            mibps: Some(f64::INFINITY),
            outstanding: Some(u32::MAX),
            history: vec![u64::MAX, 0, 1],
            ..path(
                &long,
                u16::MAX,
                "fe80::1234:5678:9abc:def0:1111:2222",
                "65535",
                "",
            )
        }];
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 120, 2);
        let r = row(&buf, 1);
        assert!(r.starts_with("★ 控制器") && r.contains("控…"), "{r}");
        assert!(
            r.contains("[fe80::1234:5678:9abc:def0:1111:2222]:65535"),
            "{r}"
        );
        assert!(r.contains("4294967295") && r.contains("65535"), "{r}");
        assert!(!r.contains('\x1b'));
        assert_eq!(r.matches("n/a").count(), 2, "{r}");
        // Narrow: the address keeps its port.
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 40, 2);
        let r = row(&buf, 1);
        assert!(
            r.contains("[fe80::") && r.contains("…") && r.contains("]:65535"),
            "{r}"
        );
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 20, 2);
        assert_eq!(lines(&buf)[1], "★ 控制器…  状态未知");
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let theme = Theme::dark();
        let mut rows = demo();
        rows[0].name = "控制器".repeat(30);
        for sel in [None, Some(0), Some(1), Some(5)] {
            for bordered in [true, false] {
                let t = PathTable::new(&rows, &theme)
                    .selected(sel)
                    .bordered(bordered)
                    .title("路径 paths");
                render_all_sizes(4, |area, buf| t.render(area, buf));
                let t = PathTable::new(&[], &theme).selected(sel).bordered(bordered);
                render_all_sizes(3, |area, buf| t.render(area, buf));
            }
        }
        for w in 0..=110 {
            render(&PathTable::new(&rows, &theme).selected(Some(1)), w, 4);
        }
        // Width 1 and 2, unbordered: the star column, then nothing more.
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 2, 2);
        assert_eq!(rows_of(&buf), ["  ", "★ "]);
        let buf = render(&PathTable::new(&rows, &theme).bordered(false), 1, 1);
        assert_eq!(rows_of(&buf), [" "]);
    }

    #[test]
    fn leaves_the_rest_of_the_buffer_alone() {
        let theme = Theme::dark();
        let rows = demo();
        let mut buf = Buffer::with_lines(["xxxxxxxxxx"; 4]);
        PathTable::new(&rows, &theme).render(Rect::new(2, 1, 6, 2), &mut buf);
        assert_eq!(row(&buf, 0), "xxxxxxxxxx");
        assert_eq!(row(&buf, 3), "xxxxxxxxxx");
        assert_eq!(&row(&buf, 1)[..2], "xx");
        assert!(row(&buf, 2).ends_with("xx"));
    }
}
