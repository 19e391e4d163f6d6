# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""hf_rmt's checkpoint formats, as plain functions of a model (or model class):

- full: `config.json` + `model.safetensors` (transformers' own format, the backbone's weights included);
- adapter-only: `config.json` + `rmt_adapter.safetensors` (memory and `modules_to_save` heads), the backbone loaded
  by the id and revision the config records, or given (`backbone=`);
- LoRA + memory: peft's `adapter_config.json` + `adapter_model.safetensors` beside the RMT `config.json`, loaded with
  LoRA merged into the backbone.

The model classes' `save_pretrained`/`from_pretrained` call these; the Hub and the model card sit above, in `hub/`.
"""

from __future__ import annotations

from .load import load_checkpoint
from .save import (
    ADAPTER_WEIGHTS_NAME,
    FULL_WEIGHTS_PREFIXES,
    LORA_WEIGHTS_NAME,
    adapter_state_dict,
    recorded_backbone_name,
    write_checkpoint,
)


__all__ = [
    "ADAPTER_WEIGHTS_NAME",
    "FULL_WEIGHTS_PREFIXES",
    "LORA_WEIGHTS_NAME",
    "adapter_state_dict",
    "load_checkpoint",
    "recorded_backbone_name",
    "write_checkpoint",
]
