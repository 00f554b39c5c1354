//! Security options that are not built (TLS, DH-HMAC-CHAP) are refused, not
//! ignored: each request naming a PSK, a DH-HMAC-CHAP key or a secure
//! channel gets an error that names the key, and leaves the target's and the
//! initiator's state as it was. Each test first shows that the same request
//! without the key would have changed the state, so a key that was silently
//! dropped would fail it.
//!
//! The DH-HMAC-CHAP algorithm lists of `bdev_nvme_set_options` are accepted
//! (they only narrow a negotiation that never starts, and SPDK's saved
//! configurations carry them), with SPDK's name check.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use mpath_console::host::Initiator;
use mpath_console::rpc::{self, Router, RpcError};
use mpath_console::target::Target;
use serde_json::{json, Value};

const NQN: &str = "nqn.2022-02.io.spdk:cnode0";
const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-0000-4000-8000-000000000001";

/// A target with one subsystem (no host allowed by default, one namespace,
/// one listener on a free loopback port) and an initiator, both driven
/// through their routers as the RPC servers drive them.
struct Rig {
    rt: tokio::runtime::Runtime,
    tgt: Arc<Router>,
    ini: Arc<Router>,
    _target: Arc<Target>,
    _host: Arc<Initiator>,
    addr: SocketAddr,
}

fn listen(p: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": p.ip().to_string(), "trsvcid": p.port().to_string()})
}

impl Rig {
    fn start(allow_any_host: bool) -> Rig {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (target, host) = rt.block_on(async { (Target::new(), Initiator::new()) });
        let mut tgt = Router::new("nvmf_tgt");
        rpc::nvmf::register(&mut tgt, &target);
        rpc::bdev::register(&mut tgt, &target);
        let mut ini = Router::new("bdevperf");
        rpc::bdev_nvme::register(&mut ini, &host, true);
        let r = Rig {
            rt,
            tgt: Arc::new(tgt),
            ini: Arc::new(ini),
            _target: target,
            _host: host,
            addr: SocketAddr::from(([127, 0, 0, 1], common::free_port("127.0.0.1"))),
        };
        r.t("nvmf_create_transport", json!({"trtype": "tcp"}));
        r.t(
            "nvmf_create_subsystem",
            json!({"nqn": NQN, "allow_any_host": allow_any_host, "serial_number": "SPDK00000000000001"}),
        );
        r.t(
            "bdev_malloc_create",
            json!({"num_blocks": 2048, "block_size": 512, "name": "Malloc0"}),
        );
        r.t(
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc0"}}),
        );
        r.t(
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN, "listen_address": listen(r.addr)}),
        );
        r
    }

    fn call(&self, router: &Arc<Router>, m: &str, p: Value) -> Result<Value, RpcError> {
        let r = router.clone();
        let m = m.to_string();
        self.rt.block_on(async move { r.call(&m, Some(p)).await })
    }

    fn t(&self, m: &str, p: Value) -> Value {
        self.call(&self.tgt, m, p.clone())
            .unwrap_or_else(|e| panic!("{m} {p}: {e:?}"))
    }

    fn try_t(&self, m: &str, p: Value) -> Result<Value, RpcError> {
        self.call(&self.tgt, m, p)
    }

    fn try_i(&self, m: &str, p: Value) -> Result<Value, RpcError> {
        self.call(&self.ini, m, p)
    }

    fn subsystems(&self) -> Value {
        self.t("nvmf_get_subsystems", json!({}))
    }

    fn listeners(&self) -> Value {
        self.t("nvmf_subsystem_get_listeners", json!({"nqn": NQN}))
    }

    fn controllers(&self) -> Value {
        self.try_i("bdev_nvme_get_controllers", json!({}))
            .expect("bdev_nvme_get_controllers")
    }

    /// The attach parameters of the HOWTO's first path, plus `extra`.
    fn attach_params(&self, extra: Value) -> Value {
        let mut p = json!({
            "name": "Nvme0", "trtype": "tcp", "traddr": self.addr.ip().to_string(),
            "adrfam": "ipv4", "trsvcid": self.addr.port().to_string(), "subnqn": NQN,
            "hostnqn": HOST,
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut p, extra) {
            m.extend(e);
        }
        p
    }
}

fn assert_names_key(e: &RpcError, key: &str, code: i32) {
    assert_eq!(e.code, code, "{e:?}");
    assert!(
        e.message.starts_with(&format!("{key}: ")),
        "the message names {key}: {e:?}"
    );
    assert!(
        e.message.contains("not supported") && e.message.contains("refusing"),
        "{e:?}"
    );
}

// ---- nvmf_subsystem_add_host ------------------------------------------------

/// `add_host` with `key` = `value`: refused with -32602 naming the key, and
/// the subsystem (its host list) unchanged; the same entry without the key
/// is added.
fn add_host_refuses(key: &str, value: Value) {
    let r = Rig::start(false);
    let before = r.subsystems();
    let e = r
        .try_t(
            "nvmf_subsystem_add_host",
            json!({"nqn": NQN, "host": HOST, key: value}),
        )
        .expect_err("a host entry with a key must be refused");
    assert_names_key(&e, key, -32602);
    assert_eq!(r.subsystems(), before, "state unchanged");
    // The rig can add that host: the refusal is what kept it out.
    r.t("nvmf_subsystem_add_host", json!({"nqn": NQN, "host": HOST}));
    assert_ne!(r.subsystems(), before);
}

#[test]
fn add_host_refuses_psk() {
    add_host_refuses("psk", json!("key0"));
}

#[test]
fn add_host_refuses_dhchap_key() {
    add_host_refuses("dhchap_key", json!("key1"));
}

#[test]
fn add_host_refuses_dhchap_ctrlr_key() {
    add_host_refuses("dhchap_ctrlr_key", json!("ckey1"));
}

#[test]
fn add_host_takes_null_keys_as_absent() {
    let r = Rig::start(false);
    r.t(
        "nvmf_subsystem_add_host",
        json!({"nqn": NQN, "host": HOST, "psk": null, "dhchap_key": null, "dhchap_ctrlr_key": null}),
    );
    let hosts = &r.subsystems()[1]["hosts"];
    assert_eq!(hosts, &json!([{"nqn": HOST}]), "{hosts}");
}

#[test]
fn add_host_with_a_key_on_an_unknown_subsystem_names_the_subsystem() {
    let r = Rig::start(false);
    let e = r
        .try_t(
            "nvmf_subsystem_add_host",
            json!({"nqn": "nqn.2016-06.io.spdk:nosuch", "host": HOST, "psk": "key0"}),
        )
        .unwrap_err();
    assert_eq!(e.code, -32602);
    assert!(e.message.contains("nosuch"), "{e:?}");
}

// ---- bdev_nvme_attach_controller ------------------------------------------------

/// `attach_controller` with `key`: refused with -EINVAL naming the key and
/// no controller attached; the same attach without the key succeeds.
fn attach_refuses(key: &str) {
    let r = Rig::start(true);
    let before = r.controllers();
    assert_eq!(before, json!([]));
    let e = r
        .try_i(
            "bdev_nvme_attach_controller",
            r.attach_params(json!({key: "key0"})),
        )
        .expect_err("an attach with a key must be refused");
    assert_names_key(&e, key, -22);
    assert_eq!(r.controllers(), before, "no controller attached");
    let names = r
        .try_i("bdev_nvme_attach_controller", r.attach_params(json!({})))
        .expect("the same attach without the key");
    assert_eq!(names, json!(["Nvme0n1"]));
    assert_ne!(r.controllers(), before);
}

#[test]
fn attach_controller_refuses_psk() {
    attach_refuses("psk");
}

#[test]
fn attach_controller_refuses_dhchap_key() {
    attach_refuses("dhchap_key");
}

#[test]
fn attach_controller_refuses_dhchap_ctrlr_key() {
    attach_refuses("dhchap_ctrlr_key");
}

// ---- nvmf_subsystem_add_listener ----------------------------------------------

/// `add_listener` asking for TLS (`secure_channel`, or `sock_impl` "ssl"):
/// refused with -32603 naming the key; no listener added.
fn add_listener_refuses(key: &str, value: Value) {
    // secure_channel with allow_any_host is refused by SPDK for another
    // reason; a subsystem with a host list keeps the two apart.
    let r = Rig::start(false);
    let before = r.listeners();
    let other = SocketAddr::from(([127, 0, 0, 1], common::free_port("127.0.0.1")));
    let e = r
        .try_t(
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN, "listen_address": listen(other), key: value}),
        )
        .expect_err("a TLS listener must be refused");
    assert_names_key(&e, key, -32603);
    assert_eq!(r.listeners(), before, "no listener added");
    assert!(
        std::net::TcpStream::connect(other).is_err(),
        "nothing listens on {other}"
    );
}

#[test]
fn add_listener_refuses_secure_channel() {
    add_listener_refuses("secure_channel", json!(true));
}

#[test]
fn add_listener_refuses_sock_impl_ssl() {
    add_listener_refuses("sock_impl", json!("ssl"));
}

#[test]
fn add_listener_takes_what_rpc_py_sends_by_default() {
    // Golden exchange 08: `secure_channel: false` on every add_listener.
    let r = Rig::start(false);
    let other = SocketAddr::from(([127, 0, 0, 1], common::free_port("127.0.0.1")));
    r.t(
        "nvmf_subsystem_add_listener",
        json!({"nqn": NQN, "listen_address": listen(other), "secure_channel": false, "sock_impl": "posix"}),
    );
    assert_eq!(r.listeners().as_array().unwrap().len(), 2);
}

// ---- bdev_nvme_set_options ---------------------------------------------------

#[test]
fn set_options_accepts_spdk_dhchap_lists() {
    let r = Rig::start(true);
    // What SPDK v24.09's save_config writes (every digest and group).
    let p = json!({
        "dhchap_digests": ["sha256", "sha384", "sha512"],
        "dhchap_dhgroups": ["null", "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"],
    });
    assert_eq!(r.try_i("bdev_nvme_set_options", p), Ok(json!(true)));
    // The HOWTO's call as rpc.py v24.09 sends it (golden exchange 17), and
    // as spdk-rpc 26.5 sends it (`--dry-run bdev_nvme_set_options -r -1`).
    let v2409 = common::golden_rpc(17)["request"]["params"].clone();
    assert_eq!(r.try_i("bdev_nvme_set_options", v2409), Ok(json!(true)));
    let v265 = json!({
        "delay_cmd_submit": true, "bdev_retry_count": -1, "disable_auto_failback": false,
        "generate_uuids": false, "nvme_error_stat": false, "io_path_stat": false,
        "allow_accel_sequence": false, "enable_flush": false
    });
    assert_eq!(r.try_i("bdev_nvme_set_options", v265), Ok(json!(true)));
}

#[test]
fn set_options_rejects_unknown_dhchap_names_as_spdk_does() {
    let r = Rig::start(true);
    for p in [
        json!({"dhchap_digests": ["md5"]}),
        json!({"dhchap_dhgroups": ["ffdhe1024"]}),
        json!({"dhchap_digests": "sha256"}),
    ] {
        let e = r.try_i("bdev_nvme_set_options", p.clone()).unwrap_err();
        assert_eq!(
            e,
            RpcError::new(-32603, "spdk_json_decode_object failed"),
            "{p}"
        );
    }
}
