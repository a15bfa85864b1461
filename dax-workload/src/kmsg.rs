//! Kernel log lines written after a point in time, from `/dev/kmsg` (root):
//! what the kernel itself says about an injected memory failure.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

/// A reader positioned at the end of the kernel log when it was opened.
#[derive(Debug)]
pub struct Kmsg {
    file: File,
}

impl Kmsg {
    /// Open `/dev/kmsg` without blocking and skip what is already logged.
    pub fn open_at_end() -> io::Result<Kmsg> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        file.seek(SeekFrom::End(0))?;
        Ok(Kmsg { file })
    }

    /// The messages logged since the last call (or since opening).
    pub fn new_messages(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        // One read returns one record; records are at most about 1 KiB.
        let mut buf = vec![0u8; 8192];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(m) = message(&String::from_utf8_lossy(&buf[..n])) {
                        out.push(m.to_owned());
                    }
                }
                // Records overwritten before we read them: carry on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// The text of one `/dev/kmsg` record (`prio,seq,usec,flags;text\n` followed
/// by optional ` KEY=value` continuation lines).
pub fn message(record: &str) -> Option<&str> {
    let (_, rest) = record.split_once(';')?;
    Some(rest.lines().next().unwrap_or("").trim_end())
}

/// The pfn in the kernel's `Injecting memory failure for pfn 0x... at
/// process virtual address 0x...` line (mm/madvise.c).
pub fn injected_pfn(messages: &[String]) -> Option<u64> {
    const MARK: &str = "Injecting memory failure for pfn ";
    messages.iter().find_map(|m| {
        let rest = &m[m.find(MARK)? + MARK.len()..];
        let hex = rest.split_whitespace().next()?.strip_prefix("0x")?;
        u64::from_str_radix(hex, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_is_after_the_semicolon() {
        assert_eq!(
            message(
                "6,1234,5678901,-;Memory failure: 0x40123: recovery action for dax page: Recovered\n SUBSYSTEM=x\n"
            ),
            Some("Memory failure: 0x40123: recovery action for dax page: Recovered")
        );
        assert_eq!(message("garbage"), None);
    }

    #[test]
    fn injected_pfn_is_parsed() {
        let lines = vec![
            "something else".to_owned(),
            "Injecting memory failure for pfn 0x4a0c3 at process virtual address 0x7f12a3c03000"
                .to_owned(),
        ];
        assert_eq!(injected_pfn(&lines), Some(0x4a0c3));
        assert_eq!(injected_pfn(&lines[..1]), None);
        assert_eq!(
            injected_pfn(&["Injecting memory failure for pfn zz".to_owned()]),
            None
        );
    }
}
