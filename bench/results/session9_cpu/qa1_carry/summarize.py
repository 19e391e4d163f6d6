"""Validation curves of the qa1 carry study's logs: one row per log, and curves.json.

Usage: summarize.py [LOG ...] (default: logs/*.log)
       summarize.py --dir STUDY   (STUDY/logs/*.log, writing STUDY/curves.json: another study's folder)
"""

from __future__ import annotations

import ast
import glob
import json
import os
import re
import sys


def parse(path: str) -> dict:
    with open(path) as f:
        lines = f.read().splitlines()
    command = lines[0]
    steps = re.search(r"--steps-per-stage (\S+)", command).group(1)
    total = sum(int(s) for s in steps.split(","))
    curve, losses, done = [], [], None
    for line in lines:
        line = line.lstrip("\x1b[A").strip()
        if line.startswith("{'eval_loss'"):
            d = ast.literal_eval(line)
            curve.append((round(float(d["epoch"]) * total), float(d["eval_accuracy"])))
        elif line.startswith("{'loss'"):
            d = ast.literal_eval(line)
            losses.append((round(float(d["epoch"]) * total), float(d["loss"])))
        elif line.startswith("Trained in"):
            done = line
    accs = [a for _, a in curve]
    return {
        "name": os.path.basename(path)[:-4],
        "command": command,
        "curve": curve,
        "loss": losses,
        "best": max(accs) if accs else None,
        "best_step": curve[accs.index(max(accs))][0] if accs else None,
        "last": accs[-1] if accs else None,
        "last_step": curve[-1][0] if curve else None,
        "finished": done,
    }


def main() -> None:
    args = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    if args[:1] == ["--dir"]:
        here, args = os.path.abspath(args[1]), args[2:]
    paths = args or sorted(glob.glob(os.path.join(here, "logs", "*.log")))
    rows = [parse(p) for p in paths]
    for r in rows:
        curve = " ".join(f"{s}:{a:.3f}" for s, a in r["curve"])
        status = "done" if r["finished"] else "running/killed"
        print(f"{r['name']:28s} best {r['best']} @{r['best_step']} last {r['last']} @{r['last_step']} [{status}]")
        print(f"    {curve}")
    if not args:
        with open(os.path.join(here, "curves.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
