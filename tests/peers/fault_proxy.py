"""An HTTP proxy in front of an AWS-compatible server (moto) that can fail one operation.

    fault_proxy.py --port PORT --upstream http://127.0.0.1:MOTO_PORT

Forwards every request (method, path, headers, body) to the upstream and relays its answer.
Requests whose `X-Amz-Target` header ends with `.<Operation>` for an armed operation are
not forwarded: the proxy closes the connection without answering (a reset), every time, so
an SDK's retries fail as well.

Control endpoints (answered by the proxy itself, JSON):

    POST /_fault/arm?op=AdminCreateUser   arm one more operation (repeatable)
    POST /_fault/disarm                   disarm every operation
    GET  /_fault/stats                    {"armed": [...], "aborted": {"<op>": n},
                                           "forwarded": {"<op>": n}}
    GET  /_fault/last?op=UpdateUserPoolClient
                                          the JSON body of the last forwarded request of that
                                          operation (null if none): what the client sent

`<op>` in the counts is the operation of `X-Amz-Target` (after the last dot), or
`<METHOD> <path>` for requests without one. It listens once the port accepts connections.
"""

import argparse
import http.client
import json
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class State:
    def __init__(self, upstream):
        parsed = urllib.parse.urlsplit(upstream)
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.lock = threading.Lock()
        self.armed = set()
        self.aborted = {}
        self.forwarded = {}
        self.last = {}

    def count(self, table, op):
        with self.lock:
            table[op] = table.get(op, 0) + 1

    def stats(self):
        with self.lock:
            return {
                "armed": sorted(self.armed),
                "aborted": dict(self.aborted),
                "forwarded": dict(self.forwarded),
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, fmt, *args):
        sys.stderr.write("fault_proxy: " + (fmt % args) + "\n")

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _control(self, body):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        st = self.state
        if url.path == "/_fault/arm" and self.command == "POST":
            ops = query.get("op", [])
            if not ops:
                return self._answer(400, {"error": "give ?op=<Operation>"})
            with st.lock:
                st.armed.update(ops)
        elif url.path == "/_fault/disarm" and self.command == "POST":
            with st.lock:
                st.armed.clear()
        elif url.path == "/_fault/stats" and self.command == "GET":
            pass
        elif url.path == "/_fault/last" and self.command == "GET":
            op = (query.get("op") or [""])[0]
            with st.lock:
                raw = st.last.get(op)
            try:
                return self._answer(200, json.loads(raw) if raw else None)
            except ValueError:
                return self._answer(200, {"unparsed": raw.decode("utf-8", "replace")})
        else:
            return self._answer(404, {"error": "unknown control endpoint"})
        self._answer(200, st.stats())

    def _abort(self):
        # Close with a reset and without a byte of answer.
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def _handle(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_fault/"):
            return self._control(body)
        target = self.headers.get("x-amz-target") or ""
        op = target.rsplit(".", 1)[-1] if target else f"{self.command} {self.path}"
        st = self.state
        with st.lock:
            armed = target and op in st.armed
        if armed:
            st.count(st.aborted, op)
            self.log_message("aborting %s", op)
            return self._abort()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            conn = http.client.HTTPConnection(st.host, st.port, timeout=30)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as e:
            self.log_message("upstream failed for %s: %s", op, e)
            return self._answer(502, {"error": "upstream", "message": str(e)})
        st.count(st.forwarded, op)
        with st.lock:
            st.last[op] = body
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args(argv)
    Handler.state = State(args.upstream)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"fault_proxy: listening on 127.0.0.1:{args.port} -> {args.upstream}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
