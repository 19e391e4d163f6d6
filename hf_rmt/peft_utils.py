# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""LoRA on the backbone together with the memory, through peft's own API.

RMT is a transformers wrapper, not a peft method (a peft prompt-learning type cannot carry state from one segment to
the next, and two peft types cannot share one PeftModel). LoRA composes on top:
`peft.get_peft_model(rmt_model, lora_config(rmt_model, r=8, target_modules=[...]))` trains LoRA, memory and new heads,
and saves them as one peft adapter; `PeftModel.from_pretrained(rmt_model, path)` reloads it.
"""

from __future__ import annotations

from typing import Any


def lora_config(model: Any, **lora_kwargs: Any):
    """
    A `peft.LoraConfig` whose `modules_to_save` holds the RMT memory and the model's new heads.

    Args:
        model (`RMTPreTrainedModel`): The hf_rmt model LoRA will be applied to.
        lora_kwargs: Any `LoraConfig` argument (`r`, `lora_alpha`, `target_modules`, ...). Names given in
            `modules_to_save` are kept and extended.

    Returns:
        `peft.LoraConfig`.
    """
    from peft import LoraConfig  # noqa: PLC0415  (peft is only needed for LoRA)

    modules = list(lora_kwargs.pop("modules_to_save", None) or [])
    for name in ["memory", *(f"backbone.{head}" for head in model.config.modules_to_save or [])]:
        if name not in modules:
            modules.append(name)
    return LoraConfig(modules_to_save=modules, **lora_kwargs)


__all__ = ["lora_config"]
