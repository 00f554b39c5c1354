//! The console on a bigger fabric than the HOWTO's: ten listeners of one
//! subsystem, a second subsystem with its own listener and controller,
//! eight paths. The scope picker, the NQN column, zoom, overflow markers,
//! the `/` filter, the sort key and the Load legend, each through
//! `App::update` and a rendered buffer (fixtures, no engines).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use mpath_console::ui::app::{Effect, Pane, UiEvent};
use mpath_console::ui::fixture::{self, NQN2};
use mpath_console::ui::scope::Scope;
use mpath_console::ui::snapshot::Snapshot;
use mpath_console::ui::theme::Theme;
use mpath_console::ui::{layout, panes, render_to_buffer, App};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

const NQN1: &str = "nqn.2022-02.io.spdk:cnode0";

fn key(c: char) -> UiEvent {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    UiEvent::Key(KeyEvent::new_with_kind(
        KeyCode::Char(c),
        mods,
        KeyEventKind::Press,
    ))
}

fn code(c: KeyCode) -> UiEvent {
    UiEvent::Key(KeyEvent::new_with_kind(
        c,
        KeyModifiers::NONE,
        KeyEventKind::Press,
    ))
}

fn typed(a: &mut App, s: &str) {
    for c in s.chars() {
        a.update(key(c));
    }
}

/// An app on `s`, sized `w`×`h`, focus on Listeners.
fn app_on(s: Snapshot, w: u16, h: u16) -> App {
    let mut a = fixture::app(Theme::dark());
    a.update(UiEvent::Snapshot(Arc::new(s)));
    a.update(UiEvent::Resize(w, h));
    a
}

fn text(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..b.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let c = &b[(x, y)];
            line.push_str(c.symbol());
            skip = unicode_width::UnicodeWidthStr::width(c.symbol()).saturating_sub(1);
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// The text of pane `p` as drawn on the whole screen.
fn pane_text(a: &App, p: Pane) -> String {
    let (w, h) = a.size;
    let b = render_to_buffer(&a.snap, a, w, h);
    let r = layout::compute(w, h, a)
        .get(p)
        .unwrap_or_else(|| panic!("{p:?} not on screen"));
    let mut s = String::new();
    for y in r.y..r.bottom() {
        let mut line = String::new();
        for x in r.x..r.right() {
            line.push_str(b[(x, y)].symbol());
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// Addresses of the listeners shown, in screen order.
fn listener_addrs(a: &App) -> Vec<String> {
    a.view_rows(Pane::Listeners)
        .iter()
        .map(|&i| a.snap.listeners[i].addr())
        .collect()
}

fn selected_listener(a: &App) -> String {
    a.selected_listener().map(|l| l.addr()).unwrap_or_default()
}

#[test]
fn picker_scopes_listeners_connections_and_the_sampler() {
    let mut s = fixture::fabric(8, 2);
    // A socket to the second subsystem's listener, beside the HOWTO's.
    let mut c = s.conns.rows[0].clone();
    c.listener = Some("127.0.0.20:4420".into());
    c.local = "127.0.0.1:40999".into();
    c.peer = "127.0.0.20:4420".into();
    s.conns.rows.push(c);
    s.sort_rows();
    let mut a = app_on(s, 160, 48);
    assert!(a.all_subsystems);
    assert_eq!(a.rows(Pane::Listeners), 11);
    let conns_all = a.rows(Pane::Conns);

    // v lists all subsystems, cnode0 with Nvme0n1, cnode1 with Nvme1n1.
    assert!(a.update(key('v')).is_empty());
    let p = a.picker.clone().expect("the picker is open");
    assert_eq!(p.sel, 0, "opens on the current scope: all subsystems");
    let listed: Vec<(Option<&str>, Option<&str>)> = p
        .choices
        .iter()
        .map(|c| (c.nqn.as_deref(), c.bdev.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            (None, None),
            (Some(NQN1), Some("Nvme0n1")),
            (Some(NQN2), Some("Nvme1n1")),
        ]
    );
    let shown = text(&render_to_buffer(&a.snap, &a, 160, 48));
    assert!(shown.contains("Scope — Enter shows it"), "{shown}");
    assert!(shown.contains(NQN2) && shown.contains("Nvme1n1"), "{shown}");

    // The second subsystem: the sampler is told, the panes narrow.
    a.update(key('j'));
    a.update(key('j'));
    let fx = a.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Scope(Scope {
            bdev: "Nvme1n1".into(),
            nqn: NQN2.into(),
        })]
    );
    assert!(a.picker.is_none());
    assert_eq!((a.bdev.as_str(), a.nqn.as_str()), ("Nvme1n1", NQN2));
    // The sampler's next snapshot: Nvme1n1's one path.
    let mut s = (*a.snap).clone();
    let mut p = s.paths[0].clone();
    (p.bdev, p.ctrlr, p.nqn) = ("Nvme1n1".into(), "Nvme1".into(), NQN2.into());
    p.traddr = "127.0.0.20".into();
    s.paths = vec![p];
    s.bdev = "Nvme1n1".into();
    s.seq += 1;
    a.update(UiEvent::Snapshot(Arc::new(s)));
    assert_eq!(listener_addrs(&a), ["127.0.0.20:4420"]);
    assert_eq!(selected_listener(&a), "127.0.0.20:4420");
    let conns: Vec<String> = a
        .view_rows(Pane::Conns)
        .iter()
        .map(|&i| a.snap.conns.rows[i].peer.clone())
        .collect();
    assert_eq!(conns, ["127.0.0.20:4420"], "of {conns_all} sockets");
    let screen = text(&render_to_buffer(&a.snap, &a, 160, 48));
    let header: String = screen.lines().take(3).collect();
    assert!(header.contains("bdev Nvme1n1 · cnode1"), "{header}");
    let l = pane_text(&a, Pane::Listeners);
    assert!(
        l.contains("127.0.0.20:4420") && !l.contains("127.0.0.1:4420"),
        "{l}"
    );
    // The picker reopens on the scope just picked; Esc closes it.
    a.update(key('v'));
    assert_eq!(a.picker.as_ref().map(|p| p.sel), Some(2));
    a.update(code(KeyCode::Esc));
    assert!(a.picker.is_none());

    // Enter on a subsystem in the Subsystems pane scopes to it too.
    a.focus = Pane::Subsystems;
    a.update(key('g'));
    let fx = a.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Scope(Scope {
            bdev: "Nvme0n1".into(),
            nqn: NQN1.into(),
        })]
    );
    assert_eq!(a.rows(Pane::Listeners), 10);
    // Elsewhere Enter does nothing.
    a.focus = Pane::Listeners;
    assert!(a.update(code(KeyCode::Enter)).is_empty());
}

#[test]
fn a_subsystem_no_bdev_reaches_scopes_to_no_paths() {
    let mut s = fixture::fabric(0, 2);
    s.ini_ctrlrs.retain(|c| c.subnqn != NQN2);
    let mut a = app_on(s, 160, 48);
    let fx = a.set_scope(Some(NQN2.into()), None);
    assert_eq!(
        fx,
        vec![Effect::Scope(Scope {
            bdev: String::new(),
            nqn: NQN2.into(),
        })]
    );
    let st = a
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(st.contains("no bdev of this initiator reaches it"), "{st}");
    // The sampler answers with no paths for an empty bdev.
    let mut s = (*a.snap).clone();
    s.bdev.clear();
    s.paths.clear();
    s.seq += 1;
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let p = pane_text(&a, Pane::Paths);
    assert!(p.contains("no bdev of this initiator reaches"), "{p}");
}

#[test]
fn nqn_column_with_two_subsystems_at_120_and_200_columns() {
    for (w, h) in [(120, 40), (200, 60)] {
        let a = app_on(fixture::fabric(0, 2), w, h);
        let l = pane_text(&a, Pane::Listeners);
        let rows: Vec<&str> = l.lines().filter(|r| r.contains("127.0.0.")).collect();
        assert_eq!(rows.len(), 3, "{w}x{h}:\n{l}");
        assert!(l.contains("NQN"), "{w}x{h}: no NQN heading:\n{l}");
        for r in &rows {
            let want = if r.contains("127.0.0.20") {
                "cnode1"
            } else {
                "cnode0"
            };
            assert!(r.contains(want), "{w}x{h}: {r}");
        }
        if w >= 200 {
            assert!(l.contains(NQN2), "{w}x{h}: the whole NQN fits:\n{l}");
        }
    }
}

#[test]
fn wider_terminals_never_show_fewer_listener_columns() {
    let a0 = app_on(fixture::fabric(0, 2), 120, 40);
    let mut prev: Vec<&str> = vec![];
    let mut prev_w = 0;
    for w in (100..=280).step_by(2) {
        let mut a = app_on((*a0.snap).clone(), w, 50);
        a.update(UiEvent::Resize(w, 50));
        let r = layout::compute(w, 50, &a).get(Pane::Listeners).unwrap();
        let cols = panes::listeners::column_titles(&a.snap, &a, r.width - 2);
        for c in &prev {
            assert!(
                cols.contains(c),
                "{c} shown at {prev_w} columns, not at {w}: {cols:?}"
            );
        }
        assert!(cols.contains(&"NQN"), "{w}: {cols:?}");
        prev = cols;
        prev_w = w;
    }
}

#[test]
fn z_zooms_the_focused_pane_and_z_or_esc_restores() {
    let mut a = app_on(fixture::fabric(8, 2), 120, 40);
    let full = layout::compute(120, 40, &a);
    assert_eq!(full.panes.len(), 6);
    a.update(key('z'));
    let z = layout::compute(120, 40, &a);
    assert_eq!(z.panes.len(), 1);
    let (p, r) = z.panes[0];
    assert_eq!(p, Pane::Listeners);
    assert_eq!(
        (r.y, r.height, r.width),
        (z.header.bottom(), z.footer.y - z.header.bottom(), 120)
    );
    // All eleven listeners fit, no overflow marker.
    let l = pane_text(&a, Pane::Listeners);
    assert_eq!(l.matches("127.0.0.").count(), 11, "{l}");
    assert!(!l.contains("more"), "{l}");
    // Tab moves the zoom with the focus.
    a.update(code(KeyCode::Tab));
    assert_eq!(layout::compute(120, 40, &a).panes[0].0, Pane::Paths);
    a.update(key('z'));
    assert_eq!(layout::compute(120, 40, &a).panes.len(), 6);
    a.update(key('z'));
    a.update(code(KeyCode::Esc));
    assert_eq!(layout::compute(120, 40, &a).panes.len(), 6);
}

#[test]
fn overflow_marker_counts_the_rows_cut() {
    let mut a = app_on(fixture::fabric(8, 2), 120, 40);
    let r = layout::compute(120, 40, &a).get(Pane::Listeners).unwrap();
    // Border, header row, border.
    let visible = usize::from(r.height - 3);
    assert!(visible < 11, "the pane shows every row: {r:?}");
    let l = pane_text(&a, Pane::Listeners);
    let bottom = l.lines().last().unwrap().to_string();
    assert!(
        bottom.contains(&format!("↓ {} more", 11 - visible)),
        "{bottom}"
    );
    assert!(!bottom.contains('↑'), "{bottom}");
    // At the last row: the rows above are counted, none below.
    a.update(key('G'));
    let l = pane_text(&a, Pane::Listeners);
    let bottom = l.lines().last().unwrap().to_string();
    assert!(bottom.contains(&format!("↑ {}", 11 - visible)), "{bottom}");
    assert!(!bottom.contains('↓'), "{bottom}");
    // The I/O paths table too.
    let mut a = app_on(fixture::fabric(0, 8), 80, 24);
    let r = layout::compute(80, 24, &a).get(Pane::Paths).unwrap();
    let visible = usize::from(r.height - 3);
    let p = pane_text(&a, Pane::Paths);
    assert!(
        p.lines()
            .last()
            .unwrap()
            .contains(&format!("↓ {} more", 8 - visible)),
        "{p}"
    );
    a.focus = Pane::Paths;
    a.update(key('G'));
    assert!(pane_text(&a, Pane::Paths)
        .lines()
        .last()
        .unwrap()
        .contains(&format!("↑ {}", 8 - visible)));
}

#[test]
fn slash_finds_one_listener_among_ten() {
    let mut a = app_on(fixture::fabric(8, 2), 160, 48);
    a.set_scope(Some(NQN1.into()), Some("Nvme0n1".into()));
    assert_eq!(a.rows(Pane::Listeners), 10);
    a.update(key('G'));
    assert_eq!(selected_listener(&a), "127.0.0.10:4420");
    a.update(key('/'));
    typed(&mut a, "127.0.0.7");
    assert_eq!(listener_addrs(&a), ["127.0.0.7:4420"]);
    assert_eq!(selected_listener(&a), "127.0.0.7:4420");
    let l = pane_text(&a, Pane::Listeners);
    assert!(l.contains("Listeners /127.0.0.7▏ (1 of 10)"), "{l}");
    // Keys go to the filter while it is typed: `n` sets no ANA state.
    // Enter keeps the filter; a key then acts on the one row left.
    a.update(code(KeyCode::Enter));
    assert!(a.views.editing.is_none());
    let l = pane_text(&a, Pane::Listeners);
    assert!(l.contains("Listeners /127.0.0.7 (1 of 10)"), "{l}");
    let fx = a.update(key('n'));
    let Effect::Call(c) = &fx[0] else {
        panic!("{fx:?}")
    };
    let params = c.params.as_ref().unwrap();
    assert_eq!(params["listen_address"]["traddr"], "127.0.0.7");
    // Case-insensitive, over the row's text: the ANA state matches too.
    a.update(key('/'));
    for _ in 0..9 {
        a.update(code(KeyCode::Backspace));
    }
    typed(&mut a, "OPTIMIZED");
    assert_eq!(a.rows(Pane::Listeners), 10);
    // Esc clears it; the selection stays on its listener.
    a.update(code(KeyCode::Esc));
    assert!(a.views.get(Pane::Listeners).filter.is_empty());
    a.update(key('/'));
    typed(&mut a, ".0.9:");
    a.update(code(KeyCode::Enter));
    assert_eq!(selected_listener(&a), "127.0.0.9:4420");
    a.update(code(KeyCode::Esc));
    assert_eq!(a.rows(Pane::Listeners), 10);
    assert_eq!(selected_listener(&a), "127.0.0.9:4420");
    // Nothing matches: said so, and no key acts on a hidden row.
    a.update(key('/'));
    typed(&mut a, "no such");
    a.update(code(KeyCode::Enter));
    assert!(pane_text(&a, Pane::Listeners).contains("no listener matches"));
    assert!(a.update(key('n')).is_empty());
}

#[test]
fn s_cycles_the_sort_column_with_an_arrow() {
    let mut a = app_on(fixture::fabric(2, 2), 160, 48);
    let usual = listener_addrs(&a);
    assert_eq!(
        usual,
        [
            "127.0.0.1:4420",
            "127.0.0.2:5520",
            "127.0.0.3:4420",
            "127.0.0.4:4420",
            "127.0.0.20:4420"
        ]
    );
    a.update(key('g'));
    a.update(key('j')); // 127.0.0.2:5520
    let mut seen = Vec::new();
    for _ in 0..4 {
        a.update(key('S'));
        let k = a.views.get(Pane::Listeners).sort_key(Pane::Listeners);
        seen.push(k.map(|k| k.name).unwrap_or("-"));
        // The selection stays on its listener through every order.
        assert_eq!(selected_listener(&a), "127.0.0.2:5520");
        if k.map(|k| k.name) == Some("Transport ID") {
            let l = pane_text(&a, Pane::Listeners);
            assert!(l.contains("Transport ID▲"), "{l}");
        }
        if k.map(|k| k.name) == Some("Qpairs") {
            // Numbers biggest first: the listeners with qpairs, then the
            // rest, each group in the usual order.
            assert_eq!(
                listener_addrs(&a),
                [
                    "127.0.0.1:4420",
                    "127.0.0.2:5520",
                    "127.0.0.20:4420",
                    "127.0.0.3:4420",
                    "127.0.0.4:4420"
                ]
            );
            let l = pane_text(&a, Pane::Listeners);
            assert!(l.contains("Qpairs▼"), "{l}");
        }
    }
    assert_eq!(seen, ["Transport ID", "ANA", "NQN", "Qpairs"]);
    a.update(key('S'));
    assert_eq!(a.views.get(Pane::Listeners).sort, None);
    assert_eq!(listener_addrs(&a), usual);
    // The I/O paths table: the arrow in the widget's header row.
    a.focus = Pane::Paths;
    a.update(key('S'));
    let p = pane_text(&a, Pane::Paths);
    let head = p.lines().nth(1).unwrap_or("");
    assert!(
        head.contains("controller▲") || head.contains("ctrlr▲"),
        "{p}"
    );
    // Panes without columns say so.
    a.focus = Pane::Load;
    a.update(key('S'));
    let st = a
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(st.contains("focus one first"), "{st}");
}

#[test]
fn load_legend_at_eight_paths_names_the_busiest_and_the_selected() {
    let mut a = app_on(fixture::fabric(0, 8), 120, 40);
    // The quietest path (127.0.0.2:5520, 0 cmd/s) selected.
    a.focus = Pane::Paths;
    a.update(key('g'));
    a.update(key('j'));
    assert_eq!(
        a.selected_path().map(|p| p.addr()).as_deref(),
        Some("127.0.0.2:5520")
    );
    let legend = |a: &App, w: u16| {
        let r = Rect::new(0, 0, w, 12);
        let mut b = Buffer::empty(r);
        panes::load::render(&a.snap, a, r, false, &mut b);
        text(&b).lines().next().unwrap_or("").to_string()
    };
    for w in [70, 90, 120] {
        let top = legend(&a, w);
        let named = top.matches('━').count();
        assert!(named >= 2, "{w}: {top}");
        assert!(
            top.contains("127.0.0.2:5520"),
            "{w}: the selected path: {top}"
        );
        // The busiest first: 127.0.0.1 (49k), then .8, .7 (7k, 6k).
        assert!(top.contains("127.0.0.1:4420"), "{w}: {top}");
        let more = top
            .split("+")
            .nth(1)
            .and_then(|t| t.split(" more").next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{w}: no +N more: {top}"));
        let paths_named = top.matches("127.0.0.").count();
        assert_eq!(paths_named + more, 8, "{w}: {top}");
    }
    // Room for all: every path, no "more".
    let wide = legend(&a, 200);
    assert_eq!(wide.matches("127.0.0.").count(), 8, "{wide}");
    assert!(!wide.contains("more"), "{wide}");
}

/// The sampler's half of a scope change: the old bdev's paths, their
/// histories and its policy are gone from the next snapshot (not shown
/// under the new bdev, not taken for a path switch), and the initiator's
/// controllers are listed for the picker.
#[test]
fn the_sampler_follows_a_new_scope() {
    use mpath_console::ui::sampler::{RawPoll, SamplerOpts, State};
    use mpath_console::ui::snapshot::{IniCtrlr, LogKind};
    use serde_json::json;
    use std::time::{Duration, Instant};

    let opts = SamplerOpts {
        refresh: Duration::from_millis(100),
        bdev: "Nvme0n1".into(),
        nqn: NQN1.into(),
    };
    let mut st = State::new(&opts, "embedded");
    let t0 = Instant::now();
    let poll = |k: u64, bdev: Option<&str>| {
        let mut r = RawPoll::new(t0 + Duration::from_secs(k), 1_764_000_000.0 + k as f64);
        r.ini_ctrlrs = Some(Ok(json!([
            {"name": "Nvme0", "ctrlrs": [{"cntlid": 1, "trid": {"trtype": "TCP", "traddr": "127.0.0.1", "trsvcid": "4420", "subnqn": NQN1}}]},
            {"name": "Nvme1", "ctrlrs": [{"cntlid": 1, "trid": {"trtype": "TCP", "traddr": "127.0.0.20", "trsvcid": "4420", "subnqn": NQN2}}]}
        ])));
        if let Some(b) = bdev {
            let (ip, nqn) = if b == "Nvme0n1" {
                ("127.0.0.1", NQN1)
            } else {
                ("127.0.0.20", NQN2)
            };
            r.io_paths = Some(Ok(json!({"poll_groups": [{"thread": "t", "io_paths": [
                {"bdev_name": b, "cntlid": 1, "current": true, "connected": true, "accessible": true,
                 "transport": {"trtype": "TCP", "traddr": ip, "trsvcid": "4420", "adrfam": "IPv4", "subnqn": nqn},
                 "ana_state": "optimized", "completed_ios": 1000 * k, "bytes": 4_096_000 * k}
            ]}]})));
            r.ini_bdev = Some(Ok(
                json!([{"name": b, "driver_specific": {"mp_policy": "active_passive"}}]),
            ));
        }
        r
    };
    let ingest = |st: &mut State, r| st.ingest_with(r, "t", "i", true, true);
    for k in 0..3 {
        ingest(&mut st, poll(k, Some("Nvme0n1")));
    }
    let s = ingest(&mut st, poll(3, Some("Nvme0n1")));
    assert_eq!(s.paths.len(), 1);
    assert_eq!(s.history.per_path.len(), 1);
    assert_eq!(
        s.ini_ctrlrs,
        [
            IniCtrlr {
                name: "Nvme0".into(),
                subnqn: NQN1.into()
            },
            IniCtrlr {
                name: "Nvme1".into(),
                subnqn: NQN2.into()
            }
        ]
    );
    let events = s.events.len();

    st.set_scope(&Scope {
        bdev: "Nvme1n1".into(),
        nqn: NQN2.into(),
    });
    // The poll between: the new bdev not answered yet.
    let s = ingest(&mut st, poll(4, None));
    assert_eq!((s.bdev.as_str(), s.nqn.as_str()), ("Nvme1n1", NQN2));
    assert!(s.paths.is_empty(), "{:?}", s.paths);
    assert!(s.policy.is_none());
    let s = ingest(&mut st, poll(5, Some("Nvme1n1")));
    let p: Vec<(String, String)> = s
        .paths
        .iter()
        .map(|p| (p.ctrlr.clone(), p.addr()))
        .collect();
    assert_eq!(p, [("Nvme1".to_string(), "127.0.0.20:4420".to_string())]);
    let labels: Vec<&str> = s.history.per_path.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["127.0.0.20:4420"]);
    assert!(
        !s.events[events..]
            .iter()
            .any(|e| e.kind == LogKind::Info && e.text.contains("current path")),
        "a new scope is not a path switch: {:?}",
        &s.events[events..]
    );
}

/// The picker, a zoomed pane, a filter being typed and a sort: drawn at
/// every size from 1×1 up, none panics.
#[test]
fn no_size_panics_with_picker_zoom_filter_and_sort() {
    let mut a = app_on(fixture::fabric(8, 8), 120, 40);
    a.update(key('S'));
    a.update(key('z'));
    a.update(key('/'));
    typed(&mut a, "4420");
    let mut b = app_on(fixture::fabric(8, 8), 120, 40);
    b.update(key('v'));
    for w in (1..=130).step_by(7) {
        for h in (1..=50).step_by(3) {
            for x in [&a, &b] {
                let _ = render_to_buffer(&x.snap, x, w, h);
            }
        }
    }
    // The picker's cursor never leaves its list.
    for _ in 0..10 {
        b.update(key('j'));
    }
    assert_eq!(b.picker.as_ref().map(|p| p.sel), Some(2));
}

/// The Subsystems pane counts subsystems, not lines, in its marker.
#[test]
fn subsystems_overflow_counts_subsystems() {
    let mut a = app_on(fixture::fabric(0, 2), 80, 24);
    let p = pane_text(&a, Pane::Subsystems);
    let bottom = p.lines().last().unwrap().to_string();
    assert!(bottom.contains("↓ 1 more"), "{p}");
    a.focus = Pane::Subsystems;
    a.update(key('j'));
    let p = pane_text(&a, Pane::Subsystems);
    assert!(p.contains(NQN2), "{p}");
    let bottom = p.lines().last().unwrap().to_string();
    assert!(bottom.contains("↑ 1") && !bottom.contains('↓'), "{p}");
}
