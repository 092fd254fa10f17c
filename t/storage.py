"""Storage seams end to end: migration 002 upgrades a version-1 database
that holds rows (with and without the judge_cache table an older ragrade
made at run time); `ragrade eval` uses the judge reply cache of the
database it is pointed at, and --no-cache turns it off; the API's retry and
delete and `ragrade admin requeue`/`delete` apply the same rules."""
import json
import re
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import BIN, NGINX, ROW, SRCDIR, FakeLLM, Server  # noqa: E402

# The schema version this ragrade migrates to (later migrations raise it).
with open(os.path.join(SRCDIR, "src", "db.h")) as f:
    SCHEMA = int(re.search(r"#define DB_SCHEMA_VERSION (\d+)", f.read()).group(1))

# The columns an admin write may set; id, created_at and updated_at aside.
COLS = ["status", "attempts", "max_attempts", "not_before", "last_error", "lease_owner",
        "lease_until", "started_at", "finished_at", "judge", "prompt_tokens", "completion_tokens"]


def run(data, *args, env=None, stdin=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
    e["RAGRADE_DATA"] = data
    e.update(env or {})
    p = subprocess.run([BIN] + list(args), env=e, input=stdin, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def query(path, sql, args=()):
    c = sqlite3.connect(path, timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def version1(path, with_cache):
    """A version-1 database as ragrade 1 left it: sql/001 and two rows,
    one done with a score; with_cache: the run-time judge_cache with a row."""
    with open(os.path.join(SRCDIR, "sql", "001_init.sql")) as f:
        schema = f.read()
    c = sqlite3.connect(path)
    try:
        c.executescript(schema)
        c.execute("PRAGMA user_version = 1")
        with c:
            for status in ("queued", "done"):
                cur = c.execute("INSERT INTO evaluations(created_at, updated_at, status, question, answer, contexts)"
                                " VALUES('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', ?, ?, 'a', '[\"c\"]')",
                                (status, f"question {status}"))
                if status == "done":
                    c.execute("INSERT INTO evaluation_scores VALUES(?, 'token_f1', 0.5, NULL)", (cur.lastrowid,))
            if with_cache:
                c.execute("CREATE TABLE judge_cache(key TEXT PRIMARY KEY, reply TEXT NOT NULL, prompt_tokens INTEGER,"
                          " completion_tokens INTEGER, created_at TEXT)")
                c.execute("INSERT INTO judge_cache VALUES('k1', '{\"x\": 1}', 3, 4, '2026-01-01T00:00:00.000Z')")
    finally:
        c.close()


def test_migrate(tmp):
    v = SCHEMA
    for with_cache in (False, True):
        data = os.path.join(tmp, f"v1-{int(with_cache)}")
        os.makedirs(data)
        db = os.path.join(data, "ragrade.db")
        version1(db, with_cache)
        rc, out, err = run(data, "migrate")
        what = "with" if with_cache else "without"
        tap.ok(rc == 0 and f"schema version {v}" in out, f"migrate a version-1 database {what} judge_cache", (rc, out, err))
        tap.eq(query(db, "PRAGMA user_version"), [(v,)], f"{what} judge_cache: version {v}")
        tap.eq(query(db, "SELECT status, question FROM evaluations ORDER BY id"),
               [("queued", "question queued"), ("done", "question done")], f"{what} judge_cache: the rows survive")
        tap.eq(query(db, "SELECT metric, score FROM evaluation_scores"), [("token_f1", 0.5)],
               f"{what} judge_cache: the scores survive")
        cols = [r[1] for r in query(db, "PRAGMA table_info(judge_cache)")]
        tap.eq(cols, ["key", "reply", "prompt_tokens", "completion_tokens", "created_at"],
               f"{what} judge_cache: judge_cache exists with its columns")
        tap.eq(query(db, "SELECT key, reply FROM judge_cache"), [("k1", '{"x": 1}')] if with_cache else [],
               f"{what} judge_cache: cached replies kept")
        rc, out, err = run(data, "admin", "check")
        tap.ok(rc == 0 and f"schema version   {v}" in out, f"{what} judge_cache: admin check passes", out + err)


def llm_calls(f):
    """Calls that grade (not the judge's start-up probe or model list)."""
    return sum(n for k, n in f.stats()["by_kind"].items() if k not in ("probe", "models"))


def test_eval_cache(tmp):
    data = os.path.join(tmp, "eval")
    os.makedirs(data)
    # Rows that share no request with one another, so that the first run
    # cannot answer one row from another's cached reply.
    lines = "".join(json.dumps(dict(ROW, question=f"{ROW['question']} ({i})", answer=f"{ROW['answer']} Row {i}.",
                                    contexts=[f"{ROW['contexts'][0]} Row {i}."], metrics=["faithfulness"])) + "\n"
                    for i in range(3))
    with FakeLLM() as f:
        env = f.env()
        rc, out1, err = run(data, "eval", "-", env=env, stdin=lines)
        first = llm_calls(f)
        tap.ok(rc == 0 and first > 0 and len(out1.splitlines()) == 3, "eval: the first run asks the LLM", (rc, first, err))
        n = query(os.path.join(data, "ragrade.db"), "SELECT count(*) FROM judge_cache")[0][0]
        tap.ok(n > 0, "eval: its replies are cached in the configured database", n)
        f.control(reset=True)
        rc, out2, err = run(data, "eval", "-", env=env, stdin=lines)
        tap.ok(rc == 0 and llm_calls(f) == 0, "eval again: every reply from the cache, no LLM call", (rc, f.stats(), err))
        tap.eq([json.loads(x)["scores"] for x in out2.splitlines()], [json.loads(x)["scores"] for x in out1.splitlines()],
               "eval again: the same scores")
        f.control(reset=True)
        rc, out3, err = run(data, "eval", "--no-cache", "-", env=env, stdin=lines)
        tap.ok(rc == 0 and llm_calls(f) == first, "eval --no-cache: the LLM is asked again, as often", (rc, llm_calls(f), first, err))
        f.control(reset=True)
        rc, out4, err = run(data, "eval", "-", env=dict(env, RAGRADE_JUDGE_CACHE="no"), stdin=lines)
        tap.ok(rc == 0 and llm_calls(f) == first, "eval with judge.cache = no: no cache either", (rc, llm_calls(f), err))


def seed(db):
    """Twin rows per case, inserted as a pool leaves them: (cli id, api id) by case."""
    base = {"created_at": "2026-02-01T00:00:00.000Z", "updated_at": "2026-02-01T00:00:00.000Z",
            "question": "q", "answer": "a", "contexts": '["c"]', "attempts": 2, "max_attempts": 3,
            "started_at": "2026-02-01T00:00:01.000Z", "judge": "openai/judge-model",
            "prompt_tokens": 10, "completion_tokens": 5}
    cases = {
        "done": {"status": "done", "finished_at": "2026-02-01T00:00:02.000Z"},
        "failed": {"status": "failed", "last_error": "boom", "finished_at": "2026-02-01T00:00:02.000Z"},
        "queued": {"status": "queued", "not_before": 99999999999999, "last_error": "429, retried"},
        "running": {"status": "running", "lease_owner": "w1-x", "lease_until": 99999999999999},
    }
    ids = {}
    c = sqlite3.connect(db, timeout=30)
    try:
        with c:
            for name, extra in cases.items():
                pair = []
                for _ in range(2):
                    r = dict(base, **extra)
                    cur = c.execute(f"INSERT INTO evaluations({','.join(r)}) VALUES({','.join('?' * len(r))})",
                                    list(r.values()))
                    c.execute("INSERT INTO evaluation_scores(evaluation_id, metric, score, reason)"
                              " VALUES(?, 'token_f1', 0.5, 'x')", (cur.lastrowid,))
                    pair.append(cur.lastrowid)
                ids[name] = tuple(pair)
    finally:
        c.close()
    return ids


def state(db, rid):
    row = query(db, f"SELECT {','.join(COLS)} FROM evaluations WHERE id = ?", (rid,))
    scores = query(db, "SELECT count(*) FROM evaluation_scores WHERE evaluation_id = ?", (rid,))[0][0]
    return (dict(zip(COLS, row[0])) if row else None), scores


def test_doors(tmp):
    """The HTTP retry and delete and the CLI's requeue and delete, on twin
    rows, leave the same state and refuse the same rows. The judge never
    becomes ready (its LLM answers 500), so no row is claimed meanwhile."""
    if not os.access(NGINX, os.X_OK):
        tap.diag(f"no nginx at {NGINX}: the two doors are not compared")
        return
    admin_tok = "tok-admin-storage-7e1"
    import hashlib
    h = "sha256:" + hashlib.sha256(admin_tok.encode()).hexdigest()
    with FakeLLM() as f:
        f.control(faults=[{"mode": "status", "status": 500, "count": -1}])
        with Server(env=f.env(RAGRADE_AUTH_ADMIN_TOKENS=h), workers=1, threads=4) as s:
            db = os.path.join(s.data, "ragrade.db")
            ids = seed(db)
            auth = {"Authorization": f"Bearer {admin_tok}"}
            for case in ("done", "failed", "queued", "running"):
                cli, api = ids[case]
                rc, out, err = run(s.data, "admin", "requeue", str(cli))
                r = s.post(f"/api/eval/{api}/retry", None, headers=auth)
                sc, sa = state(db, cli), state(db, api)
                if case == "running":
                    tap.ok(rc == 1 and r.status == 409 and sc == sa and sc[0]["status"] == "running",
                           "retry of a running row: both doors refuse it, untouched", (rc, err, r, sc, sa))
                else:
                    want = {"status": "queued", "attempts": 0, "not_before": 0, "last_error": None,
                            "lease_owner": None, "lease_until": None, "started_at": None, "finished_at": None}
                    tap.ok(rc == 0 and r.status == 200 and sc == sa and all(sc[0][k] == v for k, v in want.items())
                           and sc[1] == 0, f"retry of a {case} row: both doors requeue it the same way, scores gone",
                           (rc, err, r, sc, sa))
            rc, out, err = run(s.data, "admin", "requeue", "987654")
            r = s.post("/api/eval/987654/retry", None, headers=auth)
            tap.ok(rc == 1 and r.status == 404, "retry of a missing row: both doors say so", (rc, err, r))
            for case in ("done", "running"):
                cli, api = ids[case]
                rc, out, err = run(s.data, "admin", "delete", str(cli))
                r = s.request("DELETE", f"/api/eval/{api}", headers=auth)
                sc, sa = state(db, cli), state(db, api)
                if case == "running":
                    tap.ok(rc == 1 and "running" in err and r.status == 409 and sc == sa and sc[0] is not None,
                           "delete of a running row: both doors refuse it", (rc, err, r, sc, sa))
                else:
                    tap.ok(rc == 0 and r.status == 204 and sc == sa == (None, 0),
                           "delete of a requeued row: both doors delete it with its scores", (rc, err, r, sc, sa))
            rc, out, err = run(s.data, "admin", "delete", "987654")
            r = s.request("DELETE", "/api/eval/987654", headers=auth)
            tap.ok(rc == 1 and r.status == 404, "delete of a missing row: both doors say so", (rc, err, r))


def main():
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-storage-t-")
    try:
        test_migrate(tmp.name)
        test_eval_cache(tmp.name)
        test_doors(tmp.name)
    finally:
        tmp.cleanup()


tap.run(main)
