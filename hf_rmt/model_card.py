# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: model cards now live in `hf_rmt.hub.model_card`."""

from __future__ import annotations

from .hub.model_card import (
    BASE_MODEL_RELATIONS,
    GENERATED_PLOT_NAME,
    LIBRARY_NAME,
    RMT_TAGS,
    TEMPLATE_PATH,
    create_or_update_model_card,
    write_model_card,
)
from .utils.hub_ids import public_backbone_id


__all__ = [
    "BASE_MODEL_RELATIONS",
    "GENERATED_PLOT_NAME",
    "LIBRARY_NAME",
    "RMT_TAGS",
    "TEMPLATE_PATH",
    "create_or_update_model_card",
    "public_backbone_id",
    "write_model_card",
]
