# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""How an evaluation runs its forward passes: the precision and, on a GPU, the attention kernels.

Measured on an H200 (`bench/bench_eval.py`, `bench/results/session6_gpu/eval_2m_bf16.json`): 100 samples of 2,043,904
tokens through the shipped MiniLM-L6 adapter take 34.2 s with float32 weights under bf16 autocast (every step casts
every weight again), 29.3 s with the weights in bf16, and 26.1 s with FlashAttention tried first, at the same
accuracy. So a model whose weights are already bf16 runs without autocast, and FlashAttention is preferred where
it applies (bf16/fp16, no arbitrary mask); torch falls back to its other kernels elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


# Flash first, then torch's usual order; the math kernel last so that any input still runs.
SDPA_PRIORITY = [
    SDPBackend.FLASH_ATTENTION,
    SDPBackend.CUDNN_ATTENTION,
    SDPBackend.EFFICIENT_ATTENTION,
    SDPBackend.MATH,
]


_ENABLED = {
    SDPBackend.FLASH_ATTENTION: torch.backends.cuda.flash_sdp_enabled,
    SDPBackend.CUDNN_ATTENTION: torch.backends.cuda.cudnn_sdp_enabled,
    SDPBackend.EFFICIENT_ATTENTION: torch.backends.cuda.mem_efficient_sdp_enabled,
    SDPBackend.MATH: torch.backends.cuda.math_sdp_enabled,
}


def sdpa_priority() -> list[SDPBackend]:
    """`SDPA_PRIORITY` restricted to the kernels enabled now, so that a caller's own `sdpa_kernel(...)` choice (or
    `torch.backends.cuda.enable_*_sdp(False)`) still holds inside the evaluation."""
    return [backend for backend in SDPA_PRIORITY if _ENABLED[backend]()]


def weights_dtype(model: torch.nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter (None when it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def default_autocast(model: torch.nn.Module, device: torch.device) -> bool:
    """`evaluate_by_length`'s default for `bf16`: bf16 autocast on a CUDA device when the weights are float32; a
    model already in bf16 (or fp16) runs as it is, without the per-step weight casts of autocast."""
    return device.type == "cuda" and weights_dtype(model) == torch.float32


@contextlib.contextmanager
def eval_precision(device: torch.device, autocast: bool) -> Iterator[None]:
    """The context a forward pass runs in (a new one for each: it is entered when used, not when made): bf16
    autocast if asked, and on CUDA the attention kernel priority."""
    with contextlib.ExitStack() as stack:
        if autocast:
            stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
        enabled = sdpa_priority()
        if device.type == "cuda" and enabled:
            stack.enter_context(sdpa_kernel(enabled, set_priority=True))
        yield


__all__ = ["SDPA_PRIORITY", "default_autocast", "eval_precision", "sdpa_priority", "weights_dtype"]
