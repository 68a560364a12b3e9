#!/usr/bin/env bash
# The whole test suite: installs what the tests use (tmux, node and npm,
# systemd for systemd-analyze, OpenSSH, openssl, Chromium and chromedriver,
# iproute2), then runs them. The real-runtime lab installs its pinned runtimes from npm
# on first use (into target/lab/runtimes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
ensure_deps tests
tmux -V
echo "node $(node --version), npm $(npm --version)"
# The real runtimes need node 20.6 or newer (Debian 12's own is 18).
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 6) ? 0 : 1)' || {
    echo "test.sh: node $(node --version) is too old: the real runtimes need 20.6 or newer (e.g. from https://deb.nodesource.com)" >&2
    exit 1
}
systemd-analyze --version | sed -n 1p
chromedriver --version
cargo test --locked
