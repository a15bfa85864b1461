//! Command line: one subcommand per scenario, common options for all of them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::fs::FsKind;

mod evict;

pub use evict::{EvictDmaArgs, EvictOp, EvictWhen};

#[derive(Debug, Parser)]
#[command(
    name = "dax-workload",
    version,
    about = "fs-DAX scenarios for the daxtrace test bed (run as root in the guest)",
    after_help = "Exit status: 0 when the scenario's checks hold, 1 when a check fails \
                  (or a step stays blocked past its watchdog), 2 on setup errors."
)]
pub struct Cli {
    /// The fsdax pmem block device (whole device, unmounted; it is reformatted).
    #[arg(long, global = true, default_value = "/dev/pmem0")]
    pub dev: PathBuf,

    /// Print a final machine-readable summary line (JSON) on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Directory (tmpfs) for mount points and the slow device's backing file.
    #[arg(long, global = true, default_value = "/tmp")]
    pub workdir: PathBuf,

    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// ext4 and xfs `-o dax` on pmem and on dm-linear over pmem: statx DAX and MAP_SYNC.
    Smoke,
    /// Mount/umount cycles of each filesystem `-o dax` on pmem.
    MountCycles(CyclesArgs),
    /// Mount/umount cycles on a dm-linear device over pmem (created, then removed).
    DmMountCycles(CyclesArgs),
    /// A pinned DAX page (O_DIRECT DMA or vmsplice) against truncate / hole punch.
    DmaTruncate(DmaTruncateArgs),
    /// A pinned DAX page (O_DIRECT DMA or vmsplice) whose file is unlinked or
    /// whose filesystem is unmounted: before 6.15 the page is released under
    /// the DMA, from 6.15 the eviction waits for it.
    EvictDma(EvictDmaArgs),
    /// PTE faults, and PMD faults on a 2 MiB aligned mapping.
    Faults(FaultsArgs),
    /// madvise(MADV_HWPOISON) on a page of a DAX mmap in a child process, on
    /// ext4 then xfs: what happens to the process and the file. Run it last
    /// in a boot: the page stays poisoned.
    MemoryFailure(MemoryFailureArgs),
    /// The child of `memory-failure` (maps, poisons and touches one page).
    #[command(hide = true)]
    PoisonChild(crate::hwpoison::PoisonChildArgs),
    /// Busy DAX pages with owners to name: an O_DIRECT pin by a named thread
    /// (beside an O_DIRECT read into anonymous memory, the control), a
    /// vmsplice pin, two processes pinning one page, and an io_uring fixed
    /// buffer registration (a long-term pin the kernel refuses).
    PinOwners(PinOwnersArgs),
    /// Tens of thousands of DAX pages held at once (vmsplice into many
    /// pipes, O_DIRECT reads in several threads) while a truncate waits.
    PinHeavy(PinHeavyArgs),
    /// A child of `pin-owners` (a pin or a read in a process of its own).
    #[command(hide = true)]
    PinChild(crate::pin_child::PinChildArgs),
    /// Two processes hand a shared futex back and forth (MAP_SHARED: every
    /// wait and wake finds its key through get_user_pages_fast); prints
    /// `ROUND_TRIPS ELAPSED_US` (a benchmark workload, no checks).
    FutexPingpong(crate::loops::FutexPingpongArgs),
    /// Write, punch and truncate one file (on a filesystem without DAX) in a
    /// loop; prints `LOOPS ELAPSED_US` (a benchmark workload, no checks).
    TruncateLoop(crate::loops::TruncateLoopArgs),
}

impl Scenario {
    /// The name used in progress lines and in the JSON summary.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Smoke => "smoke",
            Scenario::MountCycles(_) => "mount-cycles",
            Scenario::DmMountCycles(_) => "dm-mount-cycles",
            Scenario::DmaTruncate(_) => "dma-truncate",
            Scenario::EvictDma(_) => "evict-dma",
            Scenario::Faults(_) => "faults",
            Scenario::MemoryFailure(_) => "memory-failure",
            Scenario::PoisonChild(_) => "poison-child",
            Scenario::PinOwners(_) => "pin-owners",
            Scenario::PinHeavy(_) => "pin-heavy",
            Scenario::PinChild(_) => "pin-child",
            Scenario::FutexPingpong(_) => "futex-pingpong",
            Scenario::TruncateLoop(_) => "truncate-loop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FsChoice {
    Ext4,
    Xfs,
    All,
}

impl FsChoice {
    pub fn kinds(self) -> Vec<FsKind> {
        match self {
            FsChoice::Ext4 => vec![FsKind::Ext4],
            FsChoice::Xfs => vec![FsKind::Xfs],
            FsChoice::All => vec![FsKind::Ext4, FsKind::Xfs],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinChoice {
    Odirect,
    Vmsplice,
    All,
}

/// How a DAX page is kept busy while the truncate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// O_DIRECT read from a slow device into the mapping: the block layer holds the pages.
    Odirect,
    /// vmsplice of the mapping into a pipe that is not drained: the pipe holds the pages.
    Vmsplice,
}

impl PinChoice {
    pub fn kinds(self) -> Vec<PinKind> {
        match self {
            PinChoice::Odirect => vec![PinKind::Odirect],
            PinChoice::Vmsplice => vec![PinKind::Vmsplice],
            PinChoice::All => vec![PinKind::Odirect, PinKind::Vmsplice],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpChoice {
    Truncate,
    Punch,
    All,
}

/// The operation that must wait for the pinned page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// ftruncate to 0.
    Truncate,
    /// fallocate(PUNCH_HOLE | KEEP_SIZE) over the pinned range.
    Punch,
}

impl OpChoice {
    pub fn kinds(self) -> Vec<OpKind> {
        match self {
            OpChoice::Truncate => vec![OpKind::Truncate],
            OpChoice::Punch => vec![OpKind::Punch],
            OpChoice::All => vec![OpKind::Truncate, OpKind::Punch],
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CyclesArgs {
    /// Filesystems to cycle.
    #[arg(long, value_enum, default_value_t = FsChoice::All)]
    pub fs: FsChoice,
    /// Mount/umount cycles per filesystem.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub cycles: u32,
}

#[derive(Debug, Clone, Args)]
pub struct DmaTruncateArgs {
    /// What keeps the DAX pages busy: an O_DIRECT read from a slow device into
    /// the mapping, or vmsplice of the mapping into an undrained pipe.
    #[arg(long, value_enum, default_value_t = PinChoice::All)]
    pub pin: PinChoice,
    /// What must wait for them: ftruncate to 0, or a hole punch over them.
    #[arg(long, value_enum, default_value_t = OpChoice::All)]
    pub op: OpChoice,
    /// Filesystems to run the cases on.
    #[arg(long, value_enum, default_value_t = FsChoice::All)]
    pub fs: FsChoice,
    /// Read delay of the dm-delay device, which is how long the O_DIRECT pin lasts;
    /// the vmsplice pin is held as long.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=60_000))]
    pub delay_ms: u32,
    /// How long after the pin is dropped the truncate may take to return before
    /// the wakeup counts as lost.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(10..=300_000))]
    pub grace_ms: u64,
}

impl DmaTruncateArgs {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(u64::from(self.delay_ms))
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct FaultsArgs {
    /// Filesystems to fault on.
    #[arg(long, value_enum, default_value_t = FsChoice::All)]
    pub fs: FsChoice,
    /// Stress: repeat the 4 KiB read and write pass this many times, each on a
    /// fresh mapping (every pass faults every page again), to push fault
    /// events faster than a tracer drains them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub passes: u32,
}

#[derive(Debug, Clone, Args)]
pub struct PinOwnersArgs {
    /// Filesystems to run the cases on.
    #[arg(long, value_enum, default_value_t = FsChoice::Ext4)]
    pub fs: FsChoice,
    /// Read delay of the slow device: how long the O_DIRECT pin lasts.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u32).range(100..=60_000))]
    pub delay_ms: u32,
    /// How long the vmsplice pins are held once the truncate sleeps.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub hold_ms: u32,
    /// How long after a pin is dropped the truncate may take to return
    /// before the wakeup counts as lost.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub grace_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct PinHeavyArgs {
    /// DAX pages vmspliced and held at once.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub pages: u32,
    /// Threads reading 1 MiB with O_DIRECT from the slow device meanwhile.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub dio_threads: u32,
    /// Read delay of the slow device.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub delay_ms: u32,
    /// How long the pages are held once the truncate sleeps.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(0..=600_000))]
    pub hold_ms: u32,
}

impl PinHeavyArgs {
    pub fn hold(&self) -> Duration {
        Duration::from_millis(u64::from(self.hold_ms))
    }
}

impl PinOwnersArgs {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(u64::from(self.delay_ms))
    }
}

#[derive(Debug, Clone, Args)]
pub struct MemoryFailureArgs {
    /// Filesystems to poison a page on (each freshly made).
    #[arg(long, value_enum, default_value_t = FsChoice::All)]
    pub fs: FsChoice,
    /// Make xfs with the reverse-mapping btree, so that its notify_failure
    /// (6.1+) handles the failure itself instead of declining it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub xfs_rmapbt: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("dax-workload").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_apply_to_every_scenario() {
        let cli = parse(&["smoke"]).expect("smoke parses");
        assert_eq!(cli.dev, PathBuf::from("/dev/pmem0"));
        assert!(!cli.json);
        assert_eq!(cli.scenario.name(), "smoke");

        let cli = parse(&["mount-cycles"]).expect("mount-cycles parses");
        let Scenario::MountCycles(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.cycles, 3);
        assert_eq!(args.fs, FsChoice::All);
    }

    #[test]
    fn common_options_go_before_or_after_the_scenario() {
        let before = parse(&["--json", "--dev", "/dev/pmem1", "faults"]).expect("parses");
        let after = parse(&["faults", "--dev", "/dev/pmem1", "--json"]).expect("parses");
        for cli in [before, after] {
            assert!(cli.json);
            assert_eq!(cli.dev, PathBuf::from("/dev/pmem1"));
        }
    }

    #[test]
    fn dma_truncate_choices_expand() {
        let cli = parse(&[
            "dma-truncate",
            "--pin",
            "vmsplice",
            "--op",
            "all",
            "--fs",
            "xfs",
            "--delay-ms",
            "500",
        ])
        .expect("parses");
        let Scenario::DmaTruncate(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.pin.kinds(), vec![PinKind::Vmsplice]);
        assert_eq!(args.op.kinds(), vec![OpKind::Truncate, OpKind::Punch]);
        assert_eq!(args.fs.kinds(), vec![FsKind::Xfs]);
        assert_eq!(args.delay(), Duration::from_millis(500));
        assert_eq!(args.grace(), Duration::from_millis(1500));
    }

    #[test]
    fn memory_failure_defaults_to_both_filesystems_with_rmapbt() {
        let cli = parse(&["memory-failure", "--json"]).expect("parses");
        assert_eq!(cli.scenario.name(), "memory-failure");
        let Scenario::MemoryFailure(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.fs.kinds(), vec![FsKind::Ext4, FsKind::Xfs]);
        assert!(args.xfs_rmapbt);
        let cli =
            parse(&["memory-failure", "--fs", "xfs", "--xfs-rmapbt", "false"]).expect("parses");
        let Scenario::MemoryFailure(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert!(!args.xfs_rmapbt);
    }

    #[test]
    fn pin_owners_defaults_to_ext4_and_short_pins() {
        let cli = parse(&["pin-owners", "--json"]).expect("parses");
        assert_eq!(cli.scenario.name(), "pin-owners");
        let Scenario::PinOwners(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.fs.kinds(), vec![FsKind::Ext4]);
        assert_eq!(args.delay(), Duration::from_millis(1500));
        assert_eq!((args.hold_ms, args.grace_ms), (500, 1500));
        assert!(parse(&["pin-owners", "--delay-ms", "50"]).is_err());
    }

    #[test]
    fn pin_child_takes_a_mode_a_path_and_a_name() {
        let cli = parse(&[
            "pin-child",
            "--mode",
            "odirect-anon",
            "--path",
            "/dev/dm-1",
            "--name",
            "anon-dio",
        ])
        .expect("parses");
        let Scenario::PinChild(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.mode, crate::pin_child::PinChildMode::OdirectAnon);
        assert_eq!(args.pages, 4);
        assert!(
            parse(&[
                "pin-child",
                "--mode",
                "vmsplice",
                "--path",
                "/x",
                "--name",
                "a",
                "--pages",
                "17"
            ])
            .is_err()
        );
    }

    #[test]
    fn nonsense_is_rejected() {
        assert!(parse(&["mount-cycles", "--cycles", "0"]).is_err());
        assert!(parse(&["dma-truncate", "--pin", "rdma"]).is_err());
        assert!(parse(&["dma-truncate", "--delay-ms", "5"]).is_err());
        assert!(parse(&["unknown-scenario"]).is_err());
        assert!(parse(&[]).is_err());
    }
}
