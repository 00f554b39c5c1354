//! `bench --chaos`: under the verify load, flip ANA states at random every
//! 100–500 ms and inject a random fault every 2–5 s (drop a listener's
//! connections; blackhole it or delay its answers by 10–200 ms, each for
//! 1–3 s), always leaving at least one path usable; count what happened. Everything goes through the
//! target's RPC, like an operator (or a test harness) would do it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::rng::Rng;
use crate::rpc::Router;
use crate::scenario::HOWTO_NQN;

const STATES: [&str; 3] = ["optimized", "non_optimized", "inaccessible"];

/// The faults injected: (event name, method).
const FAULTS: [(&str, &str); 3] = [
    ("fault: drop connections", "mpath_listener_drop_connections"),
    ("fault: blackhole", "mpath_listener_blackhole"),
    ("fault: delay", "mpath_listener_delay"),
];

/// What one listener is doing to its path right now.
#[derive(Clone)]
struct Lane {
    addr: SocketAddr,
    ana: &'static str,
    /// Connections dropped or blackholed: the path is down until the host
    /// has reconnected.
    down_until: Option<Instant>,
    /// A blackhole or delay in force, lifted (`mpath_listener_restore`) then.
    restore_at: Option<Instant>,
}

impl Lane {
    fn usable(&self, now: Instant) -> bool {
        self.ana != "inaccessible" && self.down_until.is_none_or(|t| now >= t)
    }
}

/// Runs until `stop` flips; returns how many of each event happened.
pub async fn run(
    target: Arc<Router>,
    listeners: Vec<SocketAddr>,
    seed: u64,
    reconnect_delay: Duration,
    mut stop: watch::Receiver<bool>,
) -> BTreeMap<String, u64> {
    if listeners.is_empty() {
        tracing::warn!("chaos: no listener to act on");
        return BTreeMap::new();
    }
    let mut rng = Rng::new(seed);
    let mut lanes: Vec<Lane> = listeners
        .iter()
        .map(|&addr| Lane {
            addr,
            ana: "optimized",
            down_until: None,
            restore_at: None,
        })
        .collect();
    let mut counts = BTreeMap::new();
    let start = Instant::now();
    let mut next_fault = start + Duration::from_millis(rng.range(2000, 5000));
    loop {
        let wait = Duration::from_millis(rng.range(100, 500));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
        let now = Instant::now();
        for l in lanes
            .iter_mut()
            .filter(|l| l.restore_at.is_some_and(|t| now >= t))
        {
            let la = listen_address(l.addr);
            if call(
                &target,
                "mpath_listener_restore",
                json!({"listen_address": la}),
            )
            .await
            {
                l.restore_at = None;
                *counts.entry("fault lifted".into()).or_insert(0) += 1;
            }
        }
        let i = rng.range(0, lanes.len() as u64 - 1) as usize;
        // Only hit a lane if another one stays usable meanwhile; a fault
        // that is due but cannot strike yet is tried again next turn (an
        // ANA flip meanwhile may free a lane), not skipped.
        let others_ok = lanes
            .iter()
            .enumerate()
            .any(|(j, l)| j != i && l.usable(now));
        let free = lanes[i].down_until.is_none_or(|t| now >= t) && lanes[i].restore_at.is_none();
        if now >= next_fault && others_ok && free {
            next_fault = now + Duration::from_millis(rng.range(2000, 5000));
            let (name, method) = FAULTS[rng.range(0, FAULTS.len() as u64 - 1) as usize];
            let mut params = json!({"listen_address": listen_address(lanes[i].addr)});
            let hold = Duration::from_millis(rng.range(1000, 3000));
            if method == "mpath_listener_delay" {
                params["delay_ms"] = json!(rng.range(10, 200));
            }
            if call(&target, method, params).await {
                // Back after the fault, the reconnect delay and bring-up
                // (and for a blackhole, keep-alive noticing it).
                let bringup = reconnect_delay + Duration::from_secs(2);
                match method {
                    "mpath_listener_drop_connections" => {
                        lanes[i].down_until = Some(now + bringup);
                    }
                    "mpath_listener_blackhole" => {
                        lanes[i].restore_at = Some(now + hold);
                        lanes[i].down_until = Some(now + hold + bringup);
                    }
                    _ => lanes[i].restore_at = Some(now + hold),
                }
                *counts.entry(name.into()).or_insert(0) += 1;
            }
            continue;
        }
        let state = STATES[rng.range(0, 2) as usize];
        let mut trial = lanes.clone();
        trial[i].ana = state;
        if !trial.iter().any(|l| l.usable(now)) {
            continue;
        }
        let params = json!({"nqn": HOWTO_NQN, "ana_state": state, "listen_address": listen_address(lanes[i].addr)});
        if call(&target, "nvmf_subsystem_listener_set_ana_state", params).await {
            lanes[i].ana = state;
            *counts.entry(format!("ANA → {state}")).or_insert(0) += 1;
        }
    }
    // Leave every path usable for the drain.
    for l in &lanes {
        call(
            &target,
            "mpath_listener_restore",
            json!({"listen_address": listen_address(l.addr)}),
        )
        .await;
        let params = json!({"nqn": HOWTO_NQN, "ana_state": "optimized", "listen_address": listen_address(l.addr)});
        call(&target, "nvmf_subsystem_listener_set_ana_state", params).await;
    }
    counts
}

fn listen_address(a: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": a.ip().to_string(), "trsvcid": a.port().to_string()})
}

async fn call(r: &Router, method: &str, params: Value) -> bool {
    match r.call(method, Some(params)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!("chaos: {method}: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_replayable_and_in_range() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..1000 {
            let x = a.range(100, 500);
            assert_eq!(x, b.range(100, 500));
            assert!((100..=500).contains(&x));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn a_lane_is_unusable_while_inaccessible_or_down() {
        let now = Instant::now();
        let mut l = Lane {
            addr: "127.0.0.1:1".parse().unwrap(),
            ana: "non_optimized",
            down_until: None,
            restore_at: None,
        };
        assert!(l.usable(now));
        l.down_until = Some(now + Duration::from_secs(1));
        assert!(!l.usable(now));
        assert!(l.usable(now + Duration::from_secs(2)));
        l.down_until = None;
        l.ana = "inaccessible";
        assert!(!l.usable(now));
    }
}
