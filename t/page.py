"""The browser page (www/) end to end: the real nginx and pool on a loopback
port, with the fake LLM as judge, driven in the system chromium by
t/www/page.test.mjs (playwright-core). That script prints one JSON object a
line; this program turns them into TAP. Screenshots go to t/artifacts/."""
import json
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import SRCDIR, FakeLLM, Server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WWW_TESTS = os.path.join(SRCDIR, "t", "www")
SCRIPT = os.path.join(WWW_TESTS, "page.test.mjs")
TIMEOUT = 600


def artifacts_dir():
    for base in (SRCDIR, os.environ.get("RAGRADE_BUILDDIR")):
        if not base:
            continue
        d = os.path.join(base, "t", "artifacts")
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            pass
    return tempfile.mkdtemp(prefix="ragrade-artifacts-")


def main():
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        tap.skip_all("node is not installed")
    if not os.path.isdir(os.path.join(WWW_TESTS, "node_modules", "playwright-core")):
        tap.skip_all("t/www/node_modules/playwright-core is missing (npm install in t/www)")
    if not os.access(CHROMIUM, os.X_OK):
        tap.skip_all(f"{CHROMIUM} is missing")
    out_dir = artifacts_dir()
    with FakeLLM() as llm, Server(env=dict(llm.env(), RAGRADE_AUTH_ADMIN_TOKENS='sha256:' + hashlib.sha256(b's3cret').hexdigest())) as s, tempfile.TemporaryDirectory(prefix="ragrade-page-") as tmp:
        base = f"http://127.0.0.1:{s.port}"
        tap.diag(f"server at {base}; artifacts in {out_dir}")
        env = dict(os.environ, NODE_PATH=os.path.join(WWW_TESTS, "node_modules"), HOME=tmp)
        errf = open(os.path.join(tmp, "node.err"), "w+")
        proc = subprocess.Popen([node, SCRIPT, base, out_dir, tmp], cwd=WWW_TESTS, env=env,
                                stdout=subprocess.PIPE, stderr=errf, text=True,
                                start_new_session=True)
        seen = 0
        try:
            for line in proc.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    o = json.loads(line)
                except ValueError:
                    tap.diag(line)
                    continue
                if "comment" in o:
                    tap.diag(o["comment"])
                else:
                    seen += 1
                    tap.ok(bool(o.get("ok")), o.get("name", "?"), o.get("diag"))
            rc = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            rc = proc.wait()
            tap.ok(False, f"the browser test finished within {TIMEOUT} s")
        errf.seek(0)
        err = errf.read()
        errf.close()
        tap.ok(rc == 0 and seen > 0, "the browser test program exited cleanly",
               f"exit {rc}\n{err[-3000:]}")
        if rc != 0:
            tap.diag(s.log()[-2000:])


if __name__ == "__main__":
    tap.run(main)
