# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The encoder layout, `[CLS] mem [SEP] segment [SEP] pad...` (arXiv:2304.11062, section 2)."""

from __future__ import annotations

import torch
from torch import nn

from ..segments import SegmentStep
from .base import MemoryLayout, Row


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
        self._special_ids: dict[torch.device, torch.Tensor] = {}

    def row_length(self, segment_length: int) -> int:
        return segment_length + self.num_memory_tokens + self.num_special_tokens

    def special_embeddings(self, embeddings: nn.Module, like: torch.Tensor) -> torch.Tensor:
        """`(2, hidden)` embeddings of [CLS] and [SEP], looked up each step: they may train."""
        ids = self._special_ids.get(like.device)
        if ids is None:  # one host-to-device copy per device, not per step (and none inside a CUDA graph)
            ids = torch.tensor(list(self.special_token_ids), device=like.device)
            self._special_ids[like.device] = ids
        return embeddings(ids).to(like.dtype)

    def build(self, memory: torch.Tensor, content: torch.Tensor, step: SegmentStep, specials: torch.Tensor) -> Row:
        batch, length, hidden = content.shape
        cls = specials[0].expand(batch, 1, hidden)
        sep = specials[1].expand(batch, 1, hidden)
        if step.uniform:
            return torch.cat([cls, memory, sep, content, sep], dim=1), None, None
        # The closing [SEP] follows each sample's last real token; positions after it are padding.
        tail = torch.cat([content, content.new_zeros(batch, 1, hidden)], dim=1)
        closing = torch.arange(length + 1, device=content.device)[None] == step.lengths[:, None]
        tail = torch.where(closing[..., None], sep, tail)
        embeds = torch.cat([cls, memory, sep, tail], dim=1)
        real = self.row_length(0) + step.lengths
        mask = (torch.arange(embeds.shape[1], device=content.device)[None] < real[:, None]).long()
        return embeds, mask, None

    def read_memory(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[:, 1 : 1 + self.num_memory_tokens]


__all__ = ["EncoderLayout"]
