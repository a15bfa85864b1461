//! The kernel-memory reader: one raw-tracepoint program that userspace runs
//! on demand (`BPF_PROG_TEST_RUN`, never attached) to copy kernel memory
//! into a map with `bpf_probe_read_kernel`. The state at start is read with
//! it: userspace walks kernel structures with offsets from BTF, one read per
//! object or chunk, so all the per-kernel logic stays in tested Rust.

/// Bytes one run of the reader copies at most.
pub const KREAD_CHUNK: usize = 16 * 1024;

/// What to read: slot 0 of the `KREAD_REQUEST` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KreadRequest {
    /// Kernel virtual address.
    pub addr: u64,
    /// Bytes to copy, at most [`KREAD_CHUNK`].
    pub len: u32,
    /// Explicit padding (no implicit hole in the layout); always 0.
    pub _pad: u32,
}

/// The outcome of a run: slot 0 of the `KREAD_RESULT` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KreadResult {
    /// `bpf_probe_read_kernel`'s return: 0 or a negative errno.
    pub ret: i64,
    /// The calling task's `task_struct` (`bpf_get_current_task`).
    pub task: u64,
    /// `bpf_ktime_get_ns()` at the read.
    pub ktime_ns: u64,
}

/// The bytes read: slot 0 of the `KREAD_BUFFER` array.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct KreadBuffer {
    /// The kernel memory copied from [`KreadRequest::addr`]: the first
    /// [`KreadRequest::len`] bytes are valid when [`KreadResult::ret`] is 0.
    pub bytes: [u8; KREAD_CHUNK],
}
