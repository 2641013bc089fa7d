# benches/load/measure.sh: the measurements of benches/load.sh (sourced): one wrk run of a
# target (or, for the *-tls-full targets, benches/load/handshakes.py), gateway-jwt-many's cold
# first pass, the fixed-rate latency round (oha), and the TLS probe of the results header.
# Each run appends its figures to RPS/P99/ERRORS (or the RATE_* lists); benches/load/report.sh
# turns them into medians and ratios.

# tls_info <port>: the protocol and cipher a fresh connection negotiates, and whether a second
# connection resumes the first one's session (what the *-hs targets mostly do).
tls_info() {
    local port=$1 first second
    first=$(printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$BENCH_HOST" |
        timeout 5 openssl s_client -connect "127.0.0.1:$port" -servername "$BENCH_HOST" \
            -sess_out "$TMP/tls-session-$port" -ign_eof 2>/dev/null |
        awk '/^New, / { sub(/^New, /, ""); print; exit }' || true)
    second=$(timeout 5 openssl s_client -connect "127.0.0.1:$port" -servername "$BENCH_HOST" \
        -sess_in "$TMP/tls-session-$port" </dev/null 2>/dev/null |
        awk '/^(New|Reused), / { print $1; exit }' || true)
    printf '%s; reconnect: %s\n' "${first:-handshake failed}" "${second%,}"
}

declare -A RPS=() P99=() ERRORS=()
declare -A RATE_RPS=() RATE_P50=() RATE_P99=() RATE_P999=() RATE_ERRORS=()
LAST_REQUESTS=0
RESULTS=/dev/null # set to the results file once the runs start

# run_target <name> <duration> <record: 1|0>
run_target() {
    if [[ $1 == *-tls-full ]]; then
        run_handshakes "$@"
    elif [[ $1 == *-h2 ]]; then
        run_h2load "$@"
    else
        run_wrk "$@"
    fi
}

# run_h2load <name> <duration> <record: 1|0>: HTTP/2 over TLS with h2load, CONNECTIONS
# clients on THREADS threads, H2_STREAMS (10) concurrent streams each; p99 is not reported by
# h2load, so the column shows the mean request time.
run_h2load() {
    local name=$1 secs=$(duration_secs "$2") out url port rps mean failed
    url=${TARGET_URL[$name]}
    port=${url##*:}
    port=${port%%/*}
    out=$(h2load -D "$secs" -c "$CONNECTIONS" -t "$THREADS" -m "${H2_STREAMS:-10}" \
        --connect-to "127.0.0.1:$port" "$url" 2>&1) || die "h2load failed for $name: $out"
    [[ $3 == 1 ]] || return 0
    # "finished in 5.00s, 41234.20 req/s, 1.97MB/s"
    rps=$(awk '/^finished in/ { sub(/,/, "", $4); print $4 }' <<<"$out")
    # "requests: 206171 total, 206171 started, 206171 done, 206171 succeeded, 0 failed, 0 errored, 0 timeout"
    failed=$(awk '/^requests:/ { print $10 }' <<<"$out") # errored and timed out included
    # "time for request:  123us  45.67ms  1.23ms  ..." (min, max, mean, sd)
    mean=$(awk '/^time for request:/ { print $6 }' <<<"$out")
    [[ -n $rps && -n $mean ]] || die "could not parse h2load output for $name:"$'\n'"$out"
    mean=$(to_ms "$mean")
    # Non-2xx answers count as failures too.
    local not_ok
    not_ok=$(awk '/^status codes:/ { print $5 + $7 + $9 }' <<<"$out")
    failed=$((${failed:-0} + ${not_ok:-0}))
    record_run "$name" "$rps" "mean  " "$mean" "$failed" "failed requests or non-2xx answers"
}

# record_run <name> <req/s> <latency label> <latency ms> <errors> <what the errors are>:
# appends a run's figures for the report and prints them.
record_run() {
    local name=$1 rps=$2 label=$3 ms=$4 errors=$5
    RPS[$name]+="$rps "
    P99[$name]+="$ms "
    ERRORS[$name]=$((${ERRORS[$name]:-0} + errors))
    printf '  %-14s %12s req/s   %s %9s ms   errors %s\n' "$name" "$rps" "$label" "$ms" \
        "$errors" | tee -a "$RESULTS"
    if ((errors > 0)); then
        log "$name: $errors $6 in this run"
    fi
}

# run_wrk <name> <duration> <record: 1|0>
run_wrk() {
    local name=$1 duration=$2 record=$3 out
    header_args "$name"
    connect_args "$name"
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "${WRK_ARGS[@]}" \
        "${HDR_ARGS[@]}" "${TARGET_URL[$name]}" "${WRK_TAIL[@]}")
    [[ $record == 1 ]] || return 0

    local rps p99 non2xx sock errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    LAST_REQUESTS=$(awk '/ requests in / {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    # "Socket errors: connect 0, read 0, write 0, timeout 0"
    sock=$(awk '/Socket errors:/ {
        s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' <<<"$out")
    errors=$((${non2xx:-0} + ${sock:-0}))
    [[ -n $rps && -n $p99 ]] || die "could not parse wrk output for $name:"$'\n'"$out"
    p99=$(to_ms "$p99")
    record_run "$name" "$rps" "p99" "$p99" "$errors" "non-2xx responses or socket errors"
}

# run_handshakes <name> <duration> <record: 1|0>: full TLS handshakes per second (no session
# resumption) with TLS_CLIENTS client processes (default 2 x THREADS).
run_handshakes() {
    local name=$1 secs out port rate count failed cpu
    secs=$(duration_secs "$2")
    port=${TARGET_URL[$name]##*:}
    port=${port%%/*}
    out=$(python3 "$REPO_ROOT/benches/load/handshakes.py" "$port" "$BENCH_HOST" "$secs" \
        "$TLS_CLIENTS") || die "handshakes.py failed for $name: $out"
    [[ $3 == 1 ]] || return 0
    read -r rate count failed cpu <<<"$out"
    [[ -n $cpu ]] || die "could not parse handshakes.py output for $name: $out"
    RPS[$name]+="$rate "
    ERRORS[$name]=$((${ERRORS[$name]:-0} + failed))
    printf '  %-14s %12s hs/s    client CPU %4s%%   errors %s\n' "$name" "$rate" "$cpu" \
        "$failed" | tee -a "$RESULTS"
    if ((failed > 0)); then
        log "$name: $failed failed handshakes in this run"
    fi
}

# gateway-jwt-many's cold first pass: before any warm-up, wrk sends each of the JWT_TOKENS
# tokens once (benches/load/jwt-rotate-once.lua: every wrk thread times its slice and
# stops), so each request pays for a signature check and a cache insert. Sets COLD_LINE.
jwt_cold_pass() {
    local dir=$TMP/cold name=gateway-jwt-many f i
    mkdir -p "$dir"
    rm -f "$dir"/cold-*.txt
    header_args "$name"
    start_bg cold-pass INT wrk -t"$THREADS" -c"$CONNECTIONS" -d600s \
        -s "$REPO_ROOT/benches/load/jwt-rotate-once.lua" "${HDR_ARGS[@]}" "${TARGET_URL[$name]}" \
        -- "$TMP/jwt/tokens.txt" "$THREADS" "$dir"
    local pid=${PIDS[-1]}
    for ((i = 0; i < 3000; i++)); do # 300 s at most
        f=$(find "$dir" -name 'cold-*.txt' | wc -l)
        ((f >= THREADS)) && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[-1]' 'SIGNALS[-1]' 'NAMES[-1]'
    ((f >= THREADS)) ||
        die "the cold pass did not finish (wrk output: $(tail -n 5 "$TMP/cold-pass.log"))"
    # Each file: "<start> <end> <answered> <non-200>"; the pass runs from the first start to
    # the last end.
    COLD_LINE=$(cat "$dir"/cold-*.txt | awk '
        NR == 1 || $1 < s { s = $1 }
        NR == 1 || $2 > e { e = $2 }
        { n += $3; bad += $4 }
        END { printf "%.2f req/s (%d requests in %.3f s, %d not 200)", n / (e - s), n, e - s, bad }')
    COLD_RPS=${COLD_LINE%% *}
}

# The fixed-rate latency round: after the saturation rounds, nginx-proxy, bare-pingora and
# gateway (those that ran) each get RATE requests per second for RATE_DURATION from oha
# (--latency-correction: latency from when a request was due, so a stall is not hidden), in
# RATE_ROUNDS rotating rounds. RATE defaults to half the gateway's median req/s of this run.
# Returns 1 (with the reason in RATE_SKIPPED) when it cannot run.
RATE_SKIPPED=""
OHA_ARGS=()
rate_round() {
    local t targets=()
    for t in nginx-proxy bare-pingora gateway; do
        [[ -n ${TARGET_URL[$t]:-} ]] && targets+=("$t")
    done
    if ((${#targets[@]} == 0)); then
        RATE_SKIPPED="none of nginx-proxy, bare-pingora, gateway ran"
        return 1
    fi
    if ! command -v oha >/dev/null; then
        RATE_SKIPPED="oha is not installed; install it with \`cargo install oha --locked\` (h2load's --rate paces new connections, not requests, so it is no substitute)"
        return 1
    fi
    if [[ -z ${RATE:-} ]]; then
        if [[ -z ${MED_RPS[gateway]:-} ]]; then
            RATE_SKIPPED="no gateway saturation figure to take half of: set RATE=<req/s>"
            return 1
        fi
        RATE=$(awk -v r="${MED_RPS[gateway]}" 'BEGIN { printf "%d", r / 2 }')
    fi
    local help
    help=$(oha --help 2>&1 || true)
    OHA_ARGS=(-z "$RATE_DURATION" -q "$RATE" -c "$CONNECTIONS" --no-tui)
    if grep -q -- '--output-format' <<<"$help"; then
        OHA_ARGS+=(--output-format json)
    elif grep -q -- '--json' <<<"$help"; then
        OHA_ARGS+=(--json)
    else
        RATE_SKIPPED="this oha has neither --output-format nor --json"
        return 1
    fi
    if grep -q -- '--latency-correction' <<<"$help"; then
        OHA_ARGS+=(--latency-correction)
    else
        log "this oha has no --latency-correction: latencies exclude the wait for a late send"
    fi
    {
        echo
        echo "fixed rate: $RATE req/s for $RATE_DURATION, $CONNECTIONS connections, $RATE_ROUNDS round(s): $(oha --version 2>/dev/null | head -n 1) ${OHA_ARGS[*]}"
    } | tee -a "$RESULTS"
    local r k n=${#targets[@]}
    for ((r = 0; r < RATE_ROUNDS; r++)); do
        echo "fixed-rate round $((r + 1))/$RATE_ROUNDS" | tee -a "$RESULTS"
        for ((k = 0; k < n; k++)); do
            run_oha "${targets[$(((r + k) % n))]}"
        done
    done
}

# run_oha <name>: one fixed-rate run; the percentiles from oha's JSON (seconds) in ms.
run_oha() {
    local name=$1 out fields rps p50 p99 p999 errors
    header_args "$name"
    out=$(oha "${OHA_ARGS[@]}" "${HDR_ARGS[@]}" "${TARGET_URL[$name]}" 2>"$TMP/oha.err") ||
        die "oha failed for $name: $(cat "$TMP/oha.err")"
    # Requests cut off by the end of -z are not errors; any other error or non-2xx is.
    fields=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution") or {}
errs = d.get("errorDistribution") or {}
bad = sum(n for c, n in codes.items() if not str(c).startswith("2"))
bad += sum(n for e, n in errs.items() if "deadline" not in e)
ms = lambda v: "nan" if v is None else "%.3f" % (v * 1000)
print("%.2f" % d["summary"]["requestsPerSec"], ms(p.get("p50")), ms(p.get("p99")),
      ms(p.get("p99.9")), bad)
' <<<"$out") || die "could not parse oha output for $name: ${out:0:500}"
    read -r rps p50 p99 p999 errors <<<"$fields"
    RATE_RPS[$name]+="$rps "
    RATE_P50[$name]+="$p50 "
    RATE_P99[$name]+="$p99 "
    RATE_P999[$name]+="$p999 "
    RATE_ERRORS[$name]=$((${RATE_ERRORS[$name]:-0} + errors))
    printf '  %-14s %10s req/s   p50 %8s   p99 %8s   p99.9 %8s ms   errors %s\n' "$name" \
        "$rps" "$p50" "$p99" "$p999" "$errors" | tee -a "$RESULTS"
}
