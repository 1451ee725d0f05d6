#!/usr/bin/env bash
# CI part 2 (after ./scripts/test.sh): builds the emulated test board's image
# once, then runs the end-to-end test on it (`image-build e2e`): the image
# booted under qemu wired like a kiosk (virtio-gpu display, virtio tablet,
# USB serial reader, network printer, kiosk-central-sim over pinned TLS)
# serves citizens through its touchscreen; the boot checks (no simulator in
# the binary, /status with its token, BOOTCHECK on the console) run on its
# first boot. Then the update test (`image-build update-test`): RAUC
# bundles offered by the central simulator, installed, rebooted into and
# confirmed or refused, and the Pi image booted on qemu's raspi3b
# (DIR/update.json). Fails when a scenario fails (the JSON says which).
#
#   image-ci.sh                 build the images and the bundle, then test
#   image-ci.sh --images-only   only build them, then boot the Pi image on
#                               raspi3b (the update test's rpi-boot, reported
#                               by it later); .ci/run runs this beside the
#                               test suite; needs image-build already built
#   image-ci.sh --tests-only    only test the images a --images-only run left
#
# Caches outside the clone, reused between runs:
#   $CARGO_TARGET_DIR (scripts/env.sh)    cargo, host and aarch64
#   $HOME/.cache/kiosk-image/debs         downloaded .debs
#   $HOME/.cache/kiosk-image/rootfs       the mmdebstrap root, keyed on the recipe
# Outputs in $KIOSK_IMAGE_OUT (default $HOME/.cache/kiosk-image/out).
# Needs root (file ownership in the images, binfmt_misc).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
case "${1:-}" in
  "") ;;
  --images-only) mode=images ;;
  --tests-only) mode=tests ;;
  *) echo "usage: $0 [--images-only | --tests-only]" >&2; exit 2 ;;
esac
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
ib="$CARGO_TARGET_DIR/debug/image-build"
version="$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)"
if [ "$mode" = images ]; then
  # Beside the test suite, which holds the dev profile's lock: no cargo
  # call on it here (it would wait for the suite). image-build's own cargo
  # call cross-compiles the kiosk in the release profile, a lock of its own.
  # The suite's own build may link a new image-build in its place while
  # this runs (another feature set of a dependency): run a copy.
  [ -x "$ib" ] || { echo "image-ci: --images-only needs $ib built first" >&2; exit 1; }
  ib_copy="$(mktemp -d)"
  trap 'rm -rf "$ib_copy"' EXIT
  cp "$ib" "$ib_copy/image-build"
  ib="$ib_copy/image-build"
else
  # The host tool, the central simulator and the twins the e2e test runs on
  # the host, and the host kiosk (its `kiosk audit verify` reads the data
  # partition after each power cut), in the dev profile (warm with the test
  # suite's cache).
  cargo build -q -p image-build -p kiosk-sim -p kiosk --bin image-build --bin kiosk-central-sim --bin kiosk-twins --bin kiosk
fi
# A --tests-only run checks that the images it tests are this commit's: an
# --images-only run removes the stamp first and writes it last.
stamp="$out/image-ci.built"
built_here="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

build_qemu_virt() {
  local start
  start=$(date +%s)
  "$ib" build --image qemu-virt --out "$out"
  echo "image-ci: qemu-virt image built in $(( $(date +%s) - start )) s"
}
# The Pi image: same root file system and kiosk binary (cached), its own
# boot partition (Pi firmware, U-Boot, boot script, counters), checked here
# and booted on qemu's raspi3b by update-test; then the qemu-virt bundle.
build_rpi_and_bundle() {
  local start rpi_img f
  start=$(date +%s)
  "$ib" build --image rpi4 --out "$out"
  echo "image-ci: rpi4 image built in $(( $(date +%s) - start )) s"
  rpi_img="$out/kiosk-$version-rpi4.img"
  for f in u-boot.bin boot.scr kiosk.env config.txt start4.elf bcm2711-rpi-4-b.dtb; do
    mdir -b -i "$rpi_img@@1048576" "::/$f" >/dev/null ||
      { echo "image-ci: the rpi4 boot partition lacks $f" >&2; return 1; }
  done
  for f in vmlinuz initrd.img cmdline.txt; do
    if mdir -b -i "$rpi_img@@1048576" ::/ | grep -q "/$f"; then
      echo "image-ci: the rpi4 boot partition still holds $f (the kernel belongs to the slots)" >&2; return 1
    fi
  done
  mtype -i "$rpi_img@@1048576" ::/config.txt | grep -qx 'kernel=u-boot.bin' ||
    { echo "image-ci: config.txt does not start U-Boot" >&2; return 1; }
  echo "image-ci: rpi4 boot partition holds U-Boot, boot.scr, kiosk.env; no kernel"
  start=$(date +%s)
  "$ib" bundle --image qemu-virt --out "$out"
  echo "image-ci: qemu-virt bundle signed in $(( $(date +%s) - start )) s"
}

# A Pi boot left by an earlier run is not this run's.
rm -f "$out/rpi-boot.json"
case "$mode" in
  images)
    rm -f "$stamp"
    build_qemu_virt
    build_rpi_and_bundle
    echo "$built_here" > "$stamp"
    # The update test's rpi-boot scenario needs only the Pi image and qemu:
    # it runs now, beside the rest of the test suite, and leaves its result
    # (DIR/rpi-boot.json) for the update test to report. A failure is
    # reported there, not here.
    start=$(date +%s)
    "$ib" rpi-boot --image rpi4 --out "$out" || true
    echo "image-ci: the Pi booted on raspi3b beside the test suite in $(( $(date +%s) - start )) s"
    exit 0
    ;;
  tests)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$built_here" ]; then
      echo "image-ci: --tests-only, but $out holds no images that --images-only built from this commit" >&2
      exit 1
    fi
    ;;
esac

# The e2e test and the update test side by side: each boots its own copy of
# the image, and much of either is the guest waiting (for the screen, a
# download, a reboot). Both serve central and the printer twin on the same
# host ports (the image's config names 10.0.2.2:18443 and :19100, which
# qemu's user network maps to the host's loopback), so the update test runs
# in a network namespace of its own, with its own loopback. When this run
# builds the images, the e2e test starts as soon as its image is built and
# the Pi image and the bundle are built beside it. Each one's lines carry
# its name; the step fails when either fails. Job control gives each its own
# process group, so a failure here stops the other with its qemu and
# simulators.
set -m
run_prefixed() {
  local name="$1"
  shift
  local start
  start=$(date +%s)
  if "$@" 2>&1 | sed -u "s/^/[$name] /"; then
    echo "image-ci: $name passed in $(( $(date +%s) - start )) s"
  else
    echo "image-ci: $name FAILED after $(( $(date +%s) - start )) s" >&2
    return 1
  fi
}
pids=()
stop_tests() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
}
trap stop_tests EXIT
[ "$mode" = tests ] || build_qemu_virt
tests_start=$(date +%s)
run_prefixed e2e "$ib" e2e --image qemu-virt --out "$out" &
e2e_pid=$!
pids+=("$e2e_pid")
[ "$mode" = tests ] || build_rpi_and_bundle
run_prefixed update-test unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
  "$ib" update-test --image qemu-virt --out "$out" &
update_pid=$!
pids+=("$update_pid")
status=0
wait "$e2e_pid" || status=1
wait "$update_pid" || status=1
pids=()
echo "image-ci: e2e and update test, side by side, in $(( $(date +%s) - tests_start )) s"
exit "$status"
