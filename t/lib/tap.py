"""Minimal TAP producer for ragrade's integration tests.

Each check prints "ok N - name" or "not ok N - name" with diagnostics; the
plan is printed at the end. A test program that raises still prints its
plan, so the failure counts as a failed test point, not a lost test."""
import sys
import traceback

_n = 0
_failed = 0


def ok(cond, name, diag=None):
    global _n, _failed
    _n += 1
    if cond:
        print(f"ok {_n} - {name}", flush=True)
    else:
        _failed += 1
        print(f"not ok {_n} - {name}", flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:40]:
                print(f"#   {line}", flush=True)
    return cond


def eq(got, want, name):
    return ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")


def diag(msg):
    for line in str(msg).splitlines():
        print(f"# {line}", flush=True)


def skip_all(reason):
    print(f"1..0 # SKIP {reason}", flush=True)
    sys.exit(0)


def run(main):
    """Run main(), turning an exception into a failed test point."""
    try:
        main()
    except Exception:
        ok(False, "test program raised", traceback.format_exc())
    print(f"1..{_n}", flush=True)
    sys.exit(1 if _failed else 0)
