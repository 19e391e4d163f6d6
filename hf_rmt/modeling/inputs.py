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
    vocab_size: int | None = None,
) -> tuple[int, int]:
    """Checks the inputs of a forward (one of `input_ids`/`inputs_embeds`, shapes, a non-empty input, token ids within
    the backbone's vocabulary of `vocab_size`, the memory state's shape); returns `(batch, seq_len)`."""
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
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        raise ValueError(f"`{name}` is empty: shape {tuple(given.shape)}; need at least one token per sample.")
    if attention_mask is not None and tuple(attention_mask.shape) != (batch, seq_len):
        raise ValueError(
            f"`attention_mask` must have the input's shape ({batch}, {seq_len}), got {tuple(attention_mask.shape)}."
        )
    if input_ids is not None and vocab_size is not None:
        _check_token_ids(input_ids, attention_mask, vocab_size)
    expected = (batch, num_memory_tokens, hidden)
    if memory_state is not None and tuple(memory_state.shape) != expected:
        raise ValueError(f"`memory_state` must have shape {expected}, got {tuple(memory_state.shape)}.")
    return batch, seq_len


def _check_token_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, vocab_size: int) -> None:
    """Token ids at real (unmasked) positions must index the backbone's embeddings; an id from another tokenizer
    would otherwise fail inside the embedding lookup ("index out of range in self", or a device-side assert on a
    GPU). One reduction and one host sync per forward; padding positions are never embedded and are not checked."""
    ids = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, 0)
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0 or high >= vocab_size:
        bad = high if high >= vocab_size else low
        raise ValueError(
            f"`input_ids` must be token ids in [0, {vocab_size - 1}] (the backbone's vocabulary of {vocab_size:,}), "
            f"got {bad}: was the input made with another model's tokenizer?"
        )


__all__ = ["check_inputs"]
