#!/usr/bin/env bash
# Concurrency check: opens many TCP connections at once (default 10,000) to a
# server on 127.0.0.1, sends one line on each, verifies every reply, holds them
# all open, and reports the server's resident memory (VmRSS) before, while the
# connections are held, and after they close. Exit status 0 when every reply
# was right and every connection was still open while held.
#
# Usage: Benchmarks/connections.sh                 netrepl-server (release build)
#        SERVER=c Benchmarks/connections.sh        the C epoll server instead
#        CONNECTIONS=10000 HOLD=5                  (environment, the defaults)
# The load generator raises its own soft RLIMIT_NOFILE to the hard limit; the
# server raises its own. The hard limit must allow CONNECTIONS plus a few.
set -euo pipefail

CONNECTIONS="${CONNECTIONS:-10000}"
HOLD="${HOLD:-5}"
SERVER="${SERVER:-swift}"
. "$(dirname "$0")/lib.sh"

hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && [ "$hard" -lt $((CONNECTIONS + 16)) ]; then
    echo "connections: the hard open-file limit ($hard) is below $CONNECTIONS connections; raise it (ulimit -Hn) as root" >&2
    exit 1
fi

build_c
LOGS="$(mktemp -d)"
# Only ever signal the PIDs this script started (an empty PID would make kill hit the whole group).
trap 'kill_if_set "${SERVER_PID:-}"; kill_if_set "${LOADGEN_PID:-}"; rm -rf "$LOGS"' EXIT
case "$SERVER" in
c) start_server "$LOGS/server.out" "$BIN/c-epoll-server" -h 127.0.0.1 -p 0; name=c-epoll-server ;;
swift) build_swift; start_server "$LOGS/server.out" "$SWIFT_SERVER" --host 127.0.0.1 --port 0; name=netrepl-server ;;
*) echo "connections: SERVER must be swift or c" >&2; exit 64 ;;
esac

sockmem() { awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i+1) * 4}' /proc/net/sockstat; }

sleep 0.5
rss_before="$(rss_kib "$SERVER_PID")"
fds_before="$(ls "/proc/$SERVER_PID/fd" | wc -l)"
echo "server: $name on 127.0.0.1:$SERVER_PORT, pid $SERVER_PID; load average $(load_avg)"
echo "before: VmRSS $rss_before KiB, $fds_before open files"

"$BIN/loadgen" -p "$SERVER_PORT" -m conn -c "$CONNECTIONS" -H "$HOLD" >"$LOGS/loadgen.out" &
LOADGEN_PID=$!
for _ in $(seq 1 1200); do
    grep -q '^RESULT' "$LOGS/loadgen.out" && break
    kill -0 "$LOADGEN_PID" 2>/dev/null || break
    sleep 0.05
done
sleep 0.5
rss_held="$(rss_kib "$SERVER_PID")"
fds_held="$(ls "/proc/$SERVER_PID/fd" | wc -l)"
sock_held="$(sockmem)"
status=0
wait "$LOADGEN_PID" || status=$?
LOADGEN_PID=
grep -v '^RESULT' "$LOGS/loadgen.out"
echo "held:   VmRSS $rss_held KiB, $fds_held open files; kernel TCP buffers (all sockets) $sock_held KiB"
# Give the server a moment to see the FINs and free what it held.
sleep 2
rss_after="$(rss_kib "$SERVER_PID")"
fds_after="$(ls "/proc/$SERVER_PID/fd" | wc -l)"
echo "after:  VmRSS $rss_after KiB, $fds_after open files"
awk -v b="$rss_before" -v h="$rss_held" -v n="$CONNECTIONS" \
    'BEGIN { printf "per connection while held: %.2f KiB of server RSS\n", (h - b) / n }'
grep '^RESULT' "$LOGS/loadgen.out"
stop_server
echo "server said: $(tail -1 "$LOGS/server.out")"
exit "$status"
