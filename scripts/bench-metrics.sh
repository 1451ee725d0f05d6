#!/usr/bin/env bash
# /metrics under load: the kiosk's status endpoint and Debian's
# prometheus-node-exporter on the same machine, each hammered by wrk with
# the same settings. Prints requests/s and p99 latency for both.
#   ./scripts/bench-metrics.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
SECS=${1:-20}
CONNS=${2:-32}
for p in wrk prometheus-node-exporter; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk prometheus-node-exporter >/dev/null; break; }
done
cargo build -q -p kiosk --bin kiosk
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/kiosk.toml" <<TOML
device_id = "BENCH"
data_dir = "$work/data"
[status]
addr = "127.0.0.1:18700"
token = "bench-token"
rate_limit = { per_second = 1000000, burst = 1000000 }
[central]
url = "sim"
TOML
"$CARGO_TARGET_DIR/debug/kiosk" run --config "$work/kiosk.toml" >"$work/kiosk.log" 2>&1 &
/usr/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >"$work/ne.log" 2>&1 &
for _ in $(seq 50); do
  curl -sf -H "Authorization: Bearer bench-token" http://127.0.0.1:18700/metrics >/dev/null 2>&1 \
    && curl -sf http://127.0.0.1:19100/metrics >/dev/null 2>&1 && break
  sleep 0.2
done
echo "kiosk /metrics: $(curl -s -H 'Authorization: Bearer bench-token' http://127.0.0.1:18700/metrics | wc -c) bytes; node_exporter /metrics: $(curl -s http://127.0.0.1:19100/metrics | wc -c) bytes"
run() {
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" | awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {printf "%s req/s, p99 %s\n", rps, p99}'
}
echo "kiosk:         $(run -H 'Authorization: Bearer bench-token' http://127.0.0.1:18700/metrics)"
echo "node_exporter: $(run http://127.0.0.1:19100/metrics)"
