# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The backbone's KV cache of a causal-LM stream's partial segment: `[read mem | pad... | partial segment]`.

A partial segment's logits only depend on the memory read in front of it and on its earlier tokens (the decoder
layout's write memory comes after the segment and the mask is causal), so a stream or a rolling generation can score
new tokens of the segment by appending them to this cache, one backbone call on the new tokens alone, instead of
running the whole segment again. Positions are those of `DecoderLayout.build`: read memory `0..m-1`, the segment from
`m`, each sample counted alone (the padding between memory and segment is masked and skipped by the positions).

With `generate(..., cache_implementation="static")` the rows live in one preallocated `StaticCache` that every segment
reuses (`StaticSegmentCache`), and on CUDA the one-token step is compiled as transformers' `generate` compiles a plain
model's decoding with a static cache: the shapes and the cache's addresses never change, so one CUDA graph serves every
token of every segment, and the host no longer bounds the step.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache, StaticCache
from transformers.generation.configuration_utils import CompileConfig

from ..core.memory import MemoryState
from ..core.recurrence import SegmentCell, layer_reads


class StaticSegmentCache:
    """
    One preallocated KV cache for the partial segments of a whole rolling generation, and the compiled decoding step.

    Args:
        backbone (`PreTrainedModel`): The transformers model the RMT model wraps.
        capacity (`int`): Columns of the cache: the read memory, the widest partial segment a prefill starts with and
            the tokens appended after it. Rolling generation needs at most `m + 2 * segment_size` (a row may start a
            segment with up to `segment_size - 1` tokens while another starts empty); a stream fed ragged chunks
            can need more, and then goes on in a dynamic cache for the rest of that segment (`PartialSegmentCache`).
        compile_config (`CompileConfig`, *optional*): Compile the one-token step with it, as `generate` does for a
            plain model (`backbone.get_compiled_call`, CUDA graphs by default); None runs it eagerly.
    """

    def __init__(self, backbone: Any, capacity: int, compile_config: CompileConfig | None = None):
        self.cache = StaticCache(config=backbone.config, max_cache_len=capacity)
        self.capacity = capacity
        self.mask: torch.Tensor | None = None  # (batch, capacity): 0 at the padding between memory and a segment
        self.length = 0  # columns written, counted on the host (reading the cache's own count would sync)
        self.step = backbone.get_compiled_call(compile_config) if compile_config is not None else None

    @staticmethod
    def supports(backbone: Any) -> bool:
        """Whether every layer keeps a full static cache (sliding-window and hybrid layers keep other shapes)."""
        layer_types = getattr(backbone.config, "layer_types", None) or ()
        return getattr(backbone.config, "sliding_window", None) is None and set(layer_types) <= {"full_attention"}

    def begin(self, batch: int, device: torch.device) -> StaticCache:
        """Empties the cache for a new segment (in place: compiled graphs keep its addresses)."""
        self.cache.reset()
        self.length = 0
        if self.mask is None or self.mask.shape[0] != batch or self.mask.device != device:
            self.mask = torch.ones(batch, self.capacity, dtype=torch.long, device=device)
        else:
            self.mask.fill_(1)  # columns not written yet stay 1: causality, not the mask, keeps them out
        return self.cache


class PartialSegmentCache:
    """
    The backbone's KV cache of each sample's row `[read mem | pad... | partial segment]`.

    Args:
        cell (`SegmentCell`): The model's backbone, layout and memory type (`model._segment_cell()`).
        memory (`torch.Tensor` or `tuple`): The memory the segment reads.
        static (`StaticSegmentCache`, *optional*): The stream's preallocated cache and compiled step; None keeps
            the rows in a `DynamicCache`.
    """

    def __init__(self, cell: SegmentCell, memory: MemoryState, static: StaticSegmentCache | None = None):
        self.cell, self.memory, self.static = cell, memory, static
        backbone = cell.backbone
        params = inspect.signature(backbone.forward).parameters
        # transformers 5 names the argument `cache`; older versions `past_key_values`.
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._takes_logits_to_keep = "logits_to_keep" in params
        # Looked up once per segment, not per token: transformers' lookup walks the model (the cell is rebuilt at
        # every segment, so a module peft swaps in between segments is still picked up).
        self._embeddings = backbone.get_input_embeddings()
        self.cache: Any = None  # made at `prefill`: the stream's static cache, else a DynamicCache
        self.row_mask: torch.Tensor | None = None  # None while no row has padding (the fast, maskless case)
        self.next_position: torch.Tensor | None = None  # (batch,) position of each row's next token

    def _run(self, embeds: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor, keep: int) -> Any:
        call = self.cell.backbone
        if self.static is not None:
            mask = self.static.mask  # its whole width, so that every step has one shape
            if self.static.step is not None and embeds.shape[1] == 1 and self.static.length > 0:
                call = self.static.step  # a decoding step; prefills stay eager (their shapes vary)
            self.static.length += embeds.shape[1]
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
            output = call(**kwargs)
        if call is not self.cell.backbone:
            output.logits = output.logits.clone()  # CUDA graphs write the next step's logits to the same memory
        return output

    def _spill(self) -> None:
        """The static cache has no room for a chunk (a stream fed ragged chunks): the rest of this segment goes on
        in a `DynamicCache` holding the same entries, as if it had been dynamic from the start."""
        static, n = self.static, self.static.length
        dynamic = DynamicCache(config=self.cell.backbone.config)
        for index, layer in enumerate(static.cache.layers):
            dynamic.update(layer.keys[:, :, :n].clone(), layer.values[:, :, :n].clone(), index)
        mask = static.mask[:, :n].clone()
        self.row_mask = None if bool(mask.all()) else mask
        self.cache, self.static = dynamic, None

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
        if self.static is not None and m + width >= self.static.capacity:
            self.static = None  # no room for this segment's prefill and a token more: a dynamic cache it is
        if self.static is None:
            self.cache = DynamicCache(config=cell.backbone.config)
        else:
            self.cache = self.static.begin(batch, device)
            if mask is not None:
                self.static.mask[:, : m + width] = mask
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
        if self.static is not None and self.static.length + n > self.static.capacity:
            self._spill()
        if real is None:
            positions = self.next_position[:, None]
            if n > 1:  # a generated token alone (n = 1) needs no offsets: one device op fewer per token
                positions = positions + torch.arange(n, device=ids.device)[None]
            if self.row_mask is not None and self.static is None:
                self.row_mask = torch.cat([self.row_mask, self.row_mask.new_ones(batch, n)], dim=1)
            self.next_position = self.next_position + n
        else:
            real = real.long()
            positions = self.next_position[:, None] + (real.cumsum(dim=1) - 1).clamp(min=0)
            if self.static is not None:  # the static mask is the row mask (`_run` passes it)
                self.static.mask[:, self.static.length : self.static.length + n] = real
            else:
                if self.row_mask is None:
                    self.row_mask = real.new_ones(batch, self.cache.get_seq_length())
                self.row_mask = torch.cat([self.row_mask, real], dim=1)
            self.next_position = self.next_position + real.sum(dim=1)
        return self._run(embeds, self.row_mask, positions, n).logits


__all__ = ["PartialSegmentCache", "StaticSegmentCache"]
