//! libFuzzer entry for the `nvme_structs` harness (see `harness/nvme_structs.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::nvme_structs::run(data);
});
