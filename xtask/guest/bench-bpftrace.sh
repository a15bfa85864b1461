#!/bin/bash
# The bpftrace scripts of `cargo xtask bench overhead`, generated in the
# guest from what daxtrace attached ($out/attached.txt, $out/attached-once.txt)
# and the FS-DAX pagemaps it found ($out/fsdax-pgmaps). Sourced by bench.sh;
# each function prints a script (or a list) on stdout.

# --- The count-only script: the functions daxtrace attached, counted per
# device or pagemap (the least work that still answers "how many, on what").
# bpftrace_script PUT_KEY: PUT_KEY is how page puts are keyed (by pagemap
# through BTF casts, or by probe when the casts do not compile).
bpftrace_script() {
    local put_key=$1
    # 5.10: bpftrace parses the fs_dax tracepoint formats with clang, which
    # does not know dev_t ("unknown type name 'dev_t'") until a header says.
    [ -e "$out/bpftrace-includes" ] && echo '#include <sys/types.h>'
    while read -r fam tgt kind; do
        case "$kind" in
            tracepoint)
                case "$fam" in
                    fault) echo "tracepoint:${tgt%%/*}:${tgt#*/} { @faults[args->dev] = count(); }" ;;
                    *) echo "tracepoint:${tgt%%/*}:${tgt#*/} { @events[probe] = count(); }" ;;
                esac ;;
            perf-event) ;; # daxtrace's stuck-wait scanner: no bpftrace equivalent
            *)
                case "$fam" in
                    page-put-idle)
                        # A folio's pgmap: through its page (<= 6.14) or its own field (6.15+).
                        case "$put_key:$tgt" in
                            pgmap:*folio*) echo "kprobe:$tgt { @puts[((struct folio *)arg0)->page.pgmap] = count(); }" ;;
                            pgmap:*) echo "kprobe:$tgt { @puts[((struct page *)arg0)->pgmap] = count(); }" ;;
                            folio-pgmap:*folio*) echo "kprobe:$tgt { @puts[((struct folio *)arg0)->pgmap] = count(); }" ;;
                            *) echo "kprobe:$tgt { @puts[probe] = count(); }" ;;
                        esac ;;
                    *) echo "kprobe:$tgt { @calls[probe, arg0] = count(); }" ;;
                esac ;;
        esac
    done <"$out/attached.txt"
}

# --- The bpftrace-owners script: what daxtrace's pin-owner family does, in
# bpftrace. Per FS-DAX page a gup entry point returned (the first 16 of a
# call, as daxtrace): owner tid, pid, comm, since and references, one kernel
# stack per thread per second; the owner closed by the put that leaves the
# page idle; the owner printed when dax_layout_busy_page(_range) returns a
# busy page. A page is FS-DAX when its pgmap word (offset 8 of struct page,
# of struct folio from 6.15: the same word) is one of the FS-DAX pagemaps
# `daxtrace state` found at start, as daxtrace fills its own map at attach.
# Raw reads at fixed offsets (pgmap at 8, _refcount at 52 on x86-64 from
# 5.10 to 7.x) rather than BTF casts, which bpftrace 0.17 refuses on 7.x.
# The FS-DAX pagemaps' addresses in hex, one a line ($1: the JSON lines of
# `daxtrace state --json`, a state-pagemap body per pagemap; the address a
# hex string, or a number from daxtrace before JSON schema 2).
fsdax_pgmaps() {
    local pg
    grep '"type":"state-pagemap"' "$1" | grep '"fs_dax":true' |
        sed 's/.*"pgmap":"\{0,1\}\(0x[0-9a-f]*\|[0-9]*\)"\{0,1\}.*/\1/' |
        while read -r pg; do printf '0x%x\n' "$pg"; done | sort -u
}
# gup_targets: the gup entry points daxtrace hooks on this kernel, or would
# hook if it did not follow pins through get_dev_pagemap (before 6.15: it
# lists them as skipped for that reason), one a line: the functions any gup
# tracer hooks, with a trampoline (a 7-argument one before 6.6 has none).
gup_targets() {
    awk '
        /"target":/ { gsub(/[",]/, "", $2); tgt = $2 }
        /"status": "attached"/ { ok = 1 }
        /"reason":/ && /get_dev_pagemap, refusals/ { ok = 1 }
        /^ *}/ && tgt != "" { if (ok && tgt ~ /^(get|pin)_user_pages/) print tgt; ok = 0; tgt = "" }
    ' "$out/probes.json" | sort -u
}
# gup_pages_arg FUNCTION: the argument index of `pages` (for kprobes).
gup_pages_arg() {
    case "$1" in
        get_user_pages_remote | pin_user_pages_remote) echo 4 ;;
        get_user_pages_unlocked | pin_user_pages_unlocked) echo 2 ;;
        *) echo 3 ;;
    esac
}
# owners_script HOOK: HOOK kretfunc (fexit, arguments by name) or kretprobe
# (the pages array saved per thread by a kprobe at entry).
owners_script() {
    local hook=$1 f p
    echo 'BEGIN {'
    while read -r p; do echo "    @fsdax[(uint64)$p] = 1;"; done <"$out/fsdax-pgmaps"
    echo '}'
    local body='
    $n = (int64)retval;
    if ($n > 16) { $n = 16; }
    $i = (uint64)0;
    while ((int64)$i < $n && $pages != 0) {
        $page = *(uint64 *)($pages + $i * 8);
        if (@fsdax[*(uint64 *)($page + 8)]) {
            @owner[$page] = (tid, pid, comm, nsecs);
            @refs[$page] = @refs[$page] + 1;
            if (nsecs - @stack_ns[tid] > 1000000000) {
                @stack_ns[tid] = nsecs;
                @stack[tid] = kstack;
            }
        }
        $i++;
    }
}'
    for f in $(gup_targets); do
        case "$hook" in
            kretfunc) echo "kretfunc:$f {"; echo '    $pages = (uint64)args->pages;' ;;
            *)
                echo "kprobe:$f { @gup_pages[tid] = arg$(gup_pages_arg "$f"); }"
                echo "kretprobe:$f {"; echo '    $pages = (uint64)@gup_pages[tid];'; echo '    delete(@gup_pages[tid]);' ;;
        esac
        echo "$body"
    done
    while read -r fam f _; do
        case "$fam:$f" in
            page-put-idle:free_zone_device_*)
                # 6.15+: the page's count reached 0, every owner goes.
                echo "kprobe:$f { if (@refs[arg0]) { delete(@owner[arg0]); delete(@refs[arg0]); } }" ;;
            page-put-idle:*)
                # Before 6.15 an FS-DAX page is idle at a count of 1; refs
                # is the second argument where the function has one.
                local refs=1
                case "$f" in *_refs) refs='(int64)arg1' ;; esac
                echo "kprobe:$f {"
                echo '    if (@refs[arg0]) {'
                echo "        if ((int64)*(int32 *)(arg0 + 52) - $refs <= 1) { delete(@owner[arg0]); delete(@refs[arg0]); }"
                echo '    }'
                echo '}' ;;
            pin-owner:unpin_user_page)
                echo 'kprobe:unpin_user_page { if (@refs[arg0] > 1) { @refs[arg0] = @refs[arg0] - 1; } }' ;;
            layout-busy:*)
                echo "kretprobe:$f /retval != 0/ {"
                echo '    $o = @owner[retval];'
                echo '    printf("busy page %lx owner tid %d pid %d comm %s since %lu refs %d\n", retval, $o.0, $o.1, $o.2, $o.3, @refs[retval]);'
                echo '    printf("%s\n", @stack[$o.0]);'
                echo '}' ;;
        esac
    done <"$out/attached-once.txt"
    # Only the busy pages' owners are output; the maps are not printed at exit.
    local saved=
    [ "$hook" = kretfunc ] || saved=' clear(@gup_pages);'
    echo "END { clear(@owner); clear(@refs); clear(@stack); clear(@stack_ns); clear(@fsdax);$saved }"
}
# empty_fexit_script HOOK: one empty program on each gup entry point
# (kretfunc, the fexit daxtrace uses; kretprobe where bpftrace refuses it).
empty_fexit_script() {
    local f
    for f in $(gup_targets); do echo "$1:$f { }"; done
}
