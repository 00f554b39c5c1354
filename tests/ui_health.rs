//! Health in the console: fault badges from `mpath_listener_get_faults`,
//! keep-alive clocks and reconnect countdowns from
//! `bdev_nvme_get_controllers` (our extra keys, or SPDK's state plus the
//! timers of `framework_get_config`), per-path latency and errors from
//! `bdev_nvme_get_path_iostat`, and how the panes show them. Answers are
//! fixed and instants are handed in: no clock is read.

use std::time::{Duration, Instant};

use mpath_console::ui::health::{
    self, countdown, next_delay, parse_path_iostat, Countdown, Fault, KeepAlive, Timers,
};
use mpath_console::ui::sampler::{CallErr, RawPoll, SamplerOpts, State};
use mpath_console::ui::snapshot::Snapshot;
use mpath_console::ui::theme::Theme;
use mpath_console::ui::{fixture, panes};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::{json, Value};

const NQN: &str = "nqn.2022-02.io.spdk:cnode0";

fn trid(a: &str, p: &str) -> Value {
    json!({"trtype": "TCP", "adrfam": "IPv4", "traddr": a, "trsvcid": p, "subnqn": NQN})
}

/// The HOWTO's two listeners and two paths; `connected` of 4420 as given.
fn raw(at: Instant, connected_4420: bool) -> RawPoll {
    let mut r = RawPoll::new(at, 1_764_000_000.0);
    r.subsystems = Some(Ok(json!([
        {"nqn": NQN, "subtype": "NVMe", "listen_addresses": [trid("127.0.0.1", "4420"), trid("127.0.0.2", "5520")],
         "allow_any_host": true, "hosts": [], "namespaces": [{"nsid": 1, "bdev_name": "Malloc0", "anagrpid": 1}]}
    ])));
    r.listeners = vec![(
        NQN.into(),
        Ok(json!([
            {"address": trid("127.0.0.1", "4420"), "ana_states": [{"ana_group": 1, "ana_state": "optimized"}]},
            {"address": trid("127.0.0.2", "5520"), "ana_states": [{"ana_group": 1, "ana_state": "optimized"}]}
        ])),
    )];
    let path = |cntlid: u64, a: &str, p: &str, conn: bool| {
        json!({"bdev_name": "Nvme0n1", "cntlid": cntlid, "current": conn, "connected": conn, "accessible": conn,
               "transport": {"trtype": "TCP", "traddr": a, "trsvcid": p, "adrfam": "IPv4"}})
    };
    r.io_paths = Some(Ok(
        json!({"poll_groups": [{"thread": "app_thread", "io_paths": [
            path(1, "127.0.0.1", "4420", connected_4420),
            path(2, "127.0.0.2", "5520", true),
        ]}]}),
    ));
    r.ini_bdev = Some(Ok(json!([{"name": "Nvme0n1", "driver_specific": {}}])));
    r
}

/// SPDK's `bdev_nvme_get_controllers` (no timers, no keep-alive).
fn spdk_ctrlrs(state_4420: &str) -> Value {
    let host = json!({"nqn": "nqn.2014-08.org.nvmexpress:uuid:1", "addr": "", "svcid": ""});
    json!([{"name": "Nvme0", "ctrlrs": [
        {"state": state_4420, "trid": trid("127.0.0.1", "4420"), "cntlid": 1, "host": host},
        {"state": "enabled", "trid": trid("127.0.0.2", "5520"), "cntlid": 2, "host": host}
    ]}])
}

fn state() -> State {
    State::new(
        &SamplerOpts {
            refresh: Duration::from_millis(100),
            bdev: "Nvme0n1".into(),
            nqn: NQN.into(),
        },
        "attach",
    )
}

fn ingest(st: &mut State, r: RawPoll) -> Snapshot {
    st.ingest_with(r, "/var/tmp/spdk.sock", "/tmp/bdevperf.sock", true, true)
}

#[test]
fn fault_badges_reach_listeners_and_paths() {
    let t0 = Instant::now();
    let mut st = state();
    let mut r = raw(t0, true);
    r.faults = Some(Ok(json!([
        {"listen_address": trid("127.0.0.1", "4420"), "fault": "blackhole"},
        {"listen_address": trid("127.0.0.2", "5520"), "fault": "delay", "delay_ms": 500},
        // Unknown faults and entries without an address are left out.
        {"listen_address": trid("127.0.0.3", "4420"), "fault": "gremlins"},
        {"fault": "blackhole"}
    ])));
    let s = ingest(&mut st, r);
    let lf: Vec<_> = s
        .listeners
        .iter()
        .map(|l| (l.trsvcid.as_str(), l.fault))
        .collect();
    assert_eq!(
        lf,
        [
            ("4420", Some(Fault::Blackhole)),
            ("5520", Some(Fault::Delay { ms: 500 }))
        ]
    );
    let pf: Vec<_> = s.paths.iter().map(|p| p.fault).collect();
    assert_eq!(pf, [Some(Fault::Blackhole), Some(Fault::Delay { ms: 500 })]);
    assert_eq!(Fault::Delay { ms: 500 }.badge(), "delay 500ms");
    assert_eq!(health::path_cell(&s.paths[0]), ("blackhole".into(), true));

    // A poll without the method asked keeps the badges; a lifted fault
    // goes; a failed read shows none rather than a stale one.
    let s = ingest(&mut st, raw(t0 + Duration::from_millis(100), true));
    assert_eq!(s.listeners[0].fault, Some(Fault::Blackhole));
    let mut r = raw(t0 + Duration::from_millis(200), true);
    r.faults = Some(Ok(json!([
        {"listen_address": trid("127.0.0.2", "5520"), "fault": "delay", "delay_ms": 500}
    ])));
    let s = ingest(&mut st, r);
    assert_eq!(s.listeners[0].fault, None);
    assert_eq!(s.paths[1].fault, Some(Fault::Delay { ms: 500 }));
    let mut r = raw(t0 + Duration::from_millis(300), true);
    r.faults = Some(Err(CallErr {
        msg: "no answer".into(),
        unreachable: true,
    }));
    let s = ingest(&mut st, r);
    assert!(s.listeners.iter().all(|l| l.fault.is_none()));
}

#[test]
fn d_steps_through_the_delay_choices() {
    let mut seen = vec![];
    let mut cur = None;
    for _ in 0..6 {
        let ms = next_delay(cur);
        seen.push(ms);
        cur = Some(Fault::Delay { ms });
    }
    assert_eq!(seen, [10, 50, 100, 500, 1000, 10]);
    assert_eq!(next_delay(Some(Fault::Blackhole)), 10);
    // A delay set by `:` steps to the next larger choice.
    assert_eq!(next_delay(Some(Fault::Delay { ms: 200 })), 500);
    assert_eq!(next_delay(Some(Fault::Delay { ms: 5000 })), 10);
}

#[test]
fn countdowns_from_the_timers_and_the_loss_time() {
    let t = Timers {
        ctrlr_loss_timeout_sec: 30,
        reconnect_delay_sec: 10,
        fast_io_fail_timeout_sec: 20,
    };
    let at = |ms: u64| countdown(t, Duration::from_millis(ms));
    assert_eq!(
        at(3_000),
        Countdown {
            reconnect_in: Some(7),
            io_fails_in: Some(17),
            lost_in: Some(27)
        }
    );
    assert_eq!(
        at(3_000).text(),
        "reconnect in 7 s · I/O fails in 17 s · lost in 27 s"
    );
    // Rounded up: 6.5 s left reads 7 s, never 0 while something is due.
    assert_eq!(at(3_500).reconnect_in, Some(7));
    assert_eq!(at(9_999).reconnect_in, Some(1));
    // Attempts repeat every reconnect_delay_sec; past a deadline it goes.
    assert_eq!(at(13_000).reconnect_in, Some(7));
    assert_eq!(at(25_000).io_fails_in, None);
    // -1 and 0: no deletion countdown; no delay: no attempt time.
    let forever = Timers {
        ctrlr_loss_timeout_sec: -1,
        reconnect_delay_sec: 0,
        fast_io_fail_timeout_sec: 0,
    };
    let c = countdown(forever, Duration::from_secs(5));
    assert_eq!(c, Countdown::default());
    assert_eq!(c.text(), "reconnecting");
}

#[test]
fn keep_alive_clock_reads_as_last_answer_or_timeout() {
    let ka = |since: u64, pending: Option<u64>| KeepAlive {
        timeout_ms: 10_000,
        since_answer_ms: Some(since),
        pending_ms: pending,
    };
    assert_eq!(ka(2_400, None).text(), "KA 2 s ago");
    // An answer in flight for a few ms is normal, not a countdown.
    assert_eq!(ka(5_000, Some(3)).text(), "KA 5 s ago");
    assert_eq!(ka(8_000, Some(3_000)).text(), "KA timeout in 7 s");
    assert!(ka(8_000, Some(3_000)).overdue());
    assert_eq!(ka(8_000, Some(9_999)).timeout_in(), Some(1));
    let off = KeepAlive {
        timeout_ms: 0,
        ..ka(0, None)
    };
    assert_eq!(off.text(), "KA off");
}

/// Our initiator: keep-alive and timers per controller, the loss time
/// from the initiator itself.
#[test]
fn our_controllers_give_keep_alive_and_countdown() {
    let t0 = Instant::now();
    let mut st = state();
    let ours = |state: &str, pending: Value, lost: Value| {
        let c = |s: &str, a: &str, p: &str, pending: Value, lost: Value| {
            json!({"state": s, "trid": trid(a, p), "cntlid": 1,
                   "host": {"nqn": "h", "addr": "", "svcid": ""},
                   "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": 10, "fast_io_fail_timeout_sec": 0,
                   "keep_alive_timeout_ms": 10_000,
                   "keep_alive": {"since_answer_ms": 6_100, "pending_ms": pending}, "lost_ms": lost})
        };
        json!([{"name": "Nvme0", "ctrlrs": [
            c(state, "127.0.0.1", "4420", pending, lost),
            c("enabled", "127.0.0.2", "5520", Value::Null, Value::Null)
        ]}])
    };
    let mut r = raw(t0, true);
    r.ini_ctrlrs = Some(Ok(ours("enabled", json!(4_200), Value::Null)));
    let s = ingest(&mut st, r);
    assert_eq!(
        health::path_cell(&s.paths[0]),
        ("KA timeout in 6 s".into(), true)
    );
    assert_eq!(health::path_cell(&s.paths[1]), ("KA 6 s ago".into(), false));

    // Lost 2.5 s ago by the initiator's clock, whenever the sampler saw it.
    let mut r = raw(t0 + Duration::from_secs(30), false);
    r.ini_ctrlrs = Some(Ok(ours("reconnect_is_delayed", Value::Null, json!(2_500))));
    let s = ingest(&mut st, r);
    assert_eq!(
        health::path_cell(&s.paths[0]),
        ("reconnect in 8 s".into(), true)
    );
    let (fault, cd) = health::listener_cell(&s.listeners[0], &s.paths);
    assert_eq!((fault, cd.as_deref()), (None, Some("reconnect in 8 s")));
}

/// Real SPDK: the controller state only; the timers from the saved
/// configuration (the attach's own over bdev_nvme_set_options'), the loss
/// time from when the sampler first saw the path down.
#[test]
fn real_spdk_countdown_uses_saved_config_and_first_seen_down() {
    let t0 = Instant::now();
    let mut st = state();
    let mut r = raw(t0, true);
    r.ini_ctrlrs = Some(Ok(spdk_ctrlrs("enabled")));
    r.ini_config = Some(Ok(json!([
        {"method": "bdev_nvme_set_options", "params": {"ctrlr_loss_timeout_sec": 0, "reconnect_delay_sec": 0,
            "fast_io_fail_timeout_sec": 0, "keep_alive_timeout_ms": 10000}},
        {"method": "bdev_nvme_attach_controller", "params": {"name": "Nvme0", "trtype": "TCP", "adrfam": "IPv4",
            "traddr": "127.0.0.1", "trsvcid": "4420", "subnqn": NQN,
            "ctrlr_loss_timeout_sec": 30, "reconnect_delay_sec": 10, "fast_io_fail_timeout_sec": 0}}
    ])));
    let s = ingest(&mut st, r);
    // What can be known: the state; no keep-alive clock.
    assert_eq!(health::path_cell(&s.paths[0]), ("enabled".into(), false));

    let mut r = raw(t0 + Duration::from_secs(1), false);
    r.ini_ctrlrs = Some(Ok(spdk_ctrlrs("resetting")));
    let s = ingest(&mut st, r);
    assert_eq!(
        health::path_cell(&s.paths[0]).0,
        "reconnect in 10 s · lost in 30 s"
    );
    let mut r = raw(t0 + Duration::from_millis(4_200), false);
    r.ini_ctrlrs = Some(Ok(spdk_ctrlrs("reconnect_is_delayed")));
    let s = ingest(&mut st, r);
    assert_eq!(
        health::path_cell(&s.paths[0]).0,
        "reconnect in 7 s · lost in 27 s"
    );
    // Back: no countdown; a later loss counts from its own start.
    let mut r = raw(t0 + Duration::from_secs(5), true);
    r.ini_ctrlrs = Some(Ok(spdk_ctrlrs("enabled")));
    let s = ingest(&mut st, r);
    assert!(s.paths[0].health.countdown.is_none());
    let mut r = raw(t0 + Duration::from_secs(50), false);
    r.ini_ctrlrs = Some(Ok(spdk_ctrlrs("resetting")));
    let s = ingest(&mut st, r);
    assert_eq!(s.paths[0].health.countdown.unwrap().lost_in, Some(30));
}

/// `bdev_nvme_get_path_iostat` in SPDK v24.09's shape: latency over the
/// interval from two readings and `bdev_get_iostat`'s tick rate; errors
/// only where the backend counts them.
#[test]
fn path_iostat_gives_interval_latency_and_errors() {
    let stat = |reads: u64, ticks: u64, err: Option<u64>| {
        let mut s = json!({"bytes_read": reads * 4096, "num_read_ops": reads, "bytes_written": 0, "num_write_ops": 0,
            "bytes_unmapped": 0, "num_unmap_ops": 0, "bytes_copied": 0, "num_copy_ops": 0,
            "read_latency_ticks": ticks, "max_read_latency_ticks": 0, "min_read_latency_ticks": 0,
            "write_latency_ticks": 0, "max_write_latency_ticks": 0, "min_write_latency_ticks": 0,
            "unmap_latency_ticks": 0, "max_unmap_latency_ticks": 0, "min_unmap_latency_ticks": 0,
            "copy_latency_ticks": 0, "max_copy_latency_ticks": 0, "min_copy_latency_ticks": 0});
        if let Some(e) = err {
            s["io_error"] = json!({"nvme_error": e});
        }
        s
    };
    let answer = |r1: u64, t1: u64, r2: u64, t2: u64, err: Option<u64>| {
        json!({"name": "Nvme0n1", "stats": [
            {"trid": trid("127.0.0.1", "4420"), "stat": stat(r1, t1, err)},
            {"trid": trid("127.0.0.2", "5520"), "stat": stat(r2, t2, None)}
        ]})
    };
    let parsed = parse_path_iostat(&answer(10, 5_000, 0, 0, Some(2)));
    assert_eq!(parsed.len(), 2);
    assert_eq!(
        (parsed[0].ops, parsed[0].latency_ticks, parsed[0].errors),
        (10, 5_000, Some(2))
    );
    assert_eq!(parsed[1].errors, None, "SPDK's paths count no errors");

    let t0 = Instant::now();
    let mut st = state();
    let mut r = raw(t0, true);
    // A 2.4 GHz tick, as on real SPDK.
    r.iostat = Some(Ok(
        json!({"tick_rate": 2_400_000_000u64, "ticks": 1, "bdevs": []}),
    ));
    r.path_iostat = Some(Ok(answer(1_000, 0, 0, 0, None)));
    let s = ingest(&mut st, r);
    assert_eq!(
        s.paths[0].health.avg_lat_us, None,
        "one reading is no interval"
    );
    let mut r = raw(t0 + Duration::from_secs(1), true);
    // 1000 reads in the interval, 240 000 000 ticks: 100 µs each.
    r.path_iostat = Some(Ok(answer(2_000, 240_000_000, 0, 0, Some(3))));
    let s = ingest(&mut st, r);
    let lat = s.paths[0].health.avg_lat_us.expect("latency");
    assert!((lat - 100.0).abs() < 1e-9, "{lat}");
    assert_eq!(s.paths[0].health.errors, Some(3));
    assert_eq!(s.paths[1].health.avg_lat_us, None, "no I/O on the standby");
}

fn text(b: &Buffer) -> String {
    (0..b.area.height)
        .map(|y| {
            let mut line = String::new();
            let mut skip = 0;
            for x in 0..b.area.width {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let sym = b[(x, y)].symbol();
                line.push_str(sym);
                skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            }
            line.trim_end().to_string() + "\n"
        })
        .collect()
}

/// The fixture with a blackhole on 4420 (its path lost, counting down)
/// and a 500 ms delay on 5520 (its path answering keep-alives).
#[test]
fn listeners_and_paths_panes_show_health() {
    let a = fixture::app(Theme::dark());
    let mut snap = (*a.snap).clone();
    let s = &mut snap;
    s.listeners[0].fault = Some(Fault::Blackhole);
    s.listeners[1].fault = Some(Fault::Delay { ms: 500 });
    s.paths[0].fault = Some(Fault::Blackhole);
    s.paths[0].connected = false;
    s.paths[0].current = false;
    s.paths[1].current = true;
    s.paths[0].health.countdown = Some(Countdown {
        reconnect_in: Some(7),
        io_fails_in: None,
        lost_in: Some(23),
    });
    s.paths[0].health.errors = Some(4);
    s.paths[1].fault = Some(Fault::Delay { ms: 500 });
    s.paths[1].health.keep_alive = Some(KeepAlive {
        timeout_ms: 10_000,
        since_answer_ms: Some(2_400),
        pending_ms: None,
    });
    s.paths[1].health.avg_lat_us = Some(501_234.4);
    s.paths[1].health.errors = Some(0);
    let s = snap;
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    let _g = settings.bind_to_scope();

    let r = Rect::new(0, 0, 140, 5);
    let mut b = Buffer::empty(r);
    panes::listeners::render(&s, &a, r, true, &mut b);
    let t = text(&b);
    assert!(
        t.contains("blackhole") && t.contains("reconnect in 7 s · lost in 23 s"),
        "{t}"
    );
    assert!(t.contains("delay 500ms"), "{t}");
    insta::assert_snapshot!("health_listeners", t);

    let r = Rect::new(0, 0, 160, 5);
    let mut b = Buffer::empty(r);
    panes::paths::render(&s, &a, r, true, &mut b);
    let t = text(&b);
    assert!(t.contains("blackhole · reconnect in 7 s"), "{t}");
    assert!(t.contains("delay 500ms · KA 2 s ago"), "{t}");
    assert!(t.contains("lat µs") && t.contains("501234"), "{t}");
    insta::assert_snapshot!("health_paths", t);
}

/// The help lists a legend entry for every symbol and column the health
/// panes draw.
#[test]
fn help_explains_every_health_symbol() {
    let a = fixture::app(Theme::dark());
    let b = panes::overlay::help_bindings(&a);
    let legend: Vec<&str> = b
        .iter()
        .filter(|(_, _, g)| g.starts_with("Legend"))
        .map(|(k, _, _)| k.as_str())
        .collect();
    for k in [
        "★",
        "acc",
        "outst",
        "blackhole",
        "delay N ms",
        "KA N s ago",
        "KA timeout in",
        "reconnect in",
        "lost in",
        "lat µs",
        "err",
        "Recv-Q",
        "Send-Q",
        "Role",
        "RTT ms",
    ] {
        assert!(legend.contains(&k), "no legend entry for {k}: {legend:?}");
    }
}
