"""Operations end to end, through the real nginx and pool: GET /api/metrics
(Prometheus text that parses, counters that move and survive a worker's
death), GET /api/status, request ids and log lines, bearer tokens (401,
403, the admin switch), CORS on and off, nginx's 429 in JSON, WAL
checkpoints, the database file's mode, and that no API key or raw bearer
token ever shows in a log line, a response body or a header."""
import hashlib
import os
import re
import signal
import sqlite3
import stat
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, FakeLLM, Server, wait_for  # noqa: E402

API_KEY = "sk-secret-XYZ"
TOKENS = {"read": "tok-read-5f1e0c", "submit": "tok-submit-9a7b3d", "admin": "tok-admin-c04d2e",
          "file_admin": "tok-file-admin-77aa01", "file_submit": "tok-file-submit-3b9c",
          # SHA-256 padding edges: 55 and 56 bytes, and more than one block
          "edge55": "e" * 54 + "5", "edge56": "f" * 55 + "6", "long": "L0ng-" * 30}
SECRETS = [API_KEY] + list(TOKENS.values())
ROW_MARKER = "ROWTEXT-MARKER-4711"


def h256(t):
    return "sha256:" + hashlib.sha256(t.encode()).hexdigest()


def bearer(name):
    return {"Authorization": "Bearer " + TOKENS[name]}


SEEN = []   # every response, for the secret check
LEAKS = []  # secrets found in a log


def scan_logs(s):
    """Look for secrets in a server's logs while its directory exists."""
    for name in ("pool.log", "nginx-error.log"):
        try:
            with open(os.path.join(s.data, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        LEAKS.extend((s.data, name, x) for x in SECRETS if x in text)


def req(s, method, path, body=None, headers=None):
    r = s.request(method, path, body=body, headers=headers)
    SEEN.append(r)
    return r


def err(r):
    try:
        return r.json()["error"]
    except Exception:
        return {}


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse_prom(text):
    """Prometheus text 0.0.4 into {(name, frozenset(labels)): value}; raises
    on a line that does not parse or a sample of a family with no TYPE."""
    types, samples = {}, {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            if typ not in ("counter", "gauge", "histogram", "summary", "untyped") or name in types:
                raise ValueError(f"bad TYPE line {line!r}")
            types[name] = typ
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"unparsable line {line!r}")
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and not (base in types and types[base] == "histogram"):
            raise ValueError(f"sample before its TYPE: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (name, labels)
        if key in samples:
            raise ValueError(f"duplicate sample {line!r}")
        samples[key] = float(m.group(3))
    return types, samples


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics(s, who="read"):
    r = req(s, "GET", "/api/metrics", headers=bearer(who))
    return r, parse_prom(r.body.decode())[1]


def check_auth(s):
    r = req(s, "GET", "/api/ping")
    tap.ok(r.status == 200, "ping needs no token", r)
    tap.ok(req(s, "GET", "/api/health").status == 200, "health needs no token")
    # submit
    r = req(s, "POST", "/api/eval", ROW)
    tap.ok(r.status == 401 and err(r).get("code") == "unauthorized" and r.headers.get("content-type", "").startswith("application/json")
           and r.headers.get("www-authenticate", "").startswith("Bearer"), "submit without a token: 401 JSON with WWW-Authenticate", r)
    r = req(s, "POST", "/api/eval", ROW, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    tap.ok(r.status == 401 and err(r).get("code") == "invalid_token", "submit with a malformed Authorization: 401", r)
    r = req(s, "POST", "/api/eval", ROW, headers={"Authorization": "Bearer not-a-known-token"})
    tap.ok(r.status == 401 and err(r).get("code") == "invalid_token" and 'error="invalid_token"' in r.headers.get("www-authenticate", ""),
           "submit with an unknown token: 401 invalid_token", r)
    r = req(s, "POST", "/api/eval", ROW, headers=bearer("read"))
    tap.ok(r.status == 403 and err(r).get("code") == "forbidden", "submit with a read token: 403", r)
    n = s.query("SELECT count(*) FROM evaluations")[0][0]
    tap.eq(n, 0, "refused submits store nothing")
    for who in ("submit", "admin", "file_submit", "edge55", "edge56", "long"):
        r = req(s, "POST", "/api/eval", ROW, headers=bearer(who))
        tap.eq(r.status, 202, f"submit with a {who} token: 202")
    # reads
    r = req(s, "GET", "/api/eval")
    tap.ok(r.status == 401 and err(r).get("code") == "unauthorized", "a read without a token: 401", r)
    for who in ("read", "submit", "admin"):
        tap.eq(req(s, "GET", "/api/eval", headers=bearer(who)).status, 200, f"a read with a {who} token: 200")
    tap.eq(req(s, "GET", "/api/summary").status, 401, "summary without a token: 401")
    tap.eq(req(s, "GET", "/api/metrics").status, 401, "metrics without a token: 401")
    tap.eq(req(s, "GET", "/api/status").status, 401, "status without a token: 401")
    # admin
    rid = req(s, "POST", "/api/eval", dict(ROW, metrics=["token_f1"]), headers=bearer("submit")).json()["id"]
    s.wait_status([rid])
    r = req(s, "POST", f"/api/eval/{rid}/retry")
    tap.ok(r.status == 401 and r.headers.get("www-authenticate", "").startswith("Bearer"), "retry without a token: 401", r)
    r = req(s, "POST", f"/api/eval/{rid}/retry", headers=bearer("submit"))
    tap.ok(r.status == 403 and err(r).get("code") == "forbidden", "retry with a submit token: 403", r)
    r = req(s, "DELETE", f"/api/eval/{rid}", headers=bearer("read"))
    tap.ok(r.status == 403 and err(r).get("code") == "forbidden", "DELETE with a read token: 403", r)
    r = req(s, "POST", f"/api/eval/{rid}/retry", headers=bearer("file_admin"))
    tap.ok(r.status == 200, "retry with an admin token from tokens_file: 200", r)
    s.wait_status([rid])
    tap.ok(re.search(rf"admin POST /api/eval/{rid}/retry by token ops-admin-label", s.log()),
           "the admin action is logged with the token's label", s.log()[-1500:])
    r = req(s, "DELETE", f"/api/eval/{rid}", headers=bearer("admin"))
    tap.ok(r.status == 204 and s.query("SELECT count(*) FROM evaluations WHERE id = ?", (rid,))[0][0] == 0,
           "DELETE with an admin token: 204", r)


def check_cors(s):
    r = req(s, "GET", "/api/ping", headers={"Origin": "https://b.example"})
    tap.ok(r.headers.get("access-control-allow-origin") == "https://b.example" and "Origin" in r.headers.get("vary", ""),
           "a listed origin gets Access-Control-Allow-Origin and Vary: Origin", r.headers)
    r = req(s, "GET", "/api/ping", headers={"Origin": "https://evil.example"})
    tap.ok(not any(k.startswith("access-control-") for k in r.headers), "an unlisted origin gets no Access-Control-* header", r.headers)
    pre = {"Origin": "https://a.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    r = req(s, "OPTIONS", "/api/eval", headers=pre)
    allow_h = r.headers.get("access-control-allow-headers", "").lower()
    tap.ok(r.status == 204 and r.headers.get("access-control-allow-origin") == "https://a.example"
           and "POST" in r.headers.get("access-control-allow-methods", "") and "authorization" in allow_h
           and "content-type" in allow_h, "a preflight from a listed origin: 204 with Access-Control-Allow-*, no token needed", r.headers)
    r = req(s, "OPTIONS", "/api/eval", headers=dict(pre, Origin="https://evil.example"))
    tap.ok(r.status == 204 and not any(k.startswith("access-control-") for k in r.headers),
           "a preflight from an unlisted origin: no Access-Control-* header", r.headers)
    r = req(s, "POST", "/api/eval", ROW, headers=dict(bearer("submit"), Origin="https://a.example"))
    tap.ok(r.status == 202 and r.headers.get("access-control-allow-origin") == "https://a.example",
           "a listed origin's submit carries Access-Control-Allow-Origin", r.headers)


def check_request_ids_and_logs(s):
    r = req(s, "GET", "/api/ping", headers={"X-Request-Id": "client-chosen-id"})
    rid = r.headers.get("x-request-id", "")
    tap.ok(re.fullmatch(r"[0-9a-f]{32}", rid) is not None, "X-Request-Id is nginx's $request_id, not the client's", r.headers)
    r2 = req(s, "GET", "/api/ping")
    tap.ok(r2.headers.get("x-request-id") not in ("", None, rid), "each request has its own id", (rid, r2.headers))
    r = req(s, "POST", "/api/eval", dict(ROW, question=ROW_MARKER, colour="red"), headers=bearer("submit"))
    rid = r.headers.get("x-request-id", "")
    tap.eq(r.status, 400, "a bad row: 400")
    line = wait_for(lambda: next((ln for ln in s.log().splitlines() if f"request {rid}:" in ln), None), 10, "the 400 line")
    tap.ok(re.search(r"\[\d+\] request [0-9a-f]{32}: POST /api/eval 400 invalid_request [0-9.]+ ms$", line),
           "a 4xx answer logs one line: pid, request id, method, path, status, code, duration", line)
    tap.ok(ROW_MARKER not in s.log(), "row text is not logged at info")
    r = req(s, "GET", "/api/eval", headers=bearer("read") | {"Authorization": "Bearer wrong-one"})
    rid = r.headers.get("x-request-id", "")
    line = wait_for(lambda: next((ln for ln in s.log().splitlines() if f"request {rid}:" in ln), None), 10, "the 401 line")
    tap.ok(" 401 invalid_token " in line and "wrong-one" not in line, "a 401 is logged without the token", line)
    # a slow request: the write lock held past the busy timeout (300 ms > slow_request_ms 100)
    lock = sqlite3.connect(os.path.join(s.data, "ragrade.db"), timeout=5)
    lock.execute("BEGIN IMMEDIATE")
    r = req(s, "POST", "/api/eval", ROW, headers=bearer("submit"))
    lock.rollback()
    lock.close()
    rid = r.headers.get("x-request-id", "")
    tap.eq(r.status, 503, "a submit that waits out the busy timeout: 503")
    # the access line (the committer may log why the rows were not stored before it)
    line = wait_for(lambda: next((ln for ln in s.log().splitlines() if f"request {rid}: POST " in ln), None), 10,
                    "the slow line")
    tap.ok(re.search(r" warn \[\d+\] request [0-9a-f]{32}: POST /api/eval 503 database_busy [0-9.]+ ms \(slow\)$", line),
           "a slow 5xx answer logs a warn line marked slow", line)
    return rid


def check_metrics_and_status(s, fake):
    r, m0 = metrics(s)
    tap.ok(r.status == 200 and r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
           "GET /api/metrics: 200 text/plain; version=0.0.4", r)
    try:
        types, _ = parse_prom(r.body.decode())
        tap.ok(True, "the metrics parse as Prometheus text")
    except ValueError as e:
        tap.ok(False, "the metrics parse as Prometheus text", e)
        types = {}
    want = {"ragrade_http_requests_total": "counter", "ragrade_submit_duration_seconds": "histogram",
            "ragrade_queue_rows": "gauge", "ragrade_queue_oldest_age_seconds": "gauge", "ragrade_scores": "gauge",
            "ragrade_judge_calls_total": "counter", "ragrade_judge_errors_total": "counter",
            "ragrade_judge_retries_total": "counter", "ragrade_tokens": "gauge", "ragrade_judge_inflight": "gauge",
            "ragrade_pool_worker_restarts_total": "counter", "ragrade_pool_threads": "gauge",
            "ragrade_pool_accepted_requests_total": "counter", "ragrade_pool_saturated_total": "counter",
            "ragrade_pool_slow_requests_total": "counter", "ragrade_worker_start_time_seconds": "gauge",
            "ragrade_worker_judge_state": "gauge", "ragrade_wal_checkpoints_total": "counter",
            "ragrade_wal_restarts_total": "counter"}
    tap.ok(all(types.get(k) == v for k, v in want.items()), "every family is there with its type",
           {k: types.get(k) for k, v in want.items() if types.get(k) != v})
    tap.eq(val(m0, "ragrade_db_up"), 1.0, "ragrade_db_up 1")
    tap.eq(val(m0, "ragrade_pool_workers"), 2.0, "two workers")
    tap.ok(val(m0, "ragrade_pool_slow_requests_total") >= 1, "the slow request is counted", val(m0, "ragrade_pool_slow_requests_total"))
    # counters move by exactly what we do
    ids = []
    for _ in range(3):
        ids.append(req(s, "POST", "/api/eval", dict(ROW, metrics=["faithfulness"]), headers=bearer("submit")).json()["id"])
    req(s, "POST", "/api/eval", ROW)                                   # 401
    req(s, "GET", "/api/eval/999999", headers=bearer("read"))          # 404
    s.wait_status(ids)
    _, m1 = metrics(s)
    d = lambda name, **lb: val(m1, name, **lb) - val(m0, name, **lb)   # noqa: E731
    tap.eq(d("ragrade_http_requests_total", route="submit", code="202"), 3.0, "submit 202 counter moved by 3")
    tap.eq(d("ragrade_http_requests_total", route="submit", code="401"), 1.0, "submit 401 counter moved by 1")
    tap.eq(d("ragrade_http_requests_total", route="get", code="404"), 1.0, "get 404 counter moved by 1")
    tap.eq(d("ragrade_http_requests_total", route="metrics", code="200"), 1.0, "the metrics scrape is counted")
    tap.eq(d("ragrade_submit_duration_seconds_count"), 4.0, "the submit histogram counts every submit")
    tap.eq(val(m1, "ragrade_submit_duration_seconds_bucket", le="+Inf"), val(m1, "ragrade_submit_duration_seconds_count"),
           "the +Inf bucket equals the count")
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m1.items() if k[0] == "ragrade_submit_duration_seconds_bucket")
    tap.ok(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and len(buckets) >= 10, "buckets are cumulative", buckets)
    tap.ok(d("ragrade_judge_calls_total") >= 3, "judge calls moved", d("ragrade_judge_calls_total"))
    tap.ok(val(m1, "ragrade_scores", metric="faithfulness", outcome="scored") >= 3, "scores by metric and outcome",
           [k for k in m1 if k[0] == "ragrade_scores"])
    db_tokens = s.query("SELECT total(prompt_tokens), total(completion_tokens) FROM evaluations")[0]
    tap.ok(val(m1, "ragrade_tokens", kind="prompt") == db_tokens[0] > 0 and val(m1, "ragrade_tokens", kind="completion") == db_tokens[1],
           "token totals equal the database's", (db_tokens, val(m1, "ragrade_tokens", kind="prompt")))
    # Rows may still finish while we look: the scrape must fall between two
    # readings of the database taken around it (done only grows here).
    done = "SELECT count(*) FROM evaluations WHERE status = 'done'"
    before = s.query(done)[0][0]
    _, mq = metrics(s)
    after = s.query(done)[0][0]
    tap.ok(before <= val(mq, "ragrade_queue_rows", status="done") <= after,
           "queue rows by status equal the database's", (before, val(mq, "ragrade_queue_rows", status="done"), after))
    tap.eq(val(m1, "ragrade_queue_oldest_age_seconds"), 0.0, "no queued row: oldest age 0")
    # status
    r = req(s, "GET", "/api/status", headers=bearer("read"))
    st = r.json()
    pids = sorted(s.worker_pids())
    tap.ok(r.status == 200 and st["workers"] == 2 and sorted(p["pid"] for p in st["processes"]) == pids
           and all(p["threads"] == 4 and p["active_threads"] + p["idle_threads"] == 4 and p["start_time"].endswith("Z")
                   and p["judge"]["state"] in ("uninitialized", "initializing", "ready", "failed")
                   and "accepted" in p and "saturated" in p and "slow_requests" in p
                   for p in st["processes"])
           # light traffic may all reach one worker, whose judge alone has started
           and any(p["judge"]["state"] == "ready" for p in st["processes"])
           and st["accepted"] >= 1 and st["slow_requests"] >= 1,
           "GET /api/status: per worker pid, start time, threads active and idle, accepted, saturated, slow, judge", st)
    tap.ok(st["active_threads"] >= 1, "the status request itself holds an active thread", st["active_threads"])
    return m1


def check_restart(s, m1):
    procs = req(s, "GET", "/api/status", headers=bearer("read")).json()["processes"]
    victim = max(procs, key=lambda p: p["accepted"])
    tap.ok(victim["accepted"] > 0, "the worker to kill has served requests", procs)
    _, m2 = metrics(s)
    os.kill(victim["pid"], signal.SIGKILL)
    # One reading of the children: two, neither of them the victim, means
    # the master has reaped it and forked its successor, and it counts the
    # restart before it forks. (Two readings could see the victim still
    # there, then gone before the successor came.)
    def respawned():
        pids = s.worker_pids()
        if len(pids) != 2 or victim["pid"] in pids:
            return False
        st = req(s, "GET", "/api/status", headers=bearer("read")).json()
        return sorted(p["pid"] for p in st["processes"]) == sorted(pids)
    wait_for(respawned, 20, "the respawn")
    _, m3 = metrics(s)
    tap.eq(val(m3, "ragrade_pool_worker_restarts_total") - val(m2, "ragrade_pool_worker_restarts_total"), 1.0,
           "worker_restarts moved by one")
    back = [k for k, v in m2.items() if k[0].endswith("_total") and val(m3, k[0], **dict(k[1])) < v]
    tap.ok(not back and val(m3, "ragrade_pool_accepted_requests_total") > val(m2, "ragrade_pool_accepted_requests_total"),
           "no counter went backwards when a worker died", back)
    tap.eq(val(m3, "ragrade_http_requests_total", route="submit", code="202"),
           val(m2, "ragrade_http_requests_total", route="submit", code="202"), "the dead worker's submits are still counted")


def check_llm_failures(s, fake):
    # the endpoint echoes the key in an error (OpenAI does, masked): it must never reach us
    fake.control(faults=[{"mode": "status", "status": 401, "match": "statements",
                          "message": f"Incorrect API key provided: {API_KEY}"},
                         {"mode": "status", "status": 500, "match": "statements", "message": f"upstream {API_KEY}"}])
    a = req(s, "POST", "/api/eval", dict(ROW, metrics=["faithfulness"]), headers=bearer("submit")).json()["id"]
    s.wait_status([a], ("done", "failed"))
    r = req(s, "GET", f"/api/eval/{a}", headers=bearer("read"))
    tap.ok(r.status == 200 and r.json()["status"] in ("failed", "done"), "a row whose judge call failed", r)
    last = fake.stats()["last"]
    tap.ok(any(x.get("authorization") == "Bearer " + API_KEY for x in last), "the fake LLM did receive the key",
           [x.get("authorization") for x in last][-3:])


def check_checkpoints(s):
    ids = req(s, "POST", "/api/eval", [dict(ROW, metrics=["token_f1"])] * 50, headers=bearer("submit")).json()["ids"]
    s.wait_status(ids)

    def moved():
        return val(metrics(s)[1], "ragrade_wal_checkpoints_total") > 0
    tap.ok(wait_for(moved, 10, "a checkpoint"), "the schedulers checkpoint the WAL")


def secret_check():
    leaks = list(LEAKS)
    for r in SEEN:
        blob = r.body.decode("utf-8", "replace") + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        leaks += [(r.status, x) for x in SECRETS if x in blob]
    tap.ok(len(SEEN) > 50, "responses were collected for the secret check", len(SEEN))
    tap.ok(not leaks, "no API key and no raw bearer token in any log line, response body or header", leaks[:5])


def main():
    tmp = tempfile.TemporaryDirectory(prefix="ragrade-ops-")
    tokens_file = os.path.join(tmp.name, "tokens")
    with open(tokens_file, "w") as f:
        f.write("# role hash label\n")
        f.write(f"admin {h256(TOKENS['file_admin'])} ops-admin-label\n")
        f.write(f"submit {h256(TOKENS['file_submit'])}\n")
        for name in ("edge55", "edge56", "long"):
            f.write(f"  submit   {h256(TOKENS[name])}   {name} token  \n")
    with FakeLLM() as fake:
        env = fake.env(RAGRADE_API_KEY=API_KEY, RAGRADE_JUDGE_MAX_RETRIES="1", RAGRADE_JUDGE_MAX_ATTEMPTS="1",
                       RAGRADE_JUDGE_BACKOFF_BASE_MS="10", RAGRADE_JUDGE_BACKOFF_MAX_MS="20",
                       RAGRADE_AUTH_READ_TOKENS=h256(TOKENS["read"]),
                       RAGRADE_AUTH_SUBMIT_TOKENS=h256(TOKENS["submit"]),
                       RAGRADE_AUTH_ADMIN_TOKENS=h256("some-other-admin") + ", " + h256(TOKENS["admin"]),
                       RAGRADE_AUTH_TOKENS_FILE=tokens_file,
                       RAGRADE_SERVER_CORS_ORIGINS="https://a.example https://b.example",
                       RAGRADE_SERVER_SLOW_REQUEST_MS="100", RAGRADE_DB_BUSY_TIMEOUT_MS="300",
                       RAGRADE_DB_CHECKPOINT_PAGES="8")
        with Server(env=env, workers=2, threads=4) as s:
            mode = stat.S_IMODE(os.stat(os.path.join(s.data, "ragrade.db")).st_mode)
            tap.eq(oct(mode), oct(0o640), "the database file is created 0640")
            mode = stat.S_IMODE(os.stat(os.path.join(s.data, "ragrade.db-wal")).st_mode)
            tap.eq(oct(mode), oct(0o640), "and its WAL takes the same mode")
            check_auth(s)
            check_cors(s)
            check_request_ids_and_logs(s)
            m1 = check_metrics_and_status(s, fake)
            check_restart(s, m1)
            check_llm_failures(s, fake)
            check_checkpoints(s)
            s.stop()
            scan_logs(s)
            # ---- no tokens: reads and submits open, admin routes off; CORS off ----
            with Server(workers=1, threads=2) as o:
                tap.eq(req(o, "POST", "/api/eval", ROW).status, 202, "without tokens a submit is open")
                tap.eq(req(o, "GET", "/api/metrics").status, 200, "without tokens metrics are open")
                for h in ({}, bearer("admin")):
                    r = req(o, "DELETE", "/api/eval/1", headers=h)
                    tap.ok(r.status == 403 and err(r).get("code") == "admin_disabled" and "admin_tokens" in err(r).get("message", ""),
                           "without an admin token configured, admin routes answer 403 saying how to configure one"
                           + (" (even with a token)" if h else ""), r)
                r = req(o, "GET", "/api/ping", headers={"Origin": "https://a.example"})
                tap.ok(r.status == 200 and not any(k.startswith("access-control-") or k == "vary" for k in r.headers),
                       "CORS off: no Access-Control-* header", r.headers)
                r = req(o, "OPTIONS", "/api/eval", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"})
                tap.ok(not any(k.startswith("access-control-") for k in r.headers), "CORS off: a preflight gets no Access-Control-*", r.headers)
                o.stop()
                scan_logs(o)
            # ---- rate limit: nginx's 429 in JSON ----
            with Server(workers=1, threads=2, rate=1, burst=1) as q:
                got = None
                for _ in range(50):
                    r = req(q, "GET", "/api/ping")
                    if r.status == 429:
                        got = r
                        break
                tap.ok(got is not None and err(got).get("code") == "rate_limited" and got.headers.get("retry-after")
                       and got.headers.get("content-type", "").startswith("application/json") and got.headers.get("x-request-id"),
                       "past the rate, nginx answers 429 JSON with Retry-After and X-Request-Id", got)
                q.stop()
                scan_logs(q)
            # ---- a bad hash stops the start ----
            b = Server(env={"RAGRADE_AUTH_ADMIN_TOKENS": "sha256:nothex"}, workers=1)
            try:
                b.start_pool()
                tap.ok(False, "a malformed token hash stops the start")
            except RuntimeError as e:
                tap.ok("auth.admin_tokens" in str(e), "a malformed token hash stops the start", e)
            finally:
                b.stop()
                b.tmp.cleanup()
            secret_check()
    tmp.cleanup()


tap.run(main)
