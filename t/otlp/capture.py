"""capture.py - a tiny OTLP/HTTP sink on loopback for making decoder test
inputs: runs t/otlp/export.mjs against itself and writes each request body
it receives (chunked or not) to OUTDIR/NAME-K.<pb|json>[.gz], plus
OUTDIR/NAME.sent.json with what the client says it sent.

    /usr/bin/python3 t/otlp/capture.py OUTDIR NAME [export.mjs options...]
"""
import http.server
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


class Sink(http.server.BaseHTTPRequestHandler):
    bodies = []

    def log_message(self, *a):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        body = self.read_body()
        Sink.bodies.append((self.headers.get("Content-Type", ""),
                            self.headers.get("Content-Encoding", ""), body))
        json_ct = self.headers.get("Content-Type", "").startswith("application/json")
        reply = b"{}" if json_ct else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if json_ct else "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def capture(args):
    """Run export.mjs with args against a loopback sink: (what the client
    says it sent, [(content type, content encoding, body)]). Raises on a
    client failure."""
    Sink.bodies = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1/traces"
    try:
        p = subprocess.run(["node", os.path.join(HERE, "export.mjs"), url] + list(args),
                           capture_output=True, text=True, timeout=120)
    finally:
        srv.shutdown()
        srv.server_close()
    lines = p.stdout.strip().splitlines()
    sent = json.loads(lines[-1]) if lines else {"result": p.stderr[-500:]}
    if sent["result"] != "ok" or not Sink.bodies:
        raise RuntimeError(f"capture failed: {p.stdout[-500:]} {p.stderr[-1000:]}")
    return sent, list(Sink.bodies)


def main():
    outdir, name, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    sent, bodies = capture(rest)
    Sink.bodies = bodies
    with open(os.path.join(outdir, name + ".sent.json"), "w") as f:
        json.dump(sent, f, indent=1, ensure_ascii=False)
    for k, (ct, ce, body) in enumerate(Sink.bodies):
        ext = ".json" if ct.startswith("application/json") else ".pb"
        ext += ".gz" if ce == "gzip" else ""
        with open(os.path.join(outdir, f"{name}-{k}{ext}"), "wb") as f:
            f.write(body)
    print(f"{name}: {len(Sink.bodies)} bodies, {len(sent['traces'])} traces")


if __name__ == "__main__":
    main()
