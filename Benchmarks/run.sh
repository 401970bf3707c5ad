#!/usr/bin/env bash
# Load benchmark: netrepl-server against the minimal C epoll server, UDP and TCP,
# closed loop, 64 clients. Both servers are pinned to CPU 0 (only the one under
# load is busy) and the load generator to CPU 1, so the number that matters is
# how many requests one core of server turns into per second; the table also
# shows each server's CPU time per request and how much CPU other processes took.
#
# A round runs UDP then TCP against each server back to back (the order alternates
# between rounds), so the two sides of each ratio see nearly the same machine.
#
# netrepl-server runs twice side by side: with its default flags (the row that counts:
# "netrepl-server") and with SWIFT_ARGS2, by default `--threads 1` ("netrepl-srv-t1").
#
# Usage: Benchmarks/run.sh
#   environment: DURATION=10 WARMUP=2 CLIENTS=64 ROUNDS=2 WAIT_QUIET=1 QUIET_IDLE=85
#                QUIET_TIMEOUT=300 SWIFT_ARGS="" SWIFT_ARGS2="--threads 1" (SWIFT_ARGS2=none: one row)
#                SKIP_SWIFT=1 (C only)
set -euo pipefail

ROUNDS="${ROUNDS:-2}"
SWIFT_ARGS="${SWIFT_ARGS:-}"
SWIFT_ARGS2="${SWIFT_ARGS2:---threads 1}"
SERVER_CPU=0
LOAD_CPU=1
. "$(dirname "$0")/lib.sh"

[ "$(nproc)" -ge 2 ] || { echo "run: needs at least 2 CPUs (server and load generator on separate cores)" >&2; exit 1; }

echo "building the C peers" >&2
build_c
if [ "${SKIP_SWIFT:-0}" != 1 ]; then
    echo "building netrepl-server (release, .build-bench)" >&2
    build_swift
fi

LOGS="$(mktemp -d)"
C_PID=; SWIFT_PID=; SWIFT2_PID=
trap 'kill_if_set "$C_PID"; kill_if_set "$SWIFT_PID"; kill_if_set "$SWIFT2_PID"; rm -rf "$LOGS"' EXIT
TICK="$(getconf CLK_TCK)"
declare -A RPS CPU_US OTHERS PID PORT

start_server "$LOGS/c.out" taskset -c "$SERVER_CPU" "$BIN/c-epoll-server" -h 127.0.0.1 -p 0
C_PID="$SERVER_PID"; PID[c-epoll]="$SERVER_PID"; PORT[c-epoll]="$SERVER_PORT"
servers="c-epoll"
if [ "${SKIP_SWIFT:-0}" != 1 ]; then
    # shellcheck disable=SC2086 # SWIFT_ARGS is a list of flags
    start_server "$LOGS/swift.out" taskset -c "$SERVER_CPU" "$SWIFT_SERVER" --host 127.0.0.1 --port 0 $SWIFT_ARGS
    SWIFT_PID="$SERVER_PID"; PID[netrepl-server]="$SERVER_PID"; PORT[netrepl-server]="$SERVER_PORT"
    servers="c-epoll netrepl-server"
    if [ "$SWIFT_ARGS2" != none ]; then
        # shellcheck disable=SC2086
        start_server "$LOGS/swift2.out" taskset -c "$SERVER_CPU" "$SWIFT_SERVER" --host 127.0.0.1 --port 0 $SWIFT_ARGS2
        SWIFT2_PID="$SERVER_PID"; PID[netrepl-srv-t1]="$SERVER_PID"; PORT[netrepl-srv-t1]="$SERVER_PORT"
        servers="c-epoll netrepl-server netrepl-srv-t1"
    fi
    # What the default flags chose, from the start log (threads=N).
    echo "netrepl-server with default flags under taskset -c $SERVER_CPU: $(grep -o 'threads=[0-9]*' "$LOGS/swift.out.stderr" | head -1)" >&2
fi
SERVER_PID=

# one_run ROUND MODE NAME: one loadgen run against one server; prints a table row.
one_run() {
    local round="$1" mode="$2" name="$3" pid="${PID[$3]}" port="${PORT[$3]}"
    local before after out m_before m_after line rps p50 p99 lost errors cpu_s cpu_pct us_per_req other
    m_before="$(machine_ticks)"
    before="$(cpu_ticks "$pid")"
    out="$(taskset -c "$LOAD_CPU" "$BIN/loadgen" -p "$port" -m "$mode" -c "$CLIENTS" -d "$DURATION" -w "$WARMUP")"
    after="$(cpu_ticks "$pid")"
    m_after="$(machine_ticks)"
    line="$(grep '^RESULT' <<<"$out")"
    field() { sed "s/.* $1=\\([0-9.]*\\).*/\\1/" <<<"$line"; }
    rps="$(field rps)"; p50="$(field p50_us)"; p99="$(field p99_us)"
    lost="$(field lost)"; errors="$(field errors)"; cpu_s="$(field cpu_s)"
    # Server CPU is sampled over warm-up + measurement; requests only over the measurement.
    cpu_pct="$(awk -v t=$((after - before)) -v hz="$TICK" -v d="$DURATION" -v w="$WARMUP" \
        'BEGIN { printf "%.0f", 100 * t / hz / (d + w) }')"
    us_per_req="$(awk -v t=$((after - before)) -v hz="$TICK" -v r="$rps" -v d="$DURATION" -v w="$WARMUP" \
        'BEGIN { if (r > 0) printf "%.2f", 1e6 * t / hz / (r * (d + w)); else print "-" }')"
    # CPU used by everything but this server and this load generator, as a share of both cores.
    other="$(awk -v a="$m_before" -v b="$m_after" -v srv=$((after - before)) -v hz="$TICK" -v lg="$cpu_s" \
        'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
                 o = (y[1] - x[1]) - srv - lg * hz; if (o < 0) o = 0;
                 printf "%.0f", (t > 0 ? 100 * o / t : 0) }')"
    RPS["$round,$mode,$name"]="$rps"
    CPU_US["$round,$mode,$name"]="$us_per_req"
    OTHERS["$round,$mode,$name"]="$other"
    printf '%-5s %-4s %-15s %10s %9s %9s %6s%% %9s %6s%% %5s %5s\n' \
        "$round" "$mode" "$name" "$rps" "$p50" "$p99" "$cpu_pct" "$us_per_req" "$other" "$lost" "$errors"
}

echo "== machine"
machine_facts
echo "clients: $CLIENTS per run, ${DURATION} s measured after ${WARMUP} s warm-up, 32-byte lines"
echo "pinning: servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU"
[ "${SKIP_SWIFT:-0}" = 1 ] || echo "netrepl-server: $SWIFT_SERVER --host 127.0.0.1 --port 0 $SWIFT_ARGS ($(grep -o 'threads=[0-9]*' "$LOGS/swift.out.stderr" | head -1))"
[ "${SKIP_SWIFT:-0}" = 1 ] || [ "$SWIFT_ARGS2" = none ] || echo "netrepl-srv-t1: $SWIFT_SERVER --host 127.0.0.1 --port 0 $SWIFT_ARGS2"
echo
echo "== runs"
printf '%-5s %-4s %-15s %10s %9s %9s %7s %9s %7s %5s %5s\n' round mode server 'req/s' 'p50 us' 'p99 us' 'srv CPU' 'CPU us/rq' 'others' lost wrong
for round in $(seq 1 "$ROUNDS"); do
    [ "${WAIT_QUIET:-1}" = 0 ] || wait_quiet
    echo "# round $round, load average before: $(load_avg)"
    order="$servers"
    # Alternate the order so that a burst of outside load does not always hit the same server.
    [ $((round % 2)) = 1 ] || order="$(tr ' ' '\n' <<<"$servers" | tac | tr '\n' ' ')"
    for mode in udp tcp; do
        for name in $order; do one_run "$round" "$mode" "$name"; done
    done
    echo "# round $round, load average after: $(load_avg)"
done

kill_if_set "$C_PID"; wait "$C_PID" 2>/dev/null || true
echo "c-epoll-server said: $(tail -1 "$LOGS/c.out")"
C_PID=
if [ "${SKIP_SWIFT:-0}" != 1 ]; then
    kill_if_set "$SWIFT_PID"; wait "$SWIFT_PID" 2>/dev/null || true
    echo "netrepl-server said: $(tail -1 "$LOGS/swift.out")"
    SWIFT_PID=
    if [ -n "$SWIFT2_PID" ]; then
        kill_if_set "$SWIFT2_PID"; wait "$SWIFT2_PID" 2>/dev/null || true
        echo "netrepl-srv-t1 said: $(tail -1 "$LOGS/swift2.out")"
        SWIFT2_PID=
    fi
    for name in $servers; do
        [ "$name" != c-epoll ] || continue
        echo
        echo "== $name / C: requests/s ratio (higher is better), CPU-per-request ratio (lower is better)"
        for mode in udp tcp; do
            rows=""
            for round in $(seq 1 "$ROUNDS"); do
                s="${RPS[$round,$mode,$name]}" c="${RPS[$round,$mode,c-epoll]}"
                sc="${CPU_US[$round,$mode,$name]}" cc="${CPU_US[$round,$mode,c-epoll]}"
                o1="${OTHERS[$round,$mode,$name]}" o2="${OTHERS[$round,$mode,c-epoll]}"
                row="$(awk -v s="$s" -v c="$c" -v sc="$sc" -v cc="$cc" -v o1="$o1" -v o2="$o2" \
                    'BEGIN { printf "%.2f %.2f %d", (c > 0 ? s / c : 0), (cc > 0 ? sc / cc : 0), (o1 > o2 ? o1 : o2) }')"
                set -- $row
                printf 'round %s %s: %sx requests/s, %sx CPU per request (others up to %s%%)\n' "$round" "$mode" "$1" "$2" "$3"
                rows+="$row"$'\n'
            done
            # Medians over all rounds, and over the quiet ones (others at most 10% on both sides).
            awk -v m="$mode" '
                function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                                 return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
                NF == 3 { n++; r[n] = $1; u[n] = $2; if ($3 <= 10) { q++; qr[q] = $1; qu[q] = $2 } }
                END {
                    printf "%s median of %d rounds: %.2fx requests/s, %.2fx CPU per request\n", m, n, median(r, n), median(u, n)
                    if (q) printf "%s median of %d quiet rounds (others <= 10%%): %.2fx requests/s, %.2fx CPU per request\n", m, q, median(qr, q), median(qu, q)
                    else printf "%s: no quiet rounds (others <= 10%%); the ratios above include other processes'"'"' load\n", m
                }' <<<"$rows"
        done
    done
fi
