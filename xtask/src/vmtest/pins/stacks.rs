//! The stack verdicts of the pins step: modules in the claim stacks, and
//! the owner of the page a stuck wait is on.
use super::owners_seen;
use super::trace::{Frame, Trace};
use serde_json::Value;

/// A claim of `trace` with a frame that `want` accepts, described.
fn claim_through(trace: &Trace, want: impl Fn(&Frame) -> bool) -> Option<String> {
    trace.of_type("claim").find_map(|e| {
        let frame = trace.stack(e).iter().find(|f| want(f))?;
        Some(frame.display())
    })
}

pub(super) fn claim_modules(cycles: &Trace, dm: &Trace) -> Result<String, String> {
    let module = |f: &Frame, m: &str| f.module.as_deref() == Some(m);
    let found = [
        (
            "ext4_fill_super [ext4]",
            claim_through(cycles, |f| {
                module(f, "ext4") && f.function().contains("ext4_fill_super")
            }),
        ),
        ("[xfs]", claim_through(cycles, |f| module(f, "xfs"))),
        ("[dm_mod]", claim_through(dm, |f| module(f, "dm_mod"))),
    ];
    let missing: Vec<&str> = found
        .iter()
        .filter(|(_, f)| f.is_none())
        .map(|(w, _)| *w)
        .collect();
    if !missing.is_empty() {
        let sample: Vec<String> = [cycles, dm]
            .iter()
            .flat_map(|t| t.of_type("claim").take(2).map(|e| t.stack_summary(e, 8)))
            .collect();
        return Err(format!(
            "no claim stack through {} (first claim stacks: {})",
            missing.join(", "),
            sample.join(" | ")
        ));
    }
    let through: Vec<&str> = found.iter().filter_map(|(_, f)| f.as_deref()).collect();
    Ok(format!("claims through {}", through.join(", ")))
}

/// Every case the workload saw lose its wakeup (dma-truncate's `cases`,
/// pin-owners' `pins`): the stuck wait of its truncating thread is on a
/// page whose owner is the thread that read into it.
pub(super) fn stuck_reader(steps: &[(&Value, &Trace)]) -> Result<String, String> {
    let mut named = Vec::new();
    for (summary, trace) in steps {
        let dma = summary["cases"].as_array().into_iter().flatten();
        let pins = summary["pins"].as_array().into_iter().flatten();
        for c in dma.chain(pins).filter(|c| c["lost_wakeup"] == true) {
            let label = format!(
                "{}/{}",
                c["fs"],
                c["case"].as_str().or(c["pin"].as_str()).unwrap_or("?")
            )
            .replace('"', "");
            let reader = c["pin_tid"]
                .as_u64()
                .or_else(|| c["tasks"][0]["tid"].as_u64());
            let (Some(op), Some(reader)) = (c["op_tid"].as_u64(), reader) else {
                return Err(format!("{label}: no truncating or pinning thread in {c}"));
            };
            let stuck = trace
                .of_type("stuck-wait")
                .find(|e| e["body"]["waiter_tid"].as_u64() == Some(op))
                .ok_or_else(|| format!("{label}: no stuck-wait of the truncating tid {op}"))?;
            let pfn = stuck["body"]["pfn"].as_u64().unwrap_or(0);
            let owner = trace
                .of_type("pin-owner")
                .find(|e| {
                    e["body"]["pfn"].as_u64() == Some(pfn) && e["tid"].as_u64() == Some(reader)
                })
                .ok_or_else(|| {
                    format!(
                        "{label}: stuck on pfn {pfn:#x}, no pin-owner tid {reader} there; {}",
                        owners_seen(trace)
                    )
                })?;
            named.push(format!(
                "{label} pfn {pfn:#x} by tid {reader} ({})",
                owner["comm"].as_str().unwrap_or("?")
            ));
        }
    }
    if named.is_empty() {
        return Ok(
            "no lost wakeup here (the workload's observation): no stuck wait to name".into(),
        );
    }
    Ok(format!(
        "{} stuck waits named: {}",
        named.len(),
        named.join("; ")
    ))
}
