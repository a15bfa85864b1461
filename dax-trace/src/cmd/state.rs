//! `daxtrace state`: the state a live front end finds at attach — dax
//! devices and the claims held on them, pagemaps, DAX mounts, dm targets,
//! threads waiting for busy pages and the census of busy pages — read once
//! and printed, without attaching any probe. The same reading that record,
//! top, check and serve send first.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use dax_trace::event::{Event, EventBody};
use dax_trace::probes::attach;
use dax_trace::resolve;
use dax_trace::state::kmem::BpfReader;
use dax_trace::state::snapshot::{self, Kernel, ReadOptions};

use super::record::parse_duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the state's events as JSON lines (the trace's `state-*` events),
    /// then one line `{"problems": [...]}`.
    #[arg(long)]
    pub json: bool,
    /// How long the census of busy pages may take.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "1s")]
    pub census_budget: Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let resolution = resolve::resolve_host()?;
    let blockers = resolution.blockers();
    if !blockers.is_empty() {
        anyhow::bail!(
            "the state cannot be read here:\n{}",
            blockers
                .iter()
                .map(|b| format!("  - {b}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let mut ebpf = attach::load(&resolution.config, None).context("loading the eBPF object")?;
    let reader = BpfReader::new(&mut ebpf).context("loading the kernel-memory reader")?;
    let kernel = Kernel {
        mem: &reader,
        layout: &resolution.state,
        config: &resolution.config,
    };
    let opts = ReadOptions {
        census_budget: args.census_budget,
        ..ReadOptions::default()
    };
    let snap = snapshot::read(&kernel, &opts);
    if args.json {
        for e in &snap.events {
            println!("{}", serde_json::to_string(e)?);
        }
        println!("{}", serde_json::json!({ "problems": snap.problems }));
    } else {
        print!("{}", render(&snap.events));
        for p in &snap.problems {
            println!("note: {p}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// One line per entry, grouped by kind.
pub fn render(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let line = match &e.body {
            EventBody::StateDaxDevice(d) => format!(
                "dax device {:#x}: disk {} ({}) {}, {}, {} claim(s) held{}",
                d.dax_dev,
                if d.disk.is_empty() {
                    "?"
                } else {
                    d.disk.as_str()
                },
                d.bdev,
                mib(d.size_bytes),
                if d.alive.get() { "alive" } else { "dead" },
                d.claims,
                if d.holder != 0 {
                    format!(", holder {:#x} ops {:#x}", d.holder, d.holder_ops)
                } else {
                    String::new()
                }
            ),
            EventBody::StatePagemap(p) => format!(
                "pagemap {:#x}: type {}{} pfns {:#x}..{:#x} ({} pages) on {} {}",
                p.pgmap,
                p.memory_type,
                if p.fs_dax.get() { " (FS_DAX)" } else { "" },
                p.pfn_start,
                p.pfn_end,
                p.pages,
                if p.disk.is_empty() {
                    "?"
                } else {
                    p.disk.as_str()
                },
                p.backing
            ),
            EventBody::StateMount(m) => format!(
                "mount: {} on {} ({}, {}dax) from {}",
                m.fstype,
                m.mount_point,
                m.dev,
                if m.dax.get() { "" } else { "no " },
                m.disk
            ),
            EventBody::StateDmTarget(t) => format!(
                "dm {} ({}): {} {}+{} -> {} at sector {}",
                t.dm_name,
                t.dm_disk,
                t.target,
                t.start_sector,
                t.sectors,
                t.member_disk,
                t.member_sector
            ),
            EventBody::StateWait(w) => format!(
                "waiting: tid {} ({}) on pfn {:#x} (ino {}, index {}) for at least {} ms{}",
                w.waiter_tid,
                e.comm,
                w.pfn,
                w.ino,
                w.index.get().map_or("?".into(), |i| i.to_string()),
                w.slept_ns / 1_000_000,
                if w.idle.get() {
                    ", page idle: wakeup lost?"
                } else {
                    ""
                }
            ),
            EventBody::StateBusyPage(b) => format!(
                "busy page: pfn {:#x} refcount {} (ino {} on {}, index {})",
                b.pfn,
                b.refcount,
                b.ino,
                b.dev,
                b.index.get().map_or("?".into(), |i| i.to_string())
            ),
            EventBody::StateEnd(s) => format!(
                "read in {} ms; census {} of {} pages, {} busy",
                s.elapsed_ns / 1_000_000,
                s.pages_scanned,
                s.pages_total,
                s.busy_pages
            ),
            _ => continue,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dax_trace::event::{Dev, DiskName, Flag, OptU64, StateEnd, StateWait};

    fn ev(body: EventBody, comm: &str) -> Event {
        Event {
            ts_ns: 1,
            cpu: 0,
            pid: 0,
            tid: 585,
            comm: comm.into(),
            point: u16::MAX,
            body,
        }
    }

    #[test]
    fn waits_name_the_waiter_and_flag_an_idle_page() {
        let w = StateWait {
            pfn: 0x48200,
            ino: 12,
            dev: Dev::new(259, 0),
            waiter_tid: 585,
            index: OptU64::new(Some(0)),
            slept_ns: 3_200_000_000,
            idle: Flag::new(true),
            ..StateWait::default()
        };
        let d = dax_trace::event::StateDaxDevice {
            dax_dev: 0xffff_8880_0000_1000,
            disk: DiskName::from_str_lossy("pmem0"),
            bdev: Dev::new(259, 0),
            size_bytes: 512 << 20,
            alive: Flag::new(true),
            claims: 1,
            ..Default::default()
        };
        let text = render(&[
            ev(d.into(), "daxtrace"),
            ev(w.into(), "truncate"),
            ev(StateEnd::default().into(), "daxtrace"),
        ]);
        assert!(
            text.contains("disk pmem0 (259:0) 512 MiB, alive, 1 claim(s) held"),
            "{text}"
        );
        assert!(
            text.contains("tid 585 (truncate) on pfn 0x48200 (ino 12, index 0) for at least 3200 ms, page idle"),
            "{text}"
        );
    }
}
