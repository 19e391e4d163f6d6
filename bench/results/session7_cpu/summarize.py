"""One line per log of logs/: the step each stage began (curriculum moved on at validation >= 0.9), the best
validation at 4 segments (copy) or 3 segments (associative: 2 pairs), and the first logged loss.
Usage: python summarize.py"""

import glob
import os
import re


HERE = os.path.dirname(os.path.abspath(__file__))
for path in sorted(glob.glob(os.path.join(HERE, "logs", "*.log")), key=lambda p: (p[-7].isdigit(), p)):
    text = open(path).read()
    knobs = re.search(r"runx: arch (\w+), knobs (\{.*?\})", text)
    stages = re.findall(r"step (\d+): stage of up to (\d+) segments", text)
    at = 3 if "associative with" in text else 4
    vals = [float(v) for v in re.findall(rf"validation exact match ([\d.]+) at {at} segments", text)]
    loss = re.search(r"step \d+: loss ([\d.]+)", text)
    steps = re.search(r"runx: steps (\d+)", text)
    print(
        f"{os.path.basename(path)[:-4]:4s} {knobs.group(1) if knobs else '?':5s} {knobs.group(2) if knobs else '':45s} "
        f"stages {' '.join(f'{n}@{s}' for s, n in stages):22s} best val at {at} seg "
        f"{max(vals) if vals else '-'} ({len(vals)} evals) | first loss {loss.group(1) if loss else '-'} | steps "
        f"{steps.group(1) if steps else '-'}"
    )
