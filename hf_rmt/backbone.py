# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: backbone inspection now lives in `hf_rmt.core.backbone`, config resolution in
`hf_rmt.modeling.resolve`."""

from __future__ import annotations

from .core.backbone import (
    TESTED_ARCHITECTURES,
    backbone_task,
    check_supported,
    is_decoder_backbone,
    layer_blocks,
    max_positions,
)
from .modeling.resolve import resolve_config


__all__ = [
    "TESTED_ARCHITECTURES",
    "backbone_task",
    "check_supported",
    "is_decoder_backbone",
    "layer_blocks",
    "max_positions",
    "resolve_config",
]
