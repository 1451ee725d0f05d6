#!/usr/bin/env bash
# Side-by-side face-check speed: our Rust pipeline (tract) vs the same ONNX
# models on onnxruntime (one thread) vs dlib's face_recognition (one thread).
#
#   tests/face-bench/run.sh [--images DIR] [--models DIR] [--repeats N] [--out FILE]
#
# Creates a venv under $HOME/.cache/kiosk-face-bench-venv (PyPI only) on first
# use, builds the Rust bench binary, then runs compare.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${KIOSK_FACE_BENCH_VENV:-$HOME/.cache/kiosk-face-bench-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiosk-target}"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.ok" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet onnxruntime numpy pillow dlib-bin face-recognition-models
  # face_recognition depends on "dlib", which pip would build from source;
  # dlib-bin provides the same module prebuilt, so skip its dependencies and
  # install the pure-Python ones it needs ourselves.
  "$venv/bin/pip" install --quiet --no-deps face_recognition
  "$venv/bin/pip" install --quiet Click
  "$venv/bin/python" -c "import onnxruntime, dlib, face_recognition, numpy, PIL" && touch "$venv/.ok"
fi

# One thread everywhere (BLAS/OpenMP pools inside numpy or dlib included).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# The device runs a release build. The dev profile compiles our own crates at
# opt-level 0 (only dependencies, tract included, are optimised), which makes
# our per-pixel code (letterbox, warp) 5-30x slower than on the device; so the
# bench builds kiosk and the testbed optimised, in the dev profile otherwise
# (the dependencies' artifacts are shared with every other dev build; these
# settings hash into separate artifacts, so nothing else is rebuilt).
# KIOSK_BENCH_OPT=0 measures the plain dev build instead.
opt=()
build="dev profile, kiosk + kiosk-testbed at opt-level 3"
if [ "${KIOSK_BENCH_OPT:-1}" != 0 ]; then
  opt=(--config 'profile.dev.package.kiosk.opt-level=3' --config 'profile.dev.package.kiosk-testbed.opt-level=3')
else
  build="dev profile (our crates opt-level 0)"
fi
(cd "$root" && cargo build --quiet -p kiosk-testbed --bin bench-face "${opt[@]}")
bin="$(mktemp -d)/bench-face"
cp "$CARGO_TARGET_DIR/debug/bench-face" "$bin"
exec "$venv/bin/python" "$here/compare.py" --bench-bin "$bin" --ours-build "$build" "$@"
