# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory layouts: how memory and a segment are laid out in one backbone input, and where memory is read back.

A layout is the only code that knows a row's format: the positions of memory, special tokens, content and padding,
the row's length, and the prompt format of generation. Both layouts keep memory at fixed positions of the row, so
reading memory back is a slice, and put padding where it cannot change the real tokens' results, so a padded sample
gives what it gives alone:

- `EncoderLayout`, `[CLS] mem [SEP] segment [SEP] pad...` (arXiv:2304.11062, section 2; official
  `pad_add_special_tokens`): padding at the end, default positions.
- `DecoderLayout`, `[read mem | pad... | segment | write mem]` (arXiv:2207.06881, section 3): the next memory is the
  output at the write positions.
- `Seq2SeqLayout`, `[BOS] mem segment [EOS] pad...` (the official `RMTEncoderDecoderForConditionalGeneration`): the
  encoder row of an encoder-decoder backbone, padding at the end; the decoder reads the last row.

A new layout subclasses `MemoryLayout` in its own module and is added to `LAYOUTS` in
`hf_rmt/core/layouts/__init__.py`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ..segments import SegmentStep


Row = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]  # (inputs_embeds, attention_mask, position_ids)


class MemoryLayout:
    """
    The row format of one segment step.

    Attributes:
        name (`str`): The `RMTConfig.memory_layout` value that selects the layout.
        padding_side (`str`): Where a shorter segment's padding goes inside the content slice (`"left"`/`"right"`).
        causal (`bool`): Whether the layout serves causal (decoder) backbones.
        last_position_is_memory (`bool`): The last position of every row is a memory token, never padding (a head
            that reads the last position reads memory).
        row_description (`str`): The format in words, for error messages.
        content_offset (`int`): Position of the segment's first token in the row.
    """

    name: ClassVar[str]
    padding_side: ClassVar[str]
    causal: ClassVar[bool]
    last_position_is_memory: ClassVar[bool]
    row_description: ClassVar[str]

    def __init__(self, num_memory_tokens: int):
        self.num_memory_tokens = num_memory_tokens
        self.content_offset = num_memory_tokens
        self.special_token_ids: tuple[int | None, ...] = ()  # the ids `special_embeddings` looks up, in order
        self._special_ids: dict[torch.device, torch.Tensor] = {}

    def row_length(self, segment_length: int) -> int:
        """Positions of a row holding `segment_length` content tokens."""
        raise NotImplementedError

    def largest_segment(self, max_positions: int) -> int:
        """The most content tokens a row may hold on a backbone with `max_positions` positions (< 1: none fit)."""
        return max_positions - self.row_length(0)

    def special_embeddings(self, embeddings: nn.Module, like: torch.Tensor) -> torch.Tensor | None:
        """`(len(special_token_ids), hidden)` embeddings of the layout's special tokens in `like`'s dtype, looked up
        each step (they may train); `None` when it has none."""
        if not self.special_token_ids:
            return None
        ids = self._special_ids.get(like.device)
        if ids is None:  # one host-to-device copy per device, not per step (and none inside a CUDA graph)
            ids = torch.tensor(list(self.special_token_ids), device=like.device)
            self._special_ids[like.device] = ids
        return embeddings(ids).to(like.dtype)

    def build(
        self, memory: torch.Tensor, content: torch.Tensor, step: SegmentStep, specials: torch.Tensor | None
    ) -> Row:
        """The backbone input of one step: `(inputs_embeds, attention_mask, position_ids)`, the last two `None`
        when every row is full (no padding)."""
        raise NotImplementedError

    def read_memory(self, hidden: torch.Tensor) -> torch.Tensor:
        """The outputs at the positions the next memory is read from, `(batch, num_memory_tokens, hidden)`."""
        raise NotImplementedError

    def row_mask(self, step: SegmentStep, width: int) -> torch.Tensor | None:
        """`(batch, width)` attention mask of a step's rows for layouts that pad at the end (1 up to each row's last
        real position); `None` when no row is padded."""
        if step.uniform:
            return None
        real = self.row_length(0) + step.lengths
        return (torch.arange(width, device=step.lengths.device)[None] < real[:, None]).long()

    def read_content(self, hidden: torch.Tensor, length: int) -> torch.Tensor:
        """The outputs (hidden states or logits) at the segment's `length` content positions."""
        return hidden[:, self.content_offset : self.content_offset + length]

    def content_positions(self, length: int, device: torch.device) -> torch.Tensor:
        """Row positions of a `length`-token segment (a causal-LM head's `logits_to_keep`)."""
        return torch.arange(self.content_offset, self.content_offset + length, device=device)

    def generation_prompt(
        self, memory: torch.Tensor, content: torch.Tensor, real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        The prompt of the backbone's own `generate`: `[pad... | read mem | last segment]`, left-padded as `generate`
        expects. No write memory: the continuation does not update memory. (The same for every layout so far: a
        causal LM generates from `[memory | segment]` whichever layout it was trained with.)

        Args:
            memory (`torch.Tensor`): `(batch, m, hidden)`, the memory after the earlier segments.
            content (`torch.Tensor`): `(batch, width, hidden)`, the last segment's embeddings, left-padded.
            real (`torch.Tensor`): `(batch, width)`, True at the segment's real tokens.

        Returns:
            `(inputs_embeds, attention_mask)`.
        """
        batch, m = content.shape[0], self.num_memory_tokens
        rows = torch.cat([memory.to(content.dtype), content], dim=1)
        mask = torch.cat([torch.ones(batch, m, dtype=torch.long, device=content.device), real.long()], dim=1)
        # Move the padding in front of the memory: a stable sort puts masked positions first, keeping order.
        order = torch.sort(mask, dim=1, stable=True).indices
        rows = rows.gather(1, order[..., None].expand(-1, -1, rows.shape[-1]))
        return rows, mask.gather(1, order)


def close_segments(content: torch.Tensor, closing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`(batch, width + 1, hidden)`: each row's segment with the `closing` token's embedding right after its last real
    token (`lengths`); what follows is padding, masked out by `MemoryLayout.row_mask`."""
    batch, length, hidden = content.shape
    tail = torch.cat([content, content.new_zeros(batch, 1, hidden)], dim=1)
    closes = torch.arange(length + 1, device=content.device)[None] == lengths[:, None]
    return torch.where(closes[..., None], closing.expand(batch, 1, hidden), tail)


__all__ = ["MemoryLayout", "Row", "close_segments"]
