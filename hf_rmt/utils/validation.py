# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Argument checks shared across the package, each written once."""

from __future__ import annotations

import numbers
from typing import Any

import torch
from transformers import PreTrainedModel

from ..config import RMTConfig


# What a task sample and an evaluation produce: a class id (classification), the answer's tokens after the input
# (generation, causal LMs) or as the decoder's target (seq2seq, encoder-decoders).
OUTPUT_FORMATS = ("classification", "generation", "seq2seq")


def check_positive_int(name: str, value: Any, *, plain: bool = False) -> int:
    """
    `value` as an `int`, or a `ValueError` naming `name` when it is not an integer >= 1 (bools are refused).

    Args:
        name (`str`): The argument's name, as the message shows it.
        value (`Any`): The value to check (any integral type, e.g. numpy's).
        plain (`bool`, *optional*, defaults to `False`): Write the message without code quotes and full stop, as
            the task generators always have (`num_samples must be a positive integer, got 0`).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        if plain:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def is_rmt_config(config: Any) -> bool:
    """Whether `config` is an hf_rmt configuration (also one loaded as remote code, or reached through a wrapper)."""
    return getattr(config, "model_type", None) == RMTConfig.model_type


def is_rmt_model(model: Any) -> bool:
    """Whether `model` itself is an hf_rmt model, not a wrapper of one (peft, DDP and `torch.compile` wrappers forward
    `config` to the model inside, so the class is checked too)."""
    return isinstance(model, PreTrainedModel) and is_rmt_config(model.config)


def nonfinite_weights(tensors: Any) -> list[str]:
    """The names of the floating-point tensors that hold NaN or inf, from a state dict or `named_parameters()`: what a
    diverged training run saves. A model whose weights are not finite answers at chance whatever it is asked."""
    items = tensors.items() if hasattr(tensors, "items") else tensors
    return sorted(name for name, value in items if value.is_floating_point() and not torch.isfinite(value).all())


__all__ = ["OUTPUT_FORMATS", "check_positive_int", "is_rmt_config", "is_rmt_model", "nonfinite_weights"]
