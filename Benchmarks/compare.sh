#!/usr/bin/env bash
# netrepl-server against its peers, netrepl bench against the C load generator, and netrepl's
# round-trip times against a minimal C ping-pong client (issue 13). Writes CSV results, then
# docs/BENCHMARKS.md and its PNG plots (Benchmarks/report.py) from them.
#
# Servers, each pinned to CPU 0 with all load on CPU 1, started and stopped here:
#   textbook-udp, textbook-tcp  the textbook's Python programs (Benchmarks/peers/textbook_*.py);
#                               the TCP one serves one connection at a time, one request each
#   asyncio                     a Python asyncio UDP+TCP server (Benchmarks/peers/asyncio_server.py)
#   c-epoll                     the minimal C epoll server (Benchmarks/c-epoll-server)
#   netrepl-server              this repository's server, release build, default flags
# Figures:
#   requests/s, p50/p99 and server CPU per request at 1, 8 and 64 closed-loop clients, UDP and
#   TCP (loadgen); the one-request-per-connection rate (loadgen -m once); netrepl bench's
#   requests/s beside loadgen's against the same servers, in ROUNDS alternating rounds; the
#   yardstick: pingpong's p50, timed in user space and with kernel stamps as netrepl times it,
#   and netrepl's (lines piped one every INTERVAL_US) against the same netrepl-server, taking
#   turns in ROUNDS alternating rounds.
#
# Usage: Benchmarks/compare.sh            about 5 minutes plus the release build
#        QUICK=1 Benchmarks/compare.sh    smoke run: short runs, 1 and 8 clients, docs untouched
#   environment: DURATION (s per run, 3; QUICK 0.5), WARMUP (1; QUICK 0.3), PINGS (per yardstick round, 1000; QUICK 100),
#                INTERVAL_US (2000), ROUNDS (generator and yardstick rounds, 5; QUICK 2), OUT (results directory, Benchmarks/results), NETREPL,
#                SWIFT_SERVER (binaries to use instead of building), DOCS=0 (do not rewrite the docs)
. "$(dirname "$0")/lib.sh"
need_two_cpus

QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    DURATION="${DURATION:-0.5}"; WARMUP="${WARMUP:-0.3}"; PINGS="${PINGS:-100}"; COUNTS="1 8"; DOCS="${DOCS:-0}"
    ROUNDS="${ROUNDS:-2}"
else
    DURATION="${DURATION:-3}"; WARMUP="${WARMUP:-1}"; PINGS="${PINGS:-1000}"; COUNTS="1 8 64"; DOCS="${DOCS:-1}"
    ROUNDS="${ROUNDS:-5}"
fi
INTERVAL_US="${INTERVAL_US:-2000}"
OUT="${OUT:-$ROOT/Benchmarks/results}"
SERVER_CPU=0
LOAD_CPU=1
TICK="$(getconf CLK_TCK)"
COMMAND=Benchmarks/compare.sh
# The command as given, with the settings that change what is measured.
for setting in QUICK DURATION WARMUP PINGS INTERVAL_US ROUNDS; do
    if [ -n "$(printenv "$setting" || true)" ]; then COMMAND="$setting=$(printenv "$setting") $COMMAND"; fi
done

"$ROOT/scripts/ensure-packages" python3 python3-matplotlib util-linux
# Debian's matplotlib belongs to Debian's interpreter, whatever python3 comes first on PATH.
PLOT_PYTHON=/usr/bin/python3
echo "building the C peers" >&2
build_c
echo "building netrepl-server and netrepl (release, .build-bench)" >&2
build_swift
build_client

mkdir -p "$OUT"
LOADS="$OUT/loads.csv"; GENERATORS="$OUT/generators.csv"; YARDSTICK="$OUT/yardstick.csv"
echo "server,mode,clients,rps,p50_us,p99_us,cpu_us_per_request,server_cpu_percent,others_percent,lost,wrong" >"$LOADS"
echo "server,mode,round,generator,clients,rps,p50_us,p99_us,lost,wrong,cpu_us_per_request,server_cpu_percent,others_percent" >"$GENERATORS"
echo "mode,round,client,clock,count,ok,kernel_stamped,p50_us,p99_us,min_us,server_cpu_percent,others_percent" >"$YARDSTICK"
{
    echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
    machine_facts
    echo "load:    $(load_avg) (load average at the start)"
    echo "command: $COMMAND"
    echo "runs:    ${DURATION} s measured after ${WARMUP} s warm-up, 32-byte lines; servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
    echo "         generators and yardstick: $ROUNDS alternating rounds; yardstick: $PINGS lines a round, one every $INTERVAL_US µs"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# start NAME: starts one of the servers pinned to the server CPU; sets SERVER_PID and SERVER_PORT.
start() {
    case "$1" in
    textbook-udp) start_server "$LOGS/$1.out" taskset -c "$SERVER_CPU" python3 -u "$ROOT/Benchmarks/peers/textbook_udp.py" 0 ;;
    textbook-tcp) start_server "$LOGS/$1.out" taskset -c "$SERVER_CPU" python3 -u "$ROOT/Benchmarks/peers/textbook_tcp.py" 0 ;;
    asyncio) start_server "$LOGS/$1.out" taskset -c "$SERVER_CPU" python3 -u "$ROOT/Benchmarks/peers/asyncio_server.py" 0 ;;
    c-epoll) start_server "$LOGS/$1.out" taskset -c "$SERVER_CPU" "$BIN/c-epoll-server" -h 127.0.0.1 -p 0 ;;
    netrepl-server) start_server "$LOGS/$1.out" taskset -c "$SERVER_CPU" "$SWIFT_SERVER" --host 127.0.0.1 --port 0 ;;
    esac
}

# field NAME LINE: the value of NAME=... in a loadgen RESULT line.
field() { sed -n "s/.* $1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# measure FILE CMD...: runs CMD with its output to FILE and notes what the machine did meanwhile:
# sets SERVER_TICKS (the running server's CPU ticks), MACHINE_BEFORE and MACHINE_AFTER
# (machine_ticks) and WALL_S (seconds it took).
measure() {
    local file="$1" before start; shift
    MACHINE_BEFORE="$(machine_ticks)"; before="$(cpu_ticks "$SERVER_PID")"; start="$(date +%s.%N)"
    "$@" >"$file" || true
    SERVER_TICKS=$(($(cpu_ticks "$SERVER_PID") - before)); MACHINE_AFTER="$(machine_ticks)"
    WALL_S="$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
}

# shares CLIENT_CPU_S: "server CPU %,others %" of the last measure: the server's share of its core,
# and what the rest of the machine (neither the server nor the client, whose CPU seconds are given)
# took, as a share of both cores.
shares() {
    awk -v t="$SERVER_TICKS" -v hz="$TICK" -v s="$WALL_S" -v a="$MACHINE_BEFORE" -v b="$MACHINE_AFTER" -v own="${1:-0}" '
        BEGIN {
            split(a, x, " "); split(b, y, " "); total = y[2] - x[2]
            others = (y[1] - x[1]) - t - own * hz; if (others < 0) others = 0
            printf "%.0f,%.0f", (s > 0 ? 100 * t / hz / s : 0), (total > 0 ? 100 * others / total : 0)
        }'
}

# load NAME MODE CLIENTS: one loadgen run against the running server; appends a row to loads.csv.
load() {
    local name="$1" mode="$2" clients="$3" out line rps
    measure "$LOGS/loadgen.out" taskset -c "$LOAD_CPU" "$BIN/loadgen" -p "$SERVER_PORT" -m "$mode" -c "$clients" -d "$DURATION" -w "$WARMUP"
    out="$(cat "$LOGS/loadgen.out")"
    line="$(grep '^RESULT' <<<"$out" || true)"
    [ -n "$line" ] || { echo "$SCRIPT: loadgen gave no result for $name $mode $clients: $out" >&2; return 0; }
    rps="$(field rps "$line")"
    echo "$name,$mode,$clients,$rps,$(field p50_us "$line"),$(field p99_us "$line"),$(per_request "$SERVER_TICKS" "$rps" "$TICK"),$(shares "$(field cpu_s "$line")"),$(field lost "$line"),$(field errors "$line")" | tee -a "$LOADS"
}

# per_request TICKS_OR_SECONDS RPS PER_SECOND: microseconds of CPU per request over warm-up and measurement.
per_request() {
    awk -v c="$1" -v r="$2" -v hz="$3" -v t="$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { print d + w }')" \
        'BEGIN { if (r > 0) printf "%.2f", 1e6 * c / hz / (r * t) }'
}

# loadgen_row NAME MODE ROUND: loadgen, 64 clients, against the running server; appends a row to generators.csv.
loadgen_row() {
    local line
    measure "$LOGS/loadgen.out" taskset -c "$LOAD_CPU" "$BIN/loadgen" -p "$SERVER_PORT" -m "$2" -c 64 -d "$DURATION" -w "$WARMUP"
    line="$(grep '^RESULT' "$LOGS/loadgen.out" || true)"
    # The generator's own CPU time per request (over warm-up and measurement) is the steadier
    # comparison on a busy machine: it does not depend on how much of its core each one got.
    echo "$1,$2,$3,loadgen,64,$(field rps "$line"),$(field p50_us "$line"),$(field p99_us "$line"),$(field lost "$line"),$(field errors "$line"),$(
        per_request "$(field cpu_s "$line")" "$(field rps "$line")" 1),$(shares "$(field cpu_s "$line")")" | tee -a "$GENERATORS"
}

# bench_row NAME MODE ROUND: netrepl bench, the same clients and times; appends a row to generators.csv.
bench_row() {
    local cpu
    measure "$LOGS/bench.json" taskset -c "$LOAD_CPU" "$NETREPL" bench "--$2" --clients 64 --duration "$DURATION" --warmup "$WARMUP" --json 127.0.0.1 "$SERVER_PORT"
    cpu="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["cpu_s"])' "$LOGS/bench.json" 2>/dev/null || echo 0)"
    python3 -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit("netrepl bench gave no result")
l = r["latency_us"] or {}
seconds = r["duration_s"] + r["warmup_s"]
per = "%.2f" % (1e6 * r["cpu_s"] / (r["requests_per_s"] * seconds)) if r["requests_per_s"] else ""
print("%s,%s,%s,netrepl-bench,64,%.0f,%s,%s,%d,%d,%s,%s" % (sys.argv[2], sys.argv[3], sys.argv[4], r["requests_per_s"], l.get("p50", ""),
      l.get("p99", ""), r["lost"], r["wrong"], per, sys.argv[5]))
' "$LOGS/bench.json" "$1" "$2" "$3" "$(shares "$cpu")" | tee -a "$GENERATORS" || true
}

# generators NAME MODE: loadgen and netrepl bench against the running server, ROUNDS rounds, the
# order alternating so that neither always runs first on a machine whose load drifts.
generators() {
    local round
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then
            loadgen_row "$1" "$2" "$round"; bench_row "$1" "$2" "$round"
        else
            bench_row "$1" "$2" "$round"; loadgen_row "$1" "$2" "$round"
        fi
    done
}

# yardstick MODE: pingpong (user-space and kernel-stamped times of the same exchanges), then
# netrepl with the same count of lines piped at the same pace, against the running netrepl-server.
# One round of the yardstick: pingpong and netrepl, one after the other, against the same server.
# Odd rounds run pingpong first, even rounds netrepl first, so that a change in the machine's load
# during the run falls on both alike; the report takes the median over rounds.
yardstick() {
    local mode="$1" round="$2"
    if [ $((round % 2)) = 1 ]; then
        yard_pingpong "$mode" "$round"; yard_netrepl "$mode" "$round"
    else
        yard_netrepl "$mode" "$round"; yard_pingpong "$mode" "$round"
    fi
}

yard_pingpong() {
    local mode="$1" round="$2" line
    measure "$LOGS/pingpong.out" taskset -c "$LOAD_CPU" "$BIN/pingpong" -p "$SERVER_PORT" -m "$mode" -n "$PINGS" -i "$INTERVAL_US"
    line="$(grep '^RESULT' "$LOGS/pingpong.out" || true)"
    # The clients take little CPU at this pace; "others" includes them.
    echo "$mode,$round,pingpong,user,$PINGS,$(field ok "$line"),,$(field p50_us "$line"),$(field p99_us "$line"),$(field min_us "$line"),$(shares)" | tee -a "$YARDSTICK"
    echo "$mode,$round,pingpong,kernel,$PINGS,$(field ok "$line"),$(field kernel_ok "$line"),$(field kernel_p50_us "$line"),$(field kernel_p99_us "$line"),$(field kernel_min_us "$line"),$(shares)" | tee -a "$YARDSTICK"
}

yard_netrepl() {
    local mode="$1" round="$2" flag=""
    [ "$mode" = tcp ] && flag=--tcp
    # The pacer writes one 31-character line (32 bytes with the newline, as pingpong's) per interval.
    measure "$LOGS/netrepl.json" bash -c 'taskset -c "$1" python3 -c "
import sys, time
n, gap = int(sys.argv[1]), int(sys.argv[2]) / 1e6
start = time.monotonic()
for i in range(n + 20):
    time.sleep(max(0, start + i * gap - time.monotonic()))
    sys.stdout.write((\"ping %d \" % i).ljust(31, \"x\") + \"\\n\"); sys.stdout.flush()
" "$2" "$3" | taskset -c "$1" "$4" --json -q $5 127.0.0.1 "$6"' pace "$LOAD_CPU" "$PINGS" "$INTERVAL_US" "$NETREPL" "$flag" "$SERVER_PORT"
    python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if "rtt_us" in r][20:]   # the first 20 warm up, as in pingpong
ok = sorted(r["rtt_us"] for r in rows if r["rtt_us"] is not None)
kernel = sum(1 for r in rows if r["rtt_us"] is not None and r.get("rtt_clock") == "kernel")
pick = lambda p: ok[int((len(ok) - 1) * p)] if ok else ""
print("%s,%s,netrepl,%s,%d,%d,%d,%s,%s,%s,%s" % (sys.argv[2], sys.argv[3], "kernel" if ok and kernel == len(ok) else "mixed", len(rows), len(ok), kernel,
      pick(0.5), pick(0.99), ok[0] if ok else "", sys.argv[4]))
' "$LOGS/netrepl.json" "$mode" "$round" "$(shares)" | tee -a "$YARDSTICK"
}

echo "== closed-loop load: server,mode,clients,req/s,p50 us,p99 us,CPU us/request,server CPU %,others %,lost,wrong"
for name in textbook-udp asyncio c-epoll netrepl-server; do
    [ "${WAIT_QUIET:-0}" = 0 ] || wait_quiet
    start "$name"
    modes="udp tcp"; [ "$name" = textbook-udp ] && modes=udp
    for mode in $modes; do
        for clients in $COUNTS; do load "$name" "$mode" "$clients"; done
    done
    if [ "$name" != textbook-udp ]; then load "$name" once 1; fi
    if [ "$name" = c-epoll ] || [ "$name" = netrepl-server ]; then
        for mode in udp tcp; do generators "$name" "$mode"; done
    fi
    if [ "$name" = netrepl-server ]; then
        for mode in udp tcp; do
            for round in $(seq 1 "$ROUNDS"); do yardstick "$mode" "$round"; done
        done
    fi
    stop_server
done
start textbook-tcp
load textbook-tcp once 1
stop_server
echo "load average at the end: $(load_avg)" | tee -a "$OUT/machine.txt"

if [ "$DOCS" = 1 ]; then
    "$PLOT_PYTHON" "$ROOT/Benchmarks/report.py" "$OUT" "$ROOT/docs"
    echo "wrote docs/BENCHMARKS.md and docs/benchmarks/*.png"
else
    "$PLOT_PYTHON" "$ROOT/Benchmarks/report.py" "$OUT" "$OUT/docs"
    echo "wrote $OUT/docs (DOCS=1 rewrites docs/BENCHMARKS.md)"
fi
