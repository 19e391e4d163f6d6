"""Pieces the benchmark scripts share: the BERT-base-sized encoder they time, a device sync, and GPU kernel
profiling."""

from __future__ import annotations

import contextlib

import torch
from transformers import BertConfig


# `--sdpa` choices of the benchmarks -> torch.nn.attention.SDPBackend member (None: torch's own choice).
SDPA = {"default": None, "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION"}


def attention_kernels(name: str):
    """A context that forces one SDPA backend (`SDPA`), or changes nothing for "default"."""
    if SDPA[name] is None:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    return sdpa_kernel(getattr(SDPBackend, SDPA[name]))


def sync(device: torch.device) -> None:
    """Waits for the device's queued work, so wall-clock times cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bert_config(quick: bool) -> BertConfig:
    """BERT-base sizes (12 x 768, 512 positions, 6 labels), or a tiny model for `--quick` smoke tests."""
    if quick:
        return BertConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=64,
            num_labels=6,
        )
    return BertConfig(num_labels=6)


def kernel_events(fn, device: torch.device) -> list:
    """The GPU kernels (profiler events) that one call of `fn()` launches; [] off CUDA."""
    if device.type != "cuda":
        return []
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        sync(device)
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


def kernel_seconds(fn, device: torch.device, calls: int = 1) -> float | None:
    """GPU time of the kernels that one call of `fn()` launches (averaged over `calls` calls), or None off CUDA. Set
    beside the call's wall time, it tells whether a loop is bound by the GPU or by the host that launches its
    kernels; for a single small kernel it is the kernel's own speed, which host timing hides under launch cost."""
    if device.type != "cuda":
        return None
    events = kernel_events(lambda: [fn() for _ in range(calls)], device)
    return sum(e.device_time_total for e in events) / calls / 1e6


def print_top_kernels(fn, device: torch.device, title: str, top: int = 15, say=print) -> None:
    """Prints the `top` GPU kernels of one call of `fn()` by total time, with counts and their share of GPU time
    (nothing off CUDA): where a step's time goes, before guessing what to speed up."""
    totals: dict[str, list] = {}
    for event in kernel_events(fn, device):
        entry = totals.setdefault(event.name[:90], [0, 0.0])
        entry[0] += 1
        entry[1] += event.device_time_total
    whole = sum(us for _, us in totals.values())
    if not whole:
        return
    say(f"{title}: {whole / 1e3:.2f} ms of GPU kernels")
    for name, (count, us) in sorted(totals.items(), key=lambda item: -item[1][1])[:top]:
        say(f"  {100 * us / whole:5.1f}%  {count:>5}x  {name}")
