# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Regional compilation for training: the backbone's repeated blocks compiled in place, the segment loop left eager.

Compiling a whole hf_rmt model (`torch.compile(model)`, or `Trainer(..., torch_compile=True)`, which hands the whole
model to `torch.compile` through accelerate) makes dynamo trace the segment recurrence: one graph unrolled over every
segment count a curriculum produces, recompiled for each, with graph breaks wherever memory hooks run. What the
issue-18 benchmark measured instead (`bench/bench_training_lm.py --compile --compile_mode reduce-overhead`: chunked loss
+ segment checkpointing at 1.66x the official RMT code's tokens/s at 0.07x its peak memory on an H200) compiles each
block of the backbone's layer stack once, in place (`nn.Module.compile`, so `state_dict` keys, `save_pretrained` and
peft see the same modules), and keeps the loop, the memory and the loss in eager PyTorch: the blocks are the same
shapes in every segment, so one compiled graph serves them all. This is accelerate's regional compilation
(`accelerate.utils.compile_regions`) done in place, without compiling the rest of the model: accelerate's version
compiles every other child too (the memory, the head), which hf_rmt's hooks and recurrence do not expect.

With `mode="reduce-overhead"` (or "max-autotune") the blocks' forward and backward are replayed from CUDA graphs
(CUDA-graph trees): each training step must then begin with `torch.compiler.cudagraph_mark_step_begin()`, which
`RMTTrainer` does before every micro-batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers.utils import logging

from ..core.backbone import layer_blocks
from ..core.fast_path import recompile_limit_for
from .checks import unwrap_rmt


logger = logging.get_logger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Modes whose compiled blocks replay CUDA graphs: a training loop marks each step's start for them.
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
# Set on the hf_rmt model: how its blocks were compiled (`RMTTrainer` reads it to mark each step's start).
COMPILED_BLOCKS_ATTR = "_hf_rmt_compiled_blocks"


def compile_backbone_blocks(
    model: nn.Module, mode: str | None = None, backend: str | None = None, **compile_kwargs: Any
) -> int:
    """
    Compiles each block of the backbone's layer stack in place (`block.compile(...)`) for training or inference
    outside the CUDA-graph fast path: fused kernels inside every block, forward and backward, while the segment loop,
    the memory and the loss stay eager. Parameters, `state_dict` keys and saving are unchanged.

    Args:
        model (`nn.Module`):
            An hf_rmt model, or a peft / DDP wrapper of one.
        mode (`str`, *optional*):
            `torch.compile`'s mode: `None` or `"default"`, `"reduce-overhead"` (CUDA graphs: call
            `torch.compiler.cudagraph_mark_step_begin()` at the start of every training step, as `RMTTrainer` does),
            `"max-autotune"`, `"max-autotune-no-cudagraphs"`.
        backend (`str`, *optional*):
            `torch.compile`'s backend (default: inductor). `"aot_eager"` checks the tracing without generating kernels.
        compile_kwargs:
            Further `torch.compile` arguments (`dynamic`, `fullgraph`, `options`). Left to torch's automatic dynamic
            shapes, a block is compiled for the first shape it sees and once more, with sizes symbolic, when the
            number of rows changes (the last segment of a padded batch has fewer samples); `dynamic=False` compiles
            each shape anew, up to dynamo's recompile limit.

    Returns:
        `int`: the number of blocks compiled.

    Example:

    ```python
    >>> model = get_rmt_model(gpt2, RMTConfig(num_memory_tokens=16, segment_size=512, segment_checkpointing=True))
    >>> compile_backbone_blocks(model, mode="reduce-overhead")
    12
    >>> for batch in loader:
    ...     torch.compiler.cudagraph_mark_step_begin()
    ...     model(**batch).loss.backward()
    ```
    """
    rmt = unwrap_rmt(model)
    if rmt is None:
        raise TypeError(
            f"compile_backbone_blocks: `model` must be an hf_rmt model or a peft/DDP wrapper of one, got "
            f"{type(model).__name__}."
        )
    if mode is not None and mode not in COMPILE_MODES:
        raise ValueError(f"compile_backbone_blocks: `mode` must be None or one of {COMPILE_MODES}, got {mode!r}.")
    blocks = layer_blocks(rmt.backbone)
    if not blocks:
        raise ValueError(
            f"compile_backbone_blocks: the backbone {type(rmt.backbone).__name__} has no repeated blocks (no "
            "nn.ModuleList of layers) to compile; compile the model yourself with torch.compile."
        )
    if backend is not None:
        compile_kwargs["backend"] = backend
    # Dynamo's recompile limit (8 entries per code object) is for a function called with a few shapes. Here one code
    # object serves every block, and ARMT's read and write hooks are specialised per layer index: a 12-layer backbone
    # with ARMT needs ~4 entries (grad mode, the shorter last segment) per layer, and past the limit the rest run
    # eager, silently slower. The CUDA-graph fast path raises it the same way inside its calls.
    limit = recompile_limit_for(len(blocks))
    if limit > torch._dynamo.config.recompile_limit:
        logger.info(f"Raising torch._dynamo.config.recompile_limit to {limit} for {len(blocks)} compiled blocks.")
        torch._dynamo.config.recompile_limit = limit
    for block in blocks:
        block.compile(mode=None if mode == "default" else mode, **compile_kwargs)
    # What `RMTTrainer` compares with its arguments (it may build its accelerator twice) and marks steps for.
    setattr(rmt, COMPILED_BLOCKS_ATTR, {"mode": mode or "default", "backend": backend or "inductor"})
    logger.info(
        f"Compiled the backbone's {len(blocks)} {type(blocks[0]).__name__} blocks in place (mode {mode or 'default'}, "
        f"backend {backend or 'inductor'}); the segment loop, memory and loss stay eager."
    )
    return len(blocks)


def blocks_replay_cuda_graphs(model: nn.Module) -> bool:
    """Whether `model`'s blocks were compiled by `compile_backbone_blocks` in a mode that replays CUDA graphs on a
    GPU: a training loop must then call `torch.compiler.cudagraph_mark_step_begin()` before each step."""
    rmt = unwrap_rmt(model)
    compiled = getattr(rmt, COMPILED_BLOCKS_ATTR, None) if rmt is not None else None
    return bool(compiled) and compiled["mode"] in CUDA_GRAPH_MODES and compiled["backend"] == "inductor"


def mark_step_begin_if_needed(model: nn.Module) -> None:
    """`torch.compiler.cudagraph_mark_step_begin()` when `model`'s blocks replay CUDA graphs: tells CUDA-graph trees
    that the previous step's outputs (its loss, its saved activations) are no longer needed, so that the next replay
    may reuse their memory instead of raising or recording new graphs."""
    if blocks_replay_cuda_graphs(model):
        torch.compiler.cudagraph_mark_step_begin()


__all__ = ["COMPILE_MODES", "blocks_replay_cuda_graphs", "compile_backbone_blocks", "mark_step_begin_if_needed"]
