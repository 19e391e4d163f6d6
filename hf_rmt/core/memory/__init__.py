# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory types: the state carried between segments and its update rule (see `base.py`). RMT's is the first; a new
type (e.g. ARMT's per-layer associative memory) adds a module here with its initial state and `MemoryUpdate`."""

from __future__ import annotations

from .base import (
    MemoryState,
    MemoryUpdate,
    detach_rows,
    map_state,
    merge_rows,
    select_rows,
    state_from_tensors,
    state_tensors,
)
from .rmt import RMTMemory, RMTUpdate


__all__ = [
    "MemoryState",
    "MemoryUpdate",
    "RMTMemory",
    "RMTUpdate",
    "detach_rows",
    "map_state",
    "merge_rows",
    "select_rows",
    "state_from_tensors",
    "state_tensors",
]
