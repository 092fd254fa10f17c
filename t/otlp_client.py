"""A real OpenTelemetry client against ragrade's decoders: the JavaScript
SDK (t/otlp, npm) exports a small fake RAG pipeline's traces with
OpenInference, OpenLLMetry and OpenTelemetry GenAI attributes, in protobuf
and JSON, gzip'd or not, to a loopback sink (t/otlp/capture.py); each body
goes through t/unit/otlp_dump (otlp_decode + trace_assemble) and the rows
must hold what the client says it sent: question, answer, contexts in rank
order, trace and span ids, dataset and run from the resource. (Through
nginx and the pool once POST /v1/traces is routed.)"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "otlp"))
import tap  # noqa: E402
from harness import SRCDIR  # noqa: E402

BUILDDIR = os.environ.get("RAGRADE_BUILDDIR") or SRCDIR
DUMP = os.path.join(BUILDDIR, "t", "unit", "otlp_dump")
SDK = os.path.join(SRCDIR, "t", "otlp", "node_modules", "@opentelemetry", "sdk-trace-base")


def check(convention, proto, gzip, traces):
    from capture import capture
    args = ["--proto" if proto else "--json", "--convention", convention, "--traces", str(traces),
            "--service", f"svc-{convention}", "--version", "2.5"]
    if gzip:
        args.append("--gzip")
    name = f"{convention} {'protobuf' if proto else 'JSON'}{' gzip' if gzip else ''}"
    sent, bodies = capture(args)
    rows = {}
    for ct, ce, body in bodies:
        tap.ok(ct.startswith("application/x-protobuf" if proto else "application/json")
               and (ce == "gzip") == gzip, f"{name}: the client sent {ct!r}, encoding {ce!r}")
        p = subprocess.run([DUMP, ct, ce], input=body, capture_output=True, timeout=60)
        out = json.loads(p.stdout)
        tap.ok(out["status"] == 0 and out["rejected"] == 0, f"{name}: the body decodes",
               p.stdout[-500:])
        for r in out["rows"]:
            rows[r["trace_id"]] = r
    want = {t["trace_id"]: t for t in sent["traces"]}
    bad = []
    for tid, t in want.items():
        r = rows.get(tid)
        exp = {"outcome": "row", "span_id": t["root_span_id"], "question": t["question"],
               "answer": t["answer"], "contexts": t["contexts"], "dataset": f"svc-{convention}",
               "run": "2.5"}
        got = {k: r.get(k) for k in exp} if r else None
        if got != exp:
            bad.append(f"{tid}: want {exp}\n got {got}")
    tap.ok(len(rows) == len(want) and not bad,
           f"{name}: {len(want)} traces, each one row with its question, contexts in order, answer",
           "\n".join(bad[:3]))


def main():
    if not os.access(DUMP, os.X_OK):
        tap.skip_all(f"{DUMP} not built (make check builds it)")
    if not os.path.isdir(SDK):
        tap.skip_all("t/otlp/node_modules is missing (npm install in t/otlp)")
    for convention in ("openinference", "openllmetry", "genai"):
        for proto in (True, False):
            check(convention, proto, False, 3)
    check("openinference", True, True, 20)
    check("openllmetry", False, True, 5)


tap.run(main)
