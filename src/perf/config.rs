//! bdevperf's run parameters: the workload names, the `-q -o -w -t -M -f -k
//! -T -z -m` options, their validation, and the `perform_tests` RPC params.
//!
//! The rules follow SPDK v24.09 `examples/bdev/bdevperf/bdevperf.c`
//! (`bdevperf_parse_arg`, `verify_test_params`, `rpc_perform_tests`), including
//! the quirks a client can observe; each quirk is marked where it is kept.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// JSON-RPC "Parse error": bdevperf answers bad `perform_tests` params with it.
pub const JSONRPC_PARSE_ERROR: i32 = -32700;
/// JSON-RPC "Invalid params": used for "No jobs defined or bdevs created".
pub const JSONRPC_INVALID_PARAMS: i32 = -32602;
/// JSON-RPC "Internal error": failed runs and a test already in progress.
pub const JSONRPC_INTERNAL_ERROR: i32 = -32603;

/// The message of a `perform_tests` params decode failure (golden 69).
pub const MSG_DECODE_FAILED: &str = "spdk_json_decode_object failed";
/// The message of `perform_tests` params that decode but do not validate.
pub const MSG_INVALID_PARAMETERS: &str = "Invalid parameters provided";

/// Linux errno values bdevperf turns into RPC error texts.
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOMEM: i32 = 12;
    pub const EINVAL: i32 = 22;
    pub const ENOTSUP: i32 = 95;
    pub const EINPROGRESS: i32 = 115;

    /// glibc's `strerror` text for the errno values used here. Other values
    /// get glibc's "Unknown error N" form, as SPDK does for a negative errno.
    pub fn strerror(e: i32) -> String {
        match e {
            EPERM => "Operation not permitted".to_string(),
            ENOMEM => "Cannot allocate memory".to_string(),
            EINVAL => "Invalid argument".to_string(),
            ENOTSUP => "Operation not supported".to_string(),
            EINPROGRESS => "Operation now in progress".to_string(),
            other => format!("Unknown error {other}"),
        }
    }
}

/// The I/O pattern of a job (`-w`), named as bdevperf names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    Read,
    Write,
    RandRead,
    RandWrite,
    /// Sequential mix of reads and writes; needs `-M` (read percentage).
    Rw,
    /// Random mix of reads and writes; needs `-M` (read percentage).
    RandRw,
    /// Sequential write + read-back + compare (see `pattern` for our checks).
    Verify,
    /// bdevperf: verify plus a bdev reset 10 s after the start and 10 s
    /// after each reset completes; I/O failures do not stop the job, a
    /// failed reset does.
    Reset,
    /// Deallocates io_size at sequential offsets; a job on a device without
    /// unmap fails to start, as bdevperf's does.
    Unmap,
    Flush,
    WriteZeroes,
}

/// bdevperf's list of workload names, as its error text prints it.
pub const PATTERN_TYPES: &str =
    "(read, write, randread, randwrite, rw, randrw, verify, reset, unmap, flush, write_zeroes)";

impl Workload {
    pub const ALL: [Workload; 11] = [
        Workload::Read,
        Workload::Write,
        Workload::RandRead,
        Workload::RandWrite,
        Workload::Rw,
        Workload::RandRw,
        Workload::Verify,
        Workload::Reset,
        Workload::Unmap,
        Workload::Flush,
        Workload::WriteZeroes,
    ];

    /// The name bdevperf prints and `perform_tests` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Write => "write",
            Workload::RandRead => "randread",
            Workload::RandWrite => "randwrite",
            Workload::Rw => "rw",
            Workload::RandRw => "randrw",
            Workload::Verify => "verify",
            Workload::Reset => "reset",
            Workload::Unmap => "unmap",
            Workload::Flush => "flush",
            Workload::WriteZeroes => "write_zeroes",
        }
    }

    /// Offsets drawn uniformly at random rather than walked in order.
    pub fn is_random(self) -> bool {
        matches!(
            self,
            Workload::RandRead | Workload::RandWrite | Workload::RandRw
        )
    }

    /// Write + read-back + compare (verify and reset).
    pub fn is_verify(self) -> bool {
        matches!(self, Workload::Verify | Workload::Reset)
    }

    /// rw and randrw: the only workloads that take `-M`, and the only ones
    /// whose results carry `percentage`.
    pub fn is_mixed(self) -> bool {
        matches!(self, Workload::Rw | Workload::RandRw)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Workload {
    type Err = PerfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .iter()
            .copied()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| PerfError::UnknownWorkload(s.to_string()))
    }
}

/// Why a configuration or a job could not be set up. The `Display` texts
/// are bdevperf's where bdevperf has one (marked "bdevperf text"); the rest
/// are ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PerfError {
    /// bdevperf text (`-o` that `spdk_parse_capacity` rejects).
    #[error("Invalid IO size: {0}")]
    InvalidIoSize(String),
    /// bdevperf text (a numeric option that is negative or not a number).
    #[error("Parse failed for the option {0}.")]
    ParseFailed(char),
    /// bdevperf text (a numeric option >= INT_MAX).
    #[error("Parsed option was too large {0}.")]
    TooLarge(char),
    /// bdevperf text (`parse_rw`).
    #[error("rw must be one of\n{PATTERN_TYPES}")]
    UnknownWorkload(String),
    #[error("option requires an argument -- '{0}'")]
    MissingArgument(char),
    #[error("unsupported option '{0}'")]
    UnknownOption(String),
    /// bdevperf rejects these silently (`verify_test_params`).
    #[error("queue depth (-q) must be set and greater than 0")]
    QueueDepthNotSet,
    #[error("IO size (-o) must be set and greater than 0")]
    IoSizeNotSet,
    #[error("workload (-w) must be set")]
    WorkloadNotSet,
    #[error("run time (-t) must be set and greater than 0")]
    TimeNotSet,
    /// bdevperf text.
    #[error("-M must be specified to value from 0 to 100 for rw or randrw.")]
    RwPercentage,
    /// bdevperf text (job construction; ENOTSUP).
    #[error(
        "IO size ({io_size}) is not multiples of data block size of bdev {bdev} ({block_size})"
    )]
    IoSizeNotMultiple {
        io_size: u32,
        bdev: String,
        block_size: u32,
    },
    /// bdevperf text (job construction; ENOTSUP).
    #[error("Skipping {0} because it does not support unmap")]
    UnmapUnsupported(String),
    /// bdevperf text (job construction; ENOMEM).
    #[error("Due to constraints of verify operation, the job storage capacity is too large")]
    VerifyRangeTooLarge,
    /// Ours: bdevperf would divide by zero (random) or run past the end.
    #[error("IO size ({io_size}) is larger than bdev {bdev} ({bytes} bytes)")]
    IoSizeLargerThanBdev {
        io_size: u32,
        bdev: String,
        bytes: u64,
    },
    /// Ours: a verify block must hold its 24-byte header.
    #[error("block size {block_size} of bdev {bdev} is too small for verify (minimum 32)")]
    BlockTooSmall { bdev: String, block_size: u32 },
    /// Ours: bounds the memory of one job (bdevperf would fail its
    /// allocations with ENOMEM instead).
    #[error("queue depth {queue_depth} x IO size {io_size} needs too much memory for bdev {bdev}")]
    TooMuchMemory {
        queue_depth: u32,
        io_size: u32,
        bdev: String,
    },
}

impl PerfError {
    /// The positive errno bdevperf's run would fail with (used for the
    /// `"bdevperf failed with error <strerror>"` RPC error).
    pub fn errno(&self) -> i32 {
        match self {
            PerfError::IoSizeNotMultiple { .. } | PerfError::UnmapUnsupported(_) => errno::ENOTSUP,
            PerfError::VerifyRangeTooLarge | PerfError::TooMuchMemory { .. } => errno::ENOMEM,
            _ => errno::EINVAL,
        }
    }
}

/// Upper bound on the queue depth of one job; the slot table is allocated
/// up front, so an absurd `-q` must fail instead of exhausting memory.
pub const MAX_QUEUE_DEPTH: u32 = 65_536;
/// Upper bound on the buffers a verify job keeps (queue depth x IO size).
pub const MAX_VERIFY_BUFFER_BYTES: u64 = 1 << 30;

/// The persistent bdevperf parameters. Zero means "not set" for
/// `queue_depth`, `io_size` and `time_in_sec`, and -1 for `rw_percentage`,
/// exactly like bdevperf's globals, so a `perform_tests` that only sends
/// `time_in_sec` keeps everything else from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfConfig {
    /// `-q`: I/Os kept in flight per job.
    pub queue_depth: u32,
    /// `-o`: bytes per I/O.
    pub io_size: u32,
    /// `-w`.
    pub workload: Option<Workload>,
    /// `-M`: read percentage for rw/randrw (0..=100), -1 when not given.
    pub rw_percentage: i32,
    /// Whether `-M` was given (only drives bdevperf's "Ignoring -M" warning).
    pub mix_specified: bool,
    /// `-t`: seconds of I/O.
    pub time_in_sec: u32,
    /// `-f`: keep going after failed I/O (and, ours, after miscompares).
    pub continue_on_failure: bool,
    /// `-k`: an I/O taking longer than this many seconds counts in
    /// `io_timeout` (0 disables). Without `-X` bdevperf does not abort it.
    pub timeout_in_sec: u32,
    /// `-T`: run only against this bdev.
    pub job_bdev_name: Option<String>,
    /// `-z`: wait for `perform_tests` instead of running at start.
    pub wait_for_tests: bool,
    /// `-m`: the app's core mask; jobs are placed round-robin on its cores
    /// and report their core as "Core Mask 0x..".
    pub core_mask: u64,
    /// Ours: verify writes generations `base + 1`, `base + 2`, ... (one per
    /// pass over the range). `Bdevperf` sets it per device to the last
    /// generation of the previous run, so data left by an earlier run reads
    /// back as stale instead of matching by chance.
    pub verify_generation_base: u64,
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            queue_depth: 0,
            io_size: 0,
            workload: None,
            rw_percentage: -1,
            mix_specified: false,
            time_in_sec: 0,
            continue_on_failure: false,
            timeout_in_sec: 0,
            job_bdev_name: None,
            wait_for_tests: false,
            core_mask: 1,
            verify_generation_base: 0,
        }
    }
}

/// Parses a size the way `spdk_parse_capacity` does: leading whitespace,
/// decimal digits, then optionally one of `kKmMgG` (binary units); anything
/// after that unit letter is ignored, as `sscanf("%lu%c")` ignores it.
/// Differences, on purpose: a sign or an overflow is an error here, where C
/// would wrap.
pub fn parse_capacity(s: &str) -> Result<u64, PerfError> {
    let err = || PerfError::InvalidIoSize(s.to_string());
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(err());
    }
    let value: u64 = t[..digits].parse().map_err(|_| err())?;
    let shift = match t[digits..].chars().next() {
        None => 0,
        Some('k' | 'K') => 10,
        Some('m' | 'M') => 20,
        Some('g' | 'G') => 30,
        Some(_) => return Err(err()),
    };
    value.checked_mul(1u64 << shift).ok_or_else(err)
}

/// bdevperf's integer options (`spdk_strtoll` then the INT_MAX check).
fn parse_int_option(opt: char, arg: &str) -> Result<u32, PerfError> {
    let v: i64 = arg.parse().map_err(|_| PerfError::ParseFailed(opt))?;
    if v < 0 {
        return Err(PerfError::ParseFailed(opt));
    }
    if v >= i64::from(i32::MAX) {
        return Err(PerfError::TooLarge(opt));
    }
    // In range by the checks above.
    u32::try_from(v).map_err(|_| PerfError::TooLarge(opt))
}

/// A size as bdevperf stores it (a C `int`): values past `i32::MAX` are
/// rejected here instead of being truncated as C's cast would.
fn io_size_from_capacity(size: u64) -> Option<u32> {
    if size > i32::MAX as u64 {
        None
    } else {
        u32::try_from(size).ok()
    }
}

fn parse_core_mask(arg: &str) -> Result<u64, PerfError> {
    let hex = arg
        .strip_prefix("0x")
        .or_else(|| arg.strip_prefix("0X"))
        .unwrap_or(arg);
    match u64::from_str_radix(hex, 16) {
        Ok(0) | Err(_) => Err(PerfError::ParseFailed('m')),
        Ok(m) => Ok(m),
    }
}

impl PerfConfig {
    /// A ready-to-run configuration (what `-q -o -w -t` give).
    pub fn new(workload: Workload, queue_depth: u32, io_size: u32, time_in_sec: u32) -> Self {
        PerfConfig {
            queue_depth,
            io_size,
            workload: Some(workload),
            time_in_sec,
            ..PerfConfig::default()
        }
    }

    /// The HOWTO's bdevperf parameters (`-z -q 128 -o 4096 -w verify -t
    /// 315360000`): waits for `perform_tests`, then runs until stopped (the
    /// ten-year `-t` never runs out).
    pub fn howto_load() -> PerfConfig {
        PerfConfig::from_args([
            "-z",
            "-q",
            "128",
            "-o",
            "4096",
            "-w",
            "verify",
            "-t",
            "315360000",
        ])
        .expect("the HOWTO's bdevperf parameters parse")
    }

    /// Parses bdevperf's command-line options (`-q 128 -o 4k -w verify -t 10`,
    /// also the attached form `-q128`). Supported: `-q -o -w -t -M -k -T -m`
    /// with a value, and the flags `-f -z`. The result must validate unless
    /// `-z` is given (bdevperf lets `-z` start with incomplete options and
    /// checks them again at `perform_tests`).
    pub fn from_args<I, S>(args: I) -> Result<PerfConfig, PerfError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut cfg = PerfConfig::default();
        let args: Vec<String> = args.into_iter().map(|s| s.as_ref().to_string()).collect();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            let mut chars = a.chars();
            if chars.next() != Some('-') {
                return Err(PerfError::UnknownOption(a.clone()));
            }
            let Some(opt) = chars.next() else {
                return Err(PerfError::UnknownOption(a.clone()));
            };
            let attached: String = chars.collect();
            match opt {
                'f' | 'z' if attached.is_empty() => {
                    if opt == 'f' {
                        cfg.continue_on_failure = true;
                    } else {
                        cfg.wait_for_tests = true;
                    }
                    continue;
                }
                'q' | 'o' | 'w' | 't' | 'M' | 'k' | 'T' | 'm' => {}
                _ => return Err(PerfError::UnknownOption(a.clone())),
            }
            let value = if !attached.is_empty() {
                attached
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(PerfError::MissingArgument(opt));
            };
            match opt {
                'q' => cfg.queue_depth = parse_int_option('q', &value)?,
                't' => cfg.time_in_sec = parse_int_option('t', &value)?,
                'k' => cfg.timeout_in_sec = parse_int_option('k', &value)?,
                'M' => {
                    // In range (< i32::MAX) by parse_int_option.
                    cfg.rw_percentage = i32::try_from(parse_int_option('M', &value)?)
                        .map_err(|_| PerfError::TooLarge('M'))?;
                    cfg.mix_specified = true;
                }
                'o' => {
                    let size = parse_capacity(&value)?;
                    cfg.io_size = io_size_from_capacity(size)
                        .ok_or_else(|| PerfError::InvalidIoSize(value.clone()))?;
                }
                'w' => cfg.workload = Some(value.parse()?),
                'T' => cfg.job_bdev_name = Some(value),
                'm' => cfg.core_mask = parse_core_mask(&value)?,
                _ => return Err(PerfError::UnknownOption(a.clone())),
            }
        }
        // bdevperf checks the options even with -z (and applies what the
        // check changes); only without -z is a failed check fatal.
        match cfg.validate() {
            Ok(()) => cfg.normalize(),
            Err(e) if !cfg.wait_for_tests => return Err(e),
            Err(_) => {}
        }
        Ok(cfg)
    }

    /// bdevperf's `verify_test_params`: everything a run needs is set and
    /// rw/randrw have a read percentage in 0..=100.
    pub fn validate(&self) -> Result<(), PerfError> {
        self.validate_common(self.workload.is_some())?;
        if let Some(w) = self.workload {
            if w.is_mixed() && !(0..=100).contains(&self.rw_percentage) {
                return Err(PerfError::RwPercentage);
            }
        }
        Ok(())
    }

    fn validate_common(&self, workload_set: bool) -> Result<(), PerfError> {
        if self.queue_depth == 0 {
            return Err(PerfError::QueueDepthNotSet);
        }
        if self.io_size == 0 {
            return Err(PerfError::IoSizeNotSet);
        }
        if !workload_set {
            return Err(PerfError::WorkloadNotSet);
        }
        if self.time_in_sec == 0 {
            return Err(PerfError::TimeNotSet);
        }
        Ok(())
    }

    /// What bdevperf's `verify_test_params` changes on success. Quirk kept:
    /// verify and reset set the read percentage to 50, and it persists, so a
    /// later `perform_tests` switching to rw without `rw_percentage` runs 50%.
    pub fn normalize(&mut self) {
        if self.workload.is_some_and(Workload::is_verify) {
            self.rw_percentage = 50;
        }
    }

    /// bdevperf's non-fatal notices for this configuration.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.mix_specified && self.workload.is_some_and(|w| !w.is_mixed()) {
            w.push(
                "Ignoring -M option... Please use -M option only when using rw or randrw."
                    .to_string(),
            );
        }
        w
    }

    /// The read percentage a job of this configuration uses: bdevperf's
    /// `job_init_rw` (100 for read/randread, 0 for write/randwrite and verify).
    pub fn effective_read_percentage(&self) -> i32 {
        match self.workload {
            Some(Workload::Read | Workload::RandRead) => 100,
            Some(Workload::Rw | Workload::RandRw) => self.rw_percentage.clamp(0, 100),
            _ => 0,
        }
    }
}

/// A `perform_tests` failure: JSON-RPC error code and message.
pub type RpcError = (i32, String);

/// The decoded `perform_tests` params (SPDK's `rpc_bdevperf_params`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct RpcParams {
    time_in_sec: Option<i32>,
    workload_type: Option<String>,
    queue_depth: Option<i32>,
    io_size: Option<String>,
    rw_percentage: Option<i32>,
}

/// `spdk_json_decode_int32`: a JSON number whose value is an integer in i32
/// range. SPDK normalises fraction and exponent digits (`3.0`, `1e2` are
/// accepted); an f64 with no fractional part is the same test here.
fn decode_int32(v: &Value) -> Option<i32> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return i32::try_from(i).ok();
    }
    if n.as_u64().is_some() {
        return None; // > i64::MAX, far past i32
    }
    let f = n.as_f64()?;
    if f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX) {
        // Exact: integral and in range.
        Some(f as i32)
    } else {
        None
    }
}

/// `spdk_json_decode_string`: a JSON string without embedded NUL.
fn decode_string(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.contains('\0')).map(str::to_string)
}

/// SPDK's relaxed object decode of the params: unknown keys are ignored, a
/// known key of the wrong type fails the whole decode. (SPDK also fails on a
/// duplicate key; a `serde_json::Value` has already merged duplicates.)
fn decode_params(params: &Value) -> Option<RpcParams> {
    let obj = params.as_object()?;
    let mut p = RpcParams::default();
    let mut ok = true;
    for (k, v) in obj {
        match k.as_str() {
            "time_in_sec" => p.time_in_sec = decode_int32(v).or_else(|| fail(&mut ok)),
            "workload_type" => p.workload_type = decode_string(v).or_else(|| fail(&mut ok)),
            "queue_depth" => p.queue_depth = decode_int32(v).or_else(|| fail(&mut ok)),
            "io_size" => p.io_size = decode_string(v).or_else(|| fail(&mut ok)),
            "rw_percentage" => p.rw_percentage = decode_int32(v).or_else(|| fail(&mut ok)),
            _ => {}
        }
    }
    ok.then_some(p)
}

fn fail<T>(ok: &mut bool) -> Option<T> {
    *ok = false;
    None
}

/// Applies `perform_tests` params to the persistent configuration, the way
/// SPDK v24.09 does, and validates the result:
///
/// * `params` null: nothing to apply (rpc.py omits empty params).
/// * decode failure (not an object, wrong type, int out of i32 range) →
///   `(-32700, "spdk_json_decode_object failed")`, nothing changed.
/// * zero values of `time_in_sec`, `queue_depth`, `rw_percentage` mean "keep
///   the previous value" (so `-M 0` cannot be set over RPC, as in SPDK).
///   `rw_percentage` absent or 0 clears `mix_specified`.
/// * an `io_size` string that does not parse is ignored with bdevperf's
///   "Invalid IO size" notice (logged), keeping the previous size — quirk kept.
/// * the result fails validation → `(-32700, "Invalid parameters provided")`,
///   configuration restored.
/// * a `workload_type` bdevperf does not know passes validation in SPDK and
///   then fails the run: `(-32603, "bdevperf failed with error Invalid
///   argument")`. SPDK exits after that; here the configuration is restored.
///
/// On success the new values persist in `cfg` for the next call.
pub fn apply_params(cfg: &mut PerfConfig, params: &Value) -> Result<(), RpcError> {
    if params.is_null() {
        return finish_validation(cfg.clone(), None).map(|c| *cfg = c);
    }
    let p = decode_params(params)
        .ok_or_else(|| (JSONRPC_PARSE_ERROR, MSG_DECODE_FAILED.to_string()))?;
    let mut cand = cfg.clone();
    let mut unknown_workload = None;
    if let Some(w) = &p.workload_type {
        match w.parse::<Workload>() {
            Ok(w) => cand.workload = Some(w),
            Err(_) => unknown_workload = Some(w.clone()),
        }
    }
    let invalid = || (JSONRPC_PARSE_ERROR, MSG_INVALID_PARAMETERS.to_string());
    if let Some(q) = p.queue_depth.filter(|&q| q != 0) {
        cand.queue_depth = u32::try_from(q).map_err(|_| invalid())?;
    }
    if let Some(s) = &p.io_size {
        match parse_capacity(s) {
            Ok(size) => cand.io_size = io_size_from_capacity(size).ok_or_else(invalid)?,
            Err(e) => tracing::warn!("{e}"),
        }
    }
    if let Some(t) = p.time_in_sec.filter(|&t| t != 0) {
        cand.time_in_sec = u32::try_from(t).map_err(|_| invalid())?;
    }
    match p.rw_percentage.filter(|&m| m != 0) {
        Some(m) => {
            cand.rw_percentage = m;
            cand.mix_specified = true;
        }
        None => cand.mix_specified = false,
    }
    finish_validation(cand, unknown_workload).map(|c| *cfg = c)
}

fn finish_validation(
    mut cand: PerfConfig,
    unknown_workload: Option<String>,
) -> Result<PerfConfig, RpcError> {
    let invalid = || (JSONRPC_PARSE_ERROR, MSG_INVALID_PARAMETERS.to_string());
    if let Some(w) = unknown_workload {
        // bdevperf's checks do not look at an unknown name; the run then
        // fails in parse_rw with EINVAL.
        cand.validate_common(true).map_err(|_| invalid())?;
        tracing::warn!("{}", PerfError::UnknownWorkload(w));
        return Err((
            JSONRPC_INTERNAL_ERROR,
            format!(
                "bdevperf failed with error {}",
                errno::strerror(errno::EINVAL)
            ),
        ));
    }
    cand.validate().map_err(|_| invalid())?;
    cand.normalize();
    Ok(cand)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capacity_suffixes_like_spdk_parse_capacity() {
        assert_eq!(parse_capacity("4096"), Ok(4096));
        assert_eq!(parse_capacity("4k"), Ok(4096));
        assert_eq!(parse_capacity("4K"), Ok(4096));
        assert_eq!(parse_capacity("1m"), Ok(1 << 20));
        assert_eq!(parse_capacity("1M"), Ok(1 << 20));
        assert_eq!(parse_capacity("2g"), Ok(2 << 30));
        assert_eq!(parse_capacity(" 8k"), Ok(8192));
        // sscanf stops after the unit letter.
        assert_eq!(parse_capacity("4kB"), Ok(4096));
        for bad in [
            "",
            "k",
            "4x",
            "4 k",
            "-4",
            "+4",
            "99999999999999999999",
            "17179869184G",
        ] {
            assert_eq!(
                parse_capacity(bad),
                Err(PerfError::InvalidIoSize(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn workload_names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(w.as_str().parse::<Workload>(), Ok(w));
        }
        let e = "bogus".parse::<Workload>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "rw must be one of\n(read, write, randread, randwrite, rw, randrw, verify, reset, unmap, flush, write_zeroes)"
        );
    }

    #[test]
    fn from_args_parses_the_golden_command_line() {
        // logs/rpc-run/cmdlines.txt: ... -z -r /tmp/bdevperf.sock -q 128 -o 4096 -w verify -t 90
        let c =
            PerfConfig::from_args(["-z", "-q", "128", "-o", "4096", "-w", "verify", "-t", "90"])
                .unwrap();
        assert_eq!(c.queue_depth, 128);
        assert_eq!(c.io_size, 4096);
        assert_eq!(c.workload, Some(Workload::Verify));
        assert_eq!(c.time_in_sec, 90);
        assert!(c.wait_for_tests);
        let c = PerfConfig::from_args(["-q128", "-o4k", "-wrandrw", "-M", "70", "-t", "1", "-f"])
            .unwrap();
        assert_eq!((c.queue_depth, c.io_size, c.rw_percentage), (128, 4096, 70));
        assert!(c.continue_on_failure && c.mix_specified);
        let c =
            PerfConfig::from_args(["-m", "0x2", "-q", "1", "-o", "512", "-w", "read", "-t", "1"])
                .unwrap();
        assert_eq!(c.core_mask, 2);
    }

    #[test]
    fn howto_load_is_the_open_ended_verify_run() {
        let c = PerfConfig::howto_load();
        assert_eq!(
            (c.queue_depth, c.io_size, c.workload, c.time_in_sec),
            (128, 4096, Some(Workload::Verify), 315_360_000)
        );
        assert!(c.wait_for_tests);
    }

    #[test]
    fn from_args_errors_use_bdevperf_texts() {
        let e = |a: &[&str]| {
            PerfConfig::from_args(a.iter().copied())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(e(&["-q", "-1"]), "Parse failed for the option q.");
        assert_eq!(e(&["-q", "abc"]), "Parse failed for the option q.");
        assert_eq!(e(&["-t", "2147483647"]), "Parsed option was too large t.");
        assert_eq!(e(&["-o", "4x"]), "Invalid IO size: 4x");
        assert_eq!(e(&["-q"]), "option requires an argument -- 'q'");
        assert_eq!(
            e(&["-q", "1", "-o", "4k", "-w", "rw", "-t", "1"]),
            "-M must be specified to value from 0 to 100 for rw or randrw."
        );
        assert_eq!(
            e(&["-q", "1", "-o", "4k", "-w", "randrw", "-M", "101", "-t", "1"]),
            "-M must be specified to value from 0 to 100 for rw or randrw."
        );
        assert!(matches!(
            PerfConfig::from_args(["-o", "4k", "-w", "read", "-t", "1"]),
            Err(PerfError::QueueDepthNotSet)
        ));
        assert!(matches!(
            PerfConfig::from_args(["-q", "1", "-o", "4k", "-w", "read"]),
            Err(PerfError::TimeNotSet)
        ));
        assert!(matches!(
            PerfConfig::from_args(["-q", "1", "-o", "0", "-w", "read", "-t", "1"]),
            Err(PerfError::IoSizeNotSet)
        ));
    }

    #[test]
    fn ignoring_m_warning() {
        let c = PerfConfig::from_args(["-q", "1", "-o", "4k", "-w", "read", "-M", "5", "-t", "1"])
            .unwrap();
        assert_eq!(
            c.warnings(),
            vec!["Ignoring -M option... Please use -M option only when using rw or randrw."]
        );
    }

    fn golden_cfg() -> PerfConfig {
        PerfConfig::from_args(["-z", "-q", "128", "-o", "4096", "-w", "verify", "-t", "90"])
            .unwrap()
    }

    #[test]
    fn apply_params_time_only_persists_the_rest() {
        // golden 27 then 48: {time_in_sec: 3}, later no params reuse it.
        let mut c = golden_cfg();
        apply_params(&mut c, &json!({"time_in_sec": 3})).unwrap();
        assert_eq!(c.time_in_sec, 3);
        assert_eq!((c.queue_depth, c.io_size), (128, 4096));
        apply_params(&mut c, &Value::Null).unwrap();
        assert_eq!(c.time_in_sec, 3);
        // Unknown keys are ignored (relaxed decode).
        apply_params(&mut c, &json!({"time_in_sec": 2, "bogus": [1]})).unwrap();
        assert_eq!(c.time_in_sec, 2);
    }

    #[test]
    fn apply_params_decode_errors_are_golden_69() {
        let mut c = golden_cfg();
        let before = c.clone();
        let decode = (-32700, "spdk_json_decode_object failed".to_string());
        for p in [
            json!({"time_in_sec": "x"}), // golden 69
            json!({"queue_depth": 1.5}),
            json!({"queue_depth": 4294967296u64}),
            json!({"io_size": 4096}),
            json!({"workload_type": true}),
            json!({"rw_percentage": null}),
            json!(["x"]),
            json!("x"),
        ] {
            assert_eq!(apply_params(&mut c, &p), Err(decode.clone()), "{p}");
            assert_eq!(c, before);
        }
        // SPDK's number split accepts an integral value written with a
        // fraction or exponent.
        apply_params(&mut c, &json!({"queue_depth": 64.0})).unwrap();
        assert_eq!(c.queue_depth, 64);
    }

    #[test]
    fn apply_params_invalid_values_restore_the_config() {
        let mut c = golden_cfg();
        let before = c.clone();
        let invalid = (-32700, "Invalid parameters provided".to_string());
        for p in [
            json!({"queue_depth": -1}),
            json!({"time_in_sec": -5}),
            json!({"io_size": "0"}),
            json!({"io_size": "4G"}),
            json!({"workload_type": "rw", "rw_percentage": 150}),
        ] {
            assert_eq!(apply_params(&mut c, &p), Err(invalid.clone()), "{p}");
            assert_eq!(c, before, "{p}");
        }
        // An unparsable io_size string is ignored (bdevperf quirk).
        apply_params(&mut c, &json!({"io_size": "4x"})).unwrap();
        assert_eq!(c.io_size, 4096);
        // Unknown workload: the run fails with EINVAL.
        assert_eq!(
            apply_params(&mut c, &json!({"workload_type": "bogus"})),
            Err((
                -32603,
                "bdevperf failed with error Invalid argument".to_string()
            ))
        );
        assert_eq!(c.workload, Some(Workload::Verify));
    }

    #[test]
    fn apply_params_without_cli_values_is_invalid() {
        // `bdevperf -z` alone: nothing set yet.
        let mut c = PerfConfig::from_args(["-z"]).unwrap();
        assert_eq!(
            apply_params(&mut c, &Value::Null),
            Err((-32700, "Invalid parameters provided".to_string()))
        );
        apply_params(
            &mut c,
            &json!({"time_in_sec": 1, "queue_depth": 4, "io_size": "4k", "workload_type": "randrw", "rw_percentage": 30}),
        )
        .unwrap();
        assert_eq!(c.workload, Some(Workload::RandRw));
        assert_eq!((c.queue_depth, c.io_size, c.rw_percentage), (4, 4096, 30));
        assert!(c.mix_specified);
        // rw_percentage 0 is "not given": the previous 30 stays.
        apply_params(&mut c, &json!({"rw_percentage": 0})).unwrap();
        assert_eq!(c.rw_percentage, 30);
        assert!(!c.mix_specified);
    }

    #[test]
    fn verify_sets_read_percentage_50_which_persists() {
        let mut c = golden_cfg();
        assert_eq!(c.rw_percentage, 50);
        apply_params(&mut c, &json!({"workload_type": "rw"})).unwrap();
        assert_eq!(c.workload, Some(Workload::Rw));
        assert_eq!(c.effective_read_percentage(), 50);
    }
}
