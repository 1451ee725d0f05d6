#!/usr/bin/env bash
# Sets up, then runs the whole test suite: formatting, lints, every test of
# the workspace (unit, property, end-to-end scenarios).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace
