//! newc cpio archives through the `cpio` tool (owner root, sorted entries).
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Every path under `root`, relative to it, directories before their contents, sorted.
pub fn list_tree(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut children: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .map(|e| e.map(|e| rel.join(e.file_name())))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children.into_iter().rev() {
            let meta = std::fs::symlink_metadata(root.join(&child))?;
            if meta.is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort();
    Ok(out)
}

/// Write `root` as a newc archive to `archive`.
pub fn write_archive(root: &Path, archive: &Path) -> anyhow::Result<()> {
    let entries = list_tree(root)?;
    let out = std::fs::File::create(archive)
        .with_context(|| format!("creating {}", archive.display()))?;
    let mut child = Command::new("cpio")
        .args(["--quiet", "-o", "-H", "newc", "--null", "--owner=0:0"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .context("running cpio (install the cpio package)")?;
    {
        let mut stdin = child.stdin.take().context("cpio stdin")?;
        for entry in &entries {
            stdin.write_all(entry.as_os_str().as_encoded_bytes())?;
            stdin.write_all(b"\0")?;
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cpio failed ({status}) writing {}", archive.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lists_parents_first() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("b/c")).unwrap();
        std::fs::write(t.path().join("b/c/f"), b"x").unwrap();
        std::fs::write(t.path().join("a"), b"y").unwrap();
        let list = list_tree(t.path()).unwrap();
        let names: Vec<_> = list.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "b/c", "b/c/f"]);
    }

    #[test]
    fn archive_round_trips_through_cpio() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("f", root.join("etc/l")).unwrap();
        let archive = t.path().join("a.cpio");
        write_archive(&root, &archive).unwrap();
        let listing = Command::new("cpio")
            .args(["-it", "--quiet"])
            .stdin(std::fs::File::open(&archive).unwrap())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(listing.stdout).unwrap(),
            "etc\netc/f\netc/l\n"
        );
    }
}
