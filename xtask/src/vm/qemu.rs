//! The QEMU command line of a run.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::accel::Accel;
use super::pmem::NVDIMM_MIB;

/// One persistent-memory device of a run, with its host backing file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pmem {
    /// `memmap=512M!1G`: legacy e820 pmem.
    Memmap,
    /// QEMU's emulated NVDIMM backed by this file.
    Nvdimm { backing: PathBuf },
    /// A `virtio-pmem-pci` device backed by this file, of this size.
    Virtio { backing: PathBuf, size_mib: u64 },
}

/// Everything that shapes the QEMU invocation.
#[derive(Clone, Debug)]
pub struct QemuConfig<'a> {
    pub accel: Accel,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    /// The devices, the main one (the guest's /dev/pmem0) first.
    pub pmem: Vec<Pmem>,
    pub share: Option<&'a Path>,
    /// A host directory (the host's /usr) shared read-only with tag `hostusr`.
    pub host_usr: Option<&'a Path>,
    /// ttyS0..ttyS3: console, status, command stdout, command stderr.
    pub serial_files: [&'a Path; 4],
    pub cpus: u32,
}

/// The kernel command line.
pub fn kernel_cmdline(pmem: &[Pmem]) -> String {
    let mut line = String::from(
        "console=ttyS0,115200 8250.nr_uarts=4 rdinit=/init panic=-1 \
         tsc=reliable no_timer_check",
    );
    if pmem.contains(&Pmem::Memmap) {
        line.push_str(" memmap=512M!1G");
    }
    line
}

/// `-machine` and `-m`: device memory (NVDIMM, virtio-pmem) needs room
/// above the RAM (maxmem), an NVDIMM the machine flag too.
fn machine_and_memory(pmem: &[Pmem]) -> (&'static str, &'static str) {
    let nvdimm = pmem.iter().any(|p| matches!(p, Pmem::Nvdimm { .. }));
    let device_memory = pmem.iter().any(|p| !matches!(p, Pmem::Memmap));
    match (nvdimm, device_memory) {
        (true, _) => ("pc,nvdimm=on", "2G,slots=2,maxmem=4G"),
        (false, true) => ("pc", "2G,slots=2,maxmem=4G"),
        (false, false) => ("pc", "2G"),
    }
}

/// Arguments for `qemu-system-x86_64`.
pub fn qemu_args(cfg: &QemuConfig<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-nodefaults", "-no-user-config", "-no-reboot"]
        .map(OsString::from)
        .into();
    let mut pair = |flag: &str, value: OsString| {
        args.push(flag.into());
        args.push(value);
    };
    pair("-display", "none".into());
    for flag_value in cfg.accel.qemu_args().chunks(2) {
        pair(flag_value[0], flag_value[1].into());
    }
    pair("-smp", cfg.accel.cpus(cfg.cpus).to_string().into());
    let (machine, memory) = machine_and_memory(&cfg.pmem);
    pair("-machine", machine.into());
    pair("-m", memory.into());
    pair("-kernel", cfg.kernel.into());
    pair("-initrd", cfg.initrd.into());
    pair("-append", kernel_cmdline(&cfg.pmem).into());
    for file in cfg.serial_files {
        let mut v = OsString::from("file:");
        v.push(file);
        pair("-serial", v);
    }
    // In command-line order: the guest numbers virtio-pmem regions (and so
    // /dev/pmemN) in PCI order.
    for (i, device) in cfg.pmem.iter().enumerate() {
        let (backing, size_mib, device_arg) = match device {
            Pmem::Memmap => continue,
            Pmem::Nvdimm { backing } => (
                backing,
                NVDIMM_MIB,
                format!("nvdimm,id=nvdimm{i},memdev=pmemmem{i}"),
            ),
            Pmem::Virtio { backing, size_mib } => (
                backing,
                *size_mib,
                format!("virtio-pmem-pci,id=vpmem{i},memdev=pmemmem{i}"),
            ),
        };
        let mut obj = OsString::from(format!(
            "memory-backend-file,id=pmemmem{i},share=on,size={size_mib}M,mem-path="
        ));
        obj.push(backing);
        pair("-object", obj);
        pair("-device", device_arg.into());
    }
    if let Some(dir) = cfg.share {
        let mut fs = OsString::from("local,id=host,mount_tag=host,security_model=none,path=");
        fs.push(dir);
        pair("-virtfs", fs);
    }
    if let Some(dir) = cfg.host_usr {
        let mut fs = OsString::from(
            "local,id=hostusr,mount_tag=hostusr,security_model=none,readonly=on,path=",
        );
        fs.push(dir);
        pair("-virtfs", fs);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(cfg: &QemuConfig<'_>) -> String {
        qemu_args(cfg)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn base<'a>(pmem: Vec<Pmem>, share: Option<&'a Path>) -> QemuConfig<'a> {
        QemuConfig {
            accel: Accel::Tcg,
            kernel: Path::new("/k/vmlinuz"),
            initrd: Path::new("/r/initrd.cpio"),
            pmem,
            share,
            host_usr: None,
            serial_files: [
                Path::new("/r/console"),
                Path::new("/r/status"),
                Path::new("/r/stdout"),
                Path::new("/r/stderr"),
            ],
            cpus: 2,
        }
    }

    #[test]
    fn memmap_run_reserves_pmem_on_the_command_line() {
        let line = joined(&base(vec![Pmem::Memmap], Some(Path::new("/share"))));
        assert!(line.contains("-accel tcg,thread=multi -cpu max"));
        assert!(line.contains("-machine pc -m 2G "));
        assert!(line.contains("memmap=512M!1G"));
        assert!(line.contains("-serial file:/r/console -serial file:/r/status"));
        assert!(
            line.contains("-virtfs local,id=host,mount_tag=host,security_model=none,path=/share")
        );
        assert!(!line.contains("nvdimm"));
        assert!(!line.contains("icount"));
    }

    #[test]
    fn the_instruction_clock_runs_one_vcpu_on_single_threaded_tcg() {
        let mut cfg = base(vec![Pmem::Memmap], None);
        cfg.accel = Accel::Icount;
        let line = joined(&cfg);
        assert!(
            line.contains("-accel tcg,thread=single -icount shift=0,sleep=off -cpu max -smp 1 "),
            "{line}"
        );
    }

    #[test]
    fn nvdimm_run_adds_the_device_and_no_memmap() {
        let line = joined(&base(
            vec![Pmem::Nvdimm {
                backing: "/r/nv.img".into(),
            }],
            None,
        ));
        assert!(line.contains("-machine pc,nvdimm=on -m 2G,slots=2,maxmem=4G"));
        assert!(line.contains("size=1024M,mem-path=/r/nv.img"));
        assert!(line.contains("-device nvdimm,id=nvdimm0,memdev=pmemmem0"));
        assert!(!line.contains("memmap="));
        assert!(!line.contains("-virtfs"));
    }

    #[test]
    fn virtio_devices_come_in_order_beside_memmap() {
        let line = joined(&base(
            vec![
                Pmem::Virtio {
                    backing: "/r/main.img".into(),
                    size_mib: 512,
                },
                Pmem::Memmap,
                Pmem::Virtio {
                    backing: "/r/root.img".into(),
                    size_mib: 256,
                },
            ],
            None,
        ));
        assert!(
            line.contains("-machine pc -m 2G,slots=2,maxmem=4G"),
            "{line}"
        );
        assert!(line.contains("memmap=512M!1G"));
        let main = line
            .find("id=pmemmem0,share=on,size=512M,mem-path=/r/main.img -device virtio-pmem-pci,id=vpmem0,memdev=pmemmem0")
            .expect(&line);
        let root = line
            .find("id=pmemmem2,share=on,size=256M,mem-path=/r/root.img -device virtio-pmem-pci,id=vpmem2,memdev=pmemmem2")
            .expect(&line);
        assert!(main < root, "the main device must come first: {line}");
        assert!(!line.contains("nvdimm"));
    }

    #[test]
    fn host_usr_is_a_second_read_only_share() {
        let mut cfg = base(vec![Pmem::Memmap], Some(Path::new("/share")));
        cfg.host_usr = Some(Path::new("/usr"));
        let line = joined(&cfg);
        assert!(line.contains("mount_tag=host,security_model=none,path=/share"));
        assert!(line.contains(
            "-virtfs local,id=hostusr,mount_tag=hostusr,security_model=none,readonly=on,path=/usr"
        ));
    }
}
