"""ARMT's per-layer read and write in isolation: the library's formulation against alternatives, timed one by one.

    python bench/bench_armt_write.py --output-dir bench/results/armt_write_h200      # on a GPU, < 1 minute
    python bench/bench_armt_write.py --quick --output-dir /tmp/armt_write            # CPU smoke test, tiny sizes

Session 13's profile of one compiled ARMT step (BERT-base, batch 32; `bench/results/session13_gpu/`) put most of
ARMT's extra time in its float32 state: the write's recall `k A` ran as a batched GEMV (`gemmSN`) and its update
`A + k^T (beta (v - v_bar))` as a SIMT SGEMM (`align1`, K = 10 memory tokens), both at about a third of the memory
bandwidth. Which formulation cuBLAS and inductor run faster is measured here, not guessed:

- write: the library's (`AssociativeLayer.write`); the recall as `(A^T k^T)^T` (another GEMM shape for cuBLAS); the
  memory rows zero-padded to a multiple of 8 (aligned GEMMs, the same numbers); the recall from a bf16 copy of `A`
  (what the read casts anyway; approximate: its error is printed); the recall and update in one Triton kernel that
  reads `A` once (`armt_write_triton.py`, with triton installed; 16 or 32 hidden columns a program); each eager and
  compiled.
- read: the library's (the query divided before the GEMM, which adds the hidden states) against the plain eq. 4.

Each variant's largest difference from the library's result is printed next to its time (median of `--repeats`
timed calls after `--warmup`, CUDA events on a GPU). Writes `bench_armt_write.json` into `--output-dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from armt_write_triton import triton, write_fused, write_terms  # bench/ is on sys.path when a script runs

from hf_rmt.core.memory.associative import EPS, AssociativeLayer, dpfp


def write_with(layer, memory, matrix, normaliser, recall, pad_rows_to: int = 1):
    """The library's write with its recall `k A` computed by `recall(key, matrix)`, and the memory rows zero-padded
    to a multiple of `pad_rows_to` (a zero key adds nothing: the same numbers, other GEMM shapes)."""
    key, value, beta, seen, gamma = write_terms(layer, memory, normaliser)
    pad = (0, 0, 0, -memory.shape[1] % pad_rows_to)
    key, value, beta, seen = (F.pad(t, pad, value=1.0 if t is seen else 0.0) for t in (key, value, beta, seen))
    recalled = recall(key, matrix) / seen
    matrix = torch.baddbmm(matrix, key.transpose(1, 2), beta * (value - recalled))
    return matrix, normaliser + (gamma * key[:, : memory.shape[1]]).sum(dim=1)


RECALLS = {
    "library": lambda key, matrix: key @ matrix,
    "transposed": lambda key, matrix: torch.bmm(matrix.transpose(1, 2), key.transpose(1, 2)).transpose(1, 2),
    "bf16": lambda key, matrix: (key.to(torch.bfloat16) @ matrix.to(torch.bfloat16)).float(),
}


def read_plain(layer, hidden, matrix, normaliser):
    """Eq. 4 as written: `h + A phi(q) / (z . phi(q) + eps)`."""
    query = dpfp(layer.query(hidden))
    numerator = query @ matrix.to(query.dtype)
    denominator = (query @ normaliser.to(query.dtype)[..., None]) + EPS
    return hidden + (numerator / denominator).to(hidden.dtype)


def timed(fn, device: torch.device, warmup: int, repeats: int) -> float:
    """Median microseconds of `fn()`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1e3)
        else:
            began = time.perf_counter()
            fn()
            times.append((time.perf_counter() - began) * 1e6)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--batch", type=int, default=None, help="default 32 (quick: 2)")
    parser.add_argument("--no-compile", action="store_true", help="eager variants only")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    hidden_size, memory_dim, rows, length = (32, 4, 3, 20) if args.quick else (768, 64, 10, 522)
    batch = args.batch or (2 if args.quick else 32)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    torch.manual_seed(0)
    layer = AssociativeLayer(hidden_size, memory_dim, device=device, dtype=dtype)
    torch.nn.init.normal_(layer.value.weight, std=0.02)  # values drawn, as after training
    key_dim = 6 * memory_dim
    matrix = torch.randn(batch, key_dim, hidden_size, device=device) * 0.1
    normaliser = torch.rand(batch, key_dim, device=device)
    memory = torch.randn(batch, rows, hidden_size, device=device, dtype=dtype)
    hidden = torch.randn(batch, length, hidden_size, device=device, dtype=dtype)

    writes = {
        "library": layer.write,
        "recall_transposed": lambda *a: write_with(layer, *a, RECALLS["transposed"]),
        "padded_to_8": lambda *a: write_with(layer, *a, RECALLS["library"], pad_rows_to=8),
        "recall_bf16_approx": lambda *a: write_with(layer, *a, RECALLS["bf16"]),
    }
    # The fused kernel runs on a GPU, or on CPU under Triton's interpreter (TRITON_INTERPRET=1: slow, for its numbers).
    fused = triton is not None and (device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1")
    for block_h in (16, 32) if fused else ():
        writes[f"fused_triton_h{block_h}"] = lambda *a, block_h=block_h: write_fused(layer, *a, block_h=block_h)
    reads = {"library": layer.read, "plain_eq4": lambda *a: read_plain(layer, *a)}
    compile_modes = [] if args.no_compile else ["default", "max-autotune-no-cudagraphs"]
    results = {"settings": vars(args) | {"batch": batch, "dtype": str(dtype)}, "write": [], "read": []}
    with torch.no_grad():
        reference_write = layer.write(memory, matrix, normaliser)[0]
        reference_read = layer.read(hidden, matrix, normaliser).float()
        for part, variants, inputs, reference in (
            ("write", writes, (memory, matrix, normaliser), reference_write),
            ("read", reads, (hidden, matrix, normaliser), reference_read),
        ):
            print(f"\n{part} (batch {batch}, hidden {hidden_size}, key_dim {key_dim}, {device}, {dtype})")
            print(f"{'variant':<22} {'mode':<28} {'us':>9} {'max |diff|':>11}")
            for name, fn in variants.items():
                # Triton's interpreter cannot be compiled; on a GPU dynamo traces the kernel's launch.
                interpreted = name.startswith("fused") and device.type != "cuda"
                for mode in ["eager", *([] if interpreted else compile_modes)]:
                    call = fn if mode == "eager" else torch.compile(fn, mode=mode, dynamic=False)
                    out = call(*inputs)
                    out = (out[0] if part == "write" else out).float()
                    diff = (out - reference).abs().max().item()
                    micros = timed(lambda call=call: call(*inputs), device, args.warmup, args.repeats)
                    results[part].append({"variant": name, "mode": mode, "us": micros, "max_abs_diff": diff})
                    print(f"{name:<22} {mode:<28} {micros:>9.1f} {diff:>11.2e}")
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "bench_armt_write.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
