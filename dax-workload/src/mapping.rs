//! Shared file mappings of DAX files, unmapped on drop.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr;

pub const PAGE_SIZE: usize = 4096;
pub const PMD_SIZE: usize = 2 << 20;

/// `addr` rounded up to a multiple of `align` (a power of two).
pub fn align_up(addr: usize, align: usize) -> usize {
    debug_assert!(align.is_power_of_two());
    (addr + align - 1) & !(align - 1)
}

/// How to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// MAP_SHARED.
    Shared,
    /// MAP_SHARED_VALIDATE | MAP_SYNC: only allowed when DAX is active.
    Sync,
}

impl Sharing {
    fn flags(self) -> libc::c_int {
        match self {
            Sharing::Shared => libc::MAP_SHARED,
            Sharing::Sync => libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
        }
    }
}

#[derive(Debug)]
pub struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes of `file` read-write.
    pub fn new(file: &File, len: usize, sharing: Sharing) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping chosen by the kernel; the fd is valid.
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                sharing.flags(),
                file.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            addr: addr as usize,
            len,
        })
    }

    /// Map `len` bytes of `file` at a virtual address aligned to `align`, so
    /// that a huge (PMD) fault can map a whole aligned extent.
    pub fn aligned(file: &File, len: usize, align: usize) -> io::Result<Mapping> {
        let reserve_len = len + align;
        // SAFETY: an anonymous PROT_NONE reservation chosen by the kernel.
        let reserve = unsafe {
            libc::mmap(
                ptr::null_mut(),
                reserve_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if reserve == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = reserve as usize;
        let start = align_up(base, align);
        // SAFETY: [start, start+len) lies inside our reservation, which MAP_FIXED replaces.
        let addr = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED,
                file.as_raw_fd(),
                0,
            )
        };
        let mapped = addr != libc::MAP_FAILED;
        let err = io::Error::last_os_error();
        // Give back the parts of the reservation outside [start, start + len).
        let (head, tail) = trim_reservation(base, reserve_len, start, len);
        for (at, n) in [head, tail] {
            if n > 0 {
                // SAFETY: these ranges are ours and hold only the PROT_NONE reservation.
                unsafe { libc::munmap(at as *mut libc::c_void, n) };
            }
        }
        if !mapped {
            // SAFETY: the middle is still the reservation.
            unsafe { libc::munmap(start as *mut libc::c_void, len) };
            return Err(err);
        }
        Ok(Mapping { addr: start, len })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Write one byte at `offset`: a write fault on first touch.
    pub fn write_byte(&self, offset: usize, value: u8) {
        assert!(
            offset < self.len,
            "offset {offset} outside mapping of {}",
            self.len
        );
        // SAFETY: in bounds of a live read-write mapping.
        unsafe { ptr::write_volatile((self.addr + offset) as *mut u8, value) }
    }

    /// Read one byte at `offset`: a read fault on first touch.
    pub fn read_byte(&self, offset: usize) -> u8 {
        assert!(
            offset < self.len,
            "offset {offset} outside mapping of {}",
            self.len
        );
        // SAFETY: in bounds of a live readable mapping.
        unsafe { ptr::read_volatile((self.addr + offset) as *const u8) }
    }

    /// munmap now, reporting failure (dropping ignores it).
    pub fn unmap(self) -> io::Result<()> {
        let (addr, len) = (self.addr, self.len);
        std::mem::forget(self);
        // SAFETY: we owned this mapping; `self` is gone, so nothing uses it after.
        if unsafe { libc::munmap(addr as *mut libc::c_void, len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Write-touch every page of `[0, len)`; returns the number of pages touched.
    pub fn write_pages(&self, len: usize, value: u8) -> usize {
        let mut touched = 0;
        for offset in (0..len.min(self.len)).step_by(PAGE_SIZE) {
            self.write_byte(offset, value);
            touched += 1;
        }
        touched
    }
}

/// The (address, length) of the head and tail left over when `[start, start+len)`
/// is carved out of the reservation `[base, base+reserve_len)`.
pub fn trim_reservation(
    base: usize,
    reserve_len: usize,
    start: usize,
    len: usize,
) -> ((usize, usize), (usize, usize)) {
    let head = (base, start - base);
    let tail_start = start + len;
    let tail = (tail_start, base + reserve_len - tail_start);
    (head, tail)
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own this mapping; nobody uses it after drop.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn align_up_rounds_to_the_next_boundary() {
        assert_eq!(align_up(0, PMD_SIZE), 0);
        assert_eq!(align_up(1, PMD_SIZE), PMD_SIZE);
        assert_eq!(align_up(PMD_SIZE, PMD_SIZE), PMD_SIZE);
        assert_eq!(align_up(0x7f00_0020_1000, PMD_SIZE), 0x7f00_0040_0000);
        assert_eq!(align_up(4095, PAGE_SIZE), 4096);
    }

    #[test]
    fn reservation_is_trimmed_around_the_aligned_part() {
        let base = 0x7f00_0020_1000;
        let len = 4 * PMD_SIZE;
        let reserve_len = len + PMD_SIZE;
        let start = align_up(base, PMD_SIZE);
        let ((h, hn), (t, tn)) = trim_reservation(base, reserve_len, start, len);
        assert_eq!(h, base);
        assert_eq!(h + hn, start);
        assert_eq!(t, start + len);
        assert_eq!(t + tn, base + reserve_len);
        assert_eq!(hn + len + tn, reserve_len);
    }

    fn scratch_file(len: usize) -> File {
        let path = std::env::temp_dir().join(format!("dax-workload-map-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("scratch file");
        let _ = std::fs::remove_file(&path);
        file.write_all(&vec![7u8; len]).expect("fill");
        file
    }

    #[test]
    fn aligned_mapping_is_aligned_and_backed_by_the_file() {
        let file = scratch_file(2 * PAGE_SIZE);
        let map = Mapping::aligned(&file, 2 * PAGE_SIZE, PMD_SIZE).expect("mmap");
        assert_eq!(map.addr() % PMD_SIZE, 0);
        assert_eq!(map.read_byte(PAGE_SIZE + 1), 7);
        map.write_byte(0, 9);
        assert_eq!(map.read_byte(0), 9);
        assert_eq!(map.write_pages(2 * PAGE_SIZE, 1), 2);
    }

    #[test]
    fn unmap_unmaps() {
        let file = scratch_file(PAGE_SIZE);
        let map = Mapping::new(&file, PAGE_SIZE, Sharing::Shared).expect("mmap");
        let addr = map.addr();
        map.unmap().expect("munmap");
        // mincore fails with ENOMEM on an address that is not mapped.
        let mut vec = [0u8; 1];
        // SAFETY: mincore only writes one byte into vec.
        let rc = unsafe { libc::mincore(addr as *mut libc::c_void, PAGE_SIZE, vec.as_mut_ptr()) };
        assert_eq!(rc, -1);
        assert_eq!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOMEM)
        );
    }

    #[test]
    fn map_sync_is_refused_off_dax() {
        // tmpfs / a regular disk filesystem: MAP_SYNC needs DAX.
        let file = scratch_file(PAGE_SIZE);
        let err = Mapping::new(&file, PAGE_SIZE, Sharing::Sync).expect_err("no DAX here");
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP));
    }
}
