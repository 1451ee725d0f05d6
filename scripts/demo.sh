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
# The face scenarios need face models and test photos: the shared folder
# beside the checkout has both (or KIOSK_MODELS_DIR / KIOSK_DEMO_FACES).
# Without it (a newcomer's checkout), the default face scenario runs on the
# models `kiosk models fetch` gets from the registries and on two portraits
# of one person (public-domain White House photographs) from the test
# images of the face_recognition 1.3.0 source package on PyPI (MIT),
# pinned by digest; both cached outside the clone. If either cannot be
# had, the demo says why and runs the ID-card scenario.
face_material() {
  local cache="${KIOSK_DEMO_CACHE:-$HOME/.cache/kiosk-demo}"
  local sdist="$cache/face_recognition-1.3.0.tar.gz"
  local url="https://files.pythonhosted.org/packages/6c/49/75dda409b94841f01cbbc34114c9b67ec618265084e4d12d37ab838f4fd3/face_recognition-1.3.0.tar.gz"
  local sha256="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
  local photos="face_recognition-1.3.0/tests/test_images"
  mkdir -p "$cache/faces/pairs"
  if [ ! -s "$cache/models/centerface.onnx" ]; then
    echo "demo: fetching the face models (kiosk models fetch) into $cache/models" >&2
    if ! cargo run -q -p kiosk -- models fetch --dir "$cache/models" >/dev/null; then
      echo "demo: kiosk models fetch failed (above)" >&2
      return 1
    fi
  fi
  if [ ! -s "$cache/faces/pairs/img2.jpg" ]; then
    echo "demo: fetching two test photos (face_recognition 1.3.0 on PyPI) into $cache/faces" >&2
    if ! curl -fsSL -o "$sdist.part" "$url"; then
      rm -f "$sdist.part"
      echo "demo: cannot download $url" >&2
      return 1
    fi
    if ! echo "$sha256  $sdist.part" | sha256sum -c --quiet - >/dev/null 2>&1; then
      rm -f "$sdist.part"
      echo "demo: $url is not the pinned file (sha256 differs)" >&2
      return 1
    fi
    mv "$sdist.part" "$sdist"
    # The reference (as central's identity record) and the camera's subject.
    tar -xzOf "$sdist" "$photos/obama2.jpg" > "$cache/faces/pairs/img1.jpg"
    tar -xzOf "$sdist" "$photos/obama.jpg" > "$cache/faces/pairs/img2.jpg"
  fi
  export KIOSK_MODELS_DIR="$cache/models" KIOSK_DEMO_FACES="$cache/faces"
}
if [ "${#args[@]}" -eq 0 ] && [ -z "${KIOSK_MODELS_DIR:-}" ] && [ ! -d ../shared/models ]; then
  if ! face_material; then
    echo "demo: no face models or test photos here; running the ID-card scenario instead" >&2
    args=(--scenario new-connection-idcard)
  fi
fi
cargo run -q -p kiosk -- demo --headless --out "$out" "${args[@]}"
