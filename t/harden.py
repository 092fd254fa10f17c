"""Hardening at the edge: nginx's per-client connection limit, JSON bodies
for every answer nginx makes itself, Referrer-Policy on the page, the
FastCGI socket closed to other local users, nginx's read timeout above
ragrade's deadline, and one ./quickstart per data directory."""
import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import SRCDIR, Server, free_port, wait_for  # noqa: E402


def raw(port, data, timeout=10):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(data)
        out = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            out += b
        return out
    finally:
        c.close()


def split(out):
    """(status, headers (lowercase names), body) of a raw HTTP/1.x answer."""
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def json_error(out, status, code, name):
    st, h, body = split(out)
    try:
        e = json.loads(body)["error"]
    except Exception:
        e = {}
    tap.ok(st == status and h.get("content-type", "").startswith("application/json") and e.get("code") == code
           and "message" in e and h.get("x-request-id"),
           f"{name}: {status} with a JSON body ({code})", out[:400])
    return h


def edge_answers(s):
    p = s.port
    json_error(raw(p, b"GARBAGE\r\n\r\n"), 400, "bad_request", "a request line nginx cannot parse")
    json_error(raw(p, b"GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n"
                      b"Content-Length: 2\r\n\r\nab"), 400, "bad_request", "two Content-Length headers")
    json_error(raw(p, b"POST /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"),
               405, "method_not_allowed", "a POST to the page")
    json_error(raw(p, b"GET /api/eval?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
               414, "uri_too_long", "a request line over nginx's buffers")
    json_error(raw(p, b"GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"),
               431, "header_too_large", "a header over nginx's buffers")
    out = raw(p, b"GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    h = json_error(out, 301, "moved", "/api without its slash")
    tap.ok(h.get("location", "").endswith("/api/") and out.lower().count(b"\r\nlocation:") == 1,
           "the 301 still says where to go, once", out[:400])
    json_error(raw(p, b"GET /nothing-here.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 404,
               "not_found", "a page file that does not exist")
    st, h, _ = split(raw(p, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    tap.ok(st == 200 and h.get("referrer-policy") == "no-referrer", "the page has Referrer-Policy: no-referrer", h)


def conn_limit(s, limit):
    """limit connections from one address hold a request in progress (a
    body not yet sent); the next request from it gets 429 in JSON.

    nginx counts a connection once it has read the request's headers, in
    whichever of its workers accepted it, so a holder can be counted after
    a probe that was sent later; the probe then passes and the late holder
    is the one refused. A refused holder has an answer to read: it is
    replaced, and the probe tried again, until all limit holders are
    counted and the probe is the one refused."""
    holders = []

    def hold():
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /api/eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        return c

    def answered(c):
        return bool(select.select([c], [], [], 0)[0])

    def probe():
        for i, c in enumerate(holders):
            if answered(c):
                c.close()
                holders[i] = hold()
        r = s.get("/api/ping")
        return r if r.status == 429 else None
    try:
        for _ in range(limit):
            holders.append(hold())
        r = wait_for(probe, 20, "the connection limit to refuse")
        e = r.json().get("error", {})
        tap.ok(r.status == 429 and e.get("code") == "rate_limited" and
               r.headers.get("content-type", "").startswith("application/json"),
               f"{limit} connections in progress from one address: the next request gets 429 JSON", r)
        tap.ok(not any(answered(c) for c in holders), "the connections in progress are still waiting for their body")
    except TimeoutError as ex:
        tap.ok(False, f"{limit} connections in progress from one address: the next request gets 429 JSON", str(ex))
        tap.ok(False, "the connections in progress are still waiting for their body")
    finally:
        for c in holders:
            c.close()
    tap.ok(wait_for(lambda: s.get("/api/ping").status == 200, 20, "the limit to clear"),
           "once they close, the address is served again")


def idle_closed(s):
    """A connection that never sends a request is closed by nginx after
    client_header_timeout (10 s), not held for nginx's default minute:
    idle connections cannot pile up against worker_connections."""
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        got = c.recv(1)          # b"" once nginx closes it; a timeout if it never does
        tap.eq(got, b"", "an idle connection that sends nothing is closed by nginx within 30 s")
    except OSError as ex:
        tap.ok(False, "an idle connection that sends nothing is closed by nginx within 30 s", repr(ex))
    finally:
        c.close()


def socket_mode(s):
    sock = os.path.join(s.data, "ragrade.sock")
    st = os.stat(sock)
    tap.eq(stat.S_IMODE(st.st_mode) & 0o007, 0, "the FastCGI socket grants nothing to other users")
    tap.eq(stat.S_IMODE(st.st_mode), 0o660, "it is mode 0660")
    if os.geteuid() != 0:
        tap.skip("another local user cannot connect (needs root to be another user)")
        return
    # A local user outside the socket's group (uid/gid 54321) tries it.
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError: print('denied')\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, sock], user=54321, group=54321, extra_groups=[],
                         capture_output=True, text=True, timeout=20).stdout.strip()
    tap.eq(out, "denied", "another local user cannot connect to the socket")
    tap.eq(s.get("/api/ping").status, 200, "nginx's workers still can")


def read_timeout(s):
    with open(os.path.join(s.data, "nginx-site.conf")) as f:
        conf = f.read()
    secs = [int(line.split()[1].rstrip("s;")) for line in conf.splitlines()
            if line.split()[:1] == ["fastcgi_read_timeout"]]
    busy = int(s.env["RAGRADE_DB_BUSY_TIMEOUT_MS"]) / 1000.0
    tap.ok(secs and all(x >= busy + 10 for x in secs), "nginx's fastcgi_read_timeout is over db.busy_timeout_ms, "
           "with at least 10 s of margin", (secs, busy))


def quickstart_env(data, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env.update({"RAGRADE_DATA": data, "RAGRADE_PORT": str(port), "RAGRADE_POOL_WORKERS": "1",
                "RAGRADE_POOL_THREADS": "2"})
    return env


def ping(port):
    try:
        out = raw(port, b"GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
        return split(out)[0] == 200
    except OSError:
        return False


def two_quickstarts():
    if os.geteuid() != 0 and not os.access("/usr/sbin/nginx", os.X_OK):
        tap.skip("two quickstarts: no nginx")
        return
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-qs-")
    os.chmod(tmp.name, 0o755)          # nginx's workers traverse it
    data = os.path.join(tmp.name, "data")
    p1, p2 = free_port(), free_port()
    log1 = open(os.path.join(tmp.name, "first.log"), "wb")
    first = subprocess.Popen([os.path.join(SRCDIR, "quickstart")], cwd=SRCDIR, env=quickstart_env(data, p1),
                             stdout=log1, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_for(lambda: ping(p1) or first.poll() is not None, 120, "the first quickstart to serve")
        except TimeoutError:
            pass
        up = ping(p1)
        tap.ok(up, "the first quickstart serves", open(os.path.join(tmp.name, "first.log"), "rb").read()[-2000:])
        if not up:
            return
        pid_before = open(os.path.join(data, "nginx.pid")).read() if os.path.exists(os.path.join(data, "nginx.pid")) else None
        conf_before = open(os.path.join(data, "nginx.conf")).read()
        second = subprocess.run([os.path.join(SRCDIR, "quickstart")], cwd=SRCDIR, env=quickstart_env(data, p2),
                                capture_output=True, timeout=300)
        err = second.stderr.decode("utf-8", "replace")
        tap.ok(second.returncode != 0 and "already serves" in err and b"is running" not in second.stdout,
               "a second quickstart on the same directory refuses, non-zero, and says why",
               (second.returncode, err[-500:], second.stdout[-300:]))
        tap.ok(not ping(p2), "it starts no second nginx")
        tap.eq(open(os.path.join(data, "nginx.conf")).read(), conf_before, "it leaves the first's nginx config alone")
        tap.ok(ping(p1), "the first still serves after the second exits")
        sock = [os.path.join(d, "ragrade.sock") for d in (data, os.path.join(data, "run"))]
        tap.ok(any(os.path.exists(x) for x in sock) and
               (pid_before is None or open(os.path.join(data, "nginx.pid")).read() == pid_before),
               "its socket and nginx.pid are still there")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGTERM)
            try:
                first.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait()
        log1.close()
        tmp.cleanup()


def main():
    limit = 4
    env = {"RAGRADE_DB_BUSY_TIMEOUT_MS": "25000"}
    with Server(env=env, conn=limit) as s:
        edge_answers(s)
        conn_limit(s, limit)
        idle_closed(s)
        socket_mode(s)
        read_timeout(s)
    two_quickstarts()


tap.run(main)
