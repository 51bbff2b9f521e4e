#!/bin/sh
# SPDX-License-Identifier: MIT
# A bounded soak: redis-server under redis-benchmark on loopback, recorded with --full --max-size; checks the trace never passes the cap.
#
# usage: scripts/soak.sh [SECONDS] [CAP]     (defaults: 600 and 50M)
# Not part of `make test`. Prints one line every 10 s: elapsed time, trace
# size, the server's resident set, and whether the trace was capped; exits
# 1 if the trace ever exceeds the cap.
set -eu

DURATION=${1:-600}
CAP=${2:-50M}
PORT=${SOAK_PORT:-6399}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRESTANDA=$ROOT/build/prestanda
DIR=$(mktemp -d /tmp/prestanda-soak.XXXXXX)

case $CAP in
*K|*k) CAP_BYTES=$(( ${CAP%?} * 1024 )) ;;
*M|*m) CAP_BYTES=$(( ${CAP%?} * 1024 * 1024 )) ;;
*G|*g) CAP_BYTES=$(( ${CAP%?} * 1024 * 1024 * 1024 )) ;;
*) CAP_BYTES=$CAP ;;
esac

for tool in redis-server redis-benchmark redis-cli; do
	command -v $tool >/dev/null || { echo "soak: $tool not found (scripts/install-deps.sh)" >&2; exit 2; }
done
[ -x "$PRESTANDA" ] || { echo "soak: build first (make all)" >&2; exit 2; }

"$PRESTANDA" run --full --max-size "$CAP" -o "$DIR/redis.%p.trace" -- \
	redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize no --loglevel warning >"$DIR/run.log" 2>&1 &
RUN=$!
BENCH=
cleanup() {
	[ -n "$BENCH" ] && kill "$BENCH" 2>/dev/null || true
	redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
	wait "$RUN" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 100); do
	redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
PID=$(redis-cli -p "$PORT" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
TRACE=$DIR/redis.$PID.trace
echo "soak: redis-server pid $PID, trace $TRACE, cap $CAP ($CAP_BYTES bytes), $DURATION s"

# The load: benchmark rounds, back to back, until the time is up.
(
	end=$(( $(date +%s) + DURATION ))
	while [ "$(date +%s)" -lt "$end" ]; do
		redis-benchmark -p "$PORT" -q -c 50 -n 20000 -r 100000 -d 64 \
			-t set,get,incr,lpush,lpop,sadd,hset >>"$DIR/bench.log" 2>&1 || true
	done
) &
BENCH=$!

start=$(date +%s)
max=0
status=0
printf '%8s %14s %12s %s\n' seconds trace_bytes rss_kib capped
while kill -0 "$BENCH" 2>/dev/null; do
	sleep 10
	size=$(stat -c %s "$TRACE" 2>/dev/null || echo 0)
	rss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' /proc/"$PID"/status 2>/dev/null || echo 0)
	capped=no
	grep -q "reached --max-size" "$DIR/run.log" && capped=yes
	[ "$size" -gt "$max" ] && max=$size
	printf '%8d %14d %12s %s\n' $(( $(date +%s) - start )) "$size" "$rss" "$capped"
	if [ "$size" -gt "$CAP_BYTES" ]; then
		echo "soak: FAIL: the trace is $size bytes, over the cap of $CAP_BYTES" >&2
		status=1
	fi
done
BENCH=
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
wait "$RUN" 2>/dev/null || true
size=$(stat -c %s "$TRACE")
[ "$size" -gt "$max" ] && max=$size
echo "soak: final trace size $size bytes (largest seen $max, cap $CAP_BYTES)"
grep -m1 "ops/sec\|requests per second" "$DIR/bench.log" >/dev/null &&
	echo "soak: benchmark rounds: $(grep -c 'SET:' "$DIR/bench.log")"
"$PRESTANDA" report --timeline "$TRACE" 2>&1 | sed -n '/^Timeline/,$p' | tail -5 || true
if [ "$size" -gt "$CAP_BYTES" ]; then
	echo "soak: FAIL: final trace over the cap" >&2
	status=1
fi
[ $status -eq 0 ] && echo "soak: OK: the trace stayed under the cap"
echo "soak: files kept in $DIR"
exit $status
