# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: memory types now live in `hf_rmt.core.memory`."""

from __future__ import annotations

from .core.memory import RMTMemory


__all__ = ["RMTMemory"]
