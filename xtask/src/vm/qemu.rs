//! The QEMU command line of a run.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::accel::Accel;

/// Where the persistent memory comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pmem {
    /// `memmap=512M!1G`: legacy e820 pmem, fsdax /dev/pmem0 at once.
    Memmap,
    /// QEMU's emulated NVDIMM backed by this file (made fsdax by ndctl in the guest).
    Nvdimm { backing: PathBuf },
}

/// Everything that shapes the QEMU invocation.
#[derive(Clone, Debug)]
pub struct QemuConfig<'a> {
    pub accel: Accel,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub pmem: Pmem,
    pub share: Option<&'a Path>,
    /// A host directory (the host's /usr) shared read-only with tag `hostusr`.
    pub host_usr: Option<&'a Path>,
    /// ttyS0..ttyS3: console, status, command stdout, command stderr.
    pub serial_files: [&'a Path; 4],
    pub cpus: u32,
}

pub const NVDIMM_SIZE: &str = "1G";

/// The kernel command line.
pub fn kernel_cmdline(pmem: &Pmem) -> String {
    let mut line = String::from(
        "console=ttyS0,115200 8250.nr_uarts=4 rdinit=/init panic=-1 \
         tsc=reliable no_timer_check",
    );
    if *pmem == Pmem::Memmap {
        line.push_str(" memmap=512M!1G");
    }
    line
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
    let (machine, memory) = match &cfg.pmem {
        Pmem::Memmap => ("pc", "2G"),
        Pmem::Nvdimm { .. } => ("pc,nvdimm=on", "2G,slots=2,maxmem=4G"),
    };
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
    if let Pmem::Nvdimm { backing } = &cfg.pmem {
        let mut obj = OsString::from("memory-backend-file,id=nvmem0,share=on,size=");
        obj.push(NVDIMM_SIZE);
        obj.push(",mem-path=");
        obj.push(backing);
        pair("-object", obj);
        pair("-device", "nvdimm,id=nvdimm0,memdev=nvmem0".into());
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

    fn base<'a>(pmem: Pmem, share: Option<&'a Path>) -> QemuConfig<'a> {
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
        let line = joined(&base(Pmem::Memmap, Some(Path::new("/share"))));
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
        let mut cfg = base(Pmem::Memmap, None);
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
            Pmem::Nvdimm {
                backing: "/r/nv.img".into(),
            },
            None,
        ));
        assert!(line.contains("-machine pc,nvdimm=on -m 2G,slots=2,maxmem=4G"));
        assert!(line.contains("mem-path=/r/nv.img"));
        assert!(line.contains("-device nvdimm,id=nvdimm0,memdev=nvmem0"));
        assert!(!line.contains("memmap="));
        assert!(!line.contains("-virtfs"));
    }

    #[test]
    fn host_usr_is_a_second_read_only_share() {
        let mut cfg = base(Pmem::Memmap, Some(Path::new("/share")));
        cfg.host_usr = Some(Path::new("/usr"));
        let line = joined(&cfg);
        assert!(line.contains("mount_tag=host,security_model=none,path=/share"));
        assert!(line.contains(
            "-virtfs local,id=hostusr,mount_tag=hostusr,security_model=none,readonly=on,path=/usr"
        ));
    }
}
