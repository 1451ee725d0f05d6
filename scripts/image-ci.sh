#!/usr/bin/env bash
# CI part 2 (after ./scripts/test.sh): builds the emulated test board's image
# once, then runs the end-to-end test on it (`image-build e2e`): the image
# booted under qemu wired like a kiosk (virtio-gpu display, virtio tablet,
# USB serial reader, network printer, kiosk-central-sim over pinned TLS)
# serves citizens through its touchscreen; the boot checks (no simulator in
# the binary, /status with its token, BOOTCHECK on the console) run on its
# first boot. Fails when a scenario fails (DIR/e2e.json says which).
# Caches outside the clone, reused between runs:
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
# The host tool, the central simulator and the twins the e2e test runs on
# the host, and the host kiosk (its `kiosk audit verify` reads the data
# partition after each power cut), in the dev profile (warm with the test
# suite's cache).
cargo build -q -p image-build -p kiosk-sim -p kiosk --bin image-build --bin kiosk-central-sim --bin kiosk-twins --bin kiosk
ib="$CARGO_TARGET_DIR/debug/image-build"
start=$(date +%s)
"$ib" build --image qemu-virt --out "$out"
echo "image-ci: qemu-virt image built in $(( $(date +%s) - start )) s"
start=$(date +%s)
"$ib" e2e --image qemu-virt --out "$out"
echo "image-ci: e2e passed in $(( $(date +%s) - start )) s"
