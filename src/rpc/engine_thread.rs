//! A thread of its own for an engine: one current-thread tokio runtime
//! that runs the engine's RPC methods and so every task they spawn (the
//! target's listeners and connections, the initiator's queue pairs and
//! bdevperf's jobs). See [`Router::run_on`](super::Router::run_on).
//!
//! Why: on one shared multi-thread runtime a verify I/O's steps (the job,
//! its write, the read that checks it, both completions, and the target's
//! answers) wake each other across two workers, and which task sits on
//! which worker changes run to run: verify throughput at queue depth 128
//! is bimodal, and every cross-worker wake-up costs CPU. With a thread per
//! engine, as SPDK runs nvmf_tgt and bdevperf on a reactor each, the two
//! engines meet only through their sockets: more and steadier IOPS at high
//! depths. But unlike SPDK's reactors these threads park when idle, so at
//! queue depth 1 every hop wakes one, which is slower than the shared
//! runtime (where one worker carries the whole I/O): hence an option,
//! `bench --engine-threads`, not the default. README has the figures.

use std::io;
use std::sync::Arc;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub struct EngineThread {
    handle: Handle,
    /// Dropped with us: the thread's `block_on` returns, and dropping the
    /// runtime there cancels whatever still runs on it.
    _stop: oneshot::Sender<()>,
}

impl EngineThread {
    /// Starts the thread, named `name` (what `top -H` shows).
    pub fn start(name: &str) -> io::Result<Arc<EngineThread>> {
        let rt = Builder::new_current_thread().enable_all().build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = rt.block_on(stopped);
            })?;
        Ok(Arc::new(EngineThread {
            handle,
            _stop: stop,
        }))
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}
