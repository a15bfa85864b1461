//! The flight step of the VM stage: `daxtrace record --ring 16M -o
//! flight/flight` around one DMA-vs-truncate case, with a SIGUSR1 sent
//! before it. Judged here from `check --format json` of each dump (whose
//! `trace-window` assertion names the triggers the file records): the
//! SIGUSR1 made a dump of its own, a complete trace; and a dump on
//! `stuck-wait`, which `check` fails naming the sleeping waiter, exactly
//! when the workload saw the kernel lose the wakeup (6.1).
use std::path::Path;

use serde_json::Value;

use super::share::{read_json, read_rc};

/// One dump as its check saw it.
struct Dump {
    name: String,
    rc: i64,
    check: Value,
    /// The triggers the file records, the first one first.
    triggers: Vec<String>,
}

impl Dump {
    fn assertion(&self, id: &str) -> Option<&Value> {
        self.check["assertions"]
            .as_array()?
            .iter()
            .find(|a| a["id"] == id)
    }

    fn status(&self, id: &str) -> &str {
        self.assertion(id)
            .and_then(|a| a["status"].as_str())
            .unwrap_or("missing")
    }
}

/// The triggers of a dump, from its `trace-window` detail:
/// "a flight-recorder window (dumped on sigusr1,stuck-wait): ...".
fn triggers_of(check: &Value) -> Vec<String> {
    let detail = check["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == "trace-window")
        .and_then(|a| a["details"][0].as_str())
        .unwrap_or("");
    detail
        .split_once("dumped on ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

fn dumps(dir: &Path) -> Result<Vec<Dump>, String> {
    let flight = dir.join("flight");
    let listing = std::fs::read_dir(&flight).map_err(|e| format!("{}: {e}", flight.display()))?;
    let mut names: Vec<String> = listing
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".dxt").map(str::to_string))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let check = read_json(&flight.join(format!("{name}.check.json")))?;
            Ok(Dump {
                rc: read_rc(&flight, &format!("{name}.check"))?,
                triggers: triggers_of(&check),
                check,
                name,
            })
        })
        .collect()
}

fn listed(dumps: &[Dump]) -> String {
    dumps
        .iter()
        .map(|d| format!("{} [{}] exit {}", d.name, d.triggers.join(","), d.rc))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The SIGUSR1 sent before the workload wrote a complete dump of its own.
pub(super) fn signal_dump(dir: &Path) -> Result<String, String> {
    let rc = read_rc(dir, "flight.record")?;
    if rc != 0 {
        return Err(format!("the recorder exited {rc}"));
    }
    let dumps = dumps(dir)?;
    let Some(d) = dumps
        .iter()
        .find(|d| d.triggers.first().map(String::as_str) == Some("sigusr1"))
    else {
        return Err(format!("no dump on sigusr1: {}", listed(&dumps)));
    };
    let events = d.check["scope"]["events"].as_u64().unwrap_or(0);
    if d.status("trace-complete") != "pass" || events == 0 || !(0..=2).contains(&d.rc) {
        return Err(format!(
            "{}: trace-complete {}, {events} events, check exit {}",
            d.name,
            d.status("trace-complete"),
            d.rc
        ));
    }
    Ok(format!("{} ({events} events); {}", d.name, listed(&dumps)))
}

/// A dump on the stuck wait, failed by `check` naming it, exactly when the
/// workload saw the lost wakeup.
pub(super) fn stuck_wait_dump(dir: &Path) -> Result<String, String> {
    let lost = read_json(&dir.join("flight.stdout"))?["lost_wakeup"]
        .as_bool()
        .ok_or("flight.stdout has no lost_wakeup")?;
    let dumps = dumps(dir)?;
    let on_stuck: Vec<&Dump> = dumps
        .iter()
        .filter(|d| d.triggers.first().map(String::as_str) == Some("stuck-wait"))
        .collect();
    match (lost, on_stuck.first()) {
        (false, None) => Ok(format!(
            "no lost wakeup, no stuck-wait dump; {}",
            listed(&dumps)
        )),
        (false, Some(d)) => Err(format!(
            "{} dumped on stuck-wait without a lost wakeup",
            d.name
        )),
        (true, None) => Err(format!(
            "lost wakeup but no stuck-wait dump: {}",
            listed(&dumps)
        )),
        (true, Some(d)) => {
            let named = d
                .assertion("no-stuck-waits")
                .map(|a| a["details"].to_string())
                .unwrap_or_default();
            if d.rc != 1 || d.check["outcome"] != "fail" || d.status("no-stuck-waits") != "fail" {
                return Err(format!(
                    "{}: check exit {} ({}), no-stuck-waits {}",
                    d.name,
                    d.rc,
                    d.check["outcome"],
                    d.status("no-stuck-waits")
                ));
            }
            if !named.contains("sleeps on idle pfn") {
                return Err(format!("{}: the stuck wait is not named: {named}", d.name));
            }
            Ok(format!(
                "{} fails on the stuck wait; {}",
                d.name,
                listed(&dumps)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triggers_come_from_the_window_assertion() {
        let check = serde_json::json!({"assertions": [
            {"id": "trace-complete", "details": []},
            {"id": "trace-window", "details": [
                "a flight-recorder window (dumped on stuck-wait,sigusr1): events before its first and after its last are not in the file"
            ]}
        ]});
        assert_eq!(triggers_of(&check), vec!["stuck-wait", "sigusr1"]);
        assert!(triggers_of(&serde_json::json!({"assertions": []})).is_empty());
    }
}
