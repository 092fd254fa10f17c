"""Judge profiles (issue 15) end to end with two fake LLMs: the default
[judge] on one, [judge strong] on the other, [judge down] on a closed
port. Metrics go to the endpoint their profile names, by
judge.metric_judges, by a criterion's judge and by the row's "judge"; the
down profile nulls only its metrics while the others are scored; calls to
a profile stay within its max_concurrency across the pool; /api/health
lists every profile with its state; an unknown profile in a row is a 400
naming judge."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, FakeLLM, Server, free_port, wait_for  # noqa: E402

CONFIG = """
[judge]
backend = openai
url = {a}
model = judge-model
embedding_model = embed-model
max_concurrency = 8
backoff_max_ms = 60000
metric_judges = correctness:strong, context_recall:down

[judge strong]
url = {b}
max_concurrency = 2

[judge down]
url = http://127.0.0.1:{closed}
init_timeout_ms = 2000
max_retries = 0

[criterion strong_critic]
kind = critic
definition = Is the answer correct?
inputs = question, answer
judge = strong
"""


def eq(got, want, name, diag=None):
    tap.ok(got == want, name, {"got": got, "want": want, "diag": diag})


def kinds(f):
    return dict(f.stats().get("by_kind") or {})


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def run(s, row, timeout=30):
    r = s.post("/api/eval", row)
    eq(r.status, 202, "row accepted", r.json())
    rid = r.json().get("id")
    s.wait_status([rid], ("done", "failed"), timeout)
    return s.get(f"/api/eval/{rid}").json()


def profiles(s):
    return {p["name"]: p for p in (s.get("/api/health").json().get("judge") or {}).get("profiles") or []}


def main():
    with FakeLLM() as a, FakeLLM() as b, tempfile.NamedTemporaryFile("w", suffix=".conf") as cfg:
        cfg.write(CONFIG.format(a=a.url, b=b.url, closed=free_port()))
        cfg.flush()
        with Server(workers=2, threads=4, args=["--config", cfg.name]) as s:
            # Rows make the judges start; a built-in metric needs no profile.
            j = run(s, dict(ROW, metrics=["token_f1"]))
            eq(j.get("status"), "done", "a first row is done")
            p = {}

            def settled():
                p.update(profiles(s))
                return p.get("strong", {}).get("state") == "ready" and \
                    p.get("down", {}).get("state") == "failed"
            wait_for(settled, 60, "the profiles to settle")
            eq(sorted(p), ["down", "strong"], "/api/health lists both profiles", p)
            eq((p["strong"].get("state"), p["strong"].get("max_concurrency"), p["strong"].get("model")),
               ("ready", 2, "judge-model"), "the strong profile is ready, with its bound and model", p)
            tap.ok(p["down"].get("state") == "failed" and p["down"].get("error"),
                   "the down profile is failed, with its error", p["down"])

            ka, kb = kinds(a), kinds(b)
            j = run(s, dict(ROW, metrics=["correctness"]))
            da, db = delta(ka, kinds(a)), delta(kb, kinds(b))
            tap.ok(j["scores"].get("correctness") is not None and db.get("correctness", 0) >= 1 and
                   "correctness" not in da,
                   "judge.metric_judges: correctness is graded on the strong profile's endpoint",
                   {"a": da, "b": db, "row": j})

            ka, kb = kinds(a), kinds(b)
            j = run(s, dict(ROW, metrics=["faithfulness"]))
            da, db = delta(ka, kinds(a)), delta(kb, kinds(b))
            tap.ok(j["scores"].get("faithfulness") is not None and da.get("statements", 0) >= 1 and not db,
                   "an unmapped metric is graded on the default endpoint", {"a": da, "b": db})

            ka, kb = kinds(a), kinds(b)
            j = run(s, dict(ROW, metrics=["faithfulness"], judge="strong"))
            da, db = delta(ka, kinds(a)), delta(kb, kinds(b))
            tap.ok(j["scores"].get("faithfulness") is not None and db.get("statements", 0) >= 1 and
                   "statements" not in da,
                   "the row's judge: faithfulness is graded on the strong endpoint", {"a": da, "b": db})
            eq([tuple(x) for x in s.query("SELECT judge_profile FROM evaluations WHERE id = ?", (j["id"],))],
               [("strong",)], "the row's judge profile is stored")

            ka, kb = kinds(a), kinds(b)
            j = run(s, dict(ROW, metrics=["strong_critic"]))
            da, db = delta(ka, kinds(a)), delta(kb, kinds(b))
            tap.ok(j["scores"].get("strong_critic") == 1 and db.get("critic", 0) == 1 and "critic" not in da,
                   "a criterion's judge: the critic is asked on the strong endpoint", {"a": da, "b": db})

            j = run(s, dict(ROW, metrics=["faithfulness", "context_recall", "correctness"]))
            sc, rs = j.get("scores") or {}, j.get("reasons") or {}
            tap.ok(j.get("status") == "done" and sc.get("faithfulness") is not None and
                   sc.get("correctness") is not None and sc.get("context_recall") is None and
                   "down" in str(rs.get("context_recall")),
                   "a profile that is down nulls only its metrics; the others are scored", j)

            r = s.post("/api/eval", dict(ROW, metrics=["faithfulness"], judge="nope"))
            body = r.json() if r.status == 400 else {}
            tap.ok(r.status == 400 and "judge" in str(body.get("field") or body),
                   "an unknown profile in a row: 400 naming judge", (r.status, body))

            # The strong profile's bound (2) holds across both workers,
            # while the default's is 8: slow replies keep calls in flight.
            b.control(reset=True, faults=[{"mode": "slow", "delay_ms": 300, "count": -1}])
            before = b.stats().get("max_in_flight", 0)
            ids = []
            for i in range(8):
                r = s.post("/api/eval", dict(ROW, answer="%s (burst %d)" % (ROW["answer"], i),
                                             metrics=["faithfulness"], judge="strong"))
                ids.append(r.json().get("id"))
            s.wait_status(ids, ("done", "failed"), 90)
            st = b.stats()
            done = s.query("SELECT count(*) FROM evaluations WHERE status = 'done' AND id IN (%s)"
                           % ",".join(str(int(i)) for i in ids))[0][0]
            tap.diag("strong endpoint: most calls in flight at once %s" % st.get("max_in_flight"))
            tap.ok(done == 8 and 1 <= st.get("max_in_flight", 0) <= 2,
                   "calls to the strong profile stay within its max_concurrency (2) across the pool",
                   {"max_in_flight": st.get("max_in_flight"), "before": before, "done": done})
            b.control(reset=True)


tap.run(main)
