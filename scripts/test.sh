#!/usr/bin/env bash
# The whole test suite: installs what the tests use (tmux), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
ensure_deps
tmux -V
cargo test --locked
