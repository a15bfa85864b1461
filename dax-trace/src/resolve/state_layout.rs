//! What the state readers need to know about the running kernel: addresses
//! of the kernel variables they start from (kallsyms, which lists static
//! data only with CONFIG_KALLSYMS_ALL) and struct layouts (BTF). Computed
//! once during resolution; a source whose inputs are missing is marked not
//! available with the reason, never read with guessed offsets.
use dax_trace_common::Config;
use dax_trace_common::payload::state_bits;
use serde::{Deserialize, Serialize};

use crate::resolve::btf::{BtfError, KernelBtf};
use crate::resolve::kallsyms::Kallsyms;

/// Offsets of `struct dax_device` and of the dax pseudo-filesystem's inodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaxLayout {
    /// `dax_superblock`: the variable holding the pseudo-fs superblock pointer.
    pub superblock_sym: u64,
    pub sb_inodes: u32,
    pub inode_sb_list: u32,
    pub inode_count: u32,
    pub inode_rdev: u32,
    /// `dax_device.inode`.
    pub dax_inode: u32,
    pub dax_flags: u32,
    /// Bit of `DAXDEV_ALIVE` in `flags`.
    pub alive_bit: u32,
    pub holder_data: Option<u32>,
    pub holder_ops: Option<u32>,
    /// `dax_device.host` (5.x): the disk name.
    pub host: Option<u32>,
    /// `dax_device.ops`.
    pub ops: u32,
    /// On the 5.x dax core, `pmem_dax_ops`: a pmem dax_device's inode holds
    /// two references with no claim on it (measured on Debian 5.10.0-46
    /// from boot: 2 with nothing mounted, 3 with one mount; dm's hold one,
    /// as every dax_device does from 6.1). 0 elsewhere.
    pub two_ref_ops: u64,
}

/// Offsets for `dax_hosts` (6.1+: gendisk -> dax_device xarray).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostsLayout {
    pub hosts_sym: u64,
    pub disk_name: u32,
}

/// `struct xarray` / `struct xa_node`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XarrayLayout {
    pub xa_head: u32,
    pub node_shift: u32,
    pub node_slots: u32,
}

/// The var-wait hash table and the structs on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitLayout {
    /// `bit_wait_table`: 256 `wait_queue_head`s.
    pub table_sym: u64,
    pub head_size: u32,
    pub head_list: u32,
    /// `wait_bit_queue_entry.key.flags` (the variable waited on) and `.bit_nr`.
    pub key_flags: u32,
    pub key_bit_nr: u32,
    /// `wait_bit_queue_entry.wq_entry` and, inside it, `private` (the task) and `entry`.
    pub wq_entry: u32,
    pub wqe_private: u32,
    pub wqe_entry: u32,
    pub task_pid: u32,
    pub task_comm: u32,
    pub task_state: u32,
    /// `task_struct.se.exec_start`: rq clock at the task's last run.
    pub task_exec_start: u32,
}

/// Page-side offsets beyond what the probes' `Config` has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageLayout {
    pub mapcount: u32,
    /// `compound_head` (`compound_info` on 7.x): bit 0 marks a tail page.
    pub compound_head: u32,
    /// `folio._large_mapcount` (6.9+), read on large folio heads.
    pub large_mapcount: Option<u32>,
}

/// Everything the state readers use, per source; `None` = not available.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateLayout {
    pub dax: Option<DaxLayout>,
    pub hosts: Option<HostsLayout>,
    /// `pgmap_array`: pfn -> dev_pagemap xarray.
    pub pgmap_array_sym: Option<u64>,
    pub xarray: Option<XarrayLayout>,
    pub waits: Option<WaitLayout>,
    pub page: Option<PageLayout>,
    /// Sources that cannot be read here, with the reason (`state_bits` bit, text).
    pub unavailable: Vec<(u32, String)>,
}

/// Name of a `state_bits` bit.
pub fn source_name(bit: u32) -> &'static str {
    state_bits::NAMES
        .iter()
        .find(|(b, _)| *b == bit)
        .map_or("unknown", |(_, n)| n)
}

/// Collects lookups and the names of those that failed.
struct Probe<'a> {
    btf: &'a KernelBtf,
    syms: Option<&'a Kallsyms>,
    missing: Vec<String>,
}

impl Probe<'_> {
    fn off(&mut self, s: &str, path: &str) -> Result<u32, BtfError> {
        let v = self.btf.path_offset(s, path)?;
        if v.is_none() {
            self.missing.push(format!("{s}.{path}"));
        }
        Ok(v.unwrap_or(0))
    }

    fn first(&mut self, alts: &[(&str, &str)]) -> Result<u32, BtfError> {
        for (s, p) in alts {
            if let Some(v) = self.btf.path_offset(s, p)? {
                return Ok(v);
            }
        }
        let names: Vec<String> = alts.iter().map(|(s, p)| format!("{s}.{p}")).collect();
        self.missing.push(names.join(" or "));
        Ok(0)
    }

    fn size(&mut self, s: &str) -> Result<u32, BtfError> {
        let v = self.btf.struct_size(s)?;
        if v.is_none() {
            self.missing.push(format!("sizeof(struct {s})"));
        }
        Ok(v.unwrap_or(0) as u32)
    }

    fn sym(&mut self, name: &str) -> u64 {
        let addr = self.syms.and_then(|k| k.get(name)).map_or(0, |s| s.addr);
        if addr == 0 {
            self.missing.push(format!(
                "kernel variable {name} (kallsyms lists static data only with CONFIG_KALLSYMS_ALL, and addresses only to root)"
            ));
        }
        addr
    }

    /// Takes the misses since the last call: `None` when there were none.
    fn misses(&mut self) -> Option<String> {
        (!self.missing.is_empty()).then(|| {
            let m = std::mem::take(&mut self.missing);
            format!("missing {}", m.join(", "))
        })
    }
}

impl StateLayout {
    /// Reads the layout from the kernel's BTF and kallsyms; `config` is the
    /// probes' resolved config (page and pagemap offsets, vmemmap).
    pub fn resolve(
        btf: Option<&KernelBtf>,
        kallsyms: Option<&Kallsyms>,
        config: &Config,
    ) -> Result<Self, BtfError> {
        let mut out = StateLayout::default();
        let Some(btf) = btf else {
            for (bit, _) in state_bits::NAMES {
                if bit != state_bits::MOUNTS && bit != state_bits::DM {
                    out.unavailable
                        .push((bit, "no kernel BTF: struct layouts unknown".into()));
                }
            }
            return Ok(out);
        };
        let mut p = Probe {
            btf,
            syms: kallsyms,
            missing: Vec::new(),
        };

        let dax = DaxLayout {
            superblock_sym: p.sym("dax_superblock"),
            sb_inodes: p.off("super_block", "s_inodes")?,
            inode_sb_list: p.off("inode", "i_sb_list")?,
            inode_count: p.off("inode", "i_count")?,
            inode_rdev: p.off("inode", "i_rdev")?,
            dax_inode: p.off("dax_device", "inode")?,
            dax_flags: p.off("dax_device", "flags")?,
            alive_bit: btf
                .enum_value("dax_device_flags", "DAXDEV_ALIVE")?
                .unwrap_or(0) as u32,
            holder_data: btf.path_offset("dax_device", "holder_data")?,
            holder_ops: btf.path_offset("dax_device", "holder_ops")?,
            host: btf.path_offset("dax_device", "host")?,
            ops: p.off("dax_device", "ops")?,
            two_ref_ops: 0,
        };
        let dax = DaxLayout {
            two_ref_ops: match (dax.host, kallsyms.and_then(|k| k.get("pmem_dax_ops"))) {
                (Some(_), Some(sym)) => sym.addr,
                _ => 0,
            },
            ..dax
        };
        match p.misses() {
            None => out.dax = Some(dax.clone()),
            Some(why) => out.unavailable.push((state_bits::DAX_DEVICES, why)),
        }

        let xarray = XarrayLayout {
            xa_head: p.off("xarray", "xa_head")?,
            node_shift: p.off("xa_node", "shift")?,
            node_slots: p.off("xa_node", "slots")?,
        };
        let xarray_ok = p.misses();
        if xarray_ok.is_none() {
            out.xarray = Some(xarray);
        }

        if dax.host.is_some() {
            // 5.x: each dax_device names its disk; no table needed.
        } else {
            let hosts = HostsLayout {
                hosts_sym: p.sym("dax_hosts"),
                disk_name: p.off("gendisk", "disk_name")?,
            };
            match (p.misses(), &xarray_ok) {
                (None, None) => out.hosts = Some(hosts),
                (why, xa) => out.unavailable.push((
                    state_bits::DAX_HOSTS,
                    [why, xa.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
            }
        }

        let pgmap_array = p.sym("pgmap_array");
        if config.pgmap_range_off == 0 && config.pgmap_type_off == 0 {
            p.missing.push("dev_pagemap.type, dev_pagemap.range".into());
        }
        match (p.misses(), &xarray_ok) {
            (None, None) => out.pgmap_array_sym = Some(pgmap_array),
            (why, xa) => out.unavailable.push((
                state_bits::PAGEMAPS,
                [why, xa.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }

        let page = PageLayout {
            mapcount: p.off("page", "_mapcount")?,
            compound_head: p.first(&[("page", "compound_head"), ("page", "compound_info")])?,
            large_mapcount: btf.path_offset("folio", "_large_mapcount")?,
        };
        if config.page_size == 0 || config.page_refcount_off == 0 {
            p.missing.push("sizeof(struct page), page._refcount".into());
        }
        match p.misses() {
            None => out.page = Some(page),
            Some(why) => out.unavailable.push((state_bits::CENSUS, why)),
        }

        let waits = WaitLayout {
            table_sym: p.sym("bit_wait_table"),
            head_size: p.size("wait_queue_head")?,
            head_list: p.off("wait_queue_head", "head")?,
            key_flags: p.off("wait_bit_queue_entry", "key.flags")?,
            key_bit_nr: p.off("wait_bit_queue_entry", "key.bit_nr")?,
            wq_entry: p.off("wait_bit_queue_entry", "wq_entry")?,
            wqe_private: p.off("wait_queue_entry", "private")?,
            wqe_entry: p.off("wait_queue_entry", "entry")?,
            task_pid: p.off("task_struct", "pid")?,
            task_comm: p.off("task_struct", "comm")?,
            task_state: p.first(&[("task_struct", "__state"), ("task_struct", "state")])?,
            task_exec_start: p.off("task_struct", "se.exec_start")?,
        };
        match p.misses() {
            None if out.pgmap_array_sym.is_some() && out.page.is_some() => out.waits = Some(waits),
            None => out.unavailable.push((
                state_bits::WAITS,
                "needs the pagemaps and the page layout (see above)".into(),
            )),
            Some(why) => out.unavailable.push((state_bits::WAITS, why)),
        }
        if out.pgmap_array_sym.is_none() && out.page.is_some() {
            out.unavailable
                .push((state_bits::CENSUS, "needs the pagemaps (see above)".into()));
            out.page = None;
        }
        Ok(out)
    }

    /// `state_bits` of the kernel sources that can be read (mounts and dm,
    /// read from /proc and the dm ioctl, are judged when read).
    pub fn kernel_bits(&self) -> u32 {
        let mut bits = 0;
        if self.dax.is_some() {
            bits |= state_bits::DAX_DEVICES;
            if self.hosts.is_some() || self.dax.as_ref().is_some_and(|d| d.host.is_some()) {
                bits |= state_bits::DAX_HOSTS;
            }
        }
        if self.pgmap_array_sym.is_some() {
            bits |= state_bits::PAGEMAPS;
        }
        if self.waits.is_some() {
            bits |= state_bits::WAITS;
        }
        if self.page.is_some() {
            bits |= state_bits::CENSUS;
        }
        bits
    }
}
