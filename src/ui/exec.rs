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
                        for c in calls {
                            if c.background {
                                // Started, not awaited: the next call (if
                                // any) must not wait for a whole run.
                                let (control, events) = (control.clone(), events.clone());
                                tokio::spawn(async move { run_one(&*control, c, &events).await });
                                continue;
                            }
                            if !run_one(&*control, c, &events).await {
                                break;
                            }
                        }
                    });
                }
                Effect::Quit => {}
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
    let fut = control.call(c.app, &c.method, c.params.clone());
    let result = if c.background {
        fut.await.map_err(|e| e.to_string())
    } else {
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
