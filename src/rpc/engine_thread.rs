//! A thread of its own for an engine: one current-thread tokio runtime
//! that runs the engine's RPC methods and so every task they spawn (the
//! target's listeners and connections, the initiator's queue pairs and
//! bdevperf's jobs). See [`Router::run_on`](super::Router::run_on).
//!
//! Why: on the shared multi-thread runtime a verify I/O's steps (the job,
//! its write, the read that checks it, both completions, and the target's
//! answers) woke each other across two workers, and which task sat on
//! which worker changed run to run: verify throughput was bimodal and
//! every cross-thread wake-up cost CPU. With one thread per engine, as
//! SPDK runs nvmf_tgt and bdevperf on a reactor each, the two engines meet
//! only through their sockets (README, "One thread per engine", has the
//! figures).

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
