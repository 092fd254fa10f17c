"""The browser page (www/) end to end: the real nginx and pool on a loopback
port, with the fake LLM as judge, driven in the system chromium by
t/www/page.test.mjs (playwright-core). That script prints one JSON object a
line; this program turns them into TAP. Screenshots go to t/artifacts/.

Two servers: one with only an admin token (reads and submits open), one
with read, submit and admin tokens (the page must ask for a token and send
it with every call). Before the browser, the import graph of www/*.js is
checked: acyclic, every import resolves, and nothing imports the entry
point app.js."""
import json
import hashlib
import os
import re
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
WWW = os.path.join(SRCDIR, "www")
TIMEOUT = 600
# Tokens of the second server, by role; the page test gets them on its
# command line.
TOKENS = {"read": "page-read-4b1d", "submit": "page-submit-77e0", "admin": "page-admin-c3a9"}

IMPORT_RES = [
    # import x from './a.js'; import {x} from "./a.js"; export {x} from './a.js'
    re.compile(r"""(?:^|[;}\s])(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]""", re.S),
    re.compile(r"""(?:^|[;}\s])import\s*['"]([^'"]+)['"]"""),             # import './a.js'
    re.compile(r"""\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)"""),             # import('./a.js')
]


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", text)


def import_graph(www):
    """{module: [modules it imports]} for the *.js files in www."""
    graph = {}
    for name in sorted(os.listdir(www)):
        if not name.endswith(".js"):
            continue
        with open(os.path.join(www, name), encoding="utf-8") as f:
            text = strip_comments(f.read())
        deps = []
        for rx in IMPORT_RES:
            for m in rx.finditer(text):
                spec = m.group(1)
                deps.append(os.path.normpath(spec[2:]) if spec.startswith("./") else spec)
        graph[name] = sorted(set(deps))
    return graph


def find_cycle(graph):
    """One cycle as a list of modules [a, b, ..., a], or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {n: WHITE for n in graph}
    stack = []

    def visit(n):
        colour[n] = GREY
        stack.append(n)
        for d in graph.get(n, []):
            if colour.get(d, BLACK) == GREY:
                return stack[stack.index(d):] + [d]
            if colour.get(d) == WHITE:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        colour[n] = BLACK
        return None

    for n in graph:
        if colour[n] == WHITE:
            c = visit(n)
            if c:
                return c
    return None


def layers(graph):
    """Each module's height: 0 for one that imports nothing, else one more
    than the highest module it imports (graph must be acyclic)."""
    memo = {}

    def height(n):
        if n not in memo:
            memo[n] = 1 + max((height(d) for d in graph.get(n, []) if d in graph), default=-1)
        return memo[n]
    return {n: height(n) for n in graph}


def check_imports():
    # The checker itself, on graphs whose answer is known.
    tap.ok(find_cycle({"a.js": ["b.js"], "b.js": ["c.js"], "c.js": ["a.js"], "d.js": []})
           == ["a.js", "b.js", "c.js", "a.js"], "the cycle check finds a three-module cycle")
    tap.ok(find_cycle({"a.js": ["a.js"]}) == ["a.js", "a.js"], "the cycle check finds a self-import")
    tap.ok(find_cycle({"a.js": ["b.js", "c.js"], "b.js": ["c.js"], "c.js": []}) is None,
           "the cycle check passes a diamond")
    probe = "import {a} from './x.js';\nimport * as y from \"./y.js\";\n// import {z} from './z.js';\n" \
            "export {b} from './w.js';\nimport './side.js';\nconst m = import('./lazy.js');\n" \
            "import {\n    c,\n    d,\n} from './multi.js';\n/* import {q} from './q.js'; */\n"
    with tempfile.TemporaryDirectory(prefix="ragrade-imports-") as d:
        with open(os.path.join(d, "p.js"), "w") as f:
            f.write(probe)
        tap.eq(import_graph(d)["p.js"], ["lazy.js", "multi.js", "side.js", "w.js", "x.js", "y.js"],
               "the import parser reads every form of import and skips comments")

    graph = import_graph(WWW)
    tap.ok("app.js" in graph and len(graph) > 5, "www/ has its modules", sorted(graph))
    cycle = find_cycle(graph)
    tap.ok(cycle is None, "the modules of www/ import each other without a cycle",
           " -> ".join(cycle or []))
    missing = [f"{n} imports {d}" for n, ds in graph.items() for d in ds if d not in graph]
    tap.ok(not missing, "every import in www/ is a module of www/", "\n".join(missing))
    tap.ok(not [n for n, ds in graph.items() if "app.js" in ds], "no module imports the entry point app.js",
           json.dumps(graph, indent=1))
    with open(os.path.join(SRCDIR, "Makefile.am"), encoding="utf-8") as f:
        am = f.read().replace("\\\n", " ")
    m = re.search(r"^dist_www_DATA\s*=(.*)$", am, re.M)
    listed = set(m.group(1).split()) if m else set()
    unlisted = sorted(f"www/{n}" for n in os.listdir(WWW) if f"www/{n}" not in listed)
    tap.ok(m and not unlisted, "Makefile.am installs every file of www/", " ".join(unlisted))
    if cycle is None:
        by = {}
        for n, h in layers(graph).items():
            by.setdefault(h, []).append(n)
        for h in sorted(by):
            tap.diag(f"layer {h}: {' '.join(sorted(by[h]))}")


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


def h256(s):
    return "sha256:" + hashlib.sha256(s.encode()).hexdigest()


def browser_missing(node):
    if not node:
        return "node is not installed"
    if not os.path.isdir(os.path.join(WWW_TESTS, "node_modules", "playwright-core")):
        return "t/www/node_modules/playwright-core is missing (npm install in t/www)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing"
    return None


def main():
    check_imports()
    node = shutil.which("node") or shutil.which("nodejs")
    why = browser_missing(node)
    if why:
        tap.ok(True, f"# SKIP the browser test: {why}")
        return
    out_dir = artifacts_dir()
    tokened = {"RAGRADE_AUTH_READ_TOKENS": h256(TOKENS["read"]),
               "RAGRADE_AUTH_SUBMIT_TOKENS": h256(TOKENS["submit"]),
               "RAGRADE_AUTH_ADMIN_TOKENS": h256(TOKENS["admin"])}
    with FakeLLM() as llm, \
            Server(env=dict(llm.env(), RAGRADE_AUTH_ADMIN_TOKENS=h256("s3cret"))) as s, \
            Server(env=dict(llm.env(), **tokened)) as s2, \
            tempfile.TemporaryDirectory(prefix="ragrade-page-") as tmp:
        base = f"http://127.0.0.1:{s.port}"
        base2 = f"http://127.0.0.1:{s2.port}"
        tap.diag(f"server at {base}, with tokens at {base2}; artifacts in {out_dir}")
        env = dict(os.environ, NODE_PATH=os.path.join(WWW_TESTS, "node_modules"), HOME=tmp,
                   RAGRADE_PAGE_TOKENS=json.dumps(TOKENS))
        errf = open(os.path.join(tmp, "node.err"), "w+")
        proc = subprocess.Popen([node, SCRIPT, base, out_dir, tmp, base2], cwd=WWW_TESTS, env=env,
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
            tap.diag(s2.log()[-2000:])


if __name__ == "__main__":
    tap.run(main)
