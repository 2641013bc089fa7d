"""Helpers for benches/scale.sh (python3, standard library only).

  driver.py gen <count> <plain|idp> <probe index> <out>
      writes a tenants file: tenant i is t<i> (id uuid5(i), name "Tenant <i>"); with `idp`
      each has an OIDC idp block and one route of its own (auth: jwt, except the probe
      tenant's: auth none, so that plain requests reach the backend).
  driver.py ready <url> <t0 ns> <timeout s>
      ms from t0 until <url> answers 200 ("timeout" otherwise).
  driver.py change <mode> <http port> <admin port> <token> <tenants file> <id> <host>
                   <repeat> <label>
      REPEAT single-tenant renames, one at a time, each timed until the data plane shows
      the new name (the backend echoes X-Tenant-Name). Modes:
        file-watch    rewrite the tenants file (temp file + rename); the watcher reloads
        admin-reload  rewrite the file, then POST /reload (the gateway does not watch)
        admin-patch   PATCH /tenants/<id> {"name": ...}
      Prints one line per change, then "summary <visible median> <visible max> <http
      median> <http max> <gateway median> <gateway max> <gateway field>" (ms; "-" when
      not applicable).
  driver.py soak <admin port> <token> <id> <seconds> <gateway pid> <rss every s> <out>
      for <seconds>, one PATCH (a new name) per second (a PATCH slower than a second
      delays the next; they never overlap), sampling VmRSS every <rss every> seconds; writes the samples and PATCH times to <out> and prints a summary line.
"""
import http.client
import json
import os
import re
import statistics
import sys
import time
import urllib.request
import uuid

NS = uuid.UUID("6f1b7a52-3c1d-4e0f-9a57-2b0c8d4e5f61")
ISSUER = "http://127.0.0.1:9/idp/t%d"


def tenant_id(i):
    return str(uuid.uuid5(NS, str(i)))


# ---- the tenants file -----------------------------------------------------------------------

def tenant_yaml(i, shape, probe):
    lines = ["  - id: %s" % tenant_id(i), "    name: Tenant %d" % i,
             "    subdomain: t%d" % i, "    tier: basic"]
    if shape == "idp":
        auth = "none" if i == probe else "jwt"
        lines += [
            "    idp:",
            "      kind: oidc",
            "      issuer: " + ISSUER % i,
            "      client_id: client-t%d" % i,
            "      client_secret: {env: SCALE_IDP_CLIENT_SECRET}",
            "      tenant_binding: {claim: custom:tenantid}",
            "    routes:",
            "      - {prefix: /, pool: backend, name: app, auth: %s}" % auth,
        ]
    return "\n".join(lines) + "\n"


def gen(count, shape, probe, out):
    with open(out, "w") as f:
        if count == 0:
            f.write("tenants: []\n")
            return 0
        f.write("tenants:\n")
        for i in range(count):
            f.write(tenant_yaml(i, shape, probe))
    return 0


def rename_in_file(path, tid, name):
    """Rewrites `path` with tenant `tid`'s name set to `name` (temp file + rename, as an
    editor saves). Works on this script's layout and on the admin API's (serde) one."""
    text = open(path).read()
    at = text.find("id: " + tid)
    if at < 0:
        raise SystemExit("tenant %s not in %s" % (tid, path))
    m = re.compile(r"\n(\s*)name: [^\n]*").search(text, at)
    text = text[: m.start()] + "\n%sname: %s" % (m.group(1), name) + text[m.end():]
    tmp = path.rsplit("/", 1)[0] + "/.scale-edit.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


# ---- HTTP -----------------------------------------------------------------------------------

class Conn:
    """A keep-alive connection that reconnects after any failure."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def request(self, method, path, headers=None, body=None, timeout=60):
        for attempt in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def ready(url, t0, timeout):
    deadline = t0 / 1e9 + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    print("%.0f" % ((time.time_ns() - t0) / 1e6))
                    return 0
        except Exception:  # noqa: BLE001 (not up yet)
            pass
        time.sleep(0.005)
    print("timeout")
    return 1


def wait_visible(data, host, name, t0, timeout=300):
    """ms from t0 (perf_counter) until GET / on `host` answers with body `name`."""
    deadline = t0 + timeout
    while True:
        try:
            status, body = data.request("GET", "/", {"Host": host}, timeout=10)
            if status == 200 and body.decode(errors="replace") == name:
                return (time.perf_counter() - t0) * 1000
        except (OSError, http.client.HTTPException):
            pass
        if time.perf_counter() > deadline:
            raise SystemExit("the new name %r never showed on %s" % (name, host))
        time.sleep(0.001)


def gateway_duration(admin, auth, generation):
    """A duration the gateway recorded for the reload that made `generation`, if its
    /reloads history has one: (field name, ms) or None."""
    try:
        status, body = admin.request("GET", "/reloads", auth)
        if status != 200:
            return None
        for ev in json.loads(body).get("reloads", []):
            if ev.get("generation") != generation:
                continue
            for k, v in ev.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and \
                        ("duration" in k or "elapsed" in k or k.endswith("_ms")):
                    return k, float(v) * (1000 if k.endswith("_s") or k.endswith("secs") else 1)
            return None
    except Exception:  # noqa: BLE001
        return None
    return None


def generation(admin):
    status, body = admin.request("GET", "/readyz")
    return json.loads(body).get("generation") if status == 200 else None


def change(mode, http_port, admin_port, token, tenants, tid, host, repeat, label):
    data, admin = Conn(http_port), Conn(admin_port)
    auth = {"Authorization": "Bearer " + token}
    vis, http_ms, gw, field = [], [], [], None
    for k in range(repeat):
        name = "Tenant %s %s-%d-%d" % (tid[:8], label, k, time.time_ns() % 100000)
        gen_before = generation(admin)
        code = "-"
        if mode == "file-watch":
            rename_in_file(tenants, tid, name)
            t0 = time.perf_counter()
        elif mode == "admin-reload":
            rename_in_file(tenants, tid, name)
            t0 = time.perf_counter()
            status, body = admin.request("POST", "/reload", auth, timeout=600)
            http_ms.append((time.perf_counter() - t0) * 1000)
            code = status
        elif mode == "admin-patch":
            t0 = time.perf_counter()
            status, body = admin.request(
                "PATCH", "/tenants/" + tid, dict(auth, **{"Content-Type": "application/json"}),
                json.dumps({"name": name}), timeout=600)
            http_ms.append((time.perf_counter() - t0) * 1000)
            code = status
        else:
            raise SystemExit("unknown mode " + mode)
        if code not in ("-", 200):
            raise SystemExit("%s answered %s: %s" % (mode, code, body[:500]))
        vis.append(wait_visible(data, host, name, t0))
        gen_after = generation(admin)
        d = gateway_duration(admin, auth, gen_after)
        if d:
            field = d[0]
            gw.append(d[1])
        print("%s %d: visible %.1f ms%s, generation %s -> %s%s" % (
            mode, k + 1, vis[-1], "" if code == "-" else ", HTTP %s in %.1f ms" % (code, http_ms[-1]),
            gen_before, gen_after, "" if not d else ", gateway %s %.1f" % d), file=sys.stderr)
        time.sleep(0.5)

    def mm(xs):
        return ("%.1f %.1f" % (statistics.median(xs), max(xs))) if xs else "- -"
    print("summary %s %s %s %s %s" % (mm(vis), mm(http_ms), mm(gw), field or "-",
                                      "%.1f" % http_ms[0] if http_ms else "-"))
    return 0


# ---- the reload soak ------------------------------------------------------------------------

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def soak(admin_port, token, tid, seconds, pid, every, out):
    admin = Conn(admin_port)
    hdrs = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    start = time.perf_counter()
    samples = [(0.0, rss_kib(pid))]
    patches, failed, n = [], [], 0
    next_rss = every
    while True:
        now = time.perf_counter() - start
        if now >= next_rss:
            samples.append((now, rss_kib(pid)))
            next_rss += every
        if now >= seconds:
            break
        if now < n:  # PATCH n is due at second n; a slow one delays the next, never overlaps
            time.sleep(max(0.001, min(n, next_rss, seconds) - now))
            continue
        t = time.perf_counter()
        try:
            status, body = admin.request("PATCH", "/tenants/" + tid, hdrs,
                                         json.dumps({"name": "Soak %d" % n}), timeout=600)
        except (OSError, http.client.HTTPException) as e:
            status, body = 0, str(e).encode()
        patches.append((time.perf_counter() - t) * 1000)
        if status != 200:
            failed.append("%d %s" % (status, body[:200]))
        n = max(n + 1, int(time.perf_counter() - start))
    if time.perf_counter() - start - samples[-1][0] > 0.5:
        samples.append((time.perf_counter() - start, rss_kib(pid)))
    with open(out, "w") as f:
        for t, r in samples:
            f.write("rss %.1f %d\n" % (t, r))
        for ms in patches:
            f.write("patch %.1f\n" % ms)
        for x in failed:
            f.write("failed %s\n" % x)
    rss = [r for _, r in samples]
    first = rss[0]
    print("patches %d failed %d patch_median %.1f patch_max %.1f rss_first %d rss_last %d "
          "rss_min %d rss_max %d band_lo %.1f band_hi %.1f samples %d" % (
              len(patches), len(failed), statistics.median(patches) if patches else 0,
              max(patches) if patches else 0, first, rss[-1], min(rss), max(rss),
              (min(rss) - first) * 100 / first, (max(rss) - first) * 100 / first, len(rss)))
    return 0


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        sys.exit(gen(int(a[0]), a[1], int(a[2]), a[3]))
    if cmd == "id":
        print(tenant_id(int(a[0])))
        sys.exit(0)
    if cmd == "ready":
        sys.exit(ready(a[0], int(a[1]), float(a[2])))
    if cmd == "change":
        sys.exit(change(a[0], int(a[1]), int(a[2]), a[3], a[4], a[5], a[6], int(a[7]), a[8]))
    if cmd == "soak":
        sys.exit(soak(int(a[0]), a[1], a[2], int(a[3]), int(a[4]), float(a[5]), a[6]))
    sys.exit("unknown command " + cmd)
