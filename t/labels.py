"""Human labels end to end (issue 18): the real nginx and pool on a loopback
port with the built-in judge. Label validation on each metric's scale,
replacement with history, roles, the agreement figures against an oracle
written here from the textbook definitions (accuracy, Cohen's kappa with
the Fleiss-Cohen-Everitt standard error, Spearman's rho, Kendall's tau-b,
the mean absolute error), the corrected mean appearing from 30 randomly
sampled labels and matching a computation here, the review queue, import
and export round trips through `ragrade admin`, and the migration of a
database of the previous schema version that holds rows."""
import csv
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import BIN, SRCDIR, Server  # noqa: E402

Z = 1.959963984540054
TOK = {"read": "labels-read-91f2", "submit": "labels-submit-0c7e", "admin": "labels-admin-55aa"}
R = {"Authorization": "Bearer " + TOK["read"]}
S = {"Authorization": "Bearer " + TOK["submit"]}
DS = "lab"
N_ROWS = 80


def sha(t):
    return "sha256:" + hashlib.sha256(t.encode()).hexdigest()


# ---- the oracle, from the definitions ----

def o_kappa(j, h):
    n = len(j)
    m = [[0, 0], [0, 0]]
    for a, b in zip(j, h):
        m[int(a >= 0.5)][int(b >= 0.5)] += 1
    p = [[m[i][k] / n for k in range(2)] for i in range(2)]
    pj = [p[i][0] + p[i][1] for i in range(2)]           # judge's marginals
    ph = [p[0][k] + p[1][k] for k in range(2)]           # human's marginals
    po = p[0][0] + p[1][1]
    pe = pj[0] * ph[0] + pj[1] * ph[1]
    k = (po - pe) / (1 - pe)
    # Fleiss, Cohen & Everitt (1969): var = [sum_i p_ii (1 - (p_i. + p_.i)(1 - k))^2
    #   + (1 - k)^2 sum_{i != j} p_ij (p_.i + p_j.)^2 - (k - pe (1 - k))^2] / (n (1 - pe)^2)
    a = sum(p[i][i] * (1 - (pj[i] + ph[i]) * (1 - k)) ** 2 for i in range(2))
    b = (1 - k) ** 2 * sum(p[i][q] * (ph[i] + pj[q]) ** 2 for i in range(2) for q in range(2) if i != q)
    c = (k - pe * (1 - k)) ** 2
    se = math.sqrt(max(a + b - c, 0) / (n * (1 - pe) ** 2))
    return {"accuracy": po, "kappa": k, "se": se, "lo": max(-1, k - Z * se), "hi": min(1, k + Z * se),
            "confusion": m}


def o_ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(order):
        k = i
        while k + 1 < len(order) and x[order[k + 1]] == x[order[i]]:
            k += 1
        for q in range(i, k + 1):
            r[order[q]] = (i + k) / 2 + 1
        i = k + 1
    return r


def o_pearson(a, b):
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return sab / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def o_kendall_b(a, b):
    conc = disc = ta = tb = 0
    for i in range(len(a)):
        for k in range(i + 1, len(a)):
            da, db = a[i] - a[k], b[i] - b[k]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ta += 1
            elif db == 0:
                tb += 1
            elif (da > 0) == (db > 0):
                conc += 1
            else:
                disc += 1
    return (conc - disc) / math.sqrt((conc + disc + ta) * (conc + disc + tb))


def o_ppi(all_judge, lab_judge, lab_human):
    n, m = len(all_judge), len(lab_judge)
    mean = statistics.fmean(all_judge)
    diffs = [j - h for j, h in zip(lab_judge, lab_human)]
    rect = statistics.fmean(diffs)
    se = math.sqrt(statistics.variance(all_judge) / n + statistics.variance(diffs) / m)
    est = mean - rect
    return {"estimate": est, "lo": est - Z * se, "hi": est + Z * se, "judge_mean": mean}


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol


# ---- helpers ----

def err(r):
    try:
        return r.json()["error"]
    except Exception:
        return {}


def post_label(s, eid, body, headers=S):
    return s.post(f"/api/eval/{eid}/labels", body, headers=headers)


def bad(s, eid, body, field, name):
    r = post_label(s, eid, body)
    tap.ok(r.status == 400 and err(r).get("field") == field, f"{name}: 400 on {field}", r)


def admin(data, *args, stdin=None, db=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    env["RAGRADE_DATA"] = data
    pre = ["--db", db] if db else []
    p = subprocess.run([BIN, "admin"] + pre + list(args), env=env, input=stdin, capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def submit_rows(s):
    rnd = random.Random(18)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    rows = []
    for i in range(N_ROWS):
        gt = " ".join(rnd.sample(words, 6))
        ans = gt if i % 5 == 0 else " ".join(rnd.sample(words, rnd.randint(2, 8)))
        rows.append({"question": f"q{i}?", "answer": ans, "contexts": [gt], "ground_truth": gt,
                     "dataset": DS, "metrics": ["token_f1", "exact_match", "rouge_score"]})
    ids = []
    for k in range(0, N_ROWS, 10):
        r = s.post("/api/eval", rows[k:k + 10], headers=S)
        ids += r.json()["ids"]
    s.wait_status(ids)
    return ids


def wipe(s, where="1"):
    """Remove labels straight from the file (the test's own reset)."""
    c = s.db()
    with c:
        c.execute("DELETE FROM labels WHERE " + where)
    c.close()


def scores(s, metric):
    return {r[0]: r[1] for r in s.query("SELECT evaluation_id, score FROM evaluation_scores WHERE metric = ?",
                                        (metric,))}


# ---- the parts ----

def test_validation(s, ids):
    eid = ids[0]
    bad(s, eid, {"metric": "token_f1", "value": 1.2, "labeler": "al"}, "value", "token_f1 above 1")
    bad(s, eid, {"metric": "token_f1", "value": -0.1, "labeler": "al"}, "value", "token_f1 below 0")
    bad(s, eid, {"metric": "token_f1", "value": "0.5", "labeler": "al"}, "value", "a value as text")
    bad(s, eid, {"metric": "exact_match", "value": 0.5, "labeler": "al"}, "value", "binary exact_match at 0.5")
    bad(s, eid, {"metric": "correctness", "value": 0, "labeler": "al"}, "value", "correctness level 0")
    bad(s, eid, {"metric": "correctness", "value": 3.5, "labeler": "al"}, "value", "correctness level 3.5")
    bad(s, eid, {"metric": "correctness", "value": 6, "labeler": "al"}, "value", "correctness level 6")
    bad(s, eid, {"metric": "no_such_metric", "value": 0.5, "labeler": "al"}, "metric", "unknown metric")
    bad(s, eid, {"metric": "token_f1", "value": 0.5}, "labeler", "no labeler")
    bad(s, eid, {"metric": "token_f1", "value": 0.5, "labeler": "al", "sampled": "yes"}, "sampled",
        "sampled as text")
    bad(s, eid, {"metric": "token_f1", "value": 0.5, "labeler": "x" * 201}, "labeler", "labeler too long")
    r = post_label(s, eid, {"metric": "correctness", "value": 4, "labeler": "al"})
    tap.ok(r.status == 201, "correctness level 4: stored (201)", r)
    r = post_label(s, eid, {"metric": "exact_match", "value": 1, "labeler": "al"})
    tap.ok(r.status == 201, "exact_match 1: stored", r)
    r = post_label(s, 999999, {"metric": "token_f1", "value": 0.5, "labeler": "al"})
    tap.ok(r.status == 404, "a label for a missing evaluation: 404", r)
    r = post_label(s, eid, {"metric": "token_f1", "value": 0.5, "labeler": "al"}, headers=R)
    tap.ok(r.status == 403, "a read token may not label: 403", r)
    r = post_label(s, eid, {"metric": "token_f1", "value": 0.5, "labeler": "al"}, headers={})
    tap.ok(r.status == 401, "no token: 401", r)
    r = s.post(f"/api/eval/{eid}/labels", "not json", headers=dict(S, **{"Content-Type": "application/json"}))
    tap.ok(r.status == 400, "a body that is not JSON: 400", r)
    n = s.query("SELECT count(*) FROM labels")[0][0]
    tap.eq(n, 2, "only the two valid labels were stored")
    wipe(s)


def test_history(s, ids):
    eid = ids[1]
    r1 = post_label(s, eid, {"metric": "token_f1", "value": 0.5, "labeler": "bo", "note": "first"})
    r2 = post_label(s, eid, {"metric": "token_f1", "value": 0.75, "labeler": "bo", "note": "second look"})
    tap.ok(r1.status == 201 and r2.status == 200 and r2.json()["replaced"] is True,
           "a second label by the same labeler replaces the first (200, replaced)", (r1, r2))
    post_label(s, eid, {"metric": "token_f1", "value": 0.25, "labeler": "cy"})
    cur = s.get(f"/api/eval/{eid}/labels", headers=R).json()["labels"]
    tap.ok(sorted((x["labeler"], x["value"]) for x in cur) == [("bo", 0.75), ("cy", 0.25)],
           "GET labels: one current label per labeler", cur)
    hist = s.get(f"/api/eval/{eid}/labels?history=1", headers=R).json()["labels"]
    old = [x for x in hist if x["labeler"] == "bo" and x["value"] == 0.5]
    tap.ok(len(hist) == 3 and len(old) == 1 and old[0]["superseded_at"] and old[0]["note"] == "first",
           "history=1: the replaced label is kept with superseded_at", hist)
    tap.eq(s.get("/api/eval/999999/labels", headers=R).status, 404, "labels of a missing row: 404")
    wipe(s)


def label_many(s, ids, rnd, metric, value_of, sampled_ids, labeler="al"):
    """Label every id with value_of(judge score); returns {id: (value, sampled)}."""
    sc = scores(s, metric)
    out = {}
    for eid in ids:
        v = value_of(sc[eid], rnd)
        smp = eid in sampled_ids
        r = post_label(s, eid, {"metric": metric, "value": v, "labeler": labeler, "sampled": smp})
        if r.status not in (200, 201):
            raise RuntimeError(f"label {eid}: {r}")
        out[eid] = (v, smp)
    return out


def test_agreement(s, ids):
    rnd = random.Random(7)
    labelled = ids[:60]
    # Scores: a human close to the judge with noise, on a 0.05 grid (ties).
    lab = label_many(s, labelled, rnd, "token_f1",
                     lambda j, g: round(min(1, max(0, j + g.gauss(0, 0.2))) * 20) / 20, set())
    sc = scores(s, "token_f1")
    j = [sc[e] for e in labelled]
    h = [lab[e][0] for e in labelled]
    a = s.get(f"/api/agreement?dataset={DS}&metric=token_f1", headers=R).json()
    tap.ok(a["pairs"] == 60 and a["scale"] == "unit", "agreement token_f1: 60 pairs on a unit scale", a)
    tap.ok(close(a["spearman"], o_pearson(o_ranks(j), o_ranks(h))), "Spearman's rho as the oracle's",
           (a["spearman"], o_pearson(o_ranks(j), o_ranks(h))))
    tap.ok(close(a["kendall"], o_kendall_b(j, h)), "Kendall's tau-b as the oracle's", (a["kendall"], o_kendall_b(j, h)))
    mae = statistics.fmean(abs(x - y) for x, y in zip(j, h))
    tap.ok(close(a["mae"], mae), "mean absolute error as the oracle's", (a["mae"], mae))
    tap.ok(len(a["groups"]) == 1 and a["groups"][0]["judge"] == "builtin" and a["groups"][0]["pairs"] == 60,
           "one group: the built-in judge", a["groups"])
    # Binary: the human flips the judge's verdict on about one row in five.
    lab = label_many(s, labelled, rnd, "exact_match", lambda j, g: (1 - j) if g.random() < 0.2 else j, set())
    sc = scores(s, "exact_match")
    j = [sc[e] for e in labelled]
    h = [lab[e][0] for e in labelled]
    want = o_kappa(j, h)
    a = s.get(f"/api/agreement?dataset={DS}&metric=exact_match", headers=R).json()
    tap.ok(a["scale"] == "binary" and a["pairs"] == 60 and a["confusion"] == want["confusion"],
           "agreement exact_match: binary, the confusion matrix [judge][human]", (a, want))
    tap.ok(close(a["accuracy"], want["accuracy"]) and close(a["kappa"], want["kappa"]),
           "accuracy and Cohen's kappa as the oracle's", (a, want))
    tap.ok(close(a["kappa_se"], want["se"]) and close(a["kappa_ci95"][0], want["lo"]) and
           close(a["kappa_ci95"][1], want["hi"]), "kappa's standard error and 95 % interval as the oracle's",
           (a, want))
    # A second labeler adds pairs; an unlabelled metric has none.
    post_label(s, labelled[0], {"metric": "exact_match", "value": 1, "labeler": "zed"})
    a = s.get(f"/api/agreement?dataset={DS}&metric=exact_match", headers=R).json()
    tap.eq(a["pairs"], 61, "each labeler's label is a pair")
    a = s.get(f"/api/agreement?dataset={DS}&metric=rouge_score", headers=R).json()
    tap.ok(a["pairs"] == 0 and a["spearman"] is None and a["mae"] is None, "no labels: 0 pairs, nulls", a)
    r = s.get(f"/api/agreement?dataset={DS}", headers=R)
    tap.ok(r.status == 400 and err(r).get("field") == "metric", "agreement without metric: 400", r)
    runs = s.query("SELECT count(*) FROM pragma_table_info('evaluations') WHERE name = 'run'")[0][0]
    r = s.get(f"/api/agreement?dataset={DS}&metric=token_f1&run=v1", headers=R)
    tap.ok((r.status == 400 and err(r).get("field") == "run") if not runs else r.status == 200,
           "run= without a runs column: 400 naming run" if not runs else "run= filters", r)
    rc, out, e = admin(s.data, "agreement", "--dataset", DS, "--metric", "exact_match", "--json")
    tap.ok(rc == 0 and close(json.loads(out)["kappa"], o_kappa(j + [sc[labelled[0]]], h + [1])["kappa"]),
           "ragrade admin agreement --json: the same kappa", (rc, out, e))


def test_corrected(s, ids):
    """Sampled labels on token_f1 by a second labeler: none until 30."""
    wipe(s, "metric = 'token_f1'")
    rnd = random.Random(11)
    draw = rnd.sample(ids, 30)
    sc = scores(s, "token_f1")
    human = {}
    for k, eid in enumerate(draw):
        human[eid] = round(min(1, max(0, sc[eid] - 0.1 + rnd.gauss(0, 0.1))), 3)
        r = post_label(s, eid, {"metric": "token_f1", "value": human[eid], "labeler": "pp", "sampled": True})
        if k == 28:
            m = s.get(f"/api/summary?dataset={DS}", headers=R).json()["metrics"]["token_f1"]
            tap.ok(r.status == 201 and m.get("corrected", "absent") is None,
                   "29 sampled labels: no corrected mean in the summary", m)
    # Labels picked on purpose never enter the estimate.
    extra = [e for e in ids if e not in human][:5]
    for eid in extra:
        post_label(s, eid, {"metric": "token_f1", "value": 0.0, "labeler": "pp", "sampled": False})
    m = s.get(f"/api/summary?dataset={DS}", headers=R).json()["metrics"]["token_f1"]
    c = m.get("corrected")
    allj = [v for v in sc.values() if v is not None]
    want = o_ppi(allj, [sc[e] for e in draw], [human[e] for e in draw])
    tap.ok(c is not None and c["labels"] == 30 and c["phrase"] == "corrected with 30 human labels",
           "30 sampled labels: the summary shows the corrected mean and says so", m)
    tap.ok(c and close(c["estimate"], want["estimate"]) and close(c["ci95"][0], want["lo"]) and
           close(c["ci95"][1], want["hi"]) and close(c["judge_mean"], want["judge_mean"]) and
           close(m["mean"], want["judge_mean"]),
           "the estimate and its 95 % interval match the computation here (purposive labels left out)",
           (c, want))
    a = s.get(f"/api/agreement?dataset={DS}&metric=token_f1", headers=R).json()
    tap.ok(a["pairs"] == 35 and a["sampled_pairs"] == 30 and close(a["corrected"]["estimate"], want["estimate"]),
           "agreement: every labelled pair, 30 of them sampled, and the same corrected mean", a)


def test_queue(s, ids):
    q = "/api/review?dataset=lab&metric=token_f1&mode=random&n=10&seed="
    a, b, c = (s.get(q + k, headers=R).json() for k in ("7", "7", "8"))
    ia, ib, ic = ([x["id"] for x in v["items"]] for v in (a, b, c))
    tap.ok(len(ia) == 10 and len(set(ia)) == 10 and ia == ib and ia != ic and set(ia) <= set(ids),
           "random queue: 10 distinct rows, the same for the same seed, another for another", (ia, ic))
    tap.ok(a["sampled"] is True and a["candidates"] == N_ROWS, "random queue: marked sampled, over every row", a)
    # Each row is drawn about as often over many seeds (a uniform draw).
    hits = {}
    for seed in range(40):
        for x in s.get(f"/api/review?dataset=lab&metric=token_f1&n=20&seed={seed}", headers=R).json()["items"]:
            hits[x["id"]] = hits.get(x["id"], 0) + 1
    tap.ok(len(hits) == N_ROWS and max(hits.values()) < 25, "over 40 seeds every row is drawn, none too often",
           sorted(hits.values()))
    d = s.get("/api/review?dataset=lab&metric=token_f1&mode=disagreements&n=15", headers=R).json()
    sc, ro = scores(s, "token_f1"), scores(s, "rouge_score")
    gaps = [x["gap"] for x in d["items"]]
    want = sorted((abs(sc[e] - ro[e]) for e in ids), reverse=True)[:15]
    tap.ok(d["related"] == "rouge_score" and all(close(g, w) for g, w in zip(gaps, want)) and len(gaps) == 15
           and d["candidates"] == N_ROWS,
           "disagreements first: the largest gaps to the related metric first", (gaps, want))
    r = s.get("/api/review?dataset=lab&metric=token_f1&mode=other", headers=R)
    tap.ok(r.status == 400 and err(r).get("field") == "mode", "unknown mode: 400", r)
    r = s.get("/api/review?dataset=lab&metric=token_f1&n=0", headers=R)
    tap.ok(r.status == 400 and err(r).get("field") == "n", "n = 0: 400", r)
    lab = s.get("/api/review?dataset=lab&metric=token_f1&n=80&labeler=pp", headers=R).json()["items"]
    tap.eq(sum(1 for x in lab if x["label"] is not None), 35, "the queue shows the labeler's own labels")
    # A critic's split vote (its reason counts yes and no) comes first.
    c = s.db()
    with c:
        c.execute("UPDATE evaluation_scores SET reason = '{\"yes\": 2, \"no\": 1}' WHERE evaluation_id = ?"
                  " AND metric = 'token_f1'", (ids[40],))
        c.execute("UPDATE evaluation_scores SET reason = '{\"yes\": 3, \"no\": 0}' WHERE evaluation_id = ?"
                  " AND metric = 'token_f1'", (ids[41],))
    c.close()
    d = s.get("/api/review?dataset=lab&metric=token_f1&mode=disagreements&n=15", headers=R).json()
    tap.ok(d["items"][0]["id"] == ids[40] and ids[41] not in [x["id"] for x in d["items"][:1]],
           "disagreements first: a split critic vote (2 yes, 1 no) leads; a unanimous one does not",
           [x["id"] for x in d["items"]])


def normal(lines):
    return sorted(json.dumps({k: v for k, v in json.loads(x).items() if k != "created_at"}, sort_keys=True)
                  for x in lines if x.strip())


def test_round_trip(s, ids):
    data = s.data
    note = 'he said "no", twice\nthen yes, d\u00e9j\u00e0 vu'
    r = post_label(s, ids[5], {"metric": "rouge_score", "value": 0.125, "labeler": "q,uote\"r", "note": note})
    tap.ok(r.status == 201, "a label whose note has a comma, quotes, a line break and accents", r)
    rc, jl, e = admin(data, "labels", "export")
    rc2, cs, e2 = admin(data, "labels", "export", "--format", "csv")
    n = s.query("SELECT count(*) FROM labels WHERE superseded_at IS NULL")[0][0]
    tap.ok(rc == 0 and rc2 == 0 and len(jl.splitlines()) == n and len(list(csv.reader(io.StringIO(cs)))) == n + 1,
           "labels export: one JSONL line, one CSV record per current label", (rc, e, rc2, e2, n))
    copy = os.path.join(data, "copy.db")
    rc, out, e = admin(data, "backup", copy)
    c = sqlite3.connect(copy)
    with c:
        c.execute("DELETE FROM labels")
    c.close()
    for fmt, text in (("jsonl", jl), ("csv", cs)):
        path = os.path.join(data, "in." + fmt)
        with open(path, "w", newline="") as f:
            f.write(text)
        c = sqlite3.connect(copy)
        with c:
            c.execute("DELETE FROM labels")
        c.close()
        rc, out, e = admin(data, "labels", "import", path, db=copy)
        rc2, back, e2 = admin(data, "labels", "export", db=copy)
        tap.ok(rc == 0 and out.strip() == f"imported {n} labels" and normal(back.splitlines()) == normal(jl.splitlines())
               and any(json.loads(x).get("note") == note for x in back.splitlines()),
               f"import of the {fmt} export into a copy, exported again: the same labels", (rc, out, e, e2))
    # A bad line: nothing imported, the line named.
    lines = jl.splitlines()
    bad_line = json.loads(lines[0])
    bad_line["value"] = 7
    path = os.path.join(data, "bad.jsonl")
    with open(path, "w") as f:
        f.write("\n".join([lines[1], json.dumps(bad_line)]) + "\n")
    before = s.query("SELECT count(*) FROM labels")[0][0]
    rc, out, e = admin(data, "labels", "import", path)
    tap.ok(rc == 1 and "line 2" in e and s.query("SELECT count(*) FROM labels")[0][0] == before,
           "import with a bad value on line 2: exit 1, names the line, nothing imported", (rc, e))
    rc, out, e = admin(data, "export", "--with-scores", "--dataset", DS)
    rows = [json.loads(x) for x in out.splitlines()]
    with_labels = [r for r in rows if r.get("labels")]
    tap.ok(rc == 0 and len(with_labels) > 0 and all("labels" in r for r in rows) and
           any("token_f1" in r["labels"] for r in with_labels),
           "export --with-scores: each row carries its labels", out[:400])


def test_browser(s, ids):
    """The page's label controls and review queue (t/www/labels.test.mjs)."""
    node = shutil.which("node") or shutil.which("nodejs")
    www = os.path.join(SRCDIR, "t", "www")
    if not node or not os.path.isdir(os.path.join(www, "node_modules", "playwright-core")) or \
            not os.access("/usr/bin/chromium", os.X_OK):
        tap.ok(True, "# SKIP the browser part: node, playwright-core or chromium is missing")
        return
    out_dir = os.path.join(SRCDIR, "t", "artifacts")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ragrade-labels-") as tmp:
        env = dict(os.environ, NODE_PATH=os.path.join(www, "node_modules"), HOME=tmp)
        p = subprocess.run([node, os.path.join(www, "labels.test.mjs"), f"http://127.0.0.1:{s.port}", out_dir,
                            str(ids[2]), TOK["submit"]], cwd=www, env=env, capture_output=True, text=True,
                           timeout=300)
    seen = 0
    for line in p.stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            tap.diag(line)
            continue
        if "comment" in o:
            tap.diag(o["comment"])
        else:
            seen += 1
            tap.ok(bool(o.get("ok")), "page: " + o.get("name", "?"), o.get("diag"))
    tap.ok(p.returncode == 0 and seen > 0, "the browser part exited cleanly", p.stderr[-2000:])


def test_migration():
    with tempfile.TemporaryDirectory(prefix="ragrade-t-") as d:
        db = os.path.join(d, "ragrade.db")
        # The schema just before labels: every migration Makefile.am lists
        # ahead of 004_labels.sql, applied as ragrade would.
        with open(os.path.join(SRCDIR, "Makefile.am")) as f:
            am = f.read().replace("\\\n", " ")
        steps = re.search(r"^SCHEMA_SQL\s*=(.*)$", am, re.M).group(1).split()
        before = steps[:steps.index("sql/004_labels.sql")]
        c = sqlite3.connect(db)
        for step in before:
            with open(os.path.join(SRCDIR, step)) as f:
                c.executescript(f.read())
        c.execute(f"PRAGMA user_version = {len(before)}")
        now = "2026-12-01T00:00:00.000Z"
        for i in range(1, 4):
            c.execute("INSERT INTO evaluations(id, created_at, updated_at, status, dataset, question, answer,"
                      " contexts, max_attempts) VALUES(?, ?, ?, 'done', 'old', ?, 'a', '[\"c\"]', 3)",
                      (i, now, now, f"q{i}"))
            c.execute("INSERT INTO evaluation_scores VALUES(?, 'token_f1', ?, NULL)", (i, i / 4))
        c.commit()
        c.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
        env["RAGRADE_DATA"] = d
        p = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        c = sqlite3.connect(db)
        ver = c.execute("PRAGMA user_version").fetchone()[0]
        rows = c.execute("SELECT count(*) FROM evaluations").fetchone()[0]
        sc = c.execute("SELECT count(*) FROM evaluation_scores").fetchone()[0]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
        c.close()
        tap.ok(p.returncode == 0 and ver == len(steps) and rows == 3 and sc == 3 and
               {"labels", "labels_current", "current_labels"} <= tables,
               f"migrate from schema {len(before)} (the one before labels) with rows: labels table, rows and"
               " scores kept", (p, ver, rows, tables))
        path = os.path.join(d, "l.csv")
        with open(path, "w") as f:
            f.write("evaluation_id,metric,value,labeler,sampled\n1,token_f1,0.5,al,1\n2,token_f1,0.25,al,0\n")
        rc, out, e = admin(d, "labels", "import", path)
        rc2, out2, e2 = admin(d, "agreement", "--metric", "token_f1", "--dataset", "old", "--json")
        tap.ok(rc == 0 and rc2 == 0 and json.loads(out2)["pairs"] == 2,
               "the migrated database takes labels (CSV import) and gives agreement", (out, e, out2, e2))
        # The columns issues 15 and 16 add (a criterion's version, a run):
        # agreement keeps versions apart and filters by run once they exist.
        c = sqlite3.connect(db)
        with c:
            for table, col in (("evaluation_scores", "version"), ("evaluations", "run")):
                if not c.execute(f"SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?", (col,)).fetchone():
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {col} TEXT")
            c.execute("UPDATE evaluation_scores SET version = 'v' || evaluation_id")
            c.execute("UPDATE evaluations SET run = CASE id WHEN 1 THEN 'r1' ELSE 'r2' END")
        c.close()
        rc, out, e = admin(d, "agreement", "--metric", "token_f1", "--json")
        g = json.loads(out)["groups"] if rc == 0 else []
        tap.ok(sorted(x["version"] for x in g) == ["v1", "v2"] and all(x["pairs"] == 1 for x in g),
               "with a version column: one group per criterion version", (out, e))
        rc, out, e = admin(d, "agreement", "--metric", "token_f1", "--run", "r1", "--json")
        tap.ok(rc == 0 and json.loads(out)["pairs"] == 1, "with a run column: --run filters", (out, e))


def main():
    env = {"RAGRADE_AUTH_READ_TOKENS": sha(TOK["read"]), "RAGRADE_AUTH_SUBMIT_TOKENS": sha(TOK["submit"]),
           "RAGRADE_AUTH_ADMIN_TOKENS": sha(TOK["admin"])}
    with Server(env=env) as s:
        ids = submit_rows(s)
        test_validation(s, ids)
        test_history(s, ids)
        test_agreement(s, ids)
        test_corrected(s, ids)
        test_queue(s, ids)
        test_round_trip(s, ids)
        test_browser(s, ids)
    test_migration()


tap.run(main)
