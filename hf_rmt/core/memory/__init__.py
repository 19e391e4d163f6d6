# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Memory types: the state carried between segments and its update rule (see `base.py`). RMT's is the first; a new
type adds a module here with its initial state and `MemoryUpdate`; ARMT's per-layer associative memory
(`associative.py`) is the second."""

from __future__ import annotations

from .associative import AssociativeMemory, dpfp
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
    "AssociativeMemory",
    "MemoryState",
    "MemoryUpdate",
    "RMTMemory",
    "RMTUpdate",
    "detach_rows",
    "dpfp",
    "map_state",
    "merge_rows",
    "select_rows",
    "state_from_tensors",
    "state_tensors",
]
