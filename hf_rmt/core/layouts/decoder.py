# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The decoder layout, `[read mem | pad... | segment | write mem]` (arXiv:2207.06881, section 3)."""

from __future__ import annotations

import torch

from ..segments import SegmentStep
from .base import MemoryLayout, Row


class DecoderLayout(MemoryLayout):
    """
    `[read mem | segment | write mem]`, the next memory read from the write positions.

    Padding sits between read memory and the segment and explicit `position_ids` skip it, so the write memory is
    always the last `m` positions (a classification head that reads the last position reads the last write-memory
    token) and the causal mask needs no change.

    Args:
        num_memory_tokens (`int`): Memory tokens at each end of a row.
    """

    name = "decoder"
    padding_side = "left"
    causal = True
    last_position_is_memory = True
    row_description = "2 x memory + segment"
    num_special_tokens = 0

    def row_length(self, segment_length: int) -> int:
        return segment_length + 2 * self.num_memory_tokens

    def build(
        self, memory: torch.Tensor, content: torch.Tensor, step: SegmentStep, specials: torch.Tensor | None = None
    ) -> Row:
        """`content` is right-aligned when padded."""
        embeds = torch.cat([memory, content, memory], dim=1)
        if step.uniform:
            return embeds, None, None
        m, length = self.num_memory_tokens, content.shape[1]
        device = content.device
        pad = (length - step.lengths)[:, None]
        offsets = torch.arange(length, device=device)[None]
        content_real = offsets >= pad
        ones = torch.ones(content.shape[0], m, dtype=torch.long, device=device)
        mask = torch.cat([ones, content_real.long(), ones], dim=1)
        # Positions as if the sample ran alone: read memory 0..m-1, segment from m, write memory right after it.
        content_pos = (offsets - pad).clamp(min=0) + m
        read_pos = torch.arange(m, device=device)[None].expand(content.shape[0], -1)
        write_pos = step.lengths[:, None] + m + torch.arange(m, device=device)[None]
        return embeds, mask, torch.cat([read_pos, content_pos, write_pos], dim=1)

    def read_memory(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[:, -self.num_memory_tokens :]


__all__ = ["DecoderLayout"]
