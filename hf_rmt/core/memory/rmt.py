# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""RMT's memory type: a learned initial memory (`RMTMemory`), replaced at each step by the outputs at the write
positions (`RMTUpdate`, arXiv:2207.06881 section 3)."""

from __future__ import annotations

import torch
from torch import nn

from .base import MemoryUpdate


class RMTMemory(nn.Module):
    """
    Learned initial memory: `num_memory_tokens` vectors in the backbone's input-embedding space.

    The memory is a free parameter, not new vocabulary rows, as in the official decoder code (arXiv:2207.06881
    reference implementation, `MemoryCell`): it needs no change to the backbone's vocabulary, and being an `nn.Module`
    (with a `weight`) lets peft's `modules_to_save` wrap it for LoRA + memory training.

    Backbones whose input embeddings are narrower than their hidden states (ALBERT, ELECTRA-small: factorised
    embeddings, projected up inside the backbone) cannot take an output back as an input embedding; for them the memory
    has a learned `write_projection` from the hidden states back into the embedding space, applied to what each
    segment writes (`hf_rmt.core.recurrence.SegmentCell.write_projection`). It trains and saves with the memory.

    Args:
        num_memory_tokens (`int`): Number of memory vectors.
        hidden_size (`int`): Dimension of the backbone's input embeddings.
        init_std (`float`): Standard deviation of the initial values.
        dtype (`torch.dtype`, *optional*): Parameter dtype, the backbone's embedding dtype.
        device (`torch.device`, *optional*): Parameter device.
        output_size (`int`, *optional*): Dimension of the backbone's hidden states, when it differs from
            `hidden_size`: adds `write_projection`, `output_size -> hidden_size`.

    Shape:
        `initial_state(batch_size)`: `(batch_size, num_memory_tokens, hidden_size)`.
    """

    def __init__(
        self,
        num_memory_tokens: int,
        hidden_size: int,
        init_std: float = 0.02,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        output_size: int | None = None,
    ):
        super().__init__()
        self.init_std = init_std
        self.weight = nn.Parameter(torch.empty(num_memory_tokens, hidden_size, dtype=dtype, device=device))
        self.write_projection = None
        if output_size is not None and output_size != hidden_size:
            self.write_projection = nn.Linear(output_size, hidden_size, dtype=dtype, device=device)
        if self.weight.device.type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, mean=0.0, std=self.init_std)
        if self.write_projection is not None:
            # PyTorch's default Linear init: the backbone's embedding LayerNorm rescales whatever comes back.
            self.write_projection.reset_parameters()

    @property
    def num_memory_tokens(self) -> int:
        return self.weight.shape[0]

    def state_shapes(self, batch_size: int) -> list[tuple[int, ...]]:
        """The shape of the state (one tensor)."""
        return [(batch_size, *self.weight.shape)]

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The memory every sample starts from (a view: gradients reach the parameter)."""
        return self.weight.unsqueeze(0).expand(batch_size, -1, -1)

    def extra_repr(self) -> str:
        return f"num_memory_tokens={self.weight.shape[0]}, hidden_size={self.weight.shape[1]}"


class RMTUpdate(MemoryUpdate):
    """RMT's rule: the state is the memory tokens themselves, and the next state is the backbone's output at the
    write positions (the official `MemoryCell`: `new_memory_state = hidden_states[:, -num_mem_tokens:]`)."""

    def read(self, state: torch.Tensor) -> torch.Tensor:
        return state

    def write(self, state: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
        return written


__all__ = ["RMTMemory", "RMTUpdate"]
