# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`build_memory`: the memory module and update rule of `RMTConfig.memory_type`."""

from __future__ import annotations

from torch import nn
from transformers import PreTrainedModel

from ..config import RMTConfig
from ..core.backbone import output_size
from ..core.memory import AssociativeMemory, MemoryUpdate, RMTMemory, RMTUpdate


def build_memory(
    config: RMTConfig, backbone: PreTrainedModel, blocks: list[nn.Module]
) -> tuple[nn.Module, MemoryUpdate | None]:
    """
    The memory module of `config.memory_type` and its update rule, in the backbone's dtype and device.

    - `"rmt"`: `RMTMemory` (the learned initial memory) and `RMTUpdate` (the next memory is the output at the write
      positions, arXiv:2207.06881, section 3).
    - `"associative"`: `AssociativeMemory` (the memory tokens and every layer's projections, arXiv:2407.04841),
      which is its own update rule: the rule is then `None`, and the model uses its `memory` module, looked up at each
      forward (peft's `modules_to_save` may have wrapped it).

    Args:
        config (`RMTConfig`): A resolved configuration (`memory_init_std` and, for ARMT, `memory_dim` set).
        backbone (`PreTrainedModel`): The backbone.
        blocks (`list[nn.Module]`): The backbone's repeated blocks (`layer_blocks`); ARMT keeps one memory per block.
    """
    embeddings = backbone.get_input_embeddings()
    factory = {"dtype": embeddings.weight.dtype, "device": embeddings.weight.device}
    size = (config.num_memory_tokens, embeddings.embedding_dim)
    hidden = output_size(backbone)
    if config.memory_type == "associative":
        # ARMT reads and writes inside the layers of one stack; an encoder-decoder's two stacks, and hidden states
        # wider than the embeddings (ALBERT), have no tested design yet: refused rather than half-supported.
        if config.memory_layout == "seq2seq":
            raise ValueError(
                "memory_type='associative' is not supported with encoder-decoder backbones (memory_layout='seq2seq', "
                f"{type(backbone).__name__}); use memory_type='rmt'."
            )
        if hidden != embeddings.embedding_dim:
            raise ValueError(
                f"memory_type='associative' needs hidden states as wide as the embeddings; {type(backbone).__name__} "
                f"has hidden size {hidden} and embedding size {embeddings.embedding_dim}; use memory_type='rmt'."
            )
        if not blocks:
            raise ValueError(
                f"memory_type='associative' keeps one memory per layer, and no stack of layers (an `nn.ModuleList` "
                f"of blocks) was found in {type(backbone).__name__}."
            )
        memory = AssociativeMemory(
            *size,
            len(blocks),
            config.memory_dim,
            config.memory_init_std,
            denominator_floor=config.memory_denominator_floor or 0.0,
            **factory,
        )
        return memory, None
    memory = RMTMemory(*size, init_std=config.memory_init_std, output_size=hidden, **factory)
    return memory, RMTUpdate()


__all__ = ["build_memory"]
