"""benches/callgrind/drive.py: sends N keep-alive GET requests over one HTTP/1.1 connection and
counts the 200s (a load generator whose own cost does not matter: callgrind counts only the
proxy's instructions). Usage: drive.py PORT N HOST [PATH]."""
import socket, sys
port, n, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
path = sys.argv[4] if len(sys.argv) > 4 else "/"
s = socket.create_connection(("127.0.0.1", port))
req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
buf = b""
ok = 0
for _ in range(n):
    s.sendall(req)
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            head = buf[:i].decode()
            cl = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.lower() == "content-length": cl = int(v)
            if len(buf) >= i + 4 + cl:
                if head.startswith("HTTP/1.1 200"): ok += 1
                buf = buf[i + 4 + cl:]
                break
        d = s.recv(65536)
        if not d: raise SystemExit("closed")
        buf += d
print("ok", ok, "of", n)
