"""Rolling generation speed (issue 16): tokens per second of generating `--new-tokens` tokens at batch 1 with an RMT
Llama-style decoder (~125M parameters, random weights) against the plain backbone's `generate` with its KV cache at
the same total length. Target: RMT >= 0.8x plain.

The plain backbone needs positions for the whole sequence, so it gets a config with enough of them; the RMT backbone
keeps 2048 positions (a segment and its memory fit), with the same weights (Llama's rotary positions have none).

At batch 1 a decoding step of a 125M model is bound by the host (Python and kernel launches, ~10-20 ms a step in
eager PyTorch), so 10,000 tokens take minutes per model. The script prints as it goes: a short timed warm-up of each
model gives its time per token and the projected length of the run; progress lines follow every `--progress-every`
seconds; each model's result is printed (and the JSON written) as soon as it is known. When the projection exceeds
`--time-budget` (200 s for both timed runs together, so that a default run with its setup ends within ~4 minutes),
both models generate the same smaller number of tokens that fits, and the result says so: plain's time per token
grows with its cache while RMT's does not (one segment at most), so a shorter run tends to understate RMT's ratio.
`--time-budget 0` always runs the full length. `--profile` then prints the top ops of an RMT decoding step.

    python bench/bench_generation.py --output bench/results/generation_h200.json        # GPU, bf16, 10,000 tokens
    python bench/bench_generation.py --new-tokens 512 --profile                         # where a step's time goes
    python bench/bench_generation.py --quick --device cpu --dtype float32 --output /tmp/g.json   # smoke test
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import threading
import time
from typing import Any


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, StaticCache

import hf_rmt


TARGET_RATIO = 0.8
START = time.perf_counter()


def say(message: str) -> None:
    """Prints at once (a remote run's output is read while it runs), with the seconds since the start."""
    print(f"[{time.perf_counter() - START:7.1f} s] {message}", flush=True)


def llama_config(quick: bool, positions: int) -> LlamaConfig:
    """~125M Llama (768 x 12 layers, 12 heads, FFN 2048, vocab 32000), or a tiny one for `--quick`."""
    if quick:
        sizes = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
        return LlamaConfig(vocab_size=256, max_position_embeddings=positions, **sizes)
    sizes = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 2048}
    return LlamaConfig(vocab_size=32000, max_position_embeddings=positions, **sizes)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generate(model, ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Greedy generation of exactly `new_tokens` tokens (no eos): the same call for both models."""
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    static = getattr(model, "bench_static_cache", None)
    if static is not None:  # plain with a static cache: one cache (one compiled shape) for every run, emptied
        cache, argument = static
        cache.reset()
        kwargs[argument] = cache
    out = model.generate(ids, eos_token_id=None, pad_token_id=0, **kwargs)
    assert out.shape[1] == ids.shape[1] + new_tokens, out.shape
    return out


class Progress:
    """
    Counts the one-token calls of `module` (decoding steps) and prints the count every `every` seconds from a
    background thread, so that a run of minutes shows it is alive and how fast it goes. Counting is a Python hook
    call per step, alike for both models, with no device sync; `every <= 0` turns it off.
    """

    def __init__(self, name: str, module: torch.nn.Module, total: int, every: float):
        self.name, self.module, self.total, self.every = name, module, total, every
        self.steps = 0

    def _count(self, module, args, kwargs) -> None:
        inputs = kwargs.get("input_ids", kwargs.get("inputs_embeds"))
        if inputs is None and args:
            inputs = args[0]
        if inputs is not None and inputs.shape[1] == 1:
            self.steps += 1

    def _report(self) -> None:
        start = time.perf_counter()
        while not self._stop.wait(self.every):
            elapsed = time.perf_counter() - start
            rate = self.steps / elapsed
            left = f", ~{(self.total - self.steps) / rate:.0f} s left" if rate else ""
            say(f"  {self.name}: {self.steps}/{self.total} tokens in {elapsed:.0f} s ({rate:.1f} tok/s{left})")

    def __enter__(self) -> Progress:
        self.steps = 0
        self._stop = threading.Event()
        if self.every > 0:
            self._hook = self.module.register_forward_pre_hook(self._count, with_kwargs=True)
            self._thread = threading.Thread(target=self._report, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.every > 0:
            self._stop.set()
            self._thread.join()
            self._hook.remove()


def timed_generate(
    model, ids: torch.Tensor, new_tokens: int, device: torch.device, repeats: int = 1, progress: Progress | None = None
) -> float:
    """Best wall time of `repeats` generations of exactly `new_tokens` tokens."""
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        if progress is None:
            generate(model, ids, new_tokens)
        else:
            with progress:
                generate(model, ids, new_tokens)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def per_token_seconds(model, ids: torch.Tensor, tokens: int, device: torch.device) -> float:
    """Seconds per new token of a short run (after one warm-up call): the prompt's prefill cancels out, as the time
    of a 1-token run is subtracted."""
    generate(model, ids, 8)  # kernels, allocator, cuBLAS handles; compiled steps compile and record their graphs
    one = timed_generate(model, ids, 1, device)
    return (timed_generate(model, ids, tokens, device) - one) / (tokens - 1)


def fit_to_budget(new_tokens: int, seconds_per_token: float, budget: float) -> int:
    """`new_tokens`, or fewer so that both runs (`seconds_per_token` summed over the models) fit `budget` seconds;
    the full length when `budget` <= 0."""
    if budget <= 0 or new_tokens * seconds_per_token <= budget:
        return new_tokens
    return max(int(budget / seconds_per_token) // 64 * 64, 64)


# ------------------------------------------------------------------------------------------------ profiling


def op_table(model, ids: torch.Tensor, new_tokens: int, device: torch.device) -> dict[str, list]:
    """torch.profiler's ops (and CUDA kernels) of one generation: name -> [calls, self host us, self device us,
    is a kernel]."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sync(device)
    with profile(activities=activities) as prof:
        generate(model, ids, new_tokens)
        sync(device)
    table = {}
    for event in prof.key_averages():
        kernel = event.device_type == torch.autograd.DeviceType.CUDA
        device_us = getattr(event, "self_device_time_total", 0.0)
        table[event.key] = [event.count, event.self_cpu_time_total, device_us, kernel]
    return table


def per_token_ops(model, ids: torch.Tensor, tokens: int, device: torch.device) -> dict[str, list]:
    """`op_table` per decoding step: a run of `tokens` new tokens minus one of 1 token (the prefill), divided by
    `tokens - 1`."""
    generate(model, ids, 2)
    short, long = op_table(model, ids, 1, device), op_table(model, ids, tokens, device)
    steps = tokens - 1
    rows = {}
    for key, (count, host, dev, kernel) in long.items():
        base = short.get(key, [0, 0.0, 0.0, kernel])
        rows[key] = [(count - base[0]) / steps, (host - base[1]) / steps, (dev - base[2]) / steps, kernel]
    return {key: row for key, row in rows.items() if row[0] > 0}


def op_totals(rows: dict[str, list]) -> dict[str, float]:
    ops = [row for row in rows.values() if not row[3]]
    kernels = [row for row in rows.values() if row[3]]
    return {
        "ops_per_token": sum(row[0] for row in ops),
        "op_host_us_per_token": sum(row[1] for row in ops),
        "kernels_per_token": sum(row[0] for row in kernels),
        "kernel_us_per_token": sum(row[2] for row in kernels),
    }


def profile_both(plain, rmt, ids: torch.Tensor, tokens: int, device: torch.device, top: int) -> dict[str, Any]:
    """Prints RMT's top ops per decoding step (within a segment; boundaries are amortised, see the timed runs) and
    both models' totals: ops and kernels launched per token, their host and device time."""
    result = {}
    for name, model in (("plain", plain), ("rmt", rmt)):
        rows = per_token_ops(model, ids, tokens, device)
        totals = op_totals(rows)
        say(
            f"profile {name}: {totals['ops_per_token']:.1f} ops/token ({totals['op_host_us_per_token']:.0f} us of host "
            f"time in them), {totals['kernels_per_token']:.1f} kernels/token ({totals['kernel_us_per_token']:.0f} us)"
        )
        ranked = sorted(rows.items(), key=lambda item: -item[1][1])
        result[name] = {**totals, "top_ops": [{"op": k, "calls": r[0], "host_us": r[1]} for k, r in ranked[:top]]}
        if name == "rmt":
            say(f"  RMT top {top} ops per token by self host time (calls/token, us/token host, us/token device):")
            for key, (calls, host, dev, _) in ranked[:top]:
                say(f"    {calls:6.2f}  {host:8.1f}  {dev:8.1f}  {key[:80]}")
    return result


# ------------------------------------------------------------------------------------------------ the run


def git_commit() -> str | None:
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hf_rmt": hf_rmt.__version__,
        "git_commit": git_commit(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env.update(
            device=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            gpus=torch.cuda.device_count(),
        )
    else:
        env["device"] = platform.processor() or "cpu"
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=None, help="JSON file for the results (also written after each model)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--quick", action="store_true", help="tiny model and lengths (a smoke test)")
    parser.add_argument("--new-tokens", type=int, default=10000)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--segment-size", type=int, default=1024)
    parser.add_argument("--memory-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per model (the best counts)")
    parser.add_argument("--warmup-tokens", type=int, default=64, help="tokens of the timed warm-up of each model")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=200.0,
        help="seconds for the timed runs of both models together; fewer tokens when the warm-up projects more "
        "(0: always the full length)",
    )
    parser.add_argument("--progress-every", type=float, default=15.0, help="seconds between progress lines (0: off)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--profile", action="store_true", help="print the top ops per token of the RMT path")
    parser.add_argument("--profile-tokens", type=int, default=32, help="new tokens of each profiled run")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument(
        "--plain-cache",
        choices=("dynamic", "static"),
        default="static",
        help="the plain backbone's KV cache: transformers' default (dynamic), or a preallocated static one, which "
        "`generate` compiles on CUDA (the strongest plain baseline, the default; the session-5 run measured only "
        "dynamic)",
    )
    parser.add_argument(
        "--rmt-cache",
        choices=("dynamic", "static"),
        default="static",
        help="the RMT model's cache of the current segment: dynamic, or `cache_implementation='static'` (one "
        "preallocated cache for every segment, the one-token step compiled on CUDA as for plain), the default",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.new_tokens, args.prompt_tokens, args.segment_size, args.memory_tokens = 40, 8, 16, 4
        args.repeats, args.warmup_tokens, args.profile_tokens, args.time_budget = 1, 8, 8, 0.0
        # A tiny model's step is all host work: more threads only wait on each other (on busy cores, a lot).
        args.threads = args.threads or 1
    return args


def build_models(args: argparse.Namespace, device: torch.device, dtype: torch.dtype):
    total = args.prompt_tokens + args.new_tokens
    torch.manual_seed(0)
    plain = LlamaForCausalLM(llama_config(args.quick, total + 8)).to(device, dtype).eval()
    if args.plain_cache == "static":
        # One StaticCache sized for the whole run, reused (emptied) by every call: `generate` would otherwise make a
        # new one for each length asked (warm-up, timed run), and recompile inside the timed run. A static cache
        # makes `generate` compile the decoding step on CUDA (CUDA graphs).
        argument = "cache" if "cache" in inspect.signature(plain.forward).parameters else "past_key_values"
        plain.bench_static_cache = (StaticCache(config=plain.config, max_cache_len=total), argument)
    positions = max(2048, args.segment_size + 2 * args.memory_tokens)  # read memory, a segment, write memory
    backbone = LlamaForCausalLM(llama_config(args.quick, positions))
    backbone.load_state_dict(plain.state_dict())
    config = hf_rmt.RMTConfig(num_memory_tokens=args.memory_tokens, segment_size=args.segment_size)
    rmt = hf_rmt.get_rmt_model(backbone.to(device, dtype), config).eval()
    if args.rmt_cache == "static":
        rmt.generation_config.cache_implementation = "static"  # the segment's cache preallocated, the step compiled
    return plain, rmt


def write(path: str | None, result: dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=2)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(device)
    say(f"{env['device']}, torch {env['torch']}, transformers {env['transformers']}, {args.dtype}")
    plain, rmt = build_models(args, device, dtype)
    parameters = sum(p.numel() for p in plain.parameters())
    say(
        f"Llama {parameters / 1e6:.1f}M parameters; RMT: segments of {args.segment_size}, {args.memory_tokens} "
        f"memory tokens; prompt {args.prompt_tokens} tokens, {args.new_tokens} new tokens, batch 1"
    )
    ids = torch.randint(5, plain.config.vocab_size, (1, args.prompt_tokens), device=device)
    result: dict[str, Any] = {
        "settings": {**vars(args), "parameters": parameters, "requested_new_tokens": args.new_tokens},
        "environment": env,
        "complete": False,
    }

    warmup = {
        name: per_token_seconds(model, ids, args.warmup_tokens, device)
        for name, model in (("plain", plain), ("rmt", rmt))
    }
    projected = args.new_tokens * sum(warmup.values())
    say(
        f"warm-up ({args.warmup_tokens} tokens): plain {warmup['plain'] * 1e3:.2f} ms/token, RMT "
        f"{warmup['rmt'] * 1e3:.2f} ms/token; {args.new_tokens} tokens each: ~{projected:.0f} s"
    )
    new_tokens = fit_to_budget(args.new_tokens, sum(warmup.values()), args.time_budget)
    cut = new_tokens != args.new_tokens
    if cut:
        say(
            f"CUT: {new_tokens} new tokens instead of {args.new_tokens} to fit --time-budget {args.time_budget:.0f} s "
            "(plain slows as its cache grows and RMT does not: the full length's ratio is likely higher; "
            "--time-budget 0 runs it in full)"
        )
    args.new_tokens = new_tokens
    result["settings"].update(new_tokens=new_tokens, cut_to_fit_budget=cut)
    result["warmup_ms_per_token"] = {name: seconds * 1e3 for name, seconds in warmup.items()}

    times = {}
    for name, model, counted in (("plain", plain, plain), ("rmt", rmt, rmt.backbone)):
        say(f"{name}: generating {new_tokens} tokens...")
        progress = Progress(name, counted, new_tokens, args.progress_every)
        times[name] = timed_generate(model, ids, new_tokens, device, args.repeats, progress)
        say(f"{name}: {times[name]:.1f} s, {new_tokens / times[name]:.1f} tok/s")
        result.update({f"{name}_s": times[name], f"{name}_tok_s": new_tokens / times[name]})
        write(args.output, result)

    ratio = times["plain"] / times["rmt"]
    passed = ratio >= TARGET_RATIO
    result.update(ratio=ratio, target_ratio=TARGET_RATIO, passed=passed, complete=True)
    length = f"{new_tokens} new tokens" + (f" (cut from {result['settings']['requested_new_tokens']})" if cut else "")
    say(
        f"{'PASS' if passed else 'FAIL'}: RMT {result['rmt_tok_s']:.1f} tok/s = {ratio:.2f}x plain "
        f"{result['plain_tok_s']:.1f} tok/s (target >= {TARGET_RATIO}x), {length}"
    )
    if args.profile:
        result["profile"] = profile_both(plain, rmt, ids, args.profile_tokens, device, args.profile_top)
    write(args.output, result)
    return result


if __name__ == "__main__":
    main()
