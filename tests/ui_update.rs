//! The console's update function: key events in, Control calls out.
//! No terminal, no engines: `App::update` is pure, so each test asserts
//! "this key on this row → exactly this call".
//!
//! The command-line cases compare with what `spdk-rpc` 26.5 sends: each
//! expected JSON below is the `params` of
//! `/opt/spdk-venv/bin/spdk-rpc --dry-run <command>` (null = no params,
//! which is what the client sends for an empty dict).

use std::sync::Arc;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use mpath_console::control::Engine;
use mpath_console::ui::app::{CallSpec, Effect, Overlay, Pane, UiEvent, FOREVER_SECS};
use mpath_console::ui::fixture;
use mpath_console::ui::theme::Theme;
use mpath_console::ui::App;
use serde_json::{json, Value};

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

fn app() -> App {
    fixture::app(Theme::dark())
}

/// The one call a key produced.
fn one_call(fx: Vec<Effect>) -> CallSpec {
    match fx.as_slice() {
        [Effect::Call(c)] => c.clone(),
        other => panic!("expected one call, got {other:?}"),
    }
}

fn with_snapshot(a: &mut App, f: impl FnOnce(&mut mpath_console::ui::Snapshot)) {
    let mut s = (*a.snap).clone();
    f(&mut s);
    s.seq += 1;
    a.update(UiEvent::Snapshot(Arc::new(s)));
}

/// What a key may change, to check that an unknown one changes nothing.
fn digest(a: &App) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {} {:?} {}",
        a.focus,
        a.sel,
        a.events_top,
        a.overlay,
        a.log.len(),
        a.status,
        a.theme.name
    )
}

#[test]
fn n_on_listener_4420_sets_non_optimized() {
    let mut a = app();
    assert_eq!(a.focus, Pane::Listeners);
    let c = one_call(a.update(key('n')));
    assert_eq!(c.app, Engine::Target);
    assert_eq!(c.method, "nvmf_subsystem_listener_set_ana_state");
    assert_eq!(
        c.params,
        Some(
            json!({"nqn": "nqn.2022-02.io.spdk:cnode0", "ana_state": "non_optimized",
                    "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}})
        )
    );
    assert!(!c.background);
    // Logged as the spdk-rpc command line (the target's socket is
    // spdk-rpc's default, so no -s).
    assert_eq!(
        c.line,
        "spdk-rpc nvmf_subsystem_listener_set_ana_state nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.1 -s 4420 -n non_optimized"
    );
    assert_eq!(a.log.last().unwrap().text, c.line);
}

#[test]
fn o_i_and_a_on_the_second_listener() {
    let mut a = app();
    a.update(key('j'));
    let state = |c: &CallSpec| c.params.as_ref().unwrap()["ana_state"].clone();
    let port = |c: &CallSpec| c.params.as_ref().unwrap()["listen_address"]["trsvcid"].clone();
    let c = one_call(a.update(key('o')));
    assert_eq!((state(&c), port(&c)), (json!("optimized"), json!("5520")));
    let c = one_call(a.update(key('i')));
    assert_eq!(state(&c), json!("inaccessible"));
    // `a` cycles from the state shown (optimized → non_optimized).
    let c = one_call(a.update(key('a')));
    assert_eq!(state(&c), json!("non_optimized"));
    with_snapshot(&mut a, |s| {
        s.listeners[1].ana_states[0].1 = "non_optimized".into()
    });
    assert_eq!(state(&one_call(a.update(key('a')))), json!("inaccessible"));
    with_snapshot(&mut a, |s| {
        s.listeners[1].ana_states[0].1 = "inaccessible".into()
    });
    assert_eq!(state(&one_call(a.update(key('a')))), json!("optimized"));
}

#[test]
fn ana_keys_on_a_path_act_on_its_listener() {
    let mut a = app();
    a.update(code(KeyCode::Tab));
    assert_eq!(a.focus, Pane::Paths);
    a.update(code(KeyCode::Down));
    let c = one_call(a.update(key('n')));
    assert_eq!(
        c.params.as_ref().unwrap()["listen_address"]["trsvcid"],
        "5520"
    );
}

/// Eight listeners appear before the selected 127.0.0.2:5520: the
/// selection stays on 127.0.0.2:5520, and `i` acts on it.
#[test]
fn selection_follows_the_listener_when_rows_are_added_before_it() {
    let mut a = app();
    a.update(key('j'));
    assert_eq!(a.snap.listeners[1].addr(), "127.0.0.2:5520");
    with_snapshot(&mut a, |s| {
        let x = s.listeners[0].clone();
        for n in (3..=10).rev() {
            let mut l = x.clone();
            l.traddr = format!("127.0.0.{n}");
            l.trsvcid = "4420".into();
            s.listeners.insert(0, l);
        }
    });
    assert_eq!(a.snap.listeners.len(), 10);
    let sel = a.sel[Pane::Listeners.index()];
    assert_eq!(sel, 9);
    assert_eq!(a.snap.listeners[sel].addr(), "127.0.0.2:5520");
    let c = one_call(a.update(key('i')));
    assert_eq!(c.method, "nvmf_subsystem_listener_set_ana_state");
    assert_eq!(
        c.params,
        Some(
            json!({"nqn": "nqn.2022-02.io.spdk:cnode0", "ana_state": "inaccessible",
                    "listen_address": {"trtype": "tcp", "traddr": "127.0.0.2", "trsvcid": "5520"}})
        )
    );
}

/// The same listener address under another subsystem is another row: the
/// selection keeps its NQN.
#[test]
fn selection_tells_listeners_apart_by_nqn() {
    let mut a = app();
    a.update(key('j'));
    with_snapshot(&mut a, |s| {
        let mut l = s.listeners[1].clone();
        l.nqn = "nqn.2022-02.io.spdk:cnode1".into();
        s.listeners.push(l);
        s.listeners.swap(1, 2);
    });
    let l = &a.snap.listeners[a.sel[Pane::Listeners.index()]];
    assert_eq!(
        (l.nqn.as_str(), l.addr()),
        ("nqn.2022-02.io.spdk:cnode0", "127.0.0.2:5520".into())
    );
}

/// When the selected object goes, its neighbour is selected; in every
/// table pane the selection follows the object, not the row number.
#[test]
fn selection_moves_to_the_neighbour_and_follows_paths_and_sockets() {
    let mut a = app();
    // Listeners: 127.0.0.1:4420 selected, then removed → 127.0.0.2:5520.
    with_snapshot(&mut a, |s| {
        s.listeners.remove(0);
        let mut l = s.listeners[0].clone();
        l.traddr = "127.0.0.9".into();
        s.listeners.insert(0, l);
    });
    let l = &a.snap.listeners[a.sel[Pane::Listeners.index()]];
    assert_eq!(l.addr(), "127.0.0.2:5520");
    // The last row removed → the one before it.
    with_snapshot(&mut a, |s| {
        s.listeners.pop();
    });
    assert_eq!(a.sel[Pane::Listeners.index()], 0);
    assert_eq!(a.snap.listeners[0].addr(), "127.0.0.9:5520");

    // I/O paths: Nvme0 at 127.0.0.2:5520 selected; a path inserted
    // before it, and its cntlid changes (a reconnect).
    a.update(code(KeyCode::Tab));
    a.update(key('j'));
    with_snapshot(&mut a, |s| {
        let mut p = s.paths[0].clone();
        p.traddr = "127.0.0.7".into();
        s.paths.insert(0, p);
        s.paths[2].cntlid = 7;
    });
    let p = &a.snap.paths[a.sel[Pane::Paths.index()]];
    assert_eq!(
        (p.ctrlr.as_str(), p.addr()),
        ("Nvme0", "127.0.0.2:5520".into())
    );
    let c = one_call(a.update(key('P')));
    assert_eq!(c.params, Some(json!({"name": "Nvme0n1", "cntlid": 7})));

    // Connections: the selected socket keeps its 4-tuple.
    a.update(code(KeyCode::Tab));
    a.update(key('j'));
    a.update(key('j'));
    let want = a.snap.conns.rows[2].clone();
    with_snapshot(&mut a, |s| {
        s.conns.rows.reverse();
    });
    let got = &a.snap.conns.rows[a.sel[Pane::Conns.index()]];
    assert_eq!((&got.local, &got.peer), (&want.local, &want.peer));

    // Subsystems: by NQN.
    let mut a = app();
    with_snapshot(&mut a, |s| {
        let mut x = s
            .subsystems
            .iter()
            .find(|x| x.subtype != "Discovery")
            .unwrap()
            .clone();
        x.nqn = "nqn.2022-02.io.spdk:aaa".into();
        s.subsystems.insert(0, x);
    });
    let subs: Vec<_> = a
        .snap
        .subsystems
        .iter()
        .filter(|x| x.subtype != "Discovery")
        .collect();
    assert_eq!(
        subs[a.sel[Pane::Subsystems.index()]].nqn,
        "nqn.2022-02.io.spdk:cnode0"
    );
}

#[test]
fn p_toggles_the_policy_and_s_cycles_the_selector() {
    let mut a = app();
    let c = one_call(a.update(key('p')));
    assert_eq!(
        (c.app, c.method.as_str()),
        (Engine::Initiator, "bdev_nvme_set_multipath_policy")
    );
    assert_eq!(
        c.params,
        Some(json!({"name": "Nvme0n1", "policy": "active_active"}))
    );
    assert_eq!(
        c.line,
        "spdk-rpc -s /tmp/bdevperf.sock bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active"
    );
    // The selector needs active_active: nothing is sent, and we say why.
    assert!(a.update(key('s')).is_empty());
    assert!(a.status.as_ref().unwrap().text.contains("active_active"));

    with_snapshot(&mut a, |s| s.policy = Some("active_active".into()));
    let c = one_call(a.update(key('s')));
    assert_eq!(
        c.params,
        Some(json!({"name": "Nvme0n1", "policy": "active_active", "selector": "queue_depth"}))
    );
    with_snapshot(&mut a, |s| s.selector = Some("queue_depth".into()));
    let c = one_call(a.update(key('s')));
    assert_eq!(c.params.unwrap()["selector"], "round_robin");
    // Back to active_passive: no selector (SPDK refuses one there).
    let c = one_call(a.update(key('p')));
    assert_eq!(
        c.params,
        Some(json!({"name": "Nvme0n1", "policy": "active_passive"}))
    );
}

#[test]
fn shift_p_prefers_the_selected_path() {
    let mut a = app();
    a.update(code(KeyCode::Tab));
    a.update(key('j'));
    let c = one_call(a.update(key('P')));
    assert_eq!(c.method, "bdev_nvme_set_preferred_path");
    assert_eq!(c.params, Some(json!({"name": "Nvme0n1", "cntlid": 2})));
    assert_eq!(
        c.line,
        "spdk-rpc -s /tmp/bdevperf.sock bdev_nvme_set_preferred_path -b Nvme0n1 -c 2"
    );
}

/// The attached `serve` with no bdevperf options: the initiator knows no
/// workload, depth or size yet.
fn unconfigured(s: &mut mpath_console::ui::Snapshot) {
    s.load.running = Some(false);
    s.load.workload = None;
    s.load.queue_depth = None;
    s.load.io_size = None;
}

fn typed(a: &mut App, s: &str) {
    for c in s.chars() {
        a.update(key(c));
    }
}

#[test]
fn space_pauses_and_when_idle_opens_the_load_form() {
    let mut a = app();
    let c = one_call(a.update(key(' ')));
    assert_eq!(
        (c.app, c.method.as_str(), c.params.clone()),
        (Engine::Initiator, "mpath_perf_stop", None)
    );
    with_snapshot(&mut a, unconfigured);
    assert!(a.update(key(' ')).is_empty(), "the form opens first");
    let Overlay::Load(f) = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    assert!(!f.restarts);
    // Enter starts with every parameter bdevperf -z needs.
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(c.method, "perform_tests");
    assert_eq!(
        c.params,
        Some(
            json!({"workload_type": "verify", "queue_depth": 128, "io_size": "4096",
                    "time_in_sec": FOREVER_SECS})
        )
    );
    assert_eq!(FOREVER_SECS, 315_360_000);
    assert!(
        c.background,
        "perform_tests answers when the run ends: never awaited in line"
    );
    assert_eq!(
        c.line,
        "bdevperf.py -s /tmp/bdevperf.sock perform_tests -q 128 -o 4096 -t 315360000 -w verify"
    );
    assert_eq!(a.overlay, Overlay::None);
}

#[test]
fn the_load_form_edits_cancels_and_remembers_the_last_values() {
    let mut a = app();
    with_snapshot(&mut a, unconfigured);
    a.update(key(' '));
    // Esc: nothing sent, nothing kept.
    assert!(a.update(code(KeyCode::Esc)).is_empty());
    assert_eq!(a.overlay, Overlay::None);
    assert!(a.last_load.is_none());
    // randrw, -q 32, -o 8k, -t 30, -M 40.
    a.update(key(' '));
    a.update(key('7'));
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Backspace));
    a.update(code(KeyCode::Backspace));
    a.update(code(KeyCode::Backspace));
    typed(&mut a, "32");
    a.update(code(KeyCode::Down));
    for _ in 0..4 {
        a.update(code(KeyCode::Backspace));
    }
    typed(&mut a, "8k");
    a.update(code(KeyCode::Down));
    typed(&mut a, "30");
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Backspace));
    a.update(code(KeyCode::Backspace));
    typed(&mut a, "40");
    let c = one_call(a.update(code(KeyCode::Enter)));
    let want = json!({"workload_type": "randrw", "queue_depth": 32, "io_size": "8k",
                      "time_in_sec": 30, "rw_percentage": 40});
    assert_eq!(c.params, Some(want.clone()));
    // A finite run says nothing about being unstoppable.
    assert!(a.status.is_none(), "{:?}", a.status);
    // The next form starts from these values.
    a.update(key('w'));
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(c.params, Some(want));
    // A bad value keeps the form open and says why.
    a.update(key('w'));
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Backspace));
    a.update(code(KeyCode::Backspace));
    assert!(a.update(code(KeyCode::Enter)).is_empty());
    let Overlay::Load(f) = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    assert!(f.error.as_deref().unwrap_or("").starts_with("-q"), "{f:?}");
}

#[test]
fn the_load_form_prefills_what_the_initiator_reports() {
    let mut a = app();
    with_snapshot(&mut a, |s| {
        s.load.running = Some(false);
        s.load.workload = Some("randread".into());
        s.load.queue_depth = Some(16);
        s.load.io_size = Some(512);
    });
    a.update(key(' '));
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(
        c.params,
        Some(
            json!({"workload_type": "randread", "queue_depth": 16, "io_size": "512",
                    "time_in_sec": FOREVER_SECS})
        )
    );
}

#[test]
fn a_finished_run_is_logged_with_its_figures() {
    let mut a = app();
    with_snapshot(&mut a, unconfigured);
    a.update(key(' '));
    let c = one_call(a.update(code(KeyCode::Enter)));
    let result = json!({"results": [{"job": "Nvme0n1", "status": "terminated",
        "runtime": 12.5, "iops": 41000.0, "mibps": 160.16, "io_failed": 0,
        "io_timeout": 0}], "core_count": 1});
    a.update(UiEvent::CallDone {
        id: c.id,
        result: Ok(result),
        ms: 12500.0,
    });
    let texts: Vec<&str> = a.log.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(
            &"perform_tests: run ended after 12.5 s: 41.0k IOPS, 160.16 MiB/s, 0 failed, 0 timed out (terminated)"
        ),
        "{texts:#?}"
    );
    assert!(a.status.as_ref().unwrap().text.contains("run ended"));
}

#[test]
fn pause_without_mpath_perf_stop_says_unavailable() {
    let mut a = app();
    with_snapshot(&mut a, |s| {
        s.initiator.methods = Some(vec!["bdev_nvme_get_io_paths".into()])
    });
    assert!(a.update(key(' ')).is_empty());
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("unavailable on this backend"));
}

#[test]
fn w_opens_the_form_and_restarts_a_running_load() {
    let mut a = app();
    assert!(a.update(key('w')).is_empty());
    let Overlay::Load(f) = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    assert!(f.restarts, "a run is going");
    assert_eq!(f.workload(), "verify");
    a.update(code(KeyCode::Right));
    a.update(code(KeyCode::Right));
    let fx = a.update(code(KeyCode::Enter));
    let [Effect::Sequence(calls)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let names: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(names, ["mpath_perf_stop", "perform_tests"]);
    assert_eq!(
        calls[1].params,
        Some(
            json!({"workload_type": "write", "queue_depth": 128, "io_size": "4096",
                    "time_in_sec": FOREVER_SECS})
        )
    );
    assert!(calls[1].background && !calls[0].background);
    assert_eq!(a.overlay, Overlay::None);
    // rw takes a read share (70 unless changed).
    a.update(key('w'));
    a.update(key('6'));
    let fx = a.update(code(KeyCode::Enter));
    let [Effect::Sequence(calls)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(calls[1].params.as_ref().unwrap()["rw_percentage"], 70);
}

#[test]
fn x_drops_connections_or_says_unavailable() {
    let mut a = app();
    let c = one_call(a.update(key('x')));
    assert_eq!(
        (c.app, c.method.as_str()),
        (Engine::Target, "mpath_listener_drop_connections")
    );
    assert_eq!(
        c.params,
        Some(
            json!({"listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}})
        )
    );
    // Real SPDK has no such method: nothing is sent.
    with_snapshot(&mut a, |s| {
        s.target.methods = Some(vec!["nvmf_get_subsystems".into()])
    });
    let before = a.log.len();
    assert!(a.update(key('x')).is_empty());
    assert_eq!(a.log.len(), before);
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("unavailable on this backend"));
}

/// `b`, `d`, `r`: blackhole, delay (10 ms, then the next choice) and
/// restore the selected path's listener through our target methods;
/// unavailable on real SPDK.
#[test]
fn fault_keys_call_the_listener_fault_methods() {
    let mut a = app();
    let la = json!({"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"});
    for (k, method, params) in [
        (
            'b',
            "mpath_listener_blackhole",
            json!({"listen_address": la}),
        ),
        (
            'd',
            "mpath_listener_delay",
            json!({"listen_address": la, "delay_ms": 10}),
        ),
        ('r', "mpath_listener_restore", json!({"listen_address": la})),
    ] {
        let c = one_call(a.update(key(k)));
        assert_eq!((c.app, c.method.as_str()), (Engine::Target, method), "{k}");
        assert_eq!(c.params, Some(params), "{k}");
    }
    // `d` again, with the 10 ms delay in force: the next choice.
    with_snapshot(&mut a, |s| {
        let f = Some(mpath_console::ui::health::Fault::Delay { ms: 10 });
        s.paths[0].fault = f;
        s.listeners[0].fault = f;
    });
    let c = one_call(a.update(key('d')));
    assert_eq!(
        c.params,
        Some(json!({"listen_address": la, "delay_ms": 50}))
    );
    with_snapshot(&mut a, |s| {
        s.target.methods = Some(vec!["nvmf_get_subsystems".into()])
    });
    for k in ['b', 'd', 'r'] {
        assert!(a.update(key(k)).is_empty(), "{k}");
        assert!(
            a.status.as_ref().unwrap().text.contains("unavailable"),
            "{k}"
        );
    }
}

#[test]
fn navigation_help_theme_and_quit() {
    let mut a = app();
    a.update(code(KeyCode::Tab));
    a.update(code(KeyCode::Tab));
    assert_eq!(a.focus, Pane::Conns);
    a.update(UiEvent::Key(KeyEvent::new_with_kind(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
        KeyEventKind::Press,
    )));
    assert_eq!(a.focus, Pane::Paths);
    a.update(key('G'));
    assert_eq!(a.sel[Pane::Paths.index()], 1);
    a.update(key('g'));
    assert_eq!(a.sel[Pane::Paths.index()], 0);
    a.update(key('k'));
    assert_eq!(a.sel[Pane::Paths.index()], 0, "clamped at the top");
    a.update(key('?'));
    assert_eq!(a.overlay, Overlay::Help { scroll: 0 });
    // Keys go to the overlay while it is open: no call.
    assert!(a.update(key('n')).is_empty());
    a.update(code(KeyCode::Esc));
    assert_eq!(a.overlay, Overlay::None);
    a.update(key('T'));
    assert_eq!(a.theme.name, "light");
    a.update(key('T'));
    assert_eq!(a.theme.name, "mono");
    assert_eq!(a.update(key('q')), vec![Effect::Quit]);
    let mut b = app();
    let ctrl_c = KeyEvent::new_with_kind(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
        KeyEventKind::Press,
    );
    assert_eq!(b.update(UiEvent::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn unknown_keys_and_key_releases_change_nothing() {
    let mut a = app();
    let before = digest(&a);
    for c in ['Z', 'y', '9', '~', 'é'] {
        assert!(a.update(key(c)).is_empty(), "{c}");
    }
    assert!(a.update(code(KeyCode::F(9))).is_empty());
    let release = KeyEvent::new_with_kind(
        KeyCode::Char('n'),
        KeyModifiers::NONE,
        KeyEventKind::Release,
    );
    assert!(a.update(UiEvent::Key(release)).is_empty());
    assert_eq!(digest(&a), before);
}

#[test]
fn replies_and_errors_are_logged() {
    let mut a = app();
    let c = one_call(a.update(key('n')));
    a.update(UiEvent::CallDone {
        id: c.id,
        result: Ok(json!(true)),
        ms: 3.0,
    });
    assert_eq!(
        a.log.last().unwrap().text,
        "nvmf_subsystem_listener_set_ana_state → true (3 ms)"
    );
    let c = one_call(a.update(key('p')));
    a.update(UiEvent::CallDone {
        id: c.id,
        result: Err("Invalid parameters".into()),
        ms: 1.0,
    });
    assert!(a.log.last().unwrap().text.contains("✗ Invalid parameters"));
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("Invalid parameters"));
    // An unknown id (a late reply after a restart, say) is ignored.
    let n = a.log.len();
    a.update(UiEvent::CallDone {
        id: 9999,
        result: Ok(json!(1)),
        ms: 1.0,
    });
    assert_eq!(a.log.len(), n);
}

#[test]
fn autostart_fires_once_when_the_load_is_idle() {
    let mut a = app();
    a.autostart = true;
    let fx = a.update(UiEvent::Snapshot(a.snap.clone()));
    assert!(fx.is_empty(), "already running");
    assert!(!a.autostart);
    let mut b = app();
    b.autostart = true;
    let mut s = (*b.snap).clone();
    s.load.running = Some(false);
    let c = one_call(b.update(UiEvent::Snapshot(Arc::new(s.clone()))));
    assert_eq!(c.method, "perform_tests");
    assert!(
        b.update(UiEvent::Snapshot(Arc::new(s))).is_empty(),
        "only once"
    );
}

#[test]
fn mouse_click_focuses_and_selects_wheel_scrolls() {
    let mut a = app();
    a.update(UiEvent::Resize(120, 40));
    let areas = mpath_console::ui::layout::compute(120, 40, &a);
    let r = areas.get(Pane::Paths).unwrap();
    let click = |x, y| {
        UiEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Border, header, first row, second row.
    a.update(click(r.x + 5, r.y + 3));
    assert_eq!((a.focus, a.sel[Pane::Paths.index()]), (Pane::Paths, 1));
    let c = areas.get(Pane::Conns).unwrap();
    a.update(UiEvent::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: c.x + 3,
        row: c.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.sel[Pane::Conns.index()], 1);
    assert_eq!(a.focus, Pane::Paths, "the wheel does not move the focus");
}

// ---- the `:` command line -------------------------------------------------

fn type_line(a: &mut App, s: &str) {
    a.update(key(':'));
    for c in s.chars() {
        let ev = KeyEvent::new_with_kind(KeyCode::Char(c), KeyModifiers::NONE, KeyEventKind::Press);
        a.update(UiEvent::Key(ev));
    }
}

fn run_line(s: &str) -> (App, Vec<Effect>) {
    let mut a = app();
    type_line(&mut a, s);
    let fx = a.update(code(KeyCode::Enter));
    (a, fx)
}

/// (command, params spdk-rpc 26.5 sends), from `spdk-rpc --dry-run`.
const SPDK_RPC_DRY_RUN: &[(&str, &str)] = &[
    (
        "nvmf_subsystem_listener_set_ana_state nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.1 -s 4420 -n non_optimized",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "ana_state": "non_optimized", "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}}"#,
    ),
    (
        "nvmf_subsystem_listener_set_ana_state nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.2 -s 5520 -n inaccessible -g 1 -f ipv4",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "ana_state": "inaccessible", "anagrpid": 1, "listen_address": {"trtype": "tcp", "traddr": "127.0.0.2", "adrfam": "ipv4", "trsvcid": "5520"}}"#,
    ),
    (
        "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active",
        r#"{"name": "Nvme0n1", "policy": "active_active"}"#,
    ),
    (
        "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active -s queue_depth -r 8",
        r#"{"name": "Nvme0n1", "policy": "active_active", "selector": "queue_depth", "rr_min_io": 8}"#,
    ),
    (
        "bdev_nvme_set_preferred_path -b Nvme0n1 -c 2",
        r#"{"name": "Nvme0n1", "cntlid": 2}"#,
    ),
    (
        "bdev_nvme_get_io_paths -n Nvme0n1",
        r#"{"name": "Nvme0n1"}"#,
    ),
    (
        "bdev_nvme_get_io_paths",
        r#"null"#,
    ),
    (
        "nvmf_get_subsystems",
        r#"null"#,
    ),
    (
        "nvmf_get_subsystems nqn.2022-02.io.spdk:cnode0",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0"}"#,
    ),
    (
        "nvmf_subsystem_get_qpairs nqn.2022-02.io.spdk:cnode0",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0"}"#,
    ),
    (
        "nvmf_create_transport -t tcp -o -u 8192",
        r#"{"no_srq": false, "c2h_success": false, "trtype": "tcp", "io_unit_size": 8192, "zcopy": false, "dif_insert_or_strip": false, "no_wr_batching": false, "disable_mappable_bar0": false, "disable_adaptive_irq": false, "disable_shadow_doorbells": false, "disable_command_passthru": false}"#,
    ),
    (
        "nvmf_create_subsystem nqn.2022-02.io.spdk:cnode0 -a -s SPDK00000000000001 -r",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "serial_number": "SPDK00000000000001", "allow_any_host": true, "ana_reporting": true, "passthrough": false, "enable_nssr": false}"#,
    ),
    (
        "bdev_malloc_create 64 512 -b Malloc0",
        r#"{"num_blocks": 131072, "block_size": 512, "name": "Malloc0", "md_interleave": false, "dif_is_head_of_md": false}"#,
    ),
    (
        "nvmf_subsystem_add_ns nqn.2022-02.io.spdk:cnode0 Malloc0",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "namespace": {"bdev_name": "Malloc0", "no_auto_visible": false, "hide_metadata": false}}"#,
    ),
    (
        "nvmf_subsystem_add_listener -t tcp -a 127.0.0.1 -s 4420 nqn.2022-02.io.spdk:cnode0",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "secure_channel": false, "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}}"#,
    ),
    (
        "bdev_nvme_set_options -r -1",
        r#"{"delay_cmd_submit": true, "bdev_retry_count": -1, "disable_auto_failback": false, "generate_uuids": false, "nvme_error_stat": false, "io_path_stat": false, "allow_accel_sequence": false, "enable_flush": false}"#,
    ),
    (
        "bdev_nvme_attach_controller -b Nvme0 -t tcp -a 127.0.0.2 -s 5520 -f ipv4 -n nqn.2022-02.io.spdk:cnode0 -x multipath -l -1 -o 10",
        r#"{"name": "Nvme0", "trtype": "tcp", "traddr": "127.0.0.2", "adrfam": "ipv4", "trsvcid": "5520", "subnqn": "nqn.2022-02.io.spdk:cnode0", "prchk_reftag": false, "prchk_guard": false, "hdgst": false, "ddgst": false, "multipath": "multipath", "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": 10, "allow_unrecognized_csi": false}"#,
    ),
    (
        "bdev_get_iostat",
        r#"{"per_channel": false}"#,
    ),
    (
        "bdev_get_bdevs -b Nvme0n1",
        r#"{"name": "Nvme0n1"}"#,
    ),
    (
        "rpc_get_methods",
        r#"{"current": false, "include_aliases": false}"#,
    ),
    (
        "nvmf_subsystem_allow_any_host nqn.2022-02.io.spdk:cnode0 --no-allow-any-host",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "allow_any_host": false}"#,
    ),
    (
        "bdev_nvme_reset_controller Nvme0 -c 1",
        r#"{"name": "Nvme0", "cntlid": 1}"#,
    ),
    (
        "bdev_nvme_detach_controller Nvme0 -t tcp -a 127.0.0.1 -s 4420",
        r#"{"name": "Nvme0", "trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}"#,
    ),
    (
        "nvmf_subsystem_remove_listener nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.1 -s 4420",
        r#"{"nqn": "nqn.2022-02.io.spdk:cnode0", "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}}"#,
    ),
    (
        "bdev_nvme_set_options --policy active_active --selector queue_depth",
        r#"{"delay_cmd_submit": true, "disable_auto_failback": false, "generate_uuids": false, "nvme_error_stat": false, "io_path_stat": false, "allow_accel_sequence": false, "enable_flush": false, "multipath_opts": {"policy": "active_active", "selector": "queue_depth"}}"#,
    ),
];

#[test]
fn command_lines_send_what_spdk_rpc_sends() {
    for (line, want) in SPDK_RPC_DRY_RUN {
        let want: Value = serde_json::from_str(want).unwrap();
        let want = if want == json!({}) { Value::Null } else { want };
        let (a, fx) = run_line(line);
        let c = one_call(fx);
        assert_eq!(c.params.clone().unwrap_or(Value::Null), want, "{line}");
        let method = line.split_whitespace().next().unwrap();
        assert_eq!(c.method, method);
        let app = if method.starts_with("nvmf_")
            || method.starts_with("bdev_malloc")
            || method == "rpc_get_methods"
        {
            Engine::Target
        } else {
            Engine::Initiator
        };
        assert_eq!(c.app, app, "{line}");
        assert!(a.cmd.is_none(), "closed after sending");
        assert_eq!(a.history.items.last().map(String::as_str), Some(*line));
    }
}

#[test]
fn howto_lines_with_program_and_socket_are_accepted() {
    // Pasted from the HOWTO: the program and -s are accepted; -s names no
    // socket of ours, so the method name routes it (and we say so).
    let (a, fx) = run_line(
        "./scripts/rpc.py -s /tmp/bdevperf.sock bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active",
    );
    let c = one_call(fx);
    assert_eq!(
        (c.app, c.params),
        (
            Engine::Initiator,
            Some(json!({"name": "Nvme0n1", "policy": "active_active"}))
        )
    );
    assert!(
        a.status.is_none(),
        "/tmp/bdevperf.sock is the fixture's initiator socket"
    );
    let (a, fx) = run_line("rpc.py -s /var/run/other.sock nvmf_get_subsystems");
    assert_eq!(one_call(fx).app, Engine::Target);
    assert!(a
        .status
        .unwrap()
        .text
        .contains("-s /var/run/other.sock is not one of ours"));
    // -s naming one of ours picks that application (bdev_get_bdevs exists
    // on both).
    let (_, fx) = run_line("spdk-rpc -s /var/tmp/spdk.sock bdev_get_bdevs");
    assert_eq!(one_call(fx).app, Engine::Target);
    let (_, fx) = run_line(
        "bdevperf.py -t 1 -s /tmp/bdevperf.sock perform_tests -q 64 -w randread -t 10 -M 0",
    );
    let c = one_call(fx);
    assert_eq!(
        c.params,
        Some(json!({"queue_depth": 64, "workload_type": "randread", "time_in_sec": 10}))
    );
    assert!(c.background);
}

#[test]
fn generic_methods_take_key_values_flags_or_json() {
    let (_, fx) = run_line("mpath_host_events since=5");
    let c = one_call(fx);
    assert_eq!(
        (c.app, c.params),
        (Engine::Initiator, Some(json!({"since": 5})))
    );
    let (_, fx) = run_line(
        r#"mpath_listener_drop_connections '{"listen_address":{"trtype":"tcp","traddr":"127.0.0.1","trsvcid":"4420"}}'"#,
    );
    let c = one_call(fx);
    assert_eq!(c.app, Engine::Target);
    assert_eq!(c.params.unwrap()["listen_address"]["trsvcid"], "4420");
    // Not in spdk-rpc's table: flags become keys.
    let (_, fx) = run_line("mpath_perf_status --some-flag x --on");
    let c = one_call(fx);
    assert_eq!(
        (c.app, c.params.clone()),
        (
            Engine::Initiator,
            Some(json!({"some_flag": "x", "on": true}))
        )
    );
    assert_eq!(
        c.line,
        r#"spdk-rpc -s /tmp/bdevperf.sock mpath_perf_status '{"some_flag":"x","on":true}'"#
    );
    // Neither application lists it: refused, whatever its prefix.
    for m in ["framework_get_reactors", "nvmf_frobnicate"] {
        let (a, fx) = run_line(m);
        assert!(fx.is_empty(), "{m}");
        assert!(a
            .cmd
            .unwrap()
            .msg
            .unwrap()
            .contains("neither application lists it"));
    }
}

#[test]
fn bad_command_lines_send_nothing_and_say_why() {
    for (line, why) in [
        (
            "nvmf_subsystem_listener_set_ana_state nqn.x -t tcp -a 127.0.0.1 -s 4420",
            "required: -n/--ana-state",
        ),
        (
            "nvmf_subsystem_listener_set_ana_state nqn.x -t tcp -a 1.2.3.4 -s 4420 -n fast",
            "invalid choice \"fast\"",
        ),
        (
            "bdev_nvme_set_preferred_path -b Nvme0n1 -c two",
            "invalid int value \"two\"",
        ),
        (
            "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active --bogus",
            "unknown option --bogus",
        ),
        ("nvmf_get_subsystems 'unterminated", "unterminated"),
        ("NotAMethod", "not an RPC method name"),
        ("mpath_host_events {bad json", "not valid JSON"),
        ("-q nvmf_get_subsystems", "unknown global option -q"),
    ] {
        let (a, fx) = run_line(line);
        assert!(fx.is_empty(), "{line}: {fx:?}");
        let cmd = a.cmd.as_ref().expect("the line stays open for fixing");
        assert!(cmd.msg_is_error);
        let msg = cmd.msg.as_deref().unwrap();
        assert!(msg.contains(why), "{line}: {msg}");
        assert_eq!(cmd.input.value(), line);
        assert!(a.log.is_empty(), "nothing logged as sent");
    }
}

#[test]
fn dry_run_shows_the_request_and_sends_nothing() {
    let (a, fx) = run_line("--dry-run bdev_nvme_get_io_paths -n Nvme0n1");
    assert!(fx.is_empty());
    let Overlay::Result { lines, error, .. } = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    assert!(!error);
    let text = lines.join("\n");
    assert!(
        text.contains("\"method\": \"bdev_nvme_get_io_paths\"")
            && text.contains("\"name\": \"Nvme0n1\""),
        "{text}"
    );
}

#[test]
fn cmdline_results_open_a_viewer() {
    let (mut a, fx) = run_line("nvmf_get_subsystems");
    let c = one_call(fx);
    a.update(UiEvent::CallDone {
        id: c.id,
        result: Ok(json!([{"nqn": "x"}])),
        ms: 2.0,
    });
    let Overlay::Result {
        title,
        lines,
        error,
        ..
    } = &a.overlay
    else {
        panic!()
    };
    assert!(title.starts_with("nvmf_get_subsystems") && !error);
    assert!(lines.iter().any(|l| l.contains("\"nqn\": \"x\"")));
    a.update(code(KeyCode::Esc));
    assert_eq!(a.overlay, Overlay::None);
}

#[test]
fn tab_completes_methods_flags_and_choices_and_cycles() {
    let mut a = app();
    type_line(&mut a, "bdev_nvme_set_m");
    a.update(code(KeyCode::Tab));
    assert_eq!(
        a.cmd.as_ref().unwrap().input.value(),
        "bdev_nvme_set_multipath_policy "
    );
    for c in "-b Nvme0n1 -p ".chars() {
        a.update(key(c));
    }
    a.update(code(KeyCode::Tab));
    let cmd = a.cmd.as_ref().unwrap();
    assert_eq!(cmd.completions, ["active_active", "active_passive"]);
    assert_eq!(
        cmd.input.value(),
        "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_"
    );
    a.update(code(KeyCode::Tab));
    assert_eq!(
        a.cmd.as_ref().unwrap().input.value(),
        "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_active"
    );
    a.update(code(KeyCode::Tab));
    assert_eq!(
        a.cmd.as_ref().unwrap().input.value(),
        "bdev_nvme_set_multipath_policy -b Nvme0n1 -p active_passive"
    );
    a.update(code(KeyCode::Enter)); // accept the choice
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(c.params.unwrap()["policy"], "active_passive");
    // NQNs complete from the snapshot.
    let mut b = app();
    type_line(&mut b, "nvmf_subsystem_get_qpairs nqn.2022");
    b.update(code(KeyCode::Tab));
    assert_eq!(
        b.cmd.as_ref().unwrap().input.value(),
        "nvmf_subsystem_get_qpairs nqn.2022-02.io.spdk:cnode0 "
    );
}

#[test]
fn history_recalls_with_up_and_down() {
    let mut a = app();
    for l in ["nvmf_get_subsystems", "bdev_nvme_get_io_paths -n Nvme0n1"] {
        type_line(&mut a, l);
        a.update(code(KeyCode::Enter));
    }
    a.update(key(':'));
    a.update(code(KeyCode::Up));
    assert_eq!(
        a.cmd.as_ref().unwrap().input.value(),
        "bdev_nvme_get_io_paths -n Nvme0n1"
    );
    a.update(code(KeyCode::Up));
    assert_eq!(a.cmd.as_ref().unwrap().input.value(), "nvmf_get_subsystems");
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Down));
    assert_eq!(a.cmd.as_ref().unwrap().input.value(), "");
    a.update(code(KeyCode::Esc));
    assert!(a.cmd.is_none());
}

#[test]
fn user_keymap_and_theme_files_fail_clearly() {
    use mpath_console::ui::{make_app, UiOpts};
    let dir = tempfile::tempdir().unwrap();
    let km = dir.path().join("keys.json");
    std::fs::write(&km, r#"{"ana.optimized": "ctrl-alt-banana"}"#).unwrap();
    let opts = UiOpts {
        keymap: Some(km.display().to_string()),
        ..UiOpts::default()
    };
    let e = make_app(&opts).err().unwrap().to_string();
    assert!(
        e.contains("keys.json") && e.contains("ana.optimized") && e.contains("unknown key"),
        "{e}"
    );
    std::fs::write(&km, r#"{"ana.optimized": "O"}"#).unwrap();
    let mut a = make_app(&opts).unwrap();
    a.update(UiEvent::Snapshot(Arc::new(fixture::snapshot())));
    assert_eq!(
        one_call(a.update(key('O'))).params.unwrap()["ana_state"],
        "optimized"
    );
    let th = dir.path().join("t.json");
    std::fs::write(&th, r#"{"ana": {"optimized": {"fg": "grean"}}}"#).unwrap();
    let opts = UiOpts {
        theme: Some(th.display().to_string()),
        ..UiOpts::default()
    };
    let e = make_app(&opts).err().unwrap().to_string();
    assert!(
        e.contains("t.json") && e.contains("ana.optimized") && e.contains("grean"),
        "{e}"
    );
}

#[test]
fn walkthrough_follows_the_howto() {
    let mut a = app();
    a.walkthrough = true;
    a.update(UiEvent::Snapshot(a.snap.clone()));
    // Set up and one busy path: the next step is the ANA switch.
    assert_eq!(a.walk_step, 2);
    with_snapshot(&mut a, |s| {
        s.listeners[0].ana_states[0].1 = "non_optimized".into();
        s.paths[0].current = false;
        s.paths[1].current = true;
    });
    assert_eq!(a.walk_step, 3);
    with_snapshot(&mut a, |s| {
        s.listeners[0].ana_states[0].1 = "optimized".into()
    });
    assert_eq!(a.walk_step, 4);
    with_snapshot(&mut a, |s| {
        s.policy = Some("active_active".into());
        s.paths[1].iops = mpath_console::ui::snapshot::Metric::Value(12_000.0);
    });
    assert_eq!(a.walk_step, 5, "the last step stays open");
    // Done steps stay done when the state moves on.
    with_snapshot(&mut a, |s| s.policy = Some("active_passive".into()));
    assert_eq!(a.walk_step, 5);
}

/// The walkthrough's "first listener" is the first one the HOWTO added
/// (the last of the subsystem's `listen_addresses`, which SPDK lists
/// newest first), not the Listeners pane's first row: with free addresses
/// or ports the pane's order can put the second one first.
#[test]
fn walkthrough_uses_the_first_listener_added_whatever_the_list_order() {
    use mpath_console::ui::walkthrough;
    let mut a = app();
    a.walkthrough = true;
    with_snapshot(&mut a, |s| {
        // 4420 was taken: the first listener got 45123, listed after
        // 5520 in the pane.
        s.subsystems[0].listen_addresses = vec!["127.0.0.2:5520".into(), "127.0.0.1:45123".into()];
        s.listeners.reverse();
        s.listeners[1].trsvcid = "45123".into();
        s.paths[0].trsvcid = "45123".into();
        s.history.per_path[0].0 = "127.0.0.1:45123".into();
    });
    assert_eq!(a.snap.listeners[0].addr(), "127.0.0.2:5520");
    assert_eq!(a.walk_step, 2, "set up, and I/O on the first one added");
    let st = walkthrough::steps();
    let what = (st[2].what)(&a.snap);
    assert!(
        what.contains("Select 127.0.0.1:45123") && what.contains("moves to 127.0.0.2:5520"),
        "{what}"
    );
    let rpc = (st[2].rpc)(&a.snap).unwrap();
    assert!(
        rpc.ends_with("-a 127.0.0.1 -s 45123 -n non_optimized"),
        "{rpc}"
    );
    // The pane's first row going non_optimized is not the step.
    with_snapshot(&mut a, |s| {
        s.listeners[0].ana_states[0].1 = "non_optimized".into();
    });
    assert_eq!(a.walk_step, 2);
    // The first one added going non_optimized, I/O on the second: done.
    with_snapshot(&mut a, |s| {
        s.listeners[0].ana_states[0].1 = "optimized".into();
        s.listeners[1].ana_states[0].1 = "non_optimized".into();
        s.paths[0].current = false;
        s.paths[1].current = true;
    });
    assert_eq!(a.walk_step, 3);
    let what = (walkthrough::steps()[3].what)(&a.snap);
    assert!(what.contains("Press o on 127.0.0.1:45123"), "{what}");
}

/// Real SPDK bdevperf has `perform_tests` but no `mpath_perf_stop` (its
/// method list in `tests/golden/spdk-v24.09/rpc/16-rpc_get_methods.json`):
/// a ten-year run could never be stopped, so `w` and Space start a finite
/// one and say so.
#[test]
fn without_mpath_perf_stop_runs_are_finite_and_say_so() {
    use mpath_console::ui::app::FINITE_RUN_SECS;
    let mut a = app();
    with_snapshot(&mut a, |s| {
        s.initiator.methods = Some(
            [
                "perform_tests",
                "bdev_get_bdevs",
                "bdev_get_iostat",
                "bdev_nvme_get_io_paths",
                "bdev_nvme_get_controllers",
                "rpc_get_methods",
            ]
            .map(String::from)
            .to_vec(),
        );
        s.load.running = Some(false);
    });
    // Space, idle, Enter: a finite run.
    a.update(key(' '));
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(c.method, "perform_tests");
    assert_eq!(c.params.as_ref().unwrap()["time_in_sec"], FINITE_RUN_SECS);
    assert_eq!(FINITE_RUN_SECS, 60);
    assert!(c.background);
    let st = a.status.clone().expect("a status line");
    assert!(
        st.text.contains("60 s run") && st.text.contains("mpath_perf_stop"),
        "{}",
        st.text
    );
    // `w`, idle: the chosen workload, finite too.
    a.status = None;
    a.update(key('w'));
    a.update(key('3'));
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(
        c.params,
        Some(
            json!({"time_in_sec": FINITE_RUN_SECS, "workload_type": "write",
                    "queue_depth": 128, "io_size": "4096"})
        )
    );
    assert!(a.status.as_ref().unwrap().text.contains("60 s run"));
    // With mpath_perf_stop (ours), still open-ended.
    let mut a = app();
    with_snapshot(&mut a, |s| s.load.running = Some(false));
    a.update(key(' '));
    let c = one_call(a.update(code(KeyCode::Enter)));
    assert_eq!(c.params.unwrap()["time_in_sec"], FOREVER_SECS);
}

// ---- popups, Events scrolling, the command line's edges ------------------

/// A `:` result of `n` lines, open.
fn with_result(a: &mut App, n: usize) {
    let (mut b, fx) = run_line("nvmf_get_subsystems");
    let c = one_call(fx);
    let v: Vec<Value> = (0..n).map(|i| json!(i)).collect();
    b.update(UiEvent::CallDone {
        id: c.id,
        result: Ok(json!(v)),
        ms: 1.0,
    });
    assert!(matches!(b.overlay, Overlay::Result { .. }));
    a.overlay = b.overlay.clone();
}

#[test]
fn a_short_result_closes_on_any_key_which_then_acts() {
    let mut a = app();
    a.update(UiEvent::Resize(160, 45));
    // j: the popup closes and the selection moves.
    with_result(&mut a, 2);
    assert!(a.update(key('j')).is_empty());
    assert_eq!(a.overlay, Overlay::None);
    assert_eq!(a.sel[Pane::Listeners.index()], 1);
    // G, g: the same.
    with_result(&mut a, 2);
    a.update(key('g'));
    assert_eq!(
        (a.sel[Pane::Listeners.index()], &a.overlay),
        (0, &Overlay::None)
    );
    // p: closes and toggles the policy.
    with_result(&mut a, 2);
    let c = one_call(a.update(key('p')));
    assert_eq!(c.method, "bdev_nvme_set_multipath_policy");
    assert_eq!(a.overlay, Overlay::None);
    // Space pauses; `:` opens a fresh line.
    with_result(&mut a, 2);
    assert_eq!(one_call(a.update(key(' '))).method, "mpath_perf_stop");
    with_result(&mut a, 2);
    a.update(key(':'));
    assert_eq!(a.overlay, Overlay::None);
    assert_eq!(a.cmd.as_ref().unwrap().input.value(), "");
}

#[test]
fn a_tall_result_scrolls_with_j_k_g_g_and_closes_on_other_keys() {
    let mut a = app();
    a.update(UiEvent::Resize(160, 45));
    with_result(&mut a, 200);
    let scroll = |a: &App| match &a.overlay {
        Overlay::Result { scroll, .. } => Some(*scroll),
        _ => None,
    };
    a.update(key('j'));
    a.update(key('j'));
    assert_eq!(scroll(&a), Some(2));
    a.update(key('k'));
    assert_eq!(scroll(&a), Some(1));
    a.update(key('G'));
    let bottom = scroll(&a).unwrap();
    assert!(bottom > 100, "{bottom}");
    // At the bottom, j stays and k moves up at once.
    a.update(key('j'));
    assert_eq!(scroll(&a), Some(bottom));
    a.update(key('k'));
    assert_eq!(scroll(&a), Some(bottom - 1));
    a.update(key('g'));
    assert_eq!(scroll(&a), Some(0));
    assert_eq!(a.sel[Pane::Listeners.index()], 0, "the table did not move");
    let c = one_call(a.update(key('n')));
    assert_eq!(c.method, "nvmf_subsystem_listener_set_ana_state");
    assert_eq!(scroll(&a), None);
}

#[test]
fn events_g_puts_the_oldest_at_the_top_and_capital_g_follows() {
    let mut a = app();
    a.update(UiEvent::Resize(120, 40));
    for i in 0..60 {
        a.log.push(mpath_console::ui::snapshot::LogEntry {
            at: 1.0 + f64::from(i),
            kind: mpath_console::ui::snapshot::LogKind::Info,
            text: format!("entry {i}"),
        });
    }
    while a.focus != Pane::Events {
        a.update(code(KeyCode::Tab));
    }
    assert_eq!(a.events_top, None, "following the newest");
    a.update(key('g'));
    assert_eq!(a.events_top, Some(0));
    a.update(key('j'));
    assert_eq!(a.events_top, Some(1));
    a.update(key('k'));
    a.update(key('k'));
    assert_eq!(a.events_top, Some(0), "clamped at the oldest");
    // Down past the last page follows again.
    for _ in 0..100 {
        a.update(key('j'));
    }
    assert_eq!(a.events_top, None);
    a.update(key('k'));
    assert!(a.events_top.is_some());
    a.update(key('G'));
    assert_eq!(a.events_top, None);
}

#[test]
fn command_errors_reach_the_status_line() {
    let (mut a, fx) = run_line("nvmf_get_subsystems");
    let c = one_call(fx);
    a.update(UiEvent::CallDone {
        id: c.id,
        result: Err("Method not found (code -32601)".into()),
        ms: 1.0,
    });
    assert!(matches!(a.overlay, Overlay::Result { error: true, .. }));
    a.update(code(KeyCode::Esc));
    let st = a.status.as_ref().expect("a status line");
    assert!(
        st.text.contains("nvmf_get_subsystems") && st.text.contains("Method not found"),
        "{}",
        st.text
    );
}

#[test]
fn esc_with_the_completion_menu_open_leaves_the_line() {
    let mut a = app();
    type_line(&mut a, "bdev_nvme_set_multipath_policy -b Nvme0n1 -p ");
    a.update(code(KeyCode::Tab));
    assert!(!a.cmd.as_ref().unwrap().completions.is_empty());
    a.update(code(KeyCode::Esc));
    assert!(a.cmd.is_none(), "one Esc leaves the line");
    // The next `:` starts an empty line.
    a.update(key(':'));
    assert_eq!(a.cmd.as_ref().unwrap().input.value(), "");
}

/// Esc then `:` typed fast reach the console as one Alt+`:`: it is
/// still an Esc and a `:`, so a second dry run works like the first.
#[test]
fn dry_run_works_every_time_even_with_esc_and_colon_together() {
    let alt_colon = UiEvent::Key(KeyEvent::new_with_kind(
        KeyCode::Char(':'),
        KeyModifiers::ALT,
        KeyEventKind::Press,
    ));
    let mut a = app();
    for name in ["x", "y", "z"] {
        a.update(alt_colon.clone());
        for c in format!("--dry-run bdev_get_bdevs -b {name}").chars() {
            a.update(key(c));
        }
        assert!(a.update(code(KeyCode::Enter)).is_empty());
        let Overlay::Result { lines, .. } = &a.overlay else {
            panic!("{name}: {:?}", a.overlay)
        };
        assert!(
            lines.join("\n").contains(&format!("\"name\": \"{name}\"")),
            "{lines:?}"
        );
    }
}

#[test]
fn the_footer_offers_the_fault_keys_and_the_theme() {
    let k = mpath_console::ui::keymap::Keymap::default();
    let hints: Vec<String> = k.hints().into_iter().map(|(k, _)| k).collect();
    for want in ["b/d/r", "T", ":", "?", "q"] {
        assert!(hints.iter().any(|h| h == want), "{want}: {hints:?}");
    }
    // The command line is never the hint a narrow footer drops.
    assert!(
        hints.iter().position(|h| h == ":").unwrap() < 3,
        "{hints:?}"
    );
}

/// In the `:` line an Alt key (Alt+b, a word motion in line editors)
/// neither closes the line nor reaches the `b` (blackhole) key.
#[test]
fn alt_keys_in_the_command_line_stay_in_the_line() {
    let mut a = app();
    type_line(&mut a, "nvmf_get_subsystems");
    let alt_b = UiEvent::Key(KeyEvent::new_with_kind(
        KeyCode::Char('b'),
        KeyModifiers::ALT,
        KeyEventKind::Press,
    ));
    assert!(a.update(alt_b).is_empty());
    let cmd = a.cmd.as_ref().expect("the line stays open");
    assert_eq!(cmd.input.value(), "nvmf_get_subsystems");
}
