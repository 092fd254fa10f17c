"""The pool as an operator meets it: a SIGKILLed worker is respawned and
no accepted row is lost; SIGHUP replaces the workers without refusing a
request; SIGTERM leaves no process or socket behind; nginx's FastCGI
connections are kept, and a reloading worker lets nginx close them first;
under a flood the WAL starts over instead of growing; spawn-fcgi works."""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fcgi  # noqa: E402
import tap  # noqa: E402
from harness import ROW, Server, wait_for  # noqa: E402


class Load:
    """Submit rows from a few threads until stopped; keep every answer."""

    def __init__(self, s, threads=4, body=ROW):
        self.s, self.stop_ev, self.lock, self.body = s, threading.Event(), threading.Lock(), body
        self.accepted, self.other = [], []
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                r = self.s.post("/api/eval", self.body)
                with self.lock:
                    if r.status != 202:
                        self.other.append(r.status)
                    elif isinstance(self.body, list):
                        self.accepted += r.json()["ids"]
                    else:
                        self.accepted.append(r.json()["id"])
            except OSError as e:
                with self.lock:
                    self.other.append(repr(e))

    def wait_accepted(self, n):
        wait_for(lambda: len(self.accepted) >= n, 30, f"{n} accepted submissions")

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def prom(s, name):
    m = re.search(r"^" + name + r" (\d+)", s.get("/api/metrics").body.decode(), re.M)
    return int(m.group(1)) if m else -1


def check_keepalive():
    """nginx keeps its FastCGI connections (fastcgi_keep_conn); the pool
    serves many requests on each, closes one only when nginx did not ask to
    keep it, and a draining worker serves what arrives on a kept connection
    until nginx closes it."""
    with Server(workers=1, threads=2) as s:
        before = prom(s, "ragrade_pool_connections_total")
        for _ in range(30):
            s.get("/api/ping")
        after = prom(s, "ragrade_pool_connections_total")
        tap.ok(0 <= after - before <= 15, "nginx's FastCGI connections are kept: 30 requests, "
               f"{after - before} new connections")
        sock = os.path.join(s.data, "ragrade.sock")
        body = json.dumps(ROW).encode()
        c = fcgi.Conn(sock)
        st, _, _ = c.request("POST", "/api/eval", body, keep=False)
        tap.eq(st, 202, "raw FastCGI: a submit without FCGI_KEEP_CONN")
        tap.ok(c.closed_by_server(), "the pool closes a connection nginx did not ask to keep")
        c.close()
        c = fcgi.Conn(sock)
        codes = [c.request("POST", "/api/eval", body)[0], c.request("GET", "/api/ping")[0],
                 c.request("POST", "/api/eval", body)[0]]
        tap.eq(codes, [202, 200, 202], "with FCGI_KEEP_CONN one connection carries several requests, submits too")
        old = s.worker_pids()
        ready = s.workers_ready()
        s.pool.send_signal(signal.SIGHUP)
        wait_for(lambda: s.workers_ready() > ready and "worker stopping" in s.log(), 30,
                 "the new worker and the old one draining")
        st, _, _ = c.request("POST", "/api/eval", body)
        tap.eq(st, 202, "a draining worker still answers a request on a connection it kept")
        tap.ok(all(alive(p) for p in old), "and it stays until nginx closes its connections", old)
        c.close()
        try:
            wait_for(lambda: not any(alive(p) for p in old), 30, "the old worker to exit")
            gone = True
        except TimeoutError:
            gone = False
        tap.ok(gone, "once the last kept connection is closed, the draining worker exits")
        tap.ok("still holds" not in s.log(), "it never had to close a connection itself")


def check_turns():
    """A thread that takes a read gives its turn (pool.active_threads) to a
    spare one first: with one turn, a read stuck on its connection must
    not hold up a submit."""
    with Server(workers=1, threads=2, env={"RAGRADE_POOL_ACTIVE_THREADS": "1"}) as s:
        c = fcgi.Conn(os.path.join(s.data, "ragrade.sock"))
        # The read's thread answers, then waits for the end of its input.
        c.send("GET", "/api/ping", end_input=False)
        # /api/status counts its own thread too: 2 means the read is in hand
        wait_for(lambda: s.get("/api/status").json()["active_threads"] >= 2, 20, "the read's thread to be busy")
        r = s.post("/api/eval", ROW, timeout=20)
        tap.eq(r.status, 202, "turns: with one turn, a submit is served while a read's thread waits")
        c.end_input()
        tap.eq(c.response()[0], 200, "turns: the read is answered once its input ends")
        tap.eq(c.request("GET", "/api/ping")[0], 200, "turns: and its connection serves again")
        c.close()


def wal_restarts(s):
    """From /api/status, which reads no table (a reader in a transaction
    would keep the WAL from restarting)."""
    return sum(w["wal_restarts"] for w in s.get("/api/status").json()["processes"])


def wal_sequence(path):
    """The WAL header's checkpoint sequence number: +1 at every restart."""
    with open(path, "rb") as f:
        return struct.unpack(">I", f.read(16)[12:16])[0]


def check_wal_flood():
    """Commits back to back never leave SQLite a moment to restart the WAL
    by itself; the schedulers must make one, or the WAL grows for as long
    as the flood lasts."""
    with Server(workers=2, threads=4, env={"RAGRADE_DB_CHECKPOINT_PAGES": "8"}) as s:
        wal = os.path.join(s.data, "ragrade.db-wal")
        tap.eq(s.post("/api/eval", ROW).status, 202, "flood: a first row")
        seq = wal_sequence(wal)
        big = dict(ROW, contexts=["context " * 500] * 3)     # 12 KB a row
        load = Load(s, threads=6, body=[big] * 10)
        try:
            wait_for(lambda: wal_restarts(s) >= 3, 60, "three WAL restarts under the flood")
            ok = True
        except TimeoutError:
            ok = False
        load.stop()
        tap.ok(ok, f"under a flood the schedulers restart the WAL ({wal_restarts(s)} restarts, "
                   f"{len(load.accepted)} rows accepted)")
        tap.ok(wal_sequence(wal) > seq, "the WAL header's checkpoint sequence moved", (seq, wal_sequence(wal)))
        workers = s.get("/api/status").json()["processes"]
        tap.eq(sum(1 for w in workers if w["checkpoints"] or w["wal_restarts"]), 1,
               "one worker of two checkpoints and restarts the WAL (never two checkpointers at once)")
        tap.ok(os.path.getsize(wal) <= 64 << 20, "the WAL stays within journal_size_limit", os.path.getsize(wal))
        tap.eq(load.other, [], "no submit refused during the flood")
        n = s.query("SELECT count(*) FROM evaluations")[0][0]
        tap.eq(n, len(load.accepted) + 1, "every accepted row of the flood is stored")
        tap.eq([r[0] for r in s.query("PRAGMA quick_check")], ["ok"], "and PRAGMA quick_check says ok")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def threads_named(pid, name):
    """How many threads of process pid bear this name (pthread_setname_np)."""
    n = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    n += f.read().strip() == name
            except OSError:
                pass
    except OSError:
        pass
    return n


def check_forced_drain():
    """A drain that runs out of time while a request thread is still inside
    a request (a client that stalls in the middle of a submit's body) must
    not free what that thread goes on using. The test holds the database's
    write lock, so that the stopping worker waits in its scheduler's last
    write after it has stopped its committer; only then does the body's
    end arrive. The submit must get 503 shutting_down; a worker that freed
    its queue under the thread would use freed memory (the sanitizer build
    aborts it: no answer, and AddressSanitizer in the log)."""
    env = {"RAGRADE_POOL_GRACEFUL_TIMEOUT_MS": "1500", "RAGRADE_DB_BUSY_TIMEOUT_MS": "20000"}
    with Server(workers=1, threads=2, env=env) as s:
        worker = s.worker_pids()[0]
        tap.eq(threads_named(worker, "rg-commit"), 1, "forced drain: the worker has its committer thread")
        body = json.dumps(ROW).encode()
        params = {"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/eval", "REQUEST_URI": "/api/eval",
                  "QUERY_STRING": "", "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
                  "SERVER_PROTOCOL": "HTTP/1.1"}
        c = fcgi.Conn(os.path.join(s.data, "ragrade.sock"))
        c.sock.sendall(fcgi._record(fcgi.BEGIN, struct.pack(">HB5x", 1, fcgi.KEEP_CONN)) +
                       fcgi._record(fcgi.PARAMS, b"".join(fcgi._pair(k, v) for k, v in params.items())) +
                       fcgi._record(fcgi.PARAMS) + fcgi._record(fcgi.STDIN, body[:10]))
        # /api/status counts its own thread too: 2 means the submit is in hand
        wait_for(lambda: s.get("/api/status").json()["active_threads"] >= 2, 20, "the submit's thread to be busy")
        lock = s.db()
        lock.isolation_level = None
        lock.execute("BEGIN IMMEDIATE")
        s.pool.send_signal(signal.SIGTERM)
        wait_for(lambda: threads_named(worker, "rg-commit") == 0, 20, "the stopping worker's committer to end")
        c.sock.sendall(fcgi._record(fcgi.STDIN, body[10:]) + fcgi._record(fcgi.STDIN))
        try:
            st, _, payload = c.response()
        except OSError as e:
            st, payload = repr(e), b""
        tap.ok(st == 503, "forced drain: a submit whose body ends after the committer stopped gets 503", (st, payload))
        tap.ok(b"shutting_down" in payload, "forced drain: its code is shutting_down", payload)
        lock.execute("ROLLBACK")
        lock.close()
        c.close()
        s.stop_pool()
        log = s.log()
        tap.ok("AddressSanitizer" not in log and "runtime error" not in log,
               "forced drain: no use of freed memory (the sanitizer build reports none)",
               log[log.find("==ERROR"):][:3000] if "==ERROR" in log else log[-2000:])
        tap.ok("still inside a request" in log, "forced drain: the worker says it exits without that thread")


def main():
    with Server(workers=2) as s:
        master = s.pool.pid
        first = sorted(s.worker_pids())
        tap.eq(len(first), 2, "the master forks pool.workers workers")

        # ---- SIGKILL a worker under load ----
        load = Load(s)
        load.wait_accepted(50)
        victim = first[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: "died: killed by signal 9" in s.log(), 20, "the master to notice")
        wait_for(lambda: (lambda p: len(p) == 2 and victim not in p)(s.worker_pids()), 20, "a replacement worker")
        n = len(load.accepted)
        load.wait_accepted(n + 50)
        load.stop()
        tap.ok(True, f"a killed worker is respawned ({len(load.accepted)} accepted, {len(load.other)} other answers)")
        tap.ok(f"worker {victim} died: killed by signal 9" in s.log(), "the master logs how the worker died")
        stored = {r[0] for r in s.query("SELECT id FROM evaluations")}
        lost = [i for i in load.accepted if i not in stored]
        tap.eq(lost, [], "every 202 is a stored row after a worker was killed")
        tap.eq(len(set(load.accepted)), len(load.accepted), "no id was answered twice")
        s.wait_status(load.accepted, ("done",), 60)
        tap.ok(True, "every accepted row is evaluated")
        tap.ok(all(x in (502, 503) or isinstance(x, str) for x in load.other),
               "requests cut by the kill get a 503 (never a wrong answer)", load.other[:10])

        # ---- SIGHUP: replace workers without refusing a request ----
        before = sorted(s.worker_pids())
        load = Load(s)
        load.wait_accepted(50)
        os.kill(master, signal.SIGHUP)
        wait_for(lambda: (lambda p: len(p) == 2 and not set(p) & set(before))(s.worker_pids()), 30,
                 "the old generation to be replaced")
        n = len(load.accepted)
        load.wait_accepted(n + 50)
        load.stop()
        tap.eq(load.other, [], f"SIGHUP refuses no request ({len(load.accepted)} accepted during the reload)")
        tap.ok(set(s.worker_pids()).isdisjoint(before), "SIGHUP replaced every worker", (before, s.worker_pids()))
        s.wait_status(load.accepted, ("done",), 60)
        tap.ok(True, "rows accepted across the reload are evaluated")

        # ---- SIGTERM: nothing left behind ----
        workers = s.worker_pids()
        sock = os.path.join(s.data, "ragrade.sock")
        rc = s.stop_pool(signal.SIGTERM)
        tap.eq(rc, 0, "SIGTERM: the master exits 0")
        tap.ok(not any(alive(p) for p in workers + [master]), "SIGTERM: no worker or master process remains")
        tap.ok(not os.path.exists(sock), "SIGTERM: the socket file is removed")
        tap.eq(s.query("SELECT count(*) FROM evaluations WHERE status = 'running'")[0][0], 0, "SIGTERM: no row stays running")
        tap.ok("worker stopped" in s.log() and "stopped" in s.log().splitlines()[-1], "the pool logs a graceful stop")

    check_keepalive()
    check_turns()
    check_forced_drain()
    check_wal_flood()

    # ---- spawn-fcgi: the listening socket arrives on fd 0 ----
    sf = shutil.which("spawn-fcgi")
    if not sf:
        tap.ok(True, "# SKIP spawn-fcgi is not installed")
        return
    s = Server(workers=1)
    sock = os.path.join(s.data, "ragrade.sock")
    s.prefix = [sf, "-n", "-s", sock, "-M", "0666", "--"]
    with s:
        r = s.post("/api/eval", ROW)
        tap.eq(r.status, 202, "under spawn-fcgi the pool serves on the inherited socket")
        s.wait_status([r.json()["id"]])
        tap.ok("spawn-fcgi" in s.log(), "and says so in its log")


tap.run(main)
