//! What a thread of this process is doing, from /proc/self/task/TID.

use std::fs;

/// The calling thread's kernel id.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    i32::try_from(tid).unwrap_or(-1)
}

/// The command name (`comm`) of a thread of this process, as the kernel
/// holds it (and as tracers see it).
pub fn comm(tid: i32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// Name the calling thread (`prctl(PR_SET_NAME)`; the kernel keeps at most
/// 15 bytes). For the main thread this is the process's name too.
pub fn set_name(name: &str) -> std::io::Result<()> {
    let name = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes
    // (longer ones are cut by the kernel); name outlives the call.
    if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Scheduler state letter of a thread: R running, S interruptible sleep,
/// D uninterruptible sleep (e.g. waiting for a bio), Z, ...
pub fn state(tid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    parse_stat_state(&stat)
}

/// Scheduler state letter of a thread of any process.
pub fn state_of(pid: u32, tid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    parse_stat_state(&stat)
}

/// The state field of a /proc/.../stat line: the first field after the
/// command name, which is in parentheses and may itself contain ") ".
pub fn parse_stat_state(stat: &str) -> Option<char> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().next()?.chars().next()
}

/// The kernel function a sleeping thread waits in, when the kernel says.
pub fn wchan(tid: i32) -> Option<String> {
    let w = fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).ok()?;
    let w = w.trim();
    (!w.is_empty() && w != "0").then(|| w.to_owned())
}

/// The thread's kernel stack (root only, CONFIG_STACKTRACE).
pub fn kernel_stack(tid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/self/task/{tid}/stack"))
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Where a blocked thread sleeps: the first stack frame naming a layout
/// break or a DAX page wait (ext4_break_layouts, xfs_break_dax_layouts,
/// ext4_wait_dax_page / dax_break_layout on 6.15+), else wchan.
pub fn blocked_in(tid: i32) -> Option<String> {
    kernel_stack(tid)
        .as_deref()
        .and_then(interesting_frame)
        .or_else(|| wchan(tid))
}

/// Pick the frame that explains a DAX wait out of a /proc stack dump
/// (lines like `[<0>] ext4_break_layouts+0x10e/0x1a0 [ext4]`).
pub fn interesting_frame(stack: &str) -> Option<String> {
    stack
        .lines()
        .filter_map(frame_function)
        .find(|f| is_dax_wait(f))
        .map(str::to_owned)
}

/// A function that waits for DAX pages to go idle (break-layouts calls and
/// their wait helpers), as opposed to I/O the same operation may sleep on.
pub fn is_dax_wait(function: &str) -> bool {
    const MARKERS: [&str; 3] = ["break_layout", "break_dax_layout", "wait_dax_page"];
    MARKERS.iter().any(|m| function.contains(m))
}

fn frame_function(line: &str) -> Option<&str> {
    let sym = line.split_whitespace().nth(1)?;
    sym.split('+').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_waits_are_told_from_io_sleeps() {
        for wait in [
            "dax_break_layout_final",
            "ext4_break_layouts",
            "xfs_break_dax_layouts",
            "xfs_wait_dax_page",
            "fuse_dax_break_layouts",
        ] {
            assert!(is_dax_wait(wait), "{wait}");
        }
        for io in [
            "virtio_pmem_flush",
            "wb_wait_for_completion",
            "jbd2_log_wait_commit",
        ] {
            assert!(!is_dax_wait(io), "{io}");
        }
    }

    #[test]
    fn state_follows_a_command_name_with_parentheses() {
        assert_eq!(parse_stat_state("42 (a) b) S 1 42 42 0"), Some('S'));
        assert_eq!(parse_stat_state("7 (dax-workload) D 1 7"), Some('D'));
        assert_eq!(parse_stat_state("garbage"), None);
    }

    #[test]
    fn a_named_thread_has_that_comm() {
        let named = std::thread::spawn(|| {
            set_name("wl-test-named").expect("prctl");
            comm(gettid())
        })
        .join()
        .expect("thread");
        assert_eq!(named.as_deref(), Some("wl-test-named"));
        let cut = std::thread::spawn(|| {
            set_name("a-name-longer-than-fifteen").expect("prctl");
            comm(gettid())
        })
        .join()
        .expect("thread");
        assert_eq!(cut.as_deref(), Some("a-name-longer-t"), "15 bytes kept");
    }

    #[test]
    fn own_thread_is_running() {
        assert_eq!(state(gettid()), Some('R'));
        assert_eq!(state_of(std::process::id(), gettid()), Some('R'));
    }

    #[test]
    fn layout_break_frame_is_found() {
        let stack = "[<0>] __schedule+0x2a0/0x8a0\n\
                     [<0>] schedule+0x5a/0xd0\n\
                     [<0>] ext4_break_layouts+0x10e/0x1a0 [ext4]\n\
                     [<0>] ext4_setattr+0x3c1/0xa10 [ext4]\n";
        assert_eq!(
            interesting_frame(stack).as_deref(),
            Some("ext4_break_layouts")
        );
        assert_eq!(interesting_frame("[<0>] do_sys_poll+0x1/0x2\n"), None);
        let stack_7x = "[<0>] schedule+0x27/0xf0\n\
                        [<0>] ext4_wait_dax_page+0x2e/0x40 [ext4]\n\
                        [<0>] dax_break_layout+0x1c2/0x260\n";
        assert_eq!(
            interesting_frame(stack_7x).as_deref(),
            Some("ext4_wait_dax_page")
        );
    }
}
