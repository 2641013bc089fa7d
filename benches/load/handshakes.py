#!/usr/bin/env python3
# benches/load/handshakes.py: full TLS handshakes per second against one server, for the
# *-tls-full targets of benches/load.sh (standard library only).
#   handshakes.py <port> <server name> <seconds> <clients>
# Each of <clients> processes connects to 127.0.0.1:<port> over and over with the server name
# as SNI, completes a handshake with no session offered (so every one is a full handshake:
# ECDHE and the certificate's signature; TLS 1.3 unless the server says otherwise), and
# closes. Prints one line: "<handshakes/s> <handshakes> <failures> <client CPU %>", the rate
# over the wall time of the slowest client; a client CPU near 100% per client means the
# client, not the server, set the pace. (openssl s_time -new does the same loop but OpenSSL
# 3.0's s_time cannot send SNI, which the gateway selects its certificate by.)
import multiprocessing
import socket
import ssl
import sys
import time


def client(port, name, seconds, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed; the CertificateVerify is still checked
    done = failed = 0
    cpu0, start = time.process_time(), time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as tls:
                    if tls.session_reused:
                        raise RuntimeError("session resumed")
            done += 1
        except (OSError, RuntimeError):
            failed += 1
    out.put((done, failed, time.monotonic() - start, time.process_time() - cpu0))


def main(argv):
    port, name, seconds, clients = int(argv[1]), argv[2], float(argv[3]), int(argv[4])
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, name, seconds, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    done = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    wall = max(r[2] for r in results)
    cpu = sum(r[3] for r in results) / wall / clients * 100
    print(f"{done / wall:.2f} {done} {failed} {cpu:.0f}")


if __name__ == "__main__":
    main(sys.argv)
