"""`ragrade admin` end to end: a temporary data directory migrated by
`ragrade migrate`, rows written with the sqlite3 module in every status,
then every subcommand, its exit code and output, each --help, and the
JSONL export read back by `ragrade eval`. When nginx is there, the export
is also posted back to a running server while admin reads and writes."""
import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402

BIN = os.environ.get("RAGRADE_BIN") or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ragrade")
COMMANDS = ["stats", "list", "show", "requeue", "cancel", "delete", "purge", "export", "backup", "check", "config", "help"]
ROW_FIELDS = {"id", "question", "answer", "contexts", "ground_truth", "reference_contexts", "metrics", "dataset"}
TRICKY = 'Which "tower", in Paris,\nwas finished in 1889? \u00e9\u4e2d'


class Admin:
    def __init__(self, data):
        self.data = data
        self.db = os.path.join(data, "ragrade.db")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_")}
        self.env["RAGRADE_DATA"] = data

    def run(self, *args, env=None, stdin=None):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([BIN] + list(args), env=e, input=stdin, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def admin(self, *args, **kw):
        return self.run("admin", *args, **kw)

    def query(self, sql, args=()):
        c = sqlite3.connect(self.db, timeout=30)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def one(self, sql, args=()):
        return self.query(sql, args)[0][0]


def insert(a, rows):
    """rows: dicts of column values; returns ids. Scores under "scores"."""
    c = sqlite3.connect(a.db, timeout=30)
    ids = []
    try:
        with c:
            for r in rows:
                r = dict(r)
                scores = r.pop("scores", {})
                r.setdefault("created_at", "2026-03-01T00:00:00.000Z")
                r.setdefault("updated_at", r["created_at"])
                r.setdefault("answer", "It was finished in 1889.")
                r.setdefault("contexts", json.dumps(["The Eiffel Tower was built from 1887 to 1889."]))
                cols = ",".join(r)
                cur = c.execute(f"INSERT INTO evaluations({cols}) VALUES({','.join('?' * len(r))})", list(r.values()))
                ids.append(cur.lastrowid)
                for m, v in scores.items():
                    c.execute("INSERT INTO evaluation_scores(evaluation_id, metric, score, reason) VALUES(?,?,?,?)",
                              (cur.lastrowid, m, v, None))
    finally:
        c.close()
    return ids


def fixture(a):
    """A spread of rows; returns their ids by name."""
    names = ["q_old", "q_new", "running", "done_a", "done_b", "failed_a", "failed_old", "done_old"]
    rows = [
        {"status": "queued", "question": "queued old", "created_at": "2026-01-10T00:00:00.000Z", "dataset": "alpha"},
        {"status": "queued", "question": "queued new", "not_before": 99999999999999, "attempts": 2,
         "last_error": "backing off"},
        {"status": "running", "question": "running one", "lease_owner": "w1", "lease_until": 99999999999999,
         "attempts": 1, "created_at": "2026-01-01T00:00:00.000Z"},
        {"status": "done", "question": TRICKY, "dataset": "alpha", "ground_truth": "1889",
         "metrics": json.dumps(["bleu_score", "token_f1"]), "reference_contexts": json.dumps(["ref, \"one\""]),
         "scores": {"bleu_score": 0.25, "token_f1": 0.5}},
        {"status": "done", "question": "done b", "dataset": "beta", "scores": {"bleu_score": 0.75, "token_f1": None}},
        {"status": "failed", "question": "failed a", "dataset": "alpha", "attempts": 3, "last_error": "judge down"},
        {"status": "failed", "question": "failed old", "dataset": "beta", "attempts": 3, "last_error": "x",
         "created_at": "2025-12-01T00:00:00.000Z"},
        {"status": "done", "question": "done old", "dataset": "beta", "created_at": "2025-12-02T12:00:00.000Z",
         "scores": {"bleu_score": 0.1}},
    ]
    return dict(zip(names, insert(a, rows)))


def test_help(a):
    rc, out, err = a.admin("--help")
    tap.ok(rc == 0 and out.startswith("usage: ragrade admin") and all(c in out for c in COMMANDS),
           "admin --help lists every command, exit 0", out + err)
    rc, out, err = a.admin()
    tap.ok(rc == 2 and "usage: ragrade admin" in err and out == "", "admin with no command: usage on stderr, exit 2", (rc, err))
    rc, out, err = a.admin("frobnicate")
    tap.ok(rc == 2 and "frobnicate" in err, "an unknown command is named, exit 2", (rc, err))
    for c in COMMANDS:
        rc, out, err = a.admin(c, "--help")
        tap.ok(rc == 0 and out.startswith("usage: ragrade admin") and f" {c}" in out.splitlines()[0] and err == "",
               f"admin {c} --help: its usage on stdout, exit 0", (rc, out, err))
        rc2, out2, _ = a.admin("help", c)
        tap.ok(rc2 == 0 and out2 == out, f"admin help {c} prints the same", out2)
    rc, out, err = a.admin("--help", "purge")
    tap.ok(rc == 0 and "--before DATE" in out, "admin --help purge gives purge's help", out)
    rc, out, err = a.admin("stats", "--bogus")
    tap.ok(rc == 2 and "bogus" in err and "usage: ragrade admin stats" in err, "an unknown option: exit 2", (rc, err))


def test_missing_db(a):
    rc, out, err = a.admin("stats", "--db", os.path.join(a.data, "nope.db"))
    tap.ok(rc == 1 and "nope.db" in err and "ragrade migrate" in err and not os.path.exists(os.path.join(a.data, "nope.db")),
           "a missing database: exit 1, named, with a hint, and not created", (rc, err))


def test_stats(a, ids):
    counts = dict(a.query("SELECT status, count(*) FROM evaluations GROUP BY status"))
    rc, out, err = a.admin("stats", "--json")
    s = json.loads(out) if rc == 0 else {}
    tap.eq(s.get("counts"), {k: counts.get(k, 0) for k in ("queued", "running", "done", "failed")},
           "stats --json: counts per status match the table")
    tap.eq(s.get("oldest_queued"), a.one("SELECT min(created_at) FROM evaluations WHERE status = 'queued'"),
           "stats --json: oldest queued row")
    bleu = [r[0] for r in a.query("SELECT s.score FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id"
                                   " WHERE e.status = 'done' AND s.metric = 'bleu_score'")]
    m = s.get("metrics", {}).get("token_f1", {})
    tap.ok(abs(s.get("metrics", {}).get("bleu_score", {}).get("mean", -1) - sum(bleu) / len(bleu)) < 1e-9
           and m.get("n") == 2 and m.get("nulls") == 1, "stats --json: per-metric mean, n and nulls", s.get("metrics"))
    rc, out, err = a.admin("stats")
    total = sum(counts.values())
    tap.ok(rc == 0 and f"queued {counts['queued']}," in out and f"total {total}" in out
           and "2026-01-10T00:00:00.000Z" in out and f"{sum(bleu) / len(bleu):.4f}" in out,
           "stats: counts, oldest queued row and metric mean as text", out + err)
    rc, out, err = a.admin("stats", "--dataset", "beta", "--json")
    s = json.loads(out) if rc == 0 else {}
    tap.eq(s.get("counts"), {"queued": 0, "running": 0, "done": 2, "failed": 1}, "stats --dataset: only that dataset")


def test_list(a, ids):
    all_ids = [r[0] for r in a.query("SELECT id FROM evaluations ORDER BY id DESC")]
    rc, out, err = a.admin("list")
    lines = out.splitlines()
    got = [int(l.split()[0]) for l in lines[1:]]
    tap.ok(rc == 0 and lines[0].split()[:3] == ["ID", "STATUS", "ATT"] and got == all_ids,
           "list: a header and every row, newest first", out + err)
    tricky = [l for l in lines if l.split()[0] == str(ids["done_a"])]
    tap.ok(len(tricky) == 1 and "\n" not in tricky[0] and "Which" in tricky[0], "list keeps each row on one line", out)
    rc, out, err = a.admin("list", "--status", "failed")
    got = [int(l.split()[0]) for l in out.splitlines()[1:]]
    tap.eq(got, [ids["failed_old"], ids["failed_a"]], "list --status failed")
    rc, out, err = a.admin("list", "--dataset", "beta", "--status", "done")
    got = [int(l.split()[0]) for l in out.splitlines()[1:]]
    tap.eq(got, [ids["done_old"], ids["done_b"]], "list --dataset beta --status done")
    rc, out, err = a.admin("list", "--limit", "3")
    got = [int(l.split()[0]) for l in out.splitlines()[1:]]
    tap.ok(got == all_ids[:3] and f"--before {all_ids[2]}" in err, "list --limit 3, and where the next page starts", err)
    rc, out, err = a.admin("list", "--limit", "3", "--before", str(all_ids[2]), "--json")
    page = json.loads(out) if rc == 0 else {}
    tap.eq([i["id"] for i in page.get("items", [])], all_ids[3:6], "list --before --json: the next page")
    for bad in (["--status", "nope"], ["--limit", "0"], ["--limit", "x"], ["--before", "-3"], ["extra"]):
        rc, out, err = a.admin("list", *bad)
        tap.ok(rc == 2 and out == "" and err.startswith("ragrade admin list:"), f"list {' '.join(bad)}: exit 2", (rc, err))


def test_show(a, ids):
    rc, out, err = a.admin("show", str(ids["done_a"]))
    o = json.loads(out) if rc == 0 else {}
    tap.ok(o.get("id") == ids["done_a"] and o.get("question") == TRICKY and o.get("scores") == {"bleu_score": 0.25, "token_f1": 0.5}
           and out.count("\n") > 10, "show: the row as pretty JSON with scores", out + err)
    rc, out, err = a.admin("show", "999999")
    tap.ok(rc == 1 and "999999" in err and out == "", "show of a missing id: exit 1, named", (rc, err))
    for bad in ([], ["abc"], ["1", "2"]):
        rc, out, err = a.admin("show", *bad)
        tap.eq(rc, 2, f"show {' '.join(bad) or '(nothing)'}: exit 2")


def test_export(a, ids):
    rc, out, err = a.admin("export")
    lines = out.splitlines()
    objs = [json.loads(l) for l in lines] if rc == 0 else []
    tap.ok(rc == 0 and [o["id"] for o in objs] == sorted(ids.values()), "export: one JSON line per row, oldest first", out + err)
    tap.ok(all(set(o) <= ROW_FIELDS for o in objs), "export: only fields the row parser accepts",
           [set(o) - ROW_FIELDS for o in objs])
    d = next((o for o in objs if o["id"] == ids["done_a"]), {})
    tap.ok(d.get("question") == TRICKY and d.get("metrics") == ["bleu_score", "token_f1"]
           and d.get("reference_contexts") == ['ref, "one"'] and d.get("dataset") == "alpha" and d.get("ground_truth") == "1889",
           "export: text, arrays and dataset survive", d)
    rc, out, err = a.admin("export", "--dataset", "beta", "--status", "done")
    tap.eq([json.loads(l)["id"] for l in out.splitlines()], [ids["done_b"], ids["done_old"]], "export --dataset --status")
    # The lines go back in: `ragrade eval` scores every one, no row rejected.
    rc, out2, err2 = a.run("eval", "-", stdin=out)
    tap.ok(rc == 0 and "2 rows, 0 errors" in err2 and "error" not in out2, "ragrade eval accepts the exported lines", (rc, out2, err2))
    rc, out, err = a.admin("export", "--with-scores", "--status", "done")
    objs = [json.loads(l) for l in out.splitlines()]
    tap.ok(rc == 0 and all("scores" in o and o["status"] == "done" for o in objs)
           and next(o for o in objs if o["id"] == ids["done_b"])["scores"] == {"bleu_score": 0.75, "token_f1": None},
           "export --with-scores adds status and scores", out)
    rc, out2, err2 = a.run("eval", "-", stdin=out)
    tap.ok(rc != 0 and "not a field of an evaluation row" in out2, "--with-scores lines are refused by ragrade eval, as documented", (rc, out2, err2))
    p = subprocess.run([BIN, "admin", "export", "--format", "csv"], env=a.env, capture_output=True, timeout=120)
    rc, out = p.returncode, p.stdout.decode("utf-8")
    tap.ok(rc == 0 and out.count("\r\n") >= len(ids) + 1 and out.endswith("\r\n"), "export --format csv: CRLF records",
           repr(out[:200]))
    recs = list(csv.reader(io.StringIO(out, newline="")))
    head = recs[0] if recs else []
    tap.ok(head[:6] == ["id", "created_at", "status", "dataset", "question", "answer"] and head[-2:] == ["bleu_score", "token_f1"],
           "csv: the row's columns, then one column per metric", head)
    by_id = {int(r[0]): dict(zip(head, r)) for r in recs[1:]}
    tap.ok(len(by_id) == len(ids) and by_id[ids["done_a"]]["question"] == TRICKY
           and json.loads(by_id[ids["done_a"]]["contexts"]) == ["The Eiffel Tower was built from 1887 to 1889."],
           "csv: quoting keeps commas, quotes and newlines", by_id.get(ids["done_a"]))
    tap.ok(by_id[ids["done_b"]]["bleu_score"] == "0.75" and by_id[ids["done_b"]]["token_f1"] == ""
           and by_id[ids["done_old"]]["token_f1"] == "" and by_id[ids["running"]]["bleu_score"] == "",
           "csv: scores, empty for null or none", {k: by_id[ids[k]] for k in ("done_b", "done_old")})
    for bad in (["--format", "xml"], ["--status", "gone"], ["--format", "csv", "--with-scores"]):
        rc, out, err = a.admin("export", *bad)
        tap.ok(rc == 2 and out == "", f"export {' '.join(bad)}: exit 2", (rc, err))


def row(a, i):
    c = sqlite3.connect(a.db)
    c.row_factory = sqlite3.Row
    try:
        return dict(c.execute("SELECT * FROM evaluations WHERE id = ?", (i,)).fetchone())
    finally:
        c.close()


def test_cancel(a, ids):
    rc, out, err = a.admin("cancel", str(ids["q_old"]))
    r = row(a, ids["q_old"])
    tap.ok(rc == 0 and r["status"] == "failed" and r["last_error"] == "cancelled by admin" and r["finished_at"],
           "cancel: a queued row fails with 'cancelled by admin'", (rc, out, err, r))
    before = row(a, ids["running"])
    rc, out, err = a.admin("cancel", str(ids["running"]))
    tap.ok(rc == 1 and "running" in err and row(a, ids["running"]) == before, "cancel of a running row: refused, exit 1, untouched", (rc, err))
    rc, out, err = a.admin("cancel", str(ids["done_b"]))
    tap.ok(rc == 1 and "done" in err and row(a, ids["done_b"])["status"] == "done", "cancel of a done row: refused, exit 1", (rc, err))
    rc, out, err = a.admin("cancel", "424242")
    tap.ok(rc == 1 and "424242" in err, "cancel of a missing id: exit 1", (rc, err))


def test_requeue(a, ids):
    rc, out, err = a.admin("requeue", str(ids["done_a"]))
    r = row(a, ids["done_a"])
    tap.ok(rc == 0 and r["status"] == "queued" and r["attempts"] == 0 and r["not_before"] == 0 and r["last_error"] is None
           and a.one("SELECT count(*) FROM evaluation_scores WHERE evaluation_id = ?", (ids["done_a"],)) == 0,
           "requeue ID: queued, attempts 0, no backoff or error, old scores gone", (rc, err, r))
    rc, out, err = a.admin("requeue", str(ids["q_new"]))
    r = row(a, ids["q_new"])
    tap.ok(rc == 0 and r["status"] == "queued" and r["attempts"] == 0 and r["not_before"] == 0 and r["last_error"] is None,
           "requeue of a queued row in backoff: due now, attempts 0", r)
    before = row(a, ids["running"])
    rc, out, err = a.admin("requeue", str(ids["running"]))
    tap.ok(rc == 1 and "running" in err and row(a, ids["running"]) == before, "requeue of a running row: refused, untouched", (rc, err))
    rc, out, err = a.admin("requeue", "777777")
    tap.ok(rc == 1 and "777777" in err, "requeue of a missing id: exit 1", (rc, err))
    failed = [r[0] for r in a.query("SELECT id FROM evaluations WHERE status = 'failed'")]
    rc, out, err = a.admin("requeue", "--failed", "--dataset", "alpha")
    alpha_failed = [i for i in failed if row(a, i)["dataset"] == "alpha"]
    tap.ok(rc == 0 and out.strip() == f"requeued {len(alpha_failed)} evaluation{'s' if len(alpha_failed) != 1 else ''}"
           and all(row(a, i)["status"] == "queued" for i in alpha_failed)
           and all(row(a, i)["status"] == "failed" for i in failed if i not in alpha_failed),
           "requeue --failed --dataset alpha: just those", (out, err))
    rc, out, err = a.admin("requeue", "--dataset", "beta")
    tap.ok(rc == 0 and all(row(a, ids[k])["status"] == "queued" for k in ("done_b", "done_old", "failed_old")),
           "requeue --dataset beta: its done and failed rows", (out, err))
    for bad in ([], ["1", "--failed"], ["x"]):
        rc, out, err = a.admin("requeue", *bad)
        tap.eq(rc, 2, f"requeue {' '.join(bad) or '(nothing)'}: exit 2")


def test_purge(a):
    old = [("2025-06-01T00:00:00.000Z", "done"), ("2025-06-02T00:00:00.000Z", "failed"), ("2025-06-03T00:00:00.000Z", "queued"),
           ("2025-06-04T00:00:00.000Z", "running"), ("2025-07-01T00:00:00.000Z", "done")]
    pids = insert(a, [{"status": s, "created_at": t, "question": "purge me", "dataset": "old",
                       "scores": {"bleu_score": 0.5} if s == "done" else {}} for t, s in old])
    rc, out, err = a.admin("purge", "--before", "2025-06-30", "--dataset", "old", "--dry-run")
    tap.ok(rc == 0 and "would purge 2 " in out and len(a.query("SELECT id FROM evaluations WHERE dataset = 'old'")) == 5,
           "purge --dry-run counts and deletes nothing", out + err)
    rc, out, err = a.admin("purge", "--dataset", "old", "--before", "2025-06-30T00:00:00+02:00")
    left = [r[0] for r in a.query("SELECT id FROM evaluations WHERE dataset = 'old' ORDER BY id")]
    tap.ok(rc == 0 and out.startswith("purged 2 evaluations created before 2025-06-29T22:00:00.000Z") and left == pids[2:],
           "purge: done and failed rows before the date; queued, running and newer kept", (out, err, left))
    tap.eq(a.one("SELECT count(*) FROM evaluation_scores WHERE evaluation_id = ?", (pids[0],)), 0, "purge: scores cascade")
    for bad in ([], ["--before", "yesterday"], ["--before", "2025-02-30"], ["--before", "2025-01-01", "x"]):
        rc, out, err = a.admin("purge", *bad)
        tap.ok(rc == 2 and "before" in err.lower() + " ".join(bad), f"purge {' '.join(bad) or '(nothing)'}: exit 2", (rc, err))


def test_backup_check(a):
    dst = os.path.join(a.data, "copy.db")
    rc, out, err = a.admin("backup", dst)
    ok = rc == 0 and "integrity_check  ok" in out and os.path.exists(dst)
    n = sqlite3.connect(dst).execute("SELECT count(*) FROM evaluations").fetchone()[0] if ok else -1
    tap.ok(ok and n == a.one("SELECT count(*) FROM evaluations") and oct(os.stat(dst).st_mode & 0o777) == "0o640",
           "backup: a checked copy with every row, mode 0640", (rc, out, err))
    tap.ok(not os.path.exists(dst + "-wal") and not os.path.exists(dst + "-shm"), "backup: one self-contained file",
           os.listdir(a.data))
    rc, out, err = a.admin("backup", dst)
    tap.ok(rc == 1 and "--force" in err, "backup onto an existing file: refused without --force", (rc, err))
    insert(a, [{"status": "queued", "question": "after the first backup"}])
    rc, out, err = a.admin("backup", "--force", dst)
    n = sqlite3.connect(dst).execute("SELECT count(*) FROM evaluations").fetchone()[0] if rc == 0 else -1
    tap.ok(rc == 0 and n == a.one("SELECT count(*) FROM evaluations"), "backup --force overwrites", (rc, out, err))
    rc, out, err = a.admin("backup", "--force", a.db)
    tap.ok(rc == 1 and "itself" in err and a.one("SELECT count(*) FROM evaluations") > 0,
           "backup onto the database itself: refused", (rc, err))
    rc, out, err = a.admin("check")
    ver = re.search(r"schema version   (\d+) \(this ragrade: (\d+)\) ok", out)
    tap.ok(rc == 0 and ver and ver.group(1) == ver.group(2) and
           all(k in out for k in ("integrity_check  ok", "quick_check      ok", "journal mode     wal ok")),
           "check: all ok, exit 0", out + err)
    # A copy that is not in WAL mode and has a newer schema fails the check.
    bad = os.path.join(a.data, "bad.db")
    shutil.copy(dst, bad)
    c = sqlite3.connect(bad)
    c.execute("PRAGMA journal_mode = DELETE")
    c.execute("PRAGMA user_version = 99")
    c.close()
    rc, out, err = a.admin("check", "--db", bad)
    tap.ok(rc == 1 and "journal mode     delete FAILED" in out and "newer" in out, "check of a bad database: exit 1, says why", out + err)


def test_config(a):
    rc, out, err = a.admin("config")
    tap.ok(rc == 0 and "limits.max_body = 1048576" in out and f"server.data_dir = {a.data}" in out
           and f"server.database = {a.db}" in out, "config: every key with its effective value", out + err)
    rc, out, err = a.admin("config", "limits.max_body", env={"RAGRADE_LIMITS_MAX_BODY": "2m"})
    tap.eq((rc, out), (0, "2097152\n"), "config KEY: the value alone, environment applied")
    cfg = os.path.join(a.data, "x.conf")
    key = os.path.join(a.data, "key")
    with open(key, "w") as f:
        f.write("sk-very-secret-1234\n")
    with open(cfg, "w") as f:
        f.write(f"[limits]\nmax_batch = 7\n[judge]\napi_key_file = {key}\n")
    rc, out, err = a.admin("--config", cfg, "config", "limits.max_batch")
    tap.eq((rc, out), (0, "7\n"), "--config before the command")
    rc, out, err = a.admin("config", "--config", cfg)
    tap.ok(rc == 0 and "limits.max_batch = 7" in out and key in out and "sk-very-secret" not in out + err,
           "--config after the command; the API key itself is never printed", out)
    rc, out, err = a.admin("config", "nope.nothing")
    tap.ok(rc == 2 and "nope.nothing" in err, "config of an unknown key: exit 2", (rc, err))
    rc, out, err = a.admin("config", "--config", os.path.join(a.data, "missing.conf"))
    tap.ok(rc == 2 and "missing.conf" in err, "an unreadable --config: exit 2, named", (rc, err))
    other = os.path.join(a.data, "other.db")
    shutil.copy(a.db, other)
    for args in (["--db", other, "config", "server.database"], ["config", "server.database", "--db=" + other]):
        rc, out, err = a.admin(*args)
        tap.eq(out, other + "\n", f"--db in {' '.join(args[:1] + args[2:3])} position")


def test_live(a_unused):
    """With nginx: the export goes back through POST /api/eval, and admin
    reads and writes while the pool runs."""
    from harness import NGINX, ROW, Server
    if not os.access(NGINX, os.X_OK):
        tap.diag(f"no nginx at {NGINX}: live checks skipped")
        return
    with Server(workers=1, threads=4) as s:
        a = Admin(s.data)
        r = s.post("/api/eval", dict(ROW, dataset="live", metrics=["token_f1"]))
        tap.eq(r.status, 202, "live: a row submitted")
        s.wait_status([r.json()["id"]], ("done",))
        rc, out, err = a.admin("export", "--dataset", "live")
        line = out.splitlines()[0] if rc == 0 and out else "{}"
        r2 = s.post("/api/eval", line, headers={"Content-Type": "application/json"})
        tap.ok(r2.status == 202, "live: POST /api/eval accepts an exported line", r2)
        rc, out, err = a.admin("requeue", str(r.json()["id"]))
        tap.eq(rc, 0, "live: requeue while the pool runs")
        s.wait_status([r.json()["id"], r2.json()["id"]], ("done",))
        rc, out, err = a.admin("stats", "--dataset", "live", "--json")
        tap.ok(rc == 0 and json.loads(out)["counts"]["done"] == 2, "live: stats sees both rows done", out + err)
        rc, out, err = a.admin("check")
        tap.eq(rc, 0, "live: check passes while the pool runs")


def main():
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-admin-t-")
    try:
        a = Admin(tmp.name)
        test_help(a)
        rc, out, err = a.run("migrate")
        if not tap.ok(rc == 0, "ragrade migrate", err):
            return
        test_missing_db(a)
        ids = fixture(a)
        test_stats(a, ids)
        test_list(a, ids)
        test_show(a, ids)
        test_export(a, ids)
        test_cancel(a, ids)
        test_requeue(a, ids)
        test_purge(a)
        test_backup_check(a)
        test_config(a)
        test_live(a)
    finally:
        tmp.cleanup()


tap.run(main)
