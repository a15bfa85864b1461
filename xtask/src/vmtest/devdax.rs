//! The device-DAX judge (7.x): the guest reconfigured an nvdimm namespace
//! to devdax and bound its device to device_dax, fsdev_dax and kmem in
//! turn under `record` (the `devdax` step of vm-test.sh). Each pagemap a
//! driver makes must be born with its kind, device and driver and die at
//! the next rebind; kmem makes none (the memory is system RAM); `state`
//! says the same at each stage; the report keeps every life of the reused
//! pagemap; and the `fs_dax_get` claim point is attached (nothing calls it
//! on 7.2: docs/probes.md).
use serde_json::Value;
use std::path::Path;

use super::Judge;
use super::share::{body_type, events, read_json, recorded};

/// The pagemap kind each pagemap-making driver gives, as daxtrace names it.
fn kind_of(driver: &str) -> Option<&'static str> {
    match driver {
        "device_dax" => Some("generic"),
        "fsdev_dax" => Some("fs-dax"),
        _ => None,
    }
}

/// The device-dax device the guest used: name, first byte and size.
#[derive(Debug, PartialEq, Eq)]
struct DaxDevice {
    name: String,
    start: u64,
    size: u64,
}

fn parse_device(text: &str) -> Option<DaxDevice> {
    let mut words = text.split_whitespace();
    let name = words.next()?.to_string();
    let start = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
    let size = words.next()?.parse().ok()?;
    Some(DaxDevice { name, start, size })
}

/// One pagemap event of the recording, as far as this judge cares.
#[derive(Debug)]
enum Change {
    Born {
        pgmap: u64,
        kind: String,
        device: String,
        driver: String,
        /// Physical bytes, end exclusive.
        range: (u64, u64),
    },
    Died {
        pgmap: u64,
    },
}

fn changes(events: &[Value]) -> Vec<Change> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    events
        .iter()
        .filter_map(|e| {
            let b = &e["body"];
            match body_type(e) {
                "pagemap-create" if b["ret"].as_i64() == Some(0) => Some(Change::Born {
                    pgmap: b["pgmap"].as_u64().unwrap_or(0),
                    kind: text(&b["kind"]),
                    device: text(&b["device"]),
                    driver: text(&b["driver"]),
                    range: (
                        b["pfn_start"].as_u64().unwrap_or(0) << 12,
                        b["pfn_end"].as_u64().unwrap_or(0) << 12,
                    ),
                }),
                "pagemap-destroy" => Some(Change::Died {
                    pgmap: b["pgmap"].as_u64().unwrap_or(0),
                }),
                _ => None,
            }
        })
        .collect()
}

/// Checks that binding `order` in turn gave, for each pagemap-making
/// driver, a birth of the right kind on `dev` covering its range, and a
/// death at the next rebind; a driver that makes none (kmem) is a death
/// with no birth after it.
fn judge_rebinds(changes: &[Change], dev: &DaxDevice, order: &[&str]) -> Result<String, String> {
    // On a virtio boot the spare e820 namespace is bound during the
    // recording (nd_e820 loaded by the step): its own fsdax pagemap is born
    // first, under nd_pmem. That birth is not a rebind.
    let changes = match changes.first() {
        Some(Change::Born { driver, .. }) if driver == "nd_pmem" => &changes[1..],
        _ => changes,
    };
    // The namespace's fsdax pagemap dies first; start at the first birth.
    let first = changes
        .iter()
        .position(|c| matches!(c, Change::Born { .. }))
        .ok_or("no pagemap-create at all")?;
    if !changes[..first]
        .iter()
        .any(|c| matches!(c, Change::Died { .. }))
    {
        return Err("the namespace's fsdax pagemap did not die at the reconfiguration".into());
    }
    let mut rest = changes[first..].iter();
    let mut seen = Vec::new();
    let mut last_pgmap = None;
    for driver in order {
        let Some(want_kind) = kind_of(driver) else {
            // kmem: the last death was the previous driver's; nothing after.
            if let Some(extra) = rest.next() {
                return Err(format!("{driver}: a pagemap event after it: {extra:?}"));
            }
            seen.push(format!("{driver}: no pagemap"));
            continue;
        };
        let Some(Change::Born {
            pgmap,
            kind,
            device,
            driver: got_driver,
            range,
        }) = rest.next()
        else {
            return Err(format!(
                "{driver}: no birth where expected (after {seen:?})"
            ));
        };
        if (kind.as_str(), device.as_str(), got_driver.as_str())
            != (want_kind, dev.name.as_str(), *driver)
        {
            return Err(format!(
                "{driver}: born as {kind} on '{device}' under '{got_driver}', want {want_kind} on {} under {driver}",
                dev.name
            ));
        }
        if range.0 > dev.start || range.1 < dev.start + dev.size {
            return Err(format!(
                "{driver}: pagemap {:#x}-{:#x} does not cover {} at {:#x}+{:#x}",
                range.0, range.1, dev.name, dev.start, dev.size
            ));
        }
        match rest.next() {
            Some(Change::Died { pgmap: died }) if died == pgmap => {}
            other => {
                return Err(format!(
                    "{driver}: pagemap {pgmap:#x} then {other:?}, not its death"
                ));
            }
        }
        seen.push(format!(
            "{driver}: {kind} {} MiB born and died",
            (range.1 - range.0) >> 20
        ));
        last_pgmap = Some(*pgmap);
    }
    Ok(format!(
        "{}{}",
        seen.join("; "),
        last_pgmap.map_or_else(String::new, |p| format!(" (pagemap {p:#x})"))
    ))
}

/// The `state` text at each stage: the pagemap line of the bound driver
/// (none under kmem) and the device-dax device's driver line.
fn judge_state(dir: &Path, dev: &DaxDevice, order: &[&str]) -> Result<String, String> {
    let mut said = Vec::new();
    for driver in order {
        let path = dir.join(format!("devdax.state-{driver}.txt"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let device_line = format!("device-dax {} ", dev.name);
        let driver_part = format!("driver {driver} (");
        if !text
            .lines()
            .any(|l| l.contains(&device_line) && l.contains(&driver_part))
        {
            return Err(format!(
                "{driver}: no '{device_line}... {driver_part}' line in\n{text}"
            ));
        }
        let pagemaps: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("pagemap ") && l.contains(&format!(" {}", dev.name)))
            .collect();
        match kind_of(driver) {
            Some(kind) => {
                let want = format!("{}, driver {driver}", dev.name);
                let kind_part = if kind == "fs-dax" {
                    "(FS_DAX)"
                } else {
                    "(generic)"
                };
                if !pagemaps
                    .iter()
                    .any(|l| l.contains(kind_part) && l.ends_with(&want) && l.contains(" MiB)"))
                {
                    return Err(format!(
                        "{driver}: no {kind_part} pagemap line ending '{want}': {pagemaps:?}"
                    ));
                }
            }
            None if !pagemaps.is_empty() => {
                return Err(format!("{driver}: a pagemap on {}: {pagemaps:?}", dev.name));
            }
            None => {}
        }
        said.push(*driver);
    }
    let ram = std::fs::read_to_string(dir.join("devdax.iomem")).unwrap_or_default();
    if order.contains(&"kmem") && !ram.contains("System RAM (kmem)") {
        return Err("kmem bound but no 'System RAM (kmem)' in /proc/iomem".into());
    }
    Ok(format!("{} named; kmem: {}", said.join(", "), ram.trim()))
}

/// The report's last pagemap on the device and its earlier lives.
fn judge_report(report: &Value, dev: &DaxDevice) -> Result<String, String> {
    let pagemaps = report["summary"]["pagemaps"]
        .as_array()
        .ok_or("no pagemaps")?;
    let p = pagemaps
        .iter()
        .find(|p| p["identity"]["backing"] == Value::String(dev.name.clone()))
        .ok_or_else(|| format!("no pagemap backed by {}", dev.name))?;
    let id = &p["identity"];
    let lives: Vec<(String, String)> = p["earlier"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(id))
        .map(|l| {
            (
                l["kind"].as_str().unwrap_or("").to_string(),
                l["driver"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        ("generic".to_string(), "device_dax".to_string()),
        ("fs-dax".to_string(), "fsdev_dax".to_string()),
    ];
    if lives != want {
        return Err(format!("lives {lives:?}, want {want:?}"));
    }
    if p["destroyed"] != Value::Bool(true) {
        return Err("the fsdev_dax pagemap is not destroyed after kmem took the device".into());
    }
    Ok(format!(
        "{} pages; lives {}",
        p["pages"],
        lives
            .iter()
            .map(|(k, d)| format!("{k}/{d}"))
            .collect::<Vec<_>>()
            .join(" -> ")
    ))
}

/// `fs_dax_get` attached (a claim like the others, should a kernel call it).
fn judge_fs_dax_get(probes: &Value) -> Result<String, String> {
    let point = probes["families"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["points"].as_array().into_iter().flatten())
        .find(|p| p["target"] == "fs_dax_get")
        .ok_or("no fs_dax_get point in probes.json")?;
    match point["status"]["status"].as_str() {
        Some("attached") => Ok(format!("attached as {}", point["status"]["kind"])),
        other => Err(format!("fs_dax_get {other:?}: {}", point["status"])),
    }
}

pub(super) fn judge(dir: &Path, j: &mut Judge) {
    if let Ok(reason) = std::fs::read_to_string(dir.join("devdax.skip")) {
        j.check(
            "devdax: namespace reconfigured to devdax",
            Err(format!("skipped: {}", reason.trim())),
        );
        return;
    }
    let report = recorded(dir, "devdax");
    let dev = std::fs::read_to_string(dir.join("devdax.device"))
        .ok()
        .and_then(|t| parse_device(&t))
        .ok_or_else(|| "no devdax.device".to_string());
    let order_text = std::fs::read_to_string(dir.join("devdax.order")).unwrap_or_default();
    let order: Vec<&str> = order_text.split_whitespace().collect();
    let (report, dev) = match (report, dev) {
        (Ok(r), Ok(d)) => (r, d),
        (r, d) => {
            let why = [r.err(), d.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            j.check("devdax: namespace reconfigured to devdax", Err(why));
            return;
        }
    };
    if order != ["device_dax", "fsdev_dax", "kmem"] {
        j.check(
            "devdax: namespace reconfigured to devdax",
            Err(format!("bound {order:?}, want device_dax, fsdev_dax, kmem")),
        );
        return;
    }
    j.check(
        "devdax: each rebind is a death and a birth",
        events(dir, "devdax").and_then(|evs| judge_rebinds(&changes(&evs), &dev, &order)),
    );
    j.check(
        "devdax: state names kind, size and driver",
        judge_state(dir, &dev, &order),
    );
    j.check(
        "devdax: report keeps both pagemap lives",
        judge_report(&report, &dev),
    );
    j.check(
        "devdax: check passes",
        super::share::check_outcome(dir, "devdax", "pass"),
    );
    j.check(
        "devdax: fs_dax_get claim point attached",
        read_json(&dir.join("probes.json")).and_then(|p| judge_fs_dax_get(&p)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PGMAP: u64 = 0xffff_8880_7e72_e600;

    fn dev() -> DaxDevice {
        DaxDevice {
            name: "dax0.0".into(),
            start: 0x40a0_0000,
            size: 526_385_152,
        }
    }

    fn born(kind: &str, driver: &str) -> Value {
        json!({"body": {"type": "pagemap-create", "pgmap": PGMAP, "ret": 0, "kind": kind,
            "device": "dax0.0", "driver": driver, "pfn_start": 0x40000, "pfn_end": 0x60000}})
    }

    fn died(pgmap: u64) -> Value {
        json!({"body": {"type": "pagemap-destroy", "pgmap": pgmap}})
    }

    const ORDER: [&str; 3] = ["device_dax", "fsdev_dax", "kmem"];

    #[test]
    fn the_guest_s_device_line_parses() {
        assert_eq!(parse_device("dax0.0 0x40a00000 526385152\n"), Some(dev()));
        assert_eq!(parse_device("dax0.0 40a00000 5"), None);
    }

    #[test]
    fn births_and_deaths_in_binding_order_pass() {
        let evs = [
            died(0xffff_8880_04d8_06b8),
            born("generic", "device_dax"),
            died(PGMAP),
            born("fs-dax", "fsdev_dax"),
            died(PGMAP),
        ];
        let ok = judge_rebinds(&changes(&evs), &dev(), &ORDER).expect("passes");
        assert!(
            ok.contains("device_dax: generic 512 MiB born and died"),
            "{ok}"
        );
        assert!(ok.contains("kmem: no pagemap"), "{ok}");
    }

    #[test]
    fn a_wrong_driver_a_missing_death_or_a_birth_under_kmem_fail() {
        let wrong = [died(1), born("generic", "fsdev_dax"), died(PGMAP)];
        assert!(judge_rebinds(&changes(&wrong), &dev(), &ORDER[..1]).is_err());
        let undead = [
            died(1),
            born("generic", "device_dax"),
            born("fs-dax", "fsdev_dax"),
        ];
        assert!(judge_rebinds(&changes(&undead), &dev(), &ORDER[..2]).is_err());
        let under_kmem = [
            died(1),
            born("generic", "device_dax"),
            died(PGMAP),
            born("fs-dax", "fsdev_dax"),
            died(PGMAP),
            born("generic", "device_dax"),
        ];
        assert!(judge_rebinds(&changes(&under_kmem), &dev(), &ORDER).is_err());
        let no_fsdax_death = [born("generic", "device_dax"), died(PGMAP)];
        assert!(judge_rebinds(&changes(&no_fsdax_death), &dev(), &ORDER[..1]).is_err());
        let unnamed = [died(1), born("generic", ""), died(PGMAP)];
        assert!(judge_rebinds(&changes(&unnamed), &dev(), &ORDER[..1]).is_err());
    }

    #[test]
    fn the_report_must_hold_both_lives_in_order() {
        let report = |earlier: Value| {
            json!({"summary": {"pagemaps": [{"identity": {"backing": "dax0.0", "kind": "fs-dax",
                "driver": "fsdev_dax"}, "pages": 131072, "destroyed": true, "earlier": earlier}]}})
        };
        let good = report(json!([{"kind": "generic", "driver": "device_dax"}]));
        assert!(judge_report(&good, &dev()).is_ok());
        assert!(judge_report(&report(json!([])), &dev()).is_err());
    }

    #[test]
    fn fs_dax_get_must_be_attached() {
        let probes = |status: &str| {
            json!({"families": [{"points": [{"target": "fs_dax_get",
                "status": {"status": status, "kind": "fentry"}}]}]})
        };
        assert!(judge_fs_dax_get(&probes("attached")).is_ok());
        assert!(judge_fs_dax_get(&probes("missing")).is_err());
    }
}
