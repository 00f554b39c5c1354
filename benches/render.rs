//! Render cost: building and drawing one full frame of the console from
//! fixture data (`render_to_buffer`: layout, every pane, the widgets, into
//! a fresh ratatui `Buffer`), at 80×24, 120×40 and 200×60. Goal: < 1 ms
//! for 200×60. Also the same frame through ratatui's `Terminal` on a
//! `TestBackend` (adds the diff against the previous frame), and the help
//! overlay on top. `cargo bench --bench render`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mpath_console::ui::{fixture, panes, render_to_buffer, theme::Theme, UiEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("render_to_buffer");
    for (w, h) in SIZES {
        let mut app = fixture::app(Theme::dark());
        app.update(UiEvent::Resize(w, h));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{w}x{h}")),
            &(w, h),
            |b, &(w, h)| b.iter(|| render_to_buffer(black_box(&app.snap), black_box(&app), w, h)),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("help_overlay");
    let (w, h) = (200, 60);
    let mut app = fixture::app(Theme::dark());
    app.update(UiEvent::Resize(w, h));
    app.update(UiEvent::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    g.bench_function("200x60", |b| {
        b.iter(|| render_to_buffer(black_box(&app.snap), black_box(&app), w, h))
    });
    g.finish();

    let mut g = c.benchmark_group("terminal_draw");
    for (w, h) in SIZES {
        let mut app = fixture::app(Theme::dark());
        app.update(UiEvent::Resize(w, h));
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{w}x{h}")),
            &(w, h),
            |b, _| {
                b.iter(|| {
                    term.draw(|f| {
                        panes::draw(&app.snap, &app, f.buffer_mut());
                    })
                    .expect("draw");
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
