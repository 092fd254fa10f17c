"""The submit path end to end: the real nginx and pool on a loopback port,
every endpoint, every documented error, and that rejected requests leave
no row behind while the worker keeps serving."""
import hashlib
import os
import socket
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, Server  # noqa: E402

# Admin routes are off until an admin token is configured (see auth.h).
ADMIN_TOKEN = "submit-test-admin-token"
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


def count(s):
    return s.query("SELECT count(*) FROM evaluations")[0][0]


def err(r):
    try:
        return r.json()["error"]
    except Exception:
        return {}


def check_error(s, r, status, code=None, field=None, name=""):
    e = err(r)
    ok = r.status == status and (code is None or e.get("code") == code) and (field is None or e.get("field") == field)
    ok = ok and r.headers.get("content-type", "").startswith("application/json") and "message" in e
    tap.ok(ok, f"{name}: {status} JSON error" + (f" {code}" if code else "") + (f" on {field}" if field else ""), r)


def raw(s, data):
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(data)
    out = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        out += b
    c.close()
    return out


def utf8_ok(r):
    try:
        r.body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def strict_json(s, J):
    """RFC 8259 as the README promises it, and nothing json-c lets pass."""
    q = '"question":"q","answer":"a","contexts":[]'
    check_error(s, s.post("/api/eval", ('{' + q + ',"question":"again"}').encode(), headers=J), 400,
                "invalid_request", "question", "a duplicate key")
    check_error(s, s.post("/api/eval", ('{' + q + ',"questio\\u006e":"again"}').encode(), headers=J), 400,
                "invalid_request", "questio\\u006e", "a duplicate key spelled with an escape")
    check_error(s, s.post("/api/eval", ('[{' + q + '},{' + q + ',"answer":"b"}]').encode(), headers=J), 400,
                "invalid_request", "[1].answer", "a duplicate key in the second row of a batch")
    check_error(s, s.post("/api/eval", b'{"question":"q\x01","answer":"a","contexts":[]}', headers=J), 400,
                "invalid_request", "question", "a raw control character in a string")
    check_error(s, s.post("/api/eval", b'{"question":"q","answer":"a","contexts":["ok","a\tb"]}', headers=J), 400,
                "invalid_request", "contexts[1]", "a raw tab in a context")
    check_error(s, s.post("/api/eval", b'{"question":"\\ud800","answer":"a","contexts":[]}', headers=J), 400,
                "invalid_request", "question", "a lone high surrogate")
    check_error(s, s.post("/api/eval", b'{"question":"q","answer":"x\\udc00y","contexts":[]}', headers=J), 400,
                "invalid_request", "answer", "a lone low surrogate")
    r = s.post("/api/eval", b'{"question":"\\ud83d\\ude00","answer":"a","contexts":[],"metrics":["exact_match"]}', headers=J)
    tap.eq(r.status, 202, "a surrogate pair is one character, accepted")
    check_error(s, s.post("/api/eval", ('{' + q + ',"ques\\u0000tion":"x"}').encode(), headers=J), 400,
                "invalid_request", "ques\\u0000tion", "a key with an embedded NUL")
    for body in (b"null", b"42", b"true", b'"text"'):
        r = s.post("/api/eval", body, headers=J)
        check_error(s, r, 400, "invalid_request", None, f"a body that is {body.decode()}")
        tap.ok("the body must be an object or an array" in err(r).get("message", ""), f"  which says so ({body.decode()})", r)
    check_error(s, s.post("/api/eval", dict(ROW, id="7")), 400, "invalid_request", "id", "an id that is a string")
    check_error(s, s.post("/api/eval", dict(ROW, id=1.5)), 400, "invalid_request", "id", "an id that is not whole")
    check_error(s, s.post("/api/eval", dict(ROW, dataset="")), 400, "invalid_request", "dataset", "an empty dataset label")
    check_error(s, s.get("/api/eval?dataset=a%00b"), 400, "invalid_query", "dataset", "%00 in a query value")
    check_error(s, s.get("/api/summary?dataset=%00"), 400, "invalid_query", "dataset", "%00 in the summary's dataset")
    # Every answer is UTF-8: a long multi-byte field name is cut between characters,
    # and bytes that are not UTF-8 are escaped, never echoed.
    r = s.post("/api/eval", dict(ROW, **{"é" * 100: 1}))
    check_error(s, r, 400, "invalid_request", None, "an unknown field of 100 two-byte characters")
    tap.ok(utf8_ok(r) and err(r).get("field", "").startswith("éé"), "  its field is cut between characters", r.body[:200])
    r = s.get("/api/summary?dataset=%ff%fe")
    tap.ok(r.status == 400 and utf8_ok(r), "a query value that is not UTF-8 gets a 400 in UTF-8, not echoed", r.body[:200])
    return 1


def main():
    env = {"RAGRADE_LIMITS_MAX_CONTEXTS": "5", "RAGRADE_LIMITS_MAX_FIELD": "2000",
           "RAGRADE_LIMITS_MAX_BATCH": "10", "RAGRADE_LIMITS_MAX_BODY": "65536",
           "RAGRADE_DB_BUSY_TIMEOUT_MS": "300",
           "RAGRADE_AUTH_ADMIN_TOKENS": "sha256:" + hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()}
    with Server(env=env) as s:
        # ---- one row ----
        r = s.post("/api/eval", dict(ROW, dataset="smoke"))
        tap.eq(r.status, 202, "POST /api/eval answers 202")
        body = r.json()
        rid = body.get("id")
        tap.ok(isinstance(rid, int) and body.get("status") == "queued" and body.get("href") == f"/api/eval/{rid}",
               "202 body has id, status queued and href", body)
        tap.eq(r.headers.get("location"), f"/api/eval/{rid}", "Location header points at the row")
        tap.eq(s.query("SELECT status FROM evaluations WHERE id = ?", (rid,))[0][0] in ("queued", "running", "done"),
               True, "the 202 is a committed row")
        s.wait_status([rid])
        g = s.get(f"/api/eval/{rid}")
        j = g.json()
        tap.eq(g.status, 200, "GET /api/eval/{id} answers 200")
        tap.ok(j["status"] == "done" and j["question"] == ROW["question"] and j["contexts"] == ROW["contexts"]
               and j["ground_truth"] == ROW["ground_truth"] and j["dataset"] == "smoke" and j["attempts"] == 1
               and j["created_at"] and j["started_at"] and j["finished_at"] and "tokens" in j,
               "the row holds its inputs, status, timestamps and attempts", j)
        tap.ok(isinstance(j["scores"].get("token_f1"), float) and "token_f1" in j["reasons"],
               "scores and a reason per metric", j.get("scores"))

        # ---- ragas synonyms, metrics, reference contexts ----
        r = s.post("/api/eval", {"user_input": "q?", "response": "Paris", "retrieved_contexts": ["Paris is in France"],
                                 "reference": "Paris", "metrics": ["exact_match"]})
        tap.eq(r.status, 202, "ragas column names are accepted")
        rid2 = r.json()["id"]
        s.wait_status([rid2])
        j = s.get(f"/api/eval/{rid2}").json()
        tap.ok(j["question"] == "q?" and j["answer"] == "Paris" and j["ground_truth"] == "Paris"
               and j["scores"] == {"exact_match": 1.0}, "synonyms map to the fields; only the named metric runs", j)

        # ---- null handling: no ground truth ----
        r = s.post("/api/eval", {"question": "q", "answer": "a b c", "contexts": ["a b"], "metrics": ["token_f1", "context_overlap"]})
        rid3 = r.json()["id"]
        s.wait_status([rid3])
        j = s.get(f"/api/eval/{rid3}").json()
        tap.ok(j["scores"].get("token_f1", 0) is None and j["reasons"].get("token_f1")
               and isinstance(j["scores"].get("context_overlap"), float),
               "a metric without its inputs is null with a reason, not 0", j)

        # ---- batch ----
        before = count(s)
        r = s.post("/api/eval", [ROW, dict(ROW, question="second")])
        b = r.json()
        tap.ok(r.status == 202 and b.get("count") == 2 and len(b.get("ids", [])) == 2 and b.get("status") == "queued",
               "a batch answers 202 with ids and count", r)
        tap.eq(count(s), before + 2, "a batch stores every row")
        before = count(s)
        r = s.post("/api/eval", [ROW, ROW, dict(ROW, contexts=["ok", "ok", 3])])
        check_error(s, r, 400, "invalid_request", "[2].contexts[2]", "a batch with one bad row")
        tap.eq(count(s), before, "a batch with one bad row inserts nothing")
        check_error(s, s.post("/api/eval", [ROW] * 11), 400, "invalid_request", None, "a batch over limits.max_batch")
        check_error(s, s.post("/api/eval", []), 400, "invalid_request", None, "an empty batch")

        # ---- idempotency ----
        before = count(s)
        h = {"Idempotency-Key": "abc-123"}
        r1 = s.post("/api/eval", ROW, headers=h)
        r2 = s.post("/api/eval", ROW, headers=h)
        tap.ok(r1.status == 202 and r2.status == 202 and r1.json()["id"] == r2.json()["id"] and r2.json().get("replayed"),
               "a retried submission with the same Idempotency-Key returns the first id", (r1, r2))
        tap.eq(count(s), before + 1, "and adds no row")
        r3 = s.post("/api/eval", [ROW, ROW], headers=h)
        check_error(s, r3, 422, "idempotency_key_reused", None, "a key reused for a different batch")
        hb = {"Idempotency-Key": "batch-1"}
        b1, b2 = s.post("/api/eval", [ROW, ROW], headers=hb), s.post("/api/eval", [ROW, ROW], headers=hb)
        tap.ok(b1.json()["ids"] == b2.json()["ids"], "a replayed batch returns the first ids", (b1, b2))
        r4 = s.post("/api/eval", dict(ROW, answer="a different answer"), headers=h)
        check_error(s, r4, 422, "idempotency_key_reused", "Idempotency-Key", "the same key with a different body")
        tap.eq(count(s), before + 3, "which stores nothing")
        s.wait_status([r1.json()["id"]] + b1.json()["ids"])
        r5 = s.post("/api/eval", ROW, headers=h)
        tap.ok(r5.status == 202 and r5.json().get("replayed") and r5.json().get("status") == "done",
               "a replay reports the row's current status (done), not queued", r5)
        b3 = s.post("/api/eval", [ROW, ROW], headers=hb).json()
        tap.ok(b3.get("status") == "done" and b3.get("statuses") == ["done", "done"],
               "a replayed batch reports its rows' statuses", b3)
        long_key = {"Idempotency-Key": ("é" * 200).encode()}
        r6 = s.post("/api/eval", ROW, headers=long_key)
        tap.eq(r6.status, 202, "an Idempotency-Key of 200 two-byte characters is within the documented 1-200 characters")
        check_error(s, s.post("/api/eval", ROW, headers={"Idempotency-Key": "k" * 201}), 400, "invalid_header",
                    "Idempotency-Key", "an Idempotency-Key of 201 characters")
        check_error(s, s.post("/api/eval", ROW, headers={"Idempotency-Key": b"k\xff"}), 400, "invalid_header",
                    "Idempotency-Key", "an Idempotency-Key that is not UTF-8")

        # ---- 400s ----
        before = count(s)
        J = {"Content-Type": "application/json"}
        check_error(s, s.post("/api/eval", b'{"question": ', headers=J), 400, "invalid_request", None, "truncated JSON")
        check_error(s, s.post("/api/eval", b'{"question": "a"} x', headers=J), 400, "invalid_request", None, "trailing garbage")
        check_error(s, s.post("/api/eval", b'{"question": "\xff", "answer": "a", "contexts": []}', headers=J),
                    400, "invalid_request", None, "invalid UTF-8")
        check_error(s, s.post("/api/eval", {"answer": "a", "contexts": []}), 400, "invalid_request", "question", "missing question")
        check_error(s, s.post("/api/eval", dict(ROW, answer=5)), 400, "invalid_request", "answer", "answer not a string")
        check_error(s, s.post("/api/eval", dict(ROW, contexts=["a", "b", None])), 400, "invalid_request", "contexts[2]", "contexts[2] mistyped")
        check_error(s, s.post("/api/eval", dict(ROW, contexts="a")), 400, "invalid_request", "contexts", "contexts not an array")
        check_error(s, s.post("/api/eval", dict(ROW, metrics=["token_f1", "nope"])), 400, "invalid_request", "metrics[1]", "unknown metric")
        check_error(s, s.post("/api/eval", dict(ROW, colour="red")), 400, "invalid_request", "colour", "unknown field")
        check_error(s, s.post("/api/eval", dict(ROW, contexts=["c"] * 6)), 400, "invalid_request", "contexts", "too many contexts")
        check_error(s, s.post("/api/eval", dict(ROW, answer="x" * 2001)), 400, "invalid_request", "answer", "a field over limits.max_field")
        check_error(s, s.post("/api/eval", dict(ROW, question="a", user_input="b")), 400, "invalid_request", "question", "both a field and its synonym")
        check_error(s, s.post("/api/eval", b'"just a string"', headers=J), 400, "invalid_request", None, "a body that is not an object")
        r = s.post("/api/eval", b'{"question":"q","answer":"a","contexts":["\\u0000"]}', headers=J)
        check_error(s, r, 400, "invalid_request", "contexts[0]", "an escaped NUL")
        before += strict_json(s, J)     # one accepted row: the surrogate pair
        tap.eq(count(s), before, "rejected requests leave no row behind")

        # ---- 411, 413, 415 ----
        check_error(s, s.post("/api/eval", ROW, headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type", None, "text/plain body")
        out = raw(s, b"POST /api/eval HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n\r\n{}")
        tap.ok(out.startswith(b"HTTP/1.1 411") and b'"length_required"' in out, "a POST without Content-Length: 411 JSON", out[:300])
        big = dict(ROW, contexts=["x" * 1900] * 5)
        r = s.post("/api/eval", [big] * 10)
        check_error(s, r, 413, "body_too_large", None, "a body over limits.max_body (nginx)")
        tap.eq(count(s), before, "oversized requests leave no row behind")

        # ---- 404, 405 ----
        check_error(s, s.get("/api/eval/999999"), 404, "not_found", None, "unknown id")
        check_error(s, s.get("/api/eval/abc"), 404, "not_found", None, "non-numeric id")
        check_error(s, s.get("/api/nothing"), 404, "not_found", None, "unknown route")
        check_error(s, s.request("PUT", "/api/eval", body=ROW), 405, "method_not_allowed", None, "PUT /api/eval")
        check_error(s, s.request("POST", "/api/health"), 405, "method_not_allowed", None, "POST /api/health")
        # a 405's Allow header names what the route takes (RFC 9110 15.5.6)
        for method, path, allow in (("PUT", "/api/eval", "GET, HEAD, POST, OPTIONS"),
                                    ("POST", "/api/health", "GET, HEAD, OPTIONS"),
                                    ("PUT", "/api/eval/1", "GET, HEAD, DELETE, OPTIONS"),
                                    ("GET", "/api/eval/1/retry", "POST, OPTIONS"),
                                    ("DELETE", "/api/summary", "GET, HEAD, OPTIONS")):
            r = s.request(method, path)
            tap.ok(r.status == 405 and r.headers.get("allow") == allow, f"{method} {path}: 405 with Allow: {allow}",
                   (r.status, r.headers.get("allow")))
        r = s.request("OPTIONS", "/api/eval/1/retry")
        tap.ok(r.status == 204 and r.headers.get("allow") == "POST, OPTIONS", "OPTIONS names the route's methods in Allow",
               (r.status, r.headers.get("allow")))

        # ---- 503 when the database cannot be written ----
        lock = sqlite3.connect(os.path.join(s.data, "ragrade.db"), timeout=5)
        lock.execute("BEGIN IMMEDIATE")
        r = s.post("/api/eval", ROW)
        lock.rollback()
        lock.close()
        check_error(s, r, 503, "database_busy", None, "write lock held past the busy timeout")
        tap.eq(count(s), before, "a 503 leaves no row behind")
        tap.eq(s.post("/api/eval", ROW).status, 202, "the worker keeps serving after every error")

        # ---- list ----
        ids = s.post("/api/eval", [dict(ROW, dataset="pages")] * 7).json()["ids"]
        s.wait_status(ids)
        p1 = s.get("/api/eval?dataset=pages&limit=3").json()
        p2 = s.get(f"/api/eval?dataset=pages&limit=3&before={p1['next_before']}").json()
        p3 = s.get(f"/api/eval?dataset=pages&limit=3&before={p2['next_before']}").json()
        got = [i["id"] for p in (p1, p2, p3) for i in p["items"]]
        tap.eq(got, sorted(ids, reverse=True), "GET /api/eval pages newest first with before=")
        tap.eq(p3.get("next_before"), None, "the last page has no next_before")
        tap.ok(all(i["status"] == "done" and "token_f1" in i["scores"] for i in p1["items"]), "list items carry status and scores", p1)
        d = s.get("/api/eval?status=done&limit=500").json()
        tap.ok(d["count"] > 0 and all(i["status"] == "done" for i in d["items"]), "status= filters", d["count"])
        check_error(s, s.get("/api/eval?status=bogus"), 400, "invalid_query", "status", "a bad status filter")
        check_error(s, s.get("/api/eval?limit=0"), 400, "invalid_query", "limit", "limit=0")
        check_error(s, s.get("/api/eval?limit=100000"), 400, "invalid_query", "limit", "limit over limits.max_list")

        # ---- summary ----
        sm = s.get("/api/summary?dataset=pages").json()
        tf = sm["metrics"].get("token_f1", {})
        tap.ok(sm["counts"]["done"] == 7 and tf.get("n") == 7 and tf.get("nulls") == 0 and isinstance(tf.get("mean"), float)
               and sum(tf.get("histogram", [])) == 7, "GET /api/summary?dataset= counts, means, nulls, histogram", sm)
        want = s.query("SELECT avg(score) FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id "
                       "WHERE e.dataset = 'pages' AND metric = 'token_f1'")[0][0]
        tap.ok(abs(tf.get("mean", -1) - want) < 1e-9, "the summary mean equals the SQL mean", (tf, want))
        all_ = s.get("/api/summary").json()
        tap.ok(all_["metrics"]["token_f1"]["nulls"] >= 1, "nulls are counted apart in the summary", all_["metrics"].get("token_f1"))

        # ---- health ----
        h = s.get("/api/health").json()
        tap.ok(h["status"] == "ok" and h["judge"]["backend"] == "builtin" and h["judge"]["state"] == "ready"
               and h["workers"] == 2 and set(h["queue"]) == {"queued", "running", "done", "failed"}
               and "token_f1" in h["judge"]["metrics"], "GET /api/health", h)
        tap.eq(s.get("/api/ping").status, 200, "GET /api/ping")

        # ---- admin routes ----
        r = s.post(f"/api/eval/{rid}/retry", headers=ADMIN)
        tap.ok(r.status == 200 and r.json()["status"] in ("queued", "running", "done"), "POST /api/eval/{id}/retry requeues a done row", r)
        s.wait_status([rid])
        r = s.request("DELETE", f"/api/eval/{rid}", headers=ADMIN)
        tap.ok(r.status == 204 and s.get(f"/api/eval/{rid}").status == 404, "DELETE /api/eval/{id}", r)
        tap.eq(s.query("SELECT count(*) FROM evaluation_scores WHERE evaluation_id = ?", (rid,))[0][0], 0,
               "its scores go with it")


tap.run(main)
