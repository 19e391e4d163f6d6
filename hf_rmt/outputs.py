# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: the output classes now live in `hf_rmt.modeling.outputs`."""

from __future__ import annotations

from .modeling.outputs import RMTModelOutput, RMTSequenceClassifierOutput, RMTTokenOutput


__all__ = ["RMTModelOutput", "RMTSequenceClassifierOutput", "RMTTokenOutput"]
