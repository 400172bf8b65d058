# Sourced by examples/python/e2e.sh and examples/node/e2e.sh: runs a client's e2e program under
# a time limit, and stops it, with every client process it started, when time runs out or the
# calling script is stopped by a signal (the step of scripts/e2e around it, Ctrl-C).
#
# The program runs under `timeout`, which puts itself, the program and the program's children
# in a process group of their own and passes a TERM on to the whole group. A killed program
# could not clear the faults it injected into the emulator, so they are cleared here.

# bounded_e2e LIMIT CLEAR_FAULTS COMMAND...: runs COMMAND for at most LIMIT seconds and exits
# with its status. On time-out or a signal it kills the group, runs the function CLEAR_FAULTS,
# and calls the caller's `fail` with a one-line reason.
bounded_e2e() {
    local limit="$1" clear_faults="$2" status=0
    shift 2
    BOUNDED_PID=""
    BOUNDED_CLEAR="$clear_faults"
    trap bounded_e2e_stopped INT TERM HUP

    timeout --kill-after=10 "$limit" "$@" &
    BOUNDED_PID=$!
    wait "$BOUNDED_PID" || status=$?
    BOUNDED_PID=""
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        "$clear_faults"
        fail "did not finish within $limit s"
    fi
    exit "$status"
}

bounded_e2e_stopped() {
    if [[ -n "$BOUNDED_PID" ]]; then
        kill "$BOUNDED_PID" 2>/dev/null || true
        wait "$BOUNDED_PID" 2>/dev/null || true
        "$BOUNDED_CLEAR"
    fi
    fail "stopped by a signal"
}
