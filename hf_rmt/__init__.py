# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""hf_rmt: Recurrent Memory Transformer memory for any transformers checkpoint.

Importing hf_rmt registers `RMTConfig` with `AutoConfig` and each model class with its Auto class, so that
`AutoModelForSequenceClassification.from_pretrained("user/rmt-bert")` loads an hf_rmt checkpoint.
"""

__version__ = "0.1.0.dev0"

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .config import RMTConfig
from .mapping import get_rmt_model
from .memory import RMTMemory
from .model_card import create_or_update_model_card, write_model_card
from .modeling_rmt import (
    RMTForCausalLM,
    RMTForMaskedLM,
    RMTForSequenceClassification,
    RMTForTokenClassification,
    RMTModel,
    RMTPreTrainedModel,
)
from .outputs import RMTModelOutput, RMTSequenceClassifierOutput, RMTTokenOutput
from .peft_utils import lora_config
from .saving import push_to_hub


AutoConfig.register("rmt", RMTConfig, exist_ok=True)
for _auto, _cls in (
    (AutoModel, RMTModel),
    (AutoModelForSequenceClassification, RMTForSequenceClassification),
    (AutoModelForTokenClassification, RMTForTokenClassification),
    (AutoModelForMaskedLM, RMTForMaskedLM),
    (AutoModelForCausalLM, RMTForCausalLM),
):
    _auto.register(RMTConfig, _cls, exist_ok=True)

__all__ = [
    "RMTConfig",
    "RMTForCausalLM",
    "RMTForMaskedLM",
    "RMTForSequenceClassification",
    "RMTForTokenClassification",
    "RMTMemory",
    "RMTModel",
    "RMTModelOutput",
    "RMTPreTrainedModel",
    "RMTSequenceClassifierOutput",
    "RMTTokenOutput",
    "__version__",
    "create_or_update_model_card",
    "get_rmt_model",
    "lora_config",
    "push_to_hub",
    "write_model_card",
]
