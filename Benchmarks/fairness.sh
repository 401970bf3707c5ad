#!/usr/bin/env bash
# Fairness under saturation: each server pinned to CPU 0, and on CPU 1 the load generator's
# flood mode: CLIENTS (default 200) TCP clients streaming 16 KiB blocks and CLIENTS/10 UDP clients
# keeping 16 datagrams in flight each, while a probe every 20 ms times a fresh TCP connection's
# first reply and one UDP round trip. Prints the probe's p50/p99/max for the C epoll server and for
# netrepl-server with its default flags.
#
# Usage: Benchmarks/fairness.sh          environment: CLIENTS=200 DURATION=10 WARMUP=2 SKIP_SWIFT=1
set -euo pipefail

CLIENTS="${CLIENTS:-200}"
. "$(dirname "$0")/lib.sh"

[ "$(nproc)" -ge 2 ] || { echo "fairness: needs at least 2 CPUs (server and load on separate cores)" >&2; exit 1; }
build_c
[ "${SKIP_SWIFT:-0}" = 1 ] || build_swift
LOGS="$(mktemp -d)"
SERVER_PID=
trap 'kill_if_set "${SERVER_PID:-}"; rm -rf "$LOGS"' EXIT

echo "== machine"
machine_facts
echo "flood: $CLIENTS tcp clients + $((CLIENTS / 10)) udp clients on CPU 1, probe every 20 ms, ${DURATION} s after ${WARMUP} s warm-up; servers on CPU 0"
for name in c-epoll netrepl-server; do
    if [ "$name" = c-epoll ]; then
        start_server "$LOGS/$name.out" taskset -c 0 "$BIN/c-epoll-server" -h 127.0.0.1 -p 0
    else
        [ "${SKIP_SWIFT:-0}" = 1 ] && continue
        start_server "$LOGS/$name.out" taskset -c 0 "$SWIFT_SERVER" --host 127.0.0.1 --port 0
    fi
    echo "# $name, load average before: $(load_avg)"
    taskset -c 1 "$BIN/loadgen" -p "$SERVER_PORT" -m flood -c "$CLIENTS" -d "$DURATION" -w "$WARMUP" | grep -v '^RESULT' || true
    stop_server
    SERVER_PID=
    echo "# $name said: $(tail -1 "$LOGS/$name.out")"
done
