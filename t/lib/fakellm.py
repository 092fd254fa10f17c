#!/usr/bin/python3
"""fakellm.py - a fake LLM endpoint for ragrade's tests and benchmarks.

Speaks the OpenAI-compatible API (/v1/chat/completions, /v1/embeddings,
/v1/models) and Ollama's (/api/chat, /api/embed, /api/tags) on 127.0.0.1,
on a free port that it prints as the first line of stdout. It exits when
its stdin reaches EOF (so it never outlives the test that started it).

By default it recognises which ragrade prompt it was sent (by the prompt's
instruction) and answers with plausible JSON derived from the input:
sentences become statements, a statement is supported when the context
contains it, and so on. POST /_control with a JSON object scripts it:

  {"reset": true}                      forget faults, scripts and counters
  {"delay_ms": N}                      answer every request after N ms
  {"release": true}                    let hung requests go (closed unanswered)
  {"models": ["m1", ...]}              the models it serves
  {"embeddings": {"text": [..], ...}}  fixed vectors for some texts
  {"faults": [F, ...]}                 appended to the fault queue

A fault F applies to the next `count` requests (default 1; -1 forever)
whose kind ("statements", "nli", "question", "ctx_precision", "ctx_recall",
"classify", "correctness", "ctx_relevance", "critic", "rubric", "probe", "embed", "models")
or path equals
F["match"] (absent: any request). F["mode"] is one of: hang, slow
(F["delay_ms"]), status (F["status"], F["retry_after"] seconds,
F["retry_after_ms"], F["message"]), garbage (the HTTP body is not JSON),
malformed (the content is not JSON), truncated (finish_reason/done_reason
"length"), wrong_schema, refusal, reply (F["content"]: the content to send,
a string or a JSON value). GET /_stats returns the counters: requests in
flight, the most seen at once, requests by kind, and the last requests.
"""
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = [
    ("Rewrite the answer to the question as a list of short statements", "statements"),
    ("Judge each statement against the context alone", "nli"),
    ("Write one question that the given response answers", "question"),
    ("Decide whether the context helped to arrive at the given answer", "ctx_precision"),
    ("Take each sentence of the answer in turn", "ctx_recall"),
    ("Compare the statements of the answer with the statements of the ground truth", "classify"),
    ("You evaluate the answers of a question-answering chatbot", "correctness"),
    ("Rate how relevant the context is to the question", "ctx_relevance"),
    ("I am to rate the relevance of a context to a question", "ctx_relevance"),
    ("Reply with a JSON object whose key ok", "probe"),
    ("Evaluate the input on the criterion defined below", "critic"),
    ("Your task is to score the input on the criterion defined below", "rubric"),
]
CORRECTNESS_SECTIONS = (("### User query\n", "query"), ("### Reference answer\n", "reference_answer"),
                        ("### Generated answer\n", "generated_answer"))
PROMPT_TOKENS, COMPLETION_TOKENS = 10, 5


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.reset()

    def reset(self):
        self.faults = []
        self.delay_ms = 0
        self.models = ["judge-model", "embed-model"]
        self.embeddings = {}
        self.in_flight = getattr(self, "in_flight", 0)
        self.max_in_flight = self.in_flight
        self.requests = 0
        self.by_kind = {}
        self.last = []

    def take_fault(self, kind, path):
        for f in self.faults:
            if f.get("count", 1) != 0 and f.get("match") in (None, kind, path):
                if f.get("count", 1) > 0:
                    f["count"] = f.get("count", 1) - 1
                return f
        return None


S = State()


def sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text or "") if s.strip()]


def words(text):
    return {w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if len(w) > 3}


def contains(context, statement):
    return statement.lower().rstrip(".!? ") in (context or "").lower()


def prompt_input(kind, content):
    """The input in the message that holds it: the JSON after the last
    "Input: ", or for correctness (a system and a user message, or the two
    joined) the text of the user message's sections."""
    if kind == "correctness":
        inp = {}
        for n, (head, key) in enumerate(CORRECTNESS_SECTIONS):
            i = content.rfind(head)
            if i < 0:
                continue
            i += len(head)
            j = content.find("\n\n" + CORRECTNESS_SECTIONS[n + 1][0], i) if n < 2 else len(content)
            inp[key] = content[i:j if j >= 0 else len(content)].rstrip("\n")
        if inp.get("reference_answer") == "(NO REFERENCE ANSWER SUPPLIED)":
            inp["reference_answer"] = None
        return inp
    i = content.rfind("\nInput: ")
    j = content.rfind("\nOutput: ")
    try:
        return json.loads(content[i + 8:j]) if 0 <= i < j else {}
    except ValueError:
        return {}


def answer(kind, inp):
    """The default reply to a prompt, derived from its input."""
    if kind == "statements":
        return {"statements": sentences(inp.get("answer", ""))}
    if kind == "nli":
        ctx = inp.get("context", "")
        return {"statements": [{"statement": s, "reason": "checked against the context",
                                "verdict": 1 if contains(ctx, s) else 0}
                               for s in inp.get("statements", [])]}
    if kind == "question":
        r = inp.get("response", "")
        nc = 1 if re.search(r"i don't know|i'm not sure", r.lower()) else 0
        return {"question": "What is said in: " + r, "noncommittal": nc}
    if kind == "ctx_precision":
        useful = bool(words(inp.get("context")) & words(inp.get("answer")))
        return {"reason": "shared words" if useful else "nothing shared", "verdict": int(useful)}
    if kind == "ctx_recall":
        ctx = inp.get("context", "")
        return {"classifications": [{"statement": s, "reason": "looked for it",
                                     "attributed": 1 if contains(ctx, s) else 0}
                                    for s in sentences(inp.get("answer", ""))]}
    if kind == "classify":
        a, g = inp.get("answer", []), inp.get("ground_truth", [])
        r = lambda s: {"statement": s, "reason": "compared"}  # noqa: E731
        return {"TP": [r(s) for s in a if s in g], "FP": [r(s) for s in a if s not in g],
                "FN": [r(s) for s in g if s not in a]}
    if kind == "correctness":
        same = inp.get("generated_answer") == inp.get("reference_answer")
        return {"score": 5.0 if same else 3.0, "reasoning": "compared with the reference"}
    if kind == "ctx_relevance":
        shared = words(inp.get("context")) & words(inp.get("question"))
        return {"rating": 2 if len(shared) > 1 else 1 if shared else 0}
    if kind == "probe":
        return {"ok": True}
    if kind == "critic":
        return {"reason": "the fake judge says yes", "verdict": 1}
    if kind == "rubric":   # the highest level; inp is the prompt's text here
        m = re.search(r"The score must be one of ([-0-9, ]+)\.", inp.get("prompt", ""))
        levels = [int(x) for x in m.group(1).split(",")] if m else [1]
        n = len(re.findall(r"^\d+\. ", inp.get("prompt", ""), re.M))
        out = {"score": max(levels), "reason": "the fake judge's reason"}
        if n:
            out = {"steps": ["finding %d" % (i + 1) for i in range(n)], **out}
        return out
    return {"unexpected": True}


def embedding(text):
    if text in S.embeddings:
        return S.embeddings[text]
    v = [0.0] * 16
    for w in re.findall(r"\w+", text.lower()):
        v[hashlib.sha256(w.encode()).digest()[0] % 16] += 1.0
    v[0] += 0.5                    # never the zero vector
    return v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out in two writes

    def log_message(self, *args):
        pass

    def send(self, status, obj, headers=None, raw=None):
        self.answered()
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with S.lock:
                self.send(200, {"in_flight": S.in_flight, "max_in_flight": S.max_in_flight,
                                "requests": S.requests, "by_kind": S.by_kind,
                                "last": S.last[-20:]})
            return
        self.api(None)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.send(400, {"error": "the body is not JSON"})
        if self.path == "/_control":
            with S.lock:
                if body.get("reset"):
                    S.reset()
                    S.release.set()
                    S.release = threading.Event()
                if body.get("release"):
                    S.release.set()
                    S.release = threading.Event()
                S.delay_ms = body.get("delay_ms", S.delay_ms)
                S.models = body.get("models", S.models)
                S.embeddings.update(body.get("embeddings", {}))
                S.faults.extend(body.get("faults", []))
            return self.send(200, {"ok": True})
        self.api(body)

    def api(self, body):
        with S.lock:
            S.in_flight += 1
            S.max_in_flight = max(S.max_in_flight, S.in_flight)
        self._counted = True
        try:
            self.serve(body)
        finally:
            self.answered()

    def answered(self):
        # A request stops counting as in flight once its answer is decided,
        # before the bytes go out: the client may act on the reply (and
        # send its next request) before this thread runs again.
        if getattr(self, "_counted", False):
            self._counted = False
            with S.lock:
                S.in_flight -= 1

    def serve(self, body):
        ollama = self.path.startswith("/api/")
        kind, inp, content = self.path, {}, ""
        if self.path in ("/v1/models", "/api/tags"):
            kind = "models"
        elif self.path in ("/v1/embeddings", "/api/embed"):
            kind = "embed"
        elif self.path in ("/v1/chat/completions", "/api/chat"):
            msgs = (body or {}).get("messages") or [{}]
            content = msgs[0].get("content", "")
            kind = next((k for p, k in KINDS if content.startswith(p)), "unknown")
            inp = prompt_input(kind, next((m.get("content", "") for m in msgs
                                           if "\nOutput: " in m.get("content", "") or
                                           "### User query\n" in m.get("content", "")), ""))
        with S.lock:
            S.requests += 1
            S.by_kind[kind] = S.by_kind.get(kind, 0) + 1
            S.last.append({"path": self.path, "kind": kind, "body": body,
                           "authorization": self.headers.get("Authorization")})
            f = S.take_fault(kind, self.path)
            delay, release = S.delay_ms, S.release
        mode = f.get("mode") if f else None
        if mode == "hang":
            release.wait(3600)
            self.close_connection = True
            return
        if mode == "slow":
            delay = f.get("delay_ms", 1000)
        if delay:
            time.sleep(delay / 1000.0)
        if mode == "status":
            st, msg = f.get("status", 500), f.get("message", "scripted failure")
            h = {}
            if "retry_after" in f:
                h["Retry-After"] = str(f["retry_after"])
            if "retry_after_ms" in f:
                h["retry-after-ms"] = str(f["retry_after_ms"])
            err = {"error": msg} if ollama else {"error": {"message": msg, "type": "fake"}}
            return self.send(st, err, h)
        if mode == "garbage":
            return self.send(200, None, raw=b"<html>not json")
        if kind == "models":
            if ollama:
                return self.send(200, {"models": [{"name": m + ":latest", "model": m + ":latest"}
                                                  for m in S.models]})
            return self.send(200, {"object": "list",
                                   "data": [{"id": m, "object": "model"} for m in S.models]})
        if body is None or kind == self.path:
            return self.send(404, {"error": "no such endpoint " + self.path})
        if body.get("model") not in S.models:
            msg = "model '%s' not found" % body.get("model")
            return self.send(404, {"error": msg} if ollama else {"error": {"message": msg}})
        if kind == "embed":
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            vecs = [embedding(t) for t in texts]
            if ollama:
                return self.send(200, {"model": body["model"], "embeddings": vecs})
            return self.send(200, {"object": "list", "data": [
                {"object": "embedding", "index": i, "embedding": v}
                for i, v in reversed(list(enumerate(vecs)))]})
        if ollama and (body.get("stream") is not False or not isinstance(body.get("format"), dict)):
            return self.send(400, {"error": "want stream false and a format schema"})
        rf = body.get("response_format") or {}
        if not ollama and (rf.get("type") != "json_schema" or not rf["json_schema"].get("strict")):
            return self.send(400, {"error": {"message": "want a strict json_schema"}})
        finish, refusal = "stop", None
        content = json.dumps(answer(kind, {"prompt": content} if kind == "rubric" else inp))
        if mode == "malformed":
            content = content[:len(content) // 2] + "}}"
        elif mode == "truncated":
            content, finish = content[:len(content) // 2], "length"
        elif mode == "wrong_schema":
            content = json.dumps({"result": "something else", "items": [1, 2]})
        elif mode == "refusal":
            refusal = "I'm sorry, I can't help with that."
            content = None if not ollama else refusal
        elif mode == "reply":
            c = f.get("content")
            content = c if isinstance(c, str) else json.dumps(c)
        if ollama:
            return self.send(200, {"model": body["model"], "created_at": "2024-01-01T00:00:00Z",
                                   "message": {"role": "assistant", "content": content},
                                   "done": True, "done_reason": finish, "load_duration": 1000,
                                   "prompt_eval_count": PROMPT_TOKENS,
                                   "eval_count": COMPLETION_TOKENS})
        return self.send(200, {"id": "chatcmpl-fake", "object": "chat.completion",
                               "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": finish,
                                            "message": {"role": "assistant", "content": content,
                                                        "refusal": refusal}}],
                               "usage": {"prompt_tokens": PROMPT_TOKENS,
                                         "completion_tokens": COMPLETION_TOKENS,
                                         "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        srv.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
