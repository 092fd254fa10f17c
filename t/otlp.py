"""POST /v1/traces end to end, through nginx and the pool: the OpenTelemetry
JavaScript SDK (t/otlp, npm; protobuf and JSON exporters, gzip too) exports
OpenInference, OpenLLMetry and OpenTelemetry GenAI traces of a small fake
RAG pipeline, and each trace becomes one row with its question, contexts in
rank order and answer, its trace and span ids, graded by the built-in
judge. Then OTLP JSON bodies made here (stdlib): a trace split over three
exports in shuffled order, a duplicate export (one row), a gzip'd body, a
chunked body without Content-Length, malformed protobuf and JSON (400,
nothing stored), sampling at 0.25 over 4,000 traces (the rows are exactly
the traces the TraceIdRatioBased rule keeps, written here from the
specification; their share within 4 sigma of 0.25; a second export of the
same traces adds none), nginx's rate limit (429 with Retry-After, JSON), and
a full disk (503 with Retry-After; the exporter's retry once space returns
loses nothing; needs root for the tmpfs)."""
import errno
import gzip
import http.client
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fcgi  # noqa: E402
import tap  # noqa: E402
from harness import SRCDIR, Server, wait_for  # noqa: E402

EXPORT = os.path.join(SRCDIR, "t", "otlp", "export.mjs")
SDK = os.path.join(SRCDIR, "t", "otlp", "node_modules", "@opentelemetry", "sdk-trace-base")
INGEST = {"RAGRADE_INGEST_ENABLED": "yes", "RAGRADE_INGEST_ASSEMBLE_MS": "2000"}
PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


# ---- OTLP JSON made here ----

def attrs(d):
    return [{"key": k, "value": {"stringValue": v}} for k, v in d.items()]


def span(tid, sid, parent, name, a, start):
    s = {"traceId": tid, "spanId": sid, "name": name, "kind": 1,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1000), "attributes": attrs(a)}
    if parent:
        s["parentSpanId"] = parent
    return s


def body(spans, service="hand"):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": attrs({"service.name": service, "service.version": "7"})},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}).encode()


def rag_trace(tid, i):
    """An OpenInference trace of three spans: root CHAIN, RETRIEVER, LLM."""
    root, ret, llm = os.urandom(8).hex(), os.urandom(8).hex(), os.urandom(8).hex()
    t0 = 1_700_000_000_000_000_000 + i * 10_000
    q, a = f"hand question {i}?", f"hand answer {i}."
    ctx = [f"hand context {i}.{n}" for n in range(3)]
    docs = {f"retrieval.documents.{n}.document.content": c for n, c in enumerate(ctx)}
    spans = [span(tid, root, None, "rag", {"openinference.span.kind": "CHAIN", "input.value": q,
                                             "output.value": a}, t0),
             span(tid, ret, root, "retrieve", {"openinference.span.kind": "RETRIEVER", **docs}, t0 + 10),
             span(tid, llm, root, "llm", {"openinference.span.kind": "LLM"}, t0 + 20)]
    return spans, {"question": q, "answer": a, "contexts": ctx, "span_id": root}


def row_of(s, tid):
    rows = s.query("SELECT id, question, answer, contexts, span_id, status, dataset FROM evaluations "
                   "WHERE trace_id = ?", (tid,))
    return [dict(r) for r in rows]


def count(s, sql, args=()):
    return s.query(sql, args)[0][0]


def counter(s, name):
    r = s.query("SELECT value FROM ingest_counters WHERE name = ?", (name,))
    return r[0][0] if r else 0


# ---- the JavaScript SDK ----

def sdk(s, convention, proto, gz, traces):
    name = f"{convention} {'protobuf' if proto else 'JSON'}{' gzip' if gz else ''}"
    args = ["node", EXPORT, f"http://127.0.0.1:{s.port}/v1/traces", "--proto" if proto else "--json",
            "--convention", convention, "--traces", str(traces), "--service", f"svc-{convention}"]
    if gz:
        args.append("--gzip")
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    out = json.loads(p.stdout or '{"traces": [], "result": "no output"}')
    tap.ok(out["result"] == "ok", f"{name}: the SDK's export through nginx succeeded", out["result"] + p.stderr[-500:])
    want = {t["trace_id"]: t for t in out["traces"]}
    try:
        wait_for(lambda: count(s, "SELECT count(*) FROM evaluations WHERE status = 'done' AND trace_id IN (%s)"
                               % ",".join("?" * len(want)), list(want)) == len(want), 60, f"{name} rows graded")
    except TimeoutError as e:
        tap.diag(f"{e}\n{s.log()[-2000:]}")
    bad = []
    for tid, t in want.items():
        rows = row_of(s, tid)
        exp = [{"question": t["question"], "answer": t["answer"], "contexts": t["contexts"],
                "span_id": t["root_span_id"], "status": "done", "dataset": f"svc-{convention}"}]
        got = [{k: (json.loads(r[k]) if k == "contexts" else r[k]) for k in exp[0]} for r in rows]
        if got != exp:
            bad.append(f"{tid}: want {exp}\n got {got}")
    tap.ok(not bad, f"{name}: {len(want)} traces, each one graded row with its question, contexts in order, "
           "answer, root span", "\n".join(bad[:3]))
    return want


def api_shows(s, want):
    tid, t = next(iter(want.items()))
    rid = row_of(s, tid)[0]["id"]
    j = s.get(f"/api/eval/{rid}").json()
    tap.ok(j.get("trace_id") == tid and j.get("span_id") == t["root_span_id"] and j.get("scores"),
           "GET /api/eval/{id} shows trace_id, span_id and the scores", j)
    items = s.get("/api/eval?limit=100").json()["items"]
    tap.ok(any(i.get("trace_id") == tid for i in items), "the list shows trace_id")
    h = s.get("/api/health").json()
    tap.eq(h.get("ingest"), {"enabled": True, "trace_url": "http://jaeger.test/trace/{trace_id}"},
           "/api/health gives the page ingest.trace_url")


# ---- hand-made bodies ----

def split_and_duplicate(s):
    tid = os.urandom(16).hex()
    spans, exp = rag_trace(tid, 1)
    order = [1, 0, 2]                  # retriever, root, llm: not in start order
    for k in order:
        r = s.post("/v1/traces", body([spans[k]]), headers=JS)
        tap.eq(r.status, 200, f"split trace: export of span {k} answers 200")
    r = s.post("/v1/traces", body(spans), headers=JS)
    tap.eq(r.status, 200, "split trace: the whole trace exported again (a retry) answers 200")
    wait_for(lambda: count(s, "SELECT count(*) FROM traces_done WHERE trace_id = ?", (tid,)) == 1, 30, "assembly")
    rows = row_of(s, tid)
    tap.ok(len(rows) == 1 and rows[0]["question"] == exp["question"] and rows[0]["answer"] == exp["answer"]
           and json.loads(rows[0]["contexts"]) == exp["contexts"] and rows[0]["span_id"] == exp["span_id"],
           "a trace over three shuffled exports and a duplicate: one row, contexts in rank order", rows)
    dup = counter(s, "spans_duplicate")
    tap.ok(dup >= 3, f"the duplicate spans were counted ({dup})")
    late0 = counter(s, "spans_late")
    r = s.post("/v1/traces", body(spans), headers=JS)
    tap.ok(r.status == 200 and counter(s, "spans_late") == late0 + 3 and len(row_of(s, tid)) == 1
           and count(s, "SELECT count(*) FROM traces_pending WHERE trace_id = ?", (tid,)) == 0,
           "the same export after assembly: 200, counted late, still one row")


def encodings(s):
    tid = os.urandom(16).hex()
    spans, exp = rag_trace(tid, 2)
    r = s.post("/v1/traces", gzip.compress(body(spans)), headers={**JS, "Content-Encoding": "gzip"})
    tap.eq(r.status, 200, "a gzip'd JSON export answers 200")
    tid2 = os.urandom(16).hex()
    spans2, exp2 = rag_trace(tid2, 3)
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.request("POST", "/v1/traces", body=iter([body(spans2)[:50], body(spans2)[50:]]), headers=JS,
              encode_chunked=True)
    r = c.getresponse()
    st, ct, rb = r.status, r.getheader("Content-Type"), r.read()
    c.close()
    tap.ok(st == 200 and ct.startswith("application/json") and json.loads(rb) == {},
           "a chunked export without Content-Length answers 200 with an ExportTraceServiceResponse",
           f"{st} {ct} {rb[:200]!r}")
    wait_for(lambda: len(row_of(s, tid)) == 1 and len(row_of(s, tid2)) == 1, 30, "rows of gzip and chunked")
    tap.ok(row_of(s, tid)[0]["question"] == exp["question"] and row_of(s, tid2)[0]["answer"] == exp2["answer"],
           "the gzip'd and the chunked traces became their rows")


def no_length(s, body, ctype="application/json"):
    """POST /v1/traces straight to the pool's socket without CONTENT_LENGTH,
    as nginx passes a chunked body with fastcgi_request_buffering off."""
    c = fcgi.Conn(os.path.join(s.data, "ragrade.sock"))
    params = {"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/v1/traces", "REQUEST_URI": "/v1/traces",
              "QUERY_STRING": "", "CONTENT_TYPE": ctype, "SERVER_PROTOCOL": "HTTP/1.1"}
    out = fcgi._record(fcgi.BEGIN, struct.pack(">HB5x", 1, 0))
    out += fcgi._record(fcgi.PARAMS, b"".join(fcgi._pair(k, v) for k, v in params.items()))
    out += fcgi._record(fcgi.PARAMS)
    for i in range(0, len(body), 32768):
        out += fcgi._record(fcgi.STDIN, body[i:i + 32768])
    out += fcgi._record(fcgi.STDIN)
    try:
        c.sock.sendall(out)
    except OSError:
        pass                         # an oversized body: the answer came first
    try:
        return c.response()
    finally:
        c.close()


def without_length(s):
    tid = os.urandom(16).hex()
    spans, exp = rag_trace(tid, 5)
    st, _, rb = no_length(s, body(spans) + b" " * 100000)
    tap.ok(st == 200 and json.loads(rb) == {}, "no CONTENT_LENGTH: the body is read to its end (200)", rb[:200])
    wait_for(lambda: len(row_of(s, tid)) == 1, 30, "the row of a body without CONTENT_LENGTH")
    tap.eq(json.loads(row_of(s, tid)[0]["contexts"]), exp["contexts"], "its row has its contexts")
    st, _, rb = no_length(s, b"{" + b" " * (1 << 20) + b"}")
    tap.eq(st, 413, "no CONTENT_LENGTH and over limits.max_otlp_body: 413")


def malformed(s):
    spans0 = count(s, "SELECT count(*) FROM spans")
    rows0 = count(s, "SELECT count(*) FROM evaluations")
    recv0 = counter(s, "spans_received")
    r = s.post("/v1/traces", b"\x0a\xff\xff\xff\xff\x0f\x12", headers=PB)
    tap.ok(r.status == 400 and r.headers.get("content-type", "").startswith("application/x-protobuf"),
           "malformed protobuf: 400 with a protobuf Status", r)
    r = s.post("/v1/traces", b'{"resourceSpans": [{"scopeSpans": [', headers=JS)
    j = json.loads(r.body) if r.status == 400 else {}
    tap.ok(r.status == 400 and isinstance(j.get("message"), str) and j["message"],
           "malformed JSON: 400 with a Status message", r)
    r = s.post("/v1/traces", b"<xml/>", headers={"Content-Type": "text/xml"})
    tap.eq(r.status, 415, "another content type: 415")
    tap.ok(count(s, "SELECT count(*) FROM spans") == spans0 and count(s, "SELECT count(*) FROM evaluations") == rows0
           and counter(s, "spans_received") == recv0, "nothing stored for the malformed bodies")


# ---- sampling ----

def sampled(tid, rate):
    """OpenTelemetry's TraceIdRatioBased with W3C random trace ids: the low
    56 bits R, sampled iff R >= (1 - rate) * 2^56."""
    return int(tid[18:], 16) >= int((1 - rate) * 2 ** 56)


def sampling():
    n, rate = 4000, 0.25
    env = {**INGEST, "RAGRADE_INGEST_SAMPLE_RATE": str(rate), "RAGRADE_INGEST_ASSEMBLE_MS": "200"}
    with Server(env=env, workers=2) as s:
        rnd = random.Random(17)
        tids = ["%032x" % rnd.getrandbits(128) for _ in range(n)]
        roots = {}
        bodies = []
        for b0 in range(0, n, 500):
            spans = []
            for i in range(b0, b0 + 500):
                roots[tids[i]] = "%016x" % rnd.getrandbits(64)
                spans.append(span(tids[i], roots[tids[i]], None, "q", {
                    "openinference.span.kind": "CHAIN", "input.value": f"sampled question {i}",
                    "output.value": f"sampled answer {i}"}, 1_700_000_000_000_000_000 + i))
            bodies.append(body(spans, "sampling"))
        for b in bodies:
            tap.eq(s.post("/v1/traces", b, headers=JS).status, 200, "a batch of 500 traces answers 200")
        want = {t for t in tids if sampled(t, rate)}
        wait_for(lambda: count(s, "SELECT count(*) FROM traces_pending") == 0 and
                 count(s, "SELECT count(*) FROM traces_done") == len(want), 60, "every kept trace assembled")
        got = {r[0] for r in s.query("SELECT trace_id FROM evaluations")}
        tap.ok(got == want, f"the rows are exactly the traces the rule keeps ({len(got)} of {n})",
               f"missing {len(want - got)}, extra {len(got - want)}")
        sd = math.sqrt(n * rate * (1 - rate))
        tap.ok(abs(len(got) - n * rate) <= 4 * sd,
               f"share {len(got) / n:.4f} within 4 sigma of {rate} ({len(got)} vs {n * rate:.0f} +- {4 * sd:.0f})")
        tap.eq(counter(s, "spans_sampled_out"), n - len(want), "sampled-out spans counted")
        for b in bodies:
            s.post("/v1/traces", b, headers=JS)
        tap.ok(count(s, "SELECT count(*) FROM traces_pending") == 0 and
               {r[0] for r in s.query("SELECT trace_id FROM evaluations")} == want and
               counter(s, "spans_late") == len(want) and counter(s, "spans_sampled_out") == 2 * (n - len(want)),
               "a second export of the same traces: the same ones kept (late, no new row), the same ones sampled out")


# ---- nginx's rate limit ----

def rate_limit():
    with Server(env=INGEST, workers=1, otlp_rate="1r/m", otlp_burst=1) as s:
        tid = os.urandom(16).hex()
        spans, _ = rag_trace(tid, 4)
        first = s.post("/v1/traces", body(spans), headers=JS)     # the rate's request
        s.post("/v1/traces", body(spans), headers=JS)             # the burst of 1
        second = s.post("/v1/traces", body(spans), headers=JS)
        j = json.loads(second.body) if second.status == 429 else {}
        tap.ok(first.status == 200 and second.status == 429 and second.headers.get("retry-after")
               and j.get("error", {}).get("code") == "rate_limited",
               "nginx's rate limit on /v1/traces: 429, Retry-After, JSON", f"{first} {second} {second.headers}")
        tap.eq(s.get("/api/health").status, 200, "the API's own budget is untouched")


# ---- a full disk ----

def fill(path, chunk=16384):
    with open(path, "wb", buffering=0) as f:
        buf = b"\0" * chunk
        while True:
            try:
                f.write(buf)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk > 512:
                    chunk //= 4
                    buf = b"\0" * chunk
                    continue
                return


def disk_full():
    if os.geteuid() != 0:
        tap.ok(True, "full disk: skipped (needs root to mount a tmpfs)")
        return
    top = tempfile.mkdtemp(prefix="ragrade-otlpfull-")
    os.chmod(top, 0o755)
    mnt = os.path.join(top, "mnt")
    os.makedirs(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        tap.ok(True, f"full disk: skipped (mount failed: {p.stderr.strip()})")
        return
    s = None
    try:
        s = Server(data=os.path.join(mnt, "data"), workers=1, env=INGEST)
        s.pool_log = os.path.join(top, "pool.log")
        s.start()
        accepted, refused = [], None
        for i in range(10):                  # pending when the disk fills
            tid = os.urandom(16).hex()
            if s.post("/v1/traces", body(rag_trace(tid, i)[0]), headers=JS).status == 200:
                accepted.append(tid)
        tap.eq(len(accepted), 10, "full disk: 10 traces exported before the disk fills")
        filler = os.path.join(mnt, "filler")
        fill(filler)
        for i in range(300):
            tid = os.urandom(16).hex()
            spans, _ = rag_trace(tid, 100 + i)
            r = s.post("/v1/traces", body(spans), headers=JS)
            if r.status == 200:
                accepted.append(tid)
                continue
            refused = (tid, spans, r)
            break
        tap.ok(refused and refused[2].status == 503 and refused[2].headers.get("retry-after"),
               "full disk: an export answers 503 with Retry-After", refused and refused[2])
        os.unlink(filler)
        if refused:
            r = s.post("/v1/traces", body(refused[1]), headers=JS)
            tap.eq(r.status, 200, "once space returns, the exporter's retry answers 200")
            accepted.append(refused[0])
        wait_for(lambda: count(s, "SELECT count(DISTINCT trace_id) FROM evaluations WHERE trace_id IN (%s)"
                               % ",".join("?" * len(accepted)), accepted) == len(accepted), 60, "rows")
        tap.ok(True, f"full disk: every trace accepted ({len(accepted)}) became its row")
        tap.eq(s.query("PRAGMA integrity_check")[0][0], "ok", "full disk: the database is intact")
    finally:
        if s:
            s.stop()
        subprocess.run(["umount", "-l", mnt])
        subprocess.run(["rm", "-rf", top])


def main():
    if not os.path.isdir(SDK):
        tap.skip_all("t/otlp/node_modules is missing (npm install in t/otlp)")
    env = {**INGEST, "RAGRADE_INGEST_TRACE_URL": "http://jaeger.test/trace/{trace_id}",
           "RAGRADE_LIMITS_MAX_OTLP_BODY": str(1 << 20)}
    with Server(env=env, workers=2) as s:
        r = s.post("/v1/traces", b"", headers={**PB, "Content-Length": "0"})
        tap.eq(r.status, 200, "an empty protobuf export answers 200")
        want = sdk(s, "openinference", True, False, 5)
        sdk(s, "openinference", False, False, 3)
        sdk(s, "openllmetry", True, False, 3)
        sdk(s, "openllmetry", False, True, 3)
        sdk(s, "genai", True, True, 3)
        api_shows(s, want)
        split_and_duplicate(s)
        encodings(s)
        malformed(s)
        without_length(s)
        m = s.get("/api/metrics").body.decode()
        tap.ok('ragrade_ingest_traces_total{outcome="row"}' in m and
               'ragrade_ingest_spans_total{result="duplicate"}' in m, "/api/metrics has the ingest counters")
    with Server(env={}, workers=1) as s:
        tap.eq(s.post("/v1/traces", body([]), headers=JS).status, 404, "ingest.enabled = no: 404")
    sampling()
    rate_limit()
    disk_full()


tap.run(main)
