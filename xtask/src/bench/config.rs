//! The configurations a workload runs under in a round of
//! `cargo xtask bench overhead`, and the workloads of the guest script.

/// How a workload ran. The guest script names its files after
/// [`Config::as_str`]; a round runs them in the order of [`Config::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Config {
    /// The first untraced run of a round.
    Untraced,
    /// The second untraced run, right after the first: with it an A/A pair
    /// whose spread is the noise floor, and whose mean every ratio is against.
    UntracedRepeat,
    /// `daxtrace record`, BPF statistics off (throughput).
    Daxtrace,
    /// The same `daxtrace record` session after its throughput windows,
    /// with `kernel.bpf_stats_enabled` on: BPF run time per program.
    DaxtraceAttribution,
    /// bpftrace counting calls on every function daxtrace attached.
    Bpftrace,
    /// bpftrace doing daxtrace's pin-owner attribution.
    BpftraceOwners,
    /// One empty fexit program on each gup entry point daxtrace hooks.
    EmptyFexit,
    /// `daxtrace serve`, scraped at the end of each window.
    Serve,
    /// `daxtrace record --no-stacks`: pin owners kept, no kernel stacks.
    DaxtraceNoStacks,
    /// `daxtrace record --no-pins`: no pin-owner tracking (stacks still on).
    DaxtraceNoPins,
    /// Untraced once more after every tracer of the round has gone: a
    /// tracer must leave no cost behind.
    After,
}

impl Config {
    pub const ALL: [Config; 11] = [
        Config::Untraced,
        Config::UntracedRepeat,
        Config::Daxtrace,
        Config::DaxtraceAttribution,
        Config::Bpftrace,
        Config::BpftraceOwners,
        Config::EmptyFexit,
        Config::Serve,
        Config::DaxtraceNoStacks,
        Config::DaxtraceNoPins,
        Config::After,
    ];
    /// What every workload runs under.
    pub const BASE: [Config; 9] = [
        Config::Untraced,
        Config::UntracedRepeat,
        Config::Daxtrace,
        Config::DaxtraceAttribution,
        Config::Bpftrace,
        Config::BpftraceOwners,
        Config::EmptyFexit,
        Config::Serve,
        Config::After,
    ];

    /// The name the guest script uses in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Config::Untraced => "untraced",
            Config::UntracedRepeat => "untraced-b",
            Config::Daxtrace => "daxtrace",
            Config::DaxtraceAttribution => "daxtrace-attr",
            Config::Bpftrace => "bpftrace",
            Config::BpftraceOwners => "bpftrace-owners",
            Config::EmptyFexit => "empty-fexit",
            Config::Serve => "serve",
            Config::DaxtraceNoStacks => "daxtrace-no-stacks",
            Config::DaxtraceNoPins => "daxtrace-no-pins",
            Config::After => "after",
        }
    }

    /// Runs no tracer.
    pub fn is_untraced(self) -> bool {
        matches!(
            self,
            Config::Untraced | Config::UntracedRepeat | Config::After
        )
    }

    /// Runs `daxtrace record` (a trace, a report and BPF program stats to read).
    pub fn is_daxtrace(self) -> bool {
        matches!(
            self,
            Config::Daxtrace
                | Config::DaxtraceAttribution
                | Config::DaxtraceNoStacks
                | Config::DaxtraceNoPins
        )
    }

    /// The position of this configuration in [`Config::ALL`] (and in a round's runs).
    pub fn index(self) -> usize {
        Config::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or(Config::ALL.len())
    }

    /// The configurations `workload` runs under when `pin_workloads` get
    /// the pin variants (`--no-stacks`, `--no-pins`: with `--pin-variants`,
    /// and in the CI smoke's dio-dax), in the order the guest script runs them.
    pub fn for_workload(workload: &str, pin_workloads: &[&str]) -> Vec<Config> {
        let pins = pin_workloads.contains(&workload);
        Config::ALL
            .into_iter()
            .filter(|c| Config::BASE.contains(c) || pins)
            .collect()
    }
}

/// The workloads that run the pin variants with `--pin-variants`: the
/// O_DIRECT ones (into DAX memory, into DAX memory being punched, and the
/// non-DAX control).
pub const PIN_WORKLOADS: [&str; 3] = ["dio-dax", "dio-dax-punch", "dio-anon"];

/// The workloads of the guest script, in the order they run.
pub const WORKLOADS: [&str; 13] = [
    "mmap-ext4-randread",
    "mmap-ext4-randwrite",
    "mmap-xfs-randread",
    "mmap-xfs-randwrite",
    "dio-dax",
    "dio-dax-wide",
    "dio-dax-punch",
    "dio-anon",
    "dio-anon-1m",
    "futex-pingpong",
    "truncate-nondax",
    "mount-cycles",
    "dm-cycles",
];

/// The controls: workloads on ordinary memory and files, where no DAX page
/// is met and a tracer pays only for its hooks.
pub const CONTROLS: [&str; 4] = [
    "dio-anon",
    "dio-anon-1m",
    "futex-pingpong",
    "truncate-nondax",
];

/// Workloads that count operations themselves (`OPS ELAPSED_US` in
/// `TAG.cycles`) rather than through fio.
pub fn counts_ops(workload: &str) -> bool {
    workload.ends_with("-cycles") || matches!(workload, "futex-pingpong" | "truncate-nondax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_has_its_own_index_and_name() {
        for (i, c) in Config::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        let mut names: Vec<&str> = Config::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Config::ALL.len());
    }

    #[test]
    fn pin_variants_only_where_asked_and_after_comes_last() {
        let plain = Config::for_workload("mount-cycles", &PIN_WORKLOADS);
        assert_eq!(plain, Config::BASE);
        let pins = Config::for_workload("dio-dax", &PIN_WORKLOADS);
        assert_eq!(pins.len(), Config::ALL.len());
        assert_eq!(pins.last(), Some(&Config::After));
        assert!(counts_ops("futex-pingpong") && counts_ops("dm-cycles"));
        assert!(!counts_ops("dio-anon-1m"));
        assert!(CONTROLS.iter().all(|c| WORKLOADS.contains(c)));
    }
}
