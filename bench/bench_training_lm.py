"""Causal-LM training benchmark of hf_rmt against the official RMT code (issue 18): tokens/s and peak GPU memory of one
forward + backward, each speed lever measured on its own, in one run.

    python bench/bench_training_lm.py --output results/training_lm_h200.json                 # one GPU
    python bench/bench_training_lm.py --quick --device cpu --dtype float32 --output x.json   # smoke test
    python bench/bench_training_lm.py --compile --profile --output x.json   # + GPU busy share and top kernels
    python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --profile --output x.json   # + graphs

Setup (the issue's): GPT-2 small (124M, random weights) with 16 memory tokens, 512-token segments, batch 8 x 8
segments, bf16 weights, full BPTT, forward + backward (gradients dropped after each step, no optimizer), labels = the
inputs. Times are medians over `--repeats` steps after `--warmup`, the modes of one model alternating (so that a
shared host's drifts fall on all alike); peak memory is the highest `torch.cuda.max_memory_allocated` over a mode's
warmup and timed steps (warmup included because a CUDA-graph replay allocates nothing: its pool is allocated while
the graph is recorded).

Modes (each an RMTConfig setting, toggled on one model):
  baseline       the backbone's head on every segment, logits materialised (the state before issue 18)
  chunked        `skip_logits_in_training=True`: the loss by chunks of `--loss_chunk_size` tokens, no logits, each
                 chunk's gradients computed in forward; the head's matmuls on its weight padded to 50304 rows
                 (`hf_rmt.core.lm_loss.VOCAB_PAD_MULTIPLE`)
  checkpointing  `segment_checkpointing=True`, logits materialised
  both           chunked loss + segment checkpointing
  <mode>-unpadded  chunked / both with the head's matmuls at GPT-2's 50257 rows (the padding timed on its own)
  both-recompute both with the chunked loss's gradients recomputed in backward (`GRADIENTS_IN_FORWARD=False`)
  <mode>-eager-logits  chunked / both with each chunk's loss and logit gradient computed by eager torch ops instead
                 of the kernel compiled on CUDA (`COMPILE_LOGITS_KERNEL=False`)
  both-keep<k>   both with the last k segments kept (`segment_checkpointing_keep_last=k`, `--keep_last`): k
                 segments' activations held for k - 1 fewer recomputations
  <mode>+compile each mode again with every backbone block `torch.compile`d (`--compile`); with CUDA graphs
                 (`--compile_mode reduce-overhead`) one mode at a time, each compiled and recorded afresh, so that
                 its peak counts its own graphs' memory pool
  --pair_official  the official step also timed beside each compiled mode (alternating), for a paired ratio
  official       booydar/recurrent-memory-transformer babilong-release `RecurrentWrapper` + `MemoryCell`, if its
                 `language_modeling.py` is in `--official_dir` (placed there at run time, never committed); else the
                 issue's figures for it (156.6k tokens/s at 31.6 GiB, H200)

Also: the chunked loss alone on one segment's hidden states (custom autograd function against per-chunk
`torch.utils.checkpoint`, against the materialised logits, and Liger-Kernel's fused kernel where it is installed), and the peak memory of `both` at 2 and 32 segments.
Targets: `both` >= 1.5x the official tokens/s at <= 0.3x its peak memory; peak at 32 segments <= 1.2x that at 2.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import time

import torch
from _common import kernel_seconds, print_top_kernels, sync  # noqa: E402  (bench/ is on sys.path when a script runs)
from bench_training import DTYPES, compile_layers, environment, gib
from transformers import GPT2Config, GPT2LMHeadModel

import hf_rmt
from hf_rmt.core import lm_loss
from hf_rmt.core.lm_loss import chunked_lm_loss, lm_head_weights


OFFICIAL_FIGURES = {"tokens_per_s": 156.6e3, "peak_memory_bytes": 31.6 * 2**30, "source": "issue 18 (H200)"}
# Mode settings under these names set hf_rmt.core.lm_loss's switches for their step (the library's defaults else).
LOSS_DEFAULTS = {
    name: getattr(lm_loss, name) for name in ("VOCAB_PAD_MULTIPLE", "GRADIENTS_IN_FORWARD", "COMPILE_LOGITS_KERNEL")
}
TARGETS = {"speedup_vs_official": 1.5, "memory_vs_official": 0.3, "memory_ratio_32_vs_2": 1.2}


def modes(chunk: int, keep_last: tuple[int, ...] = (4,)) -> dict[str, dict]:
    """Each mode's RMTConfig settings (all of them, as the modes alternate on one model)."""
    materialised, chunked = (
        {"loss_chunk_size": None, "skip_logits_in_training": False, "segment_checkpointing_keep_last": 1},
        {"loss_chunk_size": chunk, "skip_logits_in_training": True, "segment_checkpointing_keep_last": 1},
    )
    # The chunked loss pads the head's rows for its matmuls (hf_rmt.core.lm_loss.VOCAB_PAD_MULTIPLE) and computes
    # its gradients in forward (GRADIENTS_IN_FORWARD); "-unpadded" and "-recompute" turn one of them off, so that
    # each is timed as a lever of its own.
    unpadded, recompute = {"VOCAB_PAD_MULTIPLE": None}, {"GRADIENTS_IN_FORWARD": False}
    eager_logits = {"COMPILE_LOGITS_KERNEL": False}
    kept = {
        f"both-keep{k}": {**chunked, "segment_checkpointing": True, "segment_checkpointing_keep_last": k}
        for k in keep_last
    }
    return {
        "baseline": {**materialised, "segment_checkpointing": False},
        "chunked": {**chunked, "segment_checkpointing": False},
        "chunked-unpadded": {**chunked, **unpadded, "segment_checkpointing": False},
        "checkpointing": {**materialised, "segment_checkpointing": True},
        "both": {**chunked, "segment_checkpointing": True},
        "both-unpadded": {**chunked, **unpadded, "segment_checkpointing": True},
        "both-recompute": {**chunked, **recompute, "segment_checkpointing": True},
        "chunked-eager-logits": {**chunked, **eager_logits, "segment_checkpointing": False},
        "both-eager-logits": {**chunked, **eager_logits, "segment_checkpointing": True},
        **kept,
    }


def gpt2_config(args) -> GPT2Config:
    if args.quick:
        return GPT2Config(
            vocab_size=1000, n_embd=64, n_layer=2, n_head=4, n_positions=128, bos_token_id=0, eos_token_id=0
        )
    return GPT2Config()  # GPT-2 small: 12 x 768, 50257 tokens, 1024 positions


def backbone(args, device, dtype) -> GPT2LMHeadModel:
    torch.manual_seed(args.seed)
    config = gpt2_config(args)
    config._attn_implementation = args.attn_implementation
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
        setattr(config, name, 0.0)  # the same work in every mode (no RNG state to keep for recomputation)
    return GPT2LMHeadModel(config).to(device=device, dtype=dtype).train()


def rmt_model(args, device, dtype):
    config = hf_rmt.RMTConfig(
        num_memory_tokens=args.num_memory_tokens, segment_size=args.segment_size, loss_chunk_size=args.loss_chunk_size
    )
    model = hf_rmt.get_rmt_model(backbone(args, device, dtype), config, train_backbone=True)
    return model.to(device=device, dtype=dtype).train()


def official_model(args, device, dtype):
    """The official `RecurrentWrapper`, or None when its code is not in `--official_dir`."""
    path = os.path.join(args.official_dir, "language_modeling.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("official_language_modeling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Built on the CPU: the official MemoryCell draws its memory with torch.randn on the default device.
    cell = module.MemoryCell(backbone(args, torch.device("cpu"), dtype), num_mem_tokens=args.num_memory_tokens)
    wrapper = module.RecurrentWrapper(cell, segment_size=args.segment_size, max_n_segments=64, k2=-1)
    return wrapper.to(device=device, dtype=dtype).train()


class Step:
    """Forward + backward of a model on one fixed batch (labels = inputs); returns the loss."""

    def __init__(self, model, input_ids: torch.Tensor, settings: dict | None = None):
        self.model, self.input_ids, self.settings = model, input_ids, settings

    def __call__(self) -> torch.Tensor:
        # A new training iteration for compile's CUDA-graph trees (--compile_mode reduce-overhead): the previous
        # step's graph outputs may be overwritten, since each step drops its gradients and keeps only the detached
        # loss. Without CUDA graphs this only advances a counter.
        torch.compiler.cudagraph_mark_step_begin()
        settings = dict(self.settings or {})
        for name, default in LOSS_DEFAULTS.items():
            setattr(lm_loss, name, settings.pop(name, default))
        for name, value in settings.items():
            setattr(self.model.config, name, value)
        loss = self.model(input_ids=self.input_ids, labels=self.input_ids).loss
        loss.backward()
        for parameter in self.model.parameters():
            parameter.grad = None
        return loss.detach()


def time_steps(steps: dict, device, warmup: int, repeats: int) -> dict:
    """Median time and peak memory of each of `steps`, alternating them (A B C, C B A, ...); OOM noted."""
    results, live, peaks = {name: {} for name in steps}, [], {}
    for name, step in steps.items():
        try:
            # Warmup counts towards the peak: a CUDA-graph replay (--compile_mode reduce-overhead) allocates nothing,
            # its memory (the graphs' pool) is allocated while it is recorded, in warmup.
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            for _ in range(warmup):
                step()
            live.append(name)
            peaks[name] = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
        except torch.OutOfMemoryError:
            results[name]["oom"] = True
            if device.type == "cuda":
                torch.cuda.empty_cache()
    times, loss_of = {n: [] for n in live}, {}
    for repeat in range(repeats):
        for name in live if repeat % 2 == 0 else live[::-1]:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            start = time.perf_counter()
            loss = steps[name]()
            sync(device)
            times[name].append(time.perf_counter() - start)
            if device.type == "cuda":
                peaks[name] = max(peaks[name], torch.cuda.max_memory_allocated(device))
            loss_of[name] = loss
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{name}: non-finite loss {loss.item()}")
    for name in live:
        results[name].update(
            step_time_s=statistics.median(times[name]),
            step_times_s=times[name],
            loss=float(loss_of[name]),  # the same batch every step: the modes' losses must agree
            peak_memory_bytes=peaks[name] if device.type == "cuda" else None,
        )
    return results


def uses_cuda_graphs(compile_mode: str | None, device) -> bool:
    """Whether `torch.compile(mode=compile_mode)` replays CUDA graphs (CUDA-graph trees) on `device`."""
    return device.type == "cuda" and compile_mode in ("reduce-overhead", "max-autotune")


def drop_compiled_graphs(device) -> None:
    """Forget every compiled graph and CUDA-graph tree, with their memory pools (the next call compiles again)."""
    torch.compiler.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def profile_steps(steps: dict, results: dict, device, top: int) -> None:
    """With `--profile`, on CUDA: each timed step's GPU kernel time, its share of the step's wall time (`gpu_busy`:
    near 1 means the GPU never waits, so only fewer or faster kernels help; well below 1 means the host's launches or
    syncs leave it idle, which CUDA graphs remove), its kernel count, and the top kernels of each step."""
    for name, step in steps.items():
        row = results.get(name, {})
        if "step_time_s" not in row:
            continue
        busy = kernel_seconds(step, device)
        if busy is None:
            continue
        row["kernel_time_s"], row["gpu_busy"] = busy, busy / row["step_time_s"]
        lines = []
        print_top_kernels(step, device, f"{name} (GPU busy {100 * row['gpu_busy']:.0f}%)", top=top, say=lines.append)
        row["top_kernels"] = lines
        print("\n".join(lines), flush=True)


def levers(args, device, dtype) -> dict:
    """Every mode on the `--segments` batch, and the official step when its code is there."""
    generator = torch.Generator().manual_seed(args.seed)
    vocab = gpt2_config(args).vocab_size
    ids = torch.randint(0, vocab, (args.batch_size, args.segments * args.segment_size), generator=generator)
    ids = ids.to(device)
    model = rmt_model(args, device, dtype)
    wanted = modes(args.loss_chunk_size, tuple(args.keep_last))
    if args.modes:
        unknown = sorted(set(args.modes) - set(wanted))
        if unknown:
            raise SystemExit(f"--modes: unknown {unknown}; the modes are {sorted(wanted)}")
        wanted = {name: settings for name, settings in wanted.items() if name in args.modes}
    steps = {name: Step(model, ids, settings) for name, settings in wanted.items()}
    # --pair_official: the official step is timed beside each compiled mode (alternating with it), so that every
    # compiled mode has a ratio against an official figure of its own minutes on the same host.
    paired = official_model(args, device, dtype) if args.pair_official and args.compile else None
    results = time_steps(steps, device, args.warmup, args.repeats)
    if args.profile:
        profile_steps(steps, results, device, args.profile)
    if args.compile:
        compile_layers(model, mode=args.compile_mode)
        # Every lever again with the blocks compiled: compile's gain on the plain step tells how much of a lever's
        # cost is kernel launches and unfused elementwise work rather than its extra FLOPs.
        compiled = {f"{name}+compile": step for name, step in steps.items()}
        try:
            if uses_cuda_graphs(args.compile_mode, device):
                # One mode at a time, each compiled and recorded afresh: CUDA-graph trees keep the memory pool of
                # every graph they recorded, and a later mode replaying the blocks another mode recorded allocates
                # nothing, so alternating the modes would credit each with the pools of the others.
                for name, step in compiled.items():
                    drop_compiled_graphs(device)
                    timed = {name: step, **({"official": Step(paired, ids)} if paired is not None else {})}
                    pair = time_steps(timed, device, args.warmup, args.repeats)
                    if paired is not None and "step_time_s" in pair.get("official", {}):
                        pair[name]["paired_official_step_time_s"] = pair["official"]["step_time_s"]
                    results[name] = pair[name]
                    if args.profile:
                        profile_steps({name: step}, results, device, args.profile)
                drop_compiled_graphs(device)  # the official step after it gets the memory back
            else:
                if paired is not None:
                    compiled["official"] = Step(paired, ids)
                timed = time_steps(compiled, device, args.warmup, args.repeats)
                for name, row in timed.items():
                    if paired is not None and name != "official" and "step_time_s" in timed["official"]:
                        row["paired_official_step_time_s"] = timed["official"]["step_time_s"]
                    if name != "official":
                        results[name] = row
                compiled.pop("official", None)
                if args.profile:
                    profile_steps(compiled, results, device, args.profile)
        except Exception as error:  # noqa: BLE001  (a compiler failure is a result to report, not a crash)
            for name in compiled:
                results.setdefault(name, {"error": f"{type(error).__name__}: {error}"[:2000]})
    del model, steps, paired
    official = official_model(args, device, dtype)
    if official is not None:
        official_step = {"official": Step(official, ids)}
        results.update(time_steps(official_step, device, args.warmup, args.repeats))
        if args.profile:
            profile_steps(official_step, results, device, args.profile)
        del official
    tokens = args.batch_size * args.segments * args.segment_size
    for row in results.values():
        if "step_time_s" in row:
            row["tokens_per_s"] = tokens / row["step_time_s"]
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results


def memory_scaling(args, device, dtype) -> dict:
    """Peak memory of `both` (chunked loss + checkpointing) at the fewest and the most segments."""
    model = rmt_model(args, device, dtype)
    out = {}
    for segments in args.scaling_segments:
        ids = torch.randint(0, gpt2_config(args).vocab_size, (args.batch_size, segments * args.segment_size))
        step = Step(model, ids.to(device), modes(args.loss_chunk_size)["both"])
        out[str(segments)] = time_steps({"both": step}, device, 1, 1)["both"]
    low, high = (str(n) for n in (min(args.scaling_segments), max(args.scaling_segments)))
    if out[low].get("peak_memory_bytes") and out[high].get("peak_memory_bytes"):
        out["ratio"] = out[high]["peak_memory_bytes"] / out[low]["peak_memory_bytes"]
    del model
    return out


def loss_implementations(args, device, dtype) -> dict:
    """One segment's loss alone (hidden states in, forward + backward): materialised logits, the chunked autograd
    function, and per-chunk `torch.utils.checkpoint`."""
    head_model = backbone(args, device, dtype)
    head = lm_head_weights(head_model)
    rows = args.batch_size * args.segment_size
    hidden = torch.randn(rows, head.weight.shape[1], device=device, dtype=dtype, requires_grad=True)
    targets = torch.randint(0, head.weight.shape[0], (rows,), device=device)

    def run(kind: str):
        def step():
            if kind == "materialised":
                logits = head.post(torch.nn.functional.linear(hidden, head.weight, head.bias)).float()
                loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
            else:
                loss = chunked_lm_loss(hidden, head, targets, args.loss_chunk_size, kind)
            loss.backward()
            hidden.grad = head.weight.grad = None
            return loss.detach()

        return step

    kinds = ["materialised", "function", "checkpoint"]
    if device.type == "cuda" and importlib.util.find_spec("liger_kernel") is not None:
        kinds.append("liger")  # optional: Liger-Kernel's Triton fused linear cross-entropy
    results = time_steps({kind: run(kind) for kind in kinds}, device, args.warmup, args.repeats)
    del head_model
    return results


def summarize(results: dict, scaling: dict) -> dict:
    measured = results.get("official")
    official = (
        {**measured, "source": "measured in this run"}
        if measured and "step_time_s" in measured
        else dict(OFFICIAL_FIGURES)
    )
    summary = {"official": {k: official.get(k) for k in ("tokens_per_s", "peak_memory_bytes", "source")}}
    for name, row in results.items():
        if name == "official" or "tokens_per_s" not in row:
            continue
        entry = {"speedup_vs_official": row["tokens_per_s"] / official["tokens_per_s"]}
        if "paired_official_step_time_s" in row:
            entry["speedup_vs_paired_official"] = row["paired_official_step_time_s"] / row["step_time_s"]
        if row.get("peak_memory_bytes") and official.get("peak_memory_bytes"):
            entry["memory_vs_official"] = row["peak_memory_bytes"] / official["peak_memory_bytes"]
            entry["targets_met"] = (
                entry["speedup_vs_official"] >= TARGETS["speedup_vs_official"]
                and entry["memory_vs_official"] <= TARGETS["memory_vs_official"]
            )
        summary[name] = entry
    if "ratio" in scaling:
        summary["memory_ratio_most_vs_fewest_segments"] = scaling["ratio"]
        summary["memory_scaling_target_met"] = scaling["ratio"] <= TARGETS["memory_ratio_32_vs_2"]
    return summary


def print_report(results: dict, losses: dict, scaling: dict, summary: dict) -> None:
    print(
        f"{'mode':>24} {'step s':>8} {'tokens/s':>10} {'peak GiB':>9} {'x official tok/s':>16} {'x official mem':>14}"
    )
    for name, row in results.items():
        if "step_time_s" not in row:
            print(f"{name:>24} {'OOM' if row.get('oom') else row.get('error', '-')[:60]:>8}")
            continue
        ratios = summary.get(name, {})
        speed = f"{ratios['speedup_vs_official']:.2f}" if "speedup_vs_official" in ratios else "-"
        memory = f"{ratios['memory_vs_official']:.2f}" if "memory_vs_official" in ratios else "-"
        paired = ratios.get("speedup_vs_paired_official")
        print(
            f"{name:>24} {row['step_time_s']:>8.3f} {row['tokens_per_s']:>10.0f} {gib(row['peak_memory_bytes']):>9} "
            f"{speed:>16} {memory:>14}" + (f"  (x {paired:.2f} the official timed beside it)" if paired else "")
        )
    print(f"official: {summary['official']['source']}")
    met = [name for name, entry in summary.items() if isinstance(entry, dict) and entry.get("targets_met")]
    print(
        f"modes meeting >= {TARGETS['speedup_vs_official']}x at <= {TARGETS['memory_vs_official']}x: {met or 'none'}"
    )
    print("one segment's loss alone (forward + backward):")
    for name, row in losses.items():
        print(f"{name:>14} {row.get('step_time_s', float('nan')):>8.4f} s {gib(row.get('peak_memory_bytes')):>9} GiB")
    for key in ("memory_ratio_most_vs_fewest_segments", "memory_scaling_target_met"):
        if key in summary:
            print(f"{key}: {summary[key]}")
    print(f"targets: {TARGETS}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES), help="Weights' dtype.")
    parser.add_argument("--segments", type=int, default=None, help="Default: 8 (quick: 2).")
    parser.add_argument("--scaling_segments", type=int, nargs=2, default=None, help="Default: 2 32 (quick: 2 4).")
    parser.add_argument("--batch_size", type=int, default=None, help="Default: 8 (quick: 2).")
    parser.add_argument("--segment_size", type=int, default=None, help="Default: 512 (quick: 24).")
    parser.add_argument("--num_memory_tokens", type=int, default=None, help="Default: 16 (quick: 4).")
    parser.add_argument("--loss_chunk_size", type=int, default=None, help="Default: 1024 (quick: 16).")
    parser.add_argument("--attn_implementation", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--compile", action="store_true", help="Also time every mode with compiled backbone blocks.")
    parser.add_argument(
        "--compile_mode",
        default=None,
        choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune"],
        help="torch.compile mode of --compile's blocks; reduce-overhead replays their forward and backward from CUDA "
        "graphs (the launch-bound steps' lever)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=12,
        default=0,
        help="CUDA: also record each step's GPU kernel time and its share of the wall time (gpu_busy), and print its "
        "top N kernels (default 12)",
    )
    parser.add_argument(
        "--keep_last", type=int, nargs="+", default=[4], help="both-keep<k> modes: segments kept (default: 4)."
    )
    parser.add_argument("--modes", nargs="+", default=None, help="Only these modes (default: all; see above).")
    parser.add_argument("--official_dir", default=".carry/official", help="Where the official code may be.")
    parser.add_argument(
        "--pair_official",
        action="store_true",
        help="With --compile: also time the official step beside each compiled mode, alternating with it, and report "
        "each mode's ratio to that paired figure (the host's launch latency drifts between minutes of a run)",
    )
    parser.add_argument("--warmup", type=int, default=None, help="Default: 3 (quick: 1).")
    parser.add_argument("--repeats", type=int, default=None, help="Default: 10 (quick: 1).")
    parser.add_argument("--quick", action="store_true", help="Tiny model and sizes: a smoke test that runs on CPU.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file for the results.")
    args = parser.parse_args()
    if args.compile_mode is not None and not args.compile:
        parser.error(f"--compile_mode {args.compile_mode} needs --compile (it is the mode of the compiled blocks)")
    defaults = {
        "segments": (2, 8),
        "scaling_segments": ([2, 4], [2, 32]),
        "batch_size": (2, 8),
        "segment_size": (24, 512),
        "num_memory_tokens": (4, 16),
        "loss_chunk_size": (16, 1024),
        "warmup": (1, 3),
        "repeats": (1, 10),
    }
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    # Extra fields that `environment` reads from the classification benchmark's arguments.
    args.freeze_backbone, args.compile_layers = False, args.compile
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    results = levers(args, device, dtype)
    losses = loss_implementations(args, device, dtype)
    scaling = memory_scaling(args, device, dtype)
    summary = summarize(results, scaling)
    print_report(results, losses, scaling, summary)
    env = {**environment(args, device, dtype), "model": "tiny GPT-2 (quick)" if args.quick else "GPT-2 small (124M)"}
    env.update(autocast=False, weights_dtype=str(dtype).replace("torch.", ""), segments=args.segments)
    env.update(loss_chunk_size=args.loss_chunk_size, compile_mode=args.compile_mode)
    report = {"environment": env, "targets": TARGETS, "results": results, "loss_only": losses}
    report.update(memory_scaling=scaling, summary=summary)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump(report, handle, indent=2)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
