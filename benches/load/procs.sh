# benches/load/procs.sh: process bookkeeping for the bench scripts (sourced by benches/load.sh
# and benches/certs.sh): logging, the temp dir, starting background processes and stopping
# every one of them on exit, port checks, and duration parsing. BENCH_TAG (default `load`)
# names the log prefix and the temp dir.

BENCH_TAG=${BENCH_TAG:-load}

# The repository root, the working directory from here on, and cargo's target directory (a
# relative CARGO_TARGET_DIR is taken from the repository root).
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO_ROOT/$TARGET_DIR
export CARGO_TARGET_DIR=$TARGET_DIR
log() { printf '[%s] %s\n' "$BENCH_TAG" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

TMP=$(mktemp -d -t "tenant-gateway-$BENCH_TAG.XXXXXX")
PIDS=()    # every process this script started
SIGNALS=() # the signal that stops each one quickly
NAMES=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local i
    for i in "${!PIDS[@]}"; do
        kill "-${SIGNALS[$i]}" "${PIDS[$i]}" 2>/dev/null || true
    done
    for i in "${!PIDS[@]}"; do
        # Give each a moment, then insist.
        local n=0
        while kill -0 "${PIDS[$i]}" 2>/dev/null && ((n < 30)); do
            sleep 0.1
            n=$((n + 1))
        done
        kill -KILL "${PIDS[$i]}" 2>/dev/null || true
        wait "${PIDS[$i]}" 2>/dev/null || true
    done
    if [[ $KEEP_TMP == 1 ]]; then
        log "kept temp dir: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg <name> <stop signal> <command...>: runs the command in the background with its
# output in $TMP/<name>.log.
start_bg() {
    local name=$1 sig=$2
    shift 2
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
    SIGNALS+=("$sig")
    NAMES+=("$name")
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# duration_secs <wrk duration>: "8s", "2m", "1h" or a bare number, in whole seconds (at least 1).
duration_secs() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "m") n *= 60; else if (u == "h") n *= 3600
        n = int(n + 0.5); if (n < 1) n = 1; print n
    }'
}
