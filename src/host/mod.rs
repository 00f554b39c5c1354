//! The embedded NVMe/TCP initiator, SPDK's bdev_nvme in miniature:
//! controllers attached by name (`-b Nvme0`), one per path in multipath
//! mode, and one multipath bdev per namespace (`Nvme0n1`).

pub mod cmd;
pub mod ctrlr;
pub mod dial;
pub mod events;
pub mod mpath;
pub mod qpair;
mod slots;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ctrlr::{CtrlrOpts, NvmeCtrlr};
use dial::Dialer;
use events::EventLog;
use mpath::{MpPolicy, NvmeBdev, RetryOpts, Selector};

/// `bdev_nvme_set_options` values that matter here, with SPDK's defaults.
#[derive(Debug, Clone)]
pub struct NvmeOptions {
    pub bdev_retry_count: i32,
    pub keep_alive_timeout_ms: u32,
    pub ctrlr_loss_timeout_sec: i32,
    pub reconnect_delay_sec: u32,
    pub fast_io_fail_timeout_sec: u32,
    pub io_queue_requests: u32,
    /// Per-path I/O statistics for `bdev_nvme_get_path_iostat` (SPDK's
    /// `io_path_stat`, off by default there too).
    pub io_path_stat: bool,
}

impl Default for NvmeOptions {
    fn default() -> Self {
        NvmeOptions {
            bdev_retry_count: 3,
            keep_alive_timeout_ms: 10_000,
            ctrlr_loss_timeout_sec: 0,
            reconnect_delay_sec: 0,
            fast_io_fail_timeout_sec: 0,
            io_queue_requests: 0,
            io_path_stat: false,
        }
    }
}

/// The three reconnect timers, validated as SPDK validates them.
pub fn timers_valid(loss: i32, delay: u32, fast_fail: u32) -> bool {
    match loss {
        l if l < -1 => false,
        -1 => delay != 0 && (fast_fail == 0 || fast_fail >= delay),
        0 => delay == 0 && fast_fail == 0,
        l => {
            let l = l as u32;
            delay != 0 && delay <= l && (fast_fail == 0 || (fast_fail >= delay && fast_fail <= l))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipathMode {
    Disable,
    Failover,
    Multipath,
}

/// Everything attached under one name.
pub struct NvmeBdevCtrlr {
    pub name: String,
    pub ctrlrs: Vec<Arc<NvmeCtrlr>>,
    pub bdevs: BTreeMap<u32, Arc<NvmeBdev>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("A controller named {0} already exists and multipath is disabled")]
    MultipathDisabled(String),
    #[error("A controller named {0} already exists with the specified network path")]
    SamePath(String),
    #[error("A controller named {0} already exists, but uses a different subnqn ({1})")]
    DifferentSubnqn(String, String),
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("namespaces differ between paths")]
    Mismatch,
}

pub struct Initiator {
    inner: Mutex<Inner>,
    pub hostnqn: String,
    pub hostid: [u8; 16],
    pub events: EventLog,
    /// Every controller's queue pairs dial through this instead of TCP.
    dialer: Option<Dialer>,
}

#[derive(Default)]
struct Inner {
    opts: NvmeOptions,
    ctrlrs: BTreeMap<String, NvmeBdevCtrlr>,
}

pub struct AttachParams {
    pub name: String,
    pub addr: std::net::SocketAddr,
    pub subnqn: String,
    pub hostnqn: Option<String>,
    pub hdgst: bool,
    pub ddgst: bool,
    pub multipath: MultipathMode,
    pub ctrlr_loss_timeout_sec: Option<i32>,
    pub reconnect_delay_sec: Option<u32>,
    pub fast_io_fail_timeout_sec: Option<u32>,
}

impl Initiator {
    pub fn new() -> Arc<Initiator> {
        Initiator::build(None)
    }

    /// An initiator whose controllers reach their targets through `d`
    /// instead of TCP (see [`dial`]).
    pub fn with_dialer(d: Dialer) -> Arc<Initiator> {
        Initiator::build(Some(d))
    }

    fn build(dialer: Option<Dialer>) -> Arc<Initiator> {
        let id = uuid::Uuid::new_v4();
        Arc::new(Initiator {
            inner: Mutex::new(Inner::default()),
            hostnqn: format!("nqn.2014-08.org.nvmexpress:uuid:{id}"),
            hostid: *id.as_bytes(),
            events: EventLog::default(),
            dialer,
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn options(&self) -> NvmeOptions {
        self.inner().opts.clone()
    }

    /// Refused once a controller exists, as SPDK refuses it.
    pub fn set_options(&self, o: NvmeOptions) -> bool {
        let mut i = self.inner();
        if !i.ctrlrs.is_empty() {
            return false;
        }
        i.opts = o;
        true
    }

    /// Attaches one path. Returns the bdev names (SPDK returns `[]` for a
    /// second path in failover mode).
    pub async fn attach(&self, p: AttachParams) -> Result<Vec<String>, AttachError> {
        let opts = self.options();
        {
            let i = self.inner();
            if let Some(g) = i.ctrlrs.get(&p.name) {
                if p.multipath == MultipathMode::Disable {
                    return Err(AttachError::MultipathDisabled(p.name));
                }
                if g.ctrlrs.iter().any(|c| c.opts.addr == p.addr) {
                    return Err(AttachError::SamePath(p.name));
                }
                if let Some(c) = g.ctrlrs.first() {
                    if c.opts.subnqn != p.subnqn {
                        return Err(AttachError::DifferentSubnqn(p.name, c.opts.subnqn.clone()));
                    }
                }
            }
        }
        let copts = CtrlrOpts {
            addr: p.addr,
            subnqn: p.subnqn.clone(),
            hostnqn: p.hostnqn.unwrap_or_else(|| self.hostnqn.clone()),
            hostid: self.hostid,
            hdgst: p.hdgst,
            ddgst: p.ddgst,
            kato_ms: opts.keep_alive_timeout_ms,
            ctrlr_loss_timeout_sec: p
                .ctrlr_loss_timeout_sec
                .unwrap_or(opts.ctrlr_loss_timeout_sec),
            reconnect_delay_sec: p.reconnect_delay_sec.unwrap_or(opts.reconnect_delay_sec),
            fast_io_fail_timeout_sec: p
                .fast_io_fail_timeout_sec
                .unwrap_or(opts.fast_io_fail_timeout_sec),
            io_sqsize: 127,
            timeout: Duration::from_secs(10),
            dialer: self.dialer.clone(),
        };
        let ctrlr = NvmeCtrlr::attach(copts, self.events.clone())
            .await
            .map_err(|e| AttachError::Connect(e.to_string()))?;
        // Decide under the lock, act (and await) after it.
        let outcome = self.add_path(&p.name, p.multipath, &ctrlr, opts.bdev_retry_count);
        match outcome {
            Ok(Some(names)) => Ok(names),
            Ok(None) => {
                // Failover mode keeps one connection; a second path there is
                // only an alternate address in SPDK, which we do not keep:
                // say so plainly by attaching nothing, as SPDK returns [].
                ctrlr.detach().await;
                Ok(Vec::new())
            }
            Err(e) => {
                ctrlr.detach().await;
                Err(e)
            }
        }
    }

    /// Adds a connected controller under `name`: one path per namespace.
    /// `Ok(None)` when failover mode does not take a second path.
    fn add_path(
        &self,
        name: &str,
        mode: MultipathMode,
        ctrlr: &Arc<NvmeCtrlr>,
        retry: i32,
    ) -> Result<Option<Vec<String>>, AttachError> {
        let mut i = self.inner();
        let g = i
            .ctrlrs
            .entry(name.to_string())
            .or_insert_with(|| NvmeBdevCtrlr {
                name: name.to_string(),
                ctrlrs: Vec::new(),
                bdevs: BTreeMap::new(),
            });
        if mode == MultipathMode::Failover && !g.ctrlrs.is_empty() {
            return Ok(None);
        }
        let nss = ctrlr.namespaces();
        // Every shared namespace must be identical on every path.
        for (nsid, ns) in &nss {
            if let Some(b) = g.bdevs.get(nsid) {
                if b.num_blocks != ns.num_blocks
                    || b.block_size != ns.block_size
                    || b.uuid != ns.uuid
                {
                    return Err(AttachError::Mismatch);
                }
            }
        }
        for (nsid, ns) in &nss {
            let b = g.bdevs.entry(*nsid).or_insert_with(|| {
                NvmeBdev::new(
                    format!("{name}n{nsid}"),
                    ns,
                    RetryOpts {
                        bdev_retry_count: retry,
                    },
                    self.events.clone(),
                )
            });
            b.add_path(ctrlr.clone(), ns.ana_state);
        }
        g.ctrlrs.push(ctrlr.clone());
        Ok(Some(g.bdevs.values().map(|b| b.name.clone()).collect()))
    }

    /// Detaches everything under `name`, or only the paths matching `addr`.
    /// Returns false when nothing matched.
    pub async fn detach(&self, name: &str, matches: impl Fn(&NvmeCtrlr) -> bool) -> Option<bool> {
        let victims: Vec<Arc<NvmeCtrlr>> = {
            let mut i = self.inner();
            let g = i.ctrlrs.get_mut(name)?;
            let (gone, keep): (Vec<_>, Vec<_>) = g.ctrlrs.drain(..).partition(|c| matches(c));
            g.ctrlrs = keep;
            for c in &gone {
                for b in g.bdevs.values() {
                    b.remove_ctrlr(c);
                }
            }
            if g.ctrlrs.is_empty() {
                i.ctrlrs.remove(name);
            }
            gone
        };
        for c in &victims {
            c.detach().await;
        }
        Some(!victims.is_empty())
    }

    pub fn with_ctrlrs<R>(&self, f: impl FnOnce(&BTreeMap<String, NvmeBdevCtrlr>) -> R) -> R {
        f(&self.inner().ctrlrs)
    }

    pub fn bdevs(&self) -> Vec<Arc<NvmeBdev>> {
        self.inner()
            .ctrlrs
            .values()
            .flat_map(|g| g.bdevs.values().cloned())
            .collect()
    }

    pub fn bdev(&self, name: &str) -> Option<Arc<NvmeBdev>> {
        self.bdevs().into_iter().find(|b| b.name == name)
    }

    pub fn set_policy(&self, bdev: &str, p: MpPolicy, s: Selector, rr_min_io: u32) -> bool {
        match self.bdev(bdev) {
            Some(b) => {
                b.set_policy(p, s, rr_min_io);
                true
            }
            None => false,
        }
    }
}
