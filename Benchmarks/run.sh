#!/usr/bin/env bash
# Load benchmark: netrepl-server against the minimal C epoll server, UDP and TCP,
# closed loop, 64 clients. Each server is pinned to CPU 0 and the load generator
# to CPU 1, so the number that matters is how many requests one core of server
# turns into per second; the table also shows the server's CPU time per request.
#
# Usage: Benchmarks/run.sh            (environment: DURATION=10 CLIENTS=64 ROUNDS=2 WAIT_QUIET=1)
#        SKIP_SWIFT=1 Benchmarks/run.sh   only the C server (to check the harness)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/Benchmarks/bin"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-64}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
SERVER_CPU=0
LOAD_CPU=1
. "$ROOT/Benchmarks/lib.sh"

[ "$(nproc)" -ge 2 ] || { echo "run: needs at least 2 CPUs (server and load generator on separate cores)" >&2; exit 1; }

echo "building the C peers" >&2
build_c
if [ "${SKIP_SWIFT:-0}" != 1 ]; then
    echo "building netrepl-server (release, .build-bench)" >&2
    build_swift
fi

LOGS="$(mktemp -d)"
trap 'kill_if_set "${SERVER_PID:-}"; rm -rf "$LOGS"' EXIT
TICK="$(getconf CLK_TCK)"
declare -A RPS CPU_US

# bench NAME ROUND CMD... : start the server pinned, run UDP then TCP, record results.
bench() {
    local name="$1" round="$2"; shift 2
    start_server "$LOGS/$name.out" taskset -c "$SERVER_CPU" "$@"
    local mode
    for mode in udp tcp; do
        local before after out m_before m_after
        m_before="$(machine_ticks)"
        before="$(cpu_ticks "$SERVER_PID")"
        out="$(taskset -c "$LOAD_CPU" "$BIN/loadgen" -p "$SERVER_PORT" -m "$mode" -c "$CLIENTS" -d "$DURATION" -w "$WARMUP")"
        after="$(cpu_ticks "$SERVER_PID")"
        m_after="$(machine_ticks)"
        local line rps p50 p99 lost errors cpu_pct us_per_req
        line="$(grep '^RESULT' <<<"$out")"
        rps="$(sed 's/.* rps=\([0-9]*\).*/\1/' <<<"$line")"
        p50="$(sed 's/.* p50_us=\([0-9.]*\).*/\1/' <<<"$line")"
        p99="$(sed 's/.* p99_us=\([0-9.]*\).*/\1/' <<<"$line")"
        lost="$(sed 's/.* lost=\([0-9]*\).*/\1/' <<<"$line")"
        errors="$(sed 's/.* errors=\([0-9]*\).*/\1/' <<<"$line")"
        # CPU used by everything but this server and this load generator, as a share of both cores.
        local other
        other="$(awk -v a="$m_before" -v b="$m_after" -v srv=$((after - before)) -v hz="$TICK" \
            -v lg="$(sed 's/.* cpu_s=\([0-9.]*\).*/\1/' <<<"$line")" 'BEGIN { split(a, x, " "); split(b, y, " ");
            t = y[2] - x[2]; o = (y[1] - x[1]) - srv - lg * hz; if (o < 0) o = 0;
            printf "%.0f", (t > 0 ? 100 * o / t : 0) }')"
        # CPU is sampled over warm-up + measurement; requests only over the measurement.
        cpu_pct="$(awk -v t=$((after - before)) -v hz="$TICK" -v s="$(awk -v a="$DURATION" -v b="$WARMUP" 'BEGIN{print a+b}')" 'BEGIN{printf "%.0f", 100*t/hz/s}')"
        us_per_req="$(awk -v t=$((after - before)) -v hz="$TICK" -v r="$rps" -v d="$DURATION" -v w="$WARMUP" 'BEGIN{ if (r>0) printf "%.2f", 1e6*t/hz/(r*(d+w)); else print "-" }')"
        RPS["$round,$mode,$name"]="$rps"
        CPU_US["$round,$mode,$name"]="$us_per_req"
        printf '%-5s %-4s %-15s %10s %9s %9s %6s%% %9s %6s%% %5s %5s\n' \
            "$round" "$mode" "$name" "$rps" "$p50" "$p99" "$cpu_pct" "$us_per_req" "$other" "$lost" "$errors"
    done
    stop_server
}

echo "== machine"
machine_facts
echo "clients: $CLIENTS per run, ${DURATION} s measured after ${WARMUP} s warm-up, 32-byte lines"
echo "pinning: server on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU"
echo
echo "== runs"
printf '%-5s %-4s %-15s %10s %9s %9s %7s %9s %7s %5s %5s\n' round mode server 'req/s' 'p50 us' 'p99 us' 'srv CPU' 'CPU us/rq' 'others' lost wrong
for round in $(seq 1 "$ROUNDS"); do
    [ "${WAIT_QUIET:-1}" = 0 ] || wait_quiet
    echo "# round $round, load average before: $(load_avg)"
    # Alternate the order so a burst of outside load does not always hit the same server.
    if [ $((round % 2)) = 1 ] || [ "${SKIP_SWIFT:-0}" = 1 ]; then order="c swift"; else order="swift c"; fi
    for s in $order; do
        case "$s" in
        c) bench c-epoll "$round" "$BIN/c-epoll-server" -h 127.0.0.1 -p 0 ;;
        swift) [ "${SKIP_SWIFT:-0}" = 1 ] || bench netrepl-server "$round" "$SWIFT_SERVER" --host 127.0.0.1 --port 0 --threads 1 ;;
        esac
    done
    echo "# round $round, load average after: $(load_avg)"
done

if [ "${SKIP_SWIFT:-0}" != 1 ]; then
    echo
    echo "== netrepl-server / C (requests/s ratio; CPU-per-request ratio, lower is better)"
    for round in $(seq 1 "$ROUNDS"); do
        for mode in udp tcp; do
            awk -v r="$round" -v m="$mode" -v s="${RPS[$round,$mode,netrepl-server]}" -v c="${RPS[$round,$mode,c-epoll]}" \
                -v sc="${CPU_US[$round,$mode,netrepl-server]}" -v cc="${CPU_US[$round,$mode,c-epoll]}" \
                'BEGIN { printf "round %s %s: %.2fx requests/s, %.2fx CPU per request\n", r, m, (c>0 ? s/c : 0), (cc>0 ? sc/cc : 0) }'
        done
    done
fi
