//! Snapshots of every pane and of the whole screen, from the fixture (a
//! deterministic `Snapshot`, no clock, no engines).
//!
//! Themes: the text of a frame does not depend on the theme (asserted
//! below for every size), so text snapshots are taken once, with the dark
//! theme; the styles are snapshotted per theme at 120×40 as a compact
//! style dump (one line per run of equal style), which is what a theme
//! changes.
//!
//! Times in the Events pane are local wall-clock times, so they are
//! redacted (the machine's time zone must not change a snapshot).

use std::sync::Arc;

use mpath_console::ui::app::{Overlay, Pane, UiEvent};
use mpath_console::ui::panes;
use mpath_console::ui::snapshot::{Metric, Side, Snapshot};
use mpath_console::ui::theme::Theme;
use mpath_console::ui::{fixture, render_to_buffer, App};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

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

fn style_name(s: Style) -> String {
    let c = |c: Option<Color>| c.map_or("-".to_string(), |c| format!("{c:?}"));
    let mut out = format!("{}/{}", c(s.fg), c(s.bg));
    let m = s.add_modifier - s.sub_modifier;
    if !m.is_empty() {
        let names: Vec<String> = m.iter_names().map(|(n, _)| n.to_lowercase()).collect();
        out += &format!("+{}", names.join("+"));
    }
    out
}

/// `y: x0-x1 fg/bg+mods` for each run of cells with the same non-default
/// style.
fn styles(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < b.area.width {
            let st = b[(x, y)].style();
            let x0 = x;
            while x < b.area.width && b[(x, y)].style() == st {
                x += 1;
            }
            if st != Style::default() && st != Style::reset() {
                runs.push(format!("{x0}-{} {}", x - 1, style_name(st)));
            }
        }
        if !runs.is_empty() {
            s += &format!("{y:>3}: {}\n", runs.join(", "));
        }
    }
    s
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d\d:\d\d:\d\d\.\d\d\d", "hh:mm:ss.mmm");
    s.add_filter(r"\b\d\d:\d\d:\d\d\b", "hh:mm:ss");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn app(theme: Theme) -> App {
    fixture::app(theme)
}

fn screen(a: &App, w: u16, h: u16) -> Buffer {
    let mut a2 = fixture::app(a.theme.clone());
    a2.focus = a.focus;
    a2.update(UiEvent::Resize(w, h));
    render_to_buffer(&a.snap, a, w, h)
}

#[test]
fn whole_screen_at_three_sizes() {
    let _g = settings().bind_to_scope();
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let a = app(Theme::dark());
        let b = screen(&a, w, h);
        insta::assert_snapshot!(format!("screen_{w}x{h}"), text(&b));
        // The text is the same in every theme.
        for t in [Theme::light(), Theme::mono()] {
            let o = app(t);
            assert_eq!(
                text(&screen(&o, w, h)),
                text(&b),
                "{w}x{h} {}",
                o.theme.name
            );
        }
    }
}

#[test]
fn styles_in_every_theme() {
    let _g = settings().bind_to_scope();
    for t in [Theme::dark(), Theme::light(), Theme::mono()] {
        let name = t.name.clone();
        let a = app(t);
        let b = screen(&a, 120, 40);
        insta::assert_snapshot!(format!("styles_120x40_{name}"), styles(&b));
        if name == "mono" {
            for y in 0..40 {
                for x in 0..120 {
                    let st = b[(x, y)].style();
                    assert!(
                        matches!(st.fg, None | Some(Color::Reset))
                            && matches!(st.bg, None | Some(Color::Reset)),
                        "mono uses no colour: {x},{y} {st:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn each_pane_alone() {
    let _g = settings().bind_to_scope();
    let a = app(Theme::dark());
    let s = &a.snap;
    let render = |name: &str, r: Rect, f: &dyn Fn(Rect, &mut Buffer)| {
        let mut b = Buffer::empty(r);
        f(r, &mut b);
        insta::assert_snapshot!(format!("pane_{name}"), text(&b));
    };
    let r = Rect::new(0, 0, 110, 12);
    render("header", Rect::new(0, 0, 110, 3), &|r, b| {
        panes::header::render(s, &a, r, b)
    });
    render("subsystems", Rect::new(0, 0, 50, 8), &|r, b| {
        panes::subsystems::render(s, &a, r, false, b)
    });
    render("listeners", Rect::new(0, 0, 80, 5), &|r, b| {
        panes::listeners::render(s, &a, r, true, b)
    });
    render("paths", Rect::new(0, 0, 110, 6), &|r, b| {
        panes::paths::render(s, &a, r, false, b)
    });
    render("conns", r, &|r, b| panes::conns::render(s, &a, r, false, b));
    render("load", Rect::new(0, 0, 60, 12), &|r, b| {
        panes::load::render(s, &a, r, false, b)
    });
    render("load_short", Rect::new(0, 0, 60, 5), &|r, b| {
        panes::load::render(s, &a, r, false, b)
    });
    render("load_tall", Rect::new(0, 0, 70, 30), &|r, b| {
        panes::load::render(s, &a, r, false, b)
    });
    render("events", Rect::new(0, 0, 90, 8), &|r, b| {
        panes::events::render(s, &a, r, false, b)
    });
    render("footer", Rect::new(0, 0, 110, 1), &|r, b| {
        panes::footer::render(s, &a, r, r, b);
    });
}

#[test]
fn overlays_and_command_line() {
    let _g = settings().bind_to_scope();
    let mut a = app(Theme::dark());
    a.overlay = Overlay::Help { scroll: 0 };
    insta::assert_snapshot!("overlay_help", text(&screen(&a, 120, 40)));
    // The load form, as Space opens it on an idle initiator that knows no
    // workload yet (`serve` without bdevperf options): the HOWTO's values,
    // the command Enter sends.
    let mut idle = (*a.snap).clone();
    idle.load.running = Some(false);
    idle.load.workload = None;
    idle.load.queue_depth = None;
    idle.load.io_size = None;
    idle.seq += 1;
    a.update(UiEvent::Snapshot(Arc::new(idle)));
    a.overlay = Overlay::None;
    a.update(UiEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(' '),
        crossterm::event::KeyModifiers::NONE,
    )));
    assert!(matches!(a.overlay, Overlay::Load(_)), "{:?}", a.overlay);
    insta::assert_snapshot!("overlay_load_form", text(&screen(&a, 80, 24)));
    // randrw on the -M row, with a value out of range: the form says why.
    for k in [
        crossterm::event::KeyCode::Char('7'),
        crossterm::event::KeyCode::Up,
        crossterm::event::KeyCode::Char('9'),
        crossterm::event::KeyCode::Enter,
    ] {
        a.update(UiEvent::Key(crossterm::event::KeyEvent::new(
            k,
            crossterm::event::KeyModifiers::NONE,
        )));
    }
    insta::assert_snapshot!("overlay_load_form_error", text(&screen(&a, 80, 24)));
    a.snap = Arc::new(fixture::snapshot());
    a.overlay = Overlay::Result {
        title: "nvmf_get_subsystems (2 ms)".into(),
        lines: serde_json::to_string_pretty(
            &serde_json::json!([{"nqn": "nqn.2022-02.io.spdk:cnode0", "subtype": "NVMe"}]),
        )
        .unwrap()
        .lines()
        .map(String::from)
        .collect(),
        error: false,
        scroll: 0,
    };
    insta::assert_snapshot!("overlay_result", text(&screen(&a, 80, 24)));
    a.overlay = Overlay::None;
    // `:` with a completion menu open.
    let key = |c| {
        UiEvent::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    a.update(key(':'));
    for c in "nvmf_subsystem_".chars() {
        a.update(key(c));
    }
    a.update(UiEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Tab,
        crossterm::event::KeyModifiers::NONE,
    )));
    insta::assert_snapshot!("cmdline_completion", text(&screen(&a, 100, 30)));
    // Enter on an unknown method: an error, nothing sent, the line stays.
    a.update(UiEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    )));
    assert!(a.cmd.as_ref().unwrap().msg_is_error);
    for c in "listener_set_ana_state nqn -t tcp".chars() {
        a.update(key(c));
    }
    a.update(UiEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    )));
    let cmd = a.cmd.as_ref().expect("the line stays open");
    assert!(cmd.msg_is_error && cmd.msg.as_deref().unwrap().contains("required"));
    assert!(a.log.is_empty(), "nothing was sent");
    insta::assert_snapshot!("cmdline_error", text(&screen(&a, 100, 30)));
}

/// Attached applications whose sockets nobody reports: each side says so
/// in the Connections pane, in plain words, above the rows that are known.
#[test]
fn unknown_sockets_are_said_plainly() {
    let mut s: Snapshot = fixture::snapshot();
    s.conns.rows.retain(|r| r.side == Side::Host);
    s.conns.unknown = vec!["target sockets unknown: no agent".into()];
    let mut a = app(Theme::dark());
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let t = text(&render_to_buffer(&a.snap, &a, 160, 48));
    let conns: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.contains("Connections"))
        .take(4)
        .collect();
    assert!(
        conns
            .iter()
            .any(|l| l.contains("target sockets unknown: no agent")),
        "{t}"
    );
    assert!(t.contains(" host "), "the known side's rows stay: {t}");
}

#[test]
fn stale_and_unavailable_data_is_labelled() {
    let _g = settings().bind_to_scope();
    let mut s: Snapshot = fixture::snapshot();
    s.target.error = Some("/var/tmp/spdk.sock: Connection refused (os error 111)".into());
    for p in &mut s.paths {
        p.iops = Metric::Unavailable("no per-path counters on this backend".into());
        p.mibps = Metric::Unavailable("no per-path counters on this backend".into());
    }
    s.conns.error = Some("sock_diag: Operation not permitted".into());
    let mut a = app(Theme::dark());
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let b = render_to_buffer(&a.snap, &a, 120, 40);
    let t = text(&b);
    assert!(
        t.contains("Listeners stale: /var/tmp/spdk.sock: Connectio"),
        "{t}"
    );
    assert!(
        t.contains("cmd/s n/a: no per-path counters on this backend"),
        "{t}"
    );
    assert!(
        t.contains("kernel view unavailable: sock_diag: Operation not permitted"),
        "{t}"
    );
    insta::assert_snapshot!("screen_stale_120x40", t);
    // Stale panes are greyed (italic dim style over the last good data).
    let r = mpath_console::ui::layout::compute(120, 40, &a)
        .get(Pane::Listeners)
        .unwrap();
    let cell = &b[(r.x + 4, r.y + 2)];
    assert!(
        cell.style().add_modifier.contains(Modifier::ITALIC),
        "{:?}",
        cell.style()
    );
}

#[test]
fn too_small_says_so_and_no_size_panics() {
    let _g = settings().bind_to_scope();
    let a = app(Theme::dark());
    let b = render_to_buffer(&a.snap, &a, 20, 6);
    insta::assert_snapshot!("too_small_20x6", text(&b));
    assert!(text(&b).contains("too small"));
    let mut with_overlays = app(Theme::dark());
    with_overlays.overlay = Overlay::Help { scroll: 3 };
    for w in (0..=250).step_by(7) {
        for h in (0..=70).step_by(5) {
            let _ = render_to_buffer(&a.snap, &a, w, h);
            let _ = render_to_buffer(&with_overlays.snap, &with_overlays, w, h);
        }
    }
    // An empty snapshot (nothing answered yet) renders at every size too.
    let mut e = App::new("Nvme0n1", "nqn", Theme::dark(), Default::default());
    e.update(UiEvent::Snapshot(Arc::new(Snapshot::default())));
    for (w, h) in [(80, 24), (120, 40), (250, 70)] {
        let t = text(&render_to_buffer(&e.snap, &e, w, h));
        assert!(
            t.contains("no target attached") || t.contains("no listeners"),
            "{t}"
        );
    }
}

#[test]
fn walkthrough_panel_and_banner() {
    let _g = settings().bind_to_scope();
    let mut a = app(Theme::dark());
    a.walkthrough = true;
    a.update(UiEvent::Snapshot(a.snap.clone()));
    insta::assert_snapshot!(
        "walkthrough_160x40",
        text(&render_to_buffer(&a.snap, &a, 160, 40))
    );
    insta::assert_snapshot!(
        "walkthrough_80x24",
        text(&render_to_buffer(&a.snap, &a, 80, 24))
    );
}

/// The result overlay's scroll position sits on its bottom border; it must
/// stand out from that border and from the popup's background in every
/// theme (in the dark theme a dim style was dark grey on dark grey).
#[test]
fn result_scroll_indicator_is_visible_in_every_theme() {
    for t in [Theme::dark(), Theme::light(), Theme::mono()] {
        let name = t.name.clone();
        let mut a = app(t);
        a.overlay = Overlay::Result {
            title: "bdev_nvme_get_io_paths (1 ms)".into(),
            lines: (0..60).map(|i| format!("line {i}")).collect(),
            error: false,
            scroll: 3,
        };
        let b = screen(&a, 80, 24);
        let txt = text(&b);
        let (y, line) = txt
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("3/"))
            .unwrap_or_else(|| panic!("{name}: no scroll position\n{txt}"));
        let col = line[..line.find("3/").unwrap()].chars().count() as u16;
        let y = y as u16;
        let mark = b[(col, y)].style();
        let want = a.theme.scroll;
        let reset = |c: Option<Color>| c.unwrap_or(Color::Reset);
        assert_eq!(
            (reset(mark.fg), reset(mark.bg), mark.add_modifier),
            (reset(want.fg), reset(want.bg), want.add_modifier),
            "{name}"
        );
        // Its neighbour on the border is the border; the popup's inside
        // is one row up.
        let border = b[(col - 4, y)].style();
        let inside = b[(col, y - 1)].style();
        let shown = |s: Style| {
            let rev = s.add_modifier.contains(Modifier::REVERSED);
            let (fg, bg) = (s.fg.unwrap_or(Color::Reset), s.bg.unwrap_or(Color::Reset));
            if rev {
                (bg, fg, s.add_modifier)
            } else {
                (fg, bg, s.add_modifier)
            }
        };
        let (mf, mb, mods) = shown(mark);
        if name == "mono" {
            // The terminal's own colours, swapped.
            assert!(mods.contains(Modifier::REVERSED), "{mark:?}");
        } else {
            assert_ne!(mf, mb, "{name}: text and background alike: {mark:?}");
        }
        assert_ne!(shown(mark), shown(border), "{name}: like the border");
        assert_ne!(shown(mark), shown(inside), "{name}: like the popup");
        if name != "mono" {
            assert_ne!(mb, shown(inside).1, "{name}: on the popup's background");
        }
    }
}

/// A selected row is highlighted across, dimmed cells included (the
/// Listeners pane draws "TCP" and the NQN dim).
#[test]
fn selected_row_covers_dimmed_cells() {
    for t in [Theme::dark(), Theme::light()] {
        let name = t.name.clone();
        let a = app(t);
        let r = Rect::new(0, 0, 90, 5);
        let mut b = Buffer::empty(r);
        panes::listeners::render(&a.snap, &a, r, true, &mut b);
        // Row 0 of the table (y 2) is selected and focused.
        let dim = a.theme.muted.fg;
        let mut seen_dim_text = false;
        for x in 1..89 {
            let c = &b[(x, 2)];
            assert!(
                c.modifier.contains(Modifier::REVERSED),
                "{name} x {x}: {c:?}"
            );
            assert_ne!(Some(c.fg), dim, "{name} x {x}: a dim patch: {c:?}");
            // Dim in the row below (not selected).
            seen_dim_text |= Some(b[(x, 3)].fg) == dim;
        }
        assert!(seen_dim_text, "{name}: the other rows keep their dim text");
    }
}

/// At 160×48 (the screenshots' size) Connections gets what its rows need
/// and no more; Load and Events get the rest.
#[test]
fn connections_get_what_their_rows_need() {
    use mpath_console::ui::layout;
    let a = app(Theme::dark());
    for (w, h) in [(160, 48), (120, 40), (160, 60)] {
        let l = layout::compute(w, h, &a);
        let conns = l.get(Pane::Conns).unwrap();
        let rows = a.snap.conns.rows.len() as u16;
        // Borders, the header row, the rows, one line for a note.
        assert_eq!(conns.height, rows + 4, "{w}x{h}");
        let load = l.get(Pane::Load).unwrap();
        let events = l.get(Pane::Events).unwrap();
        assert_eq!(load.height, events.height);
        assert!(load.height >= conns.height, "{w}x{h}: {load:?} {conns:?}");
        // Subsystems shows its whole block: NQN, namespace, flags, SN/MN.
        let sub = l.get(Pane::Subsystems).unwrap();
        assert_eq!(sub.height, 4 + 2, "{w}x{h}");
    }
    // Many connections: the table takes what is left above the minimum
    // of Load and Events, and scrolls.
    let mut s: Snapshot = fixture::snapshot();
    let more = s.conns.rows.clone();
    for _ in 0..4 {
        s.conns.rows.extend(more.iter().cloned());
    }
    let mut a = app(Theme::dark());
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let l = layout::compute(160, 48, &a);
    let conns = l.get(Pane::Conns).unwrap();
    let load = l.get(Pane::Load).unwrap();
    assert!(
        conns.height < 40 + 4 && load.height >= 11,
        "{conns:?} {load:?}"
    );
}

/// Events wrap at word boundaries, continuation rows under the text.
#[test]
fn events_wrap_on_words() {
    let _g = settings().bind_to_scope();
    let a = app(Theme::dark());
    for w in [50u16, 72, 90] {
        let r = Rect::new(0, 0, w, 14);
        let mut b = Buffer::empty(r);
        panes::events::render(&a.snap, &a, r, false, &mut b);
        let t = text(&b);
        let rows: Vec<&str> = t
            .lines()
            .skip(1)
            .map(|l| l.trim_start_matches('│').trim_end_matches('│'))
            .filter(|l| !l.starts_with('╰'))
            .collect();
        // Every word of every event is whole on some row.
        let words: Vec<String> = a
            .snap
            .events
            .iter()
            .flat_map(|e| e.text.split(' ').map(String::from).collect::<Vec<_>>())
            .collect();
        let shown: Vec<&str> = rows.iter().flat_map(|r| r.split_whitespace()).collect();
        for word in &words {
            assert!(shown.contains(&word.as_str()), "{w}: {word:?} cut\n{t}");
        }
        // Continuation rows line up under the text after "time mark ".
        let indent = if w < 60 { 11 } else { 15 };
        for r in &rows {
            if r.starts_with(' ') && !r.trim().is_empty() {
                assert_eq!(r.len() - r.trim_start().len(), indent, "{w}: {r:?}\n{t}");
            }
        }
    }
}

/// `serve` with no bdevperf options has no load to pause: the header says
/// so instead of "paused qd0 0B"; latency is avg and p99, never max.
#[test]
fn header_without_a_configured_load() {
    use mpath_console::ui::snapshot::Load;
    let mut s: Snapshot = fixture::snapshot();
    s.load = Load {
        running: Some(false),
        workload: None,
        queue_depth: None,
        io_size: None,
        iops: Metric::Value(0.0),
        mibps: Metric::Value(0.0),
        avg_lat_us: Metric::Unavailable("load paused".into()),
        p99_lat_us: Metric::Unavailable("load paused".into()),
        max_lat_us: Metric::Value(21_004.0),
        ..s.load.clone()
    };
    let mut a = app(Theme::dark());
    a.update(UiEvent::Snapshot(Arc::new(s.clone())));
    let r = Rect::new(0, 0, 160, 3);
    let mut b = Buffer::empty(r);
    panes::header::render(&a.snap, &a, r, &mut b);
    let t = text(&b);
    assert!(t.contains("○ no load"), "{t}");
    assert!(
        !t.contains("paused") && !t.contains("qd0") && !t.contains(" 0B"),
        "{t}"
    );
    assert!(t.contains("p99 n/a") && !t.contains("max"), "{t}");
    // Configured but stopped: paused, with what would run.
    s.load.workload = Some("randread".into());
    s.load.queue_depth = Some(32);
    s.load.io_size = Some(4096);
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let mut b = Buffer::empty(r);
    panes::header::render(&a.snap, &a, r, &mut b);
    let t = text(&b);
    assert!(t.contains("‖ paused randread qd32 4KiB"), "{t}");
    // Only verify counts write+read pairs.
    assert!(!t.contains("pairs"), "{t}");
}

/// The reservation the initiator read shows under its namespace in
/// Subsystems: type, holder (this host named as such), registrants with
/// their keys, the holder starred.
#[test]
fn subsystems_show_the_reservation_and_its_registrants() {
    use mpath_console::host::cmd::{Registrant, ReservationStatus};
    use mpath_console::ui::resv::NsReservation;
    let mut a = fixture::app(Theme::dark());
    let me = [0x0a; 16];
    let other = [0xb0; 16];
    let mut s = (*a.snap).clone();
    s.reservation = Some(NsReservation {
        ctrlr: "Nvme0".into(),
        nsid: 1,
        this_host: Some(me),
        report: Ok(ReservationStatus {
            generation: 2,
            rtype: 1,
            registrants_total: 2,
            ptpl: false,
            registrants: vec![
                Registrant {
                    cntlid: 0xFFFF,
                    holds: true,
                    rkey: 0xa1,
                    hostid: me,
                },
                Registrant {
                    cntlid: 0xFFFF,
                    holds: false,
                    rkey: 0xb1,
                    hostid: other,
                },
            ],
        }),
    });
    s.seq += 1;
    a.update(UiEvent::Snapshot(Arc::new(s)));
    let b = render_to_buffer(&a.snap, &a, 160, 48);
    let t = text(&b);
    assert!(
        t.contains("ns1 resv write_exclusive  holder this host  2 reg  gen 2"),
        "{t}"
    );
    assert!(t.contains("★ this host key 0xa1"), "{t}");
    assert!(t.contains("b0b0b0b0… key 0xb1"), "{t}");
}

/// Events scrolled to the oldest (`g`): the oldest entry on the top row
/// and the pane full, not one line over blank rows; `G` back to the
/// newest at the bottom.
#[test]
fn events_from_the_oldest_fill_the_pane() {
    let _g = settings().bind_to_scope();
    let mut a = app(Theme::dark());
    let mut only_ours = (*a.snap).clone();
    only_ours.events.clear();
    a.snap = Arc::new(only_ours);
    a.log.clear();
    for i in 0..30 {
        a.log.push(mpath_console::ui::snapshot::LogEntry {
            at: 1.0 + f64::from(i),
            kind: mpath_console::ui::snapshot::LogKind::Info,
            text: format!("entry {i}"),
        });
    }
    let s = a.snap.clone();
    let draw = |a: &App| {
        let mut b = Buffer::empty(Rect::new(0, 0, 90, 8));
        panes::events::render(&s, a, b.area, true, &mut b);
        text(&b)
    };
    a.events_top = Some(0);
    let top = draw(&a);
    let rows: Vec<&str> = top.lines().skip(1).take(6).collect();
    assert!(rows[0].contains("entry 0"), "{top}");
    assert!(rows.iter().all(|r| r.contains("entry")), "{top}");
    insta::assert_snapshot!("events_oldest_at_top", top);
    a.events_top = None;
    let newest = draw(&a);
    assert!(
        newest.lines().nth(6).unwrap().contains("entry 29"),
        "{newest}"
    );
}

/// The load form and a tall result at every size from 1×1 up: drawn
/// clipped, never a panic.
#[test]
fn load_form_and_result_at_any_size() {
    let mut a = app(Theme::dark());
    a.open_load_form();
    let form = a.overlay.clone();
    let result = Overlay::Result {
        title: "bdev_get_bdevs (1 ms)".into(),
        lines: (0..300)
            .map(|i| format!("line {i} {}", "x".repeat(i % 150)))
            .collect(),
        error: false,
        scroll: 250,
    };
    for o in [form, result] {
        a.overlay = o;
        for w in (1..=200).step_by(7) {
            for h in (1..=60).step_by(3) {
                a.update(UiEvent::Resize(w, h));
                render_to_buffer(&a.snap, &a, w, h);
            }
        }
    }
}
