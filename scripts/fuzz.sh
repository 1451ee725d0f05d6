#!/usr/bin/env bash
# Builds and runs every fuzz target (drivers/fuzz, core/fuzz) for SECONDS
# each (default 600), one after another, with libFuzzer and AddressSanitizer.
#   ./scripts/fuzz.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). This machine has
# only a stable toolchain; RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's
# nightly flags. Corpora and crashes stay in each crate's fuzz/corpus and
# fuzz/artifacts (git-ignored); a crash found is fixed and its input kept as
# a regression test next to the code it broke.
set -u
SECS=${1:-600}
root="$(cd "$(dirname "$0")/.." && pwd)"
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$HOME/.cache/kiosk-fuzz-target PATH=$HOME/.cargo/bin:$PATH
for crate in drivers kiosk; do
  cd "$root/$crate/fuzz"
  echo "== build $crate $(date +%T)"
  nice -n 10 cargo fuzz build -O 2>&1 | tail -3
  for t in $(cargo fuzz list); do
    echo "== run $crate/$t for ${SECS}s $(date +%T)"
    mkdir -p corpus/$t
    nice -n 10 cargo fuzz run -O $t corpus/$t -- -max_total_time=$SECS -rss_limit_mb=2048 2>&1 | grep -E "^#[0-9]+ *DONE|Done [0-9]+ runs|ERROR|panicked|SUMMARY|crash-|Test unit written" | tail -5
    echo "== end $crate/$t $(date +%T)"
  done
done
echo "== all done $(date +%T)"
