#!/usr/bin/env bash
# Where netrepl-server's CPU time goes under the benchmark's load: the server pinned to CPU 0,
# the load generator (64 closed-loop clients, 32-byte lines) on CPU 1, `perf record -e cpu-clock`
# on the server for DURATION seconds, UDP then TCP. Prints CPU time per request and the top
# symbols (self time), and the share in the kernel.
#
# Instruction counts would be steadier on this shared machine, but its virtual CPUs expose no
# hardware counters to perf, and valgrind 3.19 dies at start-up inside the Swift runtime; the
# cpu-clock sampler is what works here.
#
# Usage: Benchmarks/profile.sh     environment: DURATION=5 CLIENTS=64 TOP=25 SWIFT_SERVER=path
#                                  SWIFT_ARGS="" KEEP=dir (keep perf.data files there)
set -euo pipefail

DURATION="${DURATION:-5}"
TOP="${TOP:-25}"
SWIFT_ARGS="${SWIFT_ARGS:-}"
. "$(dirname "$0")/lib.sh"

command -v perf >/dev/null || { echo "profile: needs perf (apt-get install linux-perf)" >&2; exit 1; }
build_c
build_swift
LOGS="${KEEP:-$(mktemp -d)}"
mkdir -p "$LOGS"
SERVER_PID=
trap 'kill_if_set "${SERVER_PID:-}"; [ -n "${KEEP:-}" ] || rm -rf "$LOGS"' EXIT
TICK="$(getconf CLK_TCK)"

echo "netrepl-server: $SWIFT_SERVER $SWIFT_ARGS; load average $(load_avg)"
for mode in udp tcp; do
    # shellcheck disable=SC2086
    start_server "$LOGS/s.out" taskset -c 0 "$SWIFT_SERVER" --host 127.0.0.1 --port 0 $SWIFT_ARGS
    before="$(cpu_ticks "$SERVER_PID")"
    perf record -q -e cpu-clock -F 2000 -g -p "$SERVER_PID" -o "$LOGS/perf.$mode.data" -- sleep "$DURATION" 2>/dev/null &
    perf_pid=$!
    out="$(taskset -c 1 "$BIN/loadgen" -p "$SERVER_PORT" -m "$mode" -c "$CLIENTS" -d "$DURATION" -w 0)"
    wait "$perf_pid" || true
    after="$(cpu_ticks "$SERVER_PID")"
    stop_server
    requests="$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")"
    echo
    echo "== $mode: $requests requests in ${DURATION} s, server CPU $(awk -v t=$((after - before)) -v hz="$TICK" -v r="$requests" \
        'BEGIN { printf "%.2f us per request", 1e6 * t / hz / r }')"
    perf report -i "$LOGS/perf.$mode.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
    perf report -i "$LOGS/perf.$mode.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -"$TOP" || true
done
