"""One line per copy run of logs/ (the table of gpt2_transplant.md): knobs, seed (from the run's record
logs/NAME.json, copied there from copy_run.sh's /tmp/s8), the step at which 3 and 4 segments passed (the curriculum
moved on at validation >= 0.9) and the steps spent at 4 segments, the best validation exact match at 4 and 5 segments, the test exact match at 3/4/5
segments (the weights restored by train_algorithmic: the last stage's best validated ones), steps and the first loss.
Usage: python summarize.py"""

import glob
import json
import os
import re


HERE = os.path.dirname(os.path.abspath(__file__))


def row(path):
    text = open(path).read()
    knobs = re.search(r"runx: arch (\w+), knobs (\{.*?\})", text)
    stages = dict((int(n), int(s) - 1) for s, n in re.findall(r"step (\d+): stage of up to (\d+) segments", text))
    best = {}
    for n in (4, 5):
        vals = [float(v) for v in re.findall(rf"validation exact match ([\d.]+) at {n} segments", text)]
        best[n] = f"{max(vals):.3f} ({len(vals)})" if vals else "-"
    test = dict((int(n), v) for n, v in re.findall(r"(\d+) segments, +\d+ tokens: exact match ([\d.]+)", text))
    steps = re.search(r"runx: steps (\d+)", text)
    loss = re.search(r"step \d+: loss ([\d.]+)", text)
    record = path[:-4] + ".json"
    seed = "?"
    if os.path.exists(record):
        argv = json.load(open(record))["argv"]
        seed = argv[argv.index("--seed") + 1] if "--seed" in argv else "0"
    knob_text = knobs.group(2) if knobs else ""
    at4 = "-"
    if 4 in stages:  # steps spent at 4 segments: until it passed, else until the budget ended (">")
        at4 = str(stages[5] - stages[4]) if 5 in stages else (f">{int(steps.group(1)) - stages[4]}" if steps else "-")
    return (
        f"| {os.path.basename(path)[:-4]} | {knobs.group(1) if knobs else '?'} | {knob_text} | {seed} | "
        f"{stages.get(4, '-')} | {stages.get(5, '-')} | {at4} | {best[4]} | {best[5]} | "
        f"{test.get(3, '-')} / {test.get(4, '-')} / {test.get(5, '-')} | {steps.group(1) if steps else '(running)'} | "
        f"{loss.group(1) if loss else '-'} |"
    )


print(
    "| id | arch | knobs | seed | 3 seg passed at | 4 seg passed at | steps at 4 seg | best val at 4 (evals) | best val at 5 (evals) "
    "| test 3 / 4 / 5 | steps | first loss |"
)
print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
for path in sorted(glob.glob(os.path.join(HERE, "logs", "*.log")), key=os.path.getmtime):
    if "copy with" in open(path).read():
        print(row(path))
