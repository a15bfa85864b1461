//! The options of `evict-dma`: which pins, which way the file is given up,
//! and when, relative to the pin.

use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{FsChoice, PinChoice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvictOpChoice {
    Unlink,
    Umount,
    All,
}

/// How the pinned page's file is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictOp {
    /// unlink(2) after the last close: the last iput evicts the inode.
    Unlink,
    /// umount(2) of the file's filesystem: evict_inodes.
    Umount,
}

impl EvictOpChoice {
    pub fn kinds(self) -> Vec<EvictOp> {
        match self {
            EvictOpChoice::Unlink => vec![EvictOp::Unlink],
            EvictOpChoice::Umount => vec![EvictOp::Umount],
            EvictOpChoice::All => vec![EvictOp::Unlink, EvictOp::Umount],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhenChoice {
    During,
    After,
    All,
}

/// When the file is given up, relative to the pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictWhen {
    /// While the pin is held: the hazard (or, from 6.15, the wait).
    During,
    /// Once the pin has ended: the control, nothing to wait for.
    After,
}

impl WhenChoice {
    pub fn kinds(self) -> Vec<EvictWhen> {
        match self {
            WhenChoice::During => vec![EvictWhen::During],
            WhenChoice::After => vec![EvictWhen::After],
            WhenChoice::All => vec![EvictWhen::During, EvictWhen::After],
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct EvictDmaArgs {
    /// What keeps the DAX pages busy: an O_DIRECT read from a slow device into
    /// the mapping, or vmsplice of the mapping into an undrained pipe.
    #[arg(long, value_enum, default_value_t = PinChoice::All)]
    pub pin: PinChoice,
    /// How the file is given up: unlink (the last iput evicts it) or umount
    /// of its filesystem (evict_inodes).
    #[arg(long, value_enum, default_value_t = EvictOpChoice::All)]
    pub op: EvictOpChoice,
    /// While the pin is held (the hazard), after it ended (the control), or both.
    #[arg(long, value_enum, default_value_t = WhenChoice::All)]
    pub when: WhenChoice,
    /// Filesystems to run the cases on.
    #[arg(long, value_enum, default_value_t = FsChoice::All)]
    pub fs: FsChoice,
    /// Read delay of the dm-delay device: how long the O_DIRECT pin lasts.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u32).range(100..=120_000))]
    pub delay_ms: u32,
    /// How long the vmsplice pin is held (the pipe is drained then); default
    /// the delay.
    #[arg(long, value_parser = clap::value_parser!(u32).range(100..=120_000))]
    pub hold_ms: Option<u32>,
    /// How long after the pin is in place the evicting thread starts (timing
    /// `during`); less than the delay and the hold.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=119_000))]
    pub evict_after_ms: u32,
    /// How long the unlink / umount may take to return once nothing is pinned
    /// (timing `after`, and from 6.15 after the pin ended).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub grace_ms: u64,
}

impl EvictDmaArgs {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(u64::from(self.delay_ms))
    }

    /// How long the vmsplice pin is held.
    pub fn hold(&self) -> Duration {
        Duration::from_millis(u64::from(self.hold_ms.unwrap_or(self.delay_ms)))
    }

    pub fn evict_after(&self) -> Duration {
        Duration::from_millis(u64::from(self.evict_after_ms))
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }

    /// The evicting thread must start while the pins are still held.
    pub fn validate(&self) -> Result<(), String> {
        let hold = self.hold_ms.unwrap_or(self.delay_ms);
        if self.evict_after_ms >= self.delay_ms.min(hold) {
            return Err(format!(
                "--evict-after-ms {} must be less than --delay-ms {} and --hold-ms {hold}: \
                 the file must be given up while the pin is held",
                self.evict_after_ms, self.delay_ms
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, PinKind, Scenario};
    use crate::fs::FsKind;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("dax-workload").chain(args.iter().copied()))
    }

    #[test]
    fn evict_dma_defaults_to_every_case_and_short_pins() {
        let cli = parse(&["evict-dma", "--json"]).expect("parses");
        assert_eq!(cli.scenario.name(), "evict-dma");
        let Scenario::EvictDma(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.fs.kinds(), vec![FsKind::Ext4, FsKind::Xfs]);
        assert_eq!(args.pin.kinds(), vec![PinKind::Odirect, PinKind::Vmsplice]);
        assert_eq!(args.op.kinds(), vec![EvictOp::Unlink, EvictOp::Umount]);
        assert_eq!(args.when.kinds(), vec![EvictWhen::During, EvictWhen::After]);
        assert_eq!(args.delay(), Duration::from_millis(1500));
        assert_eq!(args.hold(), args.delay(), "the hold defaults to the delay");
        assert_eq!(args.evict_after(), Duration::from_millis(300));
        assert_eq!(args.grace(), Duration::from_millis(1000));
        assert_eq!(args.validate(), Ok(()));
    }

    #[test]
    fn evict_dma_choices_expand_and_the_hold_is_its_own() {
        let cli = parse(&[
            "evict-dma",
            "--op",
            "umount",
            "--when",
            "after",
            "--pin",
            "vmsplice",
            "--fs",
            "xfs",
            "--hold-ms",
            "4000",
            "--delay-ms",
            "800",
        ])
        .expect("parses");
        let Scenario::EvictDma(args) = cli.scenario else {
            panic!("wrong scenario {:?}", cli.scenario)
        };
        assert_eq!(args.op.kinds(), vec![EvictOp::Umount]);
        assert_eq!(args.when.kinds(), vec![EvictWhen::After]);
        assert_eq!(args.pin.kinds(), vec![PinKind::Vmsplice]);
        assert_eq!(args.fs.kinds(), vec![FsKind::Xfs]);
        assert_eq!(args.hold(), Duration::from_millis(4000));
        assert_eq!(args.delay(), Duration::from_millis(800));
    }

    #[test]
    fn evict_dma_must_start_the_evictor_while_pinned() {
        let late = |extra: &[&str]| {
            let mut argv = vec!["evict-dma"];
            argv.extend_from_slice(extra);
            let cli = parse(&argv).expect("parses");
            let Scenario::EvictDma(args) = cli.scenario else {
                panic!("wrong scenario {:?}", cli.scenario)
            };
            args.validate()
        };
        let err = late(&["--evict-after-ms", "1500"]).expect_err("not before the pin ends");
        assert!(err.contains("--evict-after-ms 1500"), "{err}");
        assert!(late(&["--evict-after-ms", "900", "--hold-ms", "800"]).is_err());
        assert_eq!(late(&["--evict-after-ms", "1499"]), Ok(()));
        assert!(parse(&["evict-dma", "--op", "truncate"]).is_err());
        assert!(parse(&["evict-dma", "--when", "before"]).is_err());
        assert!(parse(&["evict-dma", "--hold-ms", "50"]).is_err());
    }
}
