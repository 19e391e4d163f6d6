# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The encoder-decoder layout, `[BOS] mem segment [EOS] pad...`: the encoder row of a T5 or BART backbone."""

from __future__ import annotations

import torch

from ..segments import SegmentStep
from .base import MemoryLayout, Row, close_segments


class Seq2SeqLayout(MemoryLayout):
    """
    `[BOS] mem segment [EOS]` in the encoder of an encoder-decoder backbone, the BOS only when the backbone has one
    (BART's `<s>`; T5 has none): the row of the official `RMTEncoderDecoderForConditionalGeneration`
    (`[BOS?] mem seg [EOS]`). Memory is read back from its own positions of the encoder's output; the decoder
    cross-attends to the whole last row, memory included. Padding goes at the end, so real tokens keep their positions
    (absolute ones such as BART's, and the distances T5's relative attention bias reads).

    Args:
        num_memory_tokens (`int`): Memory tokens in a row.
        bos_token_id (`int`, *optional*): Id of the token opening each row; None for none.
        eos_token_id (`int`, *optional*): Id of the token closing each segment (required to build rows).
    """

    name = "seq2seq"
    padding_side = "right"
    causal = False
    last_position_is_memory = False
    row_description = "[BOS] + memory + segment + [EOS]"

    def __init__(self, num_memory_tokens: int, bos_token_id: int | None = None, eos_token_id: int | None = None):
        super().__init__(num_memory_tokens)
        self.memory_offset = 0 if bos_token_id is None else 1
        self.content_offset = self.memory_offset + num_memory_tokens
        self.special_token_ids = (eos_token_id,) if bos_token_id is None else (bos_token_id, eos_token_id)
        if bos_token_id is None:
            self.row_description = "memory + segment + [EOS]"

    def row_length(self, segment_length: int) -> int:
        return segment_length + self.content_offset + 1

    def build(self, memory: torch.Tensor, content: torch.Tensor, step: SegmentStep, specials: torch.Tensor) -> Row:
        batch, _, hidden = content.shape
        opening = [specials[0].expand(batch, 1, hidden)] if self.memory_offset else []
        if step.uniform:
            return torch.cat([*opening, memory, content, specials[-1].expand(batch, 1, hidden)], dim=1), None, None
        # The closing [EOS] follows each sample's last real token; positions after it are padding.
        embeds = torch.cat([*opening, memory, close_segments(content, specials[-1], step.lengths)], dim=1)
        return embeds, self.row_mask(step, embeds.shape[1]), None

    def read_memory(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[:, self.memory_offset : self.content_offset]


__all__ = ["Seq2SeqLayout"]
