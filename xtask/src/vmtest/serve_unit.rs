//! Judging the VM's `serve_unit` step (vm-test.sh): `daxtrace serve` started
//! under deploy/systemd/daxtrace.service's own capability bounding set,
//! no_new_privs and device cgroup, with a dm-linear device made before it
//! started. Asserted: the device cgroup was closed as the unit closes it
//! (so the test means something) yet lets /dev/mapper/control through;
//! serve attached the claim and release families (`/healthz` ok, the family
//! gauges at 1) with the unit's bounding set; the state at start read the
//! dm table (no `dm:` problem; `daxtrace state`, confined alike, shows it).
use std::path::Path;

fn read(dir: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
}

/// The device cgroup is closed (`a *:* rwm` is not allowed) and lets the
/// misc device /dev/mapper/control (10:236) through.
fn devices(dir: &Path) -> Result<String, String> {
    let list = read(dir, "serve-unit.devices")?;
    if list.lines().any(|l| l.trim() == "a *:* rwm") || list.trim().is_empty() {
        return Err(format!("the device cgroup is open or missing: {list}"));
    }
    if !list.lines().any(|l| l.starts_with("c 10:236 rw")) {
        return Err(format!(
            "/dev/mapper/control (c 10:236) is not allowed by the unit: {}",
            list.lines().collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(format!(
        "{} device rules, c 10:236 rw among them",
        list.lines().count()
    ))
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// `/healthz` answered 200 ok, and the probes attached under the bounding set.
fn attached(dir: &Path) -> Result<String, String> {
    let response = read(dir, "serve-unit.healthz")?;
    let err = || read(dir, "serve-unit.err").unwrap_or_default();
    if !response.starts_with("HTTP/1.1 200") && !response.starts_with("HTTP/1.0 200") {
        return Err(format!("healthz: {response}; serve: {}", err()));
    }
    let health: serde_json::Value =
        serde_json::from_str(body(&response)).map_err(|e| format!("healthz JSON: {e}"))?;
    if health["status"] != "ok" {
        return Err(format!("healthz status {}", health["status"]));
    }
    let metrics = read(dir, "serve-unit.metrics")?;
    for family in ["claim", "release"] {
        let line = format!("daxtrace_probe_family_attached{{family=\"{family}\"}} 1");
        if !metrics.contains(&line) {
            return Err(format!("{line} not in the metrics"));
        }
    }
    let status = read(dir, "serve-unit.status")?;
    let bounding = read(dir, "serve-unit.bounding")?;
    Ok(format!(
        "{} of {} probes attached under bounding set {}; {}",
        health["probes_attached"],
        health["probes_total"],
        bounding.trim(),
        status
            .lines()
            .filter(|l| l.starts_with("CapBnd") || l.starts_with("NoNewPrivs"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The dm table was read under the unit's set: serve's `/healthz` lists no
/// `dm:` problem of the state at start, and `daxtrace state`, confined
/// alike, shows the linear target over pmem0 made before serve started.
fn dm_tables(dir: &Path) -> Result<String, String> {
    let response = read(dir, "serve-unit.healthz")?;
    let health: serde_json::Value =
        serde_json::from_str(body(&response)).map_err(|e| format!("healthz JSON: {e}"))?;
    let problems: Vec<&str> = health["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .collect();
    if let Some(p) = problems.iter().find(|p| p.contains("dm:")) {
        return Err(format!("serve did not read the dm table: {p}"));
    }
    let state = read(dir, "serve-unit.state.json")?;
    if let Some(p) = state
        .lines()
        .find(|l| l.starts_with("{\"problems\"") && l.contains("dm:"))
    {
        return Err(format!("state did not read the dm table: {p}"));
    }
    let target = state
        .lines()
        .find(|l| l.contains("state-dm-target") && l.contains("\"linear\"") && l.contains("pmem0"));
    match target {
        Some(line) => Ok(format!("no dm problem; state: {line}")),
        None => Err(format!(
            "no linear target over pmem0 in the state (dmsetup: {}; state: {})",
            read(dir, "serve-unit.dmsetup.err").unwrap_or_default(),
            read(dir, "serve-unit.state.err").unwrap_or_default()
        )),
    }
}

fn stopped(dir: &Path) -> Result<String, String> {
    match read(dir, "serve-unit.rc")?.trim() {
        "0" => Ok("exit 0 on SIGTERM".into()),
        other => Err(format!(
            "exit {other}; serve: {}",
            read(dir, "serve-unit.err").unwrap_or_default()
        )),
    }
}

/// (name, outcome) of each assertion on the step's files in `dir`.
pub fn judge(dir: &Path) -> Vec<(&'static str, Result<String, String>)> {
    vec![
        (
            "serve (unit): device cgroup closed but for mapper/control",
            devices(dir),
        ),
        (
            "serve (unit): attaches with the unit's capabilities",
            attached(dir),
        ),
        ("serve (unit): reads dm tables at start", dm_tables(dir)),
        ("serve (unit): stops cleanly on SIGTERM", stopped(dir)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_or_mapper_less_device_cgroup_fails() {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |text: &str| std::fs::write(dir.path().join("serve-unit.devices"), text).unwrap();
        write("a *:* rwm\n");
        assert!(devices(dir.path()).is_err());
        write("c 1:3 rwm\nc 1:5 rwm\nc 252:* r\n");
        assert!(devices(dir.path()).unwrap_err().contains("10:236"));
        write("c 1:3 rwm\nc 10:236 rw\n");
        assert!(devices(dir.path()).is_ok());
    }

    /// What the guest left on 6.1 when the unit's DeviceAllow was not
    /// applied (ProtectClock's closed cgroup alone): serve attached, but
    /// the dm table could not be read.
    #[test]
    fn a_closed_cgroup_without_mapper_control_fails_the_dm_assertion() {
        let dir = tempfile::tempdir().unwrap();
        let healthz = "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{\"problems\":[\"state at start: dm: opening /dev/mapper/control: Operation not permitted (os error 1): members from sysfs only\"],\"status\":\"ok\"}";
        std::fs::write(dir.path().join("serve-unit.healthz"), healthz).unwrap();
        let err = dm_tables(dir.path()).unwrap_err();
        assert!(err.contains("/dev/mapper/control"), "{err}");
        std::fs::write(
            dir.path().join("serve-unit.healthz"),
            "HTTP/1.0 200 OK\r\n\r\n{\"problems\":[],\"status\":\"ok\"}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("serve-unit.state.json"),
            "{\"kind\":\"state-dm-target\",\"target\":\"linear\",\"member_disk\":\"pmem0\"}\n{\"problems\":[]}\n",
        )
        .unwrap();
        assert!(dm_tables(dir.path()).is_ok());
    }
}
