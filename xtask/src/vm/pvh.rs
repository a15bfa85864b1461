//! PVH boot: QEMU enters an uncompressed ELF vmlinux directly (no bzImage
//! decompressor under TCG, a few seconds faster). The vmlinux is cut out of
//! Debian's bzImage and used only when it carries the PVH entry note.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;

/// Compression formats Debian's bzImages use, with their stream magic.
const CODECS: &[(&[u8], &str, &[&str])] = &[
    (b"\xfd7zXZ\x00", "xz", &["-dc", "--single-stream"]),
    (b"\x28\xb5\x2f\xfd", "zstd", &["-dc"]),
    (b"\x1f\x8b\x08", "gzip", &["-dc"]),
];

/// Xen ELF note type XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// Offset and decompressor of the first compressed stream in `bzimage`.
pub fn find_payload(bzimage: &[u8]) -> Option<(usize, &'static str, &'static [&'static str])> {
    CODECS
        .iter()
        .filter_map(|(magic, tool, args)| {
            bzimage
                .windows(magic.len())
                .position(|w| w == *magic)
                .map(|at| (at, *tool, *args))
        })
        .min_by_key(|(at, _, _)| *at)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?)).ok()
}

/// Whether the little-endian ELF64 image has a Xen PHYS32_ENTRY note.
pub fn has_pvh_entry(elf: &[u8]) -> bool {
    pvh_entry_note(elf).unwrap_or(false)
}

fn pvh_entry_note(elf: &[u8]) -> Option<bool> {
    if elf.get(..5)? != b"\x7fELF\x02" {
        return Some(false);
    }
    let phoff = u64_at(elf, 0x20)?;
    let phentsize = usize::from(u16_at(elf, 0x36)?);
    let phnum = usize::from(u16_at(elf, 0x38)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(elf, ph)? != 4 {
            continue; // not PT_NOTE
        }
        let (mut at, end) = (
            u64_at(elf, ph + 8)?,
            u64_at(elf, ph + 8)? + u64_at(elf, ph + 0x20)?,
        );
        while at + 12 <= end {
            let namesz = u32_at(elf, at)? as usize;
            let descsz = u32_at(elf, at + 4)? as usize;
            let kind = u32_at(elf, at + 8)?;
            let name = elf.get(at + 12..at + 12 + namesz)?;
            if name == b"Xen\0" && kind == XEN_ELFNOTE_PHYS32_ENTRY {
                return Some(true);
            }
            at += 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
        }
    }
    Some(false)
}

/// The PVH-bootable vmlinux of `bzimage`, extracted once into `dir`; None when
/// the image has no recognisable payload or the vmlinux lacks the PVH note.
pub fn ensure_vmlinux(bzimage: &Path, dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let out = dir.join("vmlinux");
    let verdict = dir.join("vmlinux.pvh");
    if let Ok(v) = std::fs::read_to_string(&verdict) {
        return Ok((v.trim() == "yes" && out.exists()).then_some(out));
    }
    let image = std::fs::read(bzimage).with_context(|| format!("reading {}", bzimage.display()))?;
    let usable = match find_payload(&image) {
        Some((at, tool, args)) => {
            let vmlinux = decompress(tool, args, &image[at..])?;
            let ok = has_pvh_entry(&vmlinux);
            if ok {
                std::fs::write(&out, &vmlinux)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            ok
        }
        None => false,
    };
    std::fs::write(&verdict, if usable { "yes\n" } else { "no\n" })?;
    Ok(usable.then_some(out))
}

/// Decompress `input`; the output counts even when the tool complains about
/// the bytes that follow the stream (the rest of the bzImage).
fn decompress(tool: &str, args: &[&str], input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("running {tool}"))?;
    let mut stdin = child.stdin.take().context("decompressor stdin")?;
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output()?;
    // A broken pipe here only means the tool stopped reading after the stream.
    let _ = feeder.join();
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with one PT_NOTE segment holding `notes`.
    fn elf_with_notes(notes: &[(&[u8], u32)]) -> Vec<u8> {
        let mut note = Vec::new();
        for (name, kind) in notes {
            note.extend((name.len() as u32).to_le_bytes());
            note.extend(4u32.to_le_bytes());
            note.extend(kind.to_le_bytes());
            note.extend(*name);
            note.resize(note.len().next_multiple_of(4), 0);
            note.extend([1, 2, 3, 4]);
        }
        let mut elf = vec![0u8; 64 + 56];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        elf[64..68].copy_from_slice(&4u32.to_le_bytes());
        elf[72..80].copy_from_slice(&120u64.to_le_bytes());
        elf[96..104].copy_from_slice(&(note.len() as u64).to_le_bytes());
        elf.extend(note);
        elf
    }

    #[test]
    fn pvh_note_is_found_among_other_xen_notes() {
        assert!(has_pvh_entry(&elf_with_notes(&[
            (b"Linux\0", 6),
            (b"Xen\0", 18)
        ])));
        assert!(!has_pvh_entry(&elf_with_notes(&[
            (b"Xen\0", 5),
            (b"Xen\0", 6)
        ])));
        assert!(!has_pvh_entry(&elf_with_notes(&[(b"GNU\0", 18)])));
        assert!(!has_pvh_entry(b"MZ not an elf"));
        assert!(!has_pvh_entry(&elf_with_notes(&[(b"Xen\0", 18)])[..70]));
    }

    #[test]
    fn payload_is_the_earliest_compressed_stream() {
        let mut image = vec![0u8; 100];
        image.extend(b"\x28\xb5\x2f\xfd zstd stream");
        image.extend(b"\x1f\x8b\x08 later gzip");
        let (at, tool, _) = find_payload(&image).unwrap();
        assert_eq!((at, tool), (100, "zstd"));
        assert!(find_payload(b"plain bytes").is_none());
    }

    #[test]
    fn xz_payload_decompresses_despite_trailing_bytes() {
        let mut child = Command::new("xz")
            .args(["-c", "--check=crc32"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"kernel text")
            .unwrap();
        let mut stream = child.wait_with_output().unwrap().stdout;
        stream.extend(b"trailing setup data");
        assert_eq!(
            decompress("xz", &["-dc", "--single-stream"], &stream).unwrap(),
            b"kernel text"
        );
    }
}
