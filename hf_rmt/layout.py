# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: memory layouts now live in `hf_rmt.core.layouts`."""

from __future__ import annotations

from .core.layouts import DecoderLayout, EncoderLayout, get_layout


__all__ = ["DecoderLayout", "EncoderLayout", "get_layout"]
