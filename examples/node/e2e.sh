#!/usr/bin/env bash
# End-to-end run of the Node client against a running kinde-gateway in --emulator mode.
#
# Usage: examples/node/e2e.sh ADDR API_KEY EMULATOR_BASE_URL
#   e.g. examples/node/e2e.sh 127.0.0.1:50051 kinde-gateway-demo-key-loopback-only http://127.0.0.1:PORT
#
# Needs no root, only Node.js 18.3+ with npm: installs examples/node/node_modules from the
# committed package-lock.json (`npm ci`, the npm registry once) when it is missing or older than
# the lock file. Then runs e2e.js, which injects faults into the emulator and checks the
# client's output and the emulator's log and state. Bounded in time; exits non-zero with a
# one-line reason on failure.
#
# The faults it injects apply to every caller of that emulator: run it against a gateway that no
# other test uses at the same time (it takes about 10 s). KINDE_E2E_TIMEOUT bounds the run in
# seconds (default 300); when it is out of time, or this script is stopped by a signal, the run
# and every client it started are killed and the faults cleared.
set -euo pipefail

NAME="node client e2e"
fail() {
    echo "$NAME: FAILED: $*" >&2
    exit 1
}
[[ $# -eq 3 ]] || {
    echo "usage: $0 ADDR API_KEY EMULATOR_BASE_URL" >&2
    exit 2
}

HERE="$(cd "$(dirname "$0")" && pwd)"
command -v node >/dev/null || fail "node is not installed (Node.js 18.3 or later is needed)"
command -v npm >/dev/null || fail "npm is not installed"

if [[ ! -f "$HERE/node_modules/.package-lock.json" || "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
    echo "$NAME: installing examples/node/node_modules (npm ci)" >&2
    # No install scripts: the three packages need none.
    (cd "$HERE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) \
        || fail "npm ci could not install examples/node/node_modules"
fi

# Killed, e2e.js could not clear its faults: clear them here.
clear_faults() {
    node -e 'fetch(process.argv[1].replace(/\/+$/, "") + "/_emulator/faults", {method: "PUT", body: "{}"}).catch(() => {})' "$EMULATOR" || true
}
EMULATOR="$3"
# shellcheck source=examples/bounded-e2e.sh
source "$HERE/../bounded-e2e.sh"
bounded_e2e "${KINDE_E2E_TIMEOUT:-300}" clear_faults node "$HERE/e2e.js" "$@"
