"""Stops, kills and a lost socket, as an operator meets them.

- SIGTERM to ./quickstart under load: nginx quits gracefully first (it
  finishes what it has in flight while the pool still serves), then the
  pool stops. Every request whose row was committed got its 202; no row is
  in the database whose client saw a closed connection or an error.
- SIGTERM to the master alone (nginx stays): the socket file goes first,
  the workers serve the connections nginx already made, and none is cut.
- kill -9 of the master with requests in flight: the workers notice and
  drain, so every committed row was answered 202 and none is cut.
- The FastCGI socket file deleted: SIGHUP makes the master bind it again,
  says so in its log and in /api/status, and requests flow again.
- /api/health tells the truth: degraded with the reason (and 503 when no
  row can be accepted) when the disk is full, and when the judge hangs while
  rows wait."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, SRCDIR, BIN, FakeLLM, Server, free_port, wait_for  # noqa: E402
import http.client  # noqa: E402


class Clients:
    """Threads that submit rows through nginx until told to stop, each
    request with its own tag (the row's dataset), and keep every outcome:
    tag -> ("202", id) or ("status", N) or ("error", repr)."""

    def __init__(self, port, threads=6):
        self.port, self.lock, self.stop_ev = port, threading.Lock(), threading.Event()
        self.outcome = {}
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def post(self, tag):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/api/eval", body=json.dumps(dict(ROW, dataset=tag)),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status == 202:
                return ("202", json.loads(body)["id"])
            return ("status", r.status)
        finally:
            conn.close()

    def run(self):
        while not self.stop_ev.is_set():
            tag = "t-" + uuid.uuid4().hex
            try:
                res = self.post(tag)
            except (OSError, http.client.HTTPException) as e:
                res = ("error", repr(e))
            with self.lock:
                self.outcome[tag] = res
            if res[0] == "error" and isinstance(res[1], str) and "ConnectionRefused" in res[1]:
                break             # nginx is gone: nothing more will reach it

    def accepted(self):
        with self.lock:
            return sum(1 for v in self.outcome.values() if v[0] == "202")

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def judge_rows(db_rows, clients, what):
    """Every row in the database belongs to a request answered 202 with its
    id; every 202 is in the database."""
    outcome = clients.outcome
    by_tag = {r[1]: r[0] for r in db_rows}
    unanswered = [(tag, outcome.get(tag)) for tag in by_tag if outcome.get(tag, ("none",))[0] != "202"]
    tap.ok(not unanswered, f"{what}: every committed row's client got its 202 "
           f"({len(by_tag)} rows, {len(unanswered)} committed but answered otherwise)", unanswered[:10])
    lost = [(tag, v) for tag, v in outcome.items() if v[0] == "202" and by_tag.get(tag) != v[1]]
    tap.ok(not lost, f"{what}: every 202 is a stored row with the id answered", lost[:10])
    kinds = {}
    for v in outcome.values():
        k = v[0] if v[0] != "status" else str(v[1])
        kinds[k] = kinds.get(k, 0) + 1
    tap.diag(f"{what}: outcomes {sorted(kinds.items())}")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def kill_env(data):
    """SIGKILL what is left of a quickstart run (a failed test): the
    processes whose environment holds RAGRADE_DATA=data, a unique path."""
    mark = f"RAGRADE_DATA={data}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def check_quickstart_stop(how):
    """./quickstart serving, clients submitting through its nginx, then
    SIGTERM to quickstart ("term"), or SIGINT to its process group as a
    terminal's Ctrl-C sends it ("ctrl-c"). commit_interval_us holds each
    group a little, so that submits are in flight when the signal lands."""
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-qs-")
    data = os.path.join(tmp.name, "var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env.update({"RAGRADE_DATA": data, "RAGRADE_PORT": str(port), "RAGRADE_POOL_WORKERS": "2",
                "RAGRADE_POOL_THREADS": "4", "RAGRADE_DB_COMMIT_INTERVAL_US": "50000",
                "RAGRADE_RATE": "100000", "RAGRADE_BURST": "100000",
                "RAGRADE_POOL_GRACEFUL_TIMEOUT_MS": "10000"})
    os.chmod(tmp.name, 0o755)
    log = open(os.path.join(tmp.name, "quickstart.log"), "wb")
    qs = subprocess.Popen([os.path.join(SRCDIR, "quickstart")], env=env, cwd=SRCDIR, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)
    clients = None
    try:
        def up():
            if qs.poll() is not None:
                return True
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/api/ping")
                return c.getresponse().status == 200
            except OSError:
                return False
        wait_for(up, 180, "quickstart to serve", step=0.2)
        if qs.poll() is not None:
            raise RuntimeError("quickstart exited: " + open(log.name, errors="replace").read()[-3000:])
        clients = Clients(port)
        wait_for(lambda: clients.accepted() >= 300, 60, "300 rows accepted through quickstart's nginx")
        if how == "term":
            qs.send_signal(signal.SIGTERM)
        else:
            os.killpg(qs.pid, signal.SIGINT)
        qs.wait(60)
        clients.stop()
        tap.eq(qs.returncode, 0, f"quickstart {how}: under load it stops, exit 0")
        text = open(log.name, errors="replace").read()
        tap.ok("quickstart: stopped" in text, f"quickstart {how}: it says it stopped", text[-1500:])
        socks = [os.path.join(data, "ragrade.sock"), os.path.join(data, "run", "ragrade.sock")]
        tap.ok(not any(os.path.exists(p) for p in socks), f"quickstart {how}: the socket is removed")
        import sqlite3
        c = sqlite3.connect(os.path.join(data, "ragrade.db"))
        rows = c.execute("SELECT id, dataset FROM evaluations").fetchall()
        c.close()
        judge_rows(rows, clients, f"quickstart {how} under load")
    finally:
        if clients:
            clients.stop()
        if qs.poll() is None:
            os.killpg(qs.pid, signal.SIGKILL)
            qs.wait()
        kill_env(data)
        log.close()
        tmp.cleanup()


def check_master_kill():
    """kill -9 of the master while clients submit through nginx: the
    workers drain, so every row they committed was answered."""
    with Server(workers=2, threads=4, env={"RAGRADE_DB_COMMIT_INTERVAL_US": "50000"}) as s:
        before = len(cut_upstream(s))
        workers = s.worker_pids()
        clients = Clients(s.port)
        wait_for(lambda: clients.accepted() >= 200, 60, "200 rows accepted")
        os.kill(s.pool.pid, signal.SIGKILL)
        s.pool.wait()
        wait_for(lambda: not any(alive(p) for p in workers), 30, "the workers to drain and exit")
        log = s.log()
        tap.ok("the master is gone" in log, "master kill: the workers say they noticed", log[-1500:])
        n = len(clients.outcome)
        wait_for(lambda: len(clients.outcome) >= n + 10, 30, "the clients to see the pool gone")
        clients.stop()
        cut = cut_upstream(s)[before:]
        tap.ok(not cut, f"master kill: no request nginx handed to the pool was cut ({len(cut)})", "\n".join(cut[:5]))
        rows = s.query("SELECT id, dataset FROM evaluations")
        judge_rows(rows, clients, "master kill -9")
        clean_log(s, "master kill -9")
        s.pool = None


def clean_log(s, what):
    log = s.log()
    tap.ok("AddressSanitizer" not in log and "runtime error" not in log,
           f"{what}: no sanitizer report in the pool's log", log[log.find("==ERROR"):][:2000])


def cut_upstream(s):
    """nginx's error log lines for requests the pool cut (reset, closed
    before answering), as opposed to connects refused (ENOENT, ECONNREFUSED:
    nothing was sent, nginx answers 503 and nothing is stored)."""
    try:
        with open(os.path.join(s.data, "nginx-error.log"), errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [ln for ln in lines if "upstream" in ln and "connect() to unix:" not in ln]


def check_master_stop():
    """SIGTERM to the master alone, nginx staying up (ragrade and nginx as
    two services): the master removes the socket first, the workers serve
    the connections nginx had already made, so no request nginx handed to
    the pool is cut, and every committed row got its 202."""
    with Server(workers=2, threads=4, env={"RAGRADE_DB_COMMIT_INTERVAL_US": "50000"}) as s:
        before = len(cut_upstream(s))
        clients = Clients(s.port)
        wait_for(lambda: clients.accepted() >= 200, 60, "200 rows accepted")
        rc = s.stop_pool(signal.SIGTERM)
        n = len(clients.outcome)
        wait_for(lambda: len(clients.outcome) >= n + 10, 30, "the clients to see the pool gone")
        clients.stop()
        tap.eq(rc, 0, "master stop: exit 0")
        cut = cut_upstream(s)[before:]
        tap.ok(not cut, f"master stop: no request nginx handed to the pool was cut ({len(cut)})", "\n".join(cut[:5]))
        judge_rows(s.query("SELECT id, dataset FROM evaluations"), clients, "master stop")
        clean_log(s, "master stop")


def check_socket_deleted():
    """The socket file deleted under a running pool: nginx gets ENOENT
    (503 pool_unavailable) until SIGHUP makes the master bind it again."""
    with Server(workers=2, threads=4) as s:
        sock = os.path.join(s.data, "ragrade.sock")
        old = sorted(s.worker_pids())
        os.unlink(sock)
        s.pool.send_signal(signal.SIGHUP)
        try:
            wait_for(lambda: os.path.exists(sock), 20, "the socket file again")
        except TimeoutError:
            pass
        tap.ok(os.path.exists(sock), "deleted socket: the master binds it again")
        try:
            wait_for(lambda: s.get("/api/ping").status == 200, 20, "a ping through nginx")
            ok = True
        except TimeoutError:
            ok = False
        tap.ok(ok, "deleted socket: requests through nginx are served again")
        r = s.post("/api/eval", ROW)
        tap.eq(r.status, 202, "deleted socket: a submit is stored again")
        log = s.log()
        tap.ok("was deleted: binding it again" in log, "deleted socket: the log says so", log[-1500:])
        st = s.get("/api/status").json()
        tap.eq(st.get("socket_rebinds"), 1, "deleted socket: /api/status counts the rebind")
        tap.ok(st.get("socket_rebound_at"), "deleted socket: and says when", st.get("socket_rebound_at"))
        wait_for(lambda: not set(s.worker_pids()) & set(old), 30, "the old workers to go")
        tap.ok(True, "deleted socket: the workers on the lost socket were replaced")
        rc = s.stop_pool()
        tap.eq(rc, 0, "deleted socket: the pool still stops cleanly")
        tap.ok(not os.path.exists(sock), "deleted socket: and removes the socket it bound")
        clean_log(s, "deleted socket")


def health(s):
    r = s.get("/api/health")
    return r.status, r.json()


def codes(h):
    return [p["code"] for p in h.get("problems", [])]


def check_health_judge():
    """A judge that hangs while rows wait: degraded, judge_stalled, still
    HTTP 200 (rows are accepted); well again once rows finish. A judge
    that cannot start: degraded, judge_failed."""
    with FakeLLM() as f:
        env = f.env(RAGRADE_JUDGE_STALL_MS="1500", RAGRADE_JUDGE_MAX_CONCURRENCY="4")
        with Server(workers=1, threads=4, env=env) as s:
            r = s.post("/api/eval", ROW)
            s.wait_status([r.json()["id"]])
            st, h = health(s)
            tap.ok(st == 200 and h["status"] == "ok" and h.get("problems") == [], "health: ok with a working judge", h)
            f.control(faults=[{"mode": "hang", "count": -1}])
            # new texts: the judge's reply cache must not answer them
            fresh = [dict(ROW, question=f"{ROW['question']} ({uuid.uuid4().hex})") for _ in range(3)]
            ids = s.post("/api/eval", fresh).json()["ids"]
            try:
                wait_for(lambda: "judge_stalled" in codes(health(s)[1]), 30, "health to see the stall")
            except TimeoutError:
                pass
            st, h = health(s)
            tap.ok("judge_stalled" in codes(h), "health: a hung judge while rows wait is judge_stalled", h)
            tap.eq((st, h["status"]), (200, "degraded"), "health: degraded, HTTP 200 (rows are still accepted)")
            tap.ok(h["judge"].get("stalled_since"), "health: the judge says since when", h["judge"])
            tap.eq(s.post("/api/eval", ROW).status, 202, "health: a stalled judge does not stop submits")
            f.control(reset=True)
            s.wait_status(ids, ("done",), 120)
            wait_for(lambda: health(s)[1]["status"] == "ok", 30, "health to be ok again")
            tap.ok(True, "health: ok again once rows finish")
        env = f.env(RAGRADE_JUDGE_MODEL="no-such-model", RAGRADE_JUDGE_INIT_TIMEOUT_MS="2000")
        with Server(workers=1, threads=4, env=env) as s:
            s.post("/api/eval", ROW)
            try:
                wait_for(lambda: health(s)[1]["judge"]["state"] == "failed", 30, "the judge to fail")
            except TimeoutError:
                pass
            st, h = health(s)
            tap.ok("judge_failed" in codes(h) and h["status"] == "degraded" and st == 200,
                   "health: a judge that cannot start is judge_failed, degraded", h)
            tap.ok(h.get("error") and "judge" in h["error"], "health: error gives the reason", h.get("error"))
            clean_log(s, "health")


def fill(path, chunk=16384):
    import errno
    with open(path, "wb", buffering=0) as f:
        buf = b"\0" * chunk
        while True:
            try:
                f.write(buf)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk > 512:
                    chunk //= 4
                    buf = b"\0" * chunk
                    continue
                return


def check_health_disk_full():
    """The data directory on a 2 MiB tmpfs (as t/diskfull.py), filled: once
    a commit has failed, health is unavailable (503, disk_full), and it
    sees the disk freed by itself (no submit needed)."""
    if os.geteuid() != 0:
        tap.ok(True, "# SKIP health under disk full: needs root to mount a tmpfs")
        return
    top = tempfile.mkdtemp(prefix="ragrade-full-")
    os.chmod(top, 0o755)
    mnt = os.path.join(top, "mnt")
    os.makedirs(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        os.rmdir(top)
        tap.ok(True, f"# SKIP health under disk full: mount -t tmpfs failed: {p.stderr.strip()}")
        return
    s = None
    try:
        s = Server(data=os.path.join(mnt, "data"), workers=2, threads=4)
        s.pool_log = os.path.join(top, "pool.log")
        s.start()
        st, h = health(s)
        tap.eq((st, h["status"]), (200, "ok"), "disk full: health is ok before")
        filler = os.path.join(mnt, "filler")
        fill(filler)
        got = None
        for _ in range(5000):
            r = s.post("/api/eval", ROW)
            if r.status == 503:
                got = r
                break
        tap.ok(got is not None, "disk full: a submit answers 503")
        st, h = health(s)
        tap.eq((st, h["status"]), (503, "unavailable"), "disk full: health answers 503, unavailable")
        tap.ok("disk_full" in codes(h), "disk full: the reason is disk_full", h)
        st, h = health(s)
        tap.eq(st, 503, "disk full: and stays so while the disk is full (its probe fails too)")
        os.unlink(filler)
        try:
            wait_for(lambda: health(s)[0] == 200, 20, "health to see the disk freed", step=0.2)
        except TimeoutError:
            pass
        st, h = health(s)
        tap.eq((st, h["status"]), (200, "ok"), "disk full: freed, health is ok again without a submit")
        tap.eq(s.post("/api/eval", ROW).status, 202, "disk full: and submits are stored again")
        clean_log(s, "disk full")
    finally:
        if s is not None:
            s.stop()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
        if s is not None:
            s.tmp.cleanup()
        try:
            os.unlink(os.path.join(top, "pool.log"))
        except OSError:
            pass
        os.rmdir(top)


def main():
    which = sys.argv[1:] or ["quickstart", "master", "socket", "judge", "diskfull"]
    if "quickstart" in which:
        check_quickstart_stop("term")
        check_quickstart_stop("ctrl-c")
    if "master" in which:
        check_master_stop()
        check_master_kill()
    if "socket" in which:
        check_socket_deleted()
    if "judge" in which:
        check_health_judge()
    if "diskfull" in which:
        check_health_disk_full()


tap.run(main)
