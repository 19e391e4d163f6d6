# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""What hf_rmt models answer peft with, so that users see only warnings they can act on."""

from __future__ import annotations


class PeftCheckpointingFlag:
    """
    Mixin of the hf_rmt models: answers `is_gradient_checkpointing` without the FutureWarning transformers >= 5.24
    raises for it. peft 0.21 reads that name whenever it wraps a model (`get_peft_model`) or loads an adapter onto one
    (`PeftModel.from_pretrained`), so without this every LoRA + memory wrap and load would warn about code that is
    peft's, not the user's. The answer is transformers' own: `is_activation_checkpointing` where it exists (5.24), the
    undeprecated `is_gradient_checkpointing` before it (5.17).
    """

    @property
    def is_gradient_checkpointing(self) -> bool:
        if hasattr(type(self), "is_activation_checkpointing"):
            return self.is_activation_checkpointing
        return super().is_gradient_checkpointing


__all__ = ["PeftCheckpointingFlag"]
