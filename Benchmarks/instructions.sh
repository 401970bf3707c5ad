#!/usr/bin/env bash
# User-space instructions per request for the C epoll server and netrepl-server, counted by
# valgrind's callgrind while a closed-loop load runs (16 clients, 32-byte lines; valgrind makes
# the servers some 20-50 times slower, so fewer clients suffice). Unlike requests/s, instruction
# counts barely move when other processes share the machine: this is the figure to compare
# changes by on a noisy machine. (perf would count kernel instructions too, but this machine's
# virtual CPUs have no hardware counters.)
#
# Usage: Benchmarks/instructions.sh
#   environment: DURATION=5 CLIENTS=16 SWIFT_SERVER=path (measure that binary instead of
#                building this checkout) SWIFT_ARGS="" KEEP=dir (keep the callgrind files there)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/Benchmarks/bin"
DURATION="${DURATION:-5}"
CLIENTS="${CLIENTS:-16}"
SWIFT_ARGS="${SWIFT_ARGS:-}"
. "$ROOT/Benchmarks/lib.sh"

command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    { echo "instructions: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
build_c
[ -n "${SWIFT_SERVER:-}" ] || build_swift
LOGS="${KEEP:-$(mktemp -d)}"
mkdir -p "$LOGS"
SERVER_PID=
trap 'kill_if_set "${SERVER_PID:-}"; [ -n "${KEEP:-}" ] || rm -rf "$LOGS"' EXIT

echo "netrepl-server: $SWIFT_SERVER $SWIFT_ARGS"
printf '%-15s %-4s %10s %16s\n' server mode requests 'user instr/req'
for name in c-epoll netrepl-server; do
    for mode in udp tcp; do
        out_file="$LOGS/callgrind.$name.$mode"
        if [ "$name" = c-epoll ]; then
            set -- "$BIN/c-epoll-server" -h 127.0.0.1 -p 0
        else
            # shellcheck disable=SC2086
            set -- "$SWIFT_SERVER" --host 127.0.0.1 --port 0 $SWIFT_ARGS
        fi
        # Instrumentation starts off: start-up is not counted, only the load.
        start_server "$LOGS/s.out" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out_file" "$@"
        callgrind_control -i on "$SERVER_PID" >/dev/null
        out="$(taskset -c 1 "$BIN/loadgen" -p "$SERVER_PORT" -m "$mode" -c "$CLIENTS" -d "$DURATION" -w 0)"
        callgrind_control -i off "$SERVER_PID" >/dev/null
        stop_server
        requests="$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")"
        total="$(sed -n 's/^totals: //p' "$out_file")"
        printf '%-15s %-4s %10s %16s\n' "$name" "$mode" "$requests" \
            "$(awk -v i="$total" -v r="$requests" 'BEGIN { printf "%.0f", (r > 0 ? i / r : 0) }')"
    done
done
