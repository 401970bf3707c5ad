# Shared by every benchmark script: where things are, the common defaults, building the peers and
# starting/stopping a server. Sourced, not run; a script sets its own defaults before sourcing it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/Benchmarks/bin"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CLIENTS="${CLIENTS:-64}"

build_c() {
    mkdir -p "$BIN"
    cc -O2 -Wall -o "$BIN/c-epoll-server" "$ROOT/Benchmarks/c-epoll-server/server.c"
    cc -O2 -Wall -pthread -o "$BIN/loadgen" "$ROOT/Benchmarks/loadgen/loadgen.c"
}

# Release build in its own scratch path, so it never fights the debug builds
# other people run in .build at the same time.
# SWIFT_SERVER set: measure that binary (an older build, say) instead of building this checkout.
build_swift() {
    if [ -n "${SWIFT_SERVER:-}" ]; then
        [ -x "$SWIFT_SERVER" ] || { echo "run: no netrepl-server binary at $SWIFT_SERVER" >&2; exit 1; }
        return 0
    fi
    (cd "$ROOT" && swift build -c release --product netrepl-server --scratch-path .build-bench >&2)
    SWIFT_SERVER="$(cd "$ROOT" && swift build -c release --product netrepl-server --scratch-path .build-bench --show-bin-path)/netrepl-server"
    [ -x "$SWIFT_SERVER" ] || { echo "run: no netrepl-server binary at $SWIFT_SERVER" >&2; exit 1; }
}

# start_server LOGFILE CMD... : starts CMD in the background, waits for its
# "ready, udp and tcp on ADDR:PORT" line, sets SERVER_PID and SERVER_PORT.
start_server() {
    local log="$1"; shift
    "$@" >"$log" 2>"$log.stderr" &
    SERVER_PID=$!
    local i
    for i in $(seq 1 200); do
        if grep -q 'ready, udp and tcp on' "$log" 2>/dev/null; then
            SERVER_PORT="$(sed -n 's/.*ready, udp and tcp on .*:\([0-9][0-9]*\)$/\1/p' "$log" | head -1)"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "run: server did not print its ready line: $*" >&2
    cat "$log" "$log.stderr" >&2
    kill_if_set "$SERVER_PID"
    exit 1
}

stop_server() {
    kill_if_set "${SERVER_PID:-}"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# SIGTERM to one PID we started; never to an empty or zero PID (kill 0 means the whole group).
kill_if_set() {
    case "${1:-}" in
    '' | 0) ;;
    *) kill -TERM "$1" 2>/dev/null || true ;;
    esac
}

# CPU time (user + system) of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

# "busy total" CPU ticks of the whole machine, all CPUs (user nice system idle iowait irq softirq steal).
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# wait_quiet: wait (up to QUIET_TIMEOUT seconds, default 300) until the machine is at least
# QUIET_IDLE percent idle (default 85) over a 3-second sample, so that other people's builds
# do not share the cores under test. Proceeds anyway at the timeout, saying so.
wait_quiet() {
    local limit="${QUIET_TIMEOUT:-300}" want="${QUIET_IDLE:-85}" waited=0 a b idle
    while :; do
        a="$(machine_ticks)"; sleep 3; b="$(machine_ticks)"
        idle="$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
            t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (1 - (y[1] - x[1]) / t) : 0) }')"
        waited=$((waited + 3))
        if [ "$idle" -ge "$want" ]; then echo "# machine ${idle}% idle before the round (waited ${waited} s)"; return 0; fi
        if [ "$waited" -ge "$limit" ]; then echo "# machine still only ${idle}% idle after ${waited} s: running anyway"; return 0; fi
    done
}

machine_facts() {
    echo "nproc:   $(nproc)"
    echo "cpu:     $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "kernel:  $(uname -sr)"
    echo "swift:   $(swift --version 2>/dev/null | head -1)"
    echo "cc:      $(cc --version | head -1)"
    echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
}
