#!/usr/bin/env bash
# Installs fleet (and tmux if missing), brings up a demo fleet of stub
# agents on its own tmux socket, and shows it with `fleet ps`.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-deps.sh
ensure_deps

echo "==> cargo install --path . (fleet and fleet-stub)"
cargo install --quiet --locked --path . --root "${CARGO_HOME:-$HOME/.cargo}"
bin="${CARGO_HOME:-$HOME/.cargo}/bin"

# The demo lives on a socket of its own, apart from any real fleet.
export MOSAIC_TMUX_SOCKET=fleet-demo
# Where the pane finds the stub, whatever the tmux server's PATH is.
export MOSAIC_RUNTIME_BIN="$bin"

cd examples/demo
echo "==> fleet up"
"$bin/fleet" up
sleep 1
echo
echo "==> fleet ps"
"$bin/fleet" ps
echo
echo "The demo fleet runs on tmux socket 'fleet-demo'. From examples/demo:"
echo "  MOSAIC_TMUX_SOCKET=fleet-demo fleet ps           # the table again"
echo "  MOSAIC_TMUX_SOCKET=fleet-demo fleet ps --json    # for scripts"
echo "  tmux -L fleet-demo attach -t builder -r          # watch one agent (read-only)"
echo "  MOSAIC_TMUX_SOCKET=fleet-demo fleet down         # stop the demo"
