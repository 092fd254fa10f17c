"""The LLM judge's failure rules through the pool, against the fake LLM
(t/lib/fakellm.py): a probe answered outside its JSON schema (a server that
ignores response_format) leaves the judge failed with a plain message; a
400 on one metric's call makes that metric null and keeps the row's other
scores, without a retry; a 5xx is retried within judge.max_retries and,
spent, puts the row back in the queue, whose retry keeps (through the reply
cache) the metrics it had scored; judge.temperature = none leaves the
temperature out of every body; separate embedding endpoints (the fake
twice) get the embedding calls with their own key; judge.max_concurrency
bounds the calls in flight across the pool, initialisation probes
included."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, FakeLLM, Server, ready_judges, wait_for  # noqa: E402

METRICS = ["correctness", "semantic_similarity", "faithfulness"]


def kinds(f):
    return f.stats()["by_kind"]


def grade(s, metrics=METRICS, timeout=60, statuses=("done",)):
    rid = s.post("/api/eval", dict(ROW, metrics=metrics)).json()["id"]
    s.wait_status([rid], statuses, timeout)
    return s.get(f"/api/eval/{rid}").json()


def probe_ignores_schema(f):
    f.control(reset=True, faults=[{"match": "probe", "mode": "reply", "count": -1,
                                   "content": "Sure. The answer is ok."}])
    with Server(workers=1, env=f.env()) as s:
        s.post("/api/eval", dict(ROW, metrics=["correctness"]))
        wait_for(lambda: s.get("/api/health").json()["judge"]["state"] == "failed", 30, "the judge to fail")
        h = s.get("/api/health").json()["judge"]
        tap.ok("structured output" in (h.get("error") or "") and "response_format" in h["error"],
               "a probe answered outside its schema: the judge is failed, saying why", h)
        tap.eq(kinds(f).get("correctness", 0), 0, "no row was graded by that judge")


def one_metric_refused(f):
    f.control(reset=True, faults=[{"match": "correctness", "mode": "status", "status": 400,
                                   "message": "this model does not take that request"}])
    with Server(workers=1, env=f.env(RAGRADE_JUDGE_CACHE="no")) as s:
        j = grade(s)
        tap.ok(j["status"] == "done" and j["scores"]["correctness"] is None and
               "does not take that request" in j["reasons"]["correctness"],
               "a 400 on one metric: that metric is null with the endpoint's message", j)
        tap.ok(isinstance(j["scores"]["semantic_similarity"], float) and isinstance(j["scores"]["faithfulness"], float),
               "the row's other metrics are scored", j["scores"])
        tap.eq((j["attempts"], kinds(f).get("correctness")), (1, 1), "neither the call nor the row was retried")


def server_errors(f, cache):
    # 1 + max_retries attempts of the embedding call fail: the row goes back
    f.control(reset=True, faults=[{"match": "embed", "mode": "status", "status": 503, "count": 3}])
    env = f.env(RAGRADE_JUDGE_MAX_RETRIES="2", RAGRADE_JUDGE_BACKOFF_BASE_MS="10",
                RAGRADE_JUDGE_BACKOFF_MAX_MS="50", RAGRADE_JUDGE_CACHE=cache)
    with Server(workers=1, env=env) as s:
        j = grade(s)
        tap.ok(j["status"] == "done" and j["attempts"] == 2 and all(isinstance(j["scores"][m], float) for m in METRICS),
               f"cache {cache}: 5xx retried within max_retries, then the row was requeued and scored on its retry", j)
        k = kinds(f)
        tap.eq((k.get("embed"), k.get("correctness"), k.get("nli")), (4, 1, 1),
               f"cache {cache}: the retried row asked again only for what it had not scored")


def temperature_none(f):
    f.control(reset=True)
    env = f.env(RAGRADE_JUDGE_TEMPERATURE="none", RAGRADE_JUDGE_MAX_TOKENS_FIELD="max_completion_tokens",
                RAGRADE_JUDGE_MAX_TOKENS="700", RAGRADE_JUDGE_CACHE="no")
    with Server(workers=1, env=env) as s:
        j = grade(s, ["correctness"])
        bodies = [r["body"] for r in f.stats()["last"] if r["path"] == "/v1/chat/completions"]
        tap.ok(j["status"] == "done" and len(bodies) == 2 and
               all("temperature" not in b and b.get("max_completion_tokens") == 700 and "max_tokens" not in b
                   for b in bodies),
               "judge.temperature = none: no temperature in the probe's or the row's body", bodies)


def embedding_endpoint(f, e):
    f.control(reset=True)
    e.control(reset=True)
    env = f.env(RAGRADE_JUDGE_EMBEDDING_URL=e.url, RAGRADE_EMBEDDING_API_KEY="emb-key", RAGRADE_API_KEY="chat-key",
                RAGRADE_JUDGE_CACHE="no")
    with Server(workers=1, env=env) as s:
        j = grade(s)
        tap.ok(all(isinstance(j["scores"][m], float) for m in METRICS), "scored with a separate embedding endpoint",
               j)
        fk, ek = kinds(f), kinds(e)
        tap.eq((fk.get("embed", 0), ek.get("embed", 0), ek.get("correctness", 0)), (0, 1, 0),
               "embeddings went to the embedding endpoint only, chat calls to the chat one")
        auth = {r["kind"]: r["authorization"] for r in f.stats()["last"] + e.stats()["last"]}
        tap.eq((auth.get("embed"), auth.get("correctness")), ("Bearer emb-key", "Bearer chat-key"),
               "each endpoint got its own key")


def probes_bounded(f):
    """judge.max_concurrency bounds every call to the judge across the
    pool, a worker's initialisation calls included: the fake counts the
    requests in flight while two workers start their judges under a flood
    of rows."""
    f.control(reset=True)
    env = f.env(RAGRADE_JUDGE_MAX_CONCURRENCY="3", RAGRADE_JUDGE_CACHE="no")
    with Server(workers=2, env=env) as s:
        ready_judges(s, f, 2, ROW, 3, timeout=120)
        st = f.stats()
        tap.ok(st["by_kind"].get("probe", 0) >= 2 and st["max_in_flight"] <= 3,
               "two workers' probes and rows: never more than max_concurrency calls in flight",
               {"max_in_flight": st["max_in_flight"], "by_kind": st["by_kind"]})


def main():
    with FakeLLM() as f:
        probe_ignores_schema(f)
        one_metric_refused(f)
        server_errors(f, "yes")
        server_errors(f, "no")
        temperature_none(f)
        probes_bounded(f)
        with FakeLLM() as e:
            embedding_endpoint(f, e)


if __name__ == "__main__":
    tap.run(main)
