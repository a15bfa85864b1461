//! io_uring by raw syscalls, just enough for `IORING_REGISTER_BUFFERS`: the
//! registration of fixed buffers pins the memory long-term (FOLL_LONGTERM),
//! which the kernel refuses for FS-DAX mappings with EOPNOTSUPP.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `io_uring_register` opcodes (include/uapi/linux/io_uring.h).
const IORING_REGISTER_BUFFERS: libc::c_long = 0;
const IORING_UNREGISTER_BUFFERS: libc::c_long = 1;

/// `struct io_uring_params` (120 bytes, the same from 5.1 to 7.x): zeroed
/// asks for defaults; the kernel fills in the ring offsets, unused here.
#[repr(C, align(8))]
struct Params([u8; 120]);

/// An io_uring instance (no rings mapped: only registrations are used).
#[derive(Debug)]
pub struct Ring {
    fd: OwnedFd,
}

impl Ring {
    /// `io_uring_setup(entries, &params)`.
    pub fn new(entries: u32) -> io::Result<Ring> {
        let mut params = Params([0; 120]);
        // SAFETY: params is a writable io_uring_params-sized buffer for the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_io_uring_setup,
                libc::c_long::from(entries),
                std::ptr::from_mut(&mut params),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd =
            libc::c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: io_uring_setup returned a fresh descriptor that we now own.
        Ok(Ring {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Register `[addr, addr + len)` as the ring's one fixed buffer.
    pub fn register_buffer(&self, addr: usize, len: usize) -> io::Result<()> {
        let iov = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: iov lives across the call; the kernel only reads it and
        // pins (or refuses to pin) the memory it describes.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                libc::c_long::from(self.fd.as_raw_fd()),
                IORING_REGISTER_BUFFERS,
                std::ptr::from_ref(&iov),
                1 as libc::c_long,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Drop the registered buffers (and their pins).
    pub fn unregister_buffers(&self) -> io::Result<()> {
        // SAFETY: no argument is read for this opcode.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                libc::c_long::from(self.fd.as_raw_fd()),
                IORING_UNREGISTER_BUFFERS,
                std::ptr::null::<libc::c_void>(),
                0 as libc::c_long,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::PAGE_SIZE;

    /// A ring, or None (with the reason printed) where io_uring is not
    /// available to this process (kernel.io_uring_disabled, a seccomp
    /// filter of the container, an old kernel).
    fn ring_or_skip() -> Option<Ring> {
        match Ring::new(4) {
            Ok(ring) => Some(ring),
            Err(err)
                if matches!(
                    err.raw_os_error(),
                    Some(libc::ENOSYS | libc::EPERM | libc::EACCES)
                ) =>
            {
                eprintln!("skipped: io_uring_setup refused here: {err}");
                None
            }
            Err(err) => panic!("io_uring_setup failed: {err}"),
        }
    }

    #[test]
    fn anonymous_memory_registers_and_unregisters() {
        let Some(ring) = ring_or_skip() else { return };
        let buf = vec![0u8; 4 * PAGE_SIZE];
        let addr = crate::mapping::align_up(buf.as_ptr() as usize, PAGE_SIZE);
        ring.register_buffer(addr, 2 * PAGE_SIZE)
            .expect("anonymous memory is long-term pinnable");
        ring.unregister_buffers().expect("unregister");
        // Nothing registered any more: a second unregister says so.
        let err = ring.unregister_buffers().expect_err("nothing left");
        assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{err}");
    }

    #[test]
    fn unmapped_memory_is_refused() {
        let Some(ring) = ring_or_skip() else { return };
        // The zero page of the address space is never mapped.
        let err = ring
            .register_buffer(PAGE_SIZE, PAGE_SIZE)
            .expect_err("page 1 of the address space is not mapped");
        assert_eq!(err.raw_os_error(), Some(libc::EFAULT), "{err}");
    }
}
