#!/usr/bin/env bash
# Sets up, then runs the kiosk's main job on simulated devices and an
# embedded central simulator: a scripted citizen does a new low-voltage
# connection with an ID card. Extra arguments go to `kiosk demo`
# (e.g. --scenario offline). Outputs land in ./demo-out.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
out="${DEMO_OUT:-demo-out}"
cargo run -q -p kiosk -- demo --headless --out "$out" "$@"
