# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""How reliably `hf-rmt main` learns: the distribution of its accuracy and wall time over seeds and thread counts.

A training recipe is judged by its worst run, not its best: float reduction order changes with the number of CPU
threads, the CPU and the GPU, and a recipe that converges on one machine can diverge on the next. This runs the main
command once per (seed, thread count) as a subprocess, the way a user runs it, and prints the worst, median and best
accuracy at each test length, how many runs reached 99% at every length, and the wall time.

```
python bench/bench_main.py --seeds 0-9 --threads 1 2 --jobs 2          # 2-core CPU: two 1-thread runs side by side
python bench/bench_main.py --seeds 0-9 --device cuda --bf16 --jobs 8    # GPU
```
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time


def _seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def run_one(seed: int, threads: int, args: argparse.Namespace) -> dict:
    out = os.path.join(args.work_dir, f"seed{seed}_threads{threads}{'_bf16' if args.bf16 else ''}")
    command = [sys.executable, "-m", "hf_rmt.cli", "main", "--seed", str(seed), "--output-dir", out, "--no-progress"]
    command += ["--device", args.device] + (["--bf16"] if args.bf16 else []) + args.main_args
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env.update(TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", TQDM_DISABLE="1")
    began = time.perf_counter()
    with open(out + ".log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    wall = time.perf_counter() - began
    record = {
        "seed": seed,
        "threads": threads,
        "bf16": args.bf16,
        "exit": done.returncode,
        "wall_seconds": round(wall, 1),
    }
    try:
        with open(os.path.join(out, "eval_by_length.json")) as handle:
            result = json.load(handle)
        with open(os.path.join(out, "model", "hf_rmt_training.json")) as handle:
            info = json.load(handle)
    except OSError as error:
        record["error"] = f"{error}; see {out}.log"
        return record
    record.update(
        accuracy={str(r["length"]): r["accuracy"] for r in result["results"]},
        train_seconds=info["train_seconds"],
        eval_seconds=result.get("extra", {}).get("eval_seconds"),
        steps=info.get("steps"),
        stages=[(s["max_segments"], s["best_metric"], s["end_step"]) for s in info.get("stages", [])],
        torch_threads=info.get("torch_threads"),
    )
    return record


def summarize(records: list[dict], threshold: float) -> str:
    lines = []
    groups = sorted({r["threads"] for r in records})
    for label, subset in [
        *((f"{t} thread(s)", [r for r in records if r["threads"] == t]) for t in groups),
        ("all", records),
    ]:
        done = [r for r in subset if "accuracy" in r]
        if not done:
            continue
        lengths = sorted(done[0]["accuracy"], key=int)
        good = sum(all(r["accuracy"][n] >= threshold for n in lengths) for r in done)
        lines.append(
            f"{label}: {len(done)} runs, {good} reached {threshold:.0%} at every length; {len(subset) - len(done)} failed to run"
        )
        for n in lengths:
            values = sorted(r["accuracy"][n] for r in done)
            lines.append(
                f"  {int(n):>6,} tokens: worst {values[0]:.1%}  median {statistics.median(values):.1%}  best {values[-1]:.1%}"
            )
        walls = sorted(r["wall_seconds"] for r in done)
        trains = sorted(r["train_seconds"] for r in done)
        lines.append(
            f"  wall time: median {statistics.median(walls):.0f} s, worst {walls[-1]:.0f} s (training median "
            f"{statistics.median(trains):.0f} s, worst {trains[-1]:.0f} s)"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=_seeds, default=_seeds("0-9"), help="e.g. 0-9 or 0,3,7")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (keep jobs x threads <= cores)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--work_dir", default=os.path.join("runs", "bench_main"))
    parser.add_argument("--output", default=None, help="JSON of every run (default: WORK_DIR/bench_main.json)")
    parser.add_argument("--threshold", type=float, default=0.99)
    parser.add_argument("main_args", nargs="*", help="extra `hf-rmt main` arguments, after --")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    output = args.output or os.path.join(args.work_dir, "bench_main.json")
    # Runs with more threads first, alone when they need every core; then the others side by side.
    plan = [(seed, threads) for threads in sorted(args.threads, reverse=True) for seed in args.seeds]
    records: list[dict] = []
    for threads in sorted(args.threads, reverse=True):
        jobs = max(1, args.jobs // threads) if args.device == "cpu" else args.jobs
        batch = [(s, t) for s, t in plan if t == threads]
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for record in pool.map(lambda job: run_one(*job, args), batch):
                records.append(record)
                print(json.dumps(record), flush=True)
                with open(output, "w") as handle:
                    json.dump({"runs": records, "argv": sys.argv[1:]}, handle, indent=1)
    print()
    print(summarize(records, args.threshold))
    failed = [r for r in records if r.get("exit") not in (0, None) or "error" in r]
    print(f"\n{len(failed)} of {len(records)} runs exited non-zero (did not converge or crashed).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
