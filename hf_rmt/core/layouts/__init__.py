# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory layouts, the only owners of row formats (see `base.py`)."""

from __future__ import annotations

from .base import MemoryLayout
from .decoder import DecoderLayout
from .encoder import EncoderLayout


LAYOUTS: dict[str, type[MemoryLayout]] = {"encoder": EncoderLayout, "decoder": DecoderLayout}


def get_layout(
    name: str, num_memory_tokens: int, cls_token_id: int | None = None, sep_token_id: int | None = None
) -> MemoryLayout:
    """The layout `name` (`RMTConfig.memory_layout`); the special-token ids are used by layouts that have them."""
    if name == "encoder":
        return EncoderLayout(num_memory_tokens, cls_token_id, sep_token_id)
    return LAYOUTS[name](num_memory_tokens)


__all__ = ["LAYOUTS", "DecoderLayout", "EncoderLayout", "MemoryLayout", "get_layout"]
