//! `daxtrace record`: capture events into a trace file (or re-record a trace
//! with `--from`, e.g. to keep one device), with progress on stderr once a
//! second. SIGINT and SIGTERM finish the file properly and exit 0. With
//! `--ring` it is a flight recorder (`recorder::flight`): the last events in
//! memory, a dump file per trigger or SIGUSR1.
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use dax_trace::human::plural;
use dax_trace::recorder::flight::{self, DumpFiles, DumpRequests, FlightOptions, Report};
use dax_trace::recorder::{self, EventFilter, Progress, RecordOptions, Recorded};
use dax_trace::source::EventStream;
use dax_trace::source::drive::{Stopped, stop_signals};
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::trace::{CreateOptions, Header, Reserved, Writer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to write (created 0600); with --ring, the prefix of
    /// the dumps: FILE.0001.dxt, FILE.0002.dxt, ...
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Flight recorder: keep only the last SIZE of events in memory (64M,
    /// 512K, 1G; from 64K to 4G) and write a dump when a trigger fires or
    /// on SIGUSR1 (`kill -USR1 PID`), see docs/flight-recorder.md.
    #[arg(long, value_name = "SIZE", value_parser = parse_ring, conflicts_with = "force")]
    ring: Option<u64>,
    /// With --ring: the events that trigger a dump, comma-separated:
    /// stuck-wait, page-orphaned, refused-pin, memory-failure; all (the
    /// default) or none (SIGUSR1 only).
    #[arg(long, value_name = "KIND[,KIND]", requires = "ring", value_parser = parse_triggers)]
    trigger: Option<flight::Armed>,
    /// With --ring: one dump per trigger kind per this long at most
    /// (default 10s).
    #[arg(long, value_name = "D", requires = "ring", value_parser = super::flags::interval)]
    hold_off: Option<Duration>,
    /// With --ring: how long after its trigger a dump is written, so the
    /// events that follow are in it (default 1s).
    #[arg(long, value_name = "D", requires = "ring", value_parser = super::flags::budget)]
    post_trigger: Option<Duration>,
    /// With --ring: when recording stops, also dump what the ring holds
    /// (a dump still waiting for its post-trigger window is always written).
    #[arg(long, requires = "ring")]
    dump_on_exit: bool,
    /// Stop after this long: 30s, 5m, 1h, 250ms (default: until Ctrl-C).
    #[arg(long, value_name = "D", value_parser = super::flags::capture)]
    duration: Option<Duration>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Keep only events about this block device, the state at start
    /// included: a disk name (pmem0, /dev/pmem0) or MAJ:MIN, as `check
    /// --dev` takes it (with --from, looked up in that trace). Events that
    /// name no device are always kept.
    #[arg(long, value_name = "NAME|MAJ:MIN")]
    dev: Option<String>,
    /// Read events from this trace file instead of the kernel (no root needed).
    #[arg(long, value_name = "TRACE")]
    from: Option<PathBuf>,
    /// With --from: replay at this multiple of the recorded pace, 0.001 to
    /// 1000000 (default: as fast as possible).
    #[arg(long, requires = "from", value_parser = super::flags::speed)]
    speed: Option<f64>,
    /// Expert: the kernel ring buffer's size in bytes (a power of two, at
    /// least 4096; default 4 MiB). A tiny buffer makes the kernel drop events,
    /// which the trace then counts per point (used by the loss test).
    #[arg(long, hide = true, value_name = "BYTES", conflicts_with = "from",
          value_parser = parse_ring_buffer_bytes)]
    ring_buffer_bytes: Option<u32>,
    /// Test knob: pause this many milliseconds after each drain of the ring
    /// buffer, so that with a tiny buffer the kernel must drop (loss test).
    #[arg(long, hide = true, value_name = "MS", conflicts_with = "from")]
    drain_pause_ms: Option<u64>,
    /// Do not record kernel stacks (pin owners, refused pins, waits, claims
    /// and releases then carry none).
    #[arg(long, conflicts_with = "from")]
    no_stacks: bool,
    /// Do not track who pins FS-DAX pages (the pin programs then only
    /// report refused long-term pins): for measuring what tracking costs.
    #[arg(long, conflicts_with = "from")]
    no_pins: bool,
    /// One record per DAX fault, with its address, inode and task (as
    /// traces before fault counting had). Default: faults are counted in
    /// the kernel per device, size and result, and the counts recorded once
    /// a second (`fault-counts` events), which costs far less.
    #[arg(long, conflicts_with = "from")]
    fault_events: bool,
    /// Keep the owners of this many pinned FS-DAX pages (default 131072,
    /// less when memory is short): the owner table takes about 360 bytes a
    /// page. Past it the least recently pinned pages lose their owners,
    /// which the trace counts (`owner-evicted`).
    #[arg(long, value_name = "PAGES", conflicts_with = "from", value_parser = super::flags::max_pinned_pages)]
    max_pinned_pages: Option<u32>,
    #[command(flatten)]
    require: super::require::Require,
}

fn parse_ring(s: &str) -> Result<u64, String> {
    flight::parse_ring_size(s).map_err(|e| e.to_string())
}

fn parse_triggers(s: &str) -> Result<flight::Armed, String> {
    flight::Armed::parse(s).map_err(|e| e.to_string())
}

fn parse_ring_buffer_bytes(s: &str) -> Result<u32, String> {
    let bytes: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes"))?;
    dax_trace::probes::attach::check_ring_buffer_bytes(bytes)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = EventFilter {
        dev: args
            .dev
            .as_deref()
            .map(|spec| recorder::device::resolve(spec, args.from.as_deref()))
            .transpose()?,
    };
    match &args.from {
        Some(from) => {
            // --force would truncate the very file being read.
            let same = std::fs::canonicalize(from)
                .ok()
                .is_some_and(|f| std::fs::canonicalize(&args.output).is_ok_and(|o| o == f));
            if same {
                bail!("--from and --output name the same file");
            }
        }
        None => require_capture_privileges()?,
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if args.ring.is_some() {
        // Checked before any probe is loaded, like a plain recording's file.
        let files = DumpFiles::new(&args.output)?;
        runtime.block_on(record_flight(args, filter, files))?;
        return Ok(ExitCode::SUCCESS);
    }
    // Opened before any probe is loaded: a bad path fails in milliseconds,
    // not after the attach; nothing is emptied until recording starts.
    let output = dax_trace::trace::reserve(&args.output, CreateOptions { force: args.force })?;
    runtime.block_on(record(args, filter, output))?;
    Ok(ExitCode::SUCCESS)
}

/// The stream: a replayed trace with --from, else live capture.
fn start_stream(args: &Args) -> anyhow::Result<EventStream> {
    Ok(match &args.from {
        Some(path) => replay::start(path, ReplayOptions { speed: args.speed })
            .with_context(|| format!("reading {}", path.display()))?,
        None => start_live(LiveOptions {
            ring_buffer_bytes: args.ring_buffer_bytes,
            drain_pause: args.drain_pause_ms.map(Duration::from_millis),
            stacks: !args.no_stacks,
            pins: !args.no_pins,
            fault_events: args.fault_events,
            max_pinned_pages: args.max_pinned_pages,
            ..LiveOptions::default()
        })?,
    })
}

/// `record --ring`: the flight recorder, one line on stderr per dump.
async fn record_flight(args: Args, filter: EventFilter, files: DumpFiles) -> anyhow::Result<()> {
    // Both installed before the (long) attach: a SIGUSR1 then would kill
    // the process, and a SIGINT or SIGTERM would be lost.
    let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
    let requests = DumpRequests::on_sigusr1().context("installing the SIGUSR1 handler")?;
    let defaults = FlightOptions::default();
    let opts = FlightOptions {
        ring_bytes: args.ring.unwrap_or(defaults.ring_bytes),
        armed: args.trigger.clone().unwrap_or_default(),
        hold_off: args.hold_off.unwrap_or(defaults.hold_off),
        post_trigger: args.post_trigger.unwrap_or(defaults.post_trigger),
        dump_on_exit: args.dump_on_exit,
        duration: args.duration,
        filter: filter.clone(),
    };
    let pattern = files.pattern();
    let stream = start_stream(&args)?;
    args.require.check(&stream.info.probes)?;
    let header = Header::new(stream.info.clone(), filter.describe());
    eprintln!(
        "daxtrace record: flight recorder, the last {} of events; dumps to {pattern} on {} or SIGUSR1 (pid {})",
        dax_trace::human::bytes_one_decimal(opts.ring_bytes),
        opts.armed.describe(),
        std::process::id()
    );
    let end = flight::run(stream, files, header, &opts, requests, stop, print_flight).await;
    eprintln!(
        "\n{} written ({} seen, {} in the ring at the end, {} held off), {}",
        plural(end.dumps, "dump"),
        plural(end.note.seen, "event"),
        end.note.held,
        plural(end.note.held_off, "trigger"),
        end.stopped.reason()
    );
    if let Stopped::SourceFailed(reason) = &end.stopped {
        bail!("the event source failed: {reason}");
    }
    if end.failed_dumps > 0 {
        bail!("{} could not be written", plural(end.failed_dumps, "dump"));
    }
    Ok(())
}

fn print_flight(report: Report<'_>) {
    let mut err = std::io::stderr().lock();
    // Best effort, as progress: a closed stderr must not stop the recorder.
    let _ = match report {
        Report::Progress(n) => write!(
            err,
            "\rflight recorder: {} events seen, {} held ({} of {})   ",
            n.seen,
            n.held,
            dax_trace::human::bytes_one_decimal(n.ring_used),
            dax_trace::human::bytes_one_decimal(n.ring_bytes)
        ),
        Report::Dumped(d) => writeln!(
            err,
            "\nwrote {} ({}, {})",
            d.path.display(),
            d.triggers
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", "),
            plural(d.summary.events, "event")
        ),
        Report::DumpFailed(e) => writeln!(err, "\ndaxtrace: warning: a dump failed: {e}"),
    };
    let _ = err.flush();
}

async fn record(args: Args, filter: EventFilter, output: Reserved) -> anyhow::Result<()> {
    // Installed before the (long) attach: a SIGINT or SIGTERM during it is
    // kept and ends the recording as soon as it starts (a background job of
    // a script starts with SIGINT ignored, so the signal was simply lost).
    let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
    let stream = start_stream(&args)?;
    args.require.check(&stream.info.probes)?;
    let header = Header::new(stream.info.clone(), filter.describe());
    let writer = Writer::to_file(output.take()?, &header)?;
    let opts = RecordOptions {
        duration: args.duration,
        filter,
        ..RecordOptions::default()
    };
    let (recorded, out) = recorder::record(stream, writer, &opts, stop, print_progress).await?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .context("flushing the trace")?;
    file.sync_all().context("syncing the trace to disk")?;
    match recorded {
        Recorded::Finished(summary) => {
            eprintln!(
                "\nwrote {} ({} dropped in the kernel) to {} ({})",
                plural(summary.events, "event"),
                summary.drops,
                args.output.display(),
                summary.end_reason
            );
            Ok(())
        }
        Recorded::SourceFailed { reason, events } => {
            eprintln!();
            bail!(
                "the event source failed: {reason}; {} holds the {} before it \
                 and no closing summary, so it reads as truncated",
                args.output.display(),
                plural(events, "event")
            )
        }
    }
}

/// The live capture stream: probes resolved for the running kernel, loaded
/// and attached; the error says what is missing (privileges, BTF, tracefs...).
fn start_live(opts: LiveOptions) -> anyhow::Result<EventStream> {
    let stream = live::start(&opts).context("starting live capture")?;
    let (attached, total) = stream.info.probes.attached_count();
    eprintln!("daxtrace record: {attached} of {total} probe families attached");
    Ok(stream)
}

fn print_progress(p: &Progress) {
    let mut err = std::io::stderr().lock();
    // Progress is best effort: a closed stderr must not stop the recording.
    let _ = write!(
        err,
        "\rrecording: {:>6.0}s  {} events  {} drops  {}   ",
        p.elapsed.as_secs_f64(),
        p.events,
        p.drops,
        dax_trace::human::bytes_one_decimal(p.bytes)
    );
    let _ = err.flush();
}

/// Live capture needs root, or CAP_BPF with CAP_PERFMON. Checked before
/// anything is created so a refused run leaves no file behind.
fn require_capture_privileges() -> anyhow::Result<()> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| eff & (1 << cap) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    bail!(
        "live capture needs root (or CAP_BPF and CAP_PERFMON): run with sudo, \
         or record from a trace file with --from"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_buffer_sizes_are_powers_of_two_from_a_page() {
        assert_eq!(parse_ring_buffer_bytes("4096"), Ok(4096));
        assert_eq!(parse_ring_buffer_bytes("4194304"), Ok(4 << 20));
        assert!(parse_ring_buffer_bytes("2048").is_err(), "below a page");
        assert!(
            parse_ring_buffer_bytes("12288").is_err(),
            "not a power of two"
        );
        assert!(parse_ring_buffer_bytes("4294967296").is_err(), "beyond u32");
        assert!(parse_ring_buffer_bytes("4k").is_err());
    }
}
