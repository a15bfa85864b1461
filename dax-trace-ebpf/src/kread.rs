//! The kernel-memory reader (see `dax_trace_common::kread`): run by userspace
//! through `BPF_PROG_TEST_RUN`, it copies `KREAD_REQUEST`'s range into
//! `KREAD_BUFFER`. It is never attached, so it costs nothing while tracing.
use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_ktime_get_ns, generated::bpf_probe_read_kernel},
    macros::map,
    maps::Array,
};
use dax_trace_common::kread::{KREAD_CHUNK, KreadBuffer, KreadRequest, KreadResult};

#[map]
pub static KREAD_REQUEST: Array<KreadRequest> = Array::with_max_entries(1, 0);

#[map]
pub static KREAD_RESULT: Array<KreadResult> = Array::with_max_entries(1, 0);

#[map]
pub static KREAD_BUFFER: Array<KreadBuffer> = Array::with_max_entries(1, 0);

/// Copies the requested range; returns 0, or 1 when a map is missing or the
/// request is larger than a chunk (the result's `ret` then stays untouched).
#[inline(always)]
pub fn read_requested() -> i32 {
    let Some(req) = KREAD_REQUEST.get(0) else {
        return 1;
    };
    let (addr, len) = (req.addr, req.len);
    if len as usize > KREAD_CHUNK {
        return 1;
    }
    let (Some(buf), Some(out)) = (KREAD_BUFFER.get_ptr_mut(0), KREAD_RESULT.get_ptr_mut(0)) else {
        return 1;
    };
    // SAFETY: `buf` is the map value of KREAD_CHUNK bytes and len is at most
    // that; the helper checks the source itself and fails cleanly.
    let ret = unsafe {
        bpf_probe_read_kernel(
            (*buf).bytes.as_mut_ptr() as *mut core::ffi::c_void,
            len,
            addr as *const core::ffi::c_void,
        )
    };
    // SAFETY: the map value, written by this program only.
    unsafe {
        *out = KreadResult {
            ret,
            task: bpf_get_current_task(),
            ktime_ns: bpf_ktime_get_ns(),
        };
    }
    0
}
