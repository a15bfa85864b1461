//! Device-mapper tables: `DM_TABLE_STATUS` with `DM_STATUS_TABLE_FLAG` on
//! `/dev/mapper/control` gives each target's start, length, type and table
//! line (include/uapi/linux/dm-ioctl.h), which for `linear` names the member
//! and its offset. Members of other targets are the `M:m` words of the line.
use std::os::fd::AsRawFd;

use crate::event::Dev;

use super::sysfs::parse_dev;

/// One target line of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub start_sector: u64,
    pub sectors: u64,
    pub target_type: String,
    pub params: String,
}

impl Target {
    /// `(member, sector on the member)`; the sector is known for `linear` only.
    pub fn members(&self) -> Vec<(Dev, u64)> {
        let words: Vec<&str> = self.params.split_whitespace().collect();
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            if let Some(dev) = parse_dev(w) {
                let sector = if self.target_type == "linear" {
                    words.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(0)
                } else {
                    0
                };
                out.push((dev, sector));
            }
        }
        out
    }
}

/// Reading a table failed.
#[derive(Debug, thiserror::Error)]
pub enum DmError {
    #[error("opening /dev/mapper/control: {0}")]
    Control(#[source] std::io::Error),
    #[error("DM_TABLE_STATUS for {name}: {source}")]
    Ioctl {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("DM_TABLE_STATUS for {0}: malformed reply")]
    Reply(String),
}

const HEADER: usize = 312;
const NAME_OFF: usize = 48;
const NAME_LEN: usize = 128;
const SPEC: usize = 40;
const DM_STATUS_TABLE_FLAG: u32 = 1 << 4;
const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;
/// `_IOWR(0xfd, DM_TABLE_STATUS_CMD = 12, struct dm_ioctl)`.
const DM_TABLE_STATUS: u64 = (3 << 30) | ((HEADER as u64) << 16) | (0xfd << 8) | 12;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Parses a `DM_TABLE_STATUS` reply buffer (header, then target specs).
pub fn parse_reply(buf: &[u8]) -> Option<Vec<Target>> {
    let data_start = u32_at(buf, 16)? as usize;
    let count = u32_at(buf, 20)? as usize;
    let data = buf.get(data_start..)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    for _ in 0..count.min(4096) {
        let spec = data.get(at..at + SPEC)?;
        let params = data.get(at + SPEC..)?;
        out.push(Target {
            start_sector: u64_at(spec, 0)?,
            sectors: u64_at(spec, 8)?,
            target_type: cstr(&spec[24..40]),
            params: cstr(params),
        });
        let next = u32_at(spec, 20)? as usize;
        if next <= at {
            break;
        }
        at = next;
    }
    Some(out)
}

/// The loaded table of the dm device `name`.
pub fn table(name: &str) -> Result<Vec<Target>, DmError> {
    let control = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mapper/control")
        .map_err(DmError::Control)?;
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0u8; size];
        buf[0..4].copy_from_slice(&4u32.to_le_bytes());
        buf[12..16].copy_from_slice(&(size as u32).to_le_bytes());
        buf[16..20].copy_from_slice(&(HEADER as u32).to_le_bytes());
        buf[28..32].copy_from_slice(&DM_STATUS_TABLE_FLAG.to_le_bytes());
        let n = name.len().min(NAME_LEN - 1);
        buf[NAME_OFF..NAME_OFF + n].copy_from_slice(&name.as_bytes()[..n]);
        // SAFETY: the buffer is `size` bytes, as data_size tells the kernel,
        // and outlives the call.
        let rc = unsafe {
            libc::ioctl(
                control.as_raw_fd(),
                DM_TABLE_STATUS as libc::Ioctl,
                buf.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(DmError::Ioctl {
                name: name.to_string(),
                source: std::io::Error::last_os_error(),
            });
        }
        let flags = u32_at(&buf, 28).unwrap_or(0);
        if flags & DM_BUFFER_FULL_FLAG != 0 && size < (1 << 22) {
            size *= 4;
            continue;
        }
        return parse_reply(&buf).ok_or_else(|| DmError::Reply(name.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(buf: &mut Vec<u8>, start: u64, len: u64, ty: &str, params: &str, last: bool) {
        let data_start = HEADER;
        let at = buf.len() - data_start;
        let mut s = vec![0u8; SPEC];
        s[0..8].copy_from_slice(&start.to_le_bytes());
        s[8..16].copy_from_slice(&len.to_le_bytes());
        s[24..24 + ty.len()].copy_from_slice(ty.as_bytes());
        let mut body = params.as_bytes().to_vec();
        body.push(0);
        while !(SPEC + body.len()).is_multiple_of(8) {
            body.push(0);
        }
        let next = if last { 0 } else { at + SPEC + body.len() };
        s[20..24].copy_from_slice(&(next as u32).to_le_bytes());
        buf.extend(s);
        buf.extend(body);
    }

    #[test]
    fn a_two_target_reply_gives_linear_offsets_and_striped_members() {
        let mut buf = vec![0u8; HEADER];
        buf[16..20].copy_from_slice(&(HEADER as u32).to_le_bytes());
        buf[20..24].copy_from_slice(&2u32.to_le_bytes());
        spec(&mut buf, 0, 2048, "linear", "259:0 4096", false);
        spec(
            &mut buf,
            2048,
            1024,
            "striped",
            "2 256 259:0 0 259:1 0",
            true,
        );
        let t = parse_reply(&buf).expect("parse");
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].start_sector, t[0].sectors), (0, 2048));
        assert_eq!(t[0].members(), vec![(Dev::new(259, 0), 4096)]);
        assert_eq!(t[1].target_type, "striped");
        assert_eq!(
            t[1].members(),
            vec![(Dev::new(259, 0), 0), (Dev::new(259, 1), 0)]
        );
    }

    #[test]
    fn a_truncated_reply_is_refused() {
        let mut buf = vec![0u8; HEADER];
        buf[16..20].copy_from_slice(&(HEADER as u32).to_le_bytes());
        buf[20..24].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(parse_reply(&buf), None);
    }
}
