//! The ways a DAX page is kept busy (pinned) from user space, and the extra
//! put that wakes a waiter whose wakeup was lost.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::mapping::PAGE_SIZE;

/// A pipe whose buffers hold page references while not drained.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 returned two fresh descriptors that we now own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }

    /// Try to make room for `bytes`; returns the capacity the pipe has (which
    /// may be less when the limit, /proc/sys/fs/pipe-max-size, is lower).
    pub fn reserve(&self, bytes: usize) -> io::Result<usize> {
        let fd = self.write.as_raw_fd();
        let want = libc::c_int::try_from(bytes.max(PAGE_SIZE)).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ takes an int.
        let mut got = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, want) };
        if got < 0 {
            // SAFETY: F_GETPIPE_SZ takes no argument.
            got = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        }
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        usize::try_from(got).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
    }

    /// vmsplice `[addr, addr + len)` into the pipe: the pipe now holds a
    /// reference on every page until drained. The pipe must have room.
    pub fn vmsplice(&self, addr: usize, len: usize) -> io::Result<usize> {
        let mut done = 0;
        while done < len {
            let iov = libc::iovec {
                iov_base: (addr + done) as *mut libc::c_void,
                iov_len: len - done,
            };
            // SAFETY: iov describes memory of a live mapping owned by the caller.
            let n = unsafe { libc::vmsplice(self.write.as_raw_fd(), &iov, 1, 0) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "vmsplice took nothing",
                ));
            }
            done += n.unsigned_abs();
        }
        Ok(done)
    }

    /// Read `len` bytes out of the pipe, dropping its page references.
    pub fn drain(&self, len: usize) -> io::Result<usize> {
        let mut buf = vec![0u8; len.min(1 << 20)];
        let mut done = 0;
        while done < len {
            let want = (len - done).min(buf.len());
            // SAFETY: buf has room for `want` bytes.
            let n = unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if n == 0 {
                break;
            }
            done += n.unsigned_abs();
        }
        Ok(done)
    }
}

/// Take and drop one more reference on each page of `[addr, addr + len)`
/// (vmsplice into a pipe, then drain it). The drop is a put on the page that
/// runs the kernel's "page became idle" wakeup, which is how a truncate whose
/// wakeup was lost gets going again. Returns the number of pages put.
pub fn put_pages_via_pipe(addr: usize, len: usize) -> io::Result<usize> {
    let pipe = Pipe::new()?;
    let chunk = pipe.reserve(len)?.max(PAGE_SIZE);
    let mut offset = 0;
    while offset < len {
        let n = (len - offset).min(chunk);
        let spliced = pipe.vmsplice(addr + offset, n)?;
        let drained = pipe.drain(spliced)?;
        if drained != spliced {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("drained {drained} of {spliced} spliced bytes"),
            ));
        }
        offset += n;
    }
    Ok(len.div_ceil(PAGE_SIZE))
}

/// O_DIRECT read of `len` bytes from the start of `device` into `addr`: the
/// block layer holds the destination pages until the read completes.
pub fn odirect_read(device: &File, addr: usize, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: [addr, addr+len) is a live writable mapping owned by the caller
        // for the whole call; len and addr are sector aligned.
        let n = unsafe { libc::pread(device.as_raw_fd(), addr as *mut libc::c_void, len, 0) };
        if n >= 0 {
            return Ok(n.unsigned_abs());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page-aligned anonymous memory for vmsplice tests.
    struct Anon {
        addr: usize,
        len: usize,
    }

    impl Anon {
        fn new(len: usize, fill: u8) -> Anon {
            // SAFETY: fresh anonymous mapping.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(addr, libc::MAP_FAILED);
            // SAFETY: the mapping is len bytes long and writable.
            unsafe { std::ptr::write_bytes(addr.cast::<u8>(), fill, len) };
            Anon {
                addr: addr as usize,
                len,
            }
        }
    }

    impl Drop for Anon {
        fn drop(&mut self) {
            // SAFETY: our mapping.
            unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        }
    }

    #[test]
    fn vmspliced_pages_stay_in_the_pipe_until_drained() {
        let mem = Anon::new(16 * PAGE_SIZE, 0x42);
        let pipe = Pipe::new().expect("pipe");
        assert!(pipe.reserve(mem.len).expect("room") >= mem.len);
        assert_eq!(pipe.vmsplice(mem.addr, mem.len).expect("vmsplice"), mem.len);
        assert_eq!(pipe.drain(mem.len).expect("drain"), mem.len);
    }

    #[test]
    fn put_via_pipe_covers_a_range_larger_than_one_chunk() {
        // 1 MiB + 1 page: more than the default pipe (64 KiB).
        let len = (1 << 20) + PAGE_SIZE;
        let mem = Anon::new(len, 1);
        assert_eq!(
            put_pages_via_pipe(mem.addr, len).expect("put"),
            len / PAGE_SIZE
        );
    }

    #[test]
    fn direct_read_fills_the_mapped_buffer() {
        let mem = Anon::new(PAGE_SIZE, 0);
        let file = File::open("/proc/self/exe").expect("open");
        let n = odirect_read(&file, mem.addr, PAGE_SIZE).expect("read");
        assert_eq!(n, PAGE_SIZE);
        // An ELF starts with 0x7f 'E' 'L' 'F'.
        // SAFETY: mem is readable and PAGE_SIZE long.
        let head = unsafe { std::slice::from_raw_parts(mem.addr as *const u8, 4) };
        assert_eq!(head, b"\x7fELF");
    }
}
