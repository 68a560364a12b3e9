#!/usr/bin/env bash
# The whole test suite: installs what the tests use (tmux, node and npm,
# systemd for systemd-analyze, OpenSSH, Chromium and chromedriver),
# then runs them. The real-runtime lab installs its pinned runtimes from npm
# on first use (into target/lab/runtimes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
ensure_deps tests
tmux -V
echo "node $(node --version), npm $(npm --version)"
systemd-analyze --version | sed -n 1p
chromedriver --version
cargo test --locked
