"""Start the real thing for a test: a temporary data directory, `ragrade
serve` (the master and its workers) and nginx on a free loopback port,
filled in from conf/nginx.conf exactly as ./quickstart does. Everything
talks to 127.0.0.1 only."""
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

SRCDIR = os.environ.get("RAGRADE_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RAGRADE_BIN") or os.path.join(SRCDIR, "ragrade")
NGINX = os.environ.get("NGINX") or "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready_judges(s, f, workers, row, max_concurrency, timeout=60):
    """Bring every worker's LLM judge to ready, then let every row finish.
    A worker starts its judge on its own first submit, or on queued rows
    seen at its scheduler's idle poll (1 s); light traffic may all reach
    one worker (its kept nginx connections may carry all of it), so the fake
    holds its answers while more rows wait than the pool may run at once,
    until every worker has seen them and is ready."""
    f.control(delay_ms=400)
    s.post("/api/eval", [row] * (4 * max_concurrency + 8))
    wait_for(lambda: s.log().count("judge openai/judge-model: ready") >= workers, timeout,
             "every worker's judge to be ready", step=0.05)
    f.control(delay_ms=0)
    s.wait_status([r[0] for r in s.query("SELECT id FROM evaluations")], ("done",), timeout)


def wait_for(cond, timeout=20.0, what="condition", step=0.02):
    """Poll cond() until it returns a true value; raise after timeout. This
    waits for a state we can observe, it does not stand in for one."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def read_timeout_s(busy_timeout_ms):
    """nginx's fastcgi_read_timeout, as ./quickstart sets it: twice
    db.busy_timeout_ms plus 10 s, at least 30 s."""
    return max(30, (2 * busy_timeout_ms + 999) // 1000 + 10)


def nginx_worker_group():
    """The group nginx's workers run as when its master is root (Debian's
    nginx: nobody's group, nogroup); None when we are not root (nginx's
    workers then run as us)."""
    import grp
    import pwd
    if os.geteuid() != 0:
        return None
    out = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    for word in out.split():
        if word.startswith("--group="):
            return grp.getgrnam(word[8:]).gr_gid
    user = "nobody"
    for word in out.split():
        if word.startswith("--user="):
            user = word[7:]
    return pwd.getpwnam(user).pw_gid


def nginx_group(d):
    """The socket is mode 0660: give its directory nginx's workers' group,
    set-group-id, so that the socket ragrade creates there is theirs too.
    (./quickstart keeps the socket in a directory of its own for this.)"""
    gid = nginx_worker_group()
    if gid is not None:
        os.chown(d, -1, gid)
        os.chmod(d, 0o2755)
    else:
        os.chmod(d, 0o755)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Server:
    """ragrade + nginx. env: RAGRADE_* overrides for the pool."""

    def __init__(self, env=None, workers=2, threads=8, rate=100000, burst=100000, data=None, prefix=None,
                 conn=10000, args=None):
        self.prefix = prefix or []
        self.args = args or []    # after "serve", e.g. ["--config", path]
        self.tmp = tempfile.TemporaryDirectory(prefix="ragrade-t-")
        self.data = data or self.tmp.name
        os.makedirs(self.data, exist_ok=True)
        nginx_group(self.data)
        self.port = free_port()
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("RAGRADE_") and k not in ("RAGRADE_BIN", "RAGRADE_SRCDIR"):
                del self.env[k]
        self.env.update({
            "RAGRADE_DATA": self.data,
            "RAGRADE_POOL_WORKERS": str(workers),
            "RAGRADE_POOL_THREADS": str(threads),
            "RAGRADE_POOL_GRACEFUL_TIMEOUT_MS": "5000",
        })
        self.env.update(env or {})
        self.rate, self.burst, self.conn = rate, burst, conn
        self.pool = None
        self.nginx = None
        self.pool_log = os.path.join(self.data, "pool.log")

    # ---- lifecycle ----
    def www(self):
        """A copy of www/ in the data directory, which is 0755: nginx's
        workers (nobody) may not traverse the path of the checkout."""
        dst = os.path.join(self.data, "www")
        if not os.path.isdir(dst):
            shutil.copytree(os.path.join(SRCDIR, "www"), dst)
            for root, dirs, files in os.walk(dst):
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o755)
                for f in files:
                    os.chmod(os.path.join(root, f), 0o644)
            os.chmod(dst, 0o755)
        return dst

    def write_nginx_conf(self):
        os.makedirs(os.path.join(self.data, "nginx"), exist_ok=True)
        max_body = self.env.get("RAGRADE_LIMITS_MAX_BODY", "1048576")
        subst = {
            "@PORT@": str(self.port), "@LISTEN@": "127.0.0.1", "@DATA@": self.data,
            "@SOCKET@": os.path.join(self.data, "ragrade.sock"),
            "@ERROR_LOG@": os.path.join(self.data, "nginx-error.log"),
            "@RATE@": str(self.rate), "@BURST@": str(self.burst),
            "@WWW@": self.www(), "@MAX_BODY@": max_body, "@CONN@": str(self.conn),
            "@READ_TIMEOUT@": str(read_timeout_s(int(self.env.get("RAGRADE_DB_BUSY_TIMEOUT_MS", "5000")))),
        }
        for name in ("nginx.conf", "nginx-site.conf"):
            with open(os.path.join(SRCDIR, "conf", name)) as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace(k, v)
            with open(os.path.join(self.data, name), "w") as f:
                f.write(text)

    def start_pool(self):
        self.pool_out = open(self.pool_log, "ab")
        self.pool = subprocess.Popen(self.prefix + [BIN, "serve"] + self.args, env=self.env, stdout=self.pool_out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        sock = os.path.join(self.data, "ragrade.sock")
        wait_for(lambda: os.path.exists(sock) or self.pool.poll() is not None, 20, "the pool's socket")
        if self.pool.poll() is not None:
            raise RuntimeError("ragrade serve exited: " + self.log())
        wait_for(lambda: self.workers_ready() >= int(self.env["RAGRADE_POOL_WORKERS"]), 20, "workers")

    def workers_ready(self):
        return self.log().count("worker ready")

    def start_nginx(self):
        self.write_nginx_conf()
        conf = os.path.join(self.data, "nginx.conf")
        self.nginx = subprocess.Popen([NGINX, "-c", conf, "-e", os.path.join(self.data, "nginx-error.log")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)

        def up():
            try:
                return self.get("/api/ping").status == 200
            except OSError:
                return False
        wait_for(up, 20, "nginx")

    def start(self):
        try:
            self.start_pool()
            self.start_nginx()
        except BaseException:
            self.stop()           # a failed start must leave no pool behind
            raise
        return self

    def stop_pool(self, sig=signal.SIGTERM, timeout=30):
        if self.pool and self.pool.poll() is None:
            self.pool.send_signal(sig)
            try:
                self.pool.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pool.pid, signal.SIGKILL)
                self.pool.wait()
        rc = self.pool.returncode if self.pool else None
        self.pool = None
        return rc

    def stop(self):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        self.stop_pool()
        # Nothing of ours may outlive the test.
        for p in (self.nginx,):
            if p:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()

    def log(self):
        try:
            with open(self.pool_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def worker_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pool.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    # ---- database ----
    def db(self):
        c = sqlite3.connect(os.path.join(self.data, "ragrade.db"), timeout=30)
        c.row_factory = sqlite3.Row
        return c

    def query(self, sql, args=()):
        c = self.db()
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def wait_status(self, ids, statuses=("done",), timeout=30):
        ids = list(ids)

        def all_there():
            qs = ",".join("?" * len(ids))
            rows = self.query(f"SELECT count(*) FROM evaluations WHERE id IN ({qs}) AND status IN ({','.join('?' * len(statuses))})",
                              ids + list(statuses))
            return rows[0][0] == len(ids)
        try:
            return wait_for(all_there, timeout, f"rows to reach {statuses}")
        except TimeoutError as e:
            rows = [dict(r) for r in self.query("SELECT id, status, attempts, last_error, lease_owner FROM evaluations "
                                                 "ORDER BY id DESC LIMIT 5")]
            raise TimeoutError(f"{e}\nrows: {rows}\nlog:\n{self.log()[-3000:]}") from None


ROW = {
    "question": "When was the Eiffel Tower completed?",
    "answer": "The Eiffel Tower was completed in 1889.",
    "contexts": ["The Eiffel Tower was built from 1887 to 1889 for the World's Fair."],
    "ground_truth": "It was completed in 1889.",
}


class FakeLLM:
    """t/lib/fakellm.py on a free loopback port; it exits when we close its
    stdin, so it never outlives the test."""

    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(SRCDIR, "t", "lib", "fakellm.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read() or b"null")
        finally:
            conn.close()

    def control(self, **kw):
        return self._call("POST", "/_control", kw)

    def stats(self):
        return self._call("GET", "/_stats")

    def env(self, backend="openai", **extra):
        e = {"RAGRADE_JUDGE_BACKEND": backend, "RAGRADE_JUDGE_URL": self.url,
             "RAGRADE_JUDGE_MODEL": "judge-model", "RAGRADE_JUDGE_EMBEDDING_MODEL": "embed-model"}
        e.update(extra)
        return e

    def stop(self):
        try:
            self.control(release=True)
        except OSError:
            pass
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def cpu_ticks(pids):
    """utime + stime of these processes, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
