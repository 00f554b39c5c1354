//! Set-ups as lists of RPC calls: the HOWTO's (the default of `run`,
//! `bench` and `shot`), or one read from a JSON file
//! (`--scenario FILE`): `[{"app": "nvmf_tgt"|"bdevperf", "method": ..,
//! "params": {..}}, ..]`.

use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::{json, Value};

pub const HOWTO_NQN: &str = "nqn.2022-02.io.spdk:cnode0";

/// Which engine a call goes to, by the SPDK application it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Engine {
    #[serde(rename = "nvmf_tgt")]
    Target,
    #[serde(rename = "bdevperf")]
    Initiator,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub app: Engine,
    pub method: String,
    #[serde(default)]
    pub params: Option<Value>,
}

impl Step {
    fn new(app: Engine, method: &str, params: Value) -> Step {
        Step {
            app,
            method: method.to_string(),
            params: if params.is_null() { None } else { Some(params) },
        }
    }
}

/// Knobs of the HOWTO scenario.
#[derive(Debug, Clone)]
pub struct HowtoOpts {
    pub listeners: Vec<SocketAddr>,
    /// How many of the listeners the initiator attaches (1 or 2).
    pub paths: usize,
    pub hdgst: bool,
    pub ddgst: bool,
    pub policy: Option<(String, Option<String>)>,
    /// reconnect_delay_sec of the attaches (the HOWTO's `-o 10`).
    pub reconnect_delay_sec: u32,
}

/// The HOWTO's listeners (127.0.0.1:4420, 127.0.0.2:5520), or free ports
/// on the same addresses when those are taken.
pub fn howto_listeners() -> anyhow::Result<Vec<SocketAddr>> {
    use anyhow::Context;
    ["127.0.0.1:4420", "127.0.0.2:5520"]
        .iter()
        .map(|a| {
            let want: SocketAddr = a.parse()?;
            let l = std::net::TcpListener::bind(want)
                .or_else(|_| std::net::TcpListener::bind((want.ip(), 0)))
                .with_context(|| format!("no port on {}", want.ip()))?;
            Ok(l.local_addr()?)
        })
        .collect()
}

fn listen(a: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": a.ip().to_string(), "trsvcid": a.port().to_string()})
}

/// The HOWTO, call for call (with the listeners given): target half, then
/// the initiator's options and attaches.
pub fn howto(o: &HowtoOpts) -> Vec<Step> {
    use Engine::*;
    let mut v = vec![
        Step::new(
            Target,
            "nvmf_create_transport",
            json!({"trtype": "tcp", "io_unit_size": 8192, "c2h_success": false}),
        ),
        Step::new(
            Target,
            "nvmf_create_subsystem",
            json!({"nqn": HOWTO_NQN, "serial_number": "SPDK00000000000001", "allow_any_host": true, "ana_reporting": true}),
        ),
        Step::new(
            Target,
            "bdev_malloc_create",
            json!({"num_blocks": 131072, "block_size": 512, "name": "Malloc0"}),
        ),
        Step::new(
            Target,
            "nvmf_subsystem_add_ns",
            json!({"nqn": HOWTO_NQN, "namespace": {"bdev_name": "Malloc0"}}),
        ),
    ];
    for a in &o.listeners {
        v.push(Step::new(
            Target,
            "nvmf_subsystem_add_listener",
            json!({"nqn": HOWTO_NQN, "listen_address": listen(*a)}),
        ));
    }
    v.push(Step::new(
        Initiator,
        "bdev_nvme_set_options",
        // Per-path statistics on, for the I/O paths pane's latency and
        // errors (`bdev_nvme_get_path_iostat`).
        json!({"bdev_retry_count": -1, "io_path_stat": true}),
    ));
    for (i, a) in o.listeners.iter().take(o.paths).enumerate() {
        let mut p = json!({
            "name": "Nvme0", "trtype": "tcp", "traddr": a.ip().to_string(),
            "adrfam": if a.is_ipv4() { "ipv4" } else { "ipv6" },
            "trsvcid": a.port().to_string(), "subnqn": HOWTO_NQN,
            "hdgst": o.hdgst, "ddgst": o.ddgst,
            "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": o.reconnect_delay_sec,
        });
        if i > 0 {
            p["multipath"] = json!("multipath");
        }
        v.push(Step::new(Initiator, "bdev_nvme_attach_controller", p));
    }
    if let Some((policy, selector)) = &o.policy {
        let mut p = json!({"name": "Nvme0n1", "policy": policy});
        if let Some(s) = selector {
            p["selector"] = json!(s);
        }
        v.push(Step::new(Initiator, "bdev_nvme_set_multipath_policy", p));
    }
    v
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {msg}")]
    Parse { file: String, msg: String },
}

/// Reads a scenario file; errors name the file and what is wrong.
pub fn parse(file: &str, text: &str) -> Result<Vec<Step>, ScenarioError> {
    serde_json::from_str::<Vec<Step>>(text).map_err(|e| ScenarioError::Parse {
        file: file.to_string(),
        msg: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn howto_has_the_steps_in_order() {
        let s = howto(&HowtoOpts {
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
        let methods: Vec<_> = s.iter().map(|s| s.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "nvmf_create_transport",
                "nvmf_create_subsystem",
                "bdev_malloc_create",
                "nvmf_subsystem_add_ns",
                "nvmf_subsystem_add_listener",
                "nvmf_subsystem_add_listener",
                "bdev_nvme_set_options",
                "bdev_nvme_attach_controller",
                "bdev_nvme_attach_controller",
            ]
        );
        assert_eq!(s[8].params.as_ref().unwrap()["multipath"], "multipath");
        assert!(s[7].params.as_ref().unwrap().get("multipath").is_none());
    }

    #[test]
    fn parse_errors_name_the_file() {
        let e = parse("x.json", "[{\"app\":\"nvmf_tgt\"}]")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.json: ") && e.contains("method"), "{e}");
        let e = parse("y.json", "[{\"app\":\"oops\",\"method\":\"m\"}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("y.json") && e.contains("oops"), "{e}");
        let ok = parse(
            "z.json",
            "[{\"app\":\"bdevperf\",\"method\":\"bdev_get_bdevs\"}]",
        )
        .unwrap();
        assert_eq!(ok[0].app, Engine::Initiator);
    }
}
