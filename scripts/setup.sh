#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian bookworm:
# Debian packages (a C toolchain, the fontconfig Slint links, a CJK font
# for receipts, curl and unzip for the face models' registry originals,
# systemd's systemd-analyze that rates the kiosk's unit) and
# the Rust components. Idempotent and quick when everything is already there.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(build-essential pkg-config libclang-dev libfontconfig1-dev curl ca-certificates unzip
  python3 python3-venv
  fonts-wqy-microhei fonts-dejavu-core prometheus espeak-ng
  dosfstools mtools fdisk e2fsprogs systemd)
# `--image`: what building and boot-testing the SD-card image needs
# (scripts/image-ci.sh): the aarch64 cross toolchain, qemu-user for the
# arm64 root file system, mmdebstrap, qemu-system for the boot test, zstd;
# for the end-to-end test, tesseract (reads the printed receipts back) and
# systemd's journalctl (reads the kiosk's journal off its data partition);
# for the boot chain and updates, U-Boot for the emulated board
# (u-boot-qemu, its -bios), mkimage and mkenvimage (u-boot-tools), rauc and
# squashfs-tools (signed verity bundles) and cpio (checks the initrd a
# test bundle carries); iproute2 and util-linux's unshare (the update test
# runs beside the e2e test in a network namespace of its own);
# and, from Debian's arm64 multiarch archive, the fontconfig the kiosk links
# (Slint's system-font loader, yeslogic-fontconfig-sys via pkg-config; see
# .cargo/config.toml) and the libinput, libxkbcommon and libudev its KMS
# backend links (the `device` feature). They pull libfreetype-dev,
# libexpat1-dev, libpng-dev, zlib1g-dev, libc6-dev, pkgconf, libglib2.0,
# libwacom, libevdev, libmtdev for arm64, all co-installable with the amd64
# ones (apt first upgrades amd64 packages such as libssl3, libexpat1 or
# systemd's libudev1 and libsystemd0 so both architectures carry the same
# version).
IMAGE=0
if [ "${1:-}" = "--image" ]; then
  IMAGE=1
  APT_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
    binfmt-support arch-test qemu-system-arm mmdebstrap zstd kmod
    tesseract-ocr tesseract-ocr-eng systemd
    u-boot-qemu u-boot-tools rauc squashfs-tools cpio iproute2 util-linux
    libfontconfig-dev:arm64 libinput-dev:arm64 libxkbcommon-dev:arm64 libudev-dev:arm64)
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: adding the arm64 architecture to dpkg"
    $SUDO dpkg --add-architecture arm64
  fi
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # Not `dpkg -s`: with arm64 added it refuses a name installed for both
  # architectures (pkg-config) as ambiguous.
  dpkg-query -W -f='${db:Status-Abbrev}\n' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: cargo not found; install Rust with rustup first" >&2
    exit 1
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  for c in clippy rustfmt; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
  if [ "$IMAGE" = 1 ]; then
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
      rustup target add aarch64-unknown-linux-gnu
  fi
fi
