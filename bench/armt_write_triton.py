"""ARMT's delta-rule update as one Triton kernel, a candidate for `AssociativeLayer.write` at inference.

The library's write (`hf_rmt/core/memory/associative.py`) reads the float32 matrix `A` twice, once for the recall
`k A` (a batched GEMV, M = the memory tokens) and once in `baddbmm` (a SIMT SGEMM with K = the memory tokens), and
writes it once. Session 13's profile (BERT-base, batch 32, 37.7 MB of `A` a layer) found both GEMMs at about a third
of the memory bandwidth: 0.77 ms of ARMT's 2.4 ms extra a step. This kernel loads a `(key_dim, BLOCK_H)` tile of `A`
once, computes the recall and the update from it on chip, and stores the result: one read and one write of `A`.

    A' = A + k^T (beta (v - (k A) / seen))          seen = z . k + eps, per memory token

It is timed against the library's write by `bench/bench_armt_write.py` (variant `fused_triton`) before anything in
the library uses it. No gradient: inference only. On CPU it runs under Triton's interpreter (`TRITON_INTERPRET=1`),
which is how the tests check its numbers without a GPU.
"""

from __future__ import annotations

import torch

from hf_rmt.core.memory.associative import EPS, dpfp


try:
    import triton
    import triton.language as tl
except ImportError:  # optional: the benchmark leaves the variant out
    triton = None


if triton is not None:

    @triton.jit
    def _delta_rule_kernel(
        a_ptr,
        out_ptr,
        key_ptr,
        value_ptr,
        beta_ptr,
        seen_ptr,
        rows,
        key_dim,
        hidden,
        BLOCK_M: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_H: tl.constexpr,
    ):
        # One program: sample `b`, hidden columns [h0, h0 + BLOCK_H) of A, every key_dim row of them.
        b = tl.program_id(0)
        offs_h = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
        offs_k = tl.arange(0, BLOCK_K)
        offs_m = tl.arange(0, BLOCK_M)
        in_h, in_k, in_m = offs_h < hidden, offs_k < key_dim, offs_m < rows
        tile = b * key_dim * hidden + offs_k[:, None] * hidden + offs_h[None, :]
        a = tl.load(a_ptr + tile, mask=in_k[:, None] & in_h[None, :], other=0.0)
        key = tl.load(
            key_ptr + b * rows * key_dim + offs_m[:, None] * key_dim + offs_k[None, :],
            mask=in_m[:, None] & in_k[None, :],
            other=0.0,
        )
        value = tl.load(
            value_ptr + b * rows * hidden + offs_m[:, None] * hidden + offs_h[None, :],
            mask=in_m[:, None] & in_h[None, :],
            other=0.0,
        )
        seen = tl.load(seen_ptr + b * rows + offs_m, mask=in_m, other=1.0)
        beta = tl.load(beta_ptr + b * rows + offs_m, mask=in_m, other=0.0)
        # float32 products throughout ("ieee": no TF32), as the library's float32 GEMMs compute them.
        recalled = tl.dot(key, a, input_precision="ieee") / seen[:, None]
        delta = beta[:, None] * (value - recalled)  # padded rows: beta = 0
        a = a + tl.dot(tl.trans(key), delta, input_precision="ieee")
        tl.store(out_ptr + tile, a, mask=in_k[:, None] & in_h[None, :])


def fused_delta_rule(
    matrix: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    beta: torch.Tensor,
    seen: torch.Tensor,
    out: torch.Tensor | None = None,
    block_h: int = 16,
    num_warps: int = 8,
) -> torch.Tensor:
    """
    `A + k^T (beta (v - (k A) / seen))`, reading `A` once.

    Args:
        matrix (`torch.Tensor`): `A`, `(batch, key_dim, hidden)` float32.
        key (`torch.Tensor`): `phi(k)`, `(batch, rows, key_dim)` float32.
        value (`torch.Tensor`): `(batch, rows, hidden)` float32.
        beta (`torch.Tensor`), seen (`torch.Tensor`): `(batch, rows)` float32; `seen = z . phi(k) + eps`.
        out (`torch.Tensor`, *optional*): Where to write (may be `matrix` itself: each program reads its tile
            before it writes it).
        block_h (`int`, *optional*, defaults to 16): Hidden columns a program handles (a power of 2, >= 16).
        num_warps (`int`, *optional*, defaults to 8): Warps a program runs on (the tile of `A` is key_dim x block_h
            float32 in registers: 8,192 values for BERT-base's key_dim 384 padded to 512).
    """
    if triton is None:
        raise ImportError("fused_delta_rule needs triton (`pip install triton`)")
    batch, key_dim, hidden = matrix.shape
    rows = key.shape[1]
    tensors = (matrix, key, value, beta, seen)
    if any(t.dtype != torch.float32 or not t.is_contiguous() for t in tensors):
        raise ValueError("fused_delta_rule takes contiguous float32 tensors")
    out = torch.empty_like(matrix) if out is None else out
    grid = (batch, triton.cdiv(hidden, block_h))
    _delta_rule_kernel[grid](
        matrix,
        out,
        key,
        value,
        beta,
        seen,
        rows,
        key_dim,
        hidden,
        BLOCK_M=max(16, triton.next_power_of_2(rows)),
        BLOCK_K=max(16, triton.next_power_of_2(key_dim)),
        BLOCK_H=block_h,
        num_warps=num_warps,
    )
    return out


def write_terms(layer, memory: torch.Tensor, normaliser: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What `AssociativeLayer.write` computes before its recall and update, as it computes them: `(key, value, beta,
    seen, gamma)`, float32, `beta`, `seen` and `gamma` of shape `(batch, rows, 1)`."""
    key = dpfp(layer.key(memory).float())
    value = layer.value(memory).float()
    beta = torch.sigmoid(layer.beta(memory).float())
    seen = (key @ normaliser[..., None]) + EPS
    return key, value, beta, seen, (1 - seen).clamp(0, 1)


def write_fused(layer, memory: torch.Tensor, matrix: torch.Tensor, normaliser: torch.Tensor, block_h: int = 16):
    """`AssociativeLayer.write` with the recall and the update in `fused_delta_rule` (inference only)."""
    key, value, beta, seen, gamma = write_terms(layer, memory, normaliser)
    squeeze = [t[..., 0].contiguous() for t in (beta, seen)]
    matrix = fused_delta_rule(matrix.contiguous(), key.contiguous(), value.contiguous(), *squeeze, block_h=block_h)
    return matrix, normaliser + (gamma * key).sum(dim=1)
