//! Loading a trivial `tp_btf` program (BTF tracing, attached to a raw
//! tracepoint) to learn whether the kernel allows it where it refuses
//! fentry: both are BPF_PROG_TYPE_TRACING, told apart by the attach type,
//! and a security module may refuse one and not the other. The embedded
//! object has no such program, so this goes through the bpf syscall.
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_RAW_TP: u32 = 23;

/// `mov r0, 0; exit`.
const INSNS: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];

/// The tracepoint whose BTF typedef names the attach target: present on
/// every kernel with BTF.
const TARGET: &str = "btf_trace_sched_switch";

/// Whether a `tp_btf` program loads here: `None` when it could not be tried
/// (no BTF, no such typedef), `Some(false)` when the kernel refuses it.
pub fn tp_btf_loads(vmlinux_btf: &Path) -> Option<bool> {
    let btf = btf_rs::Btf::from_file(vmlinux_btf).ok()?;
    let id = *btf.resolve_ids_by_name(TARGET).ok()?.first()?;
    let license = c"GPL";
    // union bpf_attr, BPF_PROG_LOAD part: prog_type @0, insn_cnt @4,
    // insns @8, license @16, expected_attach_type @68, attach_btf_id @108.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_TRACING.to_ne_bytes());
    attr[4..8].copy_from_slice(&(INSNS.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(INSNS.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[68..72].copy_from_slice(&BPF_TRACE_RAW_TP.to_ne_bytes());
    attr[108..112].copy_from_slice(&id.to_ne_bytes());
    // SAFETY: `attr` is a valid BPF_PROG_LOAD attribute of the size passed;
    // the instruction and license pointers it holds outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            attr.as_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Some(false);
    }
    // SAFETY: the syscall returned a file descriptor this function owns.
    unsafe { libc::close(fd as libc::c_int) };
    Some(true)
}
