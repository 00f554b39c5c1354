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
use mpath_console::ui::snapshot::{Metric, Snapshot};
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
    a.overlay = Overlay::Workload { sel: 2 };
    insta::assert_snapshot!("overlay_workload", text(&screen(&a, 80, 24)));
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
        t.contains("IOPS n/a: no per-path counters on this backend"),
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
