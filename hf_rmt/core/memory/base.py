# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The memory seam: a memory state passed explicitly from step to step, and the update rule of a memory type.

The recurrence never looks inside a state: it selects, detaches and merges the rows of the samples that take part in
a step through the functions below, and asks the memory type's `MemoryUpdate` what to place in the row (`read`) and
what the next state is (`write`). RMT's state is one `(batch, memory, hidden)` tensor, replaced by the outputs at the
write positions (`RMTUpdate`). A per-layer memory (ARMT's associative matrices, arXiv:2407.04841) is a tuple of
tensors, one per layer, with its own update rule; nothing of it is ever kept in a module between calls (state held in
module attributes breaks data parallelism and needs manual resets, as the official ARMT code shows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Union

import torch


# One tensor (RMT) or a tuple of tensors (e.g. one per layer); batch first in every tensor.
MemoryState = Union[torch.Tensor, tuple[torch.Tensor, ...]]


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: MemoryState) -> MemoryState:
    """Applies `fn` to every tensor of `state`."""
    if isinstance(state, torch.Tensor):
        return fn(state)
    return tuple(fn(tensor) for tensor in state)


def state_tensors(state: MemoryState) -> list[torch.Tensor]:
    """The tensors of `state`, in order (what recomputation passes through autograd)."""
    return [state] if isinstance(state, torch.Tensor) else list(state)


def state_from_tensors(like: MemoryState, tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> MemoryState:
    """A state of `like`'s structure holding `tensors` (the inverse of `state_tensors`)."""
    return tensors[0] if isinstance(like, torch.Tensor) else tuple(tensors)


def select_rows(state: MemoryState, rows: torch.Tensor | None) -> MemoryState:
    """The state of the samples `rows` (all of them when `rows` is None)."""
    return state if rows is None else map_state(lambda tensor: tensor[rows], state)


def detach_rows(state: MemoryState, rows: torch.Tensor) -> MemoryState:
    """`state` with the gradient path cut for the samples where `rows` (a `(batch,)` bool mask) is True."""

    def detach(tensor: torch.Tensor) -> torch.Tensor:
        shape = rows.shape + (1,) * (tensor.dim() - 1)
        return torch.where(rows.view(shape), tensor.detach(), tensor)

    return map_state(detach, state)


def merge_rows(state: MemoryState, rows: torch.Tensor | None, new: MemoryState) -> MemoryState:
    """`state` with the samples `rows` replaced by `new` (cast to `state`'s dtype); `new` itself when `rows` is None."""
    if isinstance(state, torch.Tensor):
        new = new.to(state.dtype)
        return new if rows is None else state.index_copy(0, rows, new)
    return tuple(merge_rows(old, rows, part) for old, part in zip(state, new))


class MemoryUpdate:
    """
    The update rule of a memory type: what a step places at the layout's memory positions, and how the backbone's
    outputs there become the next state. Stateless: the state is an argument and a return value.

    A memory that acts inside the backbone's layers (ARMT's per-layer associative memory) sets `acts_in_layers`: the
    step then passes each layer's input through `read_in_layer`, hands each layer's outputs at the memory positions
    to `write_in_layer`, and gives `write` the list of what `write_in_layer` returned, in layer order, instead of the
    last layer's outputs (`hf_rmt.core.backbone.memory_in_layers` does the plumbing, for any architecture).
    """

    acts_in_layers: ClassVar[bool] = False

    def read(self, state: MemoryState) -> torch.Tensor:
        """The `(batch, num_memory_tokens, hidden)` vectors a step places at the layout's read positions."""
        raise NotImplementedError

    def write(self, state: MemoryState, written: Any) -> MemoryState:
        """The next state, from the step's previous `state` and the outputs at the layout's write positions (or, with
        `acts_in_layers`, the list of `write_in_layer` results)."""
        raise NotImplementedError

    def read_in_layer(self, state: MemoryState, index: int, hidden: torch.Tensor) -> torch.Tensor:
        """With `acts_in_layers`: the input of layer `index` after the memory's read (every position of the row)."""
        raise NotImplementedError

    def write_in_layer(self, state: MemoryState, index: int, memory: torch.Tensor) -> Any:
        """With `acts_in_layers`: what layer `index`'s outputs at the memory positions, `memory`, write."""
        raise NotImplementedError


__all__ = [
    "MemoryState",
    "MemoryUpdate",
    "detach_rows",
    "map_state",
    "merge_rows",
    "select_rows",
    "state_from_tensors",
    "state_tensors",
]
