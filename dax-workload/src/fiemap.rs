//! Where a file's blocks are on the device (FS_IOC_FIEMAP), to tell whether a
//! 2 MiB range of it can be mapped by one PMD.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: libc::Ioctl = 0xC020_660B_u32 as libc::Ioctl;
/// Flush dirty data before mapping, so the extents are final.
const FIEMAP_FLAG_SYNC: u32 = 0x1;
const MAX_EXTENTS: usize = 64;

/// One extent: file offset, device offset and length, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub logical: u64,
    pub physical: u64,
    pub length: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

#[repr(C)]
struct Request {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [RawExtent; MAX_EXTENTS],
}

/// The first extents (up to 64) of `file`.
pub fn extents(file: &File) -> io::Result<Vec<Extent>> {
    // SAFETY: plain data, all-zero is valid.
    let mut req: Request = unsafe { std::mem::zeroed() };
    req.fm_length = u64::MAX;
    req.fm_flags = FIEMAP_FLAG_SYNC;
    req.fm_extent_count = MAX_EXTENTS as u32;
    // SAFETY: req is a fiemap header followed by room for fm_extent_count extents.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut req as *mut Request) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let n = (req.fm_mapped_extents as usize).min(MAX_EXTENTS);
    Ok(req.fm_extents[..n]
        .iter()
        .map(|e| Extent {
            logical: e.fe_logical,
            physical: e.fe_physical,
            length: e.fe_length,
        })
        .collect())
}

/// How many `size`-aligned ranges of the first `file_len` bytes lie inside one
/// extent whose device offset is aligned the same way: the ranges a huge
/// mapping of `size` can cover (the device itself must start aligned, which
/// pmem from `memmap=` does).
pub fn aligned_ranges(extents: &[Extent], file_len: u64, size: u64) -> usize {
    (0..file_len / size)
        .map(|i| i * size)
        .filter(|&start| {
            extents.iter().any(|e| {
                e.logical <= start
                    && start + size <= e.logical + e.length
                    && (e.physical + (start - e.logical)).is_multiple_of(size)
            })
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const M2: u64 = 2 << 20;

    #[test]
    fn one_aligned_extent_covers_every_range() {
        let e = [Extent {
            logical: 0,
            physical: 64 * M2,
            length: 4 * M2,
        }];
        assert_eq!(aligned_ranges(&e, 4 * M2, M2), 4);
    }

    #[test]
    fn misaligned_or_split_extents_do_not_count() {
        let shifted = [Extent {
            logical: 0,
            physical: 64 * M2 + 4096,
            length: 4 * M2,
        }];
        assert_eq!(aligned_ranges(&shifted, 4 * M2, M2), 0);

        // Two extents meeting in the middle of the second 2 MiB range.
        let split = [
            Extent {
                logical: 0,
                physical: 10 * M2,
                length: M2 + M2 / 2,
            },
            Extent {
                logical: M2 + M2 / 2,
                physical: 40 * M2 + M2 / 2,
                length: M2 + M2 / 2,
            },
        ];
        // Range 0 is inside the first extent; range 1 straddles; range 2 is
        // inside the second, whose device offset 40 M2 + M2/2 + M2/2 is aligned.
        assert_eq!(aligned_ranges(&split, 3 * M2, M2), 2);
    }

    #[test]
    fn no_extents_no_ranges() {
        assert_eq!(aligned_ranges(&[], 4 * M2, M2), 0);
    }

    #[test]
    fn a_written_file_has_extents() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("dax-wl-fiemap-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).expect("create");
        file.write_all(&[1u8; 8192]).expect("write");
        let result = extents(&file);
        std::fs::remove_file(&path).expect("cleanup");
        match result {
            Ok(extents) => {
                assert!(!extents.is_empty());
                assert_eq!(extents[0].logical, 0);
            }
            // tmpfs and some others have no FIEMAP.
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}"),
        }
    }
}
