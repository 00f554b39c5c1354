//! `run --walkthrough`: the HOWTO's steps beside the panes, for trainers.
//! Each step says which key to press and the `spdk-rpc` command it stands
//! for, and is ticked off when the snapshot shows its effect (a step, once
//! done, stays done).

use super::snapshot::{Listener, Snapshot};

pub struct Step {
    pub title: &'static str,
    /// What to do, with the keys.
    pub what: fn(&Snapshot) -> String,
    /// The equivalent command, if there is one.
    pub rpc: fn(&Snapshot) -> Option<String>,
    /// Whether the snapshot shows it done.
    pub done: fn(&Snapshot) -> bool,
}

/// The HOWTO's listeners in the order they were added: the subsystem's
/// `listen_addresses` read backwards (SPDK inserts a new listener at the
/// head of the list, so `nvmf_get_subsystems` names the newest first; our
/// target does the same), then any the subsystem entry does not name.
/// The Listeners pane sorts by address and port, which is not the
/// HOWTO's order when the addresses or ports had to be chosen freely, so
/// "first" must not mean the pane's first row.
fn in_added_order(s: &Snapshot) -> Vec<&Listener> {
    let mut out: Vec<&Listener> = Vec::new();
    let sub = s
        .subsystems
        .iter()
        .find(|x| x.nqn == s.nqn)
        .or_else(|| s.subsystems.iter().find(|x| x.subtype != "Discovery"));
    if let Some(sub) = sub {
        for a in sub.listen_addresses.iter().rev() {
            if let Some(l) = s
                .listeners
                .iter()
                .find(|l| l.nqn == sub.nqn && l.addr() == *a)
            {
                if !out.iter().any(|o| std::ptr::eq(*o, l)) {
                    out.push(l);
                }
            }
        }
    }
    for l in &s.listeners {
        if !out.iter().any(|o| std::ptr::eq(*o, l)) {
            out.push(l);
        }
    }
    out
}

/// The first listener the HOWTO added (127.0.0.1:4420).
fn first(s: &Snapshot) -> Option<&Listener> {
    in_added_order(s).first().copied()
}

/// The second one (127.0.0.2:5520).
fn second(s: &Snapshot) -> Option<&Listener> {
    in_added_order(s).get(1).copied()
}

fn addr(l: Option<&Listener>) -> String {
    l.map_or("the first listener".into(), Listener::addr)
}

fn busy_paths(s: &Snapshot) -> usize {
    s.paths
        .iter()
        .filter(|p| p.iops.value().or(p.mibps.value()).is_some_and(|v| v > 0.0))
        .count()
}

fn ana_cmd(s: &Snapshot, l: Option<&Listener>, state: &str) -> Option<String> {
    let l = l?;
    Some(format!(
        "spdk-rpc nvmf_subsystem_listener_set_ana_state {} -t tcp -a {} -s {} -n {state}",
        l.nqn, l.traddr, l.trsvcid
    ))
    .filter(|_| !s.listeners.is_empty())
}

pub fn steps() -> Vec<Step> {
    vec![
        Step {
            title: "Two listeners, two paths, load running",
            what: |_| {
                "The target listens twice; bdevperf attached both paths and runs verify.".into()
            },
            rpc: |s| Some(format!("spdk-rpc bdev_nvme_get_io_paths -n {}", s.bdev)),
            done: |s| s.listeners.len() >= 2 && s.paths.len() >= 2 && s.load.running == Some(true),
        },
        Step {
            title: "Only the first path carries I/O",
            what: |s| {
                format!(
                    "active_passive: I/O goes to {} (★). In Connections (ss -tni) only its queues move.",
                    addr(first(s))
                )
            },
            rpc: |_| None,
            done: |s| {
                s.policy.as_deref() == Some("active_passive")
                    && busy_paths(s) == 1
                    && first(s).is_some_and(|l| {
                        s.paths
                            .iter()
                            .any(|p| p.current && p.traddr == l.traddr && p.trsvcid == l.trsvcid)
                    })
            },
        },
        Step {
            title: "Switch paths with ANA",
            what: |s| {
                format!(
                    "Select {} in Listeners and press n (non_optimized): I/O moves to {}.",
                    addr(first(s)),
                    addr(second(s))
                )
            },
            rpc: |s| ana_cmd(s, first(s), "non_optimized"),
            done: |s| {
                let (Some(a), Some(b)) = (first(s), second(s)) else {
                    return false;
                };
                a.ana_state() == Some("non_optimized")
                    && s.paths
                        .iter()
                        .any(|p| p.current && p.traddr == b.traddr && p.trsvcid == b.trsvcid)
            },
        },
        Step {
            title: "Both listeners optimized again",
            what: |s| format!("Press o on {}.", addr(first(s))),
            rpc: |s| ana_cmd(s, first(s), "optimized"),
            done: |s| {
                !s.listeners.is_empty()
                    && s.listeners
                        .iter()
                        .all(|l| l.ana_state() == Some("optimized"))
            },
        },
        Step {
            title: "Round-robin over both paths",
            what: |_| {
                "Press p (active_active): both connections carry traffic, both queues build up."
                    .into()
            },
            rpc: |s| {
                Some(format!(
                    "spdk-rpc bdev_nvme_set_multipath_policy -b {} -p active_active",
                    s.bdev
                ))
            },
            done: |s| s.policy.as_deref() == Some("active_active") && busy_paths(s) >= 2,
        },
        Step {
            title: "Explore",
            what: |_| {
                "s: queue_depth selector · P: preferred path · x: drop a path's connections · : any RPC · ?: help"
                    .into()
            },
            rpc: |_| None,
            done: |_| false,
        },
    ]
}

/// The first step not yet done, starting from `from` (steps are done in
/// order).
pub fn advance(from: usize, s: &Snapshot) -> usize {
    let st = steps();
    let mut i = from;
    while i + 1 < st.len() && (st[i].done)(s) {
        i += 1;
    }
    i
}
