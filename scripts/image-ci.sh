#!/usr/bin/env bash
# CI part 2 (after ./scripts/test.sh): builds the emulated test board's image
# and boot-tests it under qemu, wired like a kiosk (a USB serial reader,
# kiosk-central-sim on the host over pinned TLS). Fails when the kiosk does
# not answer /status within 5 minutes, or its binary holds simulator code. Caches outside the clone, reused between runs:
#   $CARGO_TARGET_DIR (scripts/env.sh)    cargo, host and aarch64
#   $HOME/.cache/kiosk-image/debs         downloaded .debs
#   $HOME/.cache/kiosk-image/rootfs       the mmdebstrap root, keyed on the recipe
# Outputs in $KIOSK_IMAGE_OUT (default $HOME/.cache/kiosk-image/out).
# Needs root (file ownership in the images, binfmt_misc).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --image
. scripts/env.sh
out="${KIOSK_IMAGE_OUT:-$HOME/.cache/kiosk-image/out}"
mkdir -p "$out"
# The face models are optional on the test board; use a local copy if the
# machine has one (`kiosk models fetch` is tried otherwise).
if [ -z "${KIOSK_MODELS_DIR:-}" ] && [ -d ../shared/models ]; then
  KIOSK_MODELS_DIR="$(cd ../shared/models && pwd)"
  export KIOSK_MODELS_DIR
fi
# The host tool and the central simulator the boot test runs on the host,
# in the dev profile (warm with the test suite's cache).
cargo build -q -p image-build -p kiosk-sim --bin image-build --bin kiosk-central-sim --bin kiosk-twins
ib="$CARGO_TARGET_DIR/debug/image-build"
start=$(date +%s)
"$ib" build --image qemu-virt --out "$out"
echo "image-ci: qemu-virt image built in $(( $(date +%s) - start )) s"
"$ib" boot-test --image qemu-virt --out "$out" --timeout-secs 300
