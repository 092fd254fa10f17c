#!/usr/bin/python3
"""stats_oracle.py - checks stats.c and agree.c (through the fixture
t/unit/stats_dump) against independent computations written here from the
textbook definitions, standard library only: the exact sign-flip p-value
by enumeration (and by the exact distribution of the flipped sum for
larger integer cases), Holm's adjustment, identical runs, the bootstrap
interval against the normal one on large samples, Cohen's kappa with the
Fleiss-Cohen-Everitt standard error, Spearman's rho, Kendall's tau-b, the
mean absolute error and the prediction-powered estimate. Prints TAP.

Usage: stats_oracle.py [path/to/stats_dump]"""
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import tap  # noqa: E402

if len(sys.argv) > 1:
    DUMP = sys.argv[1]
else:
    DUMP = os.path.join(os.environ.get("RAGRADE_BUILDDIR", "."), "t", "unit", "stats_dump")
Z = 1.959963984540054


def ask(reqs):
    """Run every request through the fixture in one process."""
    text = "".join(json.dumps(r) + "\n" for r in reqs)
    out = subprocess.run([DUMP], input=text, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def close(a, b, tol):
    return a is not None and b is not None and abs(a - b) <= tol


# ---- the oracle's own computations, from the definitions ----

def signflip_exact(d):
    """Share of the 2^n sign vectors whose |sum| reaches the observed one."""
    obs = abs(sum(d))
    slack = 1e-9 * sum(abs(x) for x in d)
    hits = 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        if abs(sum(s * x for s, x in zip(signs, d))) >= obs - slack:
            hits += 1
    return hits / 2 ** len(d)


def signflip_integer(d):
    """Exact p for integer d of any length: the distribution of sum(+-d)."""
    dist = {0: 1}
    for x in d:
        nxt = {}
        for s, c in dist.items():
            nxt[s + x] = nxt.get(s + x, 0) + c
            nxt[s - x] = nxt.get(s - x, 0) + c
        dist = nxt
    obs = abs(sum(d))
    return sum(c for s, c in dist.items() if abs(s) >= obs) / 2 ** len(d)


def holm(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: (ps[i], i))
    adj = [0.0] * m
    run = 0.0
    for rank, i in enumerate(order):
        run = max(run, min(1.0, (m - rank) * ps[i]))
        adj[i] = run
    return adj


def kappa(j, h):
    n = len(j)
    p = [[0.0, 0.0], [0.0, 0.0]]
    for a, b in zip(j, h):
        p[int(a >= 0.5)][int(b >= 0.5)] += 1 / n
    row = [p[0][0] + p[0][1], p[1][0] + p[1][1]]      # judge
    col = [p[0][0] + p[1][0], p[0][1] + p[1][1]]      # human
    po = p[0][0] + p[1][1]
    pe = row[0] * col[0] + row[1] * col[1]
    k = (po - pe) / (1 - pe)
    # Fleiss, Cohen & Everitt (1969), in terms of kappa.
    a = sum(p[i][i] * (1 - (row[i] + col[i]) * (1 - k)) ** 2 for i in range(2))
    b = (1 - k) ** 2 * sum(p[i][jj] * (col[i] + row[jj]) ** 2
                           for i in range(2) for jj in range(2) if i != jj)
    c = (k - pe * (1 - k)) ** 2
    se = math.sqrt((a + b - c) / (n * (1 - pe) ** 2))
    return po, k, se


def ranks(x):
    s = sorted(x)
    first = {}
    count = {}
    for i, v in enumerate(s):
        first.setdefault(v, i + 1)
        count[v] = count.get(v, 0) + 1
    return [first[v] + (count[v] - 1) / 2 for v in x]


def pearson(x, y):
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def tau_b(x, y):
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        for k in range(i + 1, n):
            dx, dy = x[i] - x[k], y[i] - y[k]
            if dx == 0:
                tx += 1
            if dy == 0:
                ty += 1
            if dx * dy > 0:
                conc += 1
            elif dx * dy < 0:
                disc += 1
    n0 = n * (n - 1) / 2
    return (conc - disc) / math.sqrt((n0 - tx) * (n0 - ty))


def main():
    rnd = random.Random(20261203)
    if not os.access(DUMP, os.X_OK):
        tap.skip_all(f"{DUMP} not built")

    # Exact sign-flip p-values below 20 pairs, against enumeration.
    cases = [[0.1, 0.2, -0.05], [1, 1, 1, 1, 1], [1, -1, 0, 1, 0, 1], [0.5] * 7 + [-0.5] * 2]
    cases += [[round(rnd.uniform(-1, 1), 2) for _ in range(n)] for n in (1, 2, 4, 6, 9, 12, 15)]
    cases += [[rnd.choice((-1, 0, 0, 1)) for _ in range(n)] for n in (8, 13)]
    got = ask([{"op": "paired", "b": [0.0] * len(d), "c": d} for d in cases])
    for d, g in zip(cases, got):
        want = signflip_exact(d)
        tap.ok(g["p_method"] == "exact" and close(g["p"], want, 1e-12),
               f"exact sign-flip p, n={len(d)}: {g['p']} vs {want}", (d, g))

    # Random flips (20..10,000 pairs) against the exact distribution of the
    # flipped sum, for integer differences; Monte Carlo error allowed.
    icases = [[rnd.choice((-2, -1, 0, 1, 1, 2, 3)) for _ in range(n)] for n in (20, 30, 60)]
    icases.append([rnd.choice((-1, 0, 1)) for _ in range(200)])
    got = ask([{"op": "paired", "b": [0] * len(d), "c": d} for d in icases])
    for d, g in zip(icases, got):
        want = signflip_integer(d)
        tol = 4 * math.sqrt(max(want * (1 - want), 1e-4) / 10000) + 1e-4
        tap.ok(g["p_method"] == "permutation" and close(g["p"], want, tol),
               f"random sign-flip p, n={len(d)}: {g['p']:.4f} vs exact {want:.4f}", g)

    # Above 10,000 pairs: the normal approximation of the same statistic.
    d = [rnd.gauss(0.01, 0.3) for _ in range(12000)]
    g = ask([{"op": "paired", "b": [0.0] * len(d), "c": d}])[0]
    want = math.erfc(abs(sum(d)) / math.sqrt(sum(x * x for x in d)) / math.sqrt(2))
    tap.ok(g["p_method"] == "normal" and close(g["p"], want, 1e-9) and g["ci_method"] == "normal",
           f"normal sign-flip p above 10,000 pairs: {g['p']:.6f} vs {want:.6f}", g)

    # Holm on textbook values, then on random ones against the definition.
    g = ask([{"op": "holm", "p": [0.01, 0.04, 0.03, 0.005]}])[0]
    tap.ok(all(close(a, b, 1e-12) for a, b in zip(g["adj"], [0.03, 0.06, 0.06, 0.02])),
           "Holm: 0.01 0.04 0.03 0.005 -> 0.03 0.06 0.06 0.02", g)
    g = ask([{"op": "holm", "p": [0.5, 0.9, 0.2]}])[0]
    tap.ok(all(close(a, b, 1e-12) for a, b in zip(g["adj"], [1.0, 1.0, 0.6])),
           "Holm caps at 1 and stays monotone", g)
    ps = [rnd.random() ** 3 for _ in range(9)]
    g = ask([{"op": "holm", "p": ps}])[0]
    tap.ok(all(close(a, b, 1e-12) for a, b in zip(g["adj"], holm(ps))), "Holm on 9 random p-values", g)

    # Identical runs: delta 0 and p 1 in every regime.
    for n in (5, 50, 12000):
        x = [rnd.random() for _ in range(n)]
        g = ask([{"op": "paired", "b": x, "c": x}])[0]
        tap.ok(g["delta"] == 0 and g["p"] == 1 and g["lo"] == 0 and g["hi"] == 0,
               f"identical runs of {n}: delta 0, p 1 ({g['p_method']})", g)

    # Mean and SE from the definition; the bootstrap interval reproducible
    # and, on a large sample, within a quarter SE of the normal one.
    x = [rnd.betavariate(2, 5) for _ in range(10000)]
    g1, g2 = ask([{"op": "summary", "x": x}] * 2)
    se = statistics.stdev(x) / math.sqrt(len(x))
    tap.ok(close(g1["mean"], statistics.fmean(x), 1e-12) and close(g1["se"], se, 1e-12),
           "summary: mean and standard error", g1)
    tap.ok(g1 == g2 and g1["method"] == "bootstrap", "summary: the same data gives the same interval", (g1, g2))
    m = g1["mean"]
    tap.ok(close(g1["lo"], m - Z * se, 0.25 * se) and close(g1["hi"], m + Z * se, 0.25 * se),
           f"bootstrap [{g1['lo']:.5f}, {g1['hi']:.5f}] vs normal [{m - Z * se:.5f}, {m + Z * se:.5f}]", g1)
    x = [rnd.random() for _ in range(10001)]
    g = ask([{"op": "summary", "x": x}])[0]
    se = statistics.stdev(x) / math.sqrt(len(x))
    m = statistics.fmean(x)
    tap.ok(g["method"] == "normal" and close(g["lo"], m - Z * se, 1e-12) and close(g["hi"], m + Z * se, 1e-12),
           "summary above 10,000 values: the normal interval", g)
    b = [rnd.random() for _ in range(3000)]
    c = [v + rnd.gauss(0.02, 0.1) for v in b]
    g = ask([{"op": "paired", "b": b, "c": c}])[0]
    d = [y - v for v, y in zip(b, c)]
    se = statistics.stdev(d) / math.sqrt(len(d))
    tap.ok(g["ci_method"] == "bootstrap" and close(g["delta"], statistics.fmean(d), 1e-12)
           and close(g["lo"], g["delta"] - Z * se, 0.25 * se) and close(g["hi"], g["delta"] + Z * se, 0.25 * se),
           "paired bootstrap interval agrees with the normal one", g)
    g = ask([{"op": "summary", "x": [0.5]}])[0]
    tap.ok(g["n"] == 1 and g["mean"] == 0.5 and g["lo"] is None and g["method"] == "none",
           "summary of one value: mean, no interval", g)

    # Agreement: kappa (and its SE), rho, tau-b, MAE.
    reqs, wants = [], []
    for n, levels in ((40, (0, 1)), (200, (0, 1)), (60, (0, 0.5, 1)), (150, (0, 0.25, 0.5, 0.75, 1))):
        h = [rnd.choice(levels) for _ in range(n)]
        j = [v if rnd.random() < 0.7 else rnd.choice(levels) for v in h]
        reqs.append({"op": "agree", "j": j, "h": h})
        wants.append((j, h))
    for (j, h), g in zip(wants, ask(reqs)):
        po, k, se = kappa(j, h)
        mat = [sum(1 for a, b in zip(j, h) if (a >= .5) == x and (b >= .5) == y) for x in (0, 1) for y in (0, 1)]
        tap.ok(g["matrix"] == mat and close(g["accuracy"], po, 1e-12) and close(g["kappa"], k, 1e-12)
               and close(g["kappa_se"], se, 1e-12) and close(g["kappa_lo"], max(-1, k - Z * se), 1e-12),
               f"kappa {k:.4f} +- {se:.4f}, n={len(j)}", (g, k, se, mat))
        rho = pearson(ranks(j), ranks(h))
        tap.ok(close(g["spearman"], rho, 1e-12), f"Spearman rho {rho:.4f} (ties), n={len(j)}", g)
        tau = tau_b(j, h)
        tap.ok(close(g["kendall"], tau, 1e-12), f"Kendall tau-b {tau:.4f}, n={len(j)}", g)
        mae = statistics.fmean(abs(a - b) for a, b in zip(j, h))
        tap.ok(close(g["mae"], mae, 1e-12), f"MAE {mae:.4f}", g)
    g = ask([{"op": "agree", "j": [1, 2, 3, 4], "h": [1, 3, 2, 4]}])[0]
    tap.ok(close(g["spearman"], 0.8, 1e-12) and close(g["kendall"], 4 / 6, 1e-12),
           "by hand: rho 0.8 and tau 2/3 for one swapped pair of four", g)
    g = ask([{"op": "agree", "j": [1, 1, 1], "h": [1, 1, 1]}])[0]
    tap.ok(g["kappa"] is None and g["accuracy"] == 1 and g["spearman"] is None,
           "kappa and rho undefined for constant raters", g)

    # Prediction-powered estimate.
    allj = [min(1, max(0, rnd.gauss(0.6, 0.2))) for _ in range(2000)]
    idx = rnd.sample(range(2000), 150)
    jl = [allj[i] for i in idx]
    hl = [min(1, max(0, v - 0.1 + rnd.gauss(0, 0.1))) for v in jl]
    g = ask([{"op": "ppi", "all": allj, "jl": jl, "hl": hl}])[0]
    rect = statistics.fmean(a - b for a, b in zip(jl, hl))
    est = statistics.fmean(allj) - rect
    se = math.sqrt(statistics.variance(allj) / len(allj)
                   + statistics.variance([a - b for a, b in zip(jl, hl)]) / len(jl))
    tap.ok(close(g["estimate"], est, 1e-12) and close(g["se"], se, 1e-12)
           and close(g["lo"], est - Z * se, 1e-12) and close(g["hi"], est + Z * se, 1e-12),
           f"PPI estimate {est:.4f} +- {Z * se:.4f} (judge mean {statistics.fmean(allj):.4f})", g)


tap.run(main)
