"""A full disk: the data directory on a 2 MiB tmpfs, filled up with a filler
file while rows are submitted. Submits must answer 503 JSON (disk_full or
database_unavailable), no row answered 202 may be lost, and once the filler
is deleted the service recovers by itself: submits answer 202 again
without a restart, every accepted row is evaluated, and the database passes
PRAGMA integrity_check. Needs root and a working mount -t tmpfs; skipped
otherwise."""
import errno
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, Server, wait_for  # noqa: E402


def fill(path, chunk=16384):
    """Write path until ENOSPC; the number of bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        buf = b"\0" * chunk
        while True:
            try:
                n += f.write(buf)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk > 512:
                    chunk //= 4
                    buf = b"\0" * chunk
                    continue
                return n


def error_code(r):
    try:
        return r.json().get("error", {}).get("code")
    except ValueError:
        return None


def submit_until_503(s, accepted, limit):
    """Post single rows until one answers 503; the 503 and any other
    non-202 answers."""
    others = []
    for _ in range(limit):
        r = s.post("/api/eval", ROW)
        if r.status == 202:
            accepted.append(r.json()["id"])
            continue
        if r.status == 503:
            return r, others
        others.append(r)
    return None, others


def main():
    if os.geteuid() != 0:
        tap.skip_all("needs root to mount a tmpfs")
    top = tempfile.mkdtemp(prefix="ragrade-full-")
    os.chmod(top, 0o755)             # nginx workers reach the socket through it
    mnt = os.path.join(top, "mnt")
    os.makedirs(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        os.rmdir(top)
        tap.skip_all(f"mount -t tmpfs failed: {p.stderr.strip() or p.returncode}")
    s = None
    try:
        data = os.path.join(mnt, "data")
        # The pool log goes outside the small disk, so that its lines survive.
        s = Server(data=data, workers=2, env={"RAGRADE_JUDGE_LEASE_MS": "1500"})
        s.pool_log = os.path.join(top, "pool.log")
        s.start()
        accepted = []
        for _ in range(20):
            r = s.post("/api/eval", ROW)
            if r.status == 202:
                accepted.append(r.json()["id"])
        tap.eq(len(accepted), 20, "20 rows accepted before the disk fills")
        s.wait_status(accepted)

        # Fill the disk, then keep submitting: the WAL may still have room in
        # pages it already owns, so a few more rows may get in first.
        filler = os.path.join(mnt, "filler")
        n = fill(filler)
        tap.diag(f"filler: {n} bytes")
        r503, others = submit_until_503(s, accepted, 5000)
        tap.ok(r503 is not None, "a submit on the full disk answers 503", others[:5])
        if r503 is not None:
            tap.ok(r503.headers.get("content-type", "").startswith("application/json")
                   and error_code(r503) in ("disk_full", "database_unavailable"),
                   f"the 503 is JSON with code disk_full or database_unavailable ({error_code(r503)})", r503)
        tap.ok(not others, "nothing but 202 and 503 while the disk fills", others[:5])
        r = s.post("/api/eval", [ROW] * 5)
        tap.ok(r.status == 503 and error_code(r) in ("disk_full", "database_unavailable"),
               "a batch on the full disk answers 503 too", r)
        tap.eq(s.get("/api/ping").status, 200, "the service still answers while the disk is full")

        # Free the space: recovery without a restart.
        master, workers = s.pool.pid, sorted(s.worker_pids())
        os.unlink(filler)
        late = []

        def recovered():
            rr = s.post("/api/eval", ROW)
            if rr.status == 202:
                late.append(rr.json()["id"])
                return True
            return False
        try:
            wait_for(recovered, 30, "a 202 after the filler is deleted", step=0.2)
        except TimeoutError as e:
            tap.diag(str(e))
        tap.ok(late, "after the filler is deleted, submits answer 202 again")
        tap.ok(s.pool.pid == master and s.pool.poll() is None and sorted(s.worker_pids()) == workers,
               "without a restart (same master and workers)")
        accepted += late
        ids = s.post("/api/eval", [ROW] * 5)
        tap.eq(ids.status, 202, "a batch is accepted again")
        if ids.status == 202:
            accepted += ids.json()["ids"]

        try:
            s.wait_status(accepted, ("done", "failed"), timeout=60)
        except TimeoutError as e:
            tap.diag(str(e)[:2000])
        got = {r["id"]: r["status"] for r in s.query("SELECT id, status FROM evaluations")}
        lost = [i for i in accepted if i not in got]
        tap.ok(not lost, f"no accepted row is lost ({len(accepted)} accepted)", lost[:20])
        notdone = [(i, got.get(i)) for i in accepted if got.get(i) != "done"]
        tap.ok(not notdone, "every accepted row is evaluated (done)",
               [dict(r) for r in s.query("SELECT id, status, attempts, last_error FROM evaluations "
                                         "WHERE status != 'done' LIMIT 5")])
        tap.eq(len(got), len(accepted), "and no row was stored that was not answered 202")
        tap.eq(s.query("PRAGMA integrity_check")[0][0], "ok", "PRAGMA integrity_check is ok")
    finally:
        if s is not None:
            s.stop()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
        if s is not None:
            try:
                tap.diag("pool log tail:\n" + "\n".join(s.log().splitlines()[-8:]))
            except OSError:
                pass
            s.tmp.cleanup()
        for f in ("pool.log",):
            try:
                os.unlink(os.path.join(top, f))
            except OSError:
                pass
        os.rmdir(top)


tap.run(main)
