//! Reading what the guest left in the shared directory: exit codes, JSON
//! documents, event lines, and the figures of `report --json` the judges
//! compare. One module, so every judge (the scenarios, the loss test, the
//! exporter, the benchmark smoke) reads the share the same way.
use serde_json::Value;
use std::path::Path;

/// `v` with daxtrace's hex-string addresses (`"0xffff..."`, docs/json.md)
/// as numbers again, which the judges compare (serde_json keeps a u64 exact).
pub(crate) fn addresses_as_numbers(v: Value) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix("0x").map(|h| u64::from_str_radix(h, 16)) {
            Some(Ok(n)) => Value::from(n),
            _ => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(addresses_as_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, addresses_as_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Value, String> {
    read_json_as_printed(path).map(addresses_as_numbers)
}

fn read_json_as_printed(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A whole JSON document, or the workload's one summary line at the end.
    serde_json::from_str(&text).or_else(|whole| {
        text.lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("{}: {whole}", path.display()))
            .and_then(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
    })
}

pub(crate) fn read_rc(dir: &Path, step: &str) -> Result<i64, String> {
    let path = dir.join(format!("{step}.rc"));
    std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn recorded(dir: &Path, step: &str) -> Result<Value, String> {
    let rc = read_rc(dir, step)?;
    if rc != 0 {
        let err = std::fs::read_to_string(dir.join(format!("{step}.stderr"))).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(format!("workload exit {rc}: {}", tail.join(" | ")));
    }
    let rec_rc = read_rc(dir, &format!("{step}.record"))?;
    if rec_rc != 0 {
        let err =
            std::fs::read_to_string(dir.join(format!("{step}.record.err"))).unwrap_or_default();
        return Err(format!("daxtrace record exit {rec_rc}: {}", err.trim()));
    }
    read_json(&dir.join(format!("{step}.report.json")))
}

/// The report's device entry for `disk`.
pub(crate) fn device<'a>(report: &'a Value, disk: &str) -> Option<&'a Value> {
    report["summary"]["devices"]
        .as_array()?
        .iter()
        .find(|d| d["identity"]["disk"] == Value::String(disk.to_string()))
}

pub(crate) fn balance(dev: &Value) -> (u64, u64) {
    (
        dev["balance"]["claims"].as_u64().unwrap_or(0),
        dev["balance"]["releases"].as_u64().unwrap_or(0),
    )
}

pub(crate) fn check_outcome(dir: &Path, step: &str, want: &str) -> Result<String, String> {
    let v = read_json(&dir.join(format!("{step}.check.json")))?;
    let rc = read_rc(dir, &format!("{step}.check"))?;
    let outcome = v["outcome"].as_str().unwrap_or("?");
    let want_rc = match want {
        "pass" => 0,
        "fail" => 1,
        _ => 2,
    };
    if outcome != want || rc != want_rc {
        let bad: Vec<String> = v["assertions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["status"] != Value::String("pass".into()))
            .filter(|a| a["status"] != Value::String("skipped".into()))
            .map(|a| format!("{} {}: {}", a["id"], a["status"], a["details"]))
            .collect();
        return Err(format!(
            "outcome {outcome} (exit {rc}), want {want}: {}",
            bad.join("; ")
        ));
    }
    Ok(format!("{outcome}, exit {rc}"))
}

/// Ring-buffer drops over every point, from `report --json`.
pub(crate) fn total_drops(report: &Value) -> u64 {
    report["summary"]["drops"]["per_point"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

pub(crate) fn kind_count(report: &Value, kind: &str) -> u64 {
    report["summary"]["totals"]["by_kind"][kind]
        .as_u64()
        .unwrap_or(0)
}

pub(crate) fn events(dir: &Path, step: &str) -> Result<Vec<Value>, String> {
    let path = dir.join(format!("{step}.jsonl"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The export's header line is not an event.
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("{\"type\":\"header\""))
        .map(|l| {
            serde_json::from_str(l)
                .map(addresses_as_numbers)
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

pub(crate) fn body_type(ev: &Value) -> &str {
    ev["body"]["type"].as_str().unwrap_or("")
}
