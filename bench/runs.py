"""Runs through the API: GET /api/summary over 1,000,000 scores (with each
metric's interval) and GET /api/compare of two runs of 100,000 items, both
through the real nginx and pool on a database filled beforehand.

  runs.py [ITEMS]   (default 100000: two runs x ITEMS items x 5 metrics)

Prints its figures and one line "RESULT key=value ..." for bench/run."""
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "t", "lib"))
from harness import BIN, Server  # noqa: E402

METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall", "token_f1"]


def fill(data, items):
    """Two runs of items done rows, each with a score for every metric."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env["RAGRADE_DATA"] = data
    subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)
    c = sqlite3.connect(os.path.join(data, "ragrade.db"))
    rnd = random.Random(16)
    now = "2026-12-01T00:00:00.000Z"
    c.execute("BEGIN")
    for run, shift in (("base", 0.0), ("cand", -0.01)):
        first = c.execute("SELECT coalesce(max(id), 0) + 1 FROM evaluations").fetchone()[0]
        c.executemany("INSERT INTO evaluations(id, created_at, updated_at, status, dataset, question, answer, run, item)"
                      " VALUES(?, ?, ?, 'done', 'bench', ?, 'a', ?, ?)",
                      ((first + i, now, now, f"question {i}?", run, f"item-{i}") for i in range(items)))
        c.executemany("INSERT INTO evaluation_scores(evaluation_id, metric, score) VALUES(?, ?, ?)",
                      ((first + i, m, min(1.0, max(0.0, rnd.betavariate(5, 2) + shift)))
                       for i in range(items) for m in METRICS))
    c.execute("COMMIT")
    c.close()


def best(s, path, n=5):
    """The median and the best of n timed GETs (after one warm-up)."""
    r = s.get(path, timeout=120)
    assert r.status == 200, r
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        r = s.get(path, timeout=120)
        times.append(time.monotonic() - t0)
        assert r.status == 200, r
    return statistics.median(times), min(times), r.json()


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    with tempfile.TemporaryDirectory(prefix="ragrade-bench-runs-") as data:
        os.chmod(data, 0o755)
        t0 = time.monotonic()
        fill(data, items)
        print(f"filled: 2 runs x {items} items x {len(METRICS)} metrics = {2 * items * len(METRICS)} scores "
              f"in {time.monotonic() - t0:.1f} s")
        with Server(workers=1, threads=4, data=data) as s:
            med, low, sm = best(s, "/api/summary?dataset=bench")
            n = sum(m["scored"] for m in sm["metrics"].values())
            print(f"GET /api/summary (ci95 per metric, {n} scores): median {med * 1000:.0f} ms, best {low * 1000:.0f} ms;"
                  f" method {sm['metrics']['token_f1']['ci_method']}")
            cmed, clow, cp = best(s, "/api/compare?dataset=bench&baseline=base&candidate=cand")
            print(f"GET /api/compare ({items} items x {len(cp['metrics'])} metrics): median {cmed * 1000:.0f} ms,"
                  f" best {clow * 1000:.0f} ms; token_f1 delta {cp['metrics'][-1]['delta']:+.4f}"
                  f" p {cp['metrics'][-1]['p_value']:.2g}")
            print(f"RESULT summary_api_s={med:.3f} summary_api_scores={n} compare_api_s={cmed:.3f} compare_api_items={items}")


if __name__ == "__main__":
    main()
