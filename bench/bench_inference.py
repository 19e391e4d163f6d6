"""Inference benchmarks of hf_rmt on one GPU: throughput against the backbone, long-input latency and memory, and
RMT against full attention on one long input.

    python bench/bench_inference.py --output bench/results/inference_h100.json          # on a GPU (bf16)
    python bench/bench_inference.py --quick --device cpu --dtype float32                # smoke test, tiny models

Sections (printed as tables, saved as JSON with the GPU name, versions, dtype, warm-up and repeat counts; times are
medians over the repeats):
  1. throughput: RMT (BERT-base-sized encoder, 10 memory tokens, segment 499) against its backbone on exactly the
     same content tokens, processed by the backbone as independent 512-token segments ([CLS] 510 tokens [SEP]),
     same batch, dtype and attention implementation; batch 1, 8, 32.
  2. long inputs at batch 1: latency and peak memory at 8, 64, 512 and 4096 segments (4096 x 499 = 2,043,904
     tokens), eager and with CUDA graphs, for the encoder and a ~125M Llama-style decoder.
  3. (training: bench/bench_training.py)
  4. a causal model with RMT against the same backbone with full attention (sdpa) on one input of 4k..128k tokens:
     time, peak memory, and where full attention runs out of memory.
Random weights: timing does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from contextlib import nullcontext

import torch
import transformers
from _common import bert_config, sync  # noqa: E402  (bench/ is on sys.path when a script runs)
from transformers import BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

import hf_rmt


def measure(fn, device, warmup, repeats):
    """Median seconds and peak allocated bytes (CUDA) of `fn()` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return statistics.median(times), peak


def token_range(args):
    return (5, 900) if args.quick else (1000, 20000)


def encoder(args, device, dtype):
    config = bert_config(args.quick)
    backbone = BertForSequenceClassification(config).to(device=device, dtype=dtype).eval()
    memory = 4 if args.quick else 10
    rmt = hf_rmt.get_rmt_model(
        backbone, hf_rmt.RMTConfig(num_memory_tokens=memory, cls_token_id=101, sep_token_id=102)
    )
    return backbone, rmt.eval()


def decoder(args, device, dtype, max_positions):
    if args.quick:
        config = LlamaConfig(
            vocab_size=1000,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=max_positions,
        )
    else:  # ~125M parameters, GPT-2-small-like shapes with Llama blocks
        config = LlamaConfig(
            vocab_size=32000,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=max_positions,
        )
    config._attn_implementation = "sdpa"
    backbone = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    segment = 32 if args.quick else 512
    memory = 4 if args.quick else 16
    rmt = hf_rmt.get_rmt_model(backbone, hf_rmt.RMTConfig(num_memory_tokens=memory, segment_size=segment))
    return backbone, rmt.eval()


def throughput(args, device, dtype, results):
    backbone, rmt = encoder(args, device, dtype)
    segment = rmt.config.segment_size
    segments = 4 if args.quick else 16
    print(f"\n1. Throughput, RMT vs. backbone on the same tokens ({segments} segments of {segment} per sample)")
    print(f"{'batch':>6} {'backbone tok/s':>15} {'RMT tok/s':>12} {'ratio':>7} {'RMT+graphs tok/s':>17} {'ratio':>7}")
    for batch in args.batches:
        tokens = segments * segment
        ids = torch.randint(*token_range(args), (batch, tokens), device=device)
        # The backbone reads the same segments as RMT, each as an independent [CLS] segment [SEP] row.
        rows = ids.view(batch, segments, segment).transpose(0, 1)
        cls = torch.full((batch, 1), 101, device=device)
        sep = torch.full((batch, 1), 102, device=device)

        def run_backbone():
            for i in range(segments):
                backbone(input_ids=torch.cat([cls, rows[i], sep], dim=1))

        with torch.no_grad():
            t_backbone, _ = measure(run_backbone, device, args.warmup, args.repeats)
            t_rmt, _ = measure(lambda: rmt(ids), device, args.warmup, args.repeats)
            t_graph = None
            if device.type == "cuda":
                rmt.enable_cuda_graphs(compile=args.compile)
                t_graph, _ = measure(lambda: rmt(ids), device, args.warmup, args.repeats)
                rmt.disable_cuda_graphs()
        n = batch * tokens
        entry = {
            "batch": batch,
            "tokens": n,
            "backbone_tok_s": n / t_backbone,
            "rmt_tok_s": n / t_rmt,
            "ratio": t_backbone / t_rmt,
        }
        if t_graph is not None:
            entry.update(rmt_graphs_tok_s=n / t_graph, ratio_graphs=t_backbone / t_graph)
        results["throughput"].append(entry)
        graphs = (
            f"{entry.get('rmt_graphs_tok_s', float('nan')):>17.0f} {entry.get('ratio_graphs', float('nan')):>7.3f}"
        )
        print(f"{batch:>6} {n / t_backbone:>15.0f} {n / t_rmt:>12.0f} {entry['ratio']:>7.3f} {graphs}")


def long_inputs(args, device, dtype, results):
    print("\n2. Long inputs at batch 1: latency and peak memory")
    print(f"{'model':>8} {'segments':>9} {'tokens':>10} {'mode':>7} {'seconds':>9} {'tok/s':>11} {'peak MiB':>9}")
    for name in ("encoder", "decoder"):
        if name == "encoder":
            _, rmt = encoder(args, device, dtype)
        else:
            _, rmt = decoder(args, device, dtype, max_positions=2048 if not args.quick else 64)
        segment = rmt.config.segment_size
        modes = ["eager", "graphs"] if device.type == "cuda" else ["eager"]
        if device.type == "cuda" and args.compile:
            modes.append("compiled")
        for mode in modes:  # one mode at a time, so each mode's peaks are not inflated by another's graph pools
            if mode != "eager":
                rmt.enable_cuda_graphs(compile=mode == "compiled")
            for segments in args.segments:
                ids = torch.randint(*token_range(args), (1, segments * segment), device=device)
                repeats = 1 if (mode == "eager" and segments >= 1024) else args.repeats

                def run():
                    out = rmt(ids, logits_to_keep=1) if name == "decoder" else rmt(ids)
                    return out.logits

                with torch.no_grad():
                    seconds, peak = measure(run, device, 1, repeats)
                entry = {
                    "model": name,
                    "segments": segments,
                    "tokens": segments * segment,
                    "mode": mode,
                    "seconds": seconds,
                    "tok_s": segments * segment / seconds,
                    "peak_mib": peak / 2**20 if peak is not None else None,
                    "repeats": repeats,
                }
                results["long_inputs"].append(entry)
                peak_text = f"{entry['peak_mib']:>9.1f}" if peak is not None else f"{'-':>9}"
                print(
                    f"{name:>8} {segments:>9} {segments * segment:>10} {mode:>7} {seconds:>9.3f} "
                    f"{entry['tok_s']:>11.0f} {peak_text}"
                )
            rmt.disable_cuda_graphs()
        rmt = None  # free the model before the next one
        if device.type == "cuda":
            torch.cuda.empty_cache()


def versus_full_attention(args, device, dtype, results):
    print("\n4. Causal LM on one long input: RMT vs. the same backbone with full attention (sdpa)")
    print(
        f"{'tokens':>8} {'full s':>8} {'full MiB':>9} {'RMT s':>8} {'RMT MiB':>8} {'RMT+graphs s':>13} {'speed-up':>9}"
    )
    longest = max(args.lengths)
    backbone, rmt = decoder(args, device, dtype, max_positions=longest)
    for length in args.lengths:
        ids = torch.randint(*token_range(args), (1, length), device=device)
        entry = {"tokens": length}
        with torch.no_grad():
            try:
                entry["full_s"], peak = measure(
                    lambda: backbone(input_ids=ids, logits_to_keep=1), device, 1, args.repeats
                )
                entry["full_peak_mib"] = peak / 2**20 if peak is not None else None
            except torch.OutOfMemoryError:
                entry["full_s"] = entry["full_peak_mib"] = None
                entry["full_oom"] = True
                torch.cuda.empty_cache()
            entry["rmt_s"], peak = measure(lambda: rmt(ids, logits_to_keep=1), device, 1, args.repeats)
            entry["rmt_peak_mib"] = peak / 2**20 if peak is not None else None
            if device.type == "cuda":
                rmt.enable_cuda_graphs(compile=args.compile)
                entry["rmt_graphs_s"], _ = measure(lambda: rmt(ids, logits_to_keep=1), device, 1, args.repeats)
                rmt.disable_cuda_graphs()
        best = min(v for v in (entry.get("rmt_s"), entry.get("rmt_graphs_s")) if v is not None)
        entry["speedup"] = entry["full_s"] / best if entry.get("full_s") else None
        results["versus_full_attention"].append(entry)

        def fmt(value, spec, oom=False):
            width = int(spec.split(".")[0].lstrip(">"))
            return format(value, spec) if value is not None else ("OOM" if oom else "-").rjust(width)

        oom = entry.get("full_oom", False)
        print(
            f"{length:>8} {fmt(entry.get('full_s'), '>8.3f', oom)} {fmt(entry.get('full_peak_mib'), '>9.0f', oom)} "
            f"{entry['rmt_s']:>8.3f} {fmt(entry.get('rmt_peak_mib'), '>8.0f')} "
            f"{fmt(entry.get('rmt_graphs_s'), '>13.3f')} {fmt(entry.get('speedup'), '>9.2f')}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--quick", action="store_true", help="tiny models and sizes (a smoke test)")
    parser.add_argument("--sections", default="1,2,4", help="comma-separated sections to run")
    parser.add_argument("--compile", action="store_true", help="also torch.compile the captured segment step")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    args.batches = [1, 2] if args.quick else [1, 8, 32]
    args.segments = [2, 8] if args.quick else [8, 64, 512, 4096]
    args.lengths = [128, 256] if args.quick else [4096, 16384, 65536, 131072]
    if args.quick:
        args.warmup, args.repeats = 1, 1
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hf_rmt": hf_rmt.__version__,
        "dtype": args.dtype,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "statistic": "median seconds over repeats",
        "throughput": [],
        "long_inputs": [],
        "versus_full_attention": [],
    }
    print(
        f"device: {results['device']}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"dtype {args.dtype}, warm-up {args.warmup}, repeats {args.repeats} (medians)"
    )
    sections = {int(s) for s in args.sections.split(",")}
    with nullcontext():
        if 1 in sections:
            throughput(args, device, dtype, results)
        if 2 in sections:
            long_inputs(args, device, dtype, results)
        if 4 in sections:
            versus_full_attention(args, device, dtype, results)
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(results, handle, indent=2)
        print(f"\nsaved {args.output}")


if __name__ == "__main__":
    main()
