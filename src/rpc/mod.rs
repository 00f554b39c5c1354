//! SPDK-compatible JSON-RPC 2.0: server, client and method table.
//!
//! The wire format is SPDK's (see <https://spdk.io/doc/jsonrpc.html> and the
//! golden exchanges in `tests/golden/spdk-v24.09/rpc/`): requests are JSON values back
//! to back on a stream socket, replies are compact JSON plus one `\n`.
//!
//! * [`framing`]: splits the byte stream into JSON values, bounded;
//! * [`request`]: validates a value as a request, encodes replies;
//! * [`router`]: the method table and SPDK's framework methods;
//! * [`params`]: strict parameter decoding for handlers;
//! * [`json`]: SPDK's and rpc.py's JSON output, and our parser;
//! * [`server`], [`client`]: the sockets.
//!
//! Method handlers live in sibling modules (e.g. `nvmf`, `bdev`) that take a
//! `&mut Router` and register their methods.

pub mod bdev;
pub mod bdev_nvme;
pub mod bdevperf;
pub mod client;
pub mod engine_thread;
pub mod error;
pub mod fault;
pub mod framing;
pub mod json;
pub mod nvme_cmd;
pub mod nvmf;
pub mod params;
pub mod path_iostat;
pub mod request;
pub mod router;
pub mod server;
pub mod sock;

pub use client::{ClientError, RpcClient};
pub use engine_thread::EngineThread;
pub use error::RpcError;
pub use router::{MethodFn, MethodFuture, Router, RpcResult};
pub use server::{
    serve_tcp, serve_tcp_with, serve_unix, serve_unix_with, RpcServer, ServerOptions,
};

#[cfg(test)]
pub(crate) mod test_support {
    //! Access to the golden data recorded from SPDK v24.09 from unit tests.

    use std::path::{Path, PathBuf};

    use serde_json::Value;

    /// `tests/golden/spdk-v24.09/rpc` in the repository (what each file is:
    /// the README.md one level up).
    pub fn vectors_dir() -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/spdk-v24.09/rpc");
        assert!(dir.is_dir(), "golden data not found at {}", dir.display());
        dir
    }

    pub fn golden_file(dir: &Path, name: &str) -> Value {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Every `*.json` in `dir`, sorted by name.
    pub fn golden_files(dir: &Path) -> Vec<(String, Value)> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read vectors dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let v = golden_file(dir, &n);
                (n, v)
            })
            .collect()
    }
}
