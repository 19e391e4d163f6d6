# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Segment-level recomputation: memory-efficient backpropagation through time.

A segment step runs once without building an autograd graph; its backward recomputes the step with the graph and
differentiates it. Only the step's inputs (the memory, a few KB a sample) are kept between forward and backward, so
training memory grows with the number of segments by the memory state alone (the RMT paper reports running out of
memory with deep unrolls, arXiv:2207.06881 section 4).

Why not `torch.utils.checkpoint`: its non-reentrant mode builds the full graph in the forward and runs two Python
hooks for every tensor the graph saves (thousands per segment for a 12-layer backbone), which made a checkpointed
training step up to 2x slower than the plain one when the loop is bound by the host (measured on H200,
bench/bench_training.py). Its reentrant mode accumulates parameter gradients from a nested backward, once per
segment, which DistributedDataParallel rejects for parameters shared across segments ("Expected to mark a
variable ready only once").
Here the parameters are explicit inputs of the recomputed step and their gradients are *returned*: autograd sums
the contributions of all segments before the parameter's `AccumulateGrad` runs, once, as in the plain path, so
DDP's hooks fire once per parameter and gradient accumulation behaves as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack

import torch


class _SegmentRecompute(torch.autograd.Function):
    """`step(*inputs)` run without a graph; recomputed and differentiated in backward. The parameters are inputs too
    (not used by name here: `step` reaches them through its module), so their gradients are returned, not
    accumulated from a nested backward."""

    @staticmethod
    def forward(ctx, step, preserve_rng, n_inputs, *tensors):
        inputs = tensors[:n_inputs]
        ctx.step, ctx.n_inputs = step, n_inputs
        device = next((t.device for t in tensors if t.device.type != "cpu"), torch.device("cpu"))
        ctx.device_type = device.type
        # Autocast is entered again in the recomputation: the same casts give the same numbers.
        ctx.autocast = [
            (kind, torch.is_autocast_enabled(kind), torch.get_autocast_dtype(kind)) for kind in {device.type, "cpu"}
        ]
        ctx.autocast_cache = torch.is_autocast_cache_enabled()
        ctx.rng = None
        if preserve_rng:
            # Dropout must draw the same masks when the step is recomputed.
            devices = [device] if device.type != "cpu" else []
            ctx.rng = (torch.get_rng_state(), devices, [torch.get_device_module(d).get_rng_state(d) for d in devices])
        # Saved (not stored on ctx) so that an in-place change before backward, such as an optimizer step, raises.
        ctx.save_for_backward(*tensors)
        ctx.set_materialize_grads(False)
        return tuple(step(*inputs))

    @staticmethod
    def backward(ctx, *grad_outputs):
        saved = ctx.saved_tensors
        inputs = [t.detach().requires_grad_(t.requires_grad) for t in saved[: ctx.n_inputs]]
        params = list(saved[ctx.n_inputs :])
        rng_devices = ctx.rng[1] if ctx.rng is not None else []
        with torch.random.fork_rng(rng_devices, enabled=ctx.rng is not None, device_type=ctx.device_type):
            if ctx.rng is not None:
                torch.set_rng_state(ctx.rng[0])
                for device, state in zip(ctx.rng[1], ctx.rng[2]):
                    torch.get_device_module(device).set_rng_state(state, device)
            with torch.enable_grad(), ExitStack() as stack:
                for kind, enabled, dtype in ctx.autocast:
                    stack.enter_context(
                        torch.autocast(kind, dtype=dtype, enabled=enabled, cache_enabled=ctx.autocast_cache)
                    )
                outputs = ctx.step(*inputs)
        pairs = [
            (out, grad)
            for out, grad in zip(outputs, grad_outputs)
            if grad is not None and isinstance(out, torch.Tensor) and out.requires_grad
        ]
        wanted = [t for t in inputs if t.requires_grad] + params
        grads: list[torch.Tensor | None] = [None] * len(wanted)
        if pairs and wanted:
            grads = list(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs], allow_unused=True))
        input_grads = [grads.pop(0) if t.requires_grad else None for t in inputs]
        return (None, None, None, *input_grads, *grads)


def recompute_segment(
    step: Callable[..., tuple[torch.Tensor, ...]],
    inputs: Sequence[torch.Tensor],
    params: Sequence[torch.Tensor],
    preserve_rng_state: bool,
) -> tuple[torch.Tensor, ...]:
    """
    Runs `step(*inputs)` without keeping its activations; the backward pass recomputes it.

    Args:
        step: A pure function of `inputs` and of the module parameters `params` (dropout aside, which
            `preserve_rng_state` replays), returning a tuple of tensors.
        inputs: The tensors the step reads that may need gradients (the memory; `inputs_embeds`).
        params: Every parameter the step may use; those that require grad receive gradients.
        preserve_rng_state: Save the RNG state and restore it for the recomputation (needed with dropout).

    Returns:
        The step's outputs.
    """
    trainable = [p for p in params if p.requires_grad]
    return _SegmentRecompute.apply(step, preserve_rng_state, len(inputs), *inputs, *trainable)


__all__ = ["recompute_segment"]
