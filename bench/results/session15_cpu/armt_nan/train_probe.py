"""Trains ARMT (real MiniLM-L6, LoRA r=16 + memory, as the H200 run) on detect_memorize on CPU with short segments,
through hf_rmt.cli, with instrument.py recording per step: the pre-clip gradient norm, the smallest read/write
denominator dots, and the largest backward |grad| at each division. One JSON line a step to --probe-out.

Run: PYTHONPATH=/tmp/minilm_pkg python train_probe.py --probe-out X.jsonl [--floor F] -- <hf-rmt train args>
"""
import argparse
import json
import math
import sys
import time

import torch

torch.set_num_threads(1)
import instrument  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--probe-out", required=True)
p.add_argument("--floor", type=float, default=None)
a, rest = p.parse_known_args()
if rest and rest[0] == "--":
    rest = rest[1:]
instrument.install(a.floor)

from hf_rmt import training  # noqa: E402
from hf_rmt.cli import main  # noqa: E402

original = training.RMTTrainer.training_step
out = open(a.probe_out, "w")
step = {"n": 0, "t": time.time()}


def training_step(self, model, inputs, *args, **kwargs):
    instrument.reset()
    loss = original(self, model, inputs, *args, **kwargs)
    grads = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
    norm = float(torch.stack(grads).norm()) if grads else 0.0
    step["n"] += 1
    segs = sum(1 for r in instrument.RECORDS if r["op"] == "write" and r["layer"] == 0)
    line = {"step": step["n"], "segments": segs, "loss": float(loss), "grad_norm": norm,
            "s": round(time.time() - step["t"], 1), **instrument.summary()}
    out.write(json.dumps(line) + "\n")
    out.flush()
    return loss


training.RMTTrainer.training_step = training_step
sys.exit(main(["train", *rest]))
