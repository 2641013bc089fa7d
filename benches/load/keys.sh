# benches/load/keys.sh: key material for benches/load.sh (sourced), made fresh in $TMP and
# offline: the bench host's TLS certificate, and the bench IdP's RSA key, JWKS and id tokens
# (one for gateway-jwt, JWT_TOKENS distinct ones for gateway-jwt-many; benches/load/jwt.py
# encodes and signs them).

# A self-signed EC P-256 certificate for the bench host, shared by nginx-tls and gateway-tls.
make_cert() {
    mkdir -p "$TMP/certs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=$BENCH_HOST" -addext "subjectAltName=DNS:$BENCH_HOST" \
        -keyout "$TMP/certs/bench.key" -out "$TMP/certs/bench.crt" 2>"$TMP/openssl.log" ||
        die "openssl could not make the certificate: $(cat "$TMP/openssl.log")"
}

# make_jwt [many]: an RS256 key pair (openssl), its JWKS ($TMP/jwt/jwks.json, served by the
# backend nginx) and one id token of the bench tenant in JWT_TOKEN (sub "bench-user"), valid
# for a day. With "many", also JWT_TOKENS tokens of the same tenant with subs bench-user-<i>
# in $TMP/jwt/tokens.txt, one a line (JWT_TOKEN is not among them).
make_jwt() {
    local dir=$TMP/jwt jwt_py=$REPO_ROOT/benches/load/jwt.py
    mkdir -p "$dir"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" \
        2>"$TMP/openssl.log" || die "openssl could not make the RSA key: $(cat "$TMP/openssl.log")"
    python3 "$jwt_py" jwks "$dir/key.pem" "$JWT_KID" >"$dir/jwks.json" ||
        die "could not write the JWKS"
    JWT_TOKEN=$(python3 "$jwt_py" mint "$dir/key.pem" "$JWT_KID" "$JWT_ISSUER" \
        "$JWT_CLIENT_ID" "$BENCH_TENANT_ID" 1 bench-user) || die "could not mint the token"
    # The signature, checked by openssl (the gateway's 200 checks the rest).
    printf '%s' "${JWT_TOKEN%.*}" >"$dir/signing-input"
    python3 -c 'import base64, sys
s = sys.argv[1]
sys.stdout.buffer.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))' \
        "${JWT_TOKEN##*.}" >"$dir/signature"
    openssl rsa -in "$dir/key.pem" -pubout -out "$dir/pub.pem" 2>/dev/null
    openssl dgst -sha256 -verify "$dir/pub.pem" -signature "$dir/signature" \
        "$dir/signing-input" >/dev/null || die "openssl does not verify the minted token"
    if [[ ${1:-} == many ]]; then
        local t0=$SECONDS
        python3 "$jwt_py" mint "$dir/key.pem" "$JWT_KID" "$JWT_ISSUER" "$JWT_CLIENT_ID" \
            "$BENCH_TENANT_ID" "$JWT_TOKENS" bench-user >"$dir/tokens.txt" ||
            die "could not mint $JWT_TOKENS tokens"
        log "minted $(wc -l <"$dir/tokens.txt") tokens in $((SECONDS - t0))s"
    fi
}
