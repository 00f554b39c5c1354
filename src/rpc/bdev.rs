//! `bdev_malloc_*` and `bdev_get_bdevs` on the target's bdevs. SPDK answers
//! decode failures of these with -32603 "spdk_json_decode_object failed" and
//! runtime failures with a negative errno.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::decode;
use super::{Router, RpcError, RpcResult};
use crate::target::bdev::MallocBdev;
use crate::target::{Target, TargetError};

const EINVAL: i32 = 22;
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const ENOMEM: i32 = 12;

pub fn register(r: &mut Router, t: &Arc<Target>) {
    macro_rules! method {
        ($name:literal, $f:expr) => {{
            let t = t.clone();
            r.register_fn($name, move |p| {
                let t = t.clone();
                async move { $f(&t, p) }
            });
        }};
    }
    method!("bdev_malloc_create", malloc_create);
    method!("bdev_malloc_delete", malloc_delete);
    method!("bdev_get_bdevs", get_bdevs);
}

/// Every key v24.09's rpc.py and newer clients send; metadata/DIF options are
/// accepted only at their "off" values, since our malloc bdev has none.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MallocCreate {
    num_blocks: u64,
    block_size: u32,
    name: Option<String>,
    uuid: Option<String>,
    optimal_io_boundary: Option<u32>,
    md_size: Option<u32>,
    md_interleave: Option<bool>,
    dif_type: Option<u32>,
    dif_is_head_of_md: Option<bool>,
    physical_block_size: Option<u32>,
    dif_pi_format: Option<u32>,
    numa_id: Option<i32>,
}

fn malloc_create(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: MallocCreate = decode(p, RpcError::decode_failed)?;
    let _ = (
        req.optimal_io_boundary,
        req.md_interleave,
        req.dif_is_head_of_md,
        req.physical_block_size,
        req.numa_id,
    );
    if req.md_size.unwrap_or(0) != 0
        || req.dif_type.unwrap_or(0) != 0
        || req.dif_pi_format.unwrap_or(0) != 0
    {
        return Err(RpcError::errno(EINVAL));
    }
    let uuid = match req.uuid.as_deref().map(uuid::Uuid::parse_str) {
        Some(Err(_)) => return Err(RpcError::errno(EINVAL)),
        Some(Ok(u)) => Some(u),
        None => None,
    };
    let name = t
        .bdev_malloc_create(req.name, uuid, req.block_size, req.num_blocks)
        .map_err(|e| match e {
            TargetError::BdevExists => RpcError::errno(EEXIST),
            // SPDK: -ENOMEM "Cannot allocate memory" when its buffer cannot
            // be allocated.
            TargetError::NoMemory => RpcError::errno(ENOMEM),
            _ => RpcError::errno(EINVAL),
        })?;
    Ok(Value::String(name))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MallocDelete {
    name: String,
}

fn malloc_delete(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: MallocDelete = decode(p, RpcError::decode_failed)?;
    t.bdev_malloc_delete(&req.name)
        .map_err(|_| RpcError::errno(ENODEV))?;
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetBdevs {
    name: Option<String>,
    /// v24.09's rpc.py sends `timeout_ms`, spdk-rpc 26.5 sends `timeout`
    /// for `-t`; either is accepted (our bdevs exist at once: no wait).
    #[allow(dead_code)]
    #[serde(alias = "timeout")]
    timeout_ms: Option<u64>,
}

fn get_bdevs(t: &Arc<Target>, p: Option<Value>) -> RpcResult {
    let req: GetBdevs = decode(p, RpcError::decode_failed)?;
    let all = t.bdevs();
    let picked: Vec<_> = match &req.name {
        Some(n) => all
            .into_iter()
            .filter(|(b, _)| &b.name == n || &b.uuid.to_string() == n)
            .collect(),
        None => all,
    };
    if req.name.is_some() && picked.is_empty() {
        return Err(RpcError::errno(ENODEV));
    }
    Ok(Value::Array(
        picked.iter().map(|(b, c)| malloc_json(b, *c)).collect(),
    ))
}

/// A malloc bdev in `bdev_get_bdevs`, SPDK v24.09's shape and key order.
fn malloc_json(b: &MallocBdev, claimed: bool) -> Value {
    let uuid = b.uuid.to_string();
    let mut v = json!({
        "name": b.name,
        "aliases": [uuid],
        "product_name": "Malloc disk",
        "block_size": b.block_size,
        "num_blocks": b.num_blocks,
        "uuid": uuid,
        "assigned_rate_limits": {
            "rw_ios_per_sec": 0,
            "rw_mbytes_per_sec": 0,
            "r_mbytes_per_sec": 0,
            "w_mbytes_per_sec": 0
        },
        "claimed": claimed,
    });
    if let Value::Object(o) = &mut v {
        if claimed {
            o.insert("claim_type".into(), json!("exclusive_write"));
        }
        o.insert("zoned".into(), json!(false));
        o.insert(
            "supported_io_types".into(),
            json!({
                "read": true, "write": true, "unmap": false, "flush": true,
                "reset": false, "nvme_admin": false, "nvme_io": false,
                "nvme_io_md": false, "write_zeroes": true, "zcopy": false,
                "get_zone_info": false, "zone_management": false,
                "zone_append": false, "compare": false,
                "compare_and_write": false, "abort": false, "seek_hole": false,
                "seek_data": false, "copy": false, "nvme_iov_md": false
            }),
        );
        o.insert(
            "memory_domains".into(),
            json!([{"dma_device_id": "system", "dma_device_type": 1}]),
        );
        o.insert("driver_specific".into(), json!({}));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_with_malloc0() -> Arc<Target> {
        let t = Target::new();
        t.bdev_malloc_create(Some("Malloc0".into()), None, 512, 64)
            .unwrap();
        t
    }

    /// `bdev_get_bdevs -t N`: `timeout_ms` from v24.09's rpc.py, `timeout`
    /// from spdk-rpc 26.5; unknown keys stay refused as SPDK does.
    #[test]
    fn get_bdevs_takes_either_timeout_key() {
        let t = target_with_malloc0();
        for key in ["timeout_ms", "timeout"] {
            let got = get_bdevs(&t, Some(json!({"name": "Malloc0", key: 5})))
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(got[0]["name"], "Malloc0", "{key}");
        }
        let all = get_bdevs(&t, Some(json!({"timeout": 0}))).unwrap();
        assert_eq!(all.as_array().map(Vec::len), Some(1));
        let e = get_bdevs(&t, Some(json!({"timeout_sec": 5}))).unwrap_err();
        assert_eq!(e.code, -32603, "{e}");
    }

    /// A size no machine here could back fails at once with SPDK's -ENOMEM,
    /// and leaves nothing behind.
    #[test]
    fn huge_malloc_is_enomem() {
        let t = target_with_malloc0();
        let e = malloc_create(
            &t,
            Some(json!({"name": "Huge", "num_blocks": 1u64 << 31, "block_size": 512})),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (-12, "Cannot allocate memory")
        );
        assert_eq!(t.bdevs().len(), 1);
        // Past what u64/usize hold: invalid, as before.
        let e = malloc_create(
            &t,
            Some(json!({"num_blocks": u64::MAX, "block_size": 4096})),
        )
        .unwrap_err();
        assert_eq!(e.code, -22);
    }
}
