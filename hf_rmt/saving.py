# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: checkpoint formats now live in `hf_rmt.checkpoint`, the Hub upload in `hf_rmt.hub`, backbone
ids in `hf_rmt.utils.hub_ids`. Also a remote-code entry module (see `hf_rmt/utils/remote_code.py`)."""

from __future__ import annotations

from .checkpoint import ADAPTER_WEIGHTS_NAME, recorded_backbone_name
from .hub.push import push_to_hub
from .utils.hub_ids import PACKAGED_BACKBONES, backbone_hub_id


__all__ = ["ADAPTER_WEIGHTS_NAME", "PACKAGED_BACKBONES", "backbone_hub_id", "push_to_hub", "recorded_backbone_name"]
