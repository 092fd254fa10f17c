"""Replay the fuzz targets' seed corpus and every input the fuzzers ever
crashed or hung on (t/fuzz/corpus, t/fuzz/regress) through the same entry
points, built normally into t/unit/fuzz_replay (with ASan and UBSan under
./configure --enable-sanitizers). One test point per target and directory."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import SRCDIR  # noqa: E402

BUILDDIR = os.environ.get("RAGRADE_BUILDDIR") or SRCDIR
REPLAY = os.path.join(BUILDDIR, "t", "unit", "fuzz_replay")


def main():
    if not os.access(REPLAY, os.X_OK):
        tap.skip_all(f"{REPLAY} not built (make check builds it)")
    for target in ("row", "reply", "conf", "otlp_pb", "otlp_json"):
        for kind in ("corpus", "regress"):
            d = os.path.join(SRCDIR, "t", "fuzz", kind, target)
            files = sorted(f for f in os.listdir(d) if not f.startswith(".")) if os.path.isdir(d) else []
            if kind == "corpus":
                tap.ok(len(files) >= 3, f"{target}: a seed corpus of a few inputs ({len(files)})")
            if not files:
                continue
            p = subprocess.run([REPLAY, target, d], capture_output=True, text=True, timeout=600)
            bad = [l for l in p.stdout.splitlines() if l.startswith("not ok")]
            tap.ok(p.returncode == 0 and not bad and f"1..{len(files)}" in p.stdout,
                   f"{target}: the {len(files)} {kind} inputs replay cleanly",
                   f"exit {p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}")


tap.run(main)
