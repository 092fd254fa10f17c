"""Summary and metrics at a big table, and what the aggregates' triggers
cost a write.

  aggregates.py big ROWS        ROWS rows (20 datasets, two metrics on done
                                rows) made by a recursive CTE in one
                                transaction at schema version 3, then
                                `ragrade migrate` (the backfill), then the
                                median time of GET /api/summary,
                                /api/summary?dataset=, /api/metrics
  aggregates.py inserts BATCHES 1,000-row batches inserted, scored and
                                finished as the pool does, with and without
                                migration 005's triggers: microseconds per row

Each prints its figures and one line "RESULT key=value ..." for bench/run."""
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "t", "lib"))
from harness import Server  # noqa: E402

SRC = os.environ.get("RAGRADE_SRCDIR") or os.path.join(here, "..")
BIN = os.environ.get("RAGRADE_BIN") or os.path.join(SRC, "ragrade")
OLD = ("001_init.sql", "002_judge_cache.sql", "003_idem_hash.sql", "004_labels.sql")


def schema(c, files):
    for f in files:
        with open(os.path.join(SRC, "sql", f)) as fh:
            c.executescript(fh.read())


def generate(path, rows):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = OFF")
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -262144")
    schema(c, OLD)
    c.execute("PRAGMA user_version = 3")
    c.execute("BEGIN")
    c.execute("""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
        INSERT INTO evaluations(id, created_at, updated_at, status, dataset, question, answer,
                                attempts, judge, prompt_tokens, completion_tokens, finished_at)
        SELECT i, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:01.000Z',
               CASE WHEN i > ?1 - 50 THEN 'queued' WHEN i % 997 = 0 THEN 'failed' ELSE 'done' END,
               'bench-' || (i % 20), 'q', 'a', 1, 'builtin', i % 3, i % 2, '2026-11-01T00:00:01.000Z'
        FROM n""", (rows,))
    c.execute("""
        INSERT INTO evaluation_scores(evaluation_id, metric, score, reason)
        SELECT id, m.metric, CASE WHEN m.metric = 'rouge_score' AND id % 10 = 0 THEN NULL
                                  ELSE (id * 7919 % 1001) / 1000.0 END, NULL
        FROM evaluations, (SELECT 'rouge_score' AS metric UNION ALL SELECT 'token_f1') m
        WHERE status = 'done' ORDER BY id, m.metric""")
    c.execute("COMMIT")
    c.close()


def timed(s, path, n=15):
    took = []
    for _ in range(n):
        t0 = time.monotonic()
        r = s.get(path)
        took.append((time.monotonic() - t0) * 1000)
        assert r.status == 200, r
    return statistics.median(took), max(took)


def big(rows):
    tmp = tempfile.mkdtemp(prefix="ragrade-bench-agg-", dir=os.environ.get("RAGRADE_BENCH_TMP"))
    path = os.path.join(tmp, "ragrade.db")
    try:
        t0 = time.monotonic()
        generate(path, rows)
        t_gen = time.monotonic() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
        env["RAGRADE_DATA"] = tmp
        t0 = time.monotonic()
        subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True, timeout=3600)
        t_mig = time.monotonic() - t0
        size = os.path.getsize(path) / 2**30
        print(f"{rows} rows, {2 * rows} scores: generated in {t_gen:.0f} s, {size:.1f} GiB; "
              f"migration 005's backfill took {t_mig:.1f} s")
        with Server(workers=2, threads=4, data=tmp) as s:
            res = {}
            for name, path in (("summary", "/api/summary"), ("summary_dataset", "/api/summary?dataset=bench-7"),
                               ("metrics", "/api/metrics")):
                med, worst = timed(s, path)
                res[name] = med
                print(f"GET {path:<32} median {med:7.2f} ms, worst {worst:7.2f} ms (15 calls)")
        print(f"RESULT summary_10m_ms={res['summary']:.2f} summary_ds_10m_ms={res['summary_dataset']:.2f} "
              f"metrics_10m_ms={res['metrics']:.2f} backfill_s={t_mig:.1f} big_rows={rows}")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def write_path(c, batches):
    """Submit (1,000-row insert), claim, finish with five scores: the
    pool's statements, one transaction each. CPU microseconds per row
    (process time: the machine may be shared)."""
    ins = ("INSERT INTO evaluations(created_at, updated_at, status, dataset, question, answer, contexts,"
           " max_attempts) VALUES('t', 't', 'queued', ?, 'q', 'a', '[]', 3)")
    t_sub = t_judge = 0.0
    for b in range(batches):
        t0 = time.process_time()
        c.execute("BEGIN IMMEDIATE")
        c.executemany(ins, [(f"ds{b % 5}",)] * 1000)
        c.execute("COMMIT")
        t1 = time.process_time()
        c.execute("BEGIN IMMEDIATE")
        ids = [r[0] for r in c.execute("UPDATE evaluations SET status = 'running' WHERE status = 'queued'"
                                       " RETURNING id")]
        for i in ids:
            c.execute("UPDATE evaluations SET status = 'done', prompt_tokens = prompt_tokens + 1 WHERE id = ?", (i,))
            c.executemany("INSERT OR REPLACE INTO evaluation_scores(evaluation_id, metric, score) VALUES(?, ?, ?)",
                          [(i, m, (i * 31 % 101) / 100) for m in ("a", "b", "c", "d", "e")])
        c.execute("COMMIT")
        t_sub += t1 - t0
        t_judge += time.process_time() - t1
    n = batches * 1000
    return t_sub / n * 1e6, t_judge / n * 1e6


def inserts(batches):
    out = {}
    for label, files in (("without", OLD), ("with", OLD + ("005_aggregates.sql",))):
        with tempfile.TemporaryDirectory(prefix="ragrade-bench-trg-") as d:
            c = sqlite3.connect(os.path.join(d, "b.db"), isolation_level=None)
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("PRAGMA recursive_triggers = ON")
            schema(c, files)
            best = None
            for _ in range(3):     # best of three: the machine is shared
                r = write_path(c, batches)
                best = r if best is None else (min(best[0], r[0]), min(best[1], r[1]))
            out[label] = best
            c.close()
        print(f"{label:>7} triggers: submit {out[label][0]:6.2f} us/row, claim + finish with 5 scores "
              f"{out[label][1]:6.2f} us/row")
    print(f"RESULT trigger_submit_us={out['with'][0] - out['without'][0]:.2f} "
          f"trigger_finish_us={out['with'][1] - out['without'][1]:.2f} "
          f"submit_us_without={out['without'][0]:.2f} submit_us_with={out['with'][0]:.2f}")


if sys.argv[1] == "big":
    big(int(sys.argv[2]))
else:
    inserts(int(sys.argv[2]))
