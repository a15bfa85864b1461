//! The guest's /init and the per-run files it reads.
//!
//! Serial ports: ttyS0 kernel console, ttyS1 status lines (`daxtrace-vm: ...`),
//! ttyS2 the command's stdout, ttyS3 its stderr, so kernel messages never
//! interleave with results.

/// Prefix of every status line /init writes on ttyS1.
pub const STATUS_PREFIX: &str = "daxtrace-vm: ";

use super::pmem::{DAX_ROOT_MOUNT, PmemLayout};

/// Per-run settings, read by /init from `/etc/daxtrace-vm/run.conf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub pmem: PmemLayout,
    pub share: bool,
    /// The host's /usr at /host/usr (read-only 9p, tag `hostusr`).
    pub host_usr: bool,
}

/// The static /init of the image (bash: Debian's busybox sh would run its own
/// applets, e.g. modprobe, before the real tools).
pub fn init_script() -> String {
    INIT_SCRIPT.replace("@@ROOT@@", DAX_ROOT_MOUNT)
}

const INIT_SCRIPT: &str = r#"#!/bin/bash
# daxtrace VM test bed: mount, load modules, wait for pmem, run the command,
# report its status on ttyS1, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
# No udev in the guest: libdevmapper creates /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
for tty in /dev/ttyS1 /dev/ttyS2 /dev/ttyS3; do stty -F "$tty" raw -echo; done
report() { echo "daxtrace-vm: $*" > /dev/ttyS1; }
finish() { sync; umount /mnt/host 2>/dev/null; poweroff -f; sleep 30; }
fail() { report "error $*"; finish; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe
. /etc/daxtrace-vm/run.conf
export DAXVM_PMEM DAXVM_DAX_ROOT
report "init $(uptime_s) $(uname -r)"
# The kind of a pmem disk, from where its namespace sits in sysfs.
pmem_kind() {
    case $(readlink -f "/sys/block/$1/device") in
    */virtio*) echo virtio ;;
    *e820*) echo memmap ;;
    *ACPI0012*) echo nvdimm ;;
    *) echo unknown ;;
    esac
}
wait_for_disk() { # NAME: up to 30 s
    for i in $(seq 300); do [ -b "/dev/$1" ] && return 0; sleep 0.1; done
    return 1
}
# In parallel: module init (xfs above all) is slow under TCG. The main
# device's driver only: the DAX root's comes once /dev/pmem0 is named.
modules="$(cat /etc/daxtrace-vm/modules) $(cat "/etc/daxtrace-vm/modules.$DAXVM_PMEM")"
for m in $modules; do
    { modprobe "$m" || report "warning modprobe $m failed"; } &
done
wait
report "phase modules $(uptime_s)"
if [ "$DAXVM_PMEM" = nvdimm ]; then
    for i in $(seq 100); do [ -e /sys/bus/nd/devices/namespace0.0 ] && break; sleep 0.1; done
    ndctl create-namespace -f -e namespace0.0 -m fsdax --map=mem > /dev/null \
        || fail "ndctl create-namespace -m fsdax on namespace0.0 failed"
fi
wait_for_disk pmem0 || fail "no /dev/pmem0 after 30 s (is the $DAXVM_PMEM pmem driver loaded? see console)"
[ "$(pmem_kind pmem0)" = "$DAXVM_PMEM" ] \
    || fail "/dev/pmem0 is $(pmem_kind pmem0) pmem, not the main device ($DAXVM_PMEM)"
report "phase pmem $(uptime_s)"
# The DAX root: /dev/pmem1, ext4 dax=always, mounted before anything runs
# (as a microVM's root=/dev/pmem0 rootflags=dax would be).
if [ -n "$DAXVM_DAX_ROOT" ]; then
    if [ "$DAXVM_DAX_ROOT" != "$DAXVM_PMEM" ]; then
        for m in $(cat "/etc/daxtrace-vm/modules.$DAXVM_DAX_ROOT"); do
            modprobe "$m" || report "warning modprobe $m failed"
        done
    fi
    wait_for_disk pmem1 || fail "no /dev/pmem1 (the $DAXVM_DAX_ROOT DAX root) after 30 s"
    [ "$(pmem_kind pmem1)" = "$DAXVM_DAX_ROOT" ] \
        || fail "/dev/pmem1 is $(pmem_kind pmem1) pmem, not the DAX root ($DAXVM_DAX_ROOT)"
    mkdir -p @@ROOT@@
    mkfs.ext4 -q -F -b 4096 /dev/pmem1 && mount -o dax=always /dev/pmem1 @@ROOT@@ \
        || fail "making the DAX root on /dev/pmem1 failed"
    uname -r > @@ROOT@@/release
    report "phase dax-root $(uptime_s)"
fi
if [ "$DAXVM_SHARE" = 1 ]; then
    mkdir -p /mnt/host
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host \
        || fail "mounting the 9p share at /mnt/host failed"
    cd /mnt/host
else
    mkdir -p /root && cd /root
fi
if [ "${DAXVM_HOST_USR:-0}" = 1 ]; then
    mkdir -p /host/usr
    # cache=loose: the host's /usr does not change under a boot, and without
    # a cache every exec of fio read its 80 MB of libraries anew (3-5 s per
    # start under TCG; 0.8 s cached, measured on 6.1).
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose hostusr /host/usr \
        || fail "mounting the host's /usr at /host/usr failed"
fi
report "ready $(uptime_s)"
bash /etc/daxtrace-vm/command < /dev/null > /dev/ttyS2 2> /dev/ttyS3
report "exit $? $(uptime_s)"
finish
"#;

/// `/etc/daxtrace-vm/run.conf` for one run.
pub fn run_conf(cfg: &RunConfig) -> String {
    format!(
        "DAXVM_PMEM={}\nDAXVM_DAX_ROOT={}\nDAXVM_SHARE={}\nDAXVM_HOST_USR={}\n",
        cfg.pmem.main.as_str(),
        cfg.pmem.dax_root.map(|k| k.as_str()).unwrap_or_default(),
        u8::from(cfg.share),
        u8::from(cfg.host_usr)
    )
}

/// `/etc/daxtrace-vm/command`: a bash script that execs `argv` unchanged.
pub fn command_script(argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
    format!("exec {}\n", quoted.join(" "))
}

/// Single-quote `arg` for bash.
pub fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A status line from ttyS1, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Init {
        uptime: f64,
        release: String,
    },
    /// A named step of /init finished at this guest uptime.
    Phase {
        name: String,
        uptime: f64,
    },
    Ready {
        uptime: f64,
    },
    Exit {
        code: i32,
        uptime: f64,
    },
    Warning(String),
    Error(String),
}

/// Parse one ttyS1 line; None for anything that is not a status line.
pub fn parse_status(line: &str) -> Option<Status> {
    let rest = line
        .trim_end_matches(['\r', '\n'])
        .strip_prefix(STATUS_PREFIX)?;
    let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut words = args.split_whitespace();
    let num = |w: Option<&str>| w.and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    match kind {
        "init" => Some(Status::Init {
            uptime: num(words.next()),
            release: words.next().unwrap_or_default().to_owned(),
        }),
        "phase" => Some(Status::Phase {
            name: words.next()?.to_owned(),
            uptime: num(words.next()),
        }),
        "ready" => Some(Status::Ready {
            uptime: num(words.next()),
        }),
        "exit" => Some(Status::Exit {
            code: words.next()?.parse().ok()?,
            uptime: num(words.next()),
        }),
        "warning" => Some(Status::Warning(args.to_owned())),
        "error" => Some(Status::Error(args.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::pmem::PmemKind;

    #[test]
    fn command_script_preserves_every_argument() {
        let argv = ["sh", "-c", "echo 'it''s' > /mnt/host/x && ls"].map(String::from);
        let script = command_script(&argv);
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(script.replacen("exec ", "printf '%s\\n' ", 1))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "sh\n-c\necho 'it''s' > /mnt/host/x && ls\n"
        );
    }

    #[test]
    fn run_conf_switches() {
        let text = run_conf(&RunConfig {
            pmem: PmemLayout {
                main: PmemKind::Virtio,
                dax_root: Some(PmemKind::Memmap),
                spare_memmap: false,
            },
            share: false,
            host_usr: true,
        });
        assert_eq!(
            text,
            "DAXVM_PMEM=virtio\nDAXVM_DAX_ROOT=memmap\nDAXVM_SHARE=0\nDAXVM_HOST_USR=1\n"
        );
        let plain = run_conf(&RunConfig {
            pmem: PmemLayout {
                main: PmemKind::Memmap,
                dax_root: None,
                spare_memmap: false,
            },
            share: true,
            host_usr: false,
        });
        assert!(plain.starts_with("DAXVM_PMEM=memmap\nDAXVM_DAX_ROOT=\n"));
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(
            parse_status("daxtrace-vm: init 1.52 6.1.0-56-amd64\r\n"),
            Some(Status::Init {
                uptime: 1.52,
                release: "6.1.0-56-amd64".into()
            })
        );
        assert_eq!(
            parse_status("daxtrace-vm: exit 3 9.00"),
            Some(Status::Exit {
                code: 3,
                uptime: 9.0
            })
        );
        assert_eq!(
            parse_status("daxtrace-vm: error no /dev/pmem0"),
            Some(Status::Error("no /dev/pmem0".into()))
        );
        assert_eq!(
            parse_status("daxtrace-vm: phase modules 7.25"),
            Some(Status::Phase {
                name: "modules".into(),
                uptime: 7.25
            })
        );
        assert_eq!(parse_status("[    1.0] random kernel line"), None);
        assert_eq!(parse_status("daxtrace-vm: exit x"), None);
    }

    #[test]
    fn init_mounts_the_dax_root_before_the_share_and_the_command() {
        let init = init_script();
        assert!(!init.contains("@@"));
        let root = init
            .find("mount -o dax=always /dev/pmem1 /dax-root")
            .unwrap();
        let share = init.find("mount -t 9p").unwrap();
        let command = init.find("bash /etc/daxtrace-vm/command").unwrap();
        assert!(root < share && share < command);
    }

    #[test]
    fn init_reports_before_powering_off() {
        let init = init_script();
        let exit = init.find("report \"exit").unwrap();
        let finish = init.rfind("\nfinish").unwrap();
        assert!(exit < finish);
        assert!(init.starts_with("#!/bin/bash\n"));
    }
}
