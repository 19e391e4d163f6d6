# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The backbone's KV cache of a causal-LM stream's partial segment: `[read mem | pad... | partial segment]`.

A partial segment's logits only depend on the memory read in front of it and on its earlier tokens (the decoder
layout's write memory comes after the segment and the mask is causal), so a stream or a rolling generation can score
new tokens of the segment by appending them to this cache, one backbone call on the new tokens alone, instead of
running the whole segment again. Positions are those of `DecoderLayout.build`: read memory `0..m-1`, the segment from
`m`, each sample counted alone (the padding between memory and segment is masked and skipped by the positions).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache

from ..core.memory import MemoryState
from ..core.recurrence import SegmentCell, layer_reads


class PartialSegmentCache:
    """
    The backbone's KV cache of each sample's row `[read mem | pad... | partial segment]`.

    Args:
        cell (`SegmentCell`): The model's backbone, layout and memory type (`model._segment_cell()`).
        memory (`torch.Tensor` or `tuple`): The memory the segment reads.
    """

    def __init__(self, cell: SegmentCell, memory: MemoryState):
        self.cell, self.memory = cell, memory
        backbone = cell.backbone
        params = inspect.signature(backbone.forward).parameters
        # transformers 5 names the argument `cache`; older versions `past_key_values`.
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._takes_logits_to_keep = "logits_to_keep" in params
        # Looked up once per segment, not per token: transformers' lookup walks the model (the cell is rebuilt at
        # every segment, so a module peft swaps in between segments is still picked up).
        self._embeddings = backbone.get_input_embeddings()
        self.cache = DynamicCache(config=backbone.config)
        self.row_mask: torch.Tensor | None = None  # None while no row has padding (the fast, maskless case)
        self.next_position: torch.Tensor | None = None  # (batch,) position of each row's next token

    def _run(self, embeds: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor, keep: int) -> Any:
        kwargs: dict[str, Any] = {
            "inputs_embeds": embeds,
            "attention_mask": mask,
            "position_ids": positions,
            self._cache_arg: self.cache,
            "use_cache": True,
            "return_dict": True,
        }
        if self._takes_logits_to_keep:
            kwargs["logits_to_keep"] = keep
        with layer_reads(self.cell, self.memory):  # ARMT: every layer reads the associative memory first
            return self.cell.backbone(**kwargs)

    def prefill(self, ids: torch.Tensor, real: torch.Tensor) -> torch.Tensor | None:
        """
        Starts the rows with the read memory and each sample's partial segment.

        Args:
            ids (`torch.LongTensor`): `(batch, width)` the partial segments, right-aligned (padding first).
            real (`torch.BoolTensor`): `(batch, width)` True at the segments' tokens.

        Returns:
            `(batch, width, vocab)` logits at the segment's columns (None for an empty segment).
        """
        cell = self.cell
        content = self._embeddings(ids)
        memory = cell.update.read(self.memory).to(content.dtype)
        batch, m, width = ids.shape[0], memory.shape[1], ids.shape[1]
        embeds = torch.cat([memory, content], dim=1)
        device = ids.device
        lengths = real.sum(dim=1)
        offsets = torch.arange(width, device=device)[None]
        pad = width - lengths[:, None]
        content_positions = (offsets - pad).clamp(min=0) + m
        positions = torch.cat([torch.arange(m, device=device).expand(batch, -1), content_positions], dim=1)
        if bool(real.all()):
            mask = None
        else:
            mask = torch.cat([torch.ones(batch, m, dtype=torch.long, device=device), real.long()], dim=1)
        self.row_mask = mask
        self.next_position = lengths + m
        output = self._run(embeds, mask, positions, max(width, 1))
        return output.logits[:, -width:] if width else None

    def append(self, ids: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        """
        Appends tokens to every row and returns their logits.

        Args:
            ids (`torch.LongTensor`): `(batch, n)` new tokens.
            real (`torch.Tensor`, *optional*): `(batch, n)` 1 at the tokens a sample reads (None: all).

        Returns:
            `(batch, n, vocab)` logits at the new tokens (meaningless at entries that are not real).
        """
        embeds = self._embeddings(ids)
        batch, n = ids.shape
        if real is None:
            positions = self.next_position[:, None]
            if n > 1:  # a generated token alone (n = 1) needs no offsets: one device op fewer per token
                positions = positions + torch.arange(n, device=ids.device)[None]
            if self.row_mask is not None:
                self.row_mask = torch.cat([self.row_mask, self.row_mask.new_ones(batch, n)], dim=1)
            self.next_position = self.next_position + n
        else:
            real = real.long()
            positions = self.next_position[:, None] + (real.cumsum(dim=1) - 1).clamp(min=0)
            if self.row_mask is None:
                self.row_mask = real.new_ones(batch, self.cache.get_seq_length())
            self.row_mask = torch.cat([self.row_mask, real], dim=1)
            self.next_position = self.next_position + real.sum(dim=1)
        return self._run(embeds, self.row_mask, positions, n).logits


__all__ = ["PartialSegmentCache"]
