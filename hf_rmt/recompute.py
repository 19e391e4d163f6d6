# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: segment recomputation now lives in `hf_rmt.core.recompute`."""

from __future__ import annotations

from .core.recompute import recompute_segment


__all__ = ["recompute_segment"]
