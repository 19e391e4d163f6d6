# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory layouts: how memory and a segment are laid out in one backbone input, and where memory is read back.

Both layouts keep memory at fixed positions of the row, so reading memory back is a slice, and put padding where it
cannot change the real tokens' results, so a padded sample gives what it gives alone:

- `EncoderLayout`, `[CLS] mem [SEP] segment [SEP] pad...` (arXiv:2304.11062, section 2; official
  `pad_add_special_tokens`): padding at the end, default positions.
- `DecoderLayout`, `[read mem | pad... | segment | write mem]` (arXiv:2207.06881, section 3): the next memory is the
  output at the write positions. Padding sits between read memory and the segment and explicit `position_ids` skip
  it, so the write memory is always the last `m` positions (a classification head that reads the last position reads
  the last write-memory token) and the causal mask needs no change.
"""

from __future__ import annotations

import torch

from .segments import StepIndex


class EncoderLayout:
    """`[CLS] mem [SEP] segment [SEP]`, memory read from the memory positions."""

    name = "encoder"
    num_special_tokens = 3

    def __init__(self, num_memory_tokens: int):
        self.num_memory_tokens = num_memory_tokens
        self.content_offset = num_memory_tokens + 2

    def row_length(self, segment_length: int) -> int:
        return segment_length + self.num_memory_tokens + self.num_special_tokens

    padding_side = "right"

    def build(
        self, memory: torch.Tensor, content: torch.Tensor, step: StepIndex, specials: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns `(inputs_embeds, attention_mask, position_ids)` for one step; `specials` holds the CLS and SEP
        embeddings, `(2, hidden)`."""
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

    def read_content(self, hidden: torch.Tensor, length: int) -> torch.Tensor:
        return hidden[:, self.content_offset : self.content_offset + length]


class DecoderLayout:
    """`[read mem | segment | write mem]`, the next memory read from the write positions."""

    name = "decoder"
    num_special_tokens = 0

    def __init__(self, num_memory_tokens: int):
        self.num_memory_tokens = num_memory_tokens
        self.content_offset = num_memory_tokens

    def row_length(self, segment_length: int) -> int:
        return segment_length + 2 * self.num_memory_tokens

    padding_side = "left"

    def build(
        self, memory: torch.Tensor, content: torch.Tensor, step: StepIndex, specials: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns `(inputs_embeds, attention_mask, position_ids)`; `content` is right-aligned when padded."""
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

    def read_content(self, hidden: torch.Tensor, length: int) -> torch.Tensor:
        return hidden[:, self.num_memory_tokens : self.num_memory_tokens + length]


def get_layout(name: str, num_memory_tokens: int) -> EncoderLayout | DecoderLayout:
    return {"encoder": EncoderLayout, "decoder": DecoderLayout}[name](num_memory_tokens)


__all__ = ["DecoderLayout", "EncoderLayout", "get_layout"]
