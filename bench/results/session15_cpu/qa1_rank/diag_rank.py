"""Which qa1 facts does the memory carry? Session 9's `first` condition (the whole story in the first of two
segments, the second holds noise and the question: only memory can answer), split by how many facts follow the
supporting one (0: the question's fact is the story's last fact). `one_segment` (the same stories read directly) is
the reference. Every qa1 model so far answers `first` at 38-49%; if the memory kept only the story's last fact, it
would answer rank 0 like `one_segment` and the other ranks near chance (1/6).

Usage: diag_rank.py MODEL_DIR [MODEL_DIR ...] --out JSON [--num-samples N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "session9_cpu", "qa1_carry"))
from diag_carry import MINILM, accuracy, controlled_samples  # noqa: E402

from hf_rmt.cli import _load_for_eval  # noqa: E402
from hf_rmt.tasks import make_dataset  # noqa: E402
from hf_rmt.tasks.dataset import sample_rng  # noqa: E402


def ranks_of(tokenizer, segment: int, n: int, seed: int = 1234) -> tuple[list[int], list[int]]:
    """For `controlled_samples`' stories (same seed and order: each story is its generator's first draw), the number
    of facts after the supporting fact, and the number of facts."""
    ds = make_dataset("qa1", tokenizer, n, 2 * segment, split="test", seed=seed)
    ranks, sizes = [], []
    for index in range(n):
        story, _, _ = ds._draw_story(sample_rng(seed, "test", "qa1", 10_000 + index), segment)
        ranks.append(len(story.facts) - 1 - story.supporting[0])
        sizes.append(len(story.facts))
    return ranks, sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-samples", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    results, data = {}, None
    for path in args.models:
        adapter = os.path.exists(os.path.join(path, "adapter_model.safetensors"))
        model, tokenizer, _ = _load_for_eval(path, args.device, backbone=MINILM if adapter else None)
        model.eval()
        segment = model.config.segment_size
        if data is None or data["segment"] != segment:
            data = controlled_samples(tokenizer, segment, args.num_samples)
            data["segment"] = segment
            data["ranks"], data["sizes"] = ranks_of(tokenizer, segment, args.num_samples)
        ranks = np.asarray(data["ranks"])
        row = {}
        for name in ("first", "one_segment"):
            correct = []
            for i in range(len(data["labels"])):  # per sample, to split by rank afterwards
                correct.append(accuracy(model, [data[name][i]], [data["labels"][i]], batch=1))
            correct = np.asarray(correct)
            row[name] = float(correct.mean())
            row[f"{name}_by_rank"] = {}
            for label, mask in (
                ("0", ranks == 0),
                ("1", ranks == 1),
                ("2", ranks == 2),
                ("3", ranks == 3),
                ("4+", ranks >= 4),
            ):
                if mask.any():
                    row[f"{name}_by_rank"][label] = [round(float(correct[mask].mean()), 3), int(mask.sum())]
        results[os.path.basename(path.rstrip("/"))] = row
        print(os.path.basename(path.rstrip("/")), json.dumps(row), flush=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
