# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The checks of a forward's inputs, shared by every hf_rmt model class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def check_inputs(
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    memory_state: Any,
    num_memory_tokens: int,
    hidden: int,
    state_shapes: Callable[[int], list[tuple[int, ...]]] | None = None,
    vocab_size: int | None = None,
) -> tuple[int, int]:
    """Checks the inputs of a forward (one of `input_ids`/`inputs_embeds`, shapes, a non-empty input, token ids within
    the backbone's vocabulary of `vocab_size`, the memory state's shapes, from the memory type's
    `state_shapes(batch)`); returns `(batch, seq_len)`."""
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
    if memory_state is not None:
        _check_memory_state(
            memory_state, state_shapes(batch) if state_shapes else [(batch, num_memory_tokens, hidden)]
        )
    return batch, seq_len


def _check_memory_state(memory_state: Any, expected: list[tuple[int, ...]]) -> None:
    """A one-tensor state (RMT) must be a tensor of the one shape; a state of several tensors (ARMT's per-layer
    matrices and normalisers) a tuple of tensors of the shapes in `expected`, in order."""
    if len(expected) == 1:
        shape = tuple(memory_state.shape) if isinstance(memory_state, torch.Tensor) else type(memory_state).__name__
        if shape != expected[0]:
            raise ValueError(f"`memory_state` must have shape {expected[0]}, got {shape}.")
        return
    if not isinstance(memory_state, (tuple, list)) or not all(isinstance(t, torch.Tensor) for t in memory_state):
        raise ValueError(
            f"`memory_state` must be a tuple of {len(expected)} tensors (each layer's associative matrix and "
            f"normaliser, as a previous output's `memory_state`), got {type(memory_state).__name__}."
        )
    shapes = [tuple(t.shape) for t in memory_state]
    if shapes != expected:
        raise ValueError(
            f"`memory_state` must hold {len(expected)} tensors of shapes {expected[:2]} for each layer, got "
            f"{len(shapes)} tensors of shapes {shapes[:2]}{', ...' if len(shapes) > 2 else ''}."
        )


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
