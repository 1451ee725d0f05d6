# Sourced by the scripts: one build cache outside the clone, so repeated runs
# (and CI on the same machine) build incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiosk-target}"
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$CARGO_TARGET_DIR"
