"""A backend that trusts the gateway only through its signed tenant assertion, verified with an
independent JWT library (PyJWT), the way a real service behind tenant-gateway would.

    assertion_backend.py --port PORT --jwks-url URL --issuer ISS
                         [--jwks-host HOST] [--audience PREFIX=AUD ...]

Every request (any method, any path) must carry exactly one `X-Tenant-Assertion` header: a
JWT signed ES256 by a key of the gateway's JWKS, fetched from URL (with `Host: HOST` when
given, for a tenant host reached by address), cached, and fetched again when a token names a
kid the cache does not hold. The token must name ISS as `iss`, the request's host (Host
without port, lower case) as `aud` (or AUD for paths under PREFIX), and be unexpired (no
leeway). Answers

    200 {"verified": true, "claims": {...}, "kid": "...", "header": {...}, ...}
    401 {"verified": false, "error": "...", ...}

both with "method", "path", "host", "headers" (what the request carried, lower-case names),
"assertion_count" and "jwks_fetches" (fetches so far).

Two paths are the test's own, never asked through the gateway:

    GET  /_backend/stats    {"requests": N (requests verified or refused), "jwks_fetches": N}
    POST /_backend/verify   {"token", "audience"}: fetches the JWKS now (bypassing the cache),
                            verifies the token's signature, iss and aud against it (exp is
                            checked against the fetch time, not now) and answers
                            {"verified", "claims", "kid", "jwks_fetched_at", "jwks_kids"} or
                            {"verified": false, "error"}

Prints "listening <port>" on stdout once it accepts connections.
"""

import argparse
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

HEADER = "X-Tenant-Assertion"
ALGORITHMS = ["ES256"]
REQUIRED = ["exp", "iat", "iss", "aud", "jti"]


class Keys:
    """The gateway's public keys by kid, fetched on first use and again for an unknown kid."""

    def __init__(self, url, host):
        self.url = url
        self.host = host
        self.lock = threading.Lock()
        self.keys = None
        self.fetches = 0
        # No proxy: the gateway is on loopback.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(self):
        """Fetches the JWKS now: ({kid: PyJWK}, fetch time)."""
        req = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        if self.host:
            req.add_header("Host", self.host)
        with self.opener.open(req, timeout=10) as resp:
            fetched_at = time.time()
            body = json.load(resp)
        with self.lock:
            self.fetches += 1
        keys = {}
        for jwk in body.get("keys", []):
            # ES256 keys only: anything else in the set is not a key this backend trusts.
            if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
                continue
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="ES256")
        return keys, fetched_at

    def key(self, kid):
        with self.lock:
            cached = self.keys
        if cached is not None and kid in cached:
            return cached[kid]
        # Unknown kid (or nothing cached yet): fetch once more, as a real backend would.
        keys, _ = self.fetch()
        with self.lock:
            self.keys = keys
        if kid not in keys:
            raise jwt.InvalidTokenError(f"unknown kid {kid!r}")
        return keys[kid]


def host_of(headers):
    host = (headers.get("Host") or "").strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def verify(token, key, issuer, audience, verify_exp=True):
    return jwt.decode(
        token,
        key=key,
        algorithms=ALGORITHMS,
        issuer=issuer,
        audience=audience,
        leeway=0,
        options={"require": REQUIRED, "verify_exp": verify_exp},
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "assertion-backend"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        body = self.body()
        path = self.path.split("?", 1)[0]
        if path == "/_backend/stats":
            return self.answer(200, self.server.stats())
        if path == "/_backend/verify" and self.command == "POST":
            return self.answer(200, self.server.verify_now(json.loads(body or b"{}")))
        self.answer(*self.server.check(self))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, args):
        super().__init__(addr, Handler)
        self.issuer = args.issuer
        self.keys = Keys(args.jwks_url, args.jwks_host)
        self.audiences = []
        for item in args.audience:
            prefix, sep, aud = item.partition("=")
            if not sep:
                raise SystemExit(f"--audience wants PREFIX=AUD, got {item!r}")
            self.audiences.append((prefix, aud))
        self.requests = 0
        self.lock = threading.Lock()

    def stats(self):
        with self.lock:
            requests = self.requests
        return {"requests": requests, "jwks_fetches": self.keys.fetches}

    def audience_for(self, path, host):
        for prefix, aud in self.audiences:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return aud
        return host

    def check(self, req):
        with self.lock:
            self.requests += 1
        host = host_of(req.headers)
        path = req.path.split("?", 1)[0]
        tokens = req.headers.get_all(HEADER) or []
        doc = {
            "method": req.command,
            "path": req.path,
            "host": host,
            "headers": {k.lower(): v for k, v in req.headers.items()},
            "assertion_count": len(tokens),
        }
        status, result = 401, {"verified": False}
        if not tokens:
            result["error"] = "missing"
        elif len(tokens) > 1:
            result["error"] = f"{len(tokens)} {HEADER} headers"
        else:
            token = tokens[0]
            try:
                header = jwt.get_unverified_header(token)
                result["header"] = header
                if header.get("alg") not in ALGORITHMS:
                    raise jwt.InvalidAlgorithmError(f"alg {header.get('alg')!r}")
                key = self.keys.key(header.get("kid"))
                claims = verify(token, key, self.issuer, self.audience_for(path, host))
                status = 200
                result.update({"verified": True, "claims": claims, "kid": header.get("kid")})
            except (jwt.PyJWTError, ValueError, OSError) as err:
                result["error"] = f"{type(err).__name__}: {err}"
        doc.update(result)
        doc["jwks_fetches"] = self.keys.fetches
        return status, doc

    def verify_now(self, req):
        token = req.get("token", "")
        try:
            keys, fetched_at = self.keys.fetch()
            out = {"jwks_fetched_at": fetched_at, "jwks_kids": sorted(keys)}
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if kid not in keys:
                return {**out, "verified": False, "error": f"kid {kid!r} not published"}
            claims = verify(token, keys[kid], self.issuer, req.get("audience"), verify_exp=False)
            if not fetched_at < claims["exp"]:
                return {**out, "verified": False, "error": "JWKS fetched after exp"}
            return {**out, "verified": True, "claims": claims, "kid": kid}
        except (jwt.PyJWTError, ValueError, OSError, KeyError) as err:
            return {"verified": False, "error": f"{type(err).__name__}: {err}"}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--jwks-host", default=None)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", action="append", default=[], metavar="PREFIX=AUD")
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", args.port), args)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
