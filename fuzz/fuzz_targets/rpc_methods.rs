//! libFuzzer entry for the `rpc_methods` harness (see `harness/rpc_methods.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::rpc_methods::run(data);
});
