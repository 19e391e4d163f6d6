# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The hf_rmt model classes, one per task of `hf_rmt.mapping.MODEL_TASKS`."""

from __future__ import annotations

from .bare import RMTModel
from .base import RMTPreTrainedModel
from .causal_lm import RMTForCausalLM
from .classification import RMTForSequenceClassification
from .outputs import RMTModelOutput, RMTSeq2SeqLMOutput, RMTSequenceClassifierOutput, RMTTokenOutput
from .per_token import RMTForMaskedLM, RMTForTokenClassification
from .seq2seq_lm import RMTForSeq2SeqLM


TASK_TO_CLASS: dict[str, type[RMTPreTrainedModel]] = {
    cls.task: cls
    for cls in (
        RMTModel,
        RMTForSequenceClassification,
        RMTForTokenClassification,
        RMTForMaskedLM,
        RMTForCausalLM,
        RMTForSeq2SeqLM,
    )
}

__all__ = [
    "TASK_TO_CLASS",
    "RMTForCausalLM",
    "RMTForMaskedLM",
    "RMTForSeq2SeqLM",
    "RMTForSequenceClassification",
    "RMTForTokenClassification",
    "RMTModel",
    "RMTModelOutput",
    "RMTPreTrainedModel",
    "RMTSeq2SeqLMOutput",
    "RMTSequenceClassifierOutput",
    "RMTTokenOutput",
]
