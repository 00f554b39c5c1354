//! The executor: performs the UI's effects through `Control`, each call in
//! its own task (so a `perform_tests` that answers only when its run ends
//! never holds anything up), and reports every result back as a
//! `UiEvent::CallDone`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::app::{CallSpec, Effect, UiEvent};
use crate::control::Control;

/// Deadline of an action's call (not of background ones).
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(10);

pub fn spawn(
    control: Arc<dyn Control>,
    events: mpsc::UnboundedSender<UiEvent>,
) -> mpsc::UnboundedSender<Effect> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Effect>();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            match e {
                Effect::Call(c) => {
                    let (control, events) = (control.clone(), events.clone());
                    tokio::spawn(async move {
                        run_one(&*control, c, &events).await;
                    });
                }
                Effect::Sequence(calls) => {
                    let (control, events) = (control.clone(), events.clone());
                    tokio::spawn(async move {
                        let mut stopped = false;
                        for c in calls {
                            if c.background {
                                if stopped {
                                    // A stopped run winds down before a new
                                    // one may start (bdevperf refuses with
                                    // -EINPROGRESS until then).
                                    wait_idle(&*control).await;
                                }
                                // Started, not awaited: its reply comes when
                                // the run ends.
                                let (control, events) = (control.clone(), events.clone());
                                tokio::spawn(async move { run_one(&*control, c, &events).await });
                                continue;
                            }
                            stopped |= c.method == "mpath_perf_stop";
                            if !run_one(&*control, c, &events).await {
                                break;
                            }
                        }
                    });
                }
                Effect::Quit | Effect::Scope(_) => {}
            }
        }
    });
    tx
}

/// Makes one call; returns whether it succeeded.
async fn run_one(
    control: &dyn Control,
    c: CallSpec,
    events: &mpsc::UnboundedSender<UiEvent>,
) -> bool {
    let t0 = Instant::now();
    let result = if c.background {
        control
            .call_long(c.app, &c.method, c.params.clone())
            .await
            .map_err(|e| e.to_string())
    } else {
        let fut = control.call(c.app, &c.method, c.params.clone());
        match tokio::time::timeout(ACTION_TIMEOUT, fut).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {} s", ACTION_TIMEOUT.as_secs())),
        }
    };
    let ok = result.is_ok();
    let _ = events.send(UiEvent::CallDone {
        id: c.id,
        result,
        ms: t0.elapsed().as_secs_f64() * 1000.0,
    });
    ok
}

/// Waits (at most 5 s) until `mpath_perf_status` says no run is going.
async fn wait_idle(control: &dyn Control) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let r = tokio::time::timeout(
            Duration::from_secs(1),
            control.call(crate::control::Engine::Initiator, "mpath_perf_status", None),
        )
        .await;
        match r {
            Ok(Ok(v)) if v["running"].as_bool() == Some(true) => {}
            _ => return,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
