#!/bin/bash
# The guest half of `cargo xtask bench overhead` (xtask/src/bench/): runs each
# workload untraced and under every tracer configuration, interleaved per
# round, and leaves the raw outputs in $BENCH_OUT (fio's JSON, operation
# counts, the recorder's trace, CPU, RSS and BPF statistics). Never judges
# anything: the host half parses and computes.
#
# Usage: bench.sh ROUNDS RUNTIME_S WORKLOAD...
# A round, each configuration one session over every workload in turn:
#   untraced, untraced-b      the A/A pair (its spread is the noise floor)
#   daxtrace                  `daxtrace record`; after its throughput windows
#                             the same session runs every workload again with
#                             kernel.bpf_stats_enabled on (windows
#                             daxtrace-attr: BPF run time per program)
#   bpftrace                  a count-only script on the functions daxtrace attached
#   bpftrace-owners           a script doing daxtrace's pin-owner attribution
#   empty-fexit               an empty kretfunc on each gup entry point daxtrace hooks
#   serve                     `daxtrace serve`, scraped at the end of each window
#   daxtrace-no-stacks/-pins  only on the workloads in $BENCH_PIN_WORKLOADS
#   after                     untraced again once every tracer has gone
# bpf_stats_enabled is off in every throughput window.
# Workloads: mmap-ext4-randread mmap-ext4-randwrite mmap-xfs-randread
#   mmap-xfs-randwrite dio-dax dio-dax-wide dio-dax-punch dio-anon dio-anon-1m
#   futex-pingpong truncate-nondax mount-cycles dm-cycles
set -u
rounds=$1 runtime=$2
pin_workloads=${BENCH_PIN_WORKLOADS-}
shift 2
out=${BENCH_OUT:-/mnt/host}
runs=$out/runs
mkdir -p "$runs"
cd /tmp || exit 2
now_us() { echo "${EPOCHREALTIME/./}"; }
# nap SECONDS without forking sleep (forks are slow under TCG): a read with a
# timeout on a FIFO nobody writes to (no /dev/fd in the guest for <(:)).
rm -f /tmp/bench-nap && mkfifo /tmp/bench-nap && exec {napfd}<>/tmp/bench-nap || exit 2
nap() { read -r -t "$1" -u "$napfd" _ 2>/dev/null; }
log() { echo "[bench $(cut -d' ' -f1 /proc/uptime)s] $*" >&2; }

# Host programs (fio, bpftrace and their libraries) from the host's /usr,
# mounted read-only at /host/usr by /init: nothing large in the image.
hostlib=/host/usr/lib/x86_64-linux-gnu
hostlibs="$hostlib:$hostlib/ceph"
hostrun() { "$hostlib/ld-linux-x86-64.so.2" --library-path "$hostlibs" "$@"; }
fio_bin() { hostrun /host/usr/bin/fio "$@"; }
[ -x /host/usr/bin/fio ] || { echo "no /host/usr/bin/fio (cargo xtask setup installs fio)" >&2; exit 2; }
[ -x /host/usr/bin/bpftrace ] || { echo "no /host/usr/bin/bpftrace (cargo xtask setup installs bpftrace)" >&2; exit 2; }

# bpftrace's clang needs the C headers (linux/types.h) where it parses
# tracepoint formats without BTF for them: 5.10 (without them every script
# failed there with "'linux/types.h' file not found"). The guest has no
# /usr/include; the host's (linux-libc-dev, from `cargo xtask setup`) serves.
[ -e /usr/include ] || { mkdir -p /usr && ln -s /host/usr/include /usr/include; }

uname -r >"$out/kernel-release"
nproc >"$out/nproc"
# Transparent huge pages drift within a boot (whether fio's malloc'd 1 MiB
# buffer is a huge page changes, and its throughput with it): off.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
cat /sys/kernel/mm/transparent_hugepage/enabled >"$out/thp" 2>&1
echo 0 >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null
# The exporter listens on loopback, which /init leaves down.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# --- The bpftrace scripts, made from what daxtrace attaches on this kernel
# (bench-bpftrace.sh, beside this script).
daxtrace probes --json >"$out/probes.json" 2>"$out/probes.err"
# family target kind, one line per attached point (pretty JSON, one field a line).
awk '
    /"family":/ { gsub(/[",]/, "", $2); fam = $2 }
    /"target":/ { gsub(/[",]/, "", $2); tgt = $2; att = 0 }
    /"status": "attached"/ { att = 1 }
    /"kind":/ && att { gsub(/[",]/, "", $2); print fam, tgt, $2; att = 0 }
' "$out/probes.json" >"$out/attached.txt"

. "$(dirname "$0")/bench-bpftrace.sh" || exit 2
bpftrace_script pgmap >"$out/trace.bt"
echo pgmap >"$out/bpftrace-keys"

# The pagemaps bpftrace-owners knows as FS-DAX: those daxtrace finds at start.
daxtrace state --json >"$out/state.json" 2>"$out/state.err"
fsdax_pgmaps "$out/state.json" >"$out/fsdax-pgmaps"
# One line per family and function (an entry and an exit program list it twice).
sort -u -k1,2 "$out/attached.txt" >"$out/attached-once.txt"
owners_script kretfunc >"$out/owners.bt"
echo kretfunc >"$out/owners-hook"
empty_fexit_script kretfunc >"$out/empty-fexit.bt"
echo kretfunc >"$out/empty-fexit-hook"

# cpu_ticks PID: utime + stime (fields 14 and 15, after the parenthesised comm).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

# bpf_stats PID: "NAME RUN_CNT RUN_TIME_NS" for each BPF program PID holds
# (fdinfo; the name from the program's kallsyms symbol bpf_prog_TAG_NAME).
# Only program fds count: a bpf_link's fdinfo also names its program's
# prog_tag but has no run_cnt (read as 0 it used to overwrite the program's
# figures). A program open through several fds counts once (by prog_id);
# programs with the same code share a tag and are summed under it.
# ($BENCH_PROC stands in for /proc in the harness's unit test.)
bpf_stats() {
    local proc=${BENCH_PROC:-/proc} syms=${BENCH_SYMS:-/tmp/bench-bpfsyms}
    # One awk over every fd's fdinfo (a fork per fd cost seconds under TCG
    # per reading, and a session reads twice per workload), fed by cat: an
    # fd closed between the glob and its read (the recorder opens files
    # now and then) made busybox awk stop at it, and the rest went unread.
    # Every fdinfo starts with its "pos:" line.
    cat "$proc/$1"/fdinfo/* 2>/dev/null | awk '
         function flush() {if (t != "" && prog) print id, t, c + 0, n + 0; t = ""; prog = 0; c = 0; n = 0; id = ""}
         /^pos:/ {flush()}
         /^prog_tag:/ {t = $2} /^prog_id:/ {id = $2}
         /^run_cnt:/ {c = $2; prog = 1} /^run_time_ns:/ {n = $2}
         END {flush()}' >/tmp/bench-progs
    # The programs' symbols, read from kallsyms once per tracer session
    # (bench-bpfsyms is removed when a tracer starts).
    [ -s "$syms" ] || grep ' bpf_prog_' "$proc/kallsyms" >"$syms"
    # One pass over those symbols names them all.
    awk 'NR == FNR {if (!($1 in seen)) {seen[$1] = 1; cnt[$2] += $3; ns[$2] += $4}; next}
         $3 ~ /^bpf_prog_/ {tag = substr($3, 10, 16); if (tag in cnt && !(tag in done)) {
             print substr($3, 27), cnt[tag], ns[tag]; done[tag] = 1}}
         END {for (t in cnt) if (!(t in done)) print t, cnt[t], ns[t]}' /tmp/bench-progs "$syms"
}

# prog_fds PID: how many BPF program fds PID holds (a link's fdinfo has no run_cnt).
prog_fds() { cat "/proc/$1"/fdinfo/* 2>/dev/null | grep -c '^run_cnt:'; }

# settle PID: waits (up to 30 s) until PID spent no CPU for a second: the
# first window measures the tracer running, not its start-up (daxtrace
# reads kallsyms in a thread of its own and samples the mounts' DAX mode
# after its file appears; that once fell into the first window as 5
# ticks of 2 s, 0.7% of 5.10's dio-anon).
settle() {
    local pid=$1 i=0 before after
    [ -n "$pid" ] || return 0
    while [ $i -lt 30 ] && kill -0 "$pid" 2>/dev/null; do
        before=$(cpu_ticks "$pid"); nap 1; after=$(cpu_ticks "$pid")
        [ "$before" = "$after" ] && return 0
        i=$((i + 1))
    done
}

# --- Tracers. start_tracer CONFIG SESSION: attaches and waits until attached.
# kernel.bpf_stats_enabled stays off: the switch costs every program run two
# clock reads, which no throughput window should pay. daxtrace's attribution
# windows turn it on for themselves (run_rounds).
tracer_pid=
# bpftrace_script_of CONFIG: the script a bpftrace configuration runs.
bpftrace_script_of() {
    case "$1" in
        bpftrace) echo "$out/trace.bt" ;;
        bpftrace-owners) echo "$out/owners.bt" ;;
        empty-fexit) echo "$out/empty-fexit.bt" ;;
    esac
}
start_tracer() {
    local cfg=$1 tag=$2 waited=0
    tracer_pid=
    rm -f /tmp/bench-bpfsyms
    case "$cfg" in untraced* | after) return 0 ;; esac
    case "$cfg" in
        daxtrace*)
            local flags=
            case "$cfg" in
                daxtrace-no-stacks) flags=--no-stacks ;;
                daxtrace-no-pins) flags=--no-pins ;;
            esac
            rm -f /tmp/bench.dxt
            # shellcheck disable=SC2086
            daxtrace record $flags -o /tmp/bench.dxt 2>"$runs/$tag.record.err" &
            tracer_pid=$!
            until [ -s /tmp/bench.dxt ] || ! kill -0 "$tracer_pid" 2>/dev/null || [ $waited -ge 1200 ]; do
                nap 0.1; waited=$((waited + 1))
            done ;;
        serve)
            daxtrace serve --listen 127.0.0.1:9863 2>"$runs/$tag.serve.err" &
            tracer_pid=$!
            # /healthz answers once the exporter has attached and serves.
            until wget -q -O /dev/null http://127.0.0.1:9863/healthz 2>/dev/null ||
                ! kill -0 "$tracer_pid" 2>/dev/null || [ $waited -ge 1200 ]; do
                nap 0.1; waited=$((waited + 1))
            done
            if kill -0 "$tracer_pid" 2>/dev/null &&
                ! wget -q -O /dev/null http://127.0.0.1:9863/healthz 2>"$runs/$tag.healthz.err"; then
                log "serve did not answer /healthz in $((waited / 10)) s"
                kill -KILL "$tracer_pid" 2>/dev/null
                wait "$tracer_pid" 2>/dev/null
            fi
            # /healthz answers before the exporter has attached (its first
            # windows on 7 overlapped 20 CPU-s of attaching): wait until its
            # count of BPF programs holds still for a second.
            local held last_held=-1
            while kill -0 "$tracer_pid" 2>/dev/null && [ $waited -lt 1800 ]; do
                held=$(prog_fds "$tracer_pid")
                [ "$held" -gt 0 ] && [ "$held" = "$last_held" ] && break
                last_held=$held
                nap 1; waited=$((waited + 10))
            done ;;
        bpftrace*|empty-fexit)
            # The loader itself in the background (not a function's subshell),
            # so that $! is bpftrace: its CPU and RSS are read, SIGINT reaches it.
            "$hostlib/ld-linux-x86-64.so.2" --library-path "$hostlibs" /host/usr/bin/bpftrace \
                "$(bpftrace_script_of "$cfg")" >"$runs/$tag.bpftrace.out" 2>"$runs/$tag.bpftrace.err" &
            tracer_pid=$!
            until grep -q '^Attaching' "$runs/$tag.bpftrace.out" 2>/dev/null || ! kill -0 "$tracer_pid" 2>/dev/null || [ $waited -ge 1800 ]; do
                nap 0.1; waited=$((waited + 1))
            done
            # bpftrace says "Attaching N probes..." before it attaches them,
            # which takes seconds under TCG (the first windows of the first
            # sessions began with 5-9 of its 29 programs loaded): wait until
            # its count of programs holds still for a second.
            local progs last=-1
            while kill -0 "$tracer_pid" 2>/dev/null && [ $waited -lt 1800 ]; do
                progs=$(prog_fds "$tracer_pid")
                [ "$progs" -gt 0 ] && [ "$progs" = "$last" ] && break
                last=$progs
                nap 1; waited=$((waited + 10))
            done ;;
    esac
    settle "$tracer_pid"
    echo "$((waited * 100))" >"$runs/$tag.attach_ms"
    [ -n "$tracer_pid" ] && cpu_ticks "$tracer_pid" >"$runs/$tag.start_cpu_ticks"
    kill -0 "$tracer_pid" 2>/dev/null && return 0
    tracer_pid=
    case "$cfg" in
        bpftrace) retry_count_script "$tag" && { start_tracer "$cfg" "$tag"; return; } ;;
        bpftrace-owners | empty-fexit)
            # No kretfunc on this kernel for bpftrace 0.17: kprobes and
            # kretprobes instead (said in the share: NAME-hook).
            local name=owners
            [ "$cfg" = empty-fexit ] && name=empty-fexit
            if [ "$(cat "$out/$name-hook")" = kretfunc ]; then
                log "bpftrace rejected the kretfunc $name script; kretprobes instead"
                cp "$out/$name.bt" "$out/$name.bt.kretfunc"
                cp "$runs/$tag.bpftrace.err" "$out/$name.bt.kretfunc.err"
                if [ "$name" = owners ]; then
                    owners_script kretprobe >"$out/owners.bt"
                else
                    empty_fexit_script kretprobe >"$out/empty-fexit.bt"
                fi
                echo kretprobe >"$out/$name-hook"
                start_tracer "$cfg" "$tag"
                return
            fi ;;
    esac
    echo "tracer $cfg did not start" >"$runs/$tag.tracer_failed"
    return 1
}

# retry_count_script TAG: after the count-only script failed to start in
# session TAG, makes the next script to try; fails when none is left.
# The pgmap-keyed script needs BTF casts this kernel may not take: fall
# back to a folio's own pgmap field, then to per-probe keys (the choice
# and each rejection are left in the share).
retry_count_script() {
    local tag=$1 keys next
    keys=$(cat "$out/bpftrace-keys")
    case "$keys" in pgmap) next=folio-pgmap ;; folio-pgmap) next=probe ;; *) next= ;; esac
    if [ ! -e "$out/bpftrace-includes" ] &&
        grep -q "unknown type name" "$runs/$tag.bpftrace.err" 2>/dev/null; then
        log "bpftrace lacks C types for the $keys-keyed script; again with <sys/types.h>"
        cp "$runs/$tag.bpftrace.err" "$out/trace.bt.$keys.no-includes.err"
        : >"$out/bpftrace-includes"
        bpftrace_script "$keys" >"$out/trace.bt"
        return 0
    fi
    [ -n "$next" ] || return 1
    log "bpftrace rejected the $keys-keyed script; $next keys instead"
    cp "$out/trace.bt" "$out/trace.bt.$keys"
    cp "$runs/$tag.bpftrace.err" "$out/trace.bt.$keys.err"
    bpftrace_script "$next" >"$out/trace.bt"
    echo "$next" >"$out/bpftrace-keys"
}

# stop_tracer CONFIG TAG: stops the tracer (its readings are the windows').
stop_tracer() {
    local cfg=$1 tag=$2
    [ -n "$tracer_pid" ] || return 0
    echo 0 >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null
    # SIGINT (both tracers print their summary on it), then TERM, then KILL.
    local sig waited stopped_by=
    for sig in INT TERM KILL; do
        kill -"$sig" "$tracer_pid" 2>/dev/null
        waited=0
        while kill -0 "$tracer_pid" 2>/dev/null && [ $waited -lt 300 ]; do
            nap 0.1; waited=$((waited + 1))
        done
        if ! kill -0 "$tracer_pid" 2>/dev/null; then stopped_by=$sig; break; fi
        cat "/proc/$tracer_pid/stack" >"$runs/$tag.stack_after_$sig" 2>/dev/null
    done
    echo "$stopped_by" >"$runs/$tag.stopped_by"
    wait "$tracer_pid" 2>/dev/null
    echo $? >"$runs/$tag.tracer.rc"
    if [ "${cfg#daxtrace}" != "$cfg" ]; then
        daxtrace report /tmp/bench.dxt --json >"$runs/$tag.report.json" 2>"$runs/$tag.report.err"
        # The events, for the host to cut into the workloads' windows.
        daxtrace export /tmp/bench.dxt --format jsonl -o "$runs/$tag.jsonl" 2>"$runs/$tag.export.err"
        rm -f /tmp/bench.dxt
    fi
    tracer_pid=
}

# --- Workloads. Each writes its result into $runs/$tag.* and runs $runtime s.
dax=/tmp/dax
mkdir -p "$dax"
mounted_fs=
mount_dax() {
    local fs=$1
    [ "$mounted_fs" = "$fs" ] && return 0
    umount "$dax" 2>/dev/null
    case "$fs" in
        ext4) mkfs.ext4 -q -F -b 4096 /dev/pmem0 ;;
        xfs) mkfs.xfs -q -f -m reflink=0 /dev/pmem0 ;;
    esac >/dev/null 2>&1 || { log "mkfs.$fs failed"; return 1; }
    mount -o dax "/dev/pmem0" "$dax" || { log "mount -o dax ($fs) failed"; return 1; }
    mounted_fs=$fs
}
unmount_dax() { [ -n "$mounted_fs" ] && umount "$dax"; mounted_fs=; }

# The I/O buffer file of the DMA workloads, written (not a hole: O_DIRECT
# into a DAX mapping of a hole fails with EFAULT); fio keeps it at 4 KiB.
# A new file per run, never removed: on a kernel that loses the wakeup a
# punch of the buffer can sleep for good holding the file's i_rwsem, and an
# rm of that file then blocks, holding the directory's (seen on 6.1).
# Sets $buf.
buf=
dax_buffer() {
    buf="$dax/buf.$1"
    dd if=/dev/zero of="$buf" bs=4k count="${2:-1}" conv=fsync status=none
}

# children_of PID: the PIDs whose parent is PID (the guest has no pgrep,
# and the pkill that stood here before was not there either: a stuck
# xfs_io was never signalled).
children_of() {
    local stat pid rest ppid
    for stat in /proc/[0-9]*/stat; do
        read -r pid rest <"$stat" 2>/dev/null || continue
        # The fields after the parenthesised comm: state, then ppid.
        rest=${rest##*) }
        ppid=${rest#* }; ppid=${ppid%% *}
        [ "$ppid" = "$1" ] && echo "$pid"
    done
}

nullb=
fast_device() {
    [ -n "$nullb" ] && return 0
    if modprobe null_blk nr_devices=1 2>/dev/null && [ -b /dev/nullb0 ]; then
        nullb=/dev/nullb0
    else
        # No null_blk: a loop device over a file on tmpfs.
        dd if=/dev/zero of=/tmp/fast.img bs=1M count=256 status=none
        nullb=$(losetup -f --show /tmp/fast.img)
    fi
    echo "$nullb" >"$out/fast_device"
}

fio_common() {
    echo --name=bench --time_based --runtime="$runtime" --output-format=json --numjobs=1
}

# An ext4 file system without DAX (on a loop device over a file on tmpfs),
# for the truncate control. Sets $nondax, its mount point.
nondax=
nondax_fs() {
    [ -n "$nondax" ] && return 0
    local dev
    dd if=/dev/zero of=/tmp/nondax.img bs=1M count=64 status=none &&
        mkfs.ext4 -q -F -b 4096 /tmp/nondax.img >/dev/null 2>&1 &&
        dev=$(losetup -f --show /tmp/nondax.img) &&
        mkdir -p /tmp/nondax && mount "$dev" /tmp/nondax || { log "ext4 without DAX failed"; return 1; }
    nondax=/tmp/nondax
}

run_workload() {
    local w=$1 tag=$2
    case "$w" in
        mmap-*-*)
            local fs=${w#mmap-}; fs=${fs%%-*}
            local rw=${w##*-}
            mount_dax "$fs" || return 2
            # shellcheck disable=SC2046
            fio_bin $(fio_common) --filename="$dax/fio.dat" --size=128M \
                --ioengine=mmap --rw="$rw" --bs=4k --output="$runs/$tag.fio.json" \
                >/dev/null 2>"$runs/$tag.fio.err" ;;
        dio-dax)
            mount_dax ext4 || return 2
            fast_device
            dax_buffer "$tag"
            # shellcheck disable=SC2046
            fio_bin $(fio_common) --filename="$nullb" --direct=1 --ioengine=psync \
                --rw=randread --bs=4k --size=128M --iomem=mmapshared:"$buf" \
                --output="$runs/$tag.fio.json" >/dev/null 2>"$runs/$tag.fio.err" ;;
        dio-dax-punch)
            mount_dax ext4 || return 2
            fast_device
            dax_buffer "$tag"
            # Punch the I/O buffer's file while fio pins its pages. On a kernel
            # that loses the wakeup a punch can sleep until killed: the loop is
            # bounded, and what happened is written down.
            rm -f "$runs/$tag.punches"
            (
                n=0; end=$(( $(now_us) + runtime * 1000000 ))
                while [ "$(now_us)" -lt "$end" ]; do
                    # Punch the buffer's page, then write it again (a DMA into
                    # a hole fails with EFAULT; fio counts those and goes on).
                    xfs_io -c "fpunch 0 4k" -c "pwrite -q 0 4k" "$buf" 2>/dev/null && n=$((n + 1))
                    echo "$n" >"$runs/$tag.punches"
                done
            ) &
            local punch=$!
            # shellcheck disable=SC2046
            timeout -s KILL $((runtime * 3 + 30)) "$hostlib/ld-linux-x86-64.so.2" \
                --library-path "$hostlibs" /host/usr/bin/fio $(fio_common) \
                --filename="$nullb" --direct=1 --ioengine=psync \
                --rw=randread --bs=4k --size=128M --iomem=mmapshared:"$buf" \
                --continue_on_error=io --output="$runs/$tag.fio.json" >/dev/null 2>"$runs/$tag.fio.err"
            local rc=$?
            # The punch loop ends by itself after $runtime s unless a punch is stuck.
            local waited=0
            while kill -0 "$punch" 2>/dev/null && [ $waited -lt $((runtime * 10 + 100)) ]; do
                nap 0.1; waited=$((waited + 1))
            done
            if kill -0 "$punch" 2>/dev/null; then
                local stuck child
                stuck="punch loop still blocked $((waited / 10)) s after its end: killed"
                for child in $(children_of "$punch"); do
                    cat "/proc/$child/stack" >>"$runs/$tag.punch_stack" 2>/dev/null
                    kill -KILL "$child" 2>/dev/null
                done
                kill -KILL "$punch" 2>/dev/null
                nap 2
                # A punch asleep uninterruptibly outlives SIGKILL: do not wait for it.
                if [ -n "$(children_of "$punch")" ] || kill -0 "$punch" 2>/dev/null; then
                    stuck="$stuck, and still asleep 2 s after SIGKILL (kernel stack in $tag.punch_stack)"
                else
                    wait "$punch" 2>/dev/null
                fi
                echo "$stuck" >"$runs/$tag.punch_stuck"
            else
                wait "$punch" 2>/dev/null
            fi
            return $rc ;;
        dio-dax-wide)
            # Four jobs, 32 I/Os in flight each (libaio), into one DAX file:
            # every job's buffers are the file's first 128 KiB (written
            # first, 256 KiB: fio sizes the mapping a page beyond).
            mount_dax ext4 || return 2
            fast_device
            dax_buffer "$tag" 64
            # shellcheck disable=SC2046
            fio_bin $(fio_common) --numjobs=4 --group_reporting --filename="$nullb" --direct=1 \
                --ioengine=libaio --iodepth=32 --rw=randread --bs=4k --size=128M \
                --iomem=mmapshared:"$buf" \
                --output="$runs/$tag.fio.json" >/dev/null 2>"$runs/$tag.fio.err" ;;
        dio-anon-1m)
            # 1 MiB O_DIRECT reads into ordinary memory: 256 pages per gup
            # call. The buffer is a tmpfs file kept for the whole boot, so
            # every run reads into the same pages: into malloc'd memory
            # untraced runs of one 6.1 boot ran at 8560 or 7430 IOPS,
            # whichever tracer (or none) ran before them.
            fast_device
            [ -e /dev/shm/dio-1m.buf ] ||
                dd if=/dev/zero of=/dev/shm/dio-1m.buf bs=1M count=1 status=none
            # shellcheck disable=SC2046
            fio_bin $(fio_common) --filename="$nullb" --direct=1 --ioengine=psync \
                --rw=randread --bs=1m --size=128M --iomem=mmapshared:/dev/shm/dio-1m.buf \
                --output="$runs/$tag.fio.json" >/dev/null 2>"$runs/$tag.fio.err" ;;
        futex-pingpong)
            dax-workload futex-pingpong --seconds "$runtime" >"$runs/$tag.cycles" 2>"$runs/$tag.workload.err" ;;
        truncate-nondax)
            nondax_fs || return 2
            dax-workload truncate-loop --file "$nondax/t.$tag" --seconds "$runtime" \
                >"$runs/$tag.cycles" 2>"$runs/$tag.workload.err"
            local rc=$?
            rm -f "$nondax/t.$tag"
            return $rc ;;
        dio-anon)
            fast_device
            # shellcheck disable=SC2046
            fio_bin $(fio_common) --filename="$nullb" --direct=1 --ioengine=psync \
                --rw=randread --bs=4k --size=128M \
                --output="$runs/$tag.fio.json" >/dev/null 2>"$runs/$tag.fio.err" ;;
        mount-cycles)
            mount_dax ext4 || return 2
            unmount_dax
            local n=0 start end
            start=$(now_us); end=$(( start + runtime * 1000000 ))
            while [ "$(now_us)" -lt "$end" ]; do
                mount -o dax /dev/pmem0 "$dax" && umount "$dax" && n=$((n + 1))
            done
            echo "$n $(( $(now_us) - start ))" >"$runs/$tag.cycles" ;;
        dm-cycles)
            unmount_dax
            local sectors n=0 start end
            sectors=$(blockdev --getsz /dev/pmem0)
            start=$(now_us); end=$(( start + runtime * 1000000 ))
            while [ "$(now_us)" -lt "$end" ]; do
                echo "0 $sectors linear /dev/pmem0 0" | dmsetup create benchlin &&
                    dmsetup remove benchlin && n=$((n + 1))
            done
            echo "$n $(( $(now_us) - start ))" >"$runs/$tag.cycles" ;;
        *) echo "unknown workload $w" >&2; return 2 ;;
    esac
}

# --- Sessions. A tracer is started once per round and configuration and
# watches every workload of that round in turn (attaching costs 13-33 s
# under TCG, bpftrace's LLVM most: per workload it was most of the VM time).
# Each workload is a window of the session: the tracer's CPU ticks, BPF run
# times and peak RSS (VmHWM, reset through clear_refs) are read at both of
# its ends, and its CLOCK_MONOTONIC bounds are written down, with which the
# host cuts the session's events and drops per workload out of its trace.
mono_ns() { local up; read -r up _ </proc/uptime; echo "${up/./}0000000"; }

# window_begin CONFIG TAG SESSION / window_end CONFIG TAG. BPF run times
# are read only in daxtrace's attribution windows (daxtrace-attr), the only
# ones with kernel.bpf_stats_enabled on.
window_begin() {
    local cfg=$1 tag=$2 session=$3
    echo "$session" >"$runs/$tag.session"
    [ -n "$tracer_pid" ] || { mono_ns >"$runs/$tag.window_begin_ns"; return 0; }
    cat "$runs/$session.attach_ms" >"$runs/$tag.attach_ms" 2>/dev/null
    cat "$runs/$session.start_cpu_ticks" >"$runs/$tag.attach_cpu_ticks" 2>/dev/null
    echo 5 >"/proc/$tracer_pid/clear_refs" 2>/dev/null
    if [ "$cfg" = daxtrace-attr ]; then
        cat /proc/sys/kernel/bpf_stats_enabled >"$runs/$tag.bpf_stats_enabled" 2>&1
        bpf_stats "$tracer_pid" >"$runs/$tag.bpf_stats_begin"
    fi
    cpu_ticks "$tracer_pid" >"$runs/$tag.start_cpu_ticks"
    mono_ns >"$runs/$tag.window_begin_ns"
}
window_end() {
    local cfg=$1 tag=$2
    # serve: one scrape of /metrics per window, as Prometheus would.
    if [ "$cfg" = serve ]; then
        wget -q -O "$runs/$tag.metrics" http://127.0.0.1:9863/metrics 2>"$runs/$tag.scrape.err"
        echo $? >"$runs/$tag.scrape_rc"
    fi
    mono_ns >"$runs/$tag.window_end_ns"
    [ -n "$tracer_pid" ] || return 0
    cpu_ticks "$tracer_pid" >"$runs/$tag.cpu_ticks"
    awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$tracer_pid/status" >"$runs/$tag.max_rss_bytes"
    [ "$cfg" = daxtrace-attr ] && bpf_stats "$tracer_pid" >"$runs/$tag.bpf_stats"
    return 0
}

# $BENCH_CONFIGS: a subset, for a quick look at some configurations (the
# host half reads the others as missing).
all_configs=${BENCH_CONFIGS:-untraced untraced-b daxtrace bpftrace bpftrace-owners empty-fexit serve daxtrace-no-stacks daxtrace-no-pins after}
runs_under() {
    case "$2" in
        daxtrace-no-*) case " $pin_workloads " in *" $1 "*) return 0 ;; *) return 1 ;; esac ;;
        *) return 0 ;;
    esac
}
# run_window CONFIG WORKLOAD ROUND SESSION: one workload, one window.
run_window() {
    local cfg=$1 w=$2 r=$3 session=$4 tag t0
    tag="$w.r$r.$cfg"
    log "$tag"
    window_begin "$cfg" "$tag" "$session"
    t0=$(now_us)
    run_workload "$w" "$tag"
    echo $? >"$runs/$tag.rc"
    echo $(( $(now_us) - t0 )) >"$runs/$tag.wall_us"
    window_end "$cfg" "$tag"
}
# run_rounds WORKLOAD...: every round of every configuration, a session each.
run_rounds() {
    local r cfg ws w session f c
    for r in $(seq 1 "$rounds"); do
        for cfg in $all_configs; do
            ws=
            for w in "$@"; do runs_under "$w" "$cfg" && ws="$ws $w"; done
            [ -n "$ws" ] || continue
            session="${session_prefix:-}r$r.$cfg"
            log "$session:$ws"
            if ! start_tracer "$cfg" "$session"; then
                log "$session: tracer did not start"
                for w in $ws; do
                    for c in $cfg $( [ "$cfg" = daxtrace ] && echo daxtrace-attr ); do
                        cp "$runs/$session.tracer_failed" "$runs/$w.r$r.$c.tracer_failed"
                    done
                done
                continue
            fi
            for w in $ws; do run_window "$cfg" "$w" "$r" "$session"; done
            if [ "$cfg" = daxtrace ]; then
                # Attribution: the same session, every workload again with
                # BPF statistics on (run time per program: instructions
                # under the instruction clock).
                echo 1 >/proc/sys/kernel/bpf_stats_enabled
                for w in $ws; do run_window daxtrace-attr "$w" "$r" "$session"; done
                echo 0 >/proc/sys/kernel/bpf_stats_enabled
            fi
            stop_tracer "$cfg" "$session"
            for w in $ws; do
                for c in $cfg $( [ "$cfg" = daxtrace ] && echo daxtrace-attr ); do
                    for f in stopped_by tracer.rc; do
                        cp "$runs/$session.$f" "$runs/$w.r$r.$c.$f" 2>/dev/null
                    done
                done
            done
        done
    done
}

# The punch workload runs after all others, in sessions of its own: on a
# kernel that loses the wakeup (6.1) a punch can sleep for good, and the
# filesystem it holds then cannot be unmounted or made anew for the
# workloads after it. Session names get a prefix so they stay apart.
regular= last=
for w in "$@"; do
    case "$w" in dio-dax-punch) last="$last $w" ;; *) regular="$regular $w" ;; esac
done
# shellcheck disable=SC2086
[ -n "$regular" ] && run_rounds $regular
# shellcheck disable=SC2086
[ -n "$last" ] && session_prefix=punch. run_rounds $last
unmount_dax
log "all runs done"
exit 0
