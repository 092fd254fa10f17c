"""Crash safety: 10,000 rows submitted (batches and single posts, from a few
threads, each request retried with its Idempotency-Key until it is answered)
while a random worker is SIGKILLed every second, then the whole pool and
nginx SIGKILLed mid-run and started again on the same data directory. At the
end every row is in the database once and done once: status done, attempts
equal to the claims the scheduler logged, one set of scores, and a row
claimed twice only when the worker holding it had been killed."""
import json
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, Server, wait_for  # noqa: E402

TOTAL = int(os.environ.get("CRASH_ROWS", "10000"))
LIMIT = float(os.environ.get("CRASH_SECONDS", "300"))   # per phase
METRICS = ["token_f1", "rouge_score", "non_llm_string_similarity"]
# One row in ten is long (about 30 ms of Levenshtein), so that kills land
# on rows being evaluated, not only on idle workers. The built-in judge
# evaluates a whole claim synchronously, without renewing the lease, so a
# claim's work must stay well under judge.lease_ms: max_concurrency keeps
# claims small.
_rnd = random.Random(7)
_WORDS = "the tower was built in paris for the world fair of eighteen eighty nine by gustave eiffel".split()
HEAVY = dict(ROW, answer=" ".join(_rnd.choice(_WORDS) for _ in range(700)),
             ground_truth=" ".join(_rnd.choice(_WORDS) for _ in range(700)))
ENV = {
    "RAGRADE_SERVER_LOG_LEVEL": "debug",
    "RAGRADE_JUDGE_LEASE_MS": "1500",
    "RAGRADE_JUDGE_MAX_ATTEMPTS": "50",      # a row may be hit by several kills in a row
    "RAGRADE_JUDGE_MAX_CONCURRENCY": "6",
    "RAGRADE_POOL_GRACEFUL_TIMEOUT_MS": "2000",
}
CLAIM = re.compile(r"\[(\d+)\] eval (\d+): claimed, attempt (\d+)")
DONE = re.compile(r"\[(\d+)\] eval (\d+): done, (\d+) scores")
LOST = re.compile(r"\[(\d+)\] eval (\d+): lease lost before the result was written")


class Submitter:
    """Threads that take request plans from a shared list and post each one,
    with its own Idempotency-Key, until it is answered 202 (connection
    errors and 5xx are retried: the worker may have been killed)."""

    def __init__(self, s, plans, threads=4):
        self.s, self.plans, self.lock = s, plans, threading.Lock()
        self.ids, self.retries, self.errors, self.done = {}, 0, [], threading.Event()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def take(self):
        with self.lock:
            return self.plans.pop() if self.plans else None

    def run(self):
        while not self.stop_ev.is_set():
            plan = self.take()
            if plan is None:
                break
            key, body = plan
            deadline = time.monotonic() + 60
            while not self.stop_ev.is_set():
                try:
                    r = self.s.post("/api/eval", body, headers={"Idempotency-Key": key}, timeout=20)
                except OSError as e:
                    r = e
                if getattr(r, "status", None) == 202:
                    b = r.json()
                    with self.lock:
                        self.ids[key] = b["ids"] if isinstance(body, list) else [b["id"]]
                    break
                if isinstance(r, OSError) or r.status >= 500:
                    with self.lock:
                        self.retries += 1
                    if time.monotonic() > deadline:
                        with self.lock:
                            self.errors.append(f"{key}: still failing after 60 s: {r!r}")
                        break
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.errors.append(f"{key}: {r!r}")
                break

    def accepted(self):
        with self.lock:
            return [i for v in self.ids.values() for i in v]

    def join(self, timeout):
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, end - time.monotonic()))
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def make_plans(n, tag):
    """Request plans for n rows: batches of 1 to 50 and single objects."""
    plans, left, k = [], n, 0
    rnd = random.Random(n)
    while left > 0:
        size = 1 if rnd.random() < 0.3 else min(left, rnd.randint(2, 50))
        row = dict(HEAVY if rnd.random() < 0.1 else ROW, metrics=METRICS, dataset=f"{tag}-{k}")
        body = row if size == 1 else [row] * size
        plans.append((f"{tag}-{k}-{uuid.uuid4().hex[:8]}", body))
        left -= size
        k += 1
    return plans


def parse_log(text):
    """claims: id -> [(pid, attempt)] by attempt; dones: id -> [pid] in log
    order; lost: {(id, pid)} whose result write found the lease gone."""
    claims, dones, lost = defaultdict(list), defaultdict(list), set()
    for m in CLAIM.finditer(text):
        claims[int(m.group(2))].append((int(m.group(1)), int(m.group(3))))
    for v in claims.values():
        v.sort(key=lambda c: c[1])
    for m in DONE.finditer(text):
        dones[int(m.group(2))].append(int(m.group(1)))
    for m in LOST.finditer(text):
        lost.add((int(m.group(2)), int(m.group(1))))
    return claims, dones, lost


def check(s, accepted, killed, what, expect_rows=None):
    """Every accepted id: once in the table, done, its scores once, its
    claims explained by kills; and the database file sound."""
    tap.eq([r[0] for r in s.query("PRAGMA quick_check")], ["ok"], f"{what}: PRAGMA quick_check says ok")
    tap.eq(len(set(accepted)), len(accepted), f"{what}: no id handed out twice")
    if expect_rows is not None:
        n = s.query("SELECT count(*) FROM evaluations")[0][0]
        tap.eq(n, expect_rows, f"{what}: the table holds exactly the rows submitted (none lost, none doubled)")
    try:
        wait_for(lambda: s.query("SELECT count(*) FROM evaluations WHERE status IN ('queued', 'running')")[0][0] == 0,
                 120, "every row to finish", step=0.2)
    except TimeoutError as e:
        tap.diag(str(e))
    rows = {r["id"]: r for r in s.query("SELECT id, status, attempts, last_error FROM evaluations")}
    missing = [i for i in accepted if i not in rows]
    tap.ok(not missing, f"{what}: every accepted row ({len(accepted)}) is in the table", missing[:20])
    notdone = [dict(rows[i]) for i in accepted if i in rows and rows[i]["status"] != "done"]
    tap.ok(not notdone, f"{what}: every accepted row is done", notdone[:10])
    scores = defaultdict(list)
    for r in s.query("SELECT evaluation_id, metric FROM evaluation_scores"):
        scores[r[0]].append(r[1])
    bad = [(i, scores.get(i)) for i in accepted if sorted(scores.get(i, [])) != sorted(METRICS)]
    tap.ok(not bad, f"{what}: every accepted row has each of its {len(METRICS)} scores once", bad[:10])

    claims, dones, lost = parse_log(s.log())
    # sched.c logs "done" inside the flush transaction, before COMMIT and
    # whatever db_finish returned: a worker killed before its commit, or one
    # whose lease was gone ("lease lost"), logged a finish that did not
    # happen, and the row was claimed again. So only the "done" lines of a
    # row's last claimer count, and there is one at most; the earlier
    # claimers must have been killed or refused (checked below).
    real, ghost = {}, 0
    for i, v in dones.items():
        last = claims[i][-1][0] if claims.get(i) else None
        real[i] = [p for p in v if p == last and (i, p) not in lost]
        ghost += len(v) > len(real[i])
    doubled = {i: (dones[i], claims.get(i)) for i, v in real.items() if len(v) > 1}
    tap.ok(not doubled, f"{what}: no row was finished twice", list(doubled.items())[:10])
    unexplained, stale, attempts_off = [], 0, []
    for i in accepted:
        c = claims.get(i, [])
        # Every claim but the last one must have been by a worker that was
        # then killed (its rows went back by requeue or lease expiry), or
        # whose result the lease check refused (counted apart).
        for pid, _ in c[:-1]:
            if pid in killed:
                continue
            if (i, pid) in lost:
                stale += 1
                continue
            unexplained.append((i, c, dones.get(i)))
            break
        if i not in rows:
            continue
        # attempts counts claims; a claim is logged after its commit, so a
        # worker killed in between leaves one unlogged.
        if c and (rows[i]["attempts"] < c[-1][1] or len(set(a for _, a in c)) != len(c)):
            attempts_off.append((i, rows[i]["attempts"], c))
        if rows[i]["status"] == "done" and c and c[-1][1] == rows[i]["attempts"] and c[-1][0] not in dones.get(i, []):
            unexplained.append((i, c, dones.get(i), "done, but not by its last claimer"))
    tap.ok(not unexplained, f"{what}: a row claimed again was first held by a killed worker", unexplained[:10])
    tap.ok(not attempts_off, f"{what}: attempts match the logged claims", attempts_off[:10])
    att = [rows[i]["attempts"] for i in accepted if i in rows]
    many = sum(1 for x in att if x > 3)
    tap.ok(many <= len(att) // 100, f"{what}: attempts are small ({many} rows over 3, max {max(att, default=0)})")
    again = sum(1 for i in accepted if len(claims.get(i, [])) > 1)
    tap.diag(f"{what}: {len(accepted)} rows, {again} claimed again, {stale} of them after a stale lease, "
             f"{sum(len(v) for v in claims.values())} claims logged, {ghost} rows with a 'done' line "
             f"that did not commit, attempts histogram {sorted(Counter(att).items())}")
    return rows


def phase_worker_kills(s, killed):
    plans = make_plans(TOTAL, "wk")
    sub = Submitter(s, plans)
    kills, start = 0, time.monotonic()
    def busy():
        return (any(t.is_alive() for t in sub.threads) or
                s.query("SELECT count(*) FROM evaluations WHERE status IN ('queued', 'running')")[0][0] > 0)
    while busy() and time.monotonic() - start < LIMIT:
        time.sleep(1.0)
        pids = s.worker_pids()
        if pids:
            pid = random.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
                kills += 1
            except OSError:
                pass
    sub.join(10)
    acc = sub.accepted()
    tap.diag(f"worker kills: {kills} workers killed in {time.monotonic() - start:.1f} s, "
             f"{len(acc)} rows accepted, {sub.retries} requests retried")
    tap.ok(not sub.errors, "worker kills: every request was answered 202 in the end", sub.errors[:10])
    tap.ok(kills >= 3, f"worker kills: workers were killed while submitting ({kills})")
    return acc


def phase_pool_kill(s, killed, before):
    """Kill master, workers and nginx with SIGKILL while rows run; restart."""
    n = 2000
    plans = make_plans(n, "pk")
    sub = Submitter(s, plans)
    wait_for(lambda: len(sub.accepted()) >= n // 2, 60, "half the rows accepted")
    # Catch rows mid-evaluation: wait until some are running.
    try:
        wait_for(lambda: s.query("SELECT count(*) FROM evaluations WHERE status = 'running'")[0][0] > 0,
                 10, "a running row", step=0.005)
    except TimeoutError:
        pass
    victims = s.worker_pids() + [s.pool.pid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    killed.update(victims)
    os.killpg(s.nginx.pid, signal.SIGKILL)
    s.pool.wait()
    s.nginx.wait()
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in victims), 10, "the pool to be gone")
    left = [r[0] for r in s.query("SELECT id FROM evaluations WHERE status = 'running'")]
    tap.diag(f"pool kill: {len(left)} rows left running, {len(sub.accepted())} accepted so far")
    t0 = time.monotonic()
    s.start_pool()
    s.start_nginx()
    sub.join(LIMIT)
    acc = sub.accepted()
    tap.ok(not sub.errors, "pool kill: every request was answered 202 in the end (retried across the restart)",
           sub.errors[:10])
    rows = check(s, before + acc, killed, "after the pool kill", expect_rows=TOTAL + n)
    tap.diag(f"pool kill: restarted and finished in {time.monotonic() - t0:.1f} s")
    tap.ok(left, f"pool kill: the kill left rows running ({len(left)})")
    rerun = [(i, dict(rows[i])) for i in left if rows[i]["status"] != "done" or rows[i]["attempts"] < 2]
    tap.ok(not rerun, "pool kill: the rows left running were reaped after their lease and run again", rerun[:10])


def main():
    killed = set()
    with Server(env=ENV, workers=3, threads=8) as s:
        acc = phase_worker_kills(s, killed)
        check(s, acc, killed, "worker kills", expect_rows=TOTAL)
        phase_pool_kill(s, killed, acc)
        ic = s.query("PRAGMA integrity_check")[0][0]
        tap.eq(ic, "ok", "PRAGMA integrity_check")


tap.run(main)
