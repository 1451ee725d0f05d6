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
# The e2e test and the update test side by side: each boots its own copy of
# the image, and much of either is the guest waiting (for the screen, a
# download, a reboot). Both serve central and the printer twin on the same
# host ports (the image's config names 10.0.2.2:18443 and :19100, which
# qemu's user network maps to the host's loopback), so the update test runs
# in a network namespace of its own, with its own loopback. The e2e test
# starts as soon as its image is built; the Pi image and the bundle are
# built beside it. Each one's lines carry its name; the step fails when
# either fails. Job control gives each its own process group, so a failure
# here stops the other with its qemu and simulators.
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
tests_start=$(date +%s)
run_prefixed e2e "$ib" e2e --image qemu-virt --out "$out" &
e2e_pid=$!
pids+=("$e2e_pid")
# The Pi image: same root file system and kiosk binary (cached), its own
# boot partition (Pi firmware, U-Boot, boot script, counters), checked by
# rpi_boot_partition_check below and booted on qemu's raspi3b by update-test.
start=$(date +%s)
"$ib" build --image rpi4 --out "$out"
echo "image-ci: rpi4 image built in $(( $(date +%s) - start )) s"
rpi_img="$out/kiosk-$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)-rpi4.img"
for f in u-boot.bin boot.scr kiosk.env config.txt start4.elf bcm2711-rpi-4-b.dtb; do
  mdir -b -i "$rpi_img@@1048576" "::/$f" >/dev/null ||
    { echo "image-ci: the rpi4 boot partition lacks $f" >&2; exit 1; }
done
for f in vmlinuz initrd.img cmdline.txt; do
  if mdir -b -i "$rpi_img@@1048576" ::/ | grep -q "/$f"; then
    echo "image-ci: the rpi4 boot partition still holds $f (the kernel belongs to the slots)" >&2; exit 1
  fi
done
mtype -i "$rpi_img@@1048576" ::/config.txt | grep -qx 'kernel=u-boot.bin' ||
  { echo "image-ci: config.txt does not start U-Boot" >&2; exit 1; }
echo "image-ci: rpi4 boot partition holds U-Boot, boot.scr, kiosk.env; no kernel"
start=$(date +%s)
"$ib" bundle --image qemu-virt --out "$out"
echo "image-ci: qemu-virt bundle signed in $(( $(date +%s) - start )) s"
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
