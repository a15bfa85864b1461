//! Fills [`Config`] from the running kernel: struct layouts from BTF,
//! tracepoint record layouts from tracefs, `vmemmap_base` from kallsyms.
use dax_trace_common::Config;

use super::btf::{BtfError, KernelBtf};
use super::tracefs::{EventFormat, Tracefs, TracefsError};

/// Offsets read, and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct Offsets {
    /// Every value put into the config, by name, for the report.
    pub values: Vec<(String, u64)>,
    /// Fields the programs need but this kernel does not have (or not under a
    /// known name): the events that use them will carry zeros.
    pub missing: Vec<String>,
}

/// Errors while reading offsets.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsError {
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
}

/// One `(struct, member)` lookup with alternatives across versions.
struct Lookup<'a> {
    btf: &'a KernelBtf,
    out: &'a mut Offsets,
}

impl Lookup<'_> {
    /// The first `(struct, path)` that exists; records the value or the miss.
    fn first(&mut self, label: &str, candidates: &[(&str, &str)]) -> Result<Option<u32>, BtfError> {
        for (s, path) in candidates {
            if let Some(off) = self.btf.path_offset(s, path)? {
                self.out
                    .values
                    .push((format!("{label} ({s}.{path})"), off as u64));
                return Ok(Some(off));
            }
        }
        let tried: Vec<String> = candidates.iter().map(|(s, p)| format!("{s}.{p}")).collect();
        self.out
            .missing
            .push(format!("{label}: none of {}", tried.join(", ")));
        Ok(None)
    }

    /// Optional field: a miss is not a problem, only a flag.
    fn optional(&mut self, label: &str, s: &str, path: &str) -> Result<Option<u32>, BtfError> {
        let off = self.btf.path_offset(s, path)?;
        if let Some(off) = off {
            self.out
                .values
                .push((format!("{label} ({s}.{path})"), off as u64));
        }
        Ok(off)
    }
}

/// Struct layouts and enum values from BTF into `config`.
pub fn from_btf(btf: &KernelBtf, config: &mut Config, out: &mut Offsets) -> Result<(), BtfError> {
    match btf.struct_size("page")? {
        Some(size) => {
            config.page_size = size;
            out.values.push(("sizeof(struct page)".into(), size));
        }
        None => out.missing.push("sizeof(struct page)".into()),
    }
    let mut l = Lookup { btf, out };
    // page.pgmap lives in the ZONE_DEVICE union up to 6.14; folio.pgmap from 6.15.
    if let Some(o) = l.first("page_pgmap", &[("page", "pgmap"), ("folio", "pgmap")])? {
        config.page_pgmap_off = o;
    }
    if let Some(o) = l.first(
        "page_refcount",
        &[("page", "_refcount"), ("folio", "_refcount")],
    )? {
        config.page_refcount_off = o;
    }
    if let Some(o) = l.first("page_mapping", &[("page", "mapping"), ("folio", "mapping")])? {
        config.page_mapping_off = o;
    }
    if let Some(o) = l.first(
        "page_index",
        &[
            ("page", "index"),
            ("folio", "index"),
            ("page", "__folio_index"),
        ],
    )? {
        config.page_index_off = o;
    }
    if let Some(o) = l.first("pgmap_type", &[("dev_pagemap", "type")])? {
        config.pgmap_type_off = o;
    }
    // 5.10+: range (in a union with ranges[]); before: struct resource res.
    if let Some(o) = l.first(
        "pgmap_range_start",
        &[("dev_pagemap", "range.start"), ("dev_pagemap", "res.start")],
    )? {
        config.pgmap_range_off = o;
    }
    if let Some(o) = l.optional("pgmap_nr_range", "dev_pagemap", "nr_range")? {
        config.pgmap_nr_range_off = o;
        config.pgmap_has_nr_range = 1;
    }
    if let Some(o) = l.optional("pgmap_owner", "dev_pagemap", "owner")? {
        config.pgmap_owner_off = o;
        config.pgmap_has_owner = 1;
    }
    if let Some(o) = l.optional("dax_holder_data", "dax_device", "holder_data")? {
        config.dax_holder_data_off = o;
        config.dax_has_holder = 1;
    }
    // The flush programs only: a kernel without them still records the rest.
    if let Some(o) = l.optional("bio_bdev", "bio", "bi_bdev")? {
        config.bio_bdev_off = o;
        config.bio_has_bdev = 1;
    }
    if let Some(o) = l.first("bdev_dev", &[("block_device", "bd_dev")])? {
        config.bdev_dev_off = o;
    }
    if let Some(o) = l.first("bdev_disk", &[("block_device", "bd_disk")])? {
        config.bdev_disk_off = o;
    }
    if let Some(o) = l.first("disk_name", &[("gendisk", "disk_name")])? {
        config.disk_name_off = o;
    }
    if let Some(o) = l.first("inode_ino", &[("inode", "i_ino")])? {
        config.inode_ino_off = o;
    }
    if let Some(o) = l.first("inode_sb", &[("inode", "i_sb")])? {
        config.inode_sb_off = o;
    }
    if let Some(o) = l.optional("inode_flags", "inode", "i_flags")? {
        config.inode_flags_off = o;
    }
    if let Some(o) = l.first("sb_dev", &[("super_block", "s_dev")])? {
        config.sb_dev_off = o;
    }
    if let Some(o) = l.first("mapping_host", &[("address_space", "host")])? {
        config.mapping_host_off = o;
    }
    match btf.enum_value("memory_type", "MEMORY_DEVICE_FS_DAX")? {
        Some(v) => {
            config.fsdax_type = v as u32;
            out.values.push(("MEMORY_DEVICE_FS_DAX".into(), v as u64));
        }
        None => out
            .missing
            .push("enum memory_type: MEMORY_DEVICE_FS_DAX".into()),
    }
    // The other kinds only name a pagemap: absent ones (COHERENT before
    // 6.1) stay 0 and are not missing.
    let others: [(&str, &mut u32); 4] = [
        ("MEMORY_DEVICE_GENERIC", &mut config.generic_type),
        ("MEMORY_DEVICE_PRIVATE", &mut config.private_type),
        ("MEMORY_DEVICE_COHERENT", &mut config.coherent_type),
        ("MEMORY_DEVICE_PCI_P2PDMA", &mut config.p2pdma_type),
    ];
    for (name, slot) in others {
        if let Some(v) = btf.enum_value("memory_type", name)? {
            *slot = v as u32;
            out.values.push((name.into(), v as u64));
        }
    }
    Ok(())
}

/// The gup flag values of kernel `release`. They became enumerators of an
/// anonymous enum in 6.3 (FOLL_LONGTERM 1 << 8; FOLL_PIN internal, never
/// passed by callers); before they are #defines (0x10000, 0x40000), absent
/// from BTF. By release rather than BTF: finding an enumerator of an
/// anonymous enum means reading every type, seconds under emulation.
pub fn gup_flags(release: &str, config: &mut Config, out: &mut Offsets) {
    let new = super::idle::parse_release(release).is_some_and(|v| v >= (6, 3));
    (config.foll_longterm, config.foll_pin) = if new {
        (1 << 8, 0)
    } else {
        (0x1_0000, 0x4_0000)
    };
    out.values
        .push(("FOLL_LONGTERM".into(), config.foll_longterm as u64));
    out.values.push(("FOLL_PIN".into(), config.foll_pin as u64));
}

/// Whether the fentry/fexit programs may read their arguments with
/// `bpf_get_func_arg`/`bpf_get_func_ret`: helpers of 5.17, which the
/// verifier inlines (a load each, no call). Before, a helper call per
/// argument reads them.
pub fn func_arg_helpers(release: &str, config: &mut Config, out: &mut Offsets) {
    let has = super::idle::parse_release(release).is_some_and(|v| v >= (5, 17));
    config.func_arg_helpers = u32::from(has);
    out.values.push(("bpf_get_func_arg".into(), u64::from(has)));
}

/// A tracepoint field the programs read with a fixed width.
struct TpField<'a> {
    name: &'a str,
    size: u32,
}

/// Reads `fields` of `event` into the config slots `slots` (same order).
fn tracepoint(
    format: &EventFormat,
    event: &str,
    fields: &[TpField],
    slots: &mut [&mut u32],
    out: &mut Offsets,
) {
    for (f, slot) in fields.iter().zip(slots.iter_mut()) {
        match format.field(f.name) {
            Some(field) if field.size == f.size => {
                **slot = field.offset;
                out.values
                    .push((format!("{event}.{}", f.name), field.offset as u64));
            }
            Some(field) => out.missing.push(format!(
                "{event}.{}: size {} where {} is read",
                f.name, field.size, f.size
            )),
            None => out.missing.push(format!("{event}.{}", f.name)),
        }
    }
}

const FAULT_FIELDS: [TpField<'static>; 5] = [
    TpField {
        name: "dev",
        size: 4,
    },
    TpField {
        name: "ino",
        size: 8,
    },
    TpField {
        name: "address",
        size: 8,
    },
    TpField {
        name: "pgoff",
        size: 8,
    },
    TpField {
        name: "result",
        size: 4,
    },
];

const MF_FIELDS: [TpField<'static>; 3] = [
    TpField {
        name: "pfn",
        size: 8,
    },
    TpField {
        name: "type",
        size: 4,
    },
    TpField {
        name: "result",
        size: 4,
    },
];

/// Tracepoint record layouts from tracefs into `config` (absent events are
/// skipped: the planner reports them).
pub fn from_tracefs(
    tracefs: &Tracefs,
    config: &mut Config,
    out: &mut Offsets,
) -> Result<(), TracefsError> {
    let pte = "fs_dax/dax_pte_fault_done";
    if let Some(format) = tracefs.event_format(pte)? {
        let mut slots = [
            &mut config.pte_fault_dev_off,
            &mut config.pte_fault_ino_off,
            &mut config.pte_fault_address_off,
            &mut config.pte_fault_pgoff_off,
            &mut config.pte_fault_result_off,
        ];
        tracepoint(&format, pte, &FAULT_FIELDS, &mut slots, out);
    }
    let pmd = "fs_dax/dax_pmd_fault_done";
    if let Some(format) = tracefs.event_format(pmd)? {
        let mut slots = [
            &mut config.pmd_fault_dev_off,
            &mut config.pmd_fault_ino_off,
            &mut config.pmd_fault_address_off,
            &mut config.pmd_fault_pgoff_off,
            &mut config.pmd_fault_result_off,
        ];
        tracepoint(&format, pmd, &FAULT_FIELDS, &mut slots, out);
    }
    for mf in [
        "memory_failure/memory_failure_event",
        "ras/memory_failure_event",
    ] {
        if let Some(format) = tracefs.event_format(mf)? {
            let mut slots = [
                &mut config.mf_pfn_off,
                &mut config.mf_type_off,
                &mut config.mf_result_off,
            ];
            tracepoint(&format, mf, &MF_FIELDS, &mut slots, out);
            break;
        }
    }
    Ok(())
}
