//! `cargo xtask vm`: boot a Debian kernel in QEMU with a persistent-memory
//! device and run one command (or a dax-workload scenario) in it as root.
//!
//! Library entry point: [`run`] with a [`VmRequest`]; a guest that ran its
//! command gives a [`VmOutcome`] (whatever the command's exit status), a guest
//! that panicked, hung or failed to set up gives a [`VmFailure`].
pub mod accel;
pub mod apt;
pub mod cache;
pub mod cpio;
pub mod generation;
pub mod guest_bins;
pub mod guest_script;
pub mod host_tools;
pub mod image;
pub mod initramfs;
pub mod kernel;
pub mod modules;
pub mod pmem;
pub mod pvh;
pub mod qemu;
pub mod runner;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

pub use accel::Accel;
pub use generation::KernelGen;
use guest_script::{RunConfig, Status};
pub use pmem::{PmemKind, PmemLayout};
use runner::{Echo, RawRun, SerialFiles};

/// How many console lines a failure report carries.
const CONSOLE_TAIL_LINES: usize = 40;

/// How QEMU enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Boot {
    /// PVH when the kernel supports it, else bzImage.
    Auto,
    /// The uncompressed vmlinux through QEMU's PVH entry (fastest under TCG).
    Pvh,
    /// Debian's bzImage (vmlinuz) as shipped.
    Bzimage,
}

/// One VM run.
#[derive(Clone, Debug)]
pub struct VmRequest {
    pub kernel: KernelGen,
    /// argv of the command run as root in the guest (through bash's exec).
    pub command: Vec<String>,
    /// Host directory mounted read-write at /mnt/host (virtio-9p).
    pub share: Option<PathBuf>,
    /// The host's /usr, read-only over a second virtio-9p share at
    /// `/host/usr` (large host programs such as bpftrace and fio run from
    /// there through the host's dynamic loader instead of being copied into
    /// the image).
    pub host_usr: bool,
    /// The guest's pmem: the main device and an optional DAX root.
    pub pmem: PmemLayout,
    pub timeout: Duration,
    /// None: KVM when usable, else TCG.
    pub accel: Option<Accel>,
    pub boot: Boot,
    /// Stream the command's stdout/stderr to ours while it runs.
    pub echo_output: bool,
    /// Stream the kernel console to our stderr.
    pub echo_console: bool,
    /// Build the musl guest binaries first (else use the last build).
    pub build_guest_binaries: bool,
    /// Build daxtrace without its eBPF object (AYA_BUILD_SKIP=1).
    pub skip_ebpf: bool,
    pub cpus: u32,
}

impl VmRequest {
    /// A request with the defaults of `cargo xtask vm`.
    pub fn new(kernel: KernelGen, command: Vec<String>) -> Self {
        Self {
            kernel,
            command,
            share: None,
            host_usr: false,
            pmem: PmemLayout {
                main: PmemKind::Memmap,
                dax_root: None,
                spare_memmap: false,
            },
            timeout: Duration::from_secs(600),
            accel: None,
            boot: Boot::Auto,
            echo_output: false,
            echo_console: false,
            build_guest_binaries: true,
            skip_ebpf: false,
            cpus: 2,
        }
    }
}

/// A guest that booted and ran its command.
#[derive(Clone, Debug)]
pub struct VmOutcome {
    /// The command's exit status in the guest.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The whole kernel console.
    pub console: String,
    pub kernel_release: String,
    pub accel: Accel,
    /// QEMU start until the guest was ready to run the command.
    pub boot_time: Duration,
    /// The command alone.
    pub command_time: Duration,
    /// QEMU start until QEMU exited.
    pub total_time: Duration,
    /// Guest uptime when /init started (kernel boot inside the guest).
    pub guest_init_uptime: Option<Duration>,
    /// Guest uptime when the command started (modules, pmem, share ready).
    pub guest_ready_uptime: Option<Duration>,
    /// Guest uptime at the end of each /init step (`modules`, `pmem`).
    pub guest_phases: Vec<(String, Duration)>,
    /// Console lines that signal kernel trouble (BUG, Oops, WARNING, panic).
    pub kernel_alerts: Vec<String>,
    /// Warnings /init reported (a module that failed to load...).
    pub guest_warnings: Vec<String>,
}

/// The guest did not run its command to completion.
#[derive(Debug, thiserror::Error)]
pub enum VmFailure {
    #[error(
        "the guest kernel panicked (run files: {run_dir})\n--- last console lines ---\n{console_tail}"
    )]
    Panic {
        console_tail: String,
        run_dir: String,
    },
    #[error(
        "the guest did not finish within {timeout_s} s ({stage}): hang or too slow, QEMU killed \
         (run files: {run_dir})\n--- last console lines ---\n{console_tail}"
    )]
    Timeout {
        timeout_s: u64,
        /// How far the guest got: "kernel boot", "loading modules", ..., "command running".
        stage: &'static str,
        console_tail: String,
        run_dir: String,
    },
    #[error(
        "guest set-up failed: {message} (run files: {run_dir})\n--- last console lines ---\n{console_tail}"
    )]
    Setup {
        message: String,
        console_tail: String,
        run_dir: String,
    },
    #[error(
        "QEMU exited ({qemu_status}) before the command reported a status (run files: {run_dir})\n\
         --- QEMU ---\n{qemu_log}\n--- last console lines ---\n{console_tail}"
    )]
    NoStatus {
        qemu_status: String,
        qemu_log: String,
        console_tail: String,
        run_dir: String,
    },
}

/// Fetch/build what is missing, boot the VM, run the command.
pub fn run(req: &VmRequest) -> anyhow::Result<VmOutcome> {
    if req.command.is_empty() {
        bail!("no command to run in the guest");
    }
    let cache = cache::cache_root()?;
    let gen_dir = cache.join("kernels").join(req.kernel.as_str());
    std::fs::create_dir_all(&gen_dir).with_context(|| format!("creating {}", gen_dir.display()))?;
    // Built before taking the lock: a slow cargo build must not hold up other runs.
    let workspace = guest_bins::workspace_root();
    let bins = if req.build_guest_binaries {
        guest_bins::build(&workspace, req.skip_ebpf)?
    } else {
        let bins = guest_bins::locate(&workspace);
        for b in [&bins.daxtrace, &bins.workload] {
            if !b.is_file() {
                bail!("{} is missing: build it or drop --no-build", b.display());
            }
        }
        bins
    };
    // One fetch or image build per generation at a time; runs themselves are independent.
    let lock = cache::lock_dir(&gen_dir)?;
    let kernel = kernel::ensure_kernel(req.kernel, &gen_dir)?;
    let base = initramfs::ensure_base_image(&kernel, &bins, &gen_dir.join("initramfs"))?;

    let share = match &req.share {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Some(dir.canonicalize()?)
        }
        None => None,
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let run_dir = cache
        .join("runs")
        .join(format!("{}-{}-{stamp}", req.kernel, std::process::id()));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    req.pmem.validate().map_err(anyhow::Error::msg)?;
    let cfg = RunConfig {
        pmem: req.pmem,
        share: share.is_some(),
        host_usr: req.host_usr,
    };
    let initrd = initramfs::write_run_initrd(&base, &run_dir, &req.command, &cfg)?;
    drop(lock);
    let pmem = pmem_devices(&req.pmem, &run_dir)?;
    let accel = req.accel.unwrap_or_else(accel::detect);
    let boot_image = match req.boot {
        Boot::Bzimage => kernel.image.clone(),
        Boot::Auto | Boot::Pvh => {
            match pvh::ensure_vmlinux(&kernel.image, &gen_dir.join("root"))? {
                Some(vmlinux) => vmlinux,
                None if req.boot == Boot::Pvh => {
                    bail!(
                        "{} has no PVH entry point: use --boot bzimage",
                        kernel.release
                    )
                }
                None => kernel.image.clone(),
            }
        }
    };
    let files = SerialFiles::in_dir(&run_dir);
    let args = qemu::qemu_args(&qemu::QemuConfig {
        accel,
        kernel: &boot_image,
        initrd: &initrd,
        pmem,
        share: share.as_deref(),
        host_usr: req.host_usr.then_some(Path::new("/usr")),
        serial_files: [&files.console, &files.status, &files.stdout, &files.stderr],
        cpus: req.cpus,
    });
    let echo = Echo {
        command_output: req.echo_output,
        console: req.echo_console,
    };
    eprintln!(
        "vm: booting {} under {accel:?} ({}), timeout {} s",
        kernel.release,
        if boot_image == kernel.image {
            "bzImage"
        } else {
            "PVH"
        },
        req.timeout.as_secs()
    );
    let raw = runner::run_qemu(&args, &files, req.timeout, echo)?;
    // The big per-run files are never needed afterwards; the logs are kept on failure.
    for big in BIG_RUN_FILES {
        std::fs::remove_file(run_dir.join(big)).ok();
    }
    let result = interpret(
        raw,
        &kernel.release,
        accel,
        req.timeout,
        &run_dir.display().to_string(),
    );
    if result.is_ok() {
        std::fs::remove_dir_all(&run_dir).ok();
    }
    result
}

/// Per-run files removed after the run (the pmem backing files among them).
const BIG_RUN_FILES: [&str; 5] = [
    "initrd.cpio",
    "extra.cpio",
    "nvdimm.img",
    "virtio-pmem0.img",
    "virtio-pmem1.img",
];

/// The QEMU devices of `layout`, main first, with their backing files
/// (sparse) in `run_dir`.
fn pmem_devices(layout: &PmemLayout, run_dir: &Path) -> anyhow::Result<Vec<qemu::Pmem>> {
    let backing = |name: &str, mib: u64| -> anyhow::Result<PathBuf> {
        let path = run_dir.join(name);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.set_len(mib << 20)
            .with_context(|| format!("sizing {}", path.display()))?;
        Ok(path)
    };
    let device = |kind: PmemKind, index: usize| -> anyhow::Result<qemu::Pmem> {
        let size_mib = if index == 0 {
            pmem::VIRTIO_MAIN_MIB
        } else {
            pmem::VIRTIO_ROOT_MIB
        };
        Ok(match kind {
            PmemKind::Memmap => qemu::Pmem::Memmap,
            PmemKind::Nvdimm => qemu::Pmem::Nvdimm {
                backing: backing("nvdimm.img", pmem::NVDIMM_MIB)?,
            },
            PmemKind::Virtio => qemu::Pmem::Virtio {
                backing: backing(&format!("virtio-pmem{index}.img"), size_mib)?,
                size_mib,
            },
        })
    };
    let mut devices = vec![device(layout.main, 0)?];
    if let Some(root) = layout.dax_root {
        devices.push(device(root, 1)?);
    }
    if layout.spare_memmap {
        devices.push(qemu::Pmem::Memmap);
    }
    Ok(devices)
}

/// Turn a raw run into an outcome, or the failure that explains it.
fn interpret(
    raw: RawRun,
    release: &str,
    accel: Accel,
    timeout: Duration,
    run_dir: &str,
) -> anyhow::Result<VmOutcome> {
    let console = String::from_utf8_lossy(&raw.console).into_owned();
    let console_tail = runner::tail_lines(&console, CONSOLE_TAIL_LINES);
    let run_dir = run_dir.to_owned();
    let mut ready_at = None;
    let mut exit = None;
    let mut setup_error = None;
    let mut guest_warnings = Vec::new();
    let mut kernel_release = release.to_owned();
    let mut guest_init_uptime = None;
    let mut guest_ready_uptime = None;
    let mut guest_phases = Vec::new();
    for (at, status) in &raw.statuses {
        match status {
            Status::Init { uptime, release } => {
                guest_init_uptime = Duration::try_from_secs_f64(*uptime).ok();
                if !release.is_empty() {
                    kernel_release = release.clone();
                }
            }
            Status::Phase { name, uptime } => {
                if let Ok(d) = Duration::try_from_secs_f64(*uptime) {
                    guest_phases.push((name.clone(), d));
                }
            }
            Status::Ready { uptime } => {
                ready_at = Some(*at);
                guest_ready_uptime = Duration::try_from_secs_f64(*uptime).ok();
            }
            Status::Exit { code, .. } => exit = Some((*code, *at)),
            Status::Warning(w) => guest_warnings.push(w.clone()),
            Status::Error(e) => setup_error = Some(e.clone()),
        }
    }
    let Some((exit_code, exit_at)) = exit else {
        let failure = if console.contains("Kernel panic") {
            VmFailure::Panic {
                console_tail,
                run_dir,
            }
        } else if raw.timed_out {
            VmFailure::Timeout {
                timeout_s: timeout.as_secs(),
                stage: stage_reached(&raw.statuses),
                console_tail,
                run_dir,
            }
        } else if let Some(message) = setup_error {
            VmFailure::Setup {
                message,
                console_tail,
                run_dir,
            }
        } else {
            VmFailure::NoStatus {
                qemu_status: raw
                    .qemu_status
                    .map_or_else(|| "unknown status".to_owned(), |s| s.to_string()),
                qemu_log: raw.qemu_log.trim().to_owned(),
                console_tail,
                run_dir,
            }
        };
        return Err(failure.into());
    };
    let boot_time = ready_at.unwrap_or(exit_at);
    Ok(VmOutcome {
        exit_code,
        stdout: raw.stdout,
        stderr: raw.stderr,
        kernel_alerts: kernel_alerts(&console),
        console,
        kernel_release,
        accel,
        boot_time,
        command_time: exit_at.saturating_sub(boot_time),
        total_time: raw.elapsed,
        guest_init_uptime,
        guest_ready_uptime,
        guest_phases,
        guest_warnings,
    })
}

/// Where a guest that never reported its exit status got stuck.
fn stage_reached(statuses: &[(Duration, Status)]) -> &'static str {
    match statuses.last().map(|(_, s)| s) {
        None => "kernel boot: /init never started",
        Some(Status::Init { .. } | Status::Warning(_)) => "/init loading modules",
        Some(Status::Phase { name, .. }) if name == "modules" => "/init waiting for /dev/pmem0",
        Some(Status::Phase { .. }) => "/init mounting the share",
        Some(Status::Ready { .. }) => "the command was running",
        Some(Status::Exit { .. } | Status::Error(_)) => "powering off",
    }
}

/// Console lines that mean the kernel itself is in trouble.
pub fn kernel_alerts(console: &str) -> Vec<String> {
    const MARKERS: &[&str] = &[
        "Kernel panic",
        "BUG:",
        "Oops",
        "WARNING:",
        "general protection fault",
    ];
    console
        .lines()
        .filter(|l| MARKERS.iter().any(|m| l.contains(m)))
        .map(str::to_owned)
        .collect()
}

/// Command-line arguments of `cargo xtask vm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kernel generation: 5.10, 6.1, 6.12 or 7.
    #[arg(long, default_value = "6.1")]
    kernel: KernelGen,
    /// Host directory shared read-write at /mnt/host in the guest.
    #[arg(long)]
    share: Option<PathBuf>,
    /// Mount the host's /usr read-only at /host/usr (run host programs with
    /// `/host/usr/lib64/ld-linux-x86-64.so.2 --library-path /host/usr/lib/x86_64-linux-gnu`).
    #[arg(long)]
    host_usr: bool,
    /// Run `dax-workload NAME ARGS...` (ARGS after `--`).
    #[arg(long, value_name = "NAME")]
    scenario: Option<String>,
    /// The guest's pmem (/dev/pmem0): memmap= e820 pmem, QEMU's emulated
    /// NVDIMM (made fsdax with ndctl), or a virtio-pmem-pci device (as in
    /// Firecracker, Cloud Hypervisor and Kata guests).
    #[arg(long, value_enum, default_value = "memmap")]
    pmem: PmemKind,
    /// Same as `--pmem nvdimm`.
    #[arg(long, conflicts_with = "pmem")]
    nvdimm: bool,
    /// A second pmem device (/dev/pmem1) that /init formats ext4 and mounts
    /// `dax=always` at /dax-root before anything else runs: a DAX root.
    #[arg(long, value_enum, value_name = "KIND")]
    dax_root: Option<PmemKind>,
    /// Also reserve memmap= e820 pmem, left unbound until the command loads
    /// nd_e820 (for steps that reconfigure a namespace, e.g. to devdax).
    #[arg(long)]
    spare_memmap: bool,
    /// Seconds before the VM counts as hung.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Force an accelerator (default: KVM when it really works, else TCG).
    #[arg(long, value_enum)]
    accel: Option<Accel>,
    /// How QEMU enters the kernel.
    #[arg(long, value_enum, default_value = "auto")]
    boot: Boot,
    /// Copy the kernel console to stderr while the VM runs.
    #[arg(long)]
    console: bool,
    /// Do not rebuild the guest binaries; use the last musl build.
    #[arg(long)]
    no_build: bool,
    /// Build daxtrace without its eBPF object (no bpf-linker needed).
    #[arg(long)]
    skip_ebpf: bool,
    /// Virtual CPUs.
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// The command to run in the guest (or the scenario's arguments).
    #[arg(last = true)]
    command: Vec<String>,
}

/// Build the request `args` describe.
pub fn request_from_args(args: Args) -> anyhow::Result<VmRequest> {
    let command = match args.scenario {
        Some(name) => std::iter::once("dax-workload".to_owned())
            .chain(std::iter::once(name))
            .chain(args.command)
            .collect(),
        None if args.command.is_empty() => {
            bail!("give a command after `--` or a --scenario")
        }
        None => args.command,
    };
    Ok(VmRequest {
        share: args.share,
        host_usr: args.host_usr,
        pmem: PmemLayout {
            main: if args.nvdimm {
                PmemKind::Nvdimm
            } else {
                args.pmem
            },
            dax_root: args.dax_root,
            spare_memmap: args.spare_memmap,
        },
        timeout: Duration::from_secs(args.timeout),
        accel: args.accel,
        boot: args.boot,
        echo_output: true,
        echo_console: args.console,
        build_guest_binaries: !args.no_build,
        skip_ebpf: args.skip_ebpf,
        cpus: args.cpus,
        ..VmRequest::new(args.kernel, command)
    })
}

/// `cargo xtask vm`: returns the guest command's exit status.
pub fn main(args: Args) -> anyhow::Result<i32> {
    let req = request_from_args(args)?;
    let outcome = run(&req)?;
    for w in &outcome.guest_warnings {
        eprintln!("vm: guest warning: {w}");
    }
    for a in &outcome.kernel_alerts {
        eprintln!("vm: kernel alert: {a}");
    }
    let secs = |d: Option<Duration>| {
        d.map_or_else(|| "?".to_owned(), |d| format!("{:.1}", d.as_secs_f64()))
    };
    let phases: String = outcome
        .guest_phases
        .iter()
        .map(|(name, at)| format!(", {name} {:.1} s", at.as_secs_f64()))
        .collect();
    eprintln!(
        "vm: {} ({:?}): boot {:.1} s (guest uptime: /init {} s{phases}, ready {} s), \
         command {:.1} s, total {:.1} s, exit status {}",
        outcome.kernel_release,
        outcome.accel,
        outcome.boot_time.as_secs_f64(),
        secs(outcome.guest_init_uptime),
        secs(outcome.guest_ready_uptime),
        outcome.command_time.as_secs_f64(),
        outcome.total_time.as_secs_f64(),
        outcome.exit_code
    );
    Ok(outcome.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn raw_with(statuses: Vec<(u64, Status)>, console: &str, timed_out: bool) -> RawRun {
        RawRun {
            console: console.as_bytes().to_vec(),
            statuses: statuses
                .into_iter()
                .map(|(ms, s)| (Duration::from_millis(ms), s))
                .collect(),
            timed_out,
            elapsed: Duration::from_secs(10),
            ..RawRun::default()
        }
    }

    #[test]
    fn reported_exit_status_is_an_outcome_with_timings() {
        let raw = raw_with(
            vec![
                (
                    1000,
                    Status::Init {
                        uptime: 0.5,
                        release: "6.1.0-56-amd64".into(),
                    },
                ),
                (4000, Status::Ready { uptime: 3.0 }),
                (
                    6500,
                    Status::Exit {
                        code: 3,
                        uptime: 5.0,
                    },
                ),
            ],
            "boot\n",
            false,
        );
        let out = interpret(raw, "x", Accel::Tcg, Duration::from_secs(60), "/r").unwrap();
        assert_eq!(out.exit_code, 3);
        assert_eq!(out.kernel_release, "6.1.0-56-amd64");
        assert_eq!(out.boot_time, Duration::from_millis(4000));
        assert_eq!(out.command_time, Duration::from_millis(2500));
        assert_eq!(out.guest_init_uptime, Some(Duration::from_millis(500)));
        assert_eq!(out.guest_ready_uptime, Some(Duration::from_secs(3)));
        assert!(out.kernel_alerts.is_empty());
    }

    #[test]
    fn panic_without_status_is_a_panic_failure_with_the_console_tail() {
        let console: String = (0..100).map(|i| format!("line {i}\n")).collect::<String>()
            + "Kernel panic - not syncing: Attempted to kill init!\n";
        let raw = raw_with(vec![], &console, false);
        let err = interpret(raw, "x", Accel::Tcg, Duration::from_secs(60), "/r").unwrap_err();
        let failure = err.downcast_ref::<VmFailure>().unwrap();
        let VmFailure::Panic { console_tail, .. } = failure else {
            panic!("expected a panic failure, got {failure:?}");
        };
        assert_eq!(console_tail.lines().count(), CONSOLE_TAIL_LINES);
        assert!(console_tail.ends_with("Attempted to kill init!"));
        assert!(!console_tail.contains("line 60\n"));
    }

    #[test]
    fn timeout_and_setup_errors_are_failures() {
        let raw = raw_with(vec![(10, Status::Ready { uptime: 1.0 })], "", true);
        let err = interpret(raw, "x", Accel::Tcg, Duration::from_secs(7), "/r").unwrap_err();
        assert!(matches!(
            err.downcast_ref::<VmFailure>(),
            Some(VmFailure::Timeout {
                timeout_s: 7,
                stage: "the command was running",
                ..
            })
        ));
        let raw = raw_with(vec![(10, Status::Error("no /dev/pmem0".into()))], "", false);
        let err = interpret(raw, "x", Accel::Tcg, Duration::from_secs(7), "/r").unwrap_err();
        assert!(err.to_string().contains("no /dev/pmem0"));
    }

    #[test]
    fn kernel_trouble_is_flagged_even_on_success() {
        let alerts = kernel_alerts(
            "ok\n[ 3.1] WARNING: CPU: 0 PID: 1 at mm/x.c:1\nfine\n[ 4] BUG: unable to handle\n",
        );
        assert_eq!(alerts.len(), 2);
    }

    #[test]
    fn scenario_runs_dax_workload_with_its_arguments() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            vm: Args,
        }
        let cli = Cli::parse_from(["x", "--kernel", "7", "--scenario", "faults", "--", "--pmd"]);
        let req = request_from_args(cli.vm).unwrap();
        assert_eq!(req.kernel, KernelGen::V7);
        assert_eq!(req.command, ["dax-workload", "faults", "--pmd"]);
        let cli = Cli::parse_from(["x", "--share", "/d", "--", "sh", "-c", "echo ok"]);
        let req = request_from_args(cli.vm).unwrap();
        assert_eq!(req.kernel, KernelGen::V6_1);
        assert_eq!(req.command, ["sh", "-c", "echo ok"]);
        assert_eq!(req.share.as_deref(), Some(std::path::Path::new("/d")));
    }
}
