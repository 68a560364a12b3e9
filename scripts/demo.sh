#!/usr/bin/env bash
# Installs fleet (and tmux if missing), brings up a demo fleet of stub
# agents on its own tmux socket, and shows it with `fleet ps`.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-deps.sh
ensure_deps demo

echo "==> cargo install --path . (fleet and fleet-stub)"
cargo install --quiet --locked --path . --root "${CARGO_HOME:-$HOME/.cargo}"
bin="${CARGO_HOME:-$HOME/.cargo}/bin"

# The demo lives on a socket of its own, apart from any real fleet.
export MOSAIC_TMUX_SOCKET=fleet-demo
# Where the pane finds the stub, whatever the tmux server's PATH is.
export MOSAIC_RUNTIME_BIN="$bin"

cd examples/demo
echo "==> fleet up"
# janitor is broken on purpose: up reports why it died, and exits 1.
"$bin/fleet" up || echo "(fleet up exited $?: janitor is broken on purpose)"
# Give the stubs a moment: scout asks for approval after 2 s.
sleep 3
echo
echo "==> fleet ps"
"$bin/fleet" ps
echo
echo "The demo fleet runs on tmux socket 'fleet-demo'. From examples/demo, try:"
echo "  export MOSAIC_TMUX_SOCKET=fleet-demo"
echo "  fleet ps                 # the table again (--json for scripts)"
echo "  fleet watch              # transitions as they happen (Ctrl-C to stop)"
echo "  fleet peek scout         # scout's screen: it waits for approval"
echo "  fleet explain scout      # why fleet says it waits: the signal and its evidence"
echo "  fleet send scout y       # answer it (a recorded takeover act)"
echo "  fleet wait scout --until idle --timeout 1m   # block until it is done"
echo "  fleet logs janitor       # why janitor exited 127"
echo "  fleet verify             # durability and policy checks"
echo "  fleet events             # the history"
echo "  fleet attach builder     # read-only; detach with the tmux prefix, then d"
echo "  fleet dash               # the live dashboard (q to quit)"
echo "  fleet serve              # the fleet in a browser: open the URL it prints"
echo "  fleet down               # stop the demo"
