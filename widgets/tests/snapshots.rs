//! One snapshot per widget per built-in theme at 80 columns, through the
//! public API only. The snapshot is the buffer's `Debug`: the text, then
//! every change of style, so a theme or layout change reads as a diff.
//!
//! New or changed snapshots: `INSTA_UPDATE=always cargo test -p
//! mpath-widgets --test snapshots`, then review the diff.

use mpath_widgets::{
    AnaBadge, CommandLine, ConnRow, ConnTable, HelpOverlay, KeyHints, LabelMode, PathRow,
    PathTable, RateSparkline, Theme,
};
use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::widgets::Widget;

const WIDTH: u16 = 80;

fn themes() -> [(&'static str, Theme); 3] {
    [
        ("dark", Theme::dark()),
        ("light", Theme::light()),
        ("mono", Theme::mono()),
    ]
}

fn snapshot(name: &str, theme: &str, buf: &Buffer) {
    insta::assert_snapshot!(format!("{name}_{theme}"), format!("{buf:?}"));
}

fn paths() -> Vec<PathRow> {
    vec![
        PathRow {
            name: "Nvme0".into(),
            cntlid: 1,
            traddr: "127.0.0.1".into(),
            trsvcid: "4420".into(),
            connected: true,
            accessible: true,
            ana_state: "optimized".into(),
            current: true,
            outstanding: Some(31),
            iops: Some(48_213.0),
            mibps: Some(188.3),
            history: vec![0, 9_000, 21_000, 40_000, 47_000, 48_500, 48_213],
            health: "KA 2 s ago".into(),
            health_alarm: false,
            latency_us: Some(412.0),
            errors: Some(0),
        },
        PathRow {
            name: "Nvme0".into(),
            cntlid: 2,
            traddr: "127.0.0.2".into(),
            trsvcid: "5520".into(),
            connected: true,
            accessible: true,
            ana_state: "non_optimized".into(),
            current: false,
            outstanding: Some(0),
            iops: Some(0.0),
            mibps: Some(0.0),
            history: vec![30_000, 12_000, 0, 0, 0, 0, 0],
            health: "delay 100ms · KA 1 s ago".into(),
            health_alarm: false,
            latency_us: None,
            errors: Some(2),
        },
        PathRow {
            name: "Nvme0".into(),
            cntlid: 3,
            traddr: "127.0.0.3".into(),
            trsvcid: "4421".into(),
            connected: false,
            accessible: false,
            ana_state: "inaccessible".into(),
            health: "reconnect in 7 s".into(),
            health_alarm: true,
            ..PathRow::default()
        },
    ]
}

fn conns() -> Vec<ConnRow> {
    vec![
        ConnRow {
            role: "4420 listen".into(),
            state: "LISTEN".into(),
            send_q: 128,
            local: "127.0.0.1:4420".into(),
            peer: "0.0.0.0:*".into(),
            ..ConnRow::default()
        },
        ConnRow {
            role: "4420 admin".into(),
            state: "ESTAB".into(),
            local: "127.0.0.1:4420".into(),
            peer: "127.0.0.1:50410".into(),
            tx_bps: Some(96.0),
            rx_bps: Some(72.0),
            rtt_ms: Some(0.031),
            ..ConnRow::default()
        },
        ConnRow {
            role: "4420 I/O q1".into(),
            state: "ESTAB".into(),
            recv_q: 0,
            send_q: 65_536,
            local: "127.0.0.1:4420".into(),
            peer: "127.0.0.1:50412".into(),
            tx_bps: Some(98.7 * 1_048_576.0),
            rx_bps: Some(1.2 * 1_048_576.0),
            rtt_ms: Some(0.052),
            ..ConnRow::default()
        },
        ConnRow {
            role: "5520 I/O q1".into(),
            remote_host: true,
            state: "CLOSE-WAIT".into(),
            recv_q: 24_576,
            local: "127.0.0.2:5520".into(),
            peer: "127.0.0.9:41000".into(),
            ..ConnRow::default()
        },
    ]
}

#[test]
fn path_table() {
    let rows = paths();
    for (name, theme) in themes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, 6));
        PathTable::new(&rows, &theme)
            .title("I/O paths — Nvme0n1")
            .selected(Some(1))
            .focused(true)
            .render(buf.area, &mut buf);
        snapshot("path_table", name, &buf);
    }
}

#[test]
fn conn_table() {
    let rows = conns();
    for (name, theme) in themes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, 7));
        ConnTable::new(&rows, &theme)
            .title("connections")
            .selected(Some(2))
            .render(buf.area, &mut buf);
        snapshot("conn_table", name, &buf);
    }
}

#[test]
fn help_overlay() {
    let bindings: Vec<(String, String, String)> = [
        (
            "a",
            "cycle the ANA state of the selected listener",
            "Listeners",
        ),
        ("j / ↓", "select next", "Navigation"),
        ("k / ↑", "select previous", "Navigation"),
        ("Tab", "next pane", "Navigation"),
        ("p", "cycle multipath policy", "Paths"),
        (":", "command line (SPDK RPC)", "General"),
        ("?", "this help", "General"),
        ("q", "quit", "General"),
    ]
    .iter()
    .map(|(k, d, s)| (k.to_string(), d.to_string(), s.to_string()))
    .collect();
    for (name, theme) in themes() {
        let mut buf = Buffer::with_lines(vec!["·".repeat(usize::from(WIDTH)); 12]);
        HelpOverlay::new(&bindings, &theme)
            .offset(1)
            .render(buf.area, &mut buf);
        snapshot("help_overlay", name, &buf);
    }
}

#[test]
fn command_line() {
    let completions: Vec<String> = [
        "bdev_nvme_get_controllers",
        "bdev_nvme_get_io_paths",
        "bdev_nvme_set_multipath_policy",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (name, theme) in themes() {
        let mut buf = Buffer::with_lines(vec!["·".repeat(usize::from(WIDTH)); 5]);
        let c = CommandLine::new("rpc bdev_nvme_get", 17, &theme)
            .completions(&completions, Some(1))
            .message(true, "error: -32601 Method not found");
        c.render(buf.area, &mut buf);
        assert_eq!(c.cursor_position(buf.area), (18, 4));
        snapshot("command_line", name, &buf);
    }
}

#[test]
fn status_line_and_key_hints() {
    let hints = [
        ("q", "quit"),
        ("?", "help"),
        ("Tab", "pane"),
        ("a", "ANA"),
        ("p", "policy"),
        (":", "command"),
    ];
    for (name, theme) in themes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, 2));
        CommandLine::new("", 0, &theme)
            .active(false)
            .message(false, "nvmf_subsystem_listener_set_ana_state: ok")
            .render(Rect::new(0, 0, WIDTH, 1), &mut buf);
        KeyHints::new(&hints, &theme).render(Rect::new(0, 1, WIDTH, 1), &mut buf);
        snapshot("status_and_hints", name, &buf);
    }
}

#[test]
fn sparkline_and_badges() {
    let samples: Vec<u64> = (0..40).map(|i| (i * 37 % 23) * 100).collect();
    let states = [
        "optimized",
        "non_optimized",
        "inaccessible",
        "persistent_loss",
        "change",
        "odd",
    ];
    for (name, theme) in themes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, 2));
        RateSparkline::new(&samples)
            .style(theme.sparkline)
            .render(Rect::new(0, 0, WIDTH, 1), &mut buf);
        let mut x = 0;
        for s in states {
            let badge = AnaBadge::new(s).palette(theme.ana).mode(LabelMode::Full);
            badge.render(Rect::new(x, 1, WIDTH - x, 1), &mut buf);
            x += badge.label().len() as u16 + 1;
        }
        snapshot("sparkline_and_badges", name, &buf);
    }
}
