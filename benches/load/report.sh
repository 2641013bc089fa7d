# benches/load/report.sh: the statistics of benches/load.sh (sourced): unit conversion,
# medians, ratios, the medians table with its ratio lines, the fixed-rate table, and the
# gateways' metrics and logs after the run.

# wrk latency ("812.00us", "1.23ms", "2.00s", "1.00m") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n
    }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '
        { a[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]
            else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'
}

# compute_medians: MED_RPS and MED_P99 of every target (p99 "-" for targets without
# latencies: the *-tls-full handshake counts).
declare -A MED_RPS=() MED_P99=()
compute_medians() {
    local t
    for t in "${TARGET_ORDER[@]}"; do
        # shellcheck disable=SC2086 # word splitting of the value lists is intended
        MED_RPS[$t]=$(median ${RPS[$t]:-})
        if [[ -n ${P99[$t]:-} ]]; then
            # shellcheck disable=SC2086
            MED_P99[$t]=$(median ${P99[$t]})
        else
            MED_P99[$t]=-
        fi
    done
}

# print_summary: the medians table and the ratio lines (after compute_medians).
print_summary() {
    local t pair a b
    echo
    echo "medians over $ROUNDS round(s), $CONNECTIONS connections:"
    printf '%-14s %14s %14s %8s\n' target "req/s" "p99 (ms)" errors
    for t in "${TARGET_ORDER[@]}"; do
        printf '%-14s %14s %14s %8s\n' "$t" "${MED_RPS[$t]}" "${MED_P99[$t]}" "${ERRORS[$t]:-0}"
    done
    if [[ -n ${COLD_LINE:-} ]]; then
        echo "gateway-jwt-many cold first pass ($JWT_TOKENS tokens, each once): $COLD_LINE"
    fi
    echo
    echo "ratios (req/s: higher is better for the first; p99: lower is better):"
    for pair in "${RATIOS[@]}"; do
        read -r a b <<<"$pair"
        [[ -n ${MED_RPS[$a]:-} && -n ${MED_RPS[$b]:-} ]] || continue
        if [[ $a == *-tls-full ]]; then
            printf '  %-28s hs/s  %6sx\n' "$a/$b" "$(ratio "${MED_RPS[$a]}" "${MED_RPS[$b]}")"
            continue
        fi
        printf '  %-28s req/s %6sx   p99 %6sx\n' "$a/$b" \
            "$(ratio "${MED_RPS[$a]}" "${MED_RPS[$b]}")" \
            "$(ratio "${MED_P99[$a]}" "${MED_P99[$b]}")"
        if [[ $a == gateway-jwt-many && $b == gateway && -n ${COLD_RPS:-} ]]; then
            printf '  %-28s req/s %6sx\n' "gateway-jwt-many(cold)/gateway" \
                "$(ratio "$COLD_RPS" "${MED_RPS[$b]}")"
        fi
    done
}

# print_rate_summary: the fixed-rate round's medians and the p99 ratios.
print_rate_summary() {
    local t p50 p99 p999 pair a b
    declare -A R99=()
    echo
    echo "fixed rate $RATE req/s: medians over $RATE_ROUNDS round(s) (ms):"
    printf '%-14s %12s %10s %10s %10s %8s\n' target "req/s" p50 p99 p99.9 errors
    for t in nginx-proxy bare-pingora gateway; do
        [[ -n ${RATE_RPS[$t]:-} ]] || continue
        # shellcheck disable=SC2086 # word splitting of the value lists is intended
        p50=$(median ${RATE_P50[$t]})
        # shellcheck disable=SC2086
        p99=$(median ${RATE_P99[$t]})
        # shellcheck disable=SC2086
        p999=$(median ${RATE_P999[$t]})
        R99[$t]=$p99
        # shellcheck disable=SC2086
        printf '%-14s %12s %10s %10s %10s %8s\n' "$t" "$(median ${RATE_RPS[$t]})" "$p50" \
            "$p99" "$p999" "${RATE_ERRORS[$t]:-0}"
    done
    local lines=""
    for pair in "gateway nginx-proxy" "gateway bare-pingora" "bare-pingora nginx-proxy"; do
        read -r a b <<<"$pair"
        [[ -n ${R99[$a]:-} && -n ${R99[$b]:-} ]] || continue
        lines+=$(printf '  %-28s p99 %6sx' "$a/$b" "$(ratio "${R99[$a]}" "${R99[$b]}")")$'\n'
    done
    if [[ -n $lines ]]; then
        echo
        echo "fixed-rate p99 ratios (lower is better for the first):"
        printf '%s' "$lines"
    fi
}

# print_after: gateway-jwt's and gateway-jwt-many's auth metrics, and what the gateways
# logged at warn or above.
print_after() {
    local g metrics total closed handshakes port
    for g in gateway-jwt gateway-jwt-many; do
        [[ -n ${TARGET_URL[$g]:-} ]] || continue
        port=$GATEWAY_JWT_ADMIN_PORT
        [[ $g == gateway-jwt-many ]] && port=$GATEWAY_JWTM_ADMIN_PORT
        metrics=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" || true)
        echo
        echo "$g metrics:"
        grep -E '^gateway_(jwks_fetches|auth)_total' <<<"$metrics" | sed 's/^/  /' ||
            echo "  (none found)"
    done

    # Anything the gateways logged at warn or above is worth a look. Requests in flight when
    # wrk stops are cut off by the client; Pingora logs each as "Downstream ConnectionClosed",
    # and each TLS handshake cut off the same way as "Downstream handshake error" with
    # "Connection reset by peer" or "tls handshake eof". Those are counted apart.
    local cut_off='Downstream ConnectionClosed|Downstream handshake error.*(Connection reset by peer|tls handshake eof)'
    for g in gateway gateway-log gateway-jwt gateway-jwt-assert gateway-jwt-many gateway-tls; do
        [[ -f $TMP/$g.log ]] || continue
        total=$(grep -c . "$TMP/$g.log" || true)
        ((total > 0)) || continue
        closed=$(grep -c 'Downstream ConnectionClosed' "$TMP/$g.log" || true)
        handshakes=$(grep -cE "${cut_off#*|}" "$TMP/$g.log" || true)
        echo
        echo "$g log: $total line(s) at warn or above, $closed of them requests and" \
            "$handshakes TLS handshakes cut off by the client (when wrk stops)"
        if ((total > closed + handshakes)); then
            echo "other lines (first 5):"
            grep -vE "$cut_off" "$TMP/$g.log" | head -n 5 | cut -c1-300
        fi
    done
}
