#!/usr/bin/env bash
# Resident memory of the kiosk with its touchscreen up (software renderer,
# 1280x800, under Xvfb) and the face models loaded (the face demo scenario),
# side by side with headless Chromium showing the same screen as a static
# page (docs/bench/attract.html). Needs: xvfb, chromium (Debian packages;
# not installed by CI), a built `kiosk` binary (the dev profile's by default: dependencies, Slint included, are optimised).
#
#   scripts/bench-ui-memory.sh [path/to/kiosk]
#
# Prints RSS and PSS (proportional set size: shared pages split among the
# processes that map them) in MiB; for Chromium, summed over its processes.
set -euo pipefail
cd "$(dirname "$0")/.."
KIOSK="${1:-${CARGO_TARGET_DIR:-target}/debug/kiosk}"
SETTLE="${SETTLE:-15}"
out="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

# kB of a field (Rss or Pss) summed over the given PIDs.
sum_kb() {
  local field="$1"; shift
  local total=0 v
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1==f {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
descendants() { # the PID and all its descendants
  local p="$1"; echo "$p"
  for c in $(pgrep -P "$p" || true); do descendants "$c"; done
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

Xvfb :97 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
sleep 1
DISPLAY=:97 SLINT_BACKEND=winit-software "$KIOSK" demo --scenario new-connection-face --out "$out/demo" >/dev/null 2>&1 &
kiosk_pid=$!
pids+=("$kiosk_pid")
sleep "$SETTLE"
k_rss=$(sum_kb Rss "$kiosk_pid"); k_pss=$(sum_kb Pss "$kiosk_pid")

chromium --headless=new --no-sandbox --disable-gpu --window-size=1280,800 \
  --user-data-dir="$out/chromium" --remote-debugging-port=0 \
  "file://$PWD/docs/bench/attract.html" >/dev/null 2>&1 &
chrome_pid=$!
pids+=("$chrome_pid")
sleep "$SETTLE"
mapfile -t chrome_all < <(descendants "$chrome_pid")
c_rss=$(sum_kb Rss "${chrome_all[@]}"); c_pss=$(sum_kb Pss "${chrome_all[@]}")

printf '%-44s %10s %10s\n' "" "RSS MiB" "PSS MiB"
printf '%-44s %10s %10s\n' "kiosk (UI + face models + twins + simulator)" "$(mib "$k_rss")" "$(mib "$k_pss")"
printf '%-44s %10s %10s\n' "chromium headless, ${#chrome_all[@]} processes" "$(mib "$c_rss")" "$(mib "$c_pss")"
