"""Signs test JWTs with moto's Cognito signing key (public in the moto package, kid "dummy"),
so tests can make tokens a moto-backed tenant trusts with any claims, or deliberately broken
ones. Reads one JSON object on stdin:
  {"claims": {...}, "mode": "moto" | "none" | "hs256-public" | "other-key", "kid": "dummy"}
and prints the token."""
import base64
import gzip
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
import moto.cognitoidp


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64int(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def moto_key() -> rsa.RSAPrivateKey:
    res = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources", "jwks-private.json.gz")
    with gzip.open(res) as f:
        jwk = json.load(f)
    n, e, d = b64int(jwk["n"]), b64int(jwk["e"]), b64int(jwk["d"])
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    return rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    ).private_key()


def main() -> None:
    req = json.load(sys.stdin)
    mode = req.get("mode", "moto")
    kid = req.get("kid", "dummy")
    alg = {"none": "none", "hs256-public": "HS256"}.get(mode, "RS256")
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(req["claims"]).encode())).encode()
    if mode == "none":
        sig = b""
    elif mode == "hs256-public":
        pem = moto_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        sig = hmac.new(pem, signing_input, hashlib.sha256).digest()
    else:
        key = moto_key() if mode == "moto" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    print(signing_input.decode() + "." + b64(sig))


if __name__ == "__main__":
    main()
