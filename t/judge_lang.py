"""Rows in other languages through the judge (the fake LLM, t/lib/fakellm.py):
a Chinese row's prompts carry the Chinese worked examples and the
instruction to write in the answer's language, an English row's the
English ones; the row's LLM metrics end as numbers."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from harness import ROW, FakeLLM, Server  # noqa: E402

LANG_RULE = "in the language of the answer or response in the input"
METRICS = ["faithfulness", "answer_relevancy", "correctness"]
ROW_ZH = {
    "question": "埃菲尔铁塔是哪一年建成的？",
    "answer": "它于1889年建成。",
    "contexts": ["埃菲尔铁塔于1889年为世界博览会建成。"],
}
# A word of one worked example of each prompt, per language.
MARKS = {"nli": ("Maria", "李娜"), "question": ("Amazon", "长城"), "statements": ("Marie Curie", "鲁迅"),
         "correctness": ("longer than it needs", "表述")}


def prompts_sent(f):
    """kind -> the text of every message of the last request of that kind."""
    out = {}
    for r in f.stats()["last"]:
        msgs = (r.get("body") or {}).get("messages") or []
        if r["kind"] in MARKS:
            out[r["kind"]] = "\n".join(m.get("content", "") for m in msgs)
    return out


def grade(f, row, zh):
    f.control(reset=True)
    with Server(workers=1, env=f.env(RAGRADE_JUDGE_CACHE="no")) as s:
        r = s.post("/api/eval", dict(row, metrics=METRICS))
        rid = r.json()["id"]
        s.wait_status([rid], ("done",), 60)
        j = s.get(f"/api/eval/{rid}").json()
        lang = "Chinese" if zh else "English"
        tap.ok(all(isinstance(j["scores"].get(m), float) for m in METRICS),
               f"{lang} row: every LLM metric is a number", j.get("scores"))
        sent = prompts_sent(f)
        tap.eq(sorted(sent), sorted(MARKS), f"{lang} row: every kind of prompt was sent")
        for kind, (en, cn) in MARKS.items():
            text = sent.get(kind, "")
            want, other = (cn, en) if zh else (en, cn)
            tap.ok(want in text and other not in text and LANG_RULE in text,
                   f"{lang} row: the {kind} prompt has the {lang} examples and the language rule",
                   text[:400])


def main():
    with FakeLLM() as f:
        grade(f, ROW_ZH, True)
        grade(f, ROW, False)


if __name__ == "__main__":
    tap.run(main)
