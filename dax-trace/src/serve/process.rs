//! The exporter's own CPU and memory, read from /proc/self at scrape time,
//! under the standard `process_*` names Prometheus client libraries use.

/// What /proc says about this process (zeros where it could not be read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessFigures {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time_seconds: f64,
    pub open_fds: u64,
    pub max_fds: u64,
}

/// Fields of /proc/self/stat after the `(comm)` field, 0-based from `state`.
fn stat_fields(stat: &str) -> Vec<&str> {
    // comm may hold spaces and parentheses: the fields start after the last ')'.
    stat.rfind(')')
        .map_or(Vec::new(), |i| stat[i + 1..].split_whitespace().collect())
}

fn field(fields: &[&str], stat_index: usize) -> u64 {
    // stat_index is the 1-based field number of proc(5); fields[0] is field 3.
    fields
        .get(stat_index - 3)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn boot_time_seconds() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// Reads the figures now.
pub fn read() -> ProcessFigures {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f = stat_fields(&stat);
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer; getrlimit only writes it.
    let max_fds = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        0
    };
    ProcessFigures {
        cpu_seconds: (field(&f, 14) + field(&f, 15)) as f64 / ticks,
        resident_bytes: field(&f, 24) * page,
        virtual_bytes: field(&f, 23),
        start_time_seconds: boot_time_seconds() as f64 + field(&f, 22) as f64 / ticks,
        open_fds,
        max_fds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_after_a_comm_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 500 1000 25";
        let f = stat_fields(stat);
        assert_eq!(field(&f, 3), 0, "state is not a number");
        assert_eq!(field(&f, 14), 7);
        assert_eq!(field(&f, 15), 3);
        assert_eq!(field(&f, 22), 500);
        assert_eq!(field(&f, 23), 1000);
        assert_eq!(field(&f, 24), 25);
    }

    #[test]
    fn this_process_has_memory_and_open_files() {
        let p = read();
        assert!(p.resident_bytes > 0);
        assert!(p.virtual_bytes >= p.resident_bytes);
        assert!(p.open_fds >= 3, "stdin, stdout, stderr at least");
        assert!(p.start_time_seconds > 1_577_836_800.0, "started after 2020");
    }
}
