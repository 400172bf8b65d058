#!/usr/bin/env bash
# End-to-end run of the Python client against a running kinde-gateway in --emulator mode.
#
# Usage: examples/python/e2e.sh ADDR API_KEY EMULATOR_BASE_URL
#   e.g. examples/python/e2e.sh 127.0.0.1:50051 kinde-gateway-demo-key-loopback-only http://127.0.0.1:PORT
#
# Needs no root: uses the virtual environment in $KINDE_M2M_VENV (default <repo>/.venv), making
# it and installing scripts/requirements-test.txt into it when a package is missing (PyPI once).
# Then generates the stubs from proto/ into examples/python/generated/ (git-ignored) and runs
# e2e.py, which injects faults into the emulator and checks the client's output and the
# emulator's log and state. Bounded in time; exits non-zero with a one-line reason on failure.
#
# The faults it injects apply to every caller of that emulator: run it against a gateway that no
# other test uses at the same time (it takes about 10 s). KINDE_E2E_TIMEOUT bounds the run in
# seconds (default 300); when it is out of time, or this script is stopped by a signal, the run
# and every client it started are killed and the faults cleared.
set -euo pipefail

NAME="python client e2e"
fail() {
    echo "$NAME: FAILED: $*" >&2
    exit 1
}
[[ $# -eq 3 ]] || {
    echo "usage: $0 ADDR API_KEY EMULATOR_BASE_URL" >&2
    exit 2
}

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${KINDE_M2M_VENV:-$REPO/.venv}"
PY="$VENV/bin/python3"
NEEDED="import grpc, grpc_tools, grpc_status, google.rpc.error_details_pb2, google.protobuf"

if [[ ! -x "$PY" ]]; then
    echo "$NAME: making the Python environment in $VENV" >&2
    python3 -m venv "$VENV" || fail "cannot make a virtual environment in $VENV (python3 -m venv)"
fi
if ! "$PY" -c "$NEEDED" >/dev/null 2>&1; then
    echo "$NAME: installing scripts/requirements-test.txt into $VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REPO/scripts/requirements-test.txt" \
        || fail "pip could not install scripts/requirements-test.txt into $VENV"
    "$PY" -c "$NEEDED" || fail "the packages of scripts/requirements-test.txt do not import in $VENV"
fi

"$PY" "$HERE/generate_stubs.py" >/dev/null || fail "protoc could not generate the stubs from proto/"

# Killed, e2e.py could not clear its faults: clear them here.
clear_faults() {
    "$PY" - "$EMULATOR" <<'PY' || true
import sys, urllib.request
request = urllib.request.Request(sys.argv[1].rstrip("/") + "/_emulator/faults", data=b"{}", method="PUT")
urllib.request.urlopen(request, timeout=10).close()
PY
}
EMULATOR="$3"
# shellcheck source=examples/bounded-e2e.sh
source "$HERE/../bounded-e2e.sh"
bounded_e2e "${KINDE_E2E_TIMEOUT:-300}" clear_faults "$PY" "$HERE/e2e.py" "$@"
