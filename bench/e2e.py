"""End-to-end benchmarks through the real nginx and pool.

  e2e.py submit PEERS_RUN      the submit path against ../shared/bench/peers/run
  e2e.py builtin ROWS          submit ROWS rows, time until every one is done
  e2e.py llm ROWS CONC DELAY   faithfulness through the pool against the fake
                               LLM answering after DELAY ms, max_concurrency CONC
  e2e.py wal SECONDS CLIENTS   CLIENTS clients posting 1,000-row batches for
                               SECONDS: the WAL file's size, its peak during
                               the flood and at rest after it

Each prints its figures and one line "RESULT key=value ..." for bench/run."""
import json
import os
import re
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "t", "lib"))
from harness import ROW, FakeLLM, Server, ready_judges  # noqa: E402


def timed_run(s, rows, body, batch=500):
    t0 = time.monotonic()
    ids = []
    for i in range(0, rows, batch):
        r = s.post("/api/eval", [body] * min(batch, rows - i))
        assert r.status == 202, r
        ids += r.json()["ids"]
    t_sub = time.monotonic() - t0
    s.wait_status(ids, ("done", "failed"), 600)
    took = time.monotonic() - t0
    failed = s.query("SELECT count(*) FROM evaluations WHERE status = 'failed'")[0][0]
    return t_sub, took, failed


def wal_flood(seconds, clients):
    import threading
    payload = os.environ.get("RAGRADE_BENCH_PAYLOAD") or os.path.join(here, "..", "..", "shared", "bench", "peers",
                                                                      "payload.json")
    with open(payload) as f:
        body = json.dumps([json.load(f)] * 1000)
    with Server(workers=os.cpu_count() or 2, threads=16, env={"RAGRADE_LIMITS_MAX_BODY": "4194304"}) as s:
        wal = os.path.join(s.data, "ragrade.db-wal")
        stop = time.monotonic() + seconds
        sizes, rows, errors = [], [0], [0]

        def client():
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            while time.monotonic() < stop:
                c.request("POST", "/api/eval", body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status == 202:
                    rows[0] += 1000
                else:
                    errors[0] += 1
        ts = [threading.Thread(target=client) for _ in range(clients)]
        for t in ts:
            t.start()
        while any(t.is_alive() for t in ts):
            sizes.append(os.path.getsize(wal) if os.path.exists(wal) else 0)
            time.sleep(0.01)
        for t in ts:
            t.join()
        rest_until = time.monotonic() + 5     # the judge keeps writing results meanwhile
        while time.monotonic() < rest_until:
            time.sleep(0.1)
        s.wait_status([s.query("SELECT max(id) FROM evaluations")[0][0]], ("done", "failed"), 600)
        after_judge = os.path.getsize(wal) if os.path.exists(wal) else 0
        mb = 1e6
        print(f"WAL under {clients} clients of 1,000-row batches for {seconds} s ({rows[0]} rows, {errors[0]} errors): "
              f"peak {max(sizes) / mb:.1f} MB, median {sorted(sizes)[len(sizes) // 2] / mb:.1f} MB; "
              f"file after the judge caught up {after_judge / mb:.1f} MB")
        print(f"RESULT wal_peak_mb={max(sizes) / mb:.1f} wal_after_mb={after_judge / mb:.1f} wal_rows={rows[0]}")


def main():
    mode = sys.argv[1]
    if mode == "submit":
        with Server(workers=os.cpu_count() or 2, threads=16) as s:
            url = f"http://127.0.0.1:{s.port}/api/eval"
            out = subprocess.run(["bash", sys.argv[2], url], capture_output=True, text=True)
            print(out.stdout, end="")
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                sys.exit(1)
            rows = s.query("SELECT count(*) FROM evaluations")[0][0]
            need = int(re.search(r"project answered\s+(\d+)", out.stdout).group(1))
            print(f"rows stored           {rows} (at least {need} required)")
            vals = dict(re.findall(r"^(project|echo|php|fastapi|static)\s+(\d+)", out.stdout, re.M))
            p99 = re.search(r"^project\s+\d+\s+[\d.]+\s+([\d.]+)\s+(\d+)", out.stdout, re.M)
            fp99 = re.search(r"^fastapi\s+\d+\s+[\d.]+\s+([\d.]+)", out.stdout, re.M)
            print(f"RESULT submit_rps={vals.get('project')} echo_rps={vals.get('echo')} php_rps={vals.get('php')} "
                  f"fastapi_rps={vals.get('fastapi')} p99_ms={p99.group(1)} fastapi_p99_ms={fp99.group(1) if fp99 else '-'} "
                  f"errors={p99.group(2)} "
                  f"rows_ok={int(rows >= need)}")
    elif mode == "builtin":
        rows = int(sys.argv[2])
        with open(os.path.join(here, "..", "..", "shared", "bench", "peers", "payload.json")) as f:
            body = json.load(f)
        with Server(workers=os.cpu_count() or 2, threads=16,
                    env={"RAGRADE_JUDGE_MAX_CONCURRENCY": "64"}) as s:
            t_sub, took, failed = timed_run(s, rows, body)
            print(f"built-in judge end to end: {rows} rows submitted in {t_sub:.2f} s, all done in {took:.2f} s "
                  f"= {rows / took:.0f} rows/s ({failed} failed)")
            print(f"RESULT e2e_rps={rows / took:.0f} failed={failed}")
    elif mode == "wal":
        wal_flood(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "llm":
        rows, conc, delay = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        with FakeLLM() as f:
            env = f.env(RAGRADE_JUDGE_MAX_CONCURRENCY=str(conc), RAGRADE_JUDGE_CACHE="no")
            with Server(workers=os.cpu_count() or 2, threads=16, env=env) as s:
                # Initialise every worker's judge before the clock starts:
                # an init probe is not an evaluation and is not bounded.
                ready_judges(s, f, os.cpu_count() or 2, dict(ROW, metrics=["faithfulness"]), conc)
                f.control(reset=True)
                f.control(delay_ms=delay)
                t_sub, took, failed = timed_run(s, rows, dict(ROW, metrics=["faithfulness"]))
                bound = conc / (2 * delay / 1000.0)
                st = f.stats()
                print(f"LLM judge (faithfulness, 2 calls/row, fake {delay} ms, max_concurrency {conc}): "
                      f"{rows} rows in {took:.2f} s = {(rows) / took:.0f} rows/s, bound {bound:.0f}, "
                      f"{100 * rows / took / bound:.0f}% of it; max requests in flight {st['max_in_flight']}; {failed} failed")
                print(f"RESULT llm_rps={rows / took:.0f} bound={bound:.0f} max_in_flight={st['max_in_flight']} failed={failed}")


main()
