#!/usr/bin/python3
"""compare.py - runs in the server: rows with run and item submitted through
nginx, stored and listed by run; GET /api/summary's means and intervals
against a Python computation from the stored scores (and against `ragrade
admin stats`); GET /api/runs; GET /api/compare against a Python oracle,
against `ragrade compare --db` and against the JSONL path on the same data;
one dataset per run; the 400s; exports; and migration 003 upgrading a
database of the previous version with rows in it. Prints TAP."""
import csv
import io
import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import tap  # noqa: E402
from harness import Server  # noqa: E402

SRCDIR = os.environ.get("RAGRADE_SRCDIR") or os.path.dirname(HERE)
BIN = os.environ.get("RAGRADE_BIN") or os.path.join(os.path.dirname(HERE), "ragrade")
METRICS = ["token_f1", "non_llm_string_similarity"]
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
N = 40


def cli(*args, data):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_") or k in ("RAGRADE_BIN", "RAGRADE_SRCDIR")}
    env["RAGRADE_DATA"] = data
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def make_row(i, run, drop, dataset="rag", item=True):
    truth = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(8))
    words = truth.split()
    answer = " ".join(words[:len(words) - drop]) if drop < len(words) else "nothing"
    r = {"question": f"What is case {i}?", "answer": answer, "contexts": [truth],
         "ground_truth": truth, "metrics": METRICS, "dataset": dataset}
    if run:
        r["run"] = run
    if item:
        r["item"] = f"case-{i}"
    return r


def submit(s, rows):
    ids = []
    for k in range(0, len(rows), 10):
        r = s.post("/api/eval", rows[k:k + 10])
        assert r.status == 202, r
        ids += r.json()["ids"]
    s.wait_status(ids)
    return ids


def stored(s, where, args):
    """{metric: {item: (score, id)}} of done rows, from the database."""
    out = {m: {} for m in METRICS}
    for row in s.query("SELECT e.id, e.item, s.metric, s.score FROM evaluations e JOIN evaluation_scores s"
                       " ON s.evaluation_id = e.id WHERE e.status = 'done' AND " + where, args):
        out[row["metric"]][row["item"]] = (row["score"], row["id"])
    return out


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def check_summary(s, data, base):
    r = s.get("/api/summary?dataset=rag&run=v1")
    tap.eq(r.status, 200, "GET /api/summary?dataset=rag&run=v1 answers 200")
    sm = r.json()
    tap.ok(sm.get("run") == "v1" and sm.get("dataset") == "rag" and sm["counts"]["done"] == N + 2,
           "the summary by run counts that run's rows only", sm.get("counts"))
    for m in METRICS:
        xs = [v for v, _ in base[m].values() if v is not None]
        got = sm["metrics"].get(m, {})
        mean, sd = statistics.fmean(xs), statistics.stdev(xs)
        lo, hi = got.get("ci95") or [None, None]
        tap.ok(close(got.get("mean"), mean) and got.get("scored") == len(xs) and got.get("nulls") == 0,
               f"{m}: the mean over run v1 is the mean of its stored scores ({mean:.4f}, n {len(xs)})", got)
        tap.ok(close(got.get("se"), sd / math.sqrt(len(xs)), 1e-6), f"{m}: se is sd / sqrt(n)", got)
        half = 1.959963984540054 * sd / math.sqrt(len(xs))
        tap.ok(got.get("ci_method") == "bootstrap" and lo is not None and lo <= mean <= hi and
               abs((hi - lo) / 2 - half) <= 0.3 * half and abs((lo + hi) / 2 - mean) <= 0.5 * half,
               f"{m}: the bootstrap interval holds the mean and agrees with the normal one", [lo, hi, mean, half])
    rc, out, err = cli("admin", "stats", "--dataset", "rag", "--run", "v1", "--json", data=data)
    st = json.loads(out) if rc == 0 else {}
    tap.ok(rc == 0 and all(st["metrics"][m]["ci95"] == sm["metrics"][m]["ci95"] for m in METRICS),
           "ragrade admin stats --run gives the same intervals (fixed seed)", err or out[:500])
    rc, out, _ = cli("admin", "stats", "--dataset", "rag", "--run", "v1", data=data)
    tap.ok(rc == 0 and "95% CI" in out and "run            v1" in out, "admin stats prints the intervals", out)
    whole = s.get("/api/summary?dataset=rag").json()
    tap.ok(whole["counts"]["done"] == 2 * N + 2 + N // 2 and "ci95" in whole["metrics"]["token_f1"],
           "without run= the summary covers every run of the dataset, with intervals", whole.get("counts"))


def check_lists(s, data):
    r = s.get("/api/eval?dataset=rag&run=v2&limit=500")
    items = r.json().get("items", []) if r.status == 200 else []
    tap.ok(len(items) == N and all(i["run"] == "v2" and i["item"].startswith("case-") for i in items),
           "GET /api/eval?run=v2 lists that run's rows, each with its run and item", r)
    one = s.get(f"/api/eval/{items[0]['id']}").json() if items else {}
    tap.ok(one.get("run") == "v2" and one.get("item") == items[0]["item"], "GET /api/eval/{id} has run and item", one)
    r = s.get("/api/runs?dataset=rag")
    runs = {x["run"]: x for x in r.json().get("runs", [])} if r.status == 200 else {}
    tap.ok(set(runs) == {"v1", "v2", "v3"} and runs["v1"]["count"] == N + 2 and runs["v2"]["done"] == N
           and runs["v3"]["items"] == 0, "GET /api/runs lists the dataset's runs with their counts", r)
    rc, out, _ = cli("admin", "list", "--dataset", "rag", "--run", "v3", "--limit", "100", data=data)
    lines = [ln for ln in out.splitlines()[1:] if ln.strip()]
    tap.ok(rc == 0 and len(lines) == N // 2 and all(" v3 " in ln for ln in lines),
           "ragrade admin list --run shows that run's rows with a RUN column", out[:800])


def oracle(base, cand, m):
    """Pairs, only_baseline, only_candidate, both means and delta."""
    b = {k: v for k, (v, _) in base[m].items() if v is not None}
    c = {k: v for k, (v, _) in cand[m].items() if v is not None}
    both = sorted(set(b) & set(c))
    d = [c[k] - b[k] for k in both]
    return (len(both), len(set(b) - set(c)), len(set(c) - set(b)), statistics.fmean(b[k] for k in both),
            statistics.fmean(c[k] for k in both), statistics.fmean(d))


def jsonl(path, side):
    by_id = {}
    for m in METRICS:
        for item, (v, rid) in side[m].items():
            by_id.setdefault(rid, {"line": rid, "item": item, "question": f"What is case {item[5:]}?", "scores": {}})
            by_id[rid]["scores"][m] = v
    with open(path, "w") as f:
        for rid in sorted(by_id):
            f.write(json.dumps(by_id[rid]) + "\n")
    return path


def by_name(res):
    return sorted(res.get("metrics", []), key=lambda x: x["metric"])


def check_compare(s, data, base, cand):
    r = s.get("/api/compare?dataset=rag&baseline=v1&candidate=v2")
    tap.eq(r.status, 200, "GET /api/compare answers 200")
    res = r.json() if r.status == 200 else {"metrics": []}
    by = {x["metric"]: x for x in res["metrics"]}
    for m in METRICS:
        x = by.get(m, {})
        pairs, ob, oc, bm, cm, delta = oracle(base, cand, m)
        tap.ok(x.get("pairs") == pairs and x.get("only_baseline") == ob and x.get("only_candidate") == oc and
               close(x.get("baseline_mean"), bm) and close(x.get("candidate_mean"), cm) and
               close(x.get("delta"), delta), f"{m}: pairs {pairs}, only_baseline {ob}, delta {delta:+.4f} as the oracle", x)
        lo, hi = x.get("ci95") or [None, None]
        tap.ok(lo is not None and lo <= x["delta"] <= hi and x.get("verdict") == "worse" and x.get("p_holm") < 0.05,
               f"{m}: a clear drop is 'worse', its interval around delta", x)
        drops = x.get("drops", [])
        tap.ok(len(drops) == 10 and all(d["baseline_id"] == base[m][d["item"]][1] and
                                        d["candidate_id"] == cand[m][d["item"]][1] for d in drops),
               f"{m}: ten largest drops, each with both evaluation ids", drops[:2])
    tap.ok(res.get("baseline", {}).get("run") == "v1" and res.get("candidate", {}).get("rows") == N,
           "the answer names both sides", {k: res.get(k) for k in ("baseline", "candidate")})
    db = os.path.join(data, "ragrade.db")
    rc, out, err = cli("compare", "--db", db, "--dataset", "rag", "--baseline", "v1", "--candidate", "v2", "--json", data=data)
    cl = json.loads(out) if rc == 0 else {}
    tap.ok(rc == 0 and cl.get("metrics") == res["metrics"], "ragrade compare --db gives the same comparison", err or out[:600])
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = cli("compare", jsonl(os.path.join(d, "b.jsonl"), base), jsonl(os.path.join(d, "c.jsonl"), cand),
                           "--json", data=data)
    fl = json.loads(out) if rc == 0 else {}
    tap.ok(rc == 0 and by_name(fl) == by_name(res), "the JSONL path on the same scores gives the same comparison",
           err or out[:600])
    rc, _, err = cli("gate", "--db", db, "--dataset", "rag", "--baseline", "v1", "--candidate", "v2", data=data)
    tap.ok(rc == 1 and "REGRESSION" in err, "ragrade gate --db exits 1 on the drop", err)
    rc, _, err = cli("gate", "--db", db, "--dataset", "rag", "--baseline", "v1", "--candidate", "v1", data=data)
    tap.ok(rc == 0, "ragrade gate --db: a run against itself passes", err)
    rc, _, err = cli("gate", "--db", db, "--dataset", "rag", "--baseline", "v1", "--candidate", "nope", data=data)
    tap.ok(rc == 64 and "no run 'nope'" in err, "ragrade gate --db: an unknown run is a usage error (64)", err)
    q = "/api/compare?metrics=token_f1&alpha=0.01&min_delta=0.001&dataset=rag&baseline=v1&candidate=v2"
    one = s.get(q).json()
    tap.ok(len(one.get("metrics", [])) == 1 and one.get("alpha") == 0.01 and one.get("min_delta") == 0.001,
           "metrics=, alpha= and min_delta= are honoured", one.get("alpha"))
    # One dataset per run: the same rows under datasets rag-a and rag-b.
    r = s.get("/api/compare?baseline_dataset=rag-a&candidate_dataset=rag-b")
    two = r.json() if r.status == 200 else {"metrics": []}
    keys = ("pairs", "only_baseline", "only_candidate", "baseline_mean", "candidate_mean", "delta", "ci95",
            "p_value", "p_holm", "verdict")
    same = all(a["metric"] == b["metric"] and all(a[k] == b[k] for k in keys)
               for a, b in zip(two["metrics"], res["metrics"])) and len(two["metrics"]) == len(res["metrics"])
    tap.ok(r.status == 200 and same, "baseline_dataset= / candidate_dataset=: one dataset per run, same figures", r)


def check_errors(s):
    cases = [
        ("/api/compare?baseline=v1&candidate=v2", "invalid_query", "dataset"),
        ("/api/compare?dataset=rag&candidate=v2", "invalid_query", "baseline"),
        ("/api/compare?dataset=rag&baseline=v1", "invalid_query", "candidate"),
        ("/api/compare?dataset=nosuch&baseline=v1&candidate=v2", "unknown_dataset", "dataset"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v9", "unknown_run", "candidate"),
        ("/api/compare?baseline_dataset=rag-a&candidate_dataset=nosuch", "unknown_dataset", "candidate_dataset"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v2&alpha=0.9", "invalid_query", "alpha"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v2&alpha=x", "invalid_query", "alpha"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v2&min_delta=-1", "invalid_query", "min_delta"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v2&metrics=,,", "invalid_query", "metrics"),
        ("/api/compare?dataset=rag&baseline=v1&candidate=v2&metrics=" + "x" * 120, "invalid_query", "metrics"),
        ("/api/compare?dataset=" + "d" * 2000 + "&baseline=v1&candidate=v2", "invalid_query", "dataset"),
    ]
    for path, code, field in cases:
        r = s.get(path)
        e = r.json().get("error", {}) if r.headers.get("content-type", "").startswith("application/json") else {}
        tap.ok(r.status == 400 and e.get("code") == code and e.get("field") == field and e.get("message"),
               f"400 {code} on {field}: {urllib.parse.unquote(path)[:70]}", r)
    r = s.post("/api/compare", {})
    tap.eq(r.status, 405, "POST /api/compare is 405")


def check_export(s, data):
    rc, out, err = cli("admin", "export", "--dataset", "rag", data=data)
    lines = [json.loads(x) for x in out.splitlines()] if rc == 0 else []
    tap.ok(lines and {x.get("run") for x in lines} == {"v1", "v2", "v3"} and
           all(("item" in x) == (x["run"] != "v3") for x in lines), "the JSONL export carries run and item",
           err or out[:300])
    back = [dict(x, dataset="rag-copy") for x in lines[:5]]
    for x in back:
        x.pop("id", None)
    r = s.post("/api/eval", back)
    tap.eq(r.status, 202, "exported rows with run and item are accepted back")
    rc, out, _ = cli("admin", "export", "--dataset", "rag", "--format", "csv", data=data)
    rows = list(csv.DictReader(io.StringIO(out)))
    tap.ok(rc == 0 and rows and rows[0].get("run") in ("v1", "v2", "v3") and rows[0].get("item", "").startswith("case-"),
           "the CSV export has run and item columns", out[:300])


def check_migration():
    """A database of the previous schema version, with rows, upgraded."""
    with open(os.path.join(SRCDIR, "Makefile.am")) as f:
        am = f.read().replace("\\\n", " ")
    files = [os.path.join(SRCDIR, x) for x in re.search(r"^SCHEMA_SQL\s*=(.*)$", am, re.M).group(1).split()]
    older = files[:[os.path.basename(f).endswith("_runs.sql") for f in files].index(True)]
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        db = os.path.join(d, "ragrade.db")
        c = sqlite3.connect(db)
        for f in older:
            with open(f) as fh:
                c.executescript(fh.read())
        c.execute(f"PRAGMA user_version = {len(older)}")
        for i in range(12):
            for ds in ("old-a", "old-b"):
                cur = c.execute("INSERT INTO evaluations(created_at, updated_at, status, dataset, question, answer)"
                                " VALUES('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'done', ?, ?, 'a')",
                                (ds, f"question {i}?"))
                c.execute("INSERT INTO evaluation_scores(evaluation_id, metric, score) VALUES(?, 'token_f1', ?)",
                          (cur.lastrowid, i / 12 if ds == "old-a" else i / 12 - 0.25))
        c.commit()
        c.close()
        rc, out, err = cli("migrate", data=d)
        tap.ok(rc == 0, "ragrade migrate upgrades a database of the previous version", err or out)
        c = sqlite3.connect(db)
        version = c.execute("PRAGMA user_version").fetchone()[0]
        cols = {r[1] for r in c.execute("PRAGMA table_info(evaluations)")}
        idx = [r[0] for r in c.execute("SELECT sql FROM sqlite_master WHERE name = 'evaluations_dataset_run'")]
        kept = c.execute("SELECT count(*), count(run), count(item) FROM evaluations").fetchone()
        c.close()
        tap.ok(version == len(files) and {"run", "item"} <= cols and idx and "(dataset, run)" in idx[0]
               and kept == (24, 0, 0), "migration 00N_runs: run and item columns (NULL on old rows), index on (dataset, run)",
               (version, sorted(cols), idx, kept))
        rc, out, err = cli("compare", "--db", db, "--baseline-dataset", "old-a", "--candidate-dataset", "old-b",
                           "--json", data=d)
        m = json.loads(out)["metrics"][0] if rc == 0 else {}
        tap.ok(m.get("pairs") == 12 and close(m.get("delta"), -0.25), "old rows pair by question after the upgrade",
               err or m)


def main():
    with Server(workers=1, threads=4) as s:
        v1 = [make_row(i, "v1", i % 3) for i in range(N)]
        v1 += [make_row(N + k, "v1", 1) for k in range(2)]          # only in the baseline
        v2 = [make_row(i, "v2", (i % 3) + (3 if i < 30 else 0)) for i in range(N)]
        v3 = [make_row(i, "v3", 2, item=False) for i in range(N // 2)]
        submit(s, v1 + v2 + v3)
        submit(s, [dict(r, dataset="rag-a") for r in v1] + [dict(r, dataset="rag-b") for r in v2])
        for r in [*s.query("SELECT 1 FROM evaluations WHERE status <> 'done' LIMIT 1")]:
            tap.diag(f"unexpected row {r}")
        base = stored(s, "e.dataset = 'rag' AND e.run = 'v1'", ())
        cand = stored(s, "e.dataset = 'rag' AND e.run = 'v2'", ())
        check_summary(s, s.data, base)
        check_lists(s, s.data)
        check_compare(s, s.data, base, cand)
        check_errors(s)
        check_export(s, s.data)
    check_migration()


if __name__ == "__main__":
    tap.run(main)
