# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The checks of a forward's inputs, shared by every hf_rmt model class."""

from __future__ import annotations

import torch


def check_inputs(
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    memory_state: torch.Tensor | None,
    num_memory_tokens: int,
    hidden: int,
) -> tuple[int, int]:
    """Checks the inputs of a forward (one of `input_ids`/`inputs_embeds`, shapes, a non-empty input, the memory
    state's shape); returns `(batch, seq_len)`."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError(
            "Pass exactly one of `input_ids` and `inputs_embeds`, got "
            + ("both." if input_ids is not None else "neither.")
        )
    if input_ids is not None and input_ids.dim() != 2:
        raise ValueError(f"`input_ids` must have shape (batch, seq_len), got {tuple(input_ids.shape)}.")
    if inputs_embeds is not None and (inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != hidden):
        raise ValueError(
            f"`inputs_embeds` must have shape (batch, seq_len, {hidden}), got {tuple(inputs_embeds.shape)}."
        )
    given = input_ids if input_ids is not None else inputs_embeds
    batch, seq_len = given.shape[:2]
    if batch == 0 or seq_len == 0:
        raise ValueError(f"The input is empty: shape {tuple(given.shape)}; need at least one token per sample.")
    if attention_mask is not None and tuple(attention_mask.shape) != (batch, seq_len):
        raise ValueError(
            f"`attention_mask` must have the input's shape ({batch}, {seq_len}), got {tuple(attention_mask.shape)}."
        )
    expected = (batch, num_memory_tokens, hidden)
    if memory_state is not None and tuple(memory_state.shape) != expected:
        raise ValueError(f"`memory_state` must have shape {expected}, got {tuple(memory_state.shape)}.")
    return batch, seq_len


__all__ = ["check_inputs"]
