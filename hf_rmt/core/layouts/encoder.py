# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The encoder layout, `[CLS] mem [SEP] segment [SEP] pad...` (arXiv:2304.11062, section 2)."""

from __future__ import annotations

import torch

from ..segments import SegmentStep
from .base import MemoryLayout, Row, close_segments


class EncoderLayout(MemoryLayout):
    """
    `[CLS] mem [SEP] segment [SEP]`, memory read back from the memory positions (the official
    `pad_add_special_tokens`). Padding goes at the end, with the default positions.

    Args:
        num_memory_tokens (`int`): Memory tokens in a row.
        cls_token_id (`int`, *optional*): Id of the row's first token.
        sep_token_id (`int`, *optional*): Id of the separator after memory and after the segment.
    """

    name = "encoder"
    padding_side = "right"
    causal = False
    last_position_is_memory = False
    row_description = "[CLS] + memory + [SEP] + segment + [SEP]"
    num_special_tokens = 3

    def __init__(self, num_memory_tokens: int, cls_token_id: int | None = None, sep_token_id: int | None = None):
        super().__init__(num_memory_tokens)
        self.content_offset = num_memory_tokens + 2
        self.special_token_ids = (cls_token_id, sep_token_id)

    def row_length(self, segment_length: int) -> int:
        return segment_length + self.num_memory_tokens + self.num_special_tokens

    def build(self, memory: torch.Tensor, content: torch.Tensor, step: SegmentStep, specials: torch.Tensor) -> Row:
        batch, length, hidden = content.shape
        cls = specials[0].expand(batch, 1, hidden)
        sep = specials[1].expand(batch, 1, hidden)
        if step.uniform:
            return torch.cat([cls, memory, sep, content, sep], dim=1), None, None
        # The closing [SEP] follows each sample's last real token; positions after it are padding.
        embeds = torch.cat([cls, memory, sep, close_segments(content, specials[1], step.lengths)], dim=1)
        return embeds, self.row_mask(step, embeds.shape[1]), None

    def read_memory(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[:, 1 : 1 + self.num_memory_tokens]


__all__ = ["EncoderLayout"]
