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
  5. one batch-1 BERT-base segment step: the GEMMs' and attention's own kernel time (with FP8, without bias, split
     over K, with cuBLASLt's GELU epilogue), then per mode (eager, graphs,
     compiled, compiled with frozen weights) the step's time, kernel count, GPU time and heaviest kernels.
`--compile [MODE]` adds a compiled mode to section 2 and compiles the graphs of sections 1 and 4; `--freeze_weights`
adds a frozen mode to section 2 and freezes the weights there too.
Random weights: timing does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
import transformers
from _common import SDPA, attention_kernels, bert_config, kernel_events, kernel_seconds, sync  # noqa: E402  (bench/ is on sys.path when a script runs)
from transformers import BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

import hf_rmt
from hf_rmt.backbone import layer_blocks
from hf_rmt.core.fast_path import SegmentGraphs


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


def decoder(args, device, dtype, max_positions, segment=None):
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
    segment = segment or (32 if args.quick else 512)
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
                rmt.enable_cuda_graphs(**fast_path(args))
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
    for name in args.long_models:
        if name == "encoder":
            _, rmt = encoder(args, device, dtype)
        else:
            _, rmt = decoder(args, device, dtype, max_positions=2048 if not args.quick else 64)
        segment = rmt.config.segment_size
        modes = ["eager", "graphs"] if device.type == "cuda" else ["eager"]
        if device.type == "cuda" and args.compile:
            modes.append("compiled")
        if device.type == "cuda" and args.freeze_weights:
            modes.append("frozen")
        if args.long_modes:
            modes = [mode for mode in modes if mode in args.long_modes]
        for mode in modes:  # one mode at a time, so each mode's peaks are not inflated by another's graph pools
            if mode != "eager":
                compile = (args.compile or True) if mode in ("compiled", "frozen") else False
                rmt.enable_cuda_graphs(compile=compile, freeze_weights=mode == "frozen")
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
    sizes = args.decoder_segment_sizes
    print("\n4. Causal LM on one long input: RMT vs. the same backbone with full attention (sdpa)")
    print(
        f"   RMT segment sizes {sizes}; RMT eager at the first size only; speed-up = full / fastest RMT of that size"
    )
    header = f"{'tokens':>8} {'full s':>8} {'full MiB':>9}"
    for size in sizes:
        header += f" {f'RMT{size} s':>10} {'+graphs s':>9} {'MiB':>6} {'speed-up':>8}"
    print(header)
    longest = max(args.lengths)
    backbone, _ = decoder(args, device, dtype, max_positions=longest)
    models = {}
    for size in sizes:  # the same backbone weights under each segment size
        rmt_config = hf_rmt.RMTConfig(num_memory_tokens=4 if args.quick else 16, segment_size=size)
        models[size] = hf_rmt.get_rmt_model(backbone, rmt_config).eval()
    for length in args.lengths:
        ids = torch.randint(*token_range(args), (1, length), device=device)
        entry = {"tokens": length, "rmt": []}
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
            for index, (size, rmt) in enumerate(models.items()):
                row = {"segment_size": size}
                if index == 0 or device.type != "cuda":
                    row["eager_s"], peak = measure(lambda: rmt(ids, logits_to_keep=1), device, 1, args.repeats)
                    row["eager_peak_mib"] = peak / 2**20 if peak is not None else None
                if device.type == "cuda":
                    rmt.enable_cuda_graphs(**fast_path(args))
                    row["graphs_s"], peak = measure(lambda: rmt(ids, logits_to_keep=1), device, 1, args.repeats)
                    row["graphs_peak_mib"] = peak / 2**20
                    rmt.disable_cuda_graphs()
                best = min(row[k] for k in ("eager_s", "graphs_s") if k in row)
                row["speedup"] = entry["full_s"] / best if entry.get("full_s") else None
                entry["rmt"].append(row)
        results["versus_full_attention"].append(entry)

        def fmt(value, width, spec, oom=False):
            return format(value, f">{width}{spec}") if value is not None else ("OOM" if oom else "-").rjust(width)

        oom = entry.get("full_oom", False)
        line = (
            f"{length:>8} {fmt(entry.get('full_s'), 8, '.3f', oom)} {fmt(entry.get('full_peak_mib'), 9, '.0f', oom)}"
        )
        for row in entry["rmt"]:
            peak = row.get("graphs_peak_mib", row.get("eager_peak_mib"))
            line += (
                f" {fmt(row.get('eager_s'), 10, '.3f')} {fmt(row.get('graphs_s'), 9, '.3f')} {fmt(peak, 6, '.0f')}"
                f" {fmt(row.get('speedup'), 8, '.2f')}"
            )
        print(line)


def fast_path(args) -> dict:
    """`enable_cuda_graphs` arguments of the run's fast path (`--compile`, `--freeze_weights`)."""
    return {"compile": args.compile or args.freeze_weights, "freeze_weights": args.freeze_weights}


def _time_per_call(fn, device, calls):
    """Median over 3 runs of `calls` back-to-back calls, divided by `calls` (seconds per call)."""
    fn()
    times = []
    for _ in range(3):
        sync(device)
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync(device)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def _fp8_gemm_seconds(a: torch.Tensor, b: torch.Tensor, device) -> float | None:
    """Kernel time of the same product in FP8 (e4m3, one scale per row of `a` and per column of `b`, bf16 output):
    what the H200's FP8 tensor cores would give a frozen step's GEMMs. None where torch or the card has no FP8 GEMM."""
    try:
        a8 = a.to(torch.float8_e4m3fn)
        b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()  # column-major, as the FP8 GEMM wants its second operand
        scale_a = torch.ones(a.shape[0], 1, device=device, dtype=torch.float32)
        scale_b = torch.ones(1, b.shape[1], device=device, dtype=torch.float32)

        def product():
            return torch._scaled_mm(a8, b8, scale_a=scale_a, scale_b=scale_b, out_dtype=torch.bfloat16)

        product()
    except (RuntimeError, AttributeError, TypeError) as error:
        print(f"   (no FP8 GEMM here: {str(error)[:120]})")
        return None
    return kernel_seconds(product, device, calls=20)


def _gemm_variants(m: int, k: int, n: int, device, dtype) -> dict:
    """Kernel time (us) of one (m x k) @ (k x n) product written the ways a frozen step could launch it: as nn.Linear
    does (weight out x in, bias in the epilogue), without the bias (which inductor could fuse into the next pointwise
    kernel), split over K into `s` batched products plus their sum (more thread blocks for the M=512 shapes whose
    output has only 24-72 tiles), and, for the up-projection, with cuBLASLt's GELU epilogue (tanh approximation)."""
    x = torch.randn(m, k, device=device, dtype=dtype)
    weight = torch.randn(n, k, device=device, dtype=dtype) / k**0.5
    bias = torch.randn(n, device=device, dtype=dtype)
    variants = {
        "linear_bias": lambda: torch.nn.functional.linear(x, weight, bias),
        "linear": lambda: torch.nn.functional.linear(x, weight),
    }
    wt = weight.t().contiguous()
    for s in (2, 3, 4, 6):
        if k % s == 0:
            xs = x.view(m, s, k // s).transpose(0, 1)  # (s, m, k/s): a strided view, as bmm takes it
            ws = wt.view(s, k // s, n)
            variants[f"splitk{s}"] = lambda xs=xs, ws=ws: torch.bmm(xs, ws).sum(0)
            variants[f"splitk{s}_bmm_only"] = lambda xs=xs, ws=ws: torch.bmm(xs, ws)
    if n == 4 * k:
        variants["addmm_gelu_epilogue"] = lambda: torch._addmm_activation(bias, x, wt, use_gelu=True)
        variants["linear_bias_then_gelu"] = lambda: torch.nn.functional.gelu(
            torch.nn.functional.linear(x, weight, bias)
        )
    out = {}
    for name, fn in variants.items():
        try:
            fn()
            out[name] = kernel_seconds(fn, device, calls=20) * 1e6
        except RuntimeError as error:  # an epilogue or layout this build's cuBLAS lacks
            out[name] = None
            print(f"   ({name}: {str(error)[:100]})")
    return out


def step_anatomy(args, device, dtype, results):
    """Where one batch-1 segment step of the BERT-base-sized encoder spends its time: the backbone alone and the RMT
    memory-only step under each execution mode, against the GEMMs' own speed on this card."""
    if device.type != "cuda":
        print("\n5. Segment step anatomy: needs CUDA (skipped)")
        return
    print("\n5. One batch-1 segment step of the BERT-base-sized encoder (512 positions)")
    anatomy = results["step_anatomy"]
    # The step's matrix products at batch 1: (tokens x in) @ (in x out), per layer.
    gemms = {"qkv": (512, 768, 2304), "out": (512, 768, 768), "ffn_up": (512, 768, 3072), "ffn_down": (512, 3072, 768)}
    anatomy["gemm"] = {}
    for name, (m, k, n) in gemms.items():
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        a @ b  # cuBLAS picks and loads its kernel outside the profile
        seconds = kernel_seconds(lambda: a @ b, device, calls=20)
        anatomy["gemm"][name] = {"shape": [m, k, n], "us": seconds * 1e6, "tflops": 2 * m * k * n / seconds / 1e12}
        print(f"   GEMM {name:>9} {m}x{k}x{n}: {seconds * 1e6:7.1f} us  {2 * m * k * n / seconds / 1e12:6.1f} TFLOP/s")
        fp8 = _fp8_gemm_seconds(a, b, device)
        if fp8 is not None:
            anatomy["gemm"][name]["fp8_rowwise_us"] = fp8 * 1e6
            print(f"   {'FP8 (rowwise scales, bf16 out)':>36}: {fp8 * 1e6:7.1f} us  ({seconds / fp8:.2f}x bf16)")
        variants = _gemm_variants(m, k, n, device, dtype)
        anatomy["gemm"][name]["variants_us"] = variants
        print("   " + f"{'':>36}  " + ", ".join(f"{v}: {t:.1f}" for v, t in variants.items() if t is not None))
    q = torch.randn(1, 12, 512, 64, device=device, dtype=dtype)
    attention = lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q)  # noqa: E731
    attention()
    seconds = kernel_seconds(attention, device, calls=20)
    anatomy["sdpa_us"] = seconds * 1e6
    gemm_us = sum(v["us"] for v in anatomy["gemm"].values()) + anatomy["sdpa_us"]
    anatomy["gemm_and_attention_floor_ms"] = 12 * gemm_us / 1e3
    print(
        f"   SDPA 1x12x512x64: {seconds * 1e6:.1f} us; 12 layers of these kernels alone: {12 * gemm_us / 1e3:.3f} ms"
    )

    backbone, rmt = encoder(args, device, dtype)
    body = backbone.bert
    ids = torch.randint(*token_range(args), (1, 512), device=device)
    seg_ids = ids[:, : rmt.config.segment_size].contiguous()
    memory = rmt.memory.initial_state(1).to(dtype)
    modes = [("eager", None, False), ("graphs", False, False), ("compiled", True, False), ("frozen", True, True)]
    if args.compile == "max-autotune-no-cudagraphs":
        autotune = "max-autotune-no-cudagraphs"
        modes += [("max-autotune", autotune, False), ("frozen-autotune", autotune, True)]
    if args.anatomy_modes:
        unknown = set(args.anatomy_modes) - {mode for mode, _, _ in modes}
        if unknown:
            raise SystemExit(f"--anatomy_modes: unknown {sorted(unknown)}; this run has {[m for m, _, _ in modes]}")
        modes = [entry for entry in modes if entry[0] in args.anatomy_modes]
    print(f"   {'mode':>13} {'backbone ms':>12} {'RMT step ms':>12} {'kernels/step':>13} {'kernel ms':>10}")
    anatomy["modes"] = {}
    blocks = layer_blocks(body)

    def backbone_step(memory, x):
        # inputs_embeds, as RMT passes them (with `input_ids` and no mask, transformers 5.17's BERT checks an all-ones
        # mask on the host, which a CUDA graph capture does not allow); the embedding layer still adds positions.
        return body(inputs_embeds=body.embeddings.word_embeddings(x)).last_hidden_state[:, :1]

    with torch.no_grad():
        for mode, compile, freeze in modes:
            if compile is None:
                run_backbone, run_rmt = (
                    (lambda: backbone_step(memory, ids)),
                    (lambda: rmt.memory_only_step(memory, seg_ids)),
                )
            else:
                # The library's fast path for RMT; the same regional compilation and capture for the backbone alone.
                kind = "default" if compile is True else compile
                graph_backbone = SegmentGraphs(
                    backbone_step,
                    compile_modules=blocks if compile else None,
                    compile_mode=kind or "default",
                    freeze_weights=freeze,
                )
                rmt.enable_cuda_graphs(compile=compile, freeze_weights=freeze)
                graph_rmt = rmt._graphs
                run_backbone, run_rmt = (lambda: graph_backbone(memory, ids)), (lambda: graph_rmt(memory, seg_ids))
            t_backbone = _time_per_call(run_backbone, device, 200)
            t_rmt = _time_per_call(run_rmt, device, 200)
            # Kernel count and GPU time of one RMT step: the graph's replay, or the eager step.
            if compile is None:
                kernels = kernel_events(run_rmt, device)
            else:
                kernels = kernel_events(next(iter(graph_rmt.graphs.values())).graph.replay, device)
            rmt.disable_cuda_graphs()
            kernel_ms = sum(e.device_time_total for e in kernels) / 1e3
            anatomy["modes"][mode] = {
                "backbone_ms": t_backbone * 1e3,
                "rmt_step_ms": t_rmt * 1e3,
                "kernels_per_step": len(kernels),
                "kernel_ms": kernel_ms,
                "rmt_2043904_tokens_s": 4096 * t_rmt,
            }
            print(
                f"   {mode:>13} {t_backbone * 1e3:>12.3f} {t_rmt * 1e3:>12.3f} {len(kernels):>13} {kernel_ms:>10.3f}"
            )
            by_name: dict[str, list] = {}
            for e in kernels:
                entry = by_name.setdefault(e.name[:80], [0, 0.0])
                entry[0] += 1
                entry[1] += e.device_time_total
            anatomy["modes"][mode]["top_kernels"] = [
                {"name": name, "count": n, "us": us}
                for name, (n, us) in sorted(by_name.items(), key=lambda kv: -kv[1][1])
            ][: max(8, args.anatomy_top)]
            for row in anatomy["modes"][mode]["top_kernels"][: args.anatomy_top]:
                print(f"{'':>19}{row['count']:>4} x {row['us'] / row['count']:6.1f} us  {row['name']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--quick", action="store_true", help="tiny models and sizes (a smoke test)")
    parser.add_argument("--sections", default="1,2,4,5", help="comma-separated sections to run")
    parser.add_argument(
        "--compile",
        nargs="?",
        const=True,
        default=False,
        choices=[True, "default", "max-autotune-no-cudagraphs"],
        help="also torch.compile the captured segment step (optionally: the inductor mode)",
    )
    parser.add_argument(
        "--freeze_weights",
        action="store_true",
        help="fast path with the weights folded into the compiled step (section 2: an extra 'frozen' mode)",
    )
    parser.add_argument(
        "--long_models", nargs="+", default=["encoder", "decoder"], help="models of section 2 (encoder, decoder)"
    )
    parser.add_argument(
        "--decoder_segment_sizes",
        type=int,
        nargs="+",
        default=None,
        help="segment sizes of the RMT decoder in section 4 (default: 512; quick: 32)",
    )
    parser.add_argument(
        "--long_segments", type=int, nargs="+", default=None, help="section 2: segment counts (default 8 64 512 4096)"
    )
    parser.add_argument(
        "--long_modes", nargs="+", default=None, help="section 2: only these modes (eager, graphs, compiled, frozen)"
    )
    parser.add_argument(
        "--anatomy_modes",
        nargs="+",
        default=None,
        help="section 5: only these modes (eager, graphs, compiled, frozen; with --compile max-autotune-no-cudagraphs "
        "also max-autotune, frozen-autotune)",
    )
    parser.add_argument(
        "--sdpa",
        default="default",
        choices=sorted(SDPA),
        help="attention kernel for every section: torch's choice, or one forced (torch.nn.attention.sdpa_kernel)",
    )
    parser.add_argument(
        "--blas",
        default="default",
        choices=["default", "cublas", "cublaslt"],
        help="GEMM library torch prefers (torch.backends.cuda.preferred_blas_library): its kernel choices differ at "
        "the batch-1 step's M=512",
    )
    parser.add_argument(
        "--anatomy_top",
        type=int,
        default=6,
        help="Section 5: how many of a step's kernels (grouped by name, heaviest first) to print and save",
    )
    parser.add_argument(
        "--inductor",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="torch._inductor.config settings for the compiled modes (values read as Python literals, e.g. "
        "keep_addmm_fused_for_half_dtypes=False): to try what the frozen step's GEMM epilogues and layouts depend on",
    )
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    args.batches = [1, 2] if args.quick else [1, 8, 32]
    args.segments = args.long_segments or ([2, 8] if args.quick else [8, 64, 512, 4096])
    args.lengths = [128, 256] if args.quick else [4096, 16384, 65536, 131072]
    if args.decoder_segment_sizes is None:
        args.decoder_segment_sizes = [32] if args.quick else [512]
    if args.quick:
        args.warmup, args.repeats = 1, 1
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "compile": args.compile,
        "freeze_weights": args.freeze_weights,
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
        "step_anatomy": {},
    }
    print(
        f"device: {results['device']}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"dtype {args.dtype}, warm-up {args.warmup}, repeats {args.repeats} (medians)"
    )
    sections = {int(s) for s in args.sections.split(",")}
    results["sdpa"] = args.sdpa
    results["blas"] = args.blas
    results["inductor"] = apply_inductor_settings(args.inductor)
    if args.blas != "default" and device.type == "cuda":
        torch.backends.cuda.preferred_blas_library(args.blas)
    with attention_kernels(args.sdpa):
        run_sections(args, sections, device, dtype, results)
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(results, handle, indent=2)
        print(f"\nsaved {args.output}")


def apply_inductor_settings(settings: list[str]) -> dict:
    """Sets each `KEY=VALUE` of `--inductor` on `torch._inductor.config` (dotted keys reach its sub-configs, e.g.
    `triton.cudagraphs=False`); an unknown key is an error rather than a silent no-op."""
    import ast

    import torch._inductor.config as inductor_config

    applied = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        if not sep:
            raise SystemExit(f"--inductor: expected KEY=VALUE, got {setting!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare word: a string setting
        *path, name = key.split(".")
        target = inductor_config
        for part in path:
            target = getattr(target, part, None)
        if target is None or not hasattr(target, name):
            raise SystemExit(f"--inductor: torch._inductor.config has no setting {key!r} in torch {torch.__version__}")
        setattr(target, name, value)
        applied[key] = value
    return applied


def run_sections(args, sections, device, dtype, results):
    if 1 in sections:
        throughput(args, device, dtype, results)
    if 2 in sections:
        long_inputs(args, device, dtype, results)
    if 4 in sections:
        versus_full_attention(args, device, dtype, results)
    if 5 in sections:
        step_anatomy(args, device, dtype, results)


if __name__ == "__main__":
    main()
