//! The `:` command line: any RPC in `spdk-rpc` syntax.
//!
//! * `nvmf_subsystem_listener_set_ana_state NQN -t tcp -a ADDR -s PORT -n STATE`
//!   and the other common methods take spdk-rpc 26.5's own flags (table
//!   [`SPECS`], copied from its argparse definitions) and produce exactly
//!   the parameters spdk-rpc sends (tests compare with `spdk-rpc --dry-run`);
//! * any other method takes `key=value` pairs (values parsed as JSON when
//!   they are JSON), `--some-flag value` (→ `some_flag`), or one raw JSON
//!   object;
//! * a leading `spdk-rpc`, `rpc.py`, `scripts/rpc.py` or `bdevperf.py` and
//!   the global options `-s SOCK -p PORT -t TIMEOUT -r N -v` are accepted;
//!   `-s SOCK` picks the application when it names one of ours, else it is
//!   ignored (with a note); `--dry-run` shows the request without sending.
//!
//! Routing is by method name (`nvmf_*` → target, `bdev_nvme_*` →
//! initiator, ...), then by which application lists the method.

use serde_json::{json, Map, Value};

use crate::control::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
    True,
    False,
    /// argparse.BooleanOptionalAction: `--x` / `--no-x`.
    BoolOpt,
    /// Comma-separated list.
    List,
}

#[derive(Clone, Copy, Debug)]
pub struct Arg {
    short: Option<&'static str>,
    long: Option<&'static str>,
    dest: &'static str,
    kind: Kind,
    required: bool,
    choices: &'static [&'static str],
    positional: bool,
}

const fn flag(short: &'static str, long: &'static str, dest: &'static str) -> Arg {
    Arg {
        short: if short.is_empty() { None } else { Some(short) },
        long: if long.is_empty() { None } else { Some(long) },
        dest,
        kind: Kind::Str,
        required: false,
        choices: &[],
        positional: false,
    }
}

const fn pos(dest: &'static str) -> Arg {
    Arg {
        short: None,
        long: None,
        dest,
        kind: Kind::Str,
        required: true,
        choices: &[],
        positional: true,
    }
}

impl Arg {
    const fn int(mut self) -> Arg {
        self.kind = Kind::Int;
        self
    }
    const fn float(mut self) -> Arg {
        self.kind = Kind::Float;
        self
    }
    const fn store_true(mut self) -> Arg {
        self.kind = Kind::True;
        self
    }
    const fn store_false(mut self) -> Arg {
        self.kind = Kind::False;
        self
    }
    const fn bool_opt(mut self) -> Arg {
        self.kind = Kind::BoolOpt;
        self
    }
    const fn list(mut self) -> Arg {
        self.kind = Kind::List;
        self
    }
    const fn req(mut self) -> Arg {
        self.required = true;
        self
    }
    const fn opt(mut self) -> Arg {
        self.required = false;
        self
    }
    const fn choices(mut self, c: &'static [&'static str]) -> Arg {
        self.choices = c;
        self
    }
    fn names(&self) -> String {
        match (self.short, self.long) {
            (Some(s), Some(l)) => format!("{s}/{l}"),
            (Some(s), None) => s.to_string(),
            (None, Some(l)) => l.to_string(),
            (None, None) => self.dest.to_string(),
        }
    }
}

/// What a method's client function does after argparse.
#[derive(Clone, Copy, Debug)]
enum Post {
    None,
    /// `group_as(params, name, keys)`.
    Group(&'static str, &'static [&'static str]),
    /// Defaults merged first (`apply_defaults`), then grouping.
    DefaultsThenGroup(
        &'static [(&'static str, bool)],
        &'static str,
        &'static [&'static str],
    ),
    /// `bdev_malloc_create`: total_size (MB) → num_blocks.
    Malloc,
    /// `nqn == "discovery"` → the discovery NQN, then group.
    Discovery(&'static [&'static str]),
}

pub struct Spec {
    pub method: &'static str,
    pub app: Engine,
    args: &'static [Arg],
    post: Post,
    /// Booleans (store_true/false) are sent even when not given, as
    /// spdk-rpc does when it passes `vars(args)`; `false` for methods
    /// whose client function picks arguments one by one.
    all_bools: bool,
}

const LISTEN: &[&str] = &["trtype", "traddr", "trsvcid", "adrfam"];
const MP_OPTS: &[&str] = &["policy", "selector", "min_io"];
const ANA: &[&str] = &["optimized", "non_optimized", "inaccessible"];
const TRID_FLAGS: [Arg; 5] = [
    flag("-t", "--trtype", "trtype").req(),
    flag("-a", "--traddr", "traddr").req(),
    flag("-p", "--tgt-name", "tgt_name"),
    flag("-f", "--adrfam", "adrfam"),
    flag("-s", "--trsvcid", "trsvcid"),
];

macro_rules! spec {
    ($m:literal, $app:ident, [$($a:expr),* $(,)?], $post:expr, $all:expr) => {
        Spec { method: $m, app: Engine::$app, args: &[$($a),*], post: $post, all_bools: $all }
    };
}

/// spdk-rpc 26.5's arguments for the methods an operator of the HOWTO
/// uses, plus bdevperf.py's `perform_tests`.
pub static SPECS: &[Spec] = &[
    spec!(
        "nvmf_subsystem_listener_set_ana_state",
        Target,
        [
            pos("nqn"),
            TRID_FLAGS[0],
            TRID_FLAGS[1],
            TRID_FLAGS[2],
            TRID_FLAGS[3],
            TRID_FLAGS[4],
            flag("-n", "--ana-state", "ana_state").req().choices(ANA),
            flag("-g", "--anagrpid", "anagrpid").int(),
        ],
        Post::Group("listen_address", LISTEN),
        true
    ),
    spec!(
        "nvmf_subsystem_add_listener",
        Target,
        [
            pos("nqn"),
            TRID_FLAGS[0],
            TRID_FLAGS[1],
            TRID_FLAGS[2],
            TRID_FLAGS[3],
            TRID_FLAGS[4],
            flag("-k", "--secure-channel", "secure_channel").store_true(),
            flag("-n", "--ana-state", "ana_state").choices(ANA),
            flag("-S", "--sock-impl", "sock_impl"),
            flag("", "--numa-id", "numa_id").int(),
        ],
        Post::Discovery(LISTEN),
        true
    ),
    spec!(
        "nvmf_subsystem_remove_listener",
        Target,
        [
            pos("nqn"),
            TRID_FLAGS[0],
            TRID_FLAGS[1],
            TRID_FLAGS[2],
            TRID_FLAGS[3],
            TRID_FLAGS[4],
        ],
        Post::Discovery(LISTEN),
        true
    ),
    spec!(
        "nvmf_create_transport",
        Target,
        [
            flag("-t", "--trtype", "trtype").req(),
            flag("-g", "--tgt-name", "tgt_name"),
            flag("-q", "--max-queue-depth", "max_queue_depth").int(),
            flag("-m", "--max-io-qpairs-per-ctrlr", "max_io_qpairs_per_ctrlr").int(),
            flag("-c", "--in-capsule-data-size", "in_capsule_data_size").int(),
            flag("-i", "--max-io-size", "max_io_size").int(),
            flag("-u", "--io-unit-size", "io_unit_size").int(),
            flag("-a", "--max-aq-depth", "max_aq_depth").int(),
            flag("-n", "--num-shared-buffers", "num_shared_buffers").int(),
            flag("-b", "--buf-cache-size", "buf_cache_size").int(),
            flag("", "--iobuf-small-cache-size", "iobuf_small_cache_size").int(),
            flag("", "--iobuf-large-cache-size", "iobuf_large_cache_size").int(),
            flag("-z", "--zcopy", "zcopy").store_true(),
            flag("-d", "--num-cqe", "num_cqe").int(),
            flag("-s", "--max-srq-depth", "max_srq_depth").int(),
            flag("-r", "--no-srq", "no_srq").store_true(),
            flag("-o", "--c2h-success", "c2h_success").store_false(),
            flag("-f", "--dif-insert-or-strip", "dif_insert_or_strip").store_true(),
            flag("-y", "--sock-priority", "sock_priority").int(),
            flag("-l", "--acceptor-backlog", "acceptor_backlog").int(),
            flag("-x", "--abort-timeout-sec", "abort_timeout_sec").int(),
            flag("-w", "--no-wr-batching", "no_wr_batching").store_true(),
            flag("-e", "--control-msg-num", "control_msg_num").int(),
            flag("-M", "--disable-mappable-bar0", "disable_mappable_bar0").store_true(),
            flag("-I", "--disable-adaptive-irq", "disable_adaptive_irq").store_true(),
            flag(
                "-S",
                "--disable-shadow-doorbells",
                "disable_shadow_doorbells"
            )
            .store_true(),
            flag("", "--acceptor-poll-rate", "acceptor_poll_rate").int(),
            flag("", "--ack-timeout", "ack_timeout").int(),
            flag("", "--data-wr-pool-size", "data_wr_pool_size").int(),
            flag("", "--disable-command-passthru", "disable_command_passthru").store_true(),
            flag("", "--kas", "kas").int(),
            flag("", "--min-kato", "min_kato").int(),
        ],
        Post::DefaultsThenGroup(&[("no_srq", false), ("c2h_success", true)], "", &[]),
        true
    ),
    spec!(
        "nvmf_create_subsystem",
        Target,
        [
            pos("nqn"),
            flag("-t", "--tgt-name", "tgt_name"),
            flag("-s", "--serial-number", "serial_number"),
            flag("-d", "--model-number", "model_number"),
            flag("-a", "--allow-any-host", "allow_any_host").store_true(),
            flag("-m", "--max-namespaces", "max_namespaces").int(),
            flag("-r", "--ana-reporting", "ana_reporting").store_true(),
            flag("-i", "--min-cntlid", "min_cntlid").int(),
            flag("-I", "--max-cntlid", "max_cntlid").int(),
            flag("", "--max-discard-size", "max_discard_size_kib").int(),
            flag("", "--dmrsl", "dmrsl").int(),
            flag("", "--max-write-zeroes-size", "max_write_zeroes_size_kib").int(),
            flag("", "--wzsl", "wzsl").int(),
            flag("-p", "--passthrough", "passthrough").store_true(),
            flag("-n", "--enable-nssr", "enable_nssr").store_true(),
        ],
        Post::None,
        true
    ),
    spec!(
        "nvmf_delete_subsystem",
        Target,
        [pos("nqn"), flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_get_subsystems",
        Target,
        [pos("nqn").opt(), flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_get_transports",
        Target,
        [
            flag("", "--trtype", "trtype"),
            flag("-t", "--tgt-name", "tgt_name")
        ],
        Post::None,
        true
    ),
    spec!(
        "nvmf_get_stats",
        Target,
        [flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_get_listeners",
        Target,
        [pos("nqn"), flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_get_controllers",
        Target,
        [pos("nqn"), flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_get_qpairs",
        Target,
        [pos("nqn"), flag("-t", "--tgt-name", "tgt_name")],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_add_ns",
        Target,
        [
            pos("nqn"),
            pos("bdev_name"),
            flag("-t", "--tgt-name", "tgt_name"),
            flag("-p", "--ptpl-file", "ptpl_file"),
            flag("-n", "--nsid", "nsid").int(),
            flag("-g", "--nguid", "nguid"),
            flag("-e", "--eui64", "eui64"),
            flag("-u", "--uuid", "uuid"),
            flag("-a", "--anagrpid", "anagrpid").int(),
            flag("-i", "--no-auto-visible", "no_auto_visible").store_true(),
            flag("-N", "--hide-metadata", "hide_metadata").store_true(),
        ],
        Post::Group(
            "namespace",
            &[
                "bdev_name",
                "ptpl_file",
                "nsid",
                "nguid",
                "eui64",
                "uuid",
                "anagrpid",
                "no_auto_visible",
                "hide_metadata"
            ]
        ),
        true
    ),
    spec!(
        "nvmf_subsystem_remove_ns",
        Target,
        [
            pos("nqn"),
            pos("nsid").int(),
            flag("-t", "--tgt-name", "tgt_name")
        ],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_allow_any_host",
        Target,
        [
            pos("nqn"),
            flag("", "--allow-any-host", "allow_any_host")
                .bool_opt()
                .req(),
            flag("-t", "--tgt-name", "tgt_name"),
        ],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_add_host",
        Target,
        [
            pos("nqn"),
            pos("host"),
            flag("-t", "--tgt-name", "tgt_name"),
            flag("", "--psk", "psk"),
            flag("", "--dhchap-key", "dhchap_key"),
            flag("", "--dhchap-ctrlr-key", "dhchap_ctrlr_key"),
        ],
        Post::None,
        true
    ),
    spec!(
        "nvmf_subsystem_remove_host",
        Target,
        [
            pos("nqn"),
            pos("host"),
            flag("-t", "--tgt-name", "tgt_name"),
            flag("-T", "--timeout-ms", "timeout_ms").int(),
        ],
        Post::None,
        true
    ),
    spec!(
        "bdev_malloc_create",
        Target,
        [
            flag("-b", "--name", "name"),
            flag("-u", "--uuid", "uuid"),
            pos("total_size").float(),
            pos("block_size").int(),
            flag("-p", "--physical-block-size", "physical_block_size").int(),
            flag("-o", "--optimal-io-boundary", "optimal_io_boundary").int(),
            flag("-m", "--md-size", "md_size").int(),
            flag("-i", "--md-interleave", "md_interleave").store_true(),
            flag("-t", "--dif-type", "dif_type")
                .int()
                .choices(&["0", "1", "2", "3"]),
            flag("-d", "--dif-is-head-of-md", "dif_is_head_of_md").store_true(),
            flag("-f", "--dif-pi-format", "dif_pi_format")
                .int()
                .choices(&["0", "1", "2"]),
            flag("-n", "--numa-id", "numa_id").int(),
        ],
        Post::Malloc,
        true
    ),
    spec!(
        "bdev_malloc_delete",
        Target,
        [pos("name")],
        Post::None,
        true
    ),
    spec!(
        "bdev_nvme_set_options",
        Initiator,
        [
            flag("-a", "--action-on-timeout", "action_on_timeout")
                .choices(&["none", "reset", "abort"]),
            flag("-t", "--timeout-us", "timeout_us").int(),
            flag("", "--timeout-admin-us", "timeout_admin_us").int(),
            flag("-k", "--keep-alive-timeout-ms", "keep_alive_timeout_ms").int(),
            flag("", "--arbitration-burst", "arbitration_burst").int(),
            flag("", "--low-priority-weight", "low_priority_weight").int(),
            flag("", "--medium-priority-weight", "medium_priority_weight").int(),
            flag("", "--high-priority-weight", "high_priority_weight").int(),
            flag(
                "-p",
                "--nvme-adminq-poll-period-us",
                "nvme_adminq_poll_period_us"
            )
            .int(),
            flag("-i", "--nvme-ioq-poll-period-us", "nvme_ioq_poll_period_us").int(),
            flag("-s", "--io-queue-requests", "io_queue_requests").int(),
            flag("-d", "--disable-delay-cmd-submit", "delay_cmd_submit").store_false(),
            flag("-c", "--transport-retry-count", "transport_retry_count").int(),
            flag("-r", "--bdev-retry-count", "bdev_retry_count").int(),
            flag("-e", "--transport-ack-timeout", "transport_ack_timeout").int(),
            flag("-l", "--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec").int(),
            flag("-o", "--reconnect-delay-sec", "reconnect_delay_sec").int(),
            flag(
                "-u",
                "--fast-io-fail-timeout-sec",
                "fast_io_fail_timeout_sec"
            )
            .int(),
            flag("-f", "--disable-auto-failback", "disable_auto_failback").store_true(),
            flag("", "--generate-uuids", "generate_uuids").store_true(),
            flag("", "--transport-tos", "transport_tos").int(),
            flag("-m", "--nvme-error-stat", "nvme_error_stat").store_true(),
            flag("-q", "--rdma-srq-size", "rdma_srq_size").int(),
            flag("", "--io-path-stat", "io_path_stat").store_true(),
            flag("", "--allow-accel-sequence", "allow_accel_sequence").store_true(),
            flag("", "--rdma-max-cq-size", "rdma_max_cq_size").int(),
            flag("", "--rdma-cm-event-timeout-ms", "rdma_cm_event_timeout_ms").int(),
            flag("", "--dhchap-digests", "dhchap_digests").list(),
            flag("", "--dhchap-dhgroups", "dhchap_dhgroups").list(),
            flag("", "--rdma-umr-per-io", "rdma_umr_per_io").bool_opt(),
            flag("", "--tcp-connect-timeout-ms", "tcp_connect_timeout_ms").int(),
            flag("", "--enable-flush", "enable_flush").store_true(),
            flag("", "--policy", "policy").choices(&["active_passive", "active_active"]),
            flag("", "--selector", "selector").choices(&["round_robin", "queue_depth"]),
            flag("", "--min-io", "min_io").int(),
        ],
        Post::Group("multipath_opts", MP_OPTS),
        true
    ),
    spec!(
        "bdev_nvme_attach_controller",
        Initiator,
        [
            flag("-b", "--name", "name").req(),
            flag("-t", "--trtype", "trtype").req(),
            flag("-a", "--traddr", "traddr").req(),
            flag("-f", "--adrfam", "adrfam"),
            flag("-s", "--trsvcid", "trsvcid"),
            flag("-p", "--priority", "priority"),
            flag("-n", "--subnqn", "subnqn"),
            flag("-q", "--hostnqn", "hostnqn"),
            flag("-i", "--hostaddr", "hostaddr"),
            flag("-c", "--hostsvcid", "hostsvcid"),
            flag("-r", "--prchk-reftag", "prchk_reftag").store_true(),
            flag("-g", "--prchk-guard", "prchk_guard").store_true(),
            flag("-e", "--hdgst", "hdgst").store_true(),
            flag("-d", "--ddgst", "ddgst").store_true(),
            flag("", "--fabrics-timeout", "fabrics_connect_timeout_us").int(),
            flag("-x", "--multipath", "multipath").choices(&["disable", "failover", "multipath"]),
            flag("", "--num-io-queues", "num_io_queues").int(),
            flag("-l", "--ctrlr-loss-timeout-sec", "ctrlr_loss_timeout_sec").int(),
            flag("-o", "--reconnect-delay-sec", "reconnect_delay_sec").int(),
            flag(
                "-u",
                "--fast-io-fail-timeout-sec",
                "fast_io_fail_timeout_sec"
            )
            .int(),
            flag("-k", "--psk", "psk"),
            flag("-m", "--max-bdevs", "max_bdevs").int(),
            flag("", "--dhchap-key", "dhchap_key"),
            flag("", "--dhchap-ctrlr-key", "dhchap_ctrlr_key"),
            flag("-U", "--allow-unrecognized-csi", "allow_unrecognized_csi").store_true(),
            flag("", "--policy", "policy").choices(&["active_passive", "active_active"]),
            flag("", "--selector", "selector").choices(&["round_robin", "queue_depth"]),
            flag("", "--min-io", "min_io").int(),
        ],
        Post::Group("multipath_opts", MP_OPTS),
        true
    ),
    spec!(
        "bdev_nvme_detach_controller",
        Initiator,
        [
            pos("name"),
            flag("-t", "--trtype", "trtype"),
            flag("-a", "--traddr", "traddr"),
            flag("-f", "--adrfam", "adrfam"),
            flag("-s", "--trsvcid", "trsvcid"),
            flag("-n", "--subnqn", "subnqn"),
            flag("-i", "--hostaddr", "hostaddr"),
            flag("-c", "--hostsvcid", "hostsvcid"),
        ],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_get_controllers",
        Initiator,
        [flag("-n", "--name", "name")],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_get_io_paths",
        Initiator,
        [flag("-n", "--name", "name")],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_get_path_iostat",
        Initiator,
        [flag("-b", "--name", "name").req()],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_set_multipath_policy",
        Initiator,
        [
            flag("-b", "--name", "name").req(),
            flag("-p", "--policy", "policy")
                .req()
                .choices(&["active_passive", "active_active"]),
            flag("-s", "--selector", "selector").choices(&["round_robin", "queue_depth"]),
            flag("-r", "--rr-min-io", "rr_min_io").int(),
        ],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_set_preferred_path",
        Initiator,
        [
            flag("-b", "--name", "name").req(),
            flag("-c", "--cntlid", "cntlid").int().req(),
        ],
        Post::None,
        false
    ),
    spec!(
        "bdev_nvme_reset_controller",
        Initiator,
        [pos("name"), flag("-c", "--cntlid", "cntlid").int()],
        Post::None,
        false
    ),
    spec!(
        "bdev_get_bdevs",
        Initiator,
        [
            flag("-b", "--name", "name"),
            flag("-t", "--timeout-ms", "timeout").int(),
        ],
        Post::None,
        false
    ),
    spec!(
        "bdev_get_iostat",
        Initiator,
        [
            flag("-c", "--per-channel", "per_channel").store_true(),
            flag("", "--reset-mode", "reset_mode").choices(&["all", "maxmin", "error", "none"]),
            flag("", "--names", "names").list(),
        ],
        Post::None,
        true
    ),
    spec!(
        "rpc_get_methods",
        Target,
        [
            flag("", "--current", "current").store_true(),
            flag("", "--include-aliases", "include_aliases").store_true(),
        ],
        Post::None,
        true
    ),
    spec!("spdk_get_version", Target, [], Post::None, true),
    // bdevperf.py: only truthy values are sent.
    spec!(
        "perform_tests",
        Initiator,
        [
            flag("-q", "", "queue_depth").int(),
            flag("-o", "", "io_size"),
            flag("-t", "", "time_in_sec").int(),
            flag("-w", "", "workload_type"),
            flag("-M", "", "rw_percentage").int(),
        ],
        Post::None,
        false
    ),
];

/// Methods of ours (not in spdk-rpc), for routing and completion.
pub const OUR_METHODS: &[(&str, Engine)] = &[
    ("mpath_perf_status", Engine::Initiator),
    ("mpath_perf_stop", Engine::Initiator),
    ("mpath_host_events", Engine::Initiator),
    ("mpath_listener_drop_connections", Engine::Target),
    ("mpath_listener_blackhole", Engine::Target),
    ("mpath_listener_delay", Engine::Target),
    ("mpath_listener_restore", Engine::Target),
    ("mpath_listener_get_faults", Engine::Target),
];

pub fn spec(method: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.method == method)
}

/// Where a command goes, and what to tell about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub app: Engine,
    pub method: String,
    pub params: Option<Value>,
    /// Only show the request (`--dry-run`).
    pub dry_run: bool,
    pub note: Option<String>,
}

/// What routing needs to know about the applications.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub tgt_loc: String,
    pub ini_loc: String,
    pub tgt_methods: Option<Vec<String>>,
    pub ini_methods: Option<Vec<String>>,
}

/// Splits like a POSIX shell: quotes, backslashes and `#` comments, no
/// expansion, so a line pasted from a terminal means what it meant there.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    shlex::split(s).ok_or_else(|| "unterminated quote or trailing backslash".into())
}

/// Quotes a word for display when the shell would need it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/,=@+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn is_program(t: &str) -> bool {
    let base = t.rsplit('/').next().unwrap_or(t);
    matches!(base, "spdk-rpc" | "rpc.py" | "bdevperf.py" | "spdk_rpc.py")
}

/// Parses one command line.
pub fn parse(line: &str, ctx: &Ctx) -> Result<Parsed, String> {
    let toks = shell_split(line)?;
    let mut i = 0;
    if toks.first().is_some_and(|t| is_program(t)) {
        i = 1;
    }
    let mut sock: Option<String> = None;
    let mut dry_run = false;
    // Global options, before the method.
    while let Some(t) = toks.get(i) {
        if !t.starts_with('-') {
            break;
        }
        let val = |i: usize| -> Result<String, String> {
            toks.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("option {t} needs a value"))
        };
        match t.as_str() {
            "-s" => {
                sock = Some(val(i)?);
                i += 2;
            }
            "-p" | "-r" | "--verbose" => {
                val(i)?;
                i += 2;
            }
            "-t" => {
                let v = val(i)?;
                v.parse::<f64>().map_err(|_| format!("-t {v}: timeout must be a number of seconds"))?;
                i += 2;
            }
            "-v" => i += 1,
            "--dry-run" => {
                dry_run = true;
                i += 1;
            }
            o => return Err(format!("unknown global option {o} (known: -s SOCK, -p PORT, -t TIMEOUT, -r N, -v, --dry-run)")),
        }
    }
    let method = toks
        .get(i)
        .ok_or("no method given (try Tab to complete one)")?
        .clone();
    if !method
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("{method:?} is not an RPC method name"));
    }
    let rest = &toks[i + 1..];
    let params = match spec(&method) {
        Some(s) => parse_spec(s, rest)?,
        None => parse_generic(&method, rest)?,
    };
    let (app, note) = route(&method, sock.as_deref(), ctx)?;
    Ok(Parsed {
        app,
        method,
        params,
        dry_run,
        note,
    })
}

/// The application for `method`, and a note when `-s` was not ours.
fn route(method: &str, sock: Option<&str>, ctx: &Ctx) -> Result<(Engine, Option<String>), String> {
    if let Some(s) = sock {
        if !s.is_empty() && s == ctx.tgt_loc {
            return Ok((Engine::Target, None));
        }
        if !s.is_empty() && s == ctx.ini_loc {
            return Ok((Engine::Initiator, None));
        }
    }
    let lists = |app: Engine| match app {
        Engine::Target => ctx.tgt_methods.as_ref(),
        Engine::Initiator => ctx.ini_methods.as_ref(),
    };
    let by_name = spec(method)
        .map(|s| s.app)
        .or_else(|| {
            OUR_METHODS
                .iter()
                .find(|(m, _)| *m == method)
                .map(|(_, a)| *a)
        })
        .or_else(|| {
            if method.starts_with("nvmf_") || method.starts_with("bdev_malloc_") {
                Some(Engine::Target)
            } else if method.starts_with("bdev_nvme_")
                || method.starts_with("bdevperf")
                || method == "perform_tests"
            {
                Some(Engine::Initiator)
            } else {
                None
            }
        });
    let known = spec(method).is_some() || OUR_METHODS.iter().any(|(m, _)| *m == method);
    let listed = |app: Engine| lists(app).is_some_and(|l| l.iter().any(|m| m == method));
    if !known
        && lists(Engine::Target).is_some()
        && lists(Engine::Initiator).is_some()
        && !listed(Engine::Target)
        && !listed(Engine::Initiator)
    {
        return Err(format!(
            "unknown method {method}: neither application lists it (Tab completes names)"
        ));
    }
    let app = match by_name {
        Some(a) => a,
        None => {
            let t = lists(Engine::Target).is_some_and(|l| l.iter().any(|m| m == method));
            let h = lists(Engine::Initiator).is_some_and(|l| l.iter().any(|m| m == method));
            match (t, h) {
                (_, true) if !t => Engine::Initiator,
                (true, _) => Engine::Target,
                _ if lists(Engine::Target).is_some() && lists(Engine::Initiator).is_some() => {
                    return Err(format!("unknown method {method}: neither application lists it (Tab completes names)"))
                }
                _ => Engine::Target,
            }
        }
    };
    let note = sock.map(|s| {
        format!(
            "-s {s} is not one of ours; sent to {} by method name",
            app_name(app)
        )
    });
    Ok((app, note))
}

pub fn app_name(a: Engine) -> &'static str {
    match a {
        Engine::Target => "nvmf_tgt",
        Engine::Initiator => "bdevperf",
    }
}

fn parse_spec(s: &Spec, toks: &[String]) -> Result<Option<Value>, String> {
    let m = s.method;
    let usage = || usage_of(s);
    let mut out = Map::new();
    let mut positionals = s.args.iter().filter(|a| a.positional);
    let mut given: Vec<&'static str> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.starts_with('-') && t.len() > 1 && t.parse::<f64>().is_err() {
            let (name, inline) = match t.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (t.as_str(), None),
            };
            let negated = name.strip_prefix("--no-");
            let arg = s
                .args
                .iter()
                .find(|a| !a.positional && (a.short == Some(name) || a.long == Some(name)))
                .or_else(|| {
                    negated.and_then(|n| {
                        s.args.iter().find(|a| {
                            a.kind == Kind::BoolOpt && a.long.is_some_and(|l| l == format!("--{n}"))
                        })
                    })
                })
                .ok_or_else(|| format!("{m}: unknown option {name}\n{}", usage()))?;
            given.push(arg.dest);
            let v = match arg.kind {
                Kind::True => Value::Bool(true),
                Kind::False => Value::Bool(false),
                Kind::BoolOpt => Value::Bool(negated.is_none()),
                _ => {
                    let raw = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            toks.get(i)
                                .cloned()
                                .ok_or_else(|| format!("{m}: {} expects a value", arg.names()))?
                        }
                    };
                    convert(m, arg, &raw)?
                }
            };
            out.insert(arg.dest.to_string(), v);
        } else {
            let arg = positionals
                .next()
                .ok_or_else(|| format!("{m}: unexpected argument {t:?}\n{}", usage()))?;
            given.push(arg.dest);
            out.insert(arg.dest.to_string(), convert(m, arg, t)?);
        }
        i += 1;
    }
    let missing: Vec<String> = s
        .args
        .iter()
        .filter(|a| a.required && !given.contains(&a.dest))
        .map(Arg::names)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{m}: the following arguments are required: {}\n{}",
            missing.join(", "),
            usage()
        ));
    }
    if s.all_bools {
        for a in s.args {
            if matches!(a.kind, Kind::True | Kind::False) && !out.contains_key(a.dest) {
                out.insert(a.dest.to_string(), Value::Bool(a.kind == Kind::False));
            }
        }
    }
    if s.method == "perform_tests" {
        out.retain(|_, v| match v {
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
    }
    match s.post {
        Post::None => {}
        Post::Group(name, keys) => group_as(&mut out, name, keys),
        Post::DefaultsThenGroup(defs, name, keys) => {
            for (k, v) in defs {
                if !given.contains(k) {
                    out.insert(k.to_string(), Value::Bool(*v));
                }
            }
            if !name.is_empty() {
                group_as(&mut out, name, keys);
            }
        }
        Post::Discovery(keys) => {
            if out.get("nqn").and_then(Value::as_str) == Some("discovery") {
                out.insert("nqn".into(), json!("nqn.2014-08.org.nvmexpress.discovery"));
            }
            group_as(&mut out, "listen_address", keys);
        }
        Post::Malloc => {
            let size = out
                .remove("total_size")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            let bs = out.get("block_size").and_then(Value::as_u64).unwrap_or(0);
            if bs == 0 {
                return Err(format!("{m}: block_size must be > 0"));
            }
            let blocks = (size * 1024.0 * 1024.0 / bs as f64).floor() as u64;
            out.insert("num_blocks".into(), json!(blocks));
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    })
}

fn group_as(out: &mut Map<String, Value>, name: &str, keys: &[&str]) {
    let mut g = Map::new();
    for k in keys {
        if let Some(v) = out.remove(*k) {
            g.insert(k.to_string(), v);
        }
    }
    if !g.is_empty() {
        out.insert(name.to_string(), Value::Object(g));
    }
}

fn convert(m: &str, a: &Arg, raw: &str) -> Result<Value, String> {
    if !a.choices.is_empty() && !a.choices.contains(&raw) {
        return Err(format!(
            "{m}: {}: invalid choice {raw:?} (choose from {})",
            a.names(),
            a.choices.join(", ")
        ));
    }
    match a.kind {
        Kind::Int => raw
            .parse::<i64>()
            .map(|n| json!(n))
            .map_err(|_| format!("{m}: {}: invalid int value {raw:?}", a.names())),
        Kind::Float => raw
            .parse::<f64>()
            .map(|n| json!(n))
            .map_err(|_| format!("{m}: {}: invalid float value {raw:?}", a.names())),
        Kind::List => Ok(json!(raw.split(',').collect::<Vec<_>>())),
        _ => Ok(json!(raw)),
    }
}

fn usage_of(s: &Spec) -> String {
    let mut u = format!("usage: {}", s.method);
    for a in s.args {
        let val = match a.kind {
            Kind::True | Kind::False | Kind::BoolOpt => String::new(),
            _ if !a.choices.is_empty() => format!(" {{{}}}", a.choices.join(",")),
            _ => format!(" {}", a.dest.to_uppercase()),
        };
        let name = if a.positional {
            a.dest.to_uppercase()
        } else {
            format!("{}{val}", a.short.or(a.long).unwrap_or(a.dest))
        };
        if a.required {
            u += &format!(" {name}");
        } else {
            u += &format!(" [{name}]");
        }
    }
    u
}

/// `key=value`, `--flag value`, `--flag`, or one JSON object.
fn parse_generic(m: &str, toks: &[String]) -> Result<Option<Value>, String> {
    if toks.is_empty() {
        return Ok(None);
    }
    let joined = toks.join(" ");
    if joined.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(&joined)
            .map_err(|e| format!("{m}: params are not valid JSON: {e}"))?;
        if !v.is_object() {
            return Err(format!("{m}: params must be a JSON object"));
        }
        return Ok(Some(v));
    }
    let mut out = Map::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if let Some(f) = t.strip_prefix("--").filter(|f| !f.is_empty()) {
            let key = f.replace('-', "_");
            let next = toks
                .get(i + 1)
                .filter(|n| !n.starts_with("--") && !n.contains('='));
            match next {
                Some(v) => {
                    out.insert(key, value_of(v));
                    i += 2;
                }
                None => {
                    out.insert(key, Value::Bool(true));
                    i += 1;
                }
            }
        } else if let Some((k, v)) = t.split_once('=').filter(|(k, _)| !k.is_empty()) {
            out.insert(k.to_string(), value_of(v));
            i += 1;
        } else {
            return Err(format!(
                "{m}: cannot read {t:?}: use key=value, --key value, or one JSON object"
            ));
        }
    }
    Ok(Some(Value::Object(out)))
}

/// A JSON value when it reads as one (`128`, `true`, `{"a":1}`), else a
/// string. `"4420"` stays a string only when quoted as JSON (`'"4420"'`).
fn value_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// The `spdk-rpc` command line that sends `method` with `params` (what the
/// Events pane shows for every action). Falls back to raw JSON params
/// for methods without a spec.
/// A size in MiB as spdk-rpc takes it: whole numbers without a fraction.
fn mib_value(mib: f64) -> Value {
    if mib.fract() == 0.0 && mib < u64::MAX as f64 {
        Value::from(mib as u64)
    } else {
        Value::from(mib)
    }
}

pub fn to_line(app: Engine, method: &str, params: Option<&Value>, sock: Option<&str>) -> String {
    let prog = if method == "perform_tests" {
        "bdevperf.py"
    } else {
        "spdk-rpc"
    };
    let mut out = vec![prog.to_string()];
    if let Some(s) = sock.filter(|s| !s.is_empty() && *s != "/var/tmp/spdk.sock" && s.contains('/'))
    {
        out.push("-s".into());
        out.push(s.to_string());
    }
    let _ = app;
    out.push(method.to_string());
    let empty = Map::new();
    let p = params.and_then(Value::as_object).unwrap_or(&empty);
    let flat = |p: &Map<String, Value>| -> Map<String, Value> {
        let mut f = Map::new();
        for (k, v) in p {
            match (k.as_str(), v) {
                ("listen_address" | "namespace" | "multipath_opts", Value::Object(o)) => {
                    for (k2, v2) in o {
                        f.insert(k2.clone(), v2.clone());
                    }
                }
                _ => {
                    f.insert(k.clone(), v.clone());
                }
            }
        }
        f
    };
    let Some(s) = spec(method) else {
        if !p.is_empty() {
            out.push(shell_quote(&Value::Object(p.clone()).to_string()));
        }
        return out.join(" ");
    };
    let mut f = flat(p);
    // spdk-rpc turns bdev_malloc_create's TOTAL_SIZE (MiB) into num_blocks
    // before sending; the line gives the size back in MiB.
    if method == "bdev_malloc_create" {
        if let (Some(n), Some(bs)) = (
            f.get("num_blocks").and_then(Value::as_u64),
            f.get("block_size").and_then(Value::as_u64),
        ) {
            let mib = n as f64 * bs as f64 / (1024.0 * 1024.0);
            f.remove("num_blocks");
            f.insert("total_size".into(), mib_value(mib));
        }
    }
    let mut used = 0;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        o => o.to_string(),
    };
    for a in s.args.iter().filter(|a| a.positional) {
        if let Some(v) = f.get(a.dest) {
            out.push(shell_quote(&text(v)));
            used += 1;
        }
    }
    for a in s.args.iter().filter(|a| !a.positional) {
        let Some(v) = f.get(a.dest) else { continue };
        used += 1;
        let name = a.short.or(a.long).unwrap_or(a.dest);
        match a.kind {
            Kind::True if v == &Value::Bool(true) => out.push(name.into()),
            Kind::False if v == &Value::Bool(false) => out.push(name.into()),
            Kind::True | Kind::False => {}
            Kind::BoolOpt => {
                let l = a.long.unwrap_or(name);
                out.push(if v == &Value::Bool(true) {
                    l.to_string()
                } else {
                    l.replacen("--", "--no-", 1)
                });
            }
            Kind::List => {
                let items: Vec<String> = v.as_array().into_iter().flatten().map(text).collect();
                out.push(name.into());
                out.push(shell_quote(&items.join(",")));
            }
            _ => {
                out.push(name.into());
                out.push(shell_quote(&text(v)));
            }
        }
    }
    if used < f.len() {
        // Keys spdk-rpc has no flag for: show the raw request instead.
        return format!(
            "{prog} {method} {}",
            shell_quote(&Value::Object(p.clone()).to_string())
        );
    }
    out.join(" ")
}

// ---- completion and history -------------------------------------------------

/// Every method name we know (specs, ours, and what the apps list).
pub fn method_names(ctx: &Ctx) -> Vec<String> {
    let mut v: Vec<String> = SPECS
        .iter()
        .map(|s| s.method.to_string())
        .chain(OUR_METHODS.iter().map(|(m, _)| m.to_string()))
        .chain(ctx.tgt_methods.iter().flatten().cloned())
        .chain(ctx.ini_methods.iter().flatten().cloned())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Completions of the last word of `line`: (byte offset where the word
/// starts, candidates). `extra` feeds values (NQNs, addresses, bdevs).
pub fn complete(line: &str, ctx: &Ctx, extra: &[String]) -> (usize, Vec<String>) {
    let start = line.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let word = &line[start..];
    let before: Vec<String> = shell_split(&line[..start]).unwrap_or_default();
    let mut i = 0;
    if before.first().is_some_and(|t| is_program(t)) {
        i = 1;
    }
    while i < before.len() && before[i].starts_with('-') {
        i += if ["-s", "-p", "-t", "-r", "--verbose"].contains(&before[i].as_str()) {
            2
        } else {
            1
        };
    }
    let mut cands: Vec<String> = if i >= before.len() {
        // The method name.
        if word.starts_with('-') {
            ["-s", "-p", "-t", "-r", "-v", "--dry-run"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            method_names(ctx)
        }
    } else {
        let method = &before[i];
        let prev = before.last().map(String::as_str).unwrap_or("");
        match spec(method) {
            Some(s) => {
                let prev_arg = s
                    .args
                    .iter()
                    .find(|a| !a.positional && (a.short == Some(prev) || a.long == Some(prev)));
                match prev_arg {
                    Some(a) if !a.choices.is_empty() => {
                        a.choices.iter().map(|c| c.to_string()).collect()
                    }
                    Some(a) if !matches!(a.kind, Kind::True | Kind::False | Kind::BoolOpt) => {
                        extra.to_vec()
                    }
                    _ if word.starts_with('-') => s
                        .args
                        .iter()
                        .filter(|a| !a.positional)
                        .flat_map(|a| {
                            let mut v: Vec<String> = a.long.iter().map(|l| l.to_string()).collect();
                            if word.len() <= 2 {
                                v.extend(a.short.map(String::from));
                            }
                            if a.kind == Kind::BoolOpt {
                                v.extend(a.long.map(|l| l.replacen("--", "--no-", 1)));
                            }
                            v
                        })
                        .collect(),
                    _ => extra.to_vec(),
                }
            }
            None => extra.to_vec(),
        }
    };
    cands.retain(|c| c.starts_with(word));
    cands.sort();
    cands.dedup();
    (start, cands)
}

/// Longest common prefix of the candidates.
pub fn common_prefix(c: &[String]) -> String {
    let Some(first) = c.first() else {
        return String::new();
    };
    let mut n = first.len();
    for s in &c[1..] {
        n = n.min(
            first
                .char_indices()
                .zip(s.chars())
                .take_while(|((_, a), b)| a == b)
                .last()
                .map_or(0, |((i, a), _)| i + a.len_utf8()),
        );
    }
    first[..n].to_string()
}

/// Command history, newest last, without consecutive duplicates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub items: Vec<String>,
    /// Position while browsing with Up/Down (`None` = editing a new line).
    pub pos: Option<usize>,
    pub draft: String,
}

impl History {
    pub const MAX: usize = 500;

    pub fn push(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() || self.items.last().is_some_and(|l| l == line) {
            return;
        }
        if self.items.len() == Self::MAX {
            self.items.remove(0);
        }
        self.items.push(line.to_string());
    }

    /// Up: an older entry (the draft is kept for coming back).
    pub fn older(&mut self, current: &str) -> Option<&str> {
        let p = match self.pos {
            None if self.items.is_empty() => return None,
            None => {
                self.draft = current.to_string();
                self.items.len() - 1
            }
            Some(0) => 0,
            Some(p) => p - 1,
        };
        self.pos = Some(p);
        self.items.get(p).map(String::as_str)
    }

    /// Down: a newer entry, then the draft.
    pub fn newer(&mut self) -> Option<String> {
        let p = self.pos?;
        if p + 1 < self.items.len() {
            self.pos = Some(p + 1);
            self.items.get(p + 1).cloned()
        } else {
            self.pos = None;
            Some(std::mem::take(&mut self.draft))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            tgt_loc: "/var/tmp/spdk.sock".into(),
            ini_loc: "/tmp/bdevperf.sock".into(),
            tgt_methods: Some(vec![
                "nvmf_get_subsystems".into(),
                "framework_get_reactors".into(),
            ]),
            ini_methods: Some(vec![
                "bdev_nvme_get_io_paths".into(),
                "mpath_perf_status".into(),
            ]),
        }
    }

    #[test]
    fn split_and_quote() {
        assert_eq!(
            shell_split(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert!(shell_split("a 'b").is_err());
        assert_eq!(
            shell_quote("nqn.2022-02.io.spdk:cnode0"),
            "nqn.2022-02.io.spdk:cnode0"
        );
        assert_eq!(shell_quote(r#"{"a":1}"#), r#"'{"a":1}'"#);
    }

    #[test]
    fn to_line_round_trips() {
        let p = json!({"nqn":"nqn.2022-02.io.spdk:cnode0","ana_state":"non_optimized",
            "listen_address":{"trtype":"tcp","traddr":"127.0.0.1","trsvcid":"4420"}});
        let l = to_line(
            Engine::Target,
            "nvmf_subsystem_listener_set_ana_state",
            Some(&p),
            Some("/var/tmp/spdk.sock"),
        );
        assert_eq!(
            l,
            "spdk-rpc nvmf_subsystem_listener_set_ana_state nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.1 -s 4420 -n non_optimized"
        );
        let back = parse(&l, &ctx()).unwrap();
        assert_eq!(back.params, Some(p));
        let l = to_line(
            Engine::Initiator,
            "mpath_perf_stop",
            None,
            Some("/tmp/bdevperf.sock"),
        );
        assert_eq!(l, "spdk-rpc -s /tmp/bdevperf.sock mpath_perf_stop");
        let l = to_line(
            Engine::Initiator,
            "perform_tests",
            Some(&json!({"time_in_sec": 315360000})),
            None,
        );
        assert_eq!(l, "bdevperf.py perform_tests -t 315360000");
        // The line logged for `bdev_malloc_create 32 512 -b Malloc1` is
        // that command again, size included, and parses back to the same
        // request.
        let line = "bdev_malloc_create 32 512 -b Malloc1";
        let req = parse(line, &ctx()).unwrap();
        let l = to_line(Engine::Target, &req.method, req.params.as_ref(), None);
        assert_eq!(l, "spdk-rpc bdev_malloc_create 32 512 -b Malloc1");
        let back = parse(l.trim_start_matches("spdk-rpc "), &ctx()).unwrap();
        assert_eq!(back.params, req.params);
    }

    #[test]
    fn completion() {
        let (s, c) = complete("bdev_nvme_set_m", &ctx(), &[]);
        assert_eq!(
            (s, c),
            (0, vec!["bdev_nvme_set_multipath_policy".to_string()])
        );
        let (_, c) = complete("bdev_nvme_set_multipath_policy -b Nvme0n1 -p ", &ctx(), &[]);
        assert_eq!(c, ["active_active", "active_passive"]);
        let (_, c) = complete("bdev_nvme_set_multipath_policy --s", &ctx(), &[]);
        assert_eq!(c, ["--selector"]);
        let (_, c) = complete("framework_get", &ctx(), &[]);
        assert_eq!(c, ["framework_get_reactors"]);
        assert_eq!(
            common_prefix(&["nvmf_get_a".into(), "nvmf_get_b".into()]),
            "nvmf_get_"
        );
    }

    #[test]
    fn history_browse() {
        let mut h = History::default();
        h.push("a");
        h.push("b");
        h.push("b");
        assert_eq!(h.items, ["a", "b"]);
        assert_eq!(h.older("draft"), Some("b"));
        assert_eq!(h.older(""), Some("a"));
        assert_eq!(h.older(""), Some("a"));
        assert_eq!(h.newer().as_deref(), Some("b"));
        assert_eq!(h.newer().as_deref(), Some("draft"));
        assert_eq!(h.newer(), None);
    }
}
