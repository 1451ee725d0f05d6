#!/usr/bin/env bash
# Sets up, then runs the kiosk's main job on simulated devices and an
# embedded central simulator: a scripted citizen verifies their face on the
# kiosk and does a new low-voltage connection. Extra arguments go to
# `kiosk demo` (e.g. --scenario offline). Outputs land in ./demo-out.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
out="${DEMO_OUT:-demo-out}"
args=("$@")
# The face scenarios need the face models and test photos of the shared
# folder beside the checkout (or KIOSK_MODELS_DIR / KIOSK_DEMO_FACES).
if [ "${#args[@]}" -eq 0 ] && [ -z "${KIOSK_MODELS_DIR:-}" ] && [ ! -d ../shared/models ]; then
  echo "demo: no face models here (../shared/models); running the ID-card scenario instead" >&2
  args=(--scenario new-connection-idcard)
fi
cargo run -q -p kiosk -- demo --headless --out "$out" "${args[@]}"
