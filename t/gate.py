#!/usr/bin/python3
"""gate.py - `ragrade compare` and `ragrade gate` on result files in the
shape `ragrade eval` writes (made here, and once by `ragrade eval` itself):
pairing by item and by question, the exit codes 0 / 1 / 2 / 64+, the
regression named on stderr, the JUnit XML (parsed with xml.etree) and the
markdown table. Prints TAP."""
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import tap  # noqa: E402

BIN = os.environ.get("RAGRADE_BIN") or os.path.join(os.path.dirname(HERE), "ragrade")


def run(*args, data=None):
    env = dict(os.environ)
    if data:
        env["RAGRADE_DATA"] = data
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def write(path, rows):
    with open(path, "w") as f:
        for i, r in enumerate(rows, 1):
            line = {"line": i}
            line.update(r)
            f.write(json.dumps(line) + "\n")
    return path


def rows(scores, items=True, metric="faithfulness", other=None):
    out = []
    for i, v in enumerate(scores):
        r = {"question": f"question {i}?", "scores": {metric: v}, "reasons": {metric: None}}
        if items:
            r["item"] = f"case-{i}"
        if other is not None:
            r["scores"][other] = 0.5
        out.append(r)
    return out


def exact_p(d):
    obs = abs(sum(d))
    slack = 1e-9 * sum(abs(x) for x in d)
    hits = sum(1 for s in itertools.product((1, -1), repeat=len(d))
               if abs(sum(a * b for a, b in zip(s, d))) >= obs - slack)
    return hits / 2 ** len(d)


def junit(path):
    root = ET.parse(path).getroot()
    return {tc.get("name"): tc for tc in root.iter("testcase")}, root


def main():
    rnd = random.Random(16)
    tmp = tempfile.mkdtemp(prefix="ragrade-gate.")
    base_scores = [round(rnd.uniform(0.4, 1.0), 3) for _ in range(60)]
    base = write(os.path.join(tmp, "base.jsonl"), rows(base_scores, other="answer_relevancy"))
    same = write(os.path.join(tmp, "same.jsonl"),
                 rows([min(1, max(0, v + rnd.choice((-0.01, 0.01)))) for v in base_scores], other="answer_relevancy"))
    worse = write(os.path.join(tmp, "worse.jsonl"),
                  rows([v - 0.1 + rnd.gauss(0, 0.03) for v in base_scores], other="answer_relevancy"))
    junit_f, md_f = os.path.join(tmp, "gate.xml"), os.path.join(tmp, "gate.md")

    # Pass.
    rc, out, err = run("gate", base, same, "--junit", junit_f, "--markdown", md_f)
    tap.eq(rc, 0, "gate: no significant drop exits 0")
    cases, root = junit(junit_f)
    tap.ok(set(cases) == {"faithfulness", "answer_relevancy"}
           and not list(root.iter("failure")) and not list(root.iter("skipped")),
           "JUnit: one passing test case per metric", open(junit_f).read())
    md = open(md_f).read()
    tap.ok("ragrade gate: pass" in md and "| metric | pairs |" in md and "| faithfulness | 60 |" in md,
           "markdown: the table for a pull-request comment", md)

    # Regression: named on stderr with delta, interval and p.
    rc, out, err = run("gate", base, worse, "--junit", junit_f, "--markdown", md_f)
    tap.eq(rc, 1, "gate: a significant drop exits 1")
    tap.ok("REGRESSION: faithfulness dropped: delta -0.1" in err and "p = " in err and "[" in err
           and "answer_relevancy" not in err.split("REGRESSION")[1].split("\n")[0],
           "the regression is named on stderr with its delta, interval and p", err)
    cases, root = junit(junit_f)
    f = cases["faithfulness"].find("failure")
    tap.ok(f is not None and "dropped" in f.get("message") and cases["answer_relevancy"].find("failure") is None
           and root.get("failures") == "1", "JUnit: the regression is a failure", open(junit_f).read())
    tap.ok("**regression**" in open(md_f).read(), "markdown marks the regression")

    # An allowed drop.
    rc, out, err = run("gate", base, worse, "--max-drop", "faithfulness=0.2")
    tap.eq(rc, 0, "gate: a drop within --max-drop exits 0")
    rc, out, err = run("gate", base, worse, "--max-drop", "faithfulness=0.05")
    tap.eq(rc, 1, "gate: a drop beyond --max-drop exits 1")

    # Unknown: too few pairs; a metric on one side only.
    few_b = write(os.path.join(tmp, "few_b.jsonl"), rows(base_scores[:5]))
    few_c = write(os.path.join(tmp, "few_c.jsonl"), rows(base_scores[:5]))
    rc, out, err = run("gate", few_b, few_c, "--junit", junit_f)
    tap.eq(rc, 2, "gate: 5 pairs (fewer than 10) exits 2")
    cases, root = junit(junit_f)
    s = cases["faithfulness"].find("skipped")
    tap.ok(s is not None and "only 5 pairs" in s.get("message"), "JUnit: inconclusive is skipped with the reason",
           open(junit_f).read())
    rc, out, err = run("gate", few_b, few_c, "--min-pairs", "5")
    tap.eq(rc, 0, "gate: --min-pairs 5 accepts 5 pairs")
    missing = write(os.path.join(tmp, "missing.jsonl"), rows(base_scores))
    rc, out, err = run("gate", base, missing)
    tap.ok(rc == 2 and "no score for answer_relevancy in the candidate" in err, "gate: a metric missing on one side exits 2", err)
    rc, out, err = run("gate", base, same, "--max-drop", "context_recall=0.1")
    tap.ok(rc == 2 and "context_recall" in err, "gate: a metric named in --max-drop but in neither run exits 2", err)
    worse_missing = write(os.path.join(tmp, "worse_missing.jsonl"), rows([v - 0.1 for v in base_scores]))
    rc, out, err = run("gate", base, worse_missing)
    tap.eq(rc, 1, "gate: a regression outweighs an unknown metric (exit 1)")

    # Usage and input errors.
    for args, want, name in (
            ((), 64, "no files"), ((base,), 64, "one file"), ((base, same, "--alpha", "2"), 64, "--alpha 2"),
            ((base, same, "--max-drop", "faithfulness"), 64, "--max-drop without =X"),
            ((base, same, "--max-drop", "faithfulness=-1"), 64, "--max-drop negative"),
            ((base, same, "--min-pairs", "0"), 64, "--min-pairs 0"),
            ((base, same, "--bogus"), 64, "an unknown option"),
            ((base, os.path.join(tmp, "nope.jsonl")), 66, "a missing file")):
        rc, out, err = run("gate", *args)
        tap.ok(rc == want and "ragrade gate" in err, f"gate, {name}: exit {want}", (rc, err))
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"line": 1, "scores": {"m": 0.5}}\n{not json\n')
    rc, out, err = run("gate", base, bad)
    tap.ok(rc == 65 and "bad.jsonl:2" in err, "gate: a broken result file exits 65 naming the line", err)
    rc, out, err = run("gate", base, same, "--junit", os.path.join(tmp, "no", "dir.xml"))
    tap.ok(rc >= 64, "gate: an unwritable --junit file is an error", (rc, err))

    # A criterion's versions are compared apart ("versions" in eval output).
    def vrows(ver):
        return [dict(r, versions={"tone": ver}) for r in rows([0.1 * i for i in range(6)], metric="tone")]
    fv1 = write(os.path.join(tmp, "v1.jsonl"), vrows("aaaaaaaaaaaaaaaa"))
    fv1b = write(os.path.join(tmp, "v1b.jsonl"), vrows("aaaaaaaaaaaaaaaa"))
    fv2 = write(os.path.join(tmp, "v2.jsonl"), vrows("bbbbbbbbbbbbbbbb"))
    rc, out, err = run("compare", fv1, fv1b, "--json")
    same_v = {m["metric"]: m.get("pairs") for m in json.loads(out)["metrics"]} if rc == 0 else {}
    tap.ok(same_v.get("tone@aaaaaaaaaaaaaaaa") == 6, "compare: one criterion version on both sides pairs", (rc, out, err))
    rc, out, err = run("compare", fv1, fv2, "--json")
    paired = [m for m in (json.loads(out)["metrics"] if out.strip().startswith("{") else []) if m.get("pairs")]
    tap.ok(not paired, "compare: two versions of a criterion are never paired", (rc, out, err))

    # compare --json: pairing by item, one-sided rows, figures.
    b = rows([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    c = rows([0.8, 0.8, 0.5, 0.7, 0.1, 0.4, 0.35, 0.1])
    b.append({"item": "only-b", "question": "x", "scores": {"faithfulness": 0.5}})
    c.append({"item": "only-c", "question": "y", "scores": {"faithfulness": 0.5}})
    c.append({"item": "case-9", "question": "z", "scores": {"faithfulness": None}})
    c.append({"error": {"message": "judge failed", "field": None}})
    fb, fc = write(os.path.join(tmp, "b.jsonl"), b), write(os.path.join(tmp, "c.jsonl"), c)
    rc, out, err = run("compare", fb, fc, "--json")
    j = json.loads(out)
    m = j["metrics"][0]
    d = [y - x for x, y in zip([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], [0.8, 0.8, 0.5, 0.7, 0.1, 0.4, 0.35, 0.1])]
    tap.ok(rc == 0 and m["pairs"] == 8 and m["only_baseline"] == 1 and m["only_candidate"] == 1,
           "compare --json: pairs by item, counts the rows on one side", out)
    tap.ok(abs(m["delta"] - statistics.fmean(d)) < 1e-12 and abs(m["p_value"] - exact_p(d)) < 1e-12
           and m["p_method"] == "exact", f"compare: delta {m['delta']:.4f} and exact p {m['p_value']:.4f} match", m)
    keyed = sorted((f"case-{i}", x) for i, x in enumerate(d))
    want_drops = [k for k, x in sorted((t for t in keyed if t[1] < 0), key=lambda t: t[1])]
    tap.ok([x["item"] for x in m["drops"]] == want_drops
           and m["drops"][0]["baseline_id"] == 5 and m["drops"][0]["candidate_id"] == 5
           and [x["item"] for x in m["gains"]] == ["case-3", "case-6"], "compare: drops and gains with both ids", m)
    tap.ok(m["p_holm"] == m["p_value"] and m["verdict"] == "no_difference" and m["ci95"][0] < m["delta"] < m["ci95"][1],
           "compare: one metric, Holm changes nothing; verdict and interval", m)
    rc, out, err = run("compare", fb, fc)
    tap.ok(rc == 0 and "faithfulness" in out and "drop case-4" in out, "compare prints a table with the drops", out)
    qb = write(os.path.join(tmp, "qb.jsonl"), rows(base_scores, items=False))
    qc = write(os.path.join(tmp, "qc.jsonl"), list(reversed(rows([v - 0.2 for v in base_scores], items=False))))
    rc, out, err = run("compare", qb, qc, "--json", "--min-delta", "0.1")
    m = json.loads(out)["metrics"][0]
    tap.ok(rc == 0 and m["pairs"] == 60 and abs(m["delta"] + 0.2) < 1e-9 and m["verdict"] == "worse",
           "compare: rows without item pair by question, in any order", m)
    rc, out, err = run("compare", qb, qc, "--json", "--min-delta", "0.3")
    tap.eq(json.loads(out)["metrics"][0]["verdict"], "no_difference", "compare: --min-delta above |delta| gives no_difference")
    rc, out, err = run("compare", base, worse, "--metrics", "answer_relevancy", "--json")
    j = json.loads(out)
    tap.ok([x["metric"] for x in j["metrics"]] == ["answer_relevancy"], "compare --metrics picks the metrics", out)

    # End to end: ragrade eval writes item and question; compare pairs them.
    src_b, src_c = os.path.join(tmp, "in_b.jsonl"), os.path.join(tmp, "in_c.jsonl")
    with open(src_b, "w") as fb_, open(src_c, "w") as fc_:
        for i in range(12):
            q = {"question": f"what is {i}?", "contexts": [f"{i} is a number"], "ground_truth": f"{i} is a number",
                 "item": f"n{i}", "run": "v1", "metrics": ["token_f1"]}
            fb_.write(json.dumps(dict(q, answer=f"{i} is a number")) + "\n")
            fc_.write(json.dumps(dict(q, run="v2", answer=f"it is {i}")) + "\n")
    outs = []
    for src in (src_b, src_c):
        rc, out, err = run("eval", src, data=tmp)
        outs.append(write(src + ".out", [json.loads(x) for x in out.splitlines()]))
    first = json.loads(open(outs[0]).readline())
    tap.ok(first.get("item") == "n0" and first.get("run") == "v1" and first.get("question") == "what is 0?",
           "ragrade eval carries run, item and question", first)
    bad_rows = os.path.join(tmp, "bad_rows.jsonl")
    base_row = {"question": "q", "answer": "a", "contexts": []}
    cases = [({"item": ""}, "item", "must not be empty"), ({"run": "r" * 129}, "run", "longer than 128 bytes"),
             ({"item": "i" * 201}, "item", "longer than 200 bytes"), ({"run": 7}, "run", "must be a string"),
             ({"run": "r" * 128, "item": "i" * 200}, None, None), ({"run": None, "item": None}, None, None)]
    with open(bad_rows, "w") as f:
        for extra, _, _ in cases:
            f.write(json.dumps(dict(base_row, **extra)) + "\n")
    rc, out, err = run("eval", bad_rows, data=tmp)
    got = [json.loads(x) for x in out.splitlines()]
    for (extra, field, msg), g in zip(cases, got):
        if field:
            tap.ok(g.get("error", {}).get("field") == field and msg in g["error"]["message"],
                   f"row validation: {field} {msg}", g)
        else:
            tap.ok("scores" in g, f"row validation: {sorted(extra)} at their limits (or null) accepted", g)
    rc, out, err = run("gate", *outs)
    tap.ok(rc == 1 and "token_f1 dropped" in err, "gate on ragrade eval output finds the worse answers", (rc, err))
    shutil.rmtree(tmp)


tap.run(main)
