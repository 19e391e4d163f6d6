# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: segmentation now lives in `hf_rmt.core.segments` (`StepIndex` is now `SegmentStep`)."""

from __future__ import annotations

from .core.segments import SegmentPlan, SegmentStep


StepIndex = SegmentStep  # the old name of the same class

__all__ = ["SegmentPlan", "SegmentStep", "StepIndex"]
