//! `daxtrace record`: capture events into a trace file (or re-record a trace
//! with `--from`, e.g. to keep one device), with progress on stderr once a
//! second. SIGINT and SIGTERM finish the file properly and exit 0.
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use dax_trace::human::plural;
use dax_trace::recorder::{self, EventFilter, Progress, RecordOptions, Recorded};
use dax_trace::source::EventStream;
use dax_trace::source::drive::stop_signals;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::trace::{CreateOptions, Header, Reserved, Writer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to write (created 0600).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
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
    /// Do not track who pins FS-DAX pages (the gup programs then only
    /// report refused long-term pins): for measuring what tracking costs.
    #[arg(long, conflicts_with = "from")]
    no_pins: bool,
    /// One record per DAX fault, with its address, inode and task (as
    /// traces before fault counting had). Default: faults are counted in
    /// the kernel per device, size and result, and the counts recorded once
    /// a second (`fault-counts` events), which costs far less.
    #[arg(long, conflicts_with = "from")]
    fault_events: bool,
    #[command(flatten)]
    require: super::require::Require,
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
    // Opened before any probe is loaded: a bad path fails in milliseconds,
    // not after the attach; nothing is emptied until recording starts.
    let output = dax_trace::trace::reserve(&args.output, CreateOptions { force: args.force })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(record(args, filter, output))?;
    Ok(ExitCode::SUCCESS)
}

async fn record(args: Args, filter: EventFilter, output: Reserved) -> anyhow::Result<()> {
    // Installed before the (long) attach: a SIGINT or SIGTERM during it is
    // kept and ends the recording as soon as it starts (a background job of
    // a script starts with SIGINT ignored, so the signal was simply lost).
    let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
    let stream = match &args.from {
        Some(path) => replay::start(path, ReplayOptions { speed: args.speed })
            .with_context(|| format!("reading {}", path.display()))?,
        None => start_live(LiveOptions {
            ring_buffer_bytes: args.ring_buffer_bytes,
            drain_pause: args.drain_pause_ms.map(Duration::from_millis),
            stacks: !args.no_stacks,
            pins: !args.no_pins,
            fault_events: args.fault_events,
            ..LiveOptions::default()
        })?,
    };
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
