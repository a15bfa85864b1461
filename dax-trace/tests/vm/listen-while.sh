#!/bin/bash
# Runs a command in the guest while `daxtrace probes --listen` records the
# events it causes:  listen-while.sh OUT_PREFIX CMD [ARGS...]
# Writes OUT_PREFIX.jsonl (one event per line), OUT_PREFIX.err (probe table
# and the final "event counts" line) and OUT_PREFIX.out (the command's output).
# Example (host):
#   cargo xtask vm --kernel 6.1 --share /tmp/d -- bash /mnt/host/listen-while.sh \
#       /mnt/host/dma dax-workload --json dma-truncate --pin odirect --fs ext4
set -u
out=${1:?usage: listen-while.sh OUT_PREFIX CMD [ARGS...]}
shift
daxtrace probes --listen 3600 > "$out.jsonl" 2> "$out.err" &
pid=$!
# Attaching takes a few seconds under TCG: start the command only once listening.
for _ in $(seq 1 240); do grep -q "^listening" "$out.err" && break; sleep 0.5; done
"$@" > "$out.out" 2>&1
status=$?
sleep 3
kill -INT "$pid"
wait "$pid"
tail -1 "$out.err"
exit "$status"
