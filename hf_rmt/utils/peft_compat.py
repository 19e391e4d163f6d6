# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""What hf_rmt does around peft calls so that users see only warnings they can act on."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_peft_deprecations() -> Iterator[None]:
    """
    Within the block, the FutureWarning transformers >= 5.24 raises when peft 0.21 reads `is_gradient_checkpointing`
    (wrapping with `get_peft_model`, loading with `PeftModel.from_pretrained`) is not shown: it concerns peft's code,
    not the user's, and would be printed on every LoRA + memory load.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


__all__ = ["quiet_peft_deprecations"]
