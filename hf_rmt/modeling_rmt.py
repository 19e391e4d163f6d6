# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Compatibility module: the model classes now live in `hf_rmt.modeling` (one module per task).

Kept because `hf_rmt.modeling_rmt` was their import path, and because remote-code checkpoints name it: their
`auto_map` reads `modeling_rmt.<class>` (see `hf_rmt/utils/remote_code.py`).
"""

from __future__ import annotations

from .modeling import (
    TASK_TO_CLASS,
    RMTForCausalLM,
    RMTForMaskedLM,
    RMTForSeq2SeqLM,
    RMTForSequenceClassification,
    RMTForTokenClassification,
    RMTModel,
    RMTPreTrainedModel,
)


__all__ = [
    "TASK_TO_CLASS",
    "RMTForCausalLM",
    "RMTForMaskedLM",
    "RMTForSeq2SeqLM",
    "RMTForSequenceClassification",
    "RMTForTokenClassification",
    "RMTModel",
    "RMTPreTrainedModel",
]
