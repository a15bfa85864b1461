//! The JSON daxtrace prints (report, check, state, export) in a form jq and
//! JavaScript read exactly: their numbers are IEEE doubles, so an integer
//! above 2^53 (every kernel address) comes back rounded. Kernel addresses
//! become hex strings (`"0xffff88807e410eb0"`), device numbers `"maj:min"`
//! strings, and any other integer above 2^53 a decimal string. The rules
//! go by field name, so one field always has one JSON type. Trace files
//! keep their own encoding; this is for output only. Documented, with the
//! schema version, in docs/json.md.
use serde::Serialize;
use serde_json::{Map, Value};

use dax_trace_common::field::Dev;

/// The version of the JSON schema documented in docs/json.md: bumped when a
/// field changes meaning or type.
pub const SCHEMA_VERSION: u32 = 2;

/// Fields that hold kernel addresses (or lists of them).
const ADDRESS_KEYS: &[&str] = &[
    "addr",
    "dax_dev",
    "dm_dax_dev",
    "holder",
    "holder_before",
    "holder_ops",
    "inode",
    "mapping",
    "member_dax_dev",
    "owner",
    "page",
    "pgmap",
    "private",
    "table",
];

/// Fields that hold a list of kernel addresses (as a single number, a
/// count: `"pagemaps": 2` in a verdict's scope).
const ADDRESS_LIST_KEYS: &[&str] = &["pagemaps"];

/// Fields that hold a kernel `dev_t` (`MAJOR << 20 | MINOR`).
const DEVICE_KEYS: &[&str] = &["bdev", "dev", "dm", "member", "member_dev"];

/// The largest integer a double holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// `value` with addresses, devices and large integers as strings.
pub fn exact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if ADDRESS_KEYS.contains(&k.as_str())
                        || (ADDRESS_LIST_KEYS.contains(&k.as_str()) && v.is_array())
                    {
                        each_number(v, |n| Value::String(format!("{n:#x}")))
                    } else if DEVICE_KEYS.contains(&k.as_str()) {
                        each_number(v, |n| match u32::try_from(n) {
                            Ok(d) => Value::String(Dev(d).to_string()),
                            Err(_) => Value::String(n.to_string()),
                        })
                    } else {
                        exact(v)
                    };
                    (k, v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(exact).collect()),
        Value::Number(n) => match n.as_u64() {
            Some(u) if u > MAX_SAFE => Value::String(u.to_string()),
            _ => Value::Number(n),
        },
        other => other,
    }
}

/// Applies `f` to `v` when it is an unsigned integer (or to each one in a
/// list of them); anything else goes through [`exact`].
fn each_number(v: Value, f: impl Fn(u64) -> Value + Copy) -> Value {
    match v {
        Value::Number(ref n) => n.as_u64().map_or(v, f),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| match i.as_u64() {
                    Some(n) => f(n),
                    None => exact(i),
                })
                .collect(),
        ),
        other => exact(other),
    }
}

/// `value` serialized, then made exact.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Value> {
    serde_json::to_value(value).map(exact)
}

/// One line of exact JSON.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_value(value).map(|v| v.to_string())
}

/// Indented exact JSON.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_value(value).and_then(|v| serde_json::to_string_pretty(&v))
}

/// The inverse of [`exact`] for the fields it rewrote, so Rust readers can
/// deserialize daxtrace's JSON into its own types again.
pub fn restore(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if ADDRESS_KEYS.contains(&k.as_str())
                        || (ADDRESS_LIST_KEYS.contains(&k.as_str()) && v.is_array())
                    {
                        each_string(v, |s| {
                            u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
                        })
                    } else if DEVICE_KEYS.contains(&k.as_str()) {
                        each_string(v, |s| {
                            let (maj, min) = s.split_once(':')?;
                            let d = Dev::new(maj.parse().ok()?, min.parse().ok()?);
                            Some(u64::from(d.0))
                        })
                    } else {
                        restore(v)
                    };
                    (k, v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(restore).collect()),
        Value::String(s) => match s.parse::<u64>() {
            Ok(n) if n > MAX_SAFE => Value::from(n),
            _ => Value::String(s),
        },
        other => other,
    }
}

fn each_string(v: Value, parse: impl Fn(&str) -> Option<u64> + Copy) -> Value {
    let one = |i: Value| match i.as_str().and_then(parse) {
        Some(n) => Value::from(n),
        None => restore(i),
    };
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(one).collect()),
        other => one(other),
    }
}

/// True when every integer in `value` is one a double holds exactly (what
/// the tests assert of every JSON output).
pub fn is_exact(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_u64().is_none_or(|u| u <= MAX_SAFE),
        Value::Array(items) => items.iter().all(is_exact),
        Value::Object(map) => map.values().all(is_exact),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_devices_and_large_numbers_become_strings_and_come_back() {
        let before = json!({
            "pgmap": 0xffff_8880_7e41_0eb0_u64,
            "holder": 0,
            "pagemaps": [0xffff_8880_7e41_0eb0_u64],
            "bdev": (259u64 << 20),
            "ino": 12,
            "nested": [{ "dev": (253u64 << 20) | 1, "offset_ns": 1_764_000_000_000_000_000_u64 }],
            "scope": { "pagemaps": 2 },
        });
        let after = exact(before.clone());
        assert_eq!(
            after,
            json!({
                "pgmap": "0xffff88807e410eb0",
                "holder": "0x0",
                "pagemaps": ["0xffff88807e410eb0"],
                "bdev": "259:0",
                "ino": 12,
                "nested": [{ "dev": "253:1", "offset_ns": "1764000000000000000" }],
                "scope": { "pagemaps": 2 },
            })
        );
        assert!(is_exact(&after));
        assert!(!is_exact(&before));
        assert_eq!(restore(after), before);
    }
}
