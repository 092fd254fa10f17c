"""The scheduler: leases across processes, lazy judge initialisation that
never touches the request path, retries with backoff, crashes mid-row,
graceful stop, the pool-wide concurrency bound, and an idle pool that
does not spin. LLM cases use the fake endpoint t/lib/fakellm.py."""
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, FakeLLM, Server, cpu_ticks, percentile, ready_judges, wait_for  # noqa: E402

FAITH = dict(ROW, metrics=["faithfulness"])


def submit_latencies(s, n, threads=4):
    lat, lock = [], threading.Lock()

    def run(k):
        for _ in range(k):
            t0 = time.monotonic()
            r = s.post("/api/eval", FAITH)
            dt = time.monotonic() - t0
            with lock:
                lat.append((dt, r.status))
    ts = [threading.Thread(target=run, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat


def owner_pid(s, rid):
    o = s.query("SELECT lease_owner FROM evaluations WHERE id = ?", (rid,))[0][0]
    return int(re.match(r"w(\d+)-", o).group(1)) if o else None


def builtin_cases():
    env = {"RAGRADE_SERVER_LOG_LEVEL": "debug", "RAGRADE_JUDGE_MAX_CONCURRENCY": "8"}
    with Server(workers=4, env=env) as s:
        # ---- claims across four processes: no row runs twice ----
        ids = []
        for _ in range(10):
            ids += s.post("/api/eval", [ROW] * 200).json()["ids"]
        s.wait_status(ids, ("done",), 120)
        claims = {}
        for m in re.finditer(r"\[(\d+)\] eval (\d+): claimed", s.log()):
            claims.setdefault(int(m.group(2)), []).append(int(m.group(1)))
        twice = {k: v for k, v in claims.items() if len(v) > 1}
        tap.eq(len(claims), 2000, "every row of 2,000 was claimed")
        tap.eq(twice, {}, "no row was claimed twice across 4 processes")
        tap.diag(f"claims per process: {sorted(sum(1 for v in claims.values() if p in v) for p in {p for v in claims.values() for p in v})}")
        tap.eq(s.query("SELECT count(*) FROM evaluations WHERE attempts <> 1")[0][0], 0, "every row took one attempt")
        tap.eq(s.query("SELECT count(*) FROM evaluation_scores")[0][0], 2000 * 5, "each row's scores were written once")

        # ---- start latency: the local notification, not the 1 s idle poll ----
        waits = []
        for _ in range(20):
            rid = s.post("/api/eval", ROW).json()["id"]
            s.wait_status([rid])
            c, st = s.query("SELECT julianday(created_at), julianday(started_at) FROM evaluations WHERE id = ?", (rid,))[0]
            waits.append((st - c) * 86400 * 1000)
        tap.diag(f"submit-to-start latency over 20 rows: median {percentile(waits, 50):.1f} ms, max {max(waits):.1f} ms")
        tap.ok(percentile(waits, 50) < 500, "a submitted row starts at once (woken, not polled)", waits)

        # ---- an idle pool does not spin ----
        # Busy polling is steady; the work that follows the last request
        # (the last checkpoint, nginx closing its kept connections after
        # 1 s) happens once. So: the lesser of two 3 s windows.
        pids = [s.pool.pid] + s.worker_pids()
        windows = []
        for _ in range(2):
            t0 = cpu_ticks(pids)
            time.sleep(3)   # measuring over an interval: this sleep is the measurement, not synchronisation
            windows.append(cpu_ticks(pids) - t0)
        used = min(windows)
        tap.diag(f"idle pool: {windows} clock ticks of CPU in two 3 s windows across master and 4 workers "
                 f"({used * 10 / 3:.1f} ms/s in the quieter)")
        tap.ok(used <= 10, "an idle pool uses next to no CPU (no busy polling)", used)


def llm_cases():
    with FakeLLM() as f:
        base = {"RAGRADE_JUDGE_MAX_ATTEMPTS": "3", "RAGRADE_JUDGE_BACKOFF_BASE_MS": "200",
                "RAGRADE_JUDGE_BACKOFF_MAX_MS": "2000", "RAGRADE_JUDGE_CACHE": "no",
                "RAGRADE_JUDGE_INIT_TIMEOUT_MS": "1000", "RAGRADE_JUDGE_REQUEST_TIMEOUT_MS": "20000"}

        # ---- the judge hangs: submits keep their latency; rows wait, then run ----
        with Server(workers=2, env=f.env(**base)) as s:
            idle = submit_latencies(s, 1000)
            s.wait_status(range(1, 1001), ("done",), 120)
            f.control(reset=True)
            f.control(faults=[{"mode": "hang", "count": -1}])
        with Server(workers=2, env=f.env(**base)) as s:
            hung = submit_latencies(s, 1000)
            health = s.get("/api/health").json()
            tap.ok(all(st == 202 for _, st in idle + hung), "every submit answered 202, judge idle or hung")
            pi, ph = percentile([d for d, _ in idle], 99) * 1000, percentile([d for d, _ in hung], 99) * 1000
            tap.diag(f"p99 of 1,000 submits: judge idle {pi:.1f} ms, judge hung {ph:.1f} ms "
                     f"(p50 {percentile([d for d, _ in idle], 50) * 1000:.1f} / {percentile([d for d, _ in hung], 50) * 1000:.1f} ms)")
            tap.ok(ph < 3 * pi + 50, "a hung judge does not slow submits (p99 within 3x + 50 ms of idle)", (pi, ph))
            tap.ok(health["judge"]["state"] in ("initializing", "failed") and
                   s.query("SELECT count(*) FROM evaluations WHERE status = 'done'")[0][0] == 0,
                   "while the judge hangs, health says so and rows wait", health["judge"])
            f.control(reset=True)
            f.control(release=True)
            s.wait_status(range(1, 1001), ("done",), 120)
            tap.ok(True, "once the endpoint recovers, the queued rows are evaluated")
            tap.eq(s.get("/api/health").json()["judge"]["state"], "ready", "health shows the judge ready")

        # ---- the concurrency bound holds across the pool ----
        f.control(reset=True)
        with Server(workers=2, env=f.env(**dict(base, RAGRADE_JUDGE_MAX_CONCURRENCY="3"))) as s:
            # Both workers initialise (probe) first; then the bound is measured.
            ready_judges(s, f, 2, FAITH, 3)
            f.control(reset=True)
            f.control(delay_ms=150)
            ids = s.post("/api/eval", [FAITH] * 24).json()["ids"]
            s.wait_status(ids, ("done",), 60)
            st = f.stats()
            st.pop("last", None)
            tap.ok(st["max_in_flight"] == 3, f"judge.max_concurrency = 3 bounds requests across 2 workers (max seen {st['max_in_flight']})", st)

        # ---- lease renewal, and a worker killed mid-row ----
        f.control(reset=True)
        f.control(delay_ms=1200)
        slow = dict(base, RAGRADE_JUDGE_LEASE_MS="600", RAGRADE_JUDGE_INIT_TIMEOUT_MS="10000")
        with Server(workers=2, env=f.env(**slow)) as s:
            rid = s.post("/api/eval", FAITH).json()["id"]
            s.wait_status([rid], ("running",), 20)
            u1 = s.query("SELECT lease_until FROM evaluations WHERE id = ?", (rid,))[0][0]
            wait_for(lambda: (s.query("SELECT lease_until FROM evaluations WHERE id = ?", (rid,))[0][0] or 0) > u1 + 300,
                     10, "the lease to be renewed")
            s.wait_status([rid], ("done",), 30)
            tap.eq(s.query("SELECT attempts FROM evaluations WHERE id = ?", (rid,))[0][0], 1,
                   "a row running longer than its lease keeps it by renewal (one attempt)")

            rid = s.post("/api/eval", FAITH).json()["id"]
            s.wait_status([rid], ("running",), 20)
            victim = owner_pid(s, rid)
            os.kill(victim, signal.SIGKILL)
            s.wait_status([rid], ("done",), 60)
            row = s.query("SELECT attempts, last_error FROM evaluations WHERE id = ?", (rid,))[0]
            tap.ok(row[0] == 2, "a row whose worker was killed mid-evaluation runs again and ends done", tuple(row))
            tap.eq(s.query("SELECT count(*) FROM evaluation_scores WHERE evaluation_id = ?", (rid,))[0][0], 1,
                   "its result is written once")
            tap.ok("put back in the queue" in s.log(), "the master requeued it at once")

            # ---- SIGTERM with rows in flight ----
            ids = s.post("/api/eval", [FAITH] * 4).json()["ids"]
            s.wait_status(ids[:1], ("running",), 20)
            s.stop_pool(signal.SIGTERM)
            left = s.query("SELECT count(*) FROM evaluations WHERE status = 'running'")[0][0]
            tap.eq(left, 0, "after SIGTERM no row stays running (finished or queued again)")

        # ---- transient failures: backoff, then failed past max_attempts ----
        f.control(reset=True)
        with Server(workers=1, env=f.env(**dict(base, RAGRADE_JUDGE_MAX_RETRIES="0"))) as s:
            rid0 = s.post("/api/eval", FAITH).json()["id"]
            s.wait_status([rid0], ("done",), 30)     # the judge is ready
            f.control(faults=[{"match": "statements", "mode": "status", "status": 500, "count": -1}])
            t0 = time.monotonic()
            rid = s.post("/api/eval", FAITH).json()["id"]
            s.wait_status([rid], ("failed",), 60)
            took = time.monotonic() - t0
            row = s.query("SELECT attempts, last_error FROM evaluations WHERE id = ?", (rid,))[0]
            waits = [int(x) for x in re.findall(rf"eval {rid}: attempt \d of 3: .*; retry in (\d+) ms", s.log())]
            tap.ok(row[0] == 3 and "gave up after 3 attempts" in (row[1] or ""), "past max_attempts the row fails with last_error", tuple(row))
            tap.ok(len(waits) == 2 and 100 <= waits[0] <= 200 and 200 <= waits[1] <= 400,
                   "retries back off exponentially with jitter (base 200 ms)", waits)
            tap.ok(took >= sum(waits) / 1000.0, f"no hot loop: {took:.2f} s for 3 attempts", (took, waits))


def main():
    builtin_cases()
    llm_cases()


tap.run(main)
