"""ARMT's overhead: inference throughput of memory_type="associative" against RMT on the same BERT-base-sized encoder.

    python bench/bench_armt.py --output-dir bench/results/armt_h200          # on a GPU (bf16), < 1 minute on an H200
    python bench/bench_armt.py --quick --device cpu --dtype float32 --output-dir /tmp/armt   # smoke test, tiny model

One random BERT-base-sized classifier (12 x 768, 512 positions) is wrapped twice, with the same 10 memory tokens and
499-token segments: as RMT, and as ARMT (`memory_dim` 64, the official BABILong setting; value projections drawn at
random so the memory stores, as after training). Both read the same ids. Timed (medians over `--repeats` after
`--warmup`): inference at each `--batches` size over `--segments` segments, eager and, on CUDA, with the CUDA-graph
fast path (`enable_cuda_graphs`), and with `--compile` with the step compiled too; and one training step (forward +
backward, full BPTT) at `--train-batch`. The issue's target: ARMT's inference throughput at batch 32 at least 0.8
of RMT's. Writes `bench_armt.json` and `bench_armt.log` (what is printed) into `--output-dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import transformers
from _common import bert_config, print_top_kernels, sync  # noqa: E402  (bench/ is on sys.path when a script runs)
from transformers import BertForSequenceClassification

import hf_rmt


def measure(fn, device: torch.device, warmup: int, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(args, device, dtype):
    """The backbone wrapped as RMT and as ARMT (one backbone: ARMT's hooks exist only during its own calls)."""
    torch.manual_seed(0)
    backbone = BertForSequenceClassification(bert_config(args.quick)).to(device=device, dtype=dtype)
    memory = 4 if args.quick else 10
    common = {"num_memory_tokens": memory, "cls_token_id": 101, "sep_token_id": 102}
    rmt = hf_rmt.get_rmt_model(backbone, hf_rmt.RMTConfig(**common), train_backbone=True)
    config = hf_rmt.RMTConfig(**common, memory_type="associative", memory_dim=8 if args.quick else args.memory_dim)
    armt = hf_rmt.get_rmt_model(backbone, config, train_backbone=True)
    with torch.no_grad():
        for layer in armt.memory.layers:
            layer.value.weight.normal_(std=0.02)
    return {"rmt": rmt.eval(), "associative": armt.eval()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="bfloat16 on CUDA, float32 on CPU by default")
    parser.add_argument("--quick", action="store_true", help="tiny model and inputs (smoke test)")
    parser.add_argument("--batches", default=None, help="comma-separated inference batch sizes (default 1,8,32)")
    parser.add_argument("--segments", type=int, default=None, help="segments per input (default 16; quick: 3)")
    parser.add_argument("--memory-dim", type=int, default=64)
    parser.add_argument("--train-batch", type=int, default=None, help="training-step batch (default 8; quick: 2)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print the top GPU kernels of both at the largest batch: the eager call, and one replayed step of each "
        "CUDA-graph mode",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="CUDA: also time both with the step compiled in the graphs (`enable_cuda_graphs(compile=True)`), which "
        "fuses ARMT's elementwise read and write (its DPFP feature map, division and sum) into few kernels",
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    batches = [int(b) for b in (args.batches or ("1,2" if args.quick else "1,8,32")).split(",")]
    segments = args.segments or (3 if args.quick else 16)
    train_batch = args.train_batch or (2 if args.quick else 8)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 10)
    os.makedirs(args.output_dir, exist_ok=True)
    log = open(os.path.join(args.output_dir, "bench_armt.log"), "w")

    def say(line: str = "") -> None:
        print(line)
        log.write(line + "\n")
        log.flush()

    models = build(args, device, dtype)
    segment = models["rmt"].config.segment_size
    results = {
        "command": " ".join([os.path.basename(sys.argv[0]), *(argv if argv is not None else sys.argv[1:])]),
        "environment": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "dtype": str(dtype).replace("torch.", ""),
        },
        "settings": {
            "segment_size": segment,
            "num_memory_tokens": models["rmt"].config.num_memory_tokens,
            "memory_dim": models["associative"].config.memory_dim,
            "segments": segments,
            "warmup": warmup,
            "repeats": repeats,
            "extra_parameters": sum(p.numel() for p in models["associative"].memory.layers.parameters()),
        },
        "inference": [],
        "training": [],
    }
    environment, extra = results["environment"], results["settings"]["extra_parameters"]
    say(f"ARMT vs RMT on {environment['device']} ({environment['dtype']}): {segments} segments of {segment} tokens")
    say(f"ARMT adds {extra:,d} parameters")
    say(f"{'batch':>6} {'mode':>7} {'RMT tok/s':>12} {'ARMT tok/s':>12} {'ARMT/RMT':>9}")
    modes = (["eager", "graphs"] + (["compiled"] if args.compile else [])) if device.type == "cuda" else ["eager"]
    for batch in batches:
        ids = torch.randint(
            1000 if not args.quick else 5, 20000 if not args.quick else 900, (batch, segments * segment)
        )
        ids = ids.to(device)
        for mode in modes:
            seconds = {}
            for kind, model in models.items():
                if mode != "eager":
                    model.enable_cuda_graphs(compile=mode == "compiled")
                with torch.no_grad():
                    seconds[kind] = measure(lambda model=model: model(ids), device, warmup, repeats)
                if args.profile and mode != "eager" and batch == max(batches):
                    # One memory-only step as the loop replays it: where ARMT's extra GPU time goes, kernel by kernel.
                    replay = next(iter(model._graphs.graphs.values())).graph.replay
                    print_top_kernels(replay, device, f"{kind}, batch {batch}, {mode}, one step", top=25, say=say)
                model.disable_cuda_graphs()
            tokens = batch * segments * segment
            row = {
                "batch": batch,
                "mode": mode,
                "rmt_tok_s": tokens / seconds["rmt"],
                "armt_tok_s": tokens / seconds["associative"],
                "ratio": seconds["rmt"] / seconds["associative"],
            }
            results["inference"].append(row)
            say(f"{batch:>6} {mode:>7} {row['rmt_tok_s']:>12.0f} {row['armt_tok_s']:>12.0f} {row['ratio']:>9.3f}")

    if args.profile:
        for kind, model in models.items():
            with torch.no_grad():
                print_top_kernels(lambda model=model: model(ids), device, f"{kind}, batch {batch}, eager", say=say)

    say(f"\nTraining step (forward + backward, full BPTT), batch {train_batch}, {segments} segments")
    ids = torch.randint(5, 900, (train_batch, segments * segment), device=device)
    labels = torch.zeros(train_batch, dtype=torch.long, device=device)
    seconds = {}
    for kind, model in models.items():
        model.train()

        def step(model=model):
            model.zero_grad(set_to_none=True)
            model(ids, labels=labels).loss.backward()

        seconds[kind] = measure(step, device, warmup, repeats)
        model.eval()
    row = {"batch": train_batch, "rmt_s": seconds["rmt"], "armt_s": seconds["associative"]}
    row["ratio"] = seconds["rmt"] / seconds["associative"]
    results["training"].append(row)
    say(f"RMT {row['rmt_s']:.4f} s, ARMT {row['armt_s']:.4f} s, ARMT/RMT throughput {row['ratio']:.3f}")

    at_32 = {r["mode"]: r["ratio"] for r in results["inference"] if r["batch"] == 32}
    if at_32:
        # The issue asks for the ratio at batch 32; each mode compares the two models run the same way.
        results["target_batch32_ratio_ge_0.8"] = {mode: ratio >= 0.8 for mode, ratio in at_32.items()}
        ratios = ", ".join(f"{mode} {ratio:.3f}" for mode, ratio in at_32.items())
        say(f"\nTarget (ARMT >= 0.8 of RMT at batch 32): {ratios}")
    with open(os.path.join(args.output_dir, "bench_armt.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
