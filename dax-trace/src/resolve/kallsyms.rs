//! `/proc/kallsyms`: which functions exist on this kernel, whether they live
//! in vmlinux or in a module, and the address of `vmemmap_base`.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reading kallsyms failed.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {source}")]
pub struct KallsymsError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// One symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// 0 when kallsyms hides addresses (not root, kptr_restrict).
    pub addr: u64,
    /// The kallsyms type letter (`T`/`t` text, `D`/`d`/`B`/`b` data...).
    pub kind: char,
    /// `None` for vmlinux, else the module name.
    pub module: Option<String>,
}

impl Symbol {
    /// A function (text symbol).
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 'T' | 't' | 'W' | 'w')
    }
}

/// The symbol table, by exact name (first occurrence kept: vmlinux comes first).
#[derive(Clone, Debug, Default)]
pub struct Kallsyms {
    symbols: HashMap<String, Symbol>,
}

impl Kallsyms {
    pub fn read(path: &Path) -> Result<Self, KallsymsError> {
        let text = std::fs::read_to_string(path).map_err(|source| KallsymsError {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses `addr type name[\t[module]]` lines; malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut symbols = HashMap::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            let Some(kind) = kind.chars().next() else {
                continue;
            };
            let module = fields
                .next()
                .and_then(|m| m.strip_prefix('[').and_then(|m| m.strip_suffix(']')))
                .map(str::to_string);
            symbols
                .entry(name.to_string())
                .or_insert(Symbol { addr, kind, module });
        }
        Self { symbols }
    }

    pub fn get(&self, name: &str) -> Option<&Symbol> {
        self.symbols.get(name)
    }

    /// The function `name`, if it exists under exactly that name (clones such
    /// as `name.isra.0` have other arguments and are not used).
    pub fn function(&self, name: &str) -> Option<&Symbol> {
        self.get(name).filter(|s| s.is_text())
    }

    /// Address of the `vmemmap_base` variable (`None` when absent or hidden).
    pub fn vmemmap_base(&self) -> Option<u64> {
        self.get("vmemmap_base").map(|s| s.addr).filter(|a| *a != 0)
    }

    /// True when addresses are all zero (kallsyms read without privilege).
    pub fn addresses_hidden(&self) -> bool {
        !self.symbols.is_empty() && self.symbols.values().all(|s| s.addr == 0)
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
ffffffff81dec360 T fs_dax_get_by_bdev
ffffffff8123b3f2 t fs_dax_get_by_bdev.cold
ffffffff82a1b2c0 D vmemmap_base
ffffffffc0a01230 t dm_dax_direct_access\t[dm_mod]
ffffffffc0b04560 t pmem_dax_direct_access\t[nd_pmem]
ffffffffc0b04000 d pmem_fops\t[nd_pmem]
garbage
";

    #[test]
    fn vmlinux_and_module_functions_are_told_apart() {
        let k = Kallsyms::parse(SAMPLE);
        let f = k.function("fs_dax_get_by_bdev").expect("present");
        assert_eq!(f.module, None);
        assert_eq!(f.addr, 0xffffffff81dec360);
        let m = k.function("dm_dax_direct_access").expect("present");
        assert_eq!(m.module.as_deref(), Some("dm_mod"));
        assert!(k.function("pmem_fops").is_none(), "data is not a function");
        assert!(k.function("fs_dax_get").is_none(), "no prefix match");
        assert_eq!(k.vmemmap_base(), Some(0xffffffff82a1b2c0));
        assert!(!k.addresses_hidden());
        assert_eq!(k.len(), 6);
    }

    #[test]
    fn hidden_addresses_are_detected() {
        let k = Kallsyms::parse("0000000000000000 T a\n0000000000000000 D vmemmap_base\n");
        assert!(k.addresses_hidden());
        assert_eq!(k.vmemmap_base(), None);
    }
}
