# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`hf-rmt train --init-from DIR`: start training from a model that an earlier `hf-rmt train` saved.

Long recipes (the 1M-token paper trained thousands of steps per curriculum stage, section 4.1) run as several commands
on machines that are lent for minutes: each command initialises from the previous one's output and trains the next
stages. Only weights are carried (the optimizer and schedule start afresh, as the paper's stages each start from the
previous stage's best checkpoint). The RMT settings, the task's labels and what trains must match the saved model: a
LoRA adapter continues as LoRA (its factors are relative to the original backbone), a fully fine-tuned model as full
fine-tuning.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from ..utils.validation import nonfinite_weights


# RMT settings that change the weights' meaning or shapes: the saved model's must equal the new run's.
_MATCHING = {
    "num_memory_tokens": "--num-memory-tokens",
    "segment_size": "--segment-size",
    "memory_type": "--memory-type",
    "memory_dim": "--memory-dim",
}


def _fail(path: str, why: str) -> None:
    raise ValueError(f"--init-from {path}: {why}")


def _check_finite(path: str, tensors: dict[str, torch.Tensor]) -> None:
    # A run that diverged can have saved NaN weights (before hf_rmt skipped non-finite steps, it did): starting from
    # them trains nothing and every later result is chance, so say so here, in the flag's words.
    broken = nonfinite_weights(tensors)
    if broken:
        _fail(
            path,
            f"{len(broken)} of its weights hold NaN or inf values (e.g. {broken[0]}): the run that saved them diverged; "
            "start from an earlier output or from the backbone.",
        )


def _check_config(path: str, rmt: Any) -> None:
    from transformers import AutoConfig  # noqa: PLC0415

    if not os.path.isfile(os.path.join(path, "config.json")):
        _fail(path, "no config.json there; give the --output-dir of an earlier `hf-rmt train`.")
    saved = AutoConfig.from_pretrained(path)
    if getattr(saved, "model_type", None) != "rmt":
        _fail(path, f"not an hf_rmt model (its config has model_type {getattr(saved, 'model_type', None)!r}).")
    for key, flag in _MATCHING.items():
        if getattr(saved, key, None) != getattr(rmt.config, key, None):
            _fail(
                path,
                f"it was trained with {flag} {getattr(saved, key, None)}, this run has {getattr(rmt.config, key, None)}; "
                f"give {flag} {getattr(saved, key, None)}.",
            )
    labels = getattr(saved.base_config, "id2label", None)
    ours = rmt.config.base_config.id2label
    if labels is not None and {int(k): v for k, v in labels.items()} != {int(k): v for k, v in ours.items()}:
        _fail(path, f"its labels {sorted(labels.values())} are not this task's {sorted(ours.values())}.")


def _load_lora(path: str, model: Any) -> None:
    from peft import set_peft_model_state_dict  # noqa: PLC0415
    from safetensors.torch import load_file  # noqa: PLC0415

    with open(os.path.join(path, "adapter_config.json")) as handle:
        saved = json.load(handle)
    ours = model.peft_config["default"]
    for key, flag in (("r", "--lora-r"), ("lora_alpha", "--lora-alpha")):
        if saved.get(key) != getattr(ours, key):
            _fail(
                path,
                f"its LoRA has {key}={saved.get(key)}, this run {getattr(ours, key)}; give {flag} {saved.get(key)}.",
            )
    if sorted(saved.get("target_modules") or []) != sorted(ours.target_modules or []):
        _fail(
            path,
            f"its LoRA targets {sorted(saved.get('target_modules') or [])}, this run {sorted(ours.target_modules or [])}; "
            "give the same --lora-target-modules.",
        )
    weights = load_file(os.path.join(path, "adapter_model.safetensors"))
    _check_finite(path, weights)
    result = set_peft_model_state_dict(model, weights)
    if result.unexpected_keys:
        _fail(path, f"its adapter holds weights this model lacks: {sorted(result.unexpected_keys)[:5]}.")
    # Missing keys are the frozen backbone's, which an adapter never holds; LoRA factors must all be there.
    missing = [key for key in result.missing_keys if "lora_" in key or "modules_to_save" in key]
    if missing:
        _fail(path, f"its adapter lacks weights this model trains: {sorted(missing)[:5]}.")


def _load_full(path: str, rmt: Any, mode: str) -> None:
    from transformers import AutoModelForSequenceClassification  # noqa: PLC0415

    saved = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
    state = saved.state_dict()
    _check_finite(path, state)
    if mode == "memory":
        # Memory and head only: the backbone must be the one this run starts from, or the saved adapter-only model
        # would describe a backbone nobody has.
        ours, trained = rmt.state_dict(), set(rmt.adapter_state_dict())  # memory and new heads
        changed = [k for k, v in state.items() if k not in trained and k in ours and not torch.equal(v, ours[k])]
        if changed:
            _fail(
                path,
                "its backbone weights differ from --model's (it was fine-tuned); continue it with --train-backbone.",
            )
    rmt.load_state_dict(state, strict=True)


def load_initial_state(model: Any, rmt: Any, path: str, mode: str) -> None:
    """
    Copies the weights that `hf-rmt train` saved in `path` into a freshly built run, in place.

    Args:
        model (`torch.nn.Module`): What trains: the hf_rmt model, or the `PeftModel` around it in LoRA mode.
        rmt (`RMTPreTrainedModel`): The hf_rmt model.
        path (`str`): The earlier run's `--output-dir`.
        mode (`str`): `"lora"`, `"full"` or `"memory"` (`TrainSettings.mode`).

    Raises:
        ValueError: with the flag to change, when the saved model does not fit this run (RMT settings, labels, LoRA
            settings, or a mode that would lose what was trained).
    """
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        _fail(path, "no such folder.")
    _check_config(path, rmt)
    is_lora = os.path.isfile(os.path.join(path, "adapter_config.json"))
    if mode == "lora":
        if not is_lora:
            _fail(
                path, "it holds no LoRA adapter (it was trained with --train-backbone or --lora-r 0); use that mode."
            )
        _load_lora(path, model)
    elif is_lora and mode == "memory":
        _fail(path, "it holds a LoRA adapter; continue it with the same --lora-r (or --train-backbone to merge it).")
    else:
        # Full fine-tuning may start from any saved model (a LoRA adapter is merged into the backbone on loading).
        _load_full(path, rmt, mode)


__all__ = ["load_initial_state"]
