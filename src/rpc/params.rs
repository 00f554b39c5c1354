//! Strict parameter decoding, mirroring SPDK's `spdk_json_decode_object`.
//!
//! A handler declares its parameters as a serde struct with
//! `#[serde(deny_unknown_fields)]` (nested objects too) and calls
//! [`decode`] with the error its SPDK counterpart sends on a decode failure
//! (`RpcError::invalid_params` for `nvmf_*`, `RpcError::decode_failed` for
//! `bdev_*`, ...):
//!
//! ```
//! use mpath_console::rpc::{params, RpcError};
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct DeleteSubsystem {
//!     nqn: String,
//!     #[serde(default, deserialize_with = "params::non_null")]
//!     tgt_name: Option<String>,
//! }
//! let p = serde_json::json!({"nqn": "nqn.2016-06.io.spdk:cnode1"});
//! let req: DeleteSubsystem = params::decode(Some(p), RpcError::invalid_params).unwrap();
//! assert_eq!(req.nqn, "nqn.2016-06.io.spdk:cnode1");
//! ```
//!
//! How SPDK's rules map onto serde here:
//! * params absent or `null` decode as `{}` (so all-optional structs work);
//!   an array or any other non-object fails (serde alone would accept an
//!   array positionally for a struct; SPDK does not — golden file 67);
//! * unknown key → error (`deny_unknown_fields`); missing required key →
//!   error (serde);
//! * duplicate key → error: the server's parser marks objects with
//!   duplicates (see [`crate::rpc::json::DUPLICATE_KEY_MARKER`]), which
//!   fails strict structs like an unknown key and is checked explicitly at
//!   the top level here;
//! * strings must be JSON strings, booleans `true`/`false` (serde's types);
//! * integers: SPDK accepts any number that reduces to an integer
//!   (`1e3`, `1.0`, but not `1.5`), and rejects negatives for unsigned
//!   fields and out-of-range values. The server's parser turns exactly those
//!   numbers into integer values, so serde's integer fields agree;
//! * `null` for an optional field: SPDK rejects it, serde's `Option` takes
//!   it as absent. Use `#[serde(default, deserialize_with =
//!   "params::non_null")]` to reject it as SPDK does (rpc.py never sends
//!   `null`: it drops `None` values).

use serde::de::{DeserializeOwned, Deserializer, Error as _, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::RpcError;
use super::json::DUPLICATE_KEY_MARKER;

/// Strict decode: see the module docs. `on_err` builds the error returned
/// for any failure.
pub fn decode<T: DeserializeOwned>(
    params: Option<Value>,
    on_err: fn() -> RpcError,
) -> Result<T, RpcError> {
    let obj = object(params).ok_or_else(on_err)?;
    from_object(obj, on_err)
}

/// Like [`decode`], but unknown top-level keys are ignored (SPDK's
/// `spdk_json_decode_object_relaxed`, used by e.g. `nvmf_create_transport`
/// and `perform_tests`). Nested objects stay strict when their structs deny
/// unknown fields, as in SPDK (`nvmf_subsystem_add_ns`'s `namespace`).
///
/// The struct may keep `#[serde(deny_unknown_fields)]`: keys that are not
/// among its fields are dropped before decoding. (Structs that do not
/// deserialize as a plain struct, e.g. with `flatten`, are passed through
/// unfiltered.) A duplicate key fails even if unknown, which is slightly
/// stricter than SPDK (which ignores duplicates of keys it ignores).
pub fn decode_relaxed<T: DeserializeOwned>(
    params: Option<Value>,
    on_err: fn() -> RpcError,
) -> Result<T, RpcError> {
    let mut obj = object(params).ok_or_else(on_err)?;
    if obj.contains_key(DUPLICATE_KEY_MARKER) {
        return Err(on_err());
    }
    if let Some(fields) = struct_fields::<T>() {
        obj.retain(|k, _| fields.contains(&k.as_str()));
    }
    from_object(obj, on_err)
}

/// For `#[serde(default, deserialize_with = "params::non_null")]` on an
/// `Option<T>` field: absent → `None`, present → must be a valid `T`
/// (`null` included only if `T` itself accepts it).
pub fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

fn object(params: Option<Value>) -> Option<Map<String, Value>> {
    match params {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(m)) => Some(m),
        Some(_) => None,
    }
}

fn from_object<T: DeserializeOwned>(
    obj: Map<String, Value>,
    on_err: fn() -> RpcError,
) -> Result<T, RpcError> {
    if obj.contains_key(DUPLICATE_KEY_MARKER) {
        return Err(on_err());
    }
    T::deserialize(Value::Object(obj)).map_err(|e| {
        // SPDK logs the decode failure server-side and sends only its
        // fixed text; do the same.
        tracing::debug!("parameter decode failed: {e}");
        on_err()
    })
}

/// The field names `T` asks for when deserialized as a struct.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(FieldProbe { out: &mut fields });
    fields
}

/// A deserializer that only records what `deserialize_struct` is asked for.
struct FieldProbe<'a> {
    out: &'a mut Option<&'static [&'static str]>,
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Self::Error> {
        Err(Self::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Self::Error> {
        *self.out = Some(fields);
        Err(Self::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::json::{parse, ParseOptions};

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Malloc {
        num_blocks: u64,
        block_size: u32,
        #[serde(default, deserialize_with = "non_null")]
        name: Option<String>,
        #[serde(default)]
        enabled: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Ns {
        bdev_name: String,
        #[serde(default)]
        nsid: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct AddNs {
        nqn: String,
        namespace: Ns,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct AllOptional {
        #[serde(default)]
        current: bool,
    }

    /// Params as the server would hand them over: through our parser.
    fn wire(s: &str) -> Option<Value> {
        Some(parse(s.as_bytes(), &ParseOptions::SERVER).unwrap().value)
    }

    fn strict<T: DeserializeOwned>(s: &str) -> Result<T, RpcError> {
        decode(wire(s), RpcError::decode_failed)
    }

    #[test]
    fn accepts_good_params() {
        assert_eq!(
            strict::<Malloc>(r#"{"num_blocks": 131072, "block_size": 512, "name": "Malloc0"}"#),
            Ok(Malloc {
                num_blocks: 131072,
                block_size: 512,
                name: Some("Malloc0".into()),
                enabled: false
            })
        );
        // SPDK's integer rule: exponent/fraction forms that reduce to integers.
        assert_eq!(
            strict::<Malloc>(r#"{"num_blocks": 1e3, "block_size": 5.12e2}"#)
                .map(|m| (m.num_blocks, m.block_size)),
            Ok((1000, 512))
        );
        assert_eq!(
            decode::<AllOptional>(None, RpcError::invalid_params),
            Ok(AllOptional::default())
        );
        assert_eq!(
            decode::<AllOptional>(Some(Value::Null), RpcError::invalid_params),
            Ok(AllOptional::default())
        );
    }

    #[test]
    fn rejects_like_spdk() {
        let bad = [
            r#"{"block_size": 512}"#,                                // missing (file 61)
            r#"{"num_blocks": "131072", "block_size": 512}"#,        // string for int (file 62)
            r#"{"num_blocks": 1, "block_size": 512, "name": 5}"#,    // number for string (file 68)
            r#"{"num_blocks": -1, "block_size": 512}"#,              // negative unsigned
            r#"{"num_blocks": 1.5, "block_size": 512}"#,             // fraction
            r#"{"num_blocks": 1, "block_size": 4294967296}"#,        // out of range
            r#"{"num_blocks": 1, "block_size": 512, "enabled": 1}"#, // number for bool
            r#"{"num_blocks": 1, "block_size": 512, "enabled": "true"}"#,
            r#"{"num_blocks": 1, "block_size": 512, "name": null}"#, // null for string
            r#"{"num_blocks": 1, "block_size": 512, "bogus": 0}"#,   // unknown key
            r#"{"num_blocks": 1, "block_size": 512, "num_blocks": 2}"#, // duplicate
            r#"[131072, 512]"#,                                      // positional
            r#""x""#,
        ];
        for s in bad {
            assert_eq!(strict::<Malloc>(s), Err(RpcError::decode_failed()), "{s}");
        }
        assert_eq!(
            decode::<AllOptional>(wire("[]"), RpcError::invalid_params),
            Err(RpcError::invalid_params())
        );
    }

    #[test]
    fn relaxed_ignores_unknown_top_level_keys_only() {
        let ok = r#"{"nqn": "n", "namespace": {"bdev_name": "Malloc0"}, "no_auto_visible": false, "hide_metadata": false}"#;
        assert_eq!(
            decode_relaxed::<AddNs>(wire(ok), RpcError::invalid_params),
            Ok(AddNs {
                nqn: "n".into(),
                namespace: Ns {
                    bdev_name: "Malloc0".into(),
                    nsid: 0
                }
            })
        );
        assert!(decode::<AddNs>(wire(ok), RpcError::invalid_params).is_err());
        for bad in [
            r#"{"nqn": "n", "namespace": {"bdev_name": "M", "x": 1}}"#,
            r#"{"nqn": "n", "namespace": {"bdev_name": "M", "bdev_name": "N"}}"#,
            r#"{"nqn": "n", "nqn": "m", "namespace": {"bdev_name": "M"}}"#,
            r#"{"namespace": {"bdev_name": "M"}}"#,
            r#"["n"]"#,
        ] {
            assert_eq!(
                decode_relaxed::<AddNs>(wire(bad), RpcError::invalid_params),
                Err(RpcError::invalid_params()),
                "{bad}"
            );
        }
    }

    #[test]
    fn probe_finds_struct_fields() {
        assert_eq!(
            struct_fields::<Malloc>(),
            Some(&["num_blocks", "block_size", "name", "enabled"][..])
        );
        assert_eq!(struct_fields::<u32>(), None);
    }
}
