"""Criteria (issue 15) end to end with the fake LLM: the /api/criteria
routes (admin writes, 400 naming the field, 409 for the file's criteria),
a critic's majority vote (split and unanimous), a rubric reply outside the
scale (repaired, then null), missing inputs, versions kept apart across an
edit, a criterion deleted while rows that name it wait, context_relevance's
formula and edge cases on scripted ratings, and the "triad" set.

One worker and max_concurrency 1: the judge's calls come in a known order,
so scripted replies (fakellm faults, taken in order) land on the sample or
rating they are meant for."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import BIN, ROW, FakeLLM, Server, wait_for  # noqa: E402

ADMIN = "criteria-admin-token"
AUTH = {"Authorization": "Bearer " + ADMIN}
CONFIG = """
[criterion from_file]
kind = critic
definition = Does the answer name a year?
inputs = question, answer
"""


def eq(got, want, name, diag=None):
    tap.ok(got == want, name, {"got": got, "want": want, "diag": diag})


def put(s, name, body, auth=True):
    return s.request("PUT", "/api/criteria/" + name, body=body, headers=AUTH if auth else {})


def run(s, row, timeout=30):
    """Submit one row and wait for it; its GET body."""
    r = s.post("/api/eval", row)
    eq(r.status, 202, "row accepted", r.json())
    rid = r.json().get("id")
    s.wait_status([rid], ("done", "failed"), timeout)
    return s.get(f"/api/eval/{rid}").json()


def reason(j, m):
    x = (j.get("reasons") or {}).get(m)
    return x if isinstance(x, (dict, list)) else json.loads(x) if isinstance(x, str) and x[:1] in "{[" else x


def check_api(s):
    r = put(s, "polite", {"kind": "critic", "definition": "Is the answer polite?", "samples": 3})
    eq(r.status, 201, "PUT a new critic: 201", r.json())
    v1 = r.json().get("version", "")
    tap.ok(len(v1) == 16, "the answer carries its 16-digit version", r.json())
    r = put(s, "polite", {"kind": "critic", "definition": "Is the answer polite?", "samples": 3})
    eq((r.status, r.json().get("version")), (200, v1), "the same PUT again: 200, same version")
    eq(put(s, "polite", {"kind": "critic", "definition": "x"}, auth=False).status, 401,
           "PUT without the admin token: 401")
    r = put(s, "bad", {"kind": "vote", "definition": "x"})
    eq((r.status, r.json()["error"].get("field")), (400, "kind"), "an unknown kind: 400 naming kind")
    r = put(s, "bad", {"kind": "rubric", "definition": "x",
                       "levels": [{"score": 2, "description": "a"}, {"score": 1, "description": "b"}]})
    tap.ok(r.status == 400 and r.json()["error"].get("field", "").startswith("levels"),
           "levels not increasing: 400 naming the level", r.json())
    r = put(s, "bad", {"kind": "critic", "definition": ""})
    eq((r.status, r.json()["error"].get("field")), (400, "definition"), "an empty definition: 400")
    r = put(s, "faithfulness", {"kind": "critic", "definition": "x"})
    eq((r.status, r.json()["error"].get("field")), (400, "name"), "a built-in's name: 400 naming name")
    eq(put(s, "from_file", {"kind": "critic", "definition": "x"}).status, 409,
           "PUT over a criterion of the configuration file: 409")
    eq(s.request("DELETE", "/api/criteria/from_file", headers=AUTH).status, 409,
           "DELETE of a criterion of the configuration file: 409")
    lst = s.get("/api/criteria").json().get("criteria", [])
    got = {c["name"]: (c["kind"], c.get("source")) for c in lst}
    eq(got, {"from_file": ("critic", "config"), "polite": ("critic", "api")},
           "GET /api/criteria lists the file's and the API's criteria", lst)
    eq(s.get("/api/criteria/polite").json().get("version"), v1, "GET one shows its version")
    eq(s.get("/api/criteria/nope").status, 404, "GET of an unknown name: 404")


def check_votes(s, f):
    f.control(reset=True, faults=[{"match": "critic", "mode": "reply", "content": {"reason": r, "verdict": v}}
                                  for r, v in (("yes a", 1), ("no b", 0), ("yes c", 1))])
    j = run(s, dict(ROW, metrics=["polite"]))
    why = reason(j, "polite")
    eq(j["scores"].get("polite"), 1, "a 2-1 split: the majority, 1", why)
    tap.ok(isinstance(why, dict) and why.get("yes") == 2 and why.get("no") == 1 and
           len(why.get("samples", [])) == 3, "the reason keeps every sample's verdict", why)
    temps = [x["body"].get("temperature") for x in f.stats()["last"] if x["kind"] == "critic"]
    tap.ok(len(temps) >= 3 and all(t and t > 0 for t in temps[-3:]),
           "three samples at a non-zero temperature", temps)
    f.control(reset=True, faults=[{"match": "critic", "mode": "reply", "content": {"reason": "no", "verdict": 0},
                                   "count": 3}])
    j = run(s, dict(ROW, metrics=["polite"]))
    eq((j["scores"].get("polite"), reason(j, "polite").get("no")), (0, 3), "unanimous no: 0, 3 noes")
    tap.ok(len((j.get("versions") or {}).get("polite", "")) == 16, "GET /api/eval/{id} shows the version", j)


def check_rubric(s, f):
    levels = [{"score": i, "description": f"level {i}"} for i in (1, 2, 3)]
    put(s, "support", {"kind": "rubric", "definition": "How well do the contexts support the answer?",
                       "levels": levels, "inputs": ["answer", "contexts"]})
    bad = {"match": "rubric", "mode": "reply", "content": {"score": 7, "reason": "off the scale"}}
    f.control(reset=True, faults=[bad])
    j = run(s, dict(ROW, metrics=["support"]))
    eq(j["scores"].get("support"), 3, "a score off the scale is repaired (then level 3)", reason(j, "support"))
    f.control(reset=True, faults=[dict(bad, count=-1)])
    j = run(s, dict(ROW, metrics=["support"]))
    tap.ok(j["scores"].get("support") is None and "repair" in json.dumps(reason(j, "support")),
           "off the scale every time: null with the reason", reason(j, "support"))
    f.control(reset=True)
    put(s, "all_inputs", {"kind": "critic", "definition": "Is everything consistent?",
                          "inputs": ["question", "answer", "contexts", "ground_truth"]})
    no_gt = {k: v for k, v in ROW.items() if k != "ground_truth"}
    j = run(s, dict(no_gt, metrics=["all_inputs"]))
    tap.ok(j["scores"].get("all_inputs") is None and "ground truth" in str(reason(j, "all_inputs")),
           "no ground truth: null, needs a ground truth", reason(j, "all_inputs"))
    j = run(s, dict(ROW, contexts=[], metrics=["all_inputs"]))
    tap.ok(j["scores"].get("all_inputs") is None and "context" in str(reason(j, "all_inputs")),
           "no contexts: null, needs a context", reason(j, "all_inputs"))


def check_judge_named(s, f):
    f.control(reset=True)
    put(s, "strong_only", {"kind": "critic", "definition": "Is it right?", "judge": "strong"})
    j = run(s, dict(ROW, metrics=["strong_only", "token_f1"]))
    tap.ok(j["scores"].get("strong_only") is None and "profile" in str(reason(j, "strong_only")) and
           j["scores"].get("token_f1") is not None,
           "a criterion naming a judge profile is null with the reason, the rest is scored",
           j.get("reasons"))


def check_versions(s, f):
    f.control(reset=True)
    levels = [{"score": i, "description": f"level {i}"} for i in (1, 2, 3, 4)]
    v1 = put(s, "tone", {"kind": "rubric", "definition": "Is the tone right for a bank?",
                         "levels": levels}).json()["version"]
    f.control(reset=True, faults=[{"match": "rubric", "mode": "reply", "content": {"score": 2, "reason": "fair"}}])
    run(s, dict(ROW, dataset="ver", run="r1", metrics=["tone"]))
    f.control(reset=True)
    v2 = put(s, "tone", {"kind": "rubric", "definition": "Is the tone right for a bank? Be strict.",
                         "levels": levels}).json()["version"]
    tap.ok(v1 != v2, "an edit gives a new version", (v1, v2))
    j = run(s, dict(ROW, dataset="ver", run="r1", metrics=["tone"]))
    eq((j.get("versions") or {}).get("tone"), v2, "the new row carries the new version")
    m = s.get("/api/summary?dataset=ver").json().get("metrics", {})
    eq(sorted(k for k in m if k.startswith("tone")), sorted([f"tone@{v1}", f"tone@{v2}"]),
           "the summary keeps the two versions apart", m)
    eq([m.get(f"tone@{v}", {}).get("n") for v in (v1, v2)], [1, 1], "one row in each version")
    old = m.get(f"tone@{v1}", {})
    eq((old.get("mean"), round(old.get("normalised_mean", -1), 12)), (2, round(1 / 3, 12)),
       "level 2 on a 1-4 scale: mean 2, normalised (2 - 1) / (4 - 1)", old)
    tap.ok("tone" not in m and old.get("ci_method") == "none" and old.get("metric") == "tone",
           "no mixed 'tone' key; each version its own interval fields", m)
    r = s.get("/api/summary?dataset=ver&run=r1").json().get("metrics", {})
    eq(sorted(k for k in r if k.startswith("tone")), sorted([f"tone@{v1}", f"tone@{v2}"]),
       "the summary of a run (read from its rows) keeps the two versions apart too", r)
    eq([(r.get(f"tone@{v}", {}).get("n"), r.get(f"tone@{v}", {}).get("version")) for v in (v1, v2)],
       [(1, v1), (1, v2)], "one row in each version, by run")
    eq(round(r.get(f"tone@{v1}", {}).get("normalised_mean", -1), 12), round(1 / 3, 12),
       "by run: normalised (2 - 1) / (4 - 1)", r.get(f"tone@{v1}"))
    rows = s.query("SELECT count(*) FROM criterion_versions WHERE name = 'tone'")
    eq(rows[0][0], 2, "criterion_versions holds both definitions")
    rows = s.query("SELECT count(*) FROM criterion_versions WHERE name = 'from_file'")
    eq(rows[0][0], 1, "the configuration's criterion has its version recorded")


def check_deleted(s, f):
    put(s, "doomed", {"kind": "critic", "definition": "Is it doomed?"})
    f.control(reset=True, faults=[{"match": "critic", "mode": "hang"}])
    ids = [s.post("/api/eval", dict(ROW, metrics=["doomed"])).json()["id"] for _ in range(3)]
    wait_for(lambda: f.stats()["by_kind"].get("critic", 0) >= 1, 20, "the first row's call")
    eq(s.request("DELETE", "/api/criteria/doomed", headers=AUTH).status, 204, "DELETE: 204")
    eq(s.get("/api/criteria/doomed").status, 404, "gone from the API at once")
    f.control(release=True)
    s.wait_status(ids, ("done", "failed"), 60)
    last = s.get(f"/api/eval/{ids[-1]}").json()
    tap.ok(last["status"] == "done" and last["scores"].get("doomed") is None and
           "deleted" in str(reason(last, "doomed")),
           "a row that waited ends done with null and the reason", (last["status"], reason(last, "doomed")))


def check_ctx_relevance(s, f):
    def rated(ratings, row=ROW):
        f.control(reset=True, faults=[
            {"match": "ctx_relevance", "mode": "reply", "content": {"rating": r}} if r is not None
            else {"match": "ctx_relevance", "mode": "wrong_schema", "count": 3} for r in ratings])
        j = run(s, dict(row, metrics=["context_relevance"]))
        return j["scores"].get("context_relevance"), reason(j, "context_relevance"), \
            f.stats()["by_kind"].get("ctx_relevance", 0)
    # the oracle: ragas's (r1 / 2 + r2 / 2) / 2
    for r1, r2 in ((2, 1), (0, 2), (2, 2), (0, 0)):
        got, why, _ = rated([r1, r2])
        tap.ok(got is not None and abs(got - (r1 / 2 + r2 / 2) / 2) < 1e-12,
               f"ratings {r1} and {r2}: {(r1 / 2 + r2 / 2) / 2}", (got, why))
    got, why, _ = rated([2, None])
    eq(got, 1.0, "the second rating fails: the first alone", why)
    got, why, _ = rated([None])
    tap.ok(got is None and "first rating" in str(why), "the first rating fails: null", why)
    got, why, calls = rated([], dict(ROW, contexts=[ROW["question"]]))
    eq((got, calls), (0, 0), "contexts equal to the question: 0 without a call", why)
    got, why, calls = rated([], dict(ROW, contexts=["   "]))
    eq((got, calls), (0, 0), "blank contexts: 0 without a call", why)


def check_triad(s, f):
    f.control(reset=True)
    no_gt = {k: v for k, v in ROW.items() if k != "ground_truth"}
    j = run(s, dict(no_gt, metrics=["triad"]))
    eq(sorted(j.get("scores", {})), ["answer_relevancy", "context_relevance", "faithfulness"],
           "metrics [\"triad\"] gives the reference-free triad", j.get("scores"))


def check_offline(f, cfg):
    """ragrade eval reads the same [criterion NAME] sections."""
    f.control(reset=True)
    with tempfile.TemporaryDirectory(prefix="ragrade-crit-") as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGRADE_") or k == "RAGRADE_SRCDIR"}
        env.update(f.env(RAGRADE_DATA=d, RAGRADE_JUDGE_CACHE="0"))
        line = json.dumps(dict(ROW, metrics=["from_file", "context_relevance"])) + "\n"
        p = subprocess.run([BIN, "eval", "--config", cfg, "-"], input=line, capture_output=True,
                           text=True, env=env, timeout=120)
        out = json.loads(p.stdout.splitlines()[0]) if p.returncode == 0 and p.stdout.strip() else {}
        ok = out.get("scores", {}).get("from_file") == 1 and len(out.get("versions", {}).get("from_file", "")) == 16
        tap.ok(ok and "context_relevance" in out.get("scores", {}),
               "ragrade eval --config scores the file's criterion with its version", (p.returncode, p.stdout, p.stderr))
        p = subprocess.run([BIN, "eval", "-"], input=line, capture_output=True, text=True, env=env, timeout=120)
        tap.ok("from_file" in p.stdout + p.stderr and '"scores"' not in p.stdout,
               "without the file the criterion is an unknown metric", (p.returncode, p.stdout, p.stderr))


def main():
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as cfg:
        cfg.write(CONFIG)
    try:
        with FakeLLM() as f:
            env = f.env(RAGRADE_JUDGE_MAX_CONCURRENCY="1", RAGRADE_JUDGE_MAX_REPAIRS="1",
                        RAGRADE_JUDGE_CACHE="0",
                        RAGRADE_AUTH_ADMIN_TOKENS="sha256:" + hashlib.sha256(ADMIN.encode()).hexdigest())
            with Server(env=env, workers=1, threads=4, args=["--config", cfg.name]) as s:
                check_api(s)
                check_votes(s, f)
                check_rubric(s, f)
                check_versions(s, f)
                check_ctx_relevance(s, f)
                check_triad(s, f)
                check_judge_named(s, f)
                check_deleted(s, f)
            check_offline(f, cfg.name)
    finally:
        os.unlink(cfg.name)


tap.run(main)
