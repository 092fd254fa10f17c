"""Soak: the real nginx and pool under a steady load for a while, watching
for leaks. Submits rows at a fixed rate (open loop) while the built-in judge
evaluates them, samples every worker's RSS from /proc every few seconds, and
reports per worker the RSS at the end of warm-up, at the end and its maximum,
the errors (any answer but 202, any connection error: there must be none)
and the latency percentiles. Exits 1 if a worker's RSS grew by more than
--growth percent after warm-up, if any error happened, or if rows are left
unevaluated.

  soak.py [--minutes N] [--rate R] [--workers W] [--batch-every K] [--growth P]

make soak MINUTES=N runs it. Prints "RESULT key=value ..." at the end."""
import argparse
import os
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "t", "lib"))
from harness import ROW, Server, percentile  # noqa: E402

ROWS = [
    dict(ROW, metrics=["token_f1", "rouge_score", "bleu_score", "non_llm_string_similarity"]),
    dict(ROW, dataset="soak"),
    {"user_input": "Qui a construit la tour Eiffel ?", "response": "Gustave Eiffel et ses ingénieurs.",
     "retrieved_contexts": ["La tour Eiffel a été construite par l'entreprise de Gustave Eiffel.", "日本語"],
     "reference": "L'entreprise de Gustave Eiffel.", "reference_contexts": ["Gustave Eiffel"],
     "metrics": ["non_llm_context_recall", "non_llm_context_precision_with_reference", "context_overlap"]},
]


def rss_kb(pid, field="VmRSS"):
    """VmRSS, or RssAnon: the heap and stacks without the mapped files
    (SQLite's -shm, the libraries), which is where a leak shows."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Load:
    """Open-loop load: request i is due at t0 + i / rate, whoever sends it;
    latency counts from the due time, so a stall is not hidden by the client
    falling behind (and the send delay is reported apart)."""

    def __init__(self, s, rate, seconds, batch_every, threads=16):
        self.s, self.rate, self.seconds, self.batch_every = s, rate, seconds, batch_every
        self.lock, self.next = threading.Lock(), 0
        self.lat, self.send_lag, self.errors, self.ids = [], [], [], []
        self.t0 = time.monotonic() + 0.2
        self.n = int(rate * seconds)
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while True:
            with self.lock:
                i = self.next
                self.next += 1
            if i >= self.n:
                return
            due = self.t0 + i / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            sent = time.monotonic()
            batch = self.batch_every and i % self.batch_every == 0
            body = [ROWS[k % len(ROWS)] for k in range(10)] if batch else ROWS[i % len(ROWS)]
            try:
                r = self.s.post("/api/eval", body, timeout=30)
                err = None if r.status == 202 else f"{r.status} {r.body[:200]!r}"
            except OSError as e:
                r, err = None, repr(e)
            end = time.monotonic()
            with self.lock:
                self.lat.append(end - due)
                self.send_lag.append(sent - due)
                if err:
                    self.errors.append(err)
                else:
                    b = r.json()
                    self.ids += b["ids"] if batch else [b["id"]]

    def alive(self):
        return any(t.is_alive() for t in self.threads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES") or 10))
    ap.add_argument("--rate", type=float, default=200, help="requests per second")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-every", type=int, default=20, help="every K-th request is a batch of 10")
    ap.add_argument("--growth", type=float, default=20, help="allowed RSS growth after warm-up, percent")
    ap.add_argument("--sample", type=float, default=5, help="seconds between RSS samples")
    a = ap.parse_args()
    seconds = a.minutes * 60
    warm = min(60.0, max(10.0, seconds / 5))
    fails = []
    with Server(workers=a.workers, threads=8) as s:
        load = Load(s, a.rate, seconds, a.batch_every)
        samples, anon = {}, {}             # pid -> [(t, kB)]: VmRSS, RssAnon
        t_start = time.monotonic()
        next_sample = t_start
        print(f"soak: {a.minutes:g} min at {a.rate:g} req/s, {a.workers} workers, warm-up {warm:.0f} s", flush=True)
        while load.alive():
            now = time.monotonic()
            if now >= next_sample:
                t = now - t_start
                for pid in s.worker_pids():
                    kb, ka = rss_kb(pid), rss_kb(pid, "RssAnon")
                    if kb is not None and ka is not None:
                        samples.setdefault(pid, []).append((t, kb))
                        anon.setdefault(pid, []).append((t, ka))
                line = " ".join(f"{pid}:{v[-1][1] / 1024:.1f}MiB" for pid, v in sorted(samples.items()) if v[-1][0] == t)
                with load.lock:
                    done_n, err_n = len(load.lat), len(load.errors)
                print(f"  t={t:6.0f}s requests={done_n} errors={err_n} rss {line}", flush=True)
                next_sample += a.sample
            time.sleep(0.2)
        for t in load.threads:
            t.join()
        try:
            s.wait_status(load.ids, ("done",), timeout=120)
            left = 0
        except TimeoutError:
            left = s.query("SELECT count(*) FROM evaluations WHERE status != 'done'")[0][0]
        failed = s.query("SELECT count(*) FROM evaluations WHERE status = 'failed'")[0][0]
        respawns = s.log().count("exited")

    worst = 0.0
    for name, series in (("VmRSS", samples), ("RssAnon", anon)):
        print(f"{name:8} worker   first   warm-up      last       max   growth after warm-up")
        for pid, v in sorted(series.items()):
            after = [kb for t, kb in v if t >= warm]
            if not after:
                continue
            base, last, mx = after[0], after[-1], max(kb for _, kb in v)
            growth = 100.0 * (max(after) - base) / base
            worst = max(worst, growth)
            print(f"{'':8} {pid:>6} {v[0][1] / 1024:6.1f}MiB {base / 1024:6.1f}MiB {last / 1024:6.1f}MiB "
                  f"{mx / 1024:6.1f}MiB {growth:6.1f}%")
            if growth > a.growth:
                fails.append(f"worker {pid}: {name} grew {growth:.1f}% after warm-up")
    p50, p99, pmax = (percentile(load.lat, p) * 1000 for p in (50, 99, 100))
    lag99 = percentile(load.send_lag, 99) * 1000
    print(f"requests {len(load.lat)} (rows {len(load.ids)}), errors {len(load.errors)}, "
          f"latency p50 {p50:.1f} ms p99 {p99:.1f} ms max {pmax:.1f} ms (client send lag p99 {lag99:.1f} ms), "
          f"rows not done {left}, failed {failed}, worker exits {respawns}")
    if load.errors:
        fails.append(f"{len(load.errors)} errors, first: {load.errors[:3]}")
    if left or failed:
        fails.append(f"{left} rows not done, {failed} failed")
    if len(load.lat) < load.n:
        fails.append(f"only {len(load.lat)} of {load.n} requests sent")
    print(f"RESULT soak_requests={len(load.lat)} soak_errors={len(load.errors)} soak_p99_ms={p99:.1f} "
          f"soak_rss_growth_pct={worst:.1f}")
    for f in fails:
        print("FAIL: " + f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
