"""OTLP ingestion through nginx and the pool: protobuf export requests of 512
spans (128 OpenInference traces of 4 spans, written by bench/otlp_bench
--bodies) posted by a few keep-alive connections to POST /v1/traces.
Two runs: first with ingest.assemble_ms long enough (30 s) that the export
runs alone, giving the spans per second accepted, then the traces per
second the assembler turns into rows once they are ready (from the
moment the first become ready to the last row), against the rate they
arrived at; then both at once (assemble_ms 500 ms), as under a steady
flood. Prints a RESULT line for bench/run.

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

SPANS, PER_TRACE = 512, 4


def post_all(port, bodies, errors):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for b in bodies:
        c.request("POST", "/v1/traces", body=b, headers={"Content-Type": "application/x-protobuf"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            errors.append(r.status)
    c.close()


def run(build, bodies, conns, assemble_ms):
    """One pool: export every body, wait for every row. (spans/s, traces/s
    arriving, traces/s assembled from the first ready, seconds from the
    last export to the last row, errors, rows == traces)."""
    env = {"RAGRADE_INGEST_ENABLED": "yes", "RAGRADE_INGEST_ASSEMBLE_MS": str(assemble_ms),
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
        traces = len(bodies) * SPANS // PER_TRACE
        wait_for(lambda: s.query("SELECT count(*) FROM traces_done")[0][0] >= traces, 900, "assembly", step=0.05)
        t2 = time.monotonic()
        rows = s.query("SELECT count(*) FROM evaluations WHERE trace_id IS NOT NULL")[0][0]
    return (len(bodies) * SPANS / (t1 - t0), traces / (t1 - t0),
            traces / max(t2 - t0 - assemble_ms / 1000, 1e-3), t2 - t1, len(errors), rows == traces)


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
    sp, arr, asm, tail, err, ok = run(build, bodies, conns, 30000)
    print(f"export alone: {n} requests of {SPANS} spans ({len(bodies[0])} bytes), {conns} connections: "
          f"{sp:.0f} spans/s, {arr:.0f} traces/s; assembly once ready: {asm:.0f} traces/s; {err} errors; "
          f"rows {'ok' if ok else 'MISSING'}")
    msp, marr, masm, mtail, merr, mok = run(build, bodies, conns, 500)
    print(f"both at once: {msp:.0f} spans/s, {marr:.0f} traces/s arriving, {masm:.0f} traces/s assembled, "
          f"the last row {mtail:.1f} s after the last export; {merr} errors; rows {'ok' if mok else 'MISSING'}")
    print(f"RESULT otlp_spans_s={sp:.0f} otlp_arrive_traces_s={arr:.0f} otlp_assembled_traces_s={asm:.0f} "
          f"otlp_errors={err + merr} otlp_rows_ok={int(ok and mok)} otlp_mixed_spans_s={msp:.0f} "
          f"otlp_mixed_arrive_traces_s={marr:.0f} otlp_mixed_assembled_traces_s={masm:.0f}")


main()
