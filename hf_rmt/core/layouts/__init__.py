# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory layouts, the only owners of row formats (see `base.py`)."""

from __future__ import annotations

from .base import MemoryLayout
from .decoder import DecoderLayout
from .encoder import EncoderLayout
from .seq2seq import Seq2SeqLayout


LAYOUTS: dict[str, type[MemoryLayout]] = {"encoder": EncoderLayout, "decoder": DecoderLayout, "seq2seq": Seq2SeqLayout}


def get_layout(
    name: str, num_memory_tokens: int, cls_token_id: int | None = None, sep_token_id: int | None = None
) -> MemoryLayout:
    """The layout `name` (`RMTConfig.memory_layout`); the special-token ids are used by layouts that have them (the
    seq2seq layout reads `cls_token_id` as its optional BOS and `sep_token_id` as its EOS)."""
    if name in ("encoder", "seq2seq"):
        return LAYOUTS[name](num_memory_tokens, cls_token_id, sep_token_id)
    return LAYOUTS[name](num_memory_tokens)


__all__ = ["LAYOUTS", "DecoderLayout", "EncoderLayout", "MemoryLayout", "Seq2SeqLayout", "get_layout"]
