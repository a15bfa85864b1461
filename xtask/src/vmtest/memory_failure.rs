//! The `memfail` step of the VM stage: `dax-workload memory-failure` under
//! `daxtrace record` poisons one page of a DAX file on ext4 and on xfs with
//! madvise(MADV_HWPOISON). Asserted on the trace: one `memory-failure` event
//! at exactly the pfn each filesystem's page had, and where the kernel has
//! holders (6.1+), a `holder-notify-failure` per failure at the page's
//! device offset, xfs's with its holder, ext4's without, all attributed to
//! pmem0 in `report --json`; on 5.10 (no holders) none.
use super::Judge;
use super::share::{body_type, device, events, read_json, recorded};
use serde_json::Value;
use std::path::Path;
use xtask::vm::KernelGen;

/// What the workload says it poisoned on one filesystem.
struct Poisoned {
    fs: String,
    pfn: u64,
    device_offset: u64,
}

pub(super) fn judge(kernel: KernelGen, dir: &Path, j: &mut Judge) {
    let poisoned = workload(dir);
    j.check(
        "memfail: workload poisoned the pfn it mapped",
        poisoned
            .as_ref()
            .map(|(_, d)| d.clone())
            .map_err(Clone::clone),
    );
    let Ok((poisoned, _)) = poisoned else {
        return;
    };
    j.check(
        "memfail: memory-failure event at that pfn",
        failure_events(dir, &poisoned),
    );
    j.check(
        "memfail: holder notified, attributed to pmem0",
        holder_notifications(kernel, dir, &poisoned),
    );
}

/// The workload's records, and what it saw happen to the process and file.
fn workload(dir: &Path) -> Result<(Vec<Poisoned>, String), String> {
    recorded(dir, "memfail")?;
    let summary = read_json(&dir.join("memfail.stdout"))?;
    let records = summary["memory_failures"]
        .as_array()
        .ok_or("no memory_failures in memfail.stdout")?;
    let mut out = Vec::new();
    let mut fates = Vec::new();
    for r in records {
        let fs = r["fs"].as_str().unwrap_or("?").to_string();
        let pfn = r["pfn"].as_u64().filter(|&p| p != 0);
        let (Some(pfn), Some(device_offset)) = (pfn, r["device_offset"].as_u64()) else {
            return Err(format!("{fs}: no pfn or device offset in {r}"));
        };
        let vaddr = r["vaddr"].as_u64();
        let signals: Vec<&Value> = r["sigbus_on_madvise"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(r.get("touch_sigbus").filter(|v| !v.is_null()))
            .collect();
        if let Some(s) = signals.iter().find(|s| s["si_addr"].as_u64() != vaddr) {
            return Err(format!(
                "{fs}: SIGBUS at {} but the page is at {vaddr:?}",
                s["si_addr"]
            ));
        }
        let codes: Vec<&str> = signals.iter().filter_map(|s| s["code"].as_str()).collect();
        fates.push(format!("{fs} pfn {pfn:#x}: {}", fate(r, &codes)));
        out.push(Poisoned {
            fs,
            pfn,
            device_offset,
        });
    }
    if out.is_empty() {
        return Err("the workload poisoned nothing".into());
    }
    Ok((out, fates.join("; ")))
}

/// What happened to the poisoning process and to the file, in a few words.
fn fate(r: &Value, codes: &[&str]) -> String {
    let signals = if codes.is_empty() {
        "none".to_string()
    } else {
        codes.join("+")
    };
    let mapping = match r["mapped_after_poison"].as_bool() {
        Some(false) => "unmapped",
        Some(true) => "still mapped",
        None => "mapping unknown",
    };
    let touch = match (
        r["touch_value"].as_u64(),
        r["touch_sigbus"]["code"].as_str(),
    ) {
        (_, Some(code)) => format!("SIGBUS {code}"),
        (Some(v), None) => format!(
            "read {v:#x} from pfn {:#x}",
            r["pfn_after_touch"].as_u64().unwrap_or(0)
        ),
        (None, None) => "not reached".to_string(),
    };
    format!(
        "{} (SIGBUS {signals}), {mapping}, touch {touch}, read back {}, fsck exit {}",
        r["fate"].as_str().unwrap_or("?"),
        r["read_back"].as_str().unwrap_or("?"),
        r["fsck_exit"]
    )
}

/// Exactly one `memory-failure` event per poisoned pfn, and none elsewhere.
fn failure_events(dir: &Path, poisoned: &[Poisoned]) -> Result<String, String> {
    let evs = events(dir, "memfail")?;
    let failures: Vec<&Value> = evs
        .iter()
        .filter(|e| body_type(e) == "memory-failure")
        .collect();
    let mut seen = Vec::new();
    for p in poisoned {
        let at: Vec<&&Value> = failures
            .iter()
            .filter(|e| e["body"]["pfn"].as_u64() == Some(p.pfn))
            .collect();
        let [ev] = at.as_slice() else {
            let pfns: Vec<String> = failures
                .iter()
                .map(|e| format!("{:#x}", e["body"]["pfn"].as_u64().unwrap_or(0)))
                .collect();
            return Err(format!(
                "{}: {} memory-failure events at pfn {:#x}, want 1 (events at {pfns:?})",
                p.fs,
                at.len(),
                p.pfn
            ));
        };
        seen.push(format!(
            "{} pfn {:#x} type {} result {}",
            p.fs, p.pfn, ev["body"]["mf_type"], ev["body"]["result"]
        ));
    }
    if failures.len() != poisoned.len() {
        return Err(format!(
            "{} memory-failure events for {} poisoned pages",
            failures.len(),
            poisoned.len()
        ));
    }
    Ok(seen.join("; "))
}

/// 6.1+: the pmem driver tells the dax_device's holder (xfs passes its
/// mount, ext4 none) at the page's device offset; 5.10 has no holders.
fn holder_notifications(
    kernel: KernelGen,
    dir: &Path,
    poisoned: &[Poisoned],
) -> Result<String, String> {
    let evs = events(dir, "memfail")?;
    let notes: Vec<&Value> = evs
        .iter()
        .filter(|e| body_type(e) == "holder-notify-failure")
        .collect();
    if kernel == KernelGen::V5_10 {
        return match notes.len() {
            0 => Ok("5.10 has no dax holders: no notification, as expected".into()),
            n => Err(format!(
                "{n} holder notifications on a kernel without holders"
            )),
        };
    }
    let mut seen = Vec::new();
    for p in poisoned {
        let at: Vec<&&Value> = notes
            .iter()
            .filter(|e| e["body"]["offset"].as_u64() == Some(p.device_offset))
            .collect();
        let [ev] = at.as_slice() else {
            let offsets: Vec<String> = notes
                .iter()
                .map(|e| format!("{:#x}", e["body"]["offset"].as_u64().unwrap_or(0)))
                .collect();
            return Err(format!(
                "{}: {} notifications at device offset {:#x}, want 1 (at {offsets:?})",
                p.fs,
                at.len(),
                p.device_offset
            ));
        };
        let holder = ev["body"]["holder"].as_u64().unwrap_or(0);
        let want_holder = p.fs == "xfs";
        if (holder != 0) != want_holder {
            return Err(format!(
                "{}: notified with holder {holder:#x}; {} passes {}",
                p.fs,
                p.fs,
                if want_holder { "one" } else { "none" }
            ));
        }
        seen.push(format!(
            "{} offset {:#x} len {} holder {}",
            p.fs,
            p.device_offset,
            ev["body"]["len"],
            if holder == 0 { "none" } else { "set" }
        ));
    }
    let report = recorded(dir, "memfail")?;
    let pmem0 = device(&report, "pmem0").ok_or("no device pmem0 in the report")?;
    let attributed = pmem0["holder_failures"].as_u64().unwrap_or(0);
    if attributed != notes.len() as u64 {
        return Err(format!(
            "report: pmem0 has {attributed} holder failures of {} notifications",
            notes.len()
        ));
    }
    Ok(format!(
        "{}; pmem0: {attributed} holder failures",
        seen.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXT4_PFN: u64 = 0x48203;
    const XFS_PFN: u64 = 0x4001b;
    const EXT4_OFF: u64 = 0x820_3000;
    const XFS_OFF: u64 = 0x1b000;

    fn record(fs: &str, pfn: u64, off: u64) -> Value {
        json!({"fs": fs, "pfn": pfn, "kernel_pfn": pfn, "device_offset": off,
               "vaddr": 4096, "fate": "exited 0", "mapped_after_poison": false,
               "sigbus_on_madvise": [{"si_code": 4, "code": "BUS_MCEERR_AR", "si_addr": 4096, "addr_lsb": 12}],
               "touch_value": 165, "pfn_after_touch": pfn, "touch_sigbus": null,
               "read_back": "intact", "fsck_exit": 0})
    }

    fn failure(pfn: u64) -> Value {
        json!({"body": {"type": "memory-failure", "pfn": pfn, "mf_type": 17, "result": 3}})
    }

    fn notification(off: u64, holder: u64) -> Value {
        json!({"body": {"type": "holder-notify-failure", "dax_dev": 7, "offset": off,
                        "len": 4096, "flags": 33, "holder": holder}})
    }

    /// A share directory as the guest leaves it after the memfail step.
    fn share(events: &[Value], pmem0_holder_failures: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write fixture");
        };
        write("memfail.rc", "0\n".into());
        write("memfail.record.rc", "0\n".into());
        let summary = json!({"scenario": "memory-failure", "ok": true, "memory_failures": [
            record("ext4", EXT4_PFN, EXT4_OFF), record("xfs", XFS_PFN, XFS_OFF)]});
        write("memfail.stdout", format!("{summary}\n"));
        let report = json!({"summary": {"devices": [
            {"identity": {"disk": "pmem0"}, "holder_failures": pmem0_holder_failures}]}});
        write("memfail.report.json", report.to_string());
        let lines: Vec<String> = events.iter().map(Value::to_string).collect();
        write("memfail.jsonl", lines.join("\n"));
        dir
    }

    fn verdicts(kernel: KernelGen, dir: &Path) -> Vec<(String, bool, String)> {
        let mut j = Judge {
            verdicts: Vec::new(),
        };
        judge(kernel, dir, &mut j);
        j.verdicts
            .into_iter()
            .map(|v| (v.name, v.ok, v.detail))
            .collect()
    }

    fn good_6_1() -> Vec<Value> {
        vec![
            notification(EXT4_OFF, 0),
            failure(EXT4_PFN),
            notification(XFS_OFF, 0xffff_8880_08bb_3000),
            failure(XFS_PFN),
        ]
    }

    #[test]
    fn a_6_1_trace_with_both_failures_and_notifications_passes() {
        let dir = share(&good_6_1(), 2);
        let v = verdicts(KernelGen::V6_1, dir.path());
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|(_, ok, _)| *ok), "{v:?}");
        assert!(v[0].2.contains("BUS_MCEERR_AR"), "{}", v[0].2);
        assert!(v[2].2.contains("pmem0: 2 holder failures"), "{}", v[2].2);
    }

    #[test]
    fn a_failure_at_another_pfn_fails() {
        let mut evs = good_6_1();
        evs[1] = failure(EXT4_PFN + 1);
        let v = verdicts(KernelGen::V6_1, share(&evs, 2).path());
        assert!(!v[1].1, "{v:?}");
        assert!(
            v[1].2.contains("ext4: 0 memory-failure events"),
            "{}",
            v[1].2
        );
    }

    #[test]
    fn a_wrong_holder_or_unattributed_notification_fails() {
        let mut evs = good_6_1();
        evs[0] = notification(EXT4_OFF, 0x1234);
        let v = verdicts(KernelGen::V6_12, share(&evs, 2).path());
        assert!(!v[2].1 && v[2].2.contains("ext4 passes none"), "{v:?}");

        let v = verdicts(KernelGen::V7, share(&good_6_1(), 1).path());
        assert!(
            !v[2].1 && v[2].2.contains("1 holder failures of 2"),
            "{v:?}"
        );
    }

    #[test]
    fn on_5_10_there_is_no_notification() {
        let evs = vec![failure(EXT4_PFN), failure(XFS_PFN)];
        let v = verdicts(KernelGen::V5_10, share(&evs, 0).path());
        assert!(v.iter().all(|(_, ok, _)| *ok), "{v:?}");
        let v = verdicts(KernelGen::V5_10, share(&good_6_1(), 2).path());
        assert!(!v[2].1, "{v:?}");
    }

    #[test]
    fn a_sigbus_elsewhere_than_the_page_fails() {
        let dir = share(&good_6_1(), 2);
        let path = dir.path().join("memfail.stdout");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"si_addr\":4096", "\"si_addr\":8192")).expect("write");
        let v = verdicts(KernelGen::V6_1, dir.path());
        assert!(!v[0].1 && v[0].2.contains("SIGBUS at 8192"), "{v:?}");
    }
}
