//! Runs the real console on the embedded HOWTO, for eyes and for tmux.
//! Ignored by default; run it in a terminal (or tmux) with
//! `cargo test --release --test ui_live -- --ignored --nocapture`.

use std::sync::Arc;

use mpath_console::control::App;
use mpath_console::engines::Engines;
use mpath_console::perf::config::PerfConfig;
use mpath_console::scenario;
use mpath_console::ui::{self, UiOpts};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "interactive: needs a terminal"]
async fn live_console_on_the_howto() {
    let dir = tempfile::tempdir().unwrap();
    let perf = PerfConfig::from_args(["-z", "-q", "128", "-o", "4096", "-w", "verify", "-t", "90"])
        .unwrap();
    let mut e = Engines::new(perf);
    e.serve_unix(App::Target, &dir.path().join("spdk.sock"))
        .await
        .unwrap();
    e.serve_unix(App::Initiator, &dir.path().join("bdevperf.sock"))
        .await
        .unwrap();
    let steps = scenario::howto(&scenario::HowtoOpts {
        listeners: vec![
            "127.0.0.1:4420".parse().unwrap(),
            "127.0.0.2:5520".parse().unwrap(),
        ],
        paths: 2,
        hdgst: false,
        ddgst: false,
        policy: None,
        reconnect_delay_sec: 10,
    });
    e.run_steps(&steps).await.unwrap();
    let control = e.control();
    let refresh = std::env::var("MPATH_REFRESH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    ui::run(
        Arc::clone(&control),
        UiOpts {
            refresh_ms: refresh,
            ..UiOpts::default()
        },
    )
    .await
    .unwrap();
}
