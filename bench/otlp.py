"""OTLP ingestion through nginx and the pool: protobuf export requests of 512
spans (128 OpenInference traces of 4 spans, written by bench/otlp_bench
--bodies) posted by a few keep-alive connections to POST /v1/traces; the
spans per second accepted, then the traces assembled into rows per second
(from the first export to the last row, less ingest.assemble_ms) against
the rate they arrived at. Prints a RESULT line for bench/run.

Usage: bench/otlp.py BUILDDIR [requests] [connections]"""
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "t", "lib"))
from harness import Server, wait_for  # noqa: E402

SPANS, PER_TRACE, ASSEMBLE_MS = 512, 4, 500


def post_all(port, bodies, errors):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for b in bodies:
        c.request("POST", "/v1/traces", body=b, headers={"Content-Type": "application/x-protobuf"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            errors.append(r.status)
    c.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else SRC
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    tmp = tempfile.mkdtemp(prefix="ragrade-otlpb-")
    subprocess.run([os.path.join(build, "bench", "otlp_bench"), "--bodies", tmp, str(n)], check=True)
    bodies = []
    for i in range(n):
        with open(os.path.join(tmp, f"body-{i}.pb"), "rb") as f:
            bodies.append(f.read())
        os.unlink(os.path.join(tmp, f"body-{i}.pb"))
    os.rmdir(tmp)
    env = {"RAGRADE_INGEST_ENABLED": "yes", "RAGRADE_INGEST_ASSEMBLE_MS": str(ASSEMBLE_MS),
           "RAGRADE_INGEST_METRICS": "token_f1"}
    with Server(env=env, workers=2, threads=8) as s:
        errors = []
        threads = [threading.Thread(target=post_all, args=(s.port, bodies[k::conns], errors))
                   for k in range(conns)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t1 = time.monotonic()
        traces = n * SPANS // PER_TRACE
        wait_for(lambda: s.query("SELECT count(*) FROM traces_done")[0][0] >= traces, 600, "assembly", step=0.05)
        t2 = time.monotonic()
        rows = s.query("SELECT count(*) FROM evaluations WHERE trace_id IS NOT NULL")[0][0]
    spans_s = n * SPANS / (t1 - t0)
    arrive = traces / (t1 - t0)
    assembled = traces / max(t2 - t0 - ASSEMBLE_MS / 1000, 1e-3)
    print(f"{n} requests of {SPANS} spans ({len(bodies[0])} bytes) over {conns} connections in {t1 - t0:.2f} s: "
          f"{spans_s:.0f} spans/s, {arrive:.0f} traces/s; all {traces} traces assembled {t2 - t1:.2f} s after "
          f"the last export ({assembled:.0f} traces/s); {rows} rows; {len(errors)} errors")
    print(f"RESULT otlp_spans_s={spans_s:.0f} otlp_arrive_traces_s={arrive:.0f} "
          f"otlp_assembled_traces_s={assembled:.0f} otlp_errors={len(errors)} otlp_rows_ok={int(rows == traces)}")


main()
