# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: the CUDA-graph fast path now lives in `hf_rmt.core.fast_path`."""

from __future__ import annotations

from .core.fast_path import SegmentGraphs


__all__ = ["SegmentGraphs"]
