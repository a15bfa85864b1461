//! tracefs: where it is mounted, which functions are kprobe-able
//! (`available_filter_functions`) and the layout of tracepoint records
//! (`events/<category>/<name>/format`).
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where tracefs is normally mounted, in order of preference.
pub const TRACEFS_CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The first candidate directory that looks like a mounted tracefs.
pub fn find_mount() -> Option<PathBuf> {
    TRACEFS_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| is_tracefs(p))
}

/// Mounts tracefs at `/sys/kernel/tracing` when no tracefs is mounted yet
/// (needs root; a failure is left for [`find_mount`] to report as "not
/// mounted"). Returns the mount point found or made.
pub fn mount_if_missing() -> Option<PathBuf> {
    if let Some(found) = find_mount() {
        return Some(found);
    }
    let target = Path::new(TRACEFS_CANDIDATES[0]);
    if target.is_dir() {
        let status = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", TRACEFS_CANDIDATES[0]])
            .stderr(std::process::Stdio::null())
            .status();
        if let Err(err) = status {
            log::debug!("mount tracefs: {err}");
        }
    }
    find_mount()
}

/// True when `dir` has the files of a mounted tracefs.
pub fn is_tracefs(dir: &Path) -> bool {
    dir.join("events").is_dir()
}

/// Reading a tracefs file failed.
#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One field of a tracepoint record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub size: u32,
}

/// The fields of one tracepoint, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFormat {
    pub fields: HashMap<String, Field>,
}

impl EventFormat {
    /// Parses a tracefs `format` file.
    pub fn parse(text: &str) -> Self {
        let mut fields = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("field:") else {
                continue;
            };
            let mut decl = None;
            let mut offset = None;
            let mut size = None;
            for part in rest.split(';') {
                let part = part.trim();
                if let Some(v) = part.strip_prefix("offset:") {
                    offset = v.parse().ok();
                } else if let Some(v) = part.strip_prefix("size:") {
                    size = v.parse().ok();
                } else if decl.is_none() && !part.is_empty() && !part.contains(':') {
                    decl = Some(part);
                }
            }
            let (Some(decl), Some(offset), Some(size)) = (decl, offset, size) else {
                continue;
            };
            if let Some(name) = field_name(decl) {
                fields.insert(name.to_string(), Field { offset, size });
            }
        }
        Self { fields }
    }

    pub fn field(&self, name: &str) -> Option<Field> {
        self.fields.get(name).copied()
    }
}

/// `unsigned long ino` -> `ino`; `char comm[16]` -> `comm`; `__data_loc char[] name` -> `name`.
fn field_name(decl: &str) -> Option<&str> {
    let last = decl.split_whitespace().last()?;
    let name = last.split('[').next()?;
    (!name.is_empty()).then_some(name)
}

/// A tracefs mount (or a directory laid out like one, for fixtures).
#[derive(Clone, Debug)]
pub struct Tracefs {
    pub root: PathBuf,
}

impl Tracefs {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Does the tracepoint `category/name` exist?
    pub fn has_event(&self, event: &str) -> bool {
        self.root
            .join("events")
            .join(event)
            .join("format")
            .is_file()
    }

    /// The record layout of `category/name`, `None` when the event is absent.
    pub fn event_format(&self, event: &str) -> Result<Option<EventFormat>, TracefsError> {
        let path = self.root.join("events").join(event).join("format");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| TracefsError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(Some(EventFormat::parse(&text)))
    }

    /// Functions the kernel can trace (and so kprobe without restriction),
    /// `None` when the file is absent (no ftrace).
    pub fn filter_functions(&self) -> Result<Option<HashSet<String>>, TracefsError> {
        let path = self.root.join("available_filter_functions");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| TracefsError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(Some(parse_filter_functions(&text)))
    }
}

/// `name [module]` lines -> the set of names.
pub fn parse_filter_functions(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "name: dax_pte_fault_done
ID: 1110
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long ino;\toffset:8;\tsize:8;\tsigned:0;
\tfield:dev_t dev;\toffset:40;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:52;\tsize:16;\tsigned:0;
\tfield:int result;\toffset:48;\tsize:4;\tsigned:1;

print fmt: \"dev %d:%d\", REC->dev
";

    #[test]
    fn format_fields_have_offsets_and_sizes() {
        let f = EventFormat::parse(FORMAT);
        assert_eq!(f.field("ino"), Some(Field { offset: 8, size: 8 }));
        assert_eq!(
            f.field("dev"),
            Some(Field {
                offset: 40,
                size: 4
            })
        );
        assert_eq!(
            f.field("result"),
            Some(Field {
                offset: 48,
                size: 4
            })
        );
        assert_eq!(
            f.field("comm"),
            Some(Field {
                offset: 52,
                size: 16
            })
        );
        assert_eq!(f.field("common_pid"), Some(Field { offset: 4, size: 4 }));
        assert_eq!(f.field("address"), None);
    }

    #[test]
    fn filter_functions_drop_module_tags() {
        let set = parse_filter_functions("fs_put_dax\ndm_dax_direct_access [dm_mod]\n");
        assert!(set.contains("fs_put_dax"));
        assert!(set.contains("dm_dax_direct_access"));
        assert_eq!(set.len(), 2);
    }
}
