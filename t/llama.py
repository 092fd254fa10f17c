"""The judges against a real server: llama.cpp's llama-server with a tiny
model (t/lib/llama.py, from ../shared/llama; skipped with a message when it
is absent). Checks that the harness brings up the deployments users run
(one instance for chat and embeddings; a chat-only and an embedding
instance) and that every LLM metric of an English and a Chinese row ends
as a number through the real server. The model knows nothing: the numbers
prove the wire path (schemas as grammars, embeddings, the probe), not that
a score is right.

Each case is a deployment, ragrade's settings, the rows to grade through
it and what must come of them: every LLM metric a number with chat and
embeddings on one instance and on two (judge.embedding_url), a model named
by its alias, an embedding input over the server's batch (that metric null
with the server's message, the others scored), replies cut at
judge.max_tokens, and a missing model (the judge failed, naming it).
RAGRADE_LLAMA_CASES=word,word runs the cases whose names hold a word."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import llama  # noqa: E402
import tap  # noqa: E402
from harness import ROW, Server, wait_for  # noqa: E402

LLM_METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall",
               "answer_correctness", "semantic_similarity", "correctness"]

ROW_ZH = {
    "question": "埃菲尔铁塔是哪一年建成的？",
    "answer": "它于1889年建成。",
    "contexts": ["埃菲尔铁塔于1887年开始修建，1889年为世界博览会建成。"],
    "ground_truth": "1889年",
}


def judge_env(dep, **extra):
    """ragrade's settings for a deployment that serves chat and embeddings
    at one URL, with the model under the alias llama-server was given."""
    env = {"RAGRADE_JUDGE_BACKEND": "openai", "RAGRADE_JUDGE_URL": dep.chat_url,
           "RAGRADE_JUDGE_MODEL": dep.chat.alias, "RAGRADE_JUDGE_EMBEDDING_MODEL": dep.embed.alias,
           "RAGRADE_JUDGE_MAX_CONCURRENCY": "2"}
    env.update(extra)
    return env


def check_harness_separate():
    """Two instances: the chat one answers a schema-constrained chat and
    refuses embeddings; the embedding one embeds; each lists its alias."""
    with llama.Deployment(separate=True) as dep:
        tap.ok(dep.chat.healthy() and dep.embed.healthy() and dep.chat_url != dep.embed_url,
               "a chat-only and an embedding llama-server are up on two loopback ports")
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        st, body = dep.chat.status("POST", "/v1/chat/completions", {
            "model": "judge", "messages": [{"role": "user", "content": "Reply with ok true."}],
            "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
                "name": "Probe", "schema": schema, "strict": True}}}, timeout=60)
        tap.ok(st == 200 and isinstance(body["choices"][0]["message"]["content"], str),
               "the chat instance answers a json_schema chat", (st, body))
        st_e, _ = dep.chat.status("POST", "/v1/embeddings", {"model": "judge", "input": ["a"]})
        tap.ok(st_e != 200, "the chat-only instance does not serve embeddings", st_e)
        st, body = dep.embed.status("POST", "/v1/embeddings", {"model": "embedder", "input": ["Paris", "The tower"]},
                                    timeout=60)
        vecs = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])] if st == 200 else []
        tap.ok(len(vecs) == 2 and vecs[0] != vecs[1] and any(vecs[0]),
               "the embedding instance embeds two texts apart", (st, str(body)[:300]))
        st, body = dep.embed.status("GET", "/v1/models")
        ids = [m.get("id") for m in (body or {}).get("data", [])]
        tap.ok(st == 200 and "embedder" in ids, "the embedding instance lists its alias", body)


def numbers(j, metrics):
    """The metrics of row j that did not end as numbers, with their reasons."""
    scores = j.get("scores") or {}
    return {m: (scores.get(m), (j.get("reasons") or {}).get(m)) for m in metrics
            if not isinstance(scores.get(m), (int, float)) or isinstance(scores.get(m), bool)}


def submit(s, rows, metrics, name, timeout=300):
    """Grade rows with these metrics; the rows as the API returns them."""
    ids = []
    for r in rows:
        resp = s.post("/api/eval", dict(r, metrics=metrics))
        tap.eq(resp.status, 202, f"{name}: row accepted")
        ids.append(resp.json().get("id"))
    s.wait_status(ids, ("done", "failed"), timeout)
    return [s.get(f"/api/eval/{rid}").json() for rid in ids]


def all_numbers(s, rows, name, metrics=LLM_METRICS):
    """Every LLM metric of every row ends as a number."""
    for j, r in zip(submit(s, rows, metrics, name), rows):
        tap.ok(j.get("status") == "done" and not numbers(j, metrics),
               f"{name}: every LLM metric is a number ({r['question'][:20]})",
               {"status": j.get("status"), "last_error": j.get("last_error"),
                "not numbers": numbers(j, metrics), "log": s.log()[-1500:]})
    tap.eq(s.get("/api/health").json()["judge"]["state"], "ready", f"{name}: the judge is ready")


# An answer of about 900 tokens: over llama-server's default embedding
# batch (-b/-ub 512), well within its chat context.
LONG = " ".join(["The tower in Paris was completed in 1889 for the fair."] * 70)
ROW_LONG = {"question": "When was the tower completed?", "answer": LONG,
            "contexts": ["The tower in Paris was completed in 1889."], "ground_truth": "In 1889."}


def long_input(s, rows, name):
    """An embedding input over the server's batch: semantic_similarity is
    null with the server's message (sent alone before giving up, never
    retried); the row's other metrics are scored."""
    metrics = ["faithfulness", "semantic_similarity", "correctness"]
    j = submit(s, rows, metrics, name)[0]
    reason = (j.get("reasons") or {}).get("semantic_similarity") or ""
    tap.ok(j.get("status") == "done" and j["scores"].get("semantic_similarity") is None
           and "too large" in reason, f"{name}: semantic_similarity is null with the server's message",
           {"status": j.get("status"), "reason": reason, "last_error": j.get("last_error")})
    tap.ok(not numbers(j, ["faithfulness", "correctness"]), f"{name}: the other metrics are scored",
           numbers(j, ["faithfulness", "correctness"]))
    tap.eq(j.get("attempts"), 1, f"{name}: the row was not retried")


def cut_replies(s, rows, name):
    """judge.max_tokens below what the replies need: a cut reply is asked
    again once with twice the budget; a reply cut again leaves its metric
    null with a message that names the limit; the rest is scored."""
    metrics = ["faithfulness", "correctness"]
    j = submit(s, rows, metrics, name)[0]
    reasons = j.get("reasons") or {}
    ends = {m: j["scores"].get(m) if isinstance(j["scores"].get(m), (int, float))
            else reasons.get(m) for m in metrics}
    tap.ok(j.get("status") == "done" and all(isinstance(v, (int, float)) or
                                               "cut at the output limit" in (v or "") for v in ends.values()),
           f"{name}: every metric is a number or null for the output limit", ends)
    tap.ok(any(isinstance(v, str) for v in ends.values()) and any(not isinstance(v, str) for v in ends.values()),
           f"{name}: one reply fits the doubled budget, one does not", ends)


def missing_model(s, rows, name):
    """A model the server does not serve: the judge is failed with a
    message that names it; the row waits (it is not failed)."""
    s.post("/api/eval", dict(rows[0], metrics=["correctness"]))
    wait_for(lambda: s.get("/api/health").json()["judge"]["state"] == "failed", 60, "the judge to fail")
    h = s.get("/api/health").json()["judge"]
    tap.ok("no-such-model" in (h.get("error") or "") and "check_models" in h["error"],
           f"{name}: the judge is failed, naming the model", h)


# (name, deployment options, extra ragrade env, rows, check)
CASES = [
    ("one instance for chat and embeddings", {}, {}, [ROW, ROW_ZH], all_numbers),
    ("a chat and an embedding instance (judge.embedding_url)", {"separate": True}, {"embed_url": True},
     [ROW], all_numbers),
    ("the model by its alias", {"chat_extra": ("--alias", "judge,judge-alt")},
     {"RAGRADE_JUDGE_MODEL": "judge-alt", "RAGRADE_JUDGE_EMBEDDING_MODEL": "judge-alt"}, [ROW], all_numbers),
    ("a long input", {}, {}, [ROW_LONG], long_input),
    ("replies cut at judge.max_tokens", {}, {"RAGRADE_JUDGE_MAX_TOKENS": "8"}, [ROW], cut_replies),
    ("a missing model", {}, {"RAGRADE_JUDGE_MODEL": "no-such-model",
                             "RAGRADE_JUDGE_INIT_TIMEOUT_MS": "20000"}, [ROW], missing_model),
]


def main():
    why = llama.missing()
    if why:
        tap.skip_all(why)
    check_harness_separate()
    only = os.environ.get("RAGRADE_LLAMA_CASES")   # e.g. "alias,long": a subset, by words of the names
    for name, dep_opts, extra, rows, check in CASES:
        if only and not any(w in name for w in only.split(",")):
            continue
        with llama.Deployment(**dep_opts) as dep:
            extra = dict(extra)
            if extra.pop("embed_url", False):
                extra["RAGRADE_JUDGE_EMBEDDING_URL"] = dep.embed_url
            with Server(workers=1, threads=4, env=judge_env(dep, **extra)) as s:
                check(s, rows, name)


if __name__ == "__main__":
    tap.run(main)
