//! Kernel log lines written after a point in time, from `/dev/kmsg` (root):
//! what the kernel itself says about an injected memory failure, or the
//! warning it prints when a DAX page leaves its file while still busy.

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

/// A `WARNING:` line the kernel printed from fs/dax.c (before 6.15:
/// `dax_disassociate_entry`, a page released from its file while busy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaxWarning {
    /// The line, as logged.
    pub line: String,
    /// The `PID:` it names: the kernel thread id of the task that warned.
    pub tid: Option<i32>,
}

/// The first fs-DAX warning among `messages`: a line starting `WARNING:`
/// that names `fs/dax.c` or `dax_disassociate_entry`, e.g.
/// `WARNING: CPU: 1 PID: 245 at fs/dax.c:398 dax_disassociate_entry+0x9c/0xb0`.
pub fn dax_warning(messages: &[String]) -> Option<DaxWarning> {
    messages
        .iter()
        .find(|m| {
            m.starts_with("WARNING:")
                && (m.contains("fs/dax.c") || m.contains("dax_disassociate_entry"))
        })
        .map(|m| DaxWarning {
            line: m.clone(),
            tid: warning_pid(m),
        })
}

fn warning_pid(line: &str) -> Option<i32> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "PID:")?;
    words.next()?.parse().ok()
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

    #[test]
    fn the_dax_warning_and_its_thread_are_found() {
        let lines = vec![
            "------------[ cut here ]------------".to_owned(),
            "WARNING: CPU: 0 PID: 77 at mm/gup.c:1 other+0x1/0x2".to_owned(),
            "WARNING: CPU: 1 PID: 245 at fs/dax.c:398 dax_disassociate_entry+0x9c/0xb0".to_owned(),
        ];
        let found = dax_warning(&lines).expect("found");
        assert_eq!(found.tid, Some(245));
        assert!(found.line.contains("fs/dax.c:398"));
        assert_eq!(dax_warning(&lines[..2]), None, "not a DAX warning");
        let no_pid = vec!["WARNING: at fs/dax.c:452 dax_folio_put".to_owned()];
        assert_eq!(dax_warning(&no_pid).expect("found").tid, None);
        let not_a_warning = vec!["ext4: fs/dax.c is mentioned".to_owned()];
        assert_eq!(dax_warning(&not_a_warning), None);
    }
}
