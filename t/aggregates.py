"""The summary aggregates (migration 005) end to end: after submits,
judging, retry, delete, requeue and purge, aggregate_datasets and
aggregate_scores equal a recomputation written here from the rows (Python
loops over the same file, not the schema's views), and /api/summary and
the database series of /api/metrics equal what the queries over the rows
that they ran before the aggregates answer on the same data. Then `admin
check` notices a damaged aggregate and `admin reaggregate` mends it, and
the migration backfills a database of schema version 3 that has rows."""
import hashlib
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, Server  # noqa: E402

SRC = os.environ.get("RAGRADE_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RAGRADE_BIN") or os.path.join(SRC, "ragrade")
ADMIN = "tok-agg-admin-51c2"
AUTH = {"Authorization": "Bearer " + ADMIN}
METRICS = ["token_f1", "rouge_score", "exact_match", "bleu_score", "context_overlap"]


def key(ds):
    return ("null",) if ds is None else ("text", ds)


def oracle(c):
    """The aggregates from the rows, by their textbook definitions."""
    rows, scores = {}, {}
    for ds, status, pid, pt, ct in c.execute(
            "SELECT dataset, status, id, prompt_tokens, completion_tokens FROM evaluations"):
        r = rows.setdefault(key(ds), dict(rows=0, queued=0, running=0, done=0, failed=0, max_id=0,
                                          prompt_tokens=0, completion_tokens=0))
        r["rows"] += 1
        r[status] += 1
        r["max_id"] = max(r["max_id"], pid)
        r["prompt_tokens"] += pt
        r["completion_tokens"] += ct
    vals = {}
    for ds, metric, score in c.execute(
            "SELECT e.dataset, s.metric, s.score FROM evaluation_scores s, evaluations e"
            " WHERE e.id = s.evaluation_id AND e.status = 'done'"):
        vals.setdefault((key(ds), metric), []).append(score)
    for k, v in vals.items():
        x = [a for a in v if a is not None]
        h = [0] * 10
        for a in x:
            y = (a - 1) / 4 if k[1] == "correctness" else a
            h[min(max(math.trunc(10 * y), 0), 9)] += 1
        scores[k] = dict(n=len(v), scored=len(x), sum=sum(x), sum2=sum(a * a for a in x),
                         min=min(x) if x else None, min_n=x.count(min(x)) if x else 0,
                         max=max(x) if x else None, max_n=x.count(max(x)) if x else 0, hist=h)
    return rows, scores


def stored(c):
    rows, scores = {}, {}
    c.row_factory = sqlite3.Row
    for r in c.execute("SELECT * FROM aggregate_datasets WHERE rows > 0"):
        k = key(None if isinstance(r["dataset_key"], bytes) else r["dataset_key"])
        rows[k] = {n: r[n] for n in ("rows", "queued", "running", "done", "failed", "max_id",
                                     "prompt_tokens", "completion_tokens")}
    for r in c.execute("SELECT * FROM aggregate_scores WHERE n > 0"):
        k = key(None if isinstance(r["dataset_key"], bytes) else r["dataset_key"])
        d = {n: r[n] for n in ("n", "scored", "sum", "sum2", "min", "min_n", "max", "max_n")}
        d["hist"] = [r[f"h{i}"] for i in range(10)]
        scores[(k, r["metric"])] = d
    c.row_factory = None
    return rows, scores


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return a == b


def same_scores(got, want):
    if got.keys() != want.keys():
        return f"keys differ: {sorted(set(got) ^ set(want))}"
    for k in want:
        for f in want[k]:
            if not close(got[k][f], want[k][f]):
                return f"{k} {f}: stored {got[k][f]!r}, rows say {want[k][f]!r}"
    return None


def check_aggregates(s, stage):
    c = sqlite3.connect(os.path.join(s.data, "ragrade.db"), timeout=30)
    try:
        c.execute("BEGIN")        # one snapshot for both sides
        got_rows, got_scores = stored(c)
        want_rows, want_scores = oracle(c)
        c.execute("COMMIT")
    finally:
        c.close()
    tap.eq(got_rows, want_rows, f"{stage}: counts and tokens per dataset equal the rows'")
    err = same_scores(got_scores, want_scores)
    tap.ok(err is None and want_scores, f"{stage}: per dataset and metric figures equal the rows' "
           f"({len(want_scores)} keys)", err)


# ---- what /api/summary and /api/metrics computed before the aggregates ----
def old_summary(c, dataset):
    w, a = ("WHERE dataset = ?", (dataset,)) if dataset is not None else ("", ())
    counts = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    counts.update(dict(c.execute(f"SELECT status, count(*) FROM evaluations {w} GROUP BY status", a)))
    w2 = "AND e.dataset = ?" if dataset is not None else ""
    metrics = {}
    for m, n, scored, mean, lo, hi in c.execute(
            "SELECT s.metric, count(*), count(s.score), avg(s.score), min(s.score), max(s.score)"
            " FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id"
            f" WHERE e.status = 'done' {w2} GROUP BY s.metric ORDER BY s.metric", a):
        metrics[m] = {"n": n, "scored": scored, "nulls": n - scored, "mean": mean, "min": lo, "max": hi,
                      "histogram": [0] * 10}
    for m, b, n in c.execute(
            "SELECT s.metric, min(max(CAST(10 * CASE WHEN s.metric = 'correctness' THEN (s.score - 1) / 4"
            " ELSE s.score END AS INTEGER), 0), 9) AS bin, count(*)"
            " FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id"
            f" WHERE e.status = 'done' AND s.score IS NOT NULL {w2} GROUP BY s.metric, bin", a):
        metrics[m]["histogram"][b] = n
    p, q = c.execute(f"SELECT total(prompt_tokens), total(completion_tokens) FROM evaluations {w}", a).fetchone()
    sets = [{"dataset": d, "count": n} for d, n in c.execute(
        "SELECT dataset, count(*) FROM evaluations GROUP BY dataset ORDER BY max(id) DESC LIMIT 100")]
    return {"dataset": dataset, "run": None, "counts": counts, "metrics": metrics,
            "tokens": {"prompt": int(p), "completion": int(q)}, "datasets": sets}


# Figures the summary gives beside the aggregates' own, from other sources
# (the labels' corrected mean, intervals from the scores): each has its own
# test, and is not part of the former queries compared here.
OTHER_FIGURES = {"corrected", "ci95", "se", "sd", "ci_method", "normalised_mean"}


def same_json(got, want, path="summary"):
    if isinstance(got, dict) and path.startswith("summary.metrics."):
        got = {k: v for k, v in got.items() if k not in OTHER_FIGURES}
    if isinstance(want, float) or isinstance(got, float):
        return None if close(got, want) else f"{path}: {got!r} != {want!r}"
    if isinstance(want, dict) and isinstance(got, dict):
        if got.keys() != want.keys():
            return f"{path}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            e = same_json(got[k], want[k], f"{path}.{k}")
            if e:
                return e
        return None
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        for i, (x, y) in enumerate(zip(got, want)):
            e = same_json(x, y, f"{path}[{i}]")
            if e:
                return e
        return None
    return None if got == want else f"{path}: {got!r} != {want!r}"


def old_metrics(c):
    out = {}
    for st, n in c.execute("SELECT status, count(*) FROM evaluations GROUP BY status"):
        out[f'ragrade_queue_rows{{status="{st}"}}'] = n
    for st in ("queued", "running", "done", "failed"):
        out.setdefault(f'ragrade_queue_rows{{status="{st}"}}', 0)
    p, q = c.execute("SELECT total(prompt_tokens), total(completion_tokens) FROM evaluations").fetchone()
    out['ragrade_tokens{kind="prompt"}'] = p
    out['ragrade_tokens{kind="completion"}'] = q
    for m, sc, nu in c.execute("SELECT metric, count(score), count(*) - count(score)"
                               " FROM evaluation_scores GROUP BY metric ORDER BY metric"):
        out[f'ragrade_scores{{metric="{m}",outcome="scored"}}'] = sc
        out[f'ragrade_scores{{metric="{m}",outcome="null"}}'] = nu
    return out


def check_outputs(s, stage):
    # Nothing writes between the API call and the oracle (the pool is idle:
    # every row is done, failed or deleted, checked before).
    c = sqlite3.connect(os.path.join(s.data, "ragrade.db"), timeout=30)
    try:
        for ds in (None, "alpha", "beta", "", "ghost"):
            path = "/api/summary" + ("" if ds is None else "?dataset=" + ds)
            r = s.get(path)
            if ds == "":          # an empty value means no filter
                want = old_summary(c, None)
            else:
                want = old_summary(c, ds)
            got = r.json() if r.status == 200 else {}
            tap.ok(r.status == 200 and same_json(got, want) is None,
                   f"{stage}: GET {path} equals the former queries over the rows",
                   same_json(got, want) if r.status == 200 else r)
        r = s.get("/api/metrics")
        got = {}
        for line in r.body.decode().splitlines():
            m = re.match(r"^(ragrade_(?:queue_rows|tokens|scores)\{[^}]*\}) (\S+)$", line)
            if m:
                got[m.group(1)] = float(m.group(2))
        want = {k: float(v) for k, v in old_metrics(c).items()}
        tap.eq(got, want, f"{stage}: /api/metrics rows, tokens and scores equal the former queries")
    finally:
        c.close()


def smaps_private(pid):
    kb = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                kb += int(line.split()[1])
    return kb * 1024


def check_memory(s):
    """/api/status reports each worker's private memory (what it costs),
    apart from its RSS, and the mapping size configured."""
    st = s.get("/api/status").json()
    tap.eq(st.get("mmap_size"), 64 << 20, "status: mmap_size is db.mmap_size (64M)")
    procs = st.get("processes", [])
    good = []
    for p in procs:
        mine = smaps_private(p["pid"])
        good.append(isinstance(p.get("private_memory"), int) and 0 < p["private_memory"] <= p["rss"]
                    and 0.5 * mine <= p["private_memory"] <= 2 * mine)
    tap.ok(procs and all(good) and st.get("private_memory") == sum(p["private_memory"] for p in procs),
           "status: each worker's private memory agrees with its smaps_rollup, and the pool's is their sum",
           json_dumps(procs))
    m = s.get("/api/metrics").body.decode()
    tap.ok(all(re.search(rf'^ragrade_worker_private_memory_bytes{{pid="{p["pid"]}"}} \d+$', m, re.M)
               for p in procs), "metrics: ragrade_worker_private_memory_bytes per worker")


def json_dumps(o):
    return json.dumps(o, indent=1)


def admin(data, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env["RAGRADE_DATA"] = data
    p = subprocess.run([BIN, "admin"] + list(args), env=env, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def submit(s, n, dataset, metrics=None):
    body = []
    for i in range(n):
        row = dict(ROW, answer=f"The tower was completed in {1880 + i % 17}, answer {i}.")
        if i % 5 == 4:
            row.pop("ground_truth")       # graded metrics are null without one
        if dataset is not None:
            row["dataset"] = dataset
        row["metrics"] = metrics or METRICS
        body.append(row)
    r = s.post("/api/eval", body)
    assert r.status == 202, r
    return r.json()["ids"]


def server_part():
    h = "sha256:" + hashlib.sha256(ADMIN.encode()).hexdigest()
    with Server(workers=2, threads=4, env={"RAGRADE_AUTH_ADMIN_TOKENS": h, "RAGRADE_DB_MMAP_SIZE": "64M"}) as s:
        ids = submit(s, 40, "alpha") + submit(s, 25, "beta", ["token_f1", "exact_match"]) + submit(s, 15, None)
        s.wait_status(ids, ("done",), 120)
        check_aggregates(s, "after judging")
        check_outputs(s, "after judging")

        # retry (done -> queued -> done again), delete, and a requeue of a dataset
        for i in ids[:5]:
            r = s.post(f"/api/eval/{i}/retry", headers=AUTH)
            assert r.status in (200, 202), r
        for i in ids[40:46] + ids[70:72]:
            r = s.request("DELETE", f"/api/eval/{i}", headers=AUTH)
            assert r.status in (200, 204), r
        left = [i for i in ids if i not in ids[40:46] + ids[70:72]]
        s.wait_status(left, ("done",), 120)
        check_aggregates(s, "after retry and delete")
        check_outputs(s, "after retry and delete")

        check_memory(s)

        rc, out = admin(s.data, "requeue", "--dataset", "beta")
        tap.ok(rc == 0, "admin requeue --dataset beta", out)
        s.wait_status(left, ("done",), 120)
        rc, out = admin(s.data, "purge", "--before", "2999-01-01", "--dataset", "alpha")
        tap.ok(rc == 0 and "purged 40" in out, "admin purge of alpha", out)
        check_aggregates(s, "after requeue and purge")
        check_outputs(s, "after requeue and purge")

        rc, out = admin(s.data, "check")
        tap.ok(rc == 0 and re.search(r"aggregates\s+ok", out), "admin check: aggregates ok", out)
        c = sqlite3.connect(os.path.join(s.data, "ragrade.db"), timeout=30)
        with c:
            c.execute("UPDATE aggregate_scores SET h3 = h3 + 1, sum = sum + 0.5 WHERE metric = 'token_f1'")
            c.execute("UPDATE aggregate_datasets SET done = done - 1 WHERE dataset = 'beta'")
        c.close()
        rc, out = admin(s.data, "check")
        tap.ok(rc == 1 and re.search(r"aggregates\s+FAILED: 1 dataset and 2 metric keys differ", out),
               "admin check finds damaged aggregates (exit 1)", out)
        rc, out = admin(s.data, "reaggregate")
        tap.ok(rc == 0 and re.search(r"aggregates\s+ok", out), "admin reaggregate rebuilds them", out)
        check_aggregates(s, "after reaggregate")
        check_outputs(s, "after reaggregate")


def migration_part():
    """A version-3 database with rows in every status, null scores, a NULL
    dataset and correctness (1..5): the migration's backfill, then writes
    from a connection as ragrade sets it up (recursive_triggers)."""
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-agg-")
    path = os.path.join(tmp.name, "ragrade.db")
    c = sqlite3.connect(path, isolation_level=None)
    for f in ("001_init.sql", "002_judge_cache.sql", "003_idem_hash.sql"):
        with open(os.path.join(SRC, "sql", f)) as fh:
            c.executescript(fh.read())
    c.execute("PRAGMA user_version = 3")
    c.execute("PRAGMA journal_mode = WAL")
    statuses = ["queued", "running", "done", "failed"]
    for i in range(1, 201):
        st = "done" if i % 3 else statuses[i % 4]
        c.execute("INSERT INTO evaluations(id, created_at, updated_at, status, dataset, question, answer,"
                  " prompt_tokens, completion_tokens) VALUES(?, 't', 't', ?, ?, 'q', 'a', ?, ?)",
                  (i, st, [None, "x", "y", "1"][i % 4], i % 7, i % 5))
        for m in ("faithfulness", "correctness"):
            if st != "done":
                continue
            sc = None if i % 11 == 0 else ((i % 5) + 1 if m == "correctness" else (i % 10) / 9)
            c.execute("INSERT INTO evaluation_scores(evaluation_id, metric, score, reason) VALUES(?, ?, ?, NULL)", (i, m, sc))
    c.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env["RAGRADE_DATA"] = tmp.name
    p = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    tap.ok(p.returncode == 0, "ragrade migrate from schema version 3", p.stderr)

    class S:
        data = tmp.name
    check_aggregates(S, "backfilled by the migration")
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA foreign_keys = ON")
    c.execute("PRAGMA recursive_triggers = ON")
    c.execute("INSERT OR REPLACE INTO evaluation_scores(evaluation_id, metric, score, reason) VALUES(3, 'faithfulness', 0.25, NULL)")
    c.execute("INSERT OR REPLACE INTO evaluation_scores(evaluation_id, metric, score, reason) VALUES(4, 'correctness', NULL, NULL)")
    c.execute("UPDATE evaluations SET dataset = 'moved' WHERE id IN (5, 6, 7, 8)")
    c.execute("UPDATE evaluations SET status = 'queued' WHERE id = 10")
    c.execute("DELETE FROM evaluations WHERE id % 13 = 0")
    # remove every score equal to the min and the max of one key: the
    # extremes are found again from the rows
    c.execute("DELETE FROM evaluation_scores WHERE metric = 'faithfulness' AND evaluation_id IN"
              " (SELECT id FROM evaluations WHERE dataset = 'x') AND (score = 0 OR score = 1)")
    c.close()
    check_aggregates(S, "after replace, relabel, status change, deletes of the extremes")
    tmp.cleanup()


def main():
    migration_part()
    server_part()


if subprocess.run(["sh", "-c", "command -v nginx || test -x /usr/sbin/nginx"], capture_output=True).returncode:
    tap.skip_all("nginx not installed")
tap.run(main)
