//! The `dm` step of the VM stage: `dax-workload dm-mount-cycles` under
//! `daxtrace record` mounts ext4 on a dm-linear device over pmem0. Asserted
//! on the trace: the dm device's claims and releases balance, dm -> member
//! accesses are seen, the member pmem0 is taken and dropped, and the
//! Perfetto export shows the membership and the dm pages.
use super::share::{balance, body_type, events, kind_count, read_json, recorded};
use serde_json::Value;
use std::path::Path;

/// Mount cycles per filesystem in the `dm` step (must match vm-test.sh).
pub(super) const DM_CYCLES: u64 = 2;

pub(super) fn dm(dir: &Path) -> Result<String, String> {
    let report = recorded(dir, "dm")?;
    let devices = report["summary"]["devices"]
        .as_array()
        .ok_or("no devices in the report")?;
    let dm = devices
        .iter()
        .find(|d| {
            d["identity"]["disk"]
                .as_str()
                .is_some_and(|n| n.starts_with("dm-"))
        })
        .ok_or("no dm-* device in the report")?;
    let (claims, releases) = balance(dm);
    let want = 2 * DM_CYCLES;
    if claims != want || releases != want {
        return Err(format!(
            "{}: {claims} claims, {releases} releases; want {want} each",
            dm["label"]
        ));
    }
    let access = kind_count(&report, "dm-access");
    if access == 0 {
        return Err("no dm-access event: dm -> member fan-out not seen".into());
    }
    Ok(format!(
        "{}: {claims} claims, {releases} releases; {access} dm-access events",
        dm["label"].as_str().unwrap_or("dm")
    ))
}

pub(super) fn dm_member(dir: &Path) -> Result<String, String> {
    let evs = events(dir, "dm")?;
    let members: Vec<&Value> = evs.iter().filter(|e| body_type(e) == "dm-member").collect();
    let taken = members
        .iter()
        .filter(|e| e["body"]["taken"] == Value::Bool(true))
        .filter(|e| e["body"]["disk"] == Value::String("pmem0".into()))
        .count();
    let dropped = members
        .iter()
        .filter(|e| e["body"]["taken"] == Value::Bool(false))
        .count();
    if taken == 0 || dropped == 0 {
        return Err(format!(
            "dm-member events: {taken} taken (pmem0), {dropped} dropped"
        ));
    }
    Ok(format!("{taken} taken, {dropped} dropped"))
}

/// The Perfetto export of the dm recording: a closed `dm member` slice on
/// the member's track and a `dm pages` counter on the dm device's track.
pub(super) fn dm_perfetto(dir: &Path) -> Result<String, String> {
    let doc = read_json(&dir.join("dm.perfetto.json"))?;
    let events = doc["traceEvents"]
        .as_array()
        .ok_or("dm.perfetto.json has no traceEvents")?;
    let names: std::collections::HashMap<u64, &str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .filter_map(|e| Some((e["pid"].as_u64()?, e["args"]["name"].as_str()?)))
        .collect();
    let track = |e: &Value| e["pid"].as_u64().and_then(|p| names.get(&p).copied());
    let begins: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["ph"] == "B"
                && e["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("dm member"))
        })
        .collect();
    let member = begins.first().ok_or("no `dm member` slice")?;
    let closed = events
        .iter()
        .any(|e| e["ph"] == "E" && e["pid"] == member["pid"] && e["tid"] == member["tid"]);
    if !closed {
        return Err(format!("the `{}` slice never ends", member["name"]));
    }
    let pages = events
        .iter()
        .rfind(|e| e["ph"] == "C" && e["name"] == "dm pages")
        .ok_or("no `dm pages` counter")?;
    let dm_track = track(pages).unwrap_or("?");
    if !dm_track.starts_with("dm-") {
        return Err(format!("`dm pages` on track {dm_track:?}, not a dm device"));
    }
    let series = pages["args"]
        .as_object()
        .and_then(|m| m.iter().next())
        .map(|(k, v)| format!("{k} = {v}"))
        .ok_or("`dm pages` has no series")?;
    Ok(format!(
        "{} on {:?}; {dm_track}: dm pages {series}",
        member["name"].as_str().unwrap_or("?"),
        track(member).unwrap_or("?")
    ))
}
