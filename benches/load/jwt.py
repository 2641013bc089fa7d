#!/usr/bin/env python3
# benches/load/jwt.py: the bench IdP's tokens, offline (used by benches/load/keys.sh);
# standard library, plus `cryptography` when importable (see below). Reads an RSA private
# key through `openssl rsa -text` and
#   jwks <key.pem> <kid>                       prints the JWKS of its public key
#   mint <key.pem> <kid> <iss> <aud> <tenant> <count> <sub>
#                                              prints <count> RS256 id tokens, one a line,
#                                              valid for a day; with count 1 the token's sub
#                                              is <sub>, otherwise <sub>-<i> (i = 0..count-1)
# RS256 is RSASSA-PKCS1-v1_5 with SHA-256: deterministic, so a token signed here is the same
# bytes `openssl dgst -sha256 -sign` would produce (keys.sh checks one with openssl). The
# standard-library signature (pow with the CRT) takes about 6 ms per token on the 2-core
# machine, a minute for 10,000; when the `cryptography` package is importable (Debian's
# python3-cryptography) it signs instead, 10,000 tokens in about 4 s.
import base64
import hashlib
import json
import subprocess
import sys
import time

# DER of DigestInfo(sha256) before the 32-byte hash (RFC 8017, section 9.2, note 1).
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def read_key(path):
    text = subprocess.run(["openssl", "rsa", "-in", path, "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    fields, name = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            name, _, rest = line.partition(":")
            rest = rest.strip()
            if rest:  # "publicExponent: 65537 (0x10001)", "Private-Key: (2048 bit, ...)"
                if rest[0].isdigit():
                    fields[name] = int(rest.split()[0])
                name = None
            else:
                fields[name] = ""
        elif name:
            fields[name] += line.strip().replace(":", "")
    key = {k: (int(v, 16) if isinstance(v, str) else v) for k, v in fields.items()
           if k in ("modulus", "publicExponent", "privateExponent", "prime1", "prime2",
                    "exponent1", "exponent2", "coefficient")}
    return key


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_uint(v):
    return b64url(v.to_bytes((v.bit_length() + 7) // 8, "big"))


def signer(path, key):
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        return lambda data: sign(key, data)
    with open(path, "rb") as f:
        private = serialization.load_pem_private_key(f.read(), None)
    return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign(key, data):
    n = key["modulus"]
    k = (n.bit_length() + 7) // 8
    t = SHA256_PREFIX + hashlib.sha256(data).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    m = int.from_bytes(em, "big")
    p, q = key["prime1"], key["prime2"]
    m1 = pow(m, key["exponent1"], p)
    m2 = pow(m, key["exponent2"], q)
    h = (key["coefficient"] * (m1 - m2)) % p
    return (m2 + h * q).to_bytes(k, "big")


def part(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def main(argv):
    cmd, path, kid = argv[1], argv[2], argv[3]
    key = read_key(path)
    if cmd == "jwks":
        jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
               "n": b64url_uint(key["modulus"]), "e": b64url_uint(key["publicExponent"])}
        print(json.dumps({"keys": [jwk]}))
        return
    if cmd != "mint":
        sys.exit(f"unknown command {cmd}")
    iss, aud, tenant, count, sub = argv[4], argv[5], argv[6], int(argv[7]), argv[8]
    now = int(time.time())
    header = part({"alg": "RS256", "typ": "JWT", "kid": kid})
    sign_fn = signer(path, key)
    out = []
    for i in range(count):
        claims = {"sub": sub if count == 1 else f"{sub}-{i}", "iss": iss, "aud": aud,
                  "token_use": "id", "iat": now, "exp": now + 86400,
                  "custom:tenantid": tenant}
        signing_input = header + "." + part(claims)
        out.append(signing_input + "." + b64url(sign_fn(signing_input.encode())))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv)
