"""Training benchmark of hf_rmt: step throughput and peak GPU memory against the number of segments, with and without
segment checkpointing (memory-efficient BPTT), and data-parallel (DDP) scaling over several GPUs.

    python bench/bench_training.py --output bench/results/training_h100.json                  # one GPU
    torchrun --nproc_per_node 2 bench/bench_training.py --ddp --output bench/results/training_ddp.json   # 2 GPUs
    python bench/bench_training.py --quick --device cpu --dtype float32                          # smoke test

Setup (the 1M-token paper's): RMTForSequenceClassification around a BERT-base-sized random encoder (12 layers, hidden
768), 10 memory tokens, segments of 499 tokens, batch 8, every weight trained (AdamW), bf16 autocast over fp32 weights
(fp16 autocast uses a gradient scaler), full BPTT. A training step is forward + backward + optimizer step; times are
medians over `--repeats` steps after `--warmup` steps; peak memory is `torch.cuda.max_memory_allocated` over the timed
steps (weights, gradients and AdamW state included). Configurations that run out of memory are reported as OOM.

Sections:
  1. (one process) 2, 8, 32 segments x segment checkpointing off/on: one model per segment count, its plain and
     checkpointed steps alternating (so that a shared host's drifts fall on both alike). The "GPU busy" column is
     the kernel time of a step over its wall time: well below 100%, the step is bound by the host launching kernels.
  2. (`--ddp`, under torchrun) for 8 and 32 segments (checkpointing on): the one-GPU throughput on rank 0 alone, then
     DDP over every rank with the same per-GPU batch: global samples/s and the scaling factor (DDP global throughput /
     one-GPU throughput); a step's time is that of its slowest rank.

Targets: peak memory at 32 segments <= 1.2x that at 2 segments with checkpointing; checkpointing costs <= 35%
throughput; DDP on 2 GPUs >= 1.8x one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch
import transformers
from _common import bert_config, kernel_seconds, sync  # noqa: E402  (bench/ is on sys.path when a script runs)
from transformers import BertForSequenceClassification
from transformers.utils.logging import tqdm

import hf_rmt
from hf_rmt.training import compile_backbone_blocks


DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
DTYPES.update({"float32": torch.float32, "fp32": torch.float32})
TARGETS = {"memory_ratio_32_vs_2": 1.2, "checkpointing_cost": 0.35, "ddp_scaling_2_gpus": 1.8}


def build_model(args, device: torch.device, checkpointing: bool):
    torch.manual_seed(args.seed)
    config = bert_config(args.quick)
    config._attn_implementation = args.attn_implementation
    backbone = BertForSequenceClassification(config)
    rmt_config = hf_rmt.RMTConfig(
        num_memory_tokens=args.num_memory_tokens,
        segment_size=args.segment_size,
        segment_checkpointing=checkpointing,
        cls_token_id=101 if not args.quick else 1,
        sep_token_id=102 if not args.quick else 2,
    )
    model = hf_rmt.get_rmt_model(backbone, rmt_config, train_backbone=not args.freeze_backbone)
    if args.compile_layers:
        compile_layers(model)
    return model.to(device).train()


def compile_layers(model: torch.nn.Module, mode: str | None = None) -> int:
    """`torch.compile`s each block of the backbone's layer stack in place, as the library does for training
    (`hf_rmt.training.compile_backbone_blocks`; `RMTTrainer` with `torch_compile=True`): the blocks fuse their
    elementwise kernels, forward and backward, while the segment loop, the memory and the hooks stay eager. `mode` is
    torch.compile's (`"reduce-overhead"` replays each block's forward and backward from CUDA graphs). Shapes are fixed
    here (`dynamic=False`), as in every run recorded so far."""
    return compile_backbone_blocks(model, mode=mode, dynamic=False)


class Stepper:
    """One training step (forward, backward, optimizer step) of `model` on a fixed random batch."""

    def __init__(self, model, args, device: torch.device, segments: int, dtype: torch.dtype, rank: int = 0):
        self.model, self.device, self.dtype = model, device, dtype
        # Each rank draws its own batch (a data-parallel step sees world x batch samples).
        generator = torch.Generator().manual_seed(args.seed + segments + 1000 * rank)
        vocab = getattr(model, "module", model).backbone.config.vocab_size
        self.input_ids = torch.randint(5, vocab, (args.batch_size, segments * args.segment_size), generator=generator)
        self.input_ids = self.input_ids.to(device)
        self.labels = torch.randint(0, 6, (args.batch_size,), generator=generator).to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        fused = {"fused": True} if device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(params, lr=1e-5, **fused)
        self.scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None

    def __call__(self) -> float:
        autocast = torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
        with autocast:
            loss = self.model(input_ids=self.input_ids, labels=self.labels).loss
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss


def measure(step, device: torch.device, warmup: int, repeats: int) -> dict:
    """Median step time and peak memory of `step()` after `warmup` steps (which also allocate the optimizer state)."""
    for _ in range(warmup):
        step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    static = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        loss = step()
        sync(device)
        times.append(time.perf_counter() - start)
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(f"non-finite loss {loss.item()}")
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "step_time_s": statistics.median(times),
        "gpu_kernel_s": kernel_seconds(step, device),
        "step_times_s": times,
        "peak_memory_bytes": peak,
        "static_memory_bytes": static,
    }


def run_interleaved(args, device, dtype, segments: int, modes: list[bool]) -> list[dict]:
    """Plain and checkpointed steps of one model, alternating (A B B A ...), so that drifts of a shared host's speed
    fall on both modes alike; per mode: median step time, kernel time and peak memory over its own steps."""
    results = {
        c: {"segments": segments, "segment_checkpointing": c, "tokens": segments * args.segment_size} for c in modes
    }
    model = step = None
    try:
        model = build_model(args, device, checkpointing=False)
        step = Stepper(model, args, device, segments, dtype)
        live = []
        for mode in modes:  # warm-up (also allocates the optimizer state); a mode that runs out of memory drops out
            model.config.segment_checkpointing = mode
            try:
                for _ in range(args.warmup):
                    step()
                live.append(mode)
            except torch.OutOfMemoryError:
                results[mode]["oom"] = True
                step.optimizer.zero_grad(set_to_none=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        sync(device)
        static = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
        times = {mode: [] for mode in live}
        peaks = {mode: 0 for mode in live}
        for repeat in range(args.repeats):
            for mode in live if repeat % 2 == 0 else live[::-1]:
                model.config.segment_checkpointing = mode
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                sync(device)
                start = time.perf_counter()
                loss = step()
                sync(device)
                times[mode].append(time.perf_counter() - start)
                if device.type == "cuda":
                    peaks[mode] = max(peaks[mode], torch.cuda.max_memory_allocated(device))
                if not torch.isfinite(loss.detach()):
                    raise FloatingPointError(f"non-finite loss {loss.item()}")
        for mode in live:
            model.config.segment_checkpointing = mode
            median = statistics.median(times[mode])
            results[mode].update(
                step_time_s=median,
                gpu_kernel_s=kernel_seconds(step, device),
                step_times_s=times[mode],
                peak_memory_bytes=peaks[mode] if device.type == "cuda" else None,
                static_memory_bytes=static,
                samples_per_s=args.batch_size / median,
                tokens_per_s=args.batch_size * segments * args.segment_size / median,
            )
    finally:
        del model, step
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return [results[mode] for mode in modes]


def environment(args, device, dtype) -> dict:
    info = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hf_rmt": hf_rmt.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "autocast": dtype != torch.float32,
        "attn_implementation": args.attn_implementation,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "batch_size_per_gpu": args.batch_size,
        "segment_size": args.segment_size,
        "num_memory_tokens": args.num_memory_tokens,
        "train_backbone": not args.freeze_backbone,
        "compile_layers": args.compile_layers,
        "model": "tiny BERT (quick)" if args.quick else "BERT-base-sized random encoder (12 x 768)",
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["gpu_count_visible"] = torch.cuda.device_count()
    return info


def gib(value) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}"


def busy(r: dict) -> str:
    """Kernel time / step time: well below 100% means the host, not the GPU, bounds the step."""
    return "-" if r.get("gpu_kernel_s") is None else f"{100 * r['gpu_kernel_s'] / r['step_time_s']:.0f}%"


def print_table(results: list[dict]) -> None:
    print(
        f"{'segments':>8} {'ckpt':>5} {'step s':>8} {'GPU busy':>8} {'samples/s':>10} {'tokens/s':>10} {'peak GiB':>9} "
        f"{'static GiB':>10}"
    )
    for r in results:
        if r.get("oom"):
            print(f"{r['segments']:>8} {str(r['segment_checkpointing']):>5} {'OOM':>8}")
            continue
        print(
            f"{r['segments']:>8} {str(r['segment_checkpointing']):>5} {r['step_time_s']:>8.3f} {busy(r):>8} "
            f"{r['samples_per_s']:>10.2f} {r['tokens_per_s']:>10.0f} {gib(r['peak_memory_bytes']):>9} "
            f"{gib(r['static_memory_bytes']):>10}"
        )


def summarize(results: list[dict]) -> dict:
    """The target ratios that the measured configurations allow."""
    ok = {(r["segments"], r["segment_checkpointing"]): r for r in results if not r.get("oom")}
    summary = {}
    counts = sorted({r["segments"] for r in results})
    low, high = (counts[0], counts[-1]) if counts else (None, None)
    a, b = ok.get((low, True)), ok.get((high, True))
    if a and b and a["peak_memory_bytes"] and b["peak_memory_bytes"]:
        ratio = b["peak_memory_bytes"] / a["peak_memory_bytes"]
        summary[f"memory_ratio_{high}_vs_{low}_with_checkpointing"] = ratio
        summary["memory_target_met"] = ratio <= TARGETS["memory_ratio_32_vs_2"]
    costs = {}
    for n in counts:
        plain, ckpt = ok.get((n, False)), ok.get((n, True))
        if plain and ckpt:
            costs[n] = 1 - ckpt["samples_per_s"] / plain["samples_per_s"]
    if costs:
        summary["checkpointing_throughput_cost"] = costs
        summary["checkpointing_target_met"] = max(costs.values()) <= TARGETS["checkpointing_cost"]
    return summary


def single_process(args, device, dtype) -> dict:
    checkpointing = {"both": [False, True], "on": [True], "off": [False]}[args.checkpointing]
    results = []
    for segments in tqdm(args.segments, desc="segment counts"):
        results.extend(run_interleaved(args, device, dtype, segments, checkpointing))
    print_table(results)
    summary = summarize(results)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return {"environment": environment(args, device, dtype), "targets": TARGETS, "results": results, **summary}


def data_parallel(args, dtype) -> dict | None:
    """For each of `--ddp_segments`: the one-GPU throughput on rank 0 alone, then DDP on every rank (same per-GPU
    batch); returns the report on rank 0 (None elsewhere)."""
    import torch.distributed as dist  # noqa: PLC0415

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if args.device == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
    rank, world = dist.get_rank(), dist.get_world_size()
    ckpt = args.checkpointing != "off"
    rows = []
    for segments in args.ddp_segments:
        single = run_interleaved(args, device, dtype, segments, [ckpt])[0] if rank == 0 else None
        dist.barrier()
        model = build_model(args, device, ckpt)
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if device.type == "cuda" else None, gradient_as_bucket_view=True
        )
        if args.ddp_comm_hook == "bf16":
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks  # noqa: PLC0415

            ddp.register_comm_hook(None, default_hooks.bf16_compress_hook)
        step = Stepper(ddp, args, device, segments, dtype, rank=rank)
        measured = measure(step, device, args.warmup, args.repeats)
        # Ranks wait for each other in every step's all-reduce: a step lasts as long as its slowest rank.
        times = torch.tensor(measured["step_times_s"], device=device, dtype=torch.float64)
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        peak = torch.tensor([measured["peak_memory_bytes"] or 0], device=device, dtype=torch.float64)
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
        del ddp, model, step
        if device.type == "cuda":
            torch.cuda.empty_cache()
        step_time = statistics.median(times.tolist())
        row = {
            "segments": segments,
            "segment_checkpointing": ckpt,
            "single_gpu": single,
            "ddp": {
                "step_time_s": step_time,
                "step_times_s": times.tolist(),
                "global_batch": world * args.batch_size,
                "samples_per_s": world * args.batch_size / step_time,
                "peak_memory_bytes_max_over_ranks": float(peak.item()) or None,
            },
        }
        if single and not single.get("oom"):
            row["scaling"] = row["ddp"]["samples_per_s"] / single["samples_per_s"]
        rows.append(row)
    dist.destroy_process_group()
    if rank != 0:
        return None

    print(
        f"{'segments':>8} {'1-GPU step s':>12} {'1-GPU samples/s':>15} {'DDP step s':>10} {'DDP samples/s':>13} {'scaling':>8}"
    )
    for row in rows:
        single, ddp = row["single_gpu"] or {}, row["ddp"]
        one = (
            f"{single['step_time_s']:>12.3f} {single['samples_per_s']:>15.2f}" if "scaling" in row else f"{'OOM':>28}"
        )
        scaling = f"{row['scaling']:>7.2f}x" if "scaling" in row else ""
        print(f"{row['segments']:>8} {one} {ddp['step_time_s']:>10.3f} {ddp['samples_per_s']:>13.2f} {scaling}")
    report = {
        "environment": {
            **environment(args, dtype=dtype, device=device),
            "world_size": world,
            "backend": backend,
            "ddp_comm_hook": args.ddp_comm_hook,
        },
        "targets": TARGETS,
        "results": rows,
    }
    scalings = [row["scaling"] for row in rows if "scaling" in row]
    if scalings and world == 2:
        report["scaling_target_met"] = min(scalings) >= TARGETS["ddp_scaling_2_gpus"]
        print(f"scaling target (>= {TARGETS['ddp_scaling_2_gpus']}x on 2 GPUs) met: {report['scaling_target_met']}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES), help="Autocast dtype (fp32: none).")
    parser.add_argument("--segments", type=int, nargs="+", default=None, help="Default: 2 8 32 (quick: 2 4).")
    parser.add_argument("--checkpointing", choices=["both", "on", "off"], default="both")
    parser.add_argument("--batch_size", type=int, default=None, help="Per GPU. Default: 8 (quick: 2).")
    parser.add_argument("--segment_size", type=int, default=None, help="Default: 499 (quick: 24).")
    parser.add_argument("--num_memory_tokens", type=int, default=None, help="Default: 10 (quick: 4).")
    parser.add_argument("--attn_implementation", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--freeze_backbone", action="store_true", help="Train memory and head only.")
    parser.add_argument(
        "--compile_layers", action="store_true", help="torch.compile each backbone block (fewer kernel launches)."
    )
    parser.add_argument("--warmup", type=int, default=None, help="Default: 3 (quick: 2).")
    parser.add_argument("--repeats", type=int, default=None, help="Default: 10 (quick: 2).")
    parser.add_argument("--ddp", action="store_true", help="Data-parallel mode; launch with torchrun.")
    parser.add_argument(
        "--ddp_segments", type=int, nargs="+", default=None, help="Segments in DDP mode. Default: 8 32 (quick: 2)."
    )
    parser.add_argument("--ddp_comm_hook", choices=["none", "bf16"], default="none", help="bf16: compress gradients.")
    parser.add_argument("--quick", action="store_true", help="Tiny model and sizes: a smoke test that runs on CPU.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file for the results.")
    args = parser.parse_args()
    defaults = {
        "segments": ([2, 4], [2, 8, 32]),
        "batch_size": (2, 8),
        "segment_size": (24, 499),
        "num_memory_tokens": (4, 10),
        "warmup": (2, 3),
        "repeats": (2, 10),
        "ddp_segments": ([2], [8, 32]),
    }
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    dtype = DTYPES[args.dtype]
    if args.ddp:
        report = data_parallel(args, dtype)
    else:
        report = single_process(args, torch.device(args.device), dtype)
    if report is not None and args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump(report, handle, indent=2)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
