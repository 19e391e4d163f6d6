# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""hf_rmt: Recurrent Memory Transformer memory for any transformers checkpoint.

Importing hf_rmt registers `RMTConfig` with `AutoConfig` and each model class with its Auto class, so that
`AutoModelForSequenceClassification.from_pretrained("user/rmt-bert")` loads an hf_rmt checkpoint.
"""

__version__ = "0.1.0.dev0"

from transformers import AutoConfig

from .config import RMTConfig
from .core.memory import RMTMemory
from .hub.model_card import create_or_update_model_card, write_model_card
from .hub.push import push_to_hub
from .mapping import MODEL_TASKS
from .mapping_func import get_rmt_model
from .modeling import (
    TASK_TO_CLASS,
    RMTForCausalLM,
    RMTForMaskedLM,
    RMTForSeq2SeqLM,
    RMTForSequenceClassification,
    RMTForTokenClassification,
    RMTModel,
    RMTModelOutput,
    RMTPreTrainedModel,
    RMTSeq2SeqLMOutput,
    RMTSequenceClassifierOutput,
    RMTTokenOutput,
)
from .modeling.streaming import RMTStream
from .peft_utils import lora_config


AutoConfig.register("rmt", RMTConfig, exist_ok=True)
for _entry in MODEL_TASKS.values():
    _entry.auto_class.register(RMTConfig, TASK_TO_CLASS[_entry.task], exist_ok=True)

__all__ = [
    "RMTConfig",
    "RMTForCausalLM",
    "RMTForMaskedLM",
    "RMTForSeq2SeqLM",
    "RMTForSequenceClassification",
    "RMTForTokenClassification",
    "RMTMemory",
    "RMTModel",
    "RMTModelOutput",
    "RMTPreTrainedModel",
    "RMTSeq2SeqLMOutput",
    "RMTSequenceClassifierOutput",
    "RMTStream",
    "RMTTokenOutput",
    "__version__",
    "create_or_update_model_card",
    "get_rmt_model",
    "lora_config",
    "push_to_hub",
    "write_model_card",
]
