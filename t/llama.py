"""The judges against a real server: llama.cpp's llama-server with a tiny
model (t/lib/llama.py, from ../shared/llama; skipped with a message when it
is absent). Checks that the harness brings up the deployments users run
(one instance for chat and embeddings; a chat-only and an embedding
instance) and that every LLM metric of an English and a Chinese row ends
as a number through the real server. The model knows nothing: the numbers
prove the wire path (schemas as grammars, embeddings, the probe), not that
a score is right.

Each case is a deployment and the rows to grade through it; a case that
needs another setting (a separate embedding URL, an output budget) is one
more entry in CASES with its env."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import llama  # noqa: E402
import tap  # noqa: E402
from harness import ROW, Server  # noqa: E402

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


def grade(dep, env, rows, name):
    """Grade rows through ragrade pointed at dep; every LLM metric of every
    row must end as a number."""
    with Server(workers=1, threads=4, env=env) as s:
        ids = []
        for r in rows:
            resp = s.post("/api/eval", dict(r, metrics=LLM_METRICS))
            tap.eq(resp.status, 202, f"{name}: row accepted")
            ids.append(resp.json().get("id"))
        s.wait_status(ids, ("done", "failed"), 240)
        for rid, r in zip(ids, rows):
            j = s.get(f"/api/eval/{rid}").json()
            scores = j.get("scores") or {}
            bad = {m: (scores.get(m), (j.get("reasons") or {}).get(m)) for m in LLM_METRICS
                   if not isinstance(scores.get(m), (int, float)) or isinstance(scores.get(m), bool)}
            tap.ok(j.get("status") == "done" and not bad,
                   f"{name}: every LLM metric is a number ({r['question'][:20]})",
                   {"status": j.get("status"), "last_error": j.get("last_error"), "not numbers": bad,
                    "log": s.log()[-1500:]})
        tap.eq(s.get("/api/health").json()["judge"]["state"], "ready", f"{name}: the judge is ready")


# (name, deployment options, extra ragrade env, rows)
CASES = [
    ("one instance for chat and embeddings", {}, {}, [ROW, ROW_ZH]),
]


def main():
    why = llama.missing()
    if why:
        tap.skip_all(why)
    check_harness_separate()
    for name, dep_opts, extra, rows in CASES:
        with llama.Deployment(**dep_opts) as dep:
            grade(dep, judge_env(dep, **extra), rows, name)


if __name__ == "__main__":
    tap.run(main)
