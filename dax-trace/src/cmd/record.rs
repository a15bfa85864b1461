//! `daxtrace record`: capture events into a trace file (or re-record a trace
//! with `--from`, e.g. to keep one device), with progress on stderr once a
//! second. SIGINT and SIGTERM finish the file properly and exit 0.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use dax_trace::event::Dev;
use dax_trace::recorder::{self, EventFilter, Progress, RecordOptions};
use dax_trace::source::EventStream;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::trace::{CreateOptions, Header, Writer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to write (created 0600).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Stop after this long: 30s, 5m, 1h, 250ms (default: until Ctrl-C).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Keep only events about this block device: MAJOR:MINOR or a device path
    /// such as /dev/pmem0. Events that name no device are always kept.
    #[arg(long, value_name = "DEV")]
    dev: Option<String>,
    /// Read events from this trace file instead of the kernel (no root needed).
    #[arg(long, value_name = "TRACE")]
    from: Option<PathBuf>,
    /// With --from: replay at this multiple of the recorded pace (default: as fast as possible).
    #[arg(long, requires = "from", value_parser = parse_speed)]
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
        dev: args.dev.as_deref().map(parse_dev).transpose()?,
    };
    // Refuse early, before loading any probe, when the file is in the way.
    if !args.force && std::fs::symlink_metadata(&args.output).is_ok() {
        bail!(
            "{} already exists (pass --force to overwrite it)",
            args.output.display()
        );
    }
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
    runtime.block_on(record(args, filter))?;
    Ok(ExitCode::SUCCESS)
}

async fn record(args: Args, filter: EventFilter) -> anyhow::Result<()> {
    let stream = match &args.from {
        Some(path) => replay::start(path, ReplayOptions { speed: args.speed })
            .with_context(|| format!("reading {}", path.display()))?,
        None => start_live(LiveOptions {
            ring_buffer_bytes: args.ring_buffer_bytes,
            drain_pause: args.drain_pause_ms.map(Duration::from_millis),
            stacks: !args.no_stacks,
            pins: !args.no_pins,
            ..LiveOptions::default()
        })?,
    };
    args.require.check(&stream.info.probes)?;
    let header = Header::new(stream.info.clone(), filter.describe());
    let file = dax_trace::trace::create(&args.output, CreateOptions { force: args.force })?;
    let writer = Writer::to_file(file, &header)?;
    let opts = RecordOptions {
        duration: args.duration,
        filter,
        ..RecordOptions::default()
    };
    let stop = stop_signal()?;
    let (summary, out) = recorder::record(stream, writer, &opts, stop, print_progress).await?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .context("flushing the trace")?;
    file.sync_all().context("syncing the trace to disk")?;
    eprintln!(
        "\nwrote {} events ({} dropped in the kernel) to {} ({})",
        summary.events,
        summary.drops,
        args.output.display(),
        summary.end_reason
    );
    Ok(())
}

/// The live capture stream: probes resolved for the running kernel, loaded
/// and attached; the error says what is missing (privileges, BTF, tracefs...).
fn start_live(opts: LiveOptions) -> anyhow::Result<EventStream> {
    let stream = live::start(&opts).context("starting live capture")?;
    let (attached, total) = stream.info.probes.attached_count();
    eprintln!("daxtrace record: {attached} of {total} probe families attached");
    Ok(stream)
}

/// Resolves to the end reason on the first SIGINT or SIGTERM.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "interrupted",
            _ = term.recv() => "terminated",
        }
    })
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

/// A device as MAJOR:MINOR or the path of a block device node.
fn parse_dev(s: &str) -> anyhow::Result<Dev> {
    if let Some((major, minor)) = s.split_once(':') {
        let major = major
            .parse()
            .with_context(|| format!("bad major number in {s:?}"))?;
        let minor = minor
            .parse()
            .with_context(|| format!("bad minor number in {s:?}"))?;
        return Ok(Dev::new(major, minor));
    }
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let path = Path::new(s);
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--dev {s}: expected MAJOR:MINOR or a block device path"))?;
    if !meta.file_type().is_block_device() {
        bail!("--dev {s}: not a block device");
    }
    let rdev = meta.rdev();
    Ok(Dev::new(libc::major(rdev), libc::minor(rdev)))
}

/// A positive, finite replay speed factor.
fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "{s:?} is not a positive speed factor (e.g. 1, 10, 0.5)"
        )),
    }
}

/// `250ms`, `30s`, `5m`, `2h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m, 1h or 250ms"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn speeds_must_be_positive() {
        assert_eq!(parse_speed("2.5"), Ok(2.5));
        assert!(parse_speed("0").is_err());
        assert!(parse_speed("-1").is_err());
        assert!(parse_speed("inf").is_err());
    }

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

    #[test]
    fn devices_parse_as_numbers() {
        assert_eq!(parse_dev("259:3").ok(), Some(Dev::new(259, 3)));
        assert!(parse_dev("259:x").is_err());
        assert!(parse_dev("/nonexistent/pmem9").is_err());
    }
}
