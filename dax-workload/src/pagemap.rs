//! Which physical page frame backs a virtual address: `/proc/self/pagemap`
//! (one little-endian u64 per page; the pfn is only shown to CAP_SYS_ADMIN).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::mapping::PAGE_SIZE;

/// Bit 63: the page is present in RAM (or device memory).
const PRESENT: u64 = 1 << 63;
/// Bits 0-54: the page frame number when present.
const PFN_MASK: u64 = (1 << 55) - 1;

/// One decoded pagemap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub present: bool,
    /// 0 when not present, or when the reader lacks CAP_SYS_ADMIN.
    pub pfn: u64,
}

/// Decode a raw pagemap word.
pub fn decode(raw: u64) -> Entry {
    let present = raw & PRESENT != 0;
    Entry {
        present,
        pfn: if present { raw & PFN_MASK } else { 0 },
    }
}

/// The pagemap entry of the page holding `addr` in this process.
pub fn entry(addr: usize) -> io::Result<Entry> {
    let file = File::open("/proc/self/pagemap")?;
    let mut word = [0u8; 8];
    let offset = (addr / PAGE_SIZE) as u64 * 8;
    file.read_exact_at(&mut word, offset)?;
    Ok(decode(u64::from_le_bytes(word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_entries_carry_the_pfn() {
        let e = decode(PRESENT | 0x4_0123);
        assert!(e.present);
        assert_eq!(e.pfn, 0x4_0123);
        // Soft-dirty (55) and exclusive (56) bits are not part of the pfn.
        assert_eq!(decode(PRESENT | (1 << 55) | (1 << 56) | 7).pfn, 7);
    }

    #[test]
    fn absent_entries_have_no_pfn() {
        assert_eq!(
            decode(0x1234),
            Entry {
                present: false,
                pfn: 0
            }
        );
    }

    #[test]
    fn a_touched_page_of_ours_is_present() {
        let page = vec![1u8; PAGE_SIZE * 2];
        let addr = page.as_ptr() as usize;
        let e = entry(addr).expect("pagemap readable");
        assert!(e.present, "{e:?}");
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert_eq!(e.pfn, 0, "pfns are hidden from unprivileged readers");
        }
    }
}
