# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Writing hf_rmt checkpoints: full (backbone + memory) or adapter-only (memory + new heads).

- Full: `config.json` + `model.safetensors`, written by transformers itself (sharding, tied weights, dtype).
- Adapter-only (the default when the backbone was not trained and can be found again): `config.json` (the RMT
  config, with the backbone's id, revision and config snapshot) + `rmt_adapter.safetensors` holding the memory and
  the `modules_to_save` heads, and an index that lets Trainer resume from it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import PreTrainedModel
from transformers.utils import logging

from ..utils.remote_code import save_remote_code


logger = logging.get_logger(__name__)


ADAPTER_WEIGHTS_NAME = "rmt_adapter.safetensors"
LORA_WEIGHTS_NAME = "adapter_model.safetensors"  # peft's, for LoRA + memory checkpoints
FULL_WEIGHTS_PREFIXES = ("model.safetensors", "model-0", "model.safetensors.index.json")


@contextlib.contextmanager
def recorded_backbone_name(config: Any) -> Iterator[None]:
    """
    Within the block, the backbone config nested in an `RMTConfig` (`config.base_config`, the live backbone's) names
    the backbone as `config.base_model_name_or_path` does (its Hub id when known) instead of the folder it was loaded
    from, so that a saved `config.json` carries no second, local name. `save_pretrained` uses it; wrap a direct
    `rmt_model.config.save_pretrained(folder)` (e.g. beside a peft adapter) in it too.
    """
    base = config.base_config
    if base is None:
        yield
        return
    before = base._name_or_path
    base._name_or_path = config.base_model_name_or_path or ""
    try:
        yield
    finally:
        base._name_or_path = before


@contextlib.contextmanager
def _remote_code_exported_by_hf_rmt(model: Any, save_directory: str | os.PathLike, is_main_process: bool):
    """Within the block, transformers' `save_pretrained` does not export remote code itself (its flat copy cannot
    follow hf_rmt's subpackages): hf_rmt writes it first (`save_remote_code`), setting `auto_map` before the config
    is saved. transformers reads the class attribute (`is_remote_code` is a classmethod), so the class's is unset
    for the duration of the call and restored after it."""
    cls = type(model)
    auto_class = getattr(cls, "_auto_class", None)
    if auto_class is None or not cls.__module__.startswith("hf_rmt."):
        yield
        return
    if is_main_process:
        os.makedirs(save_directory, exist_ok=True)
        save_remote_code(model, save_directory)
    own = "_auto_class" in cls.__dict__
    cls._auto_class = None
    try:
        yield
    finally:
        if own:
            cls._auto_class = auto_class
        else:
            del cls._auto_class  # back to the inherited value


def adapter_state_dict(model: Any, state_dict: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The tensors of an adapter-only checkpoint: the memory and the `modules_to_save` heads."""
    state_dict = state_dict if state_dict is not None else model.state_dict()
    prefixes = ("memory.",) + tuple(f"backbone.{name}." for name in model.config.modules_to_save or [])
    return {k: v for k, v in state_dict.items() if k.startswith(prefixes)}


def write_checkpoint(
    model: Any,
    save_directory: str | os.PathLike,
    adapter_only: bool | None,
    is_main_process: bool,
    state_dict: dict[str, torch.Tensor] | None,
    save_kwargs: dict[str, Any],
) -> bool:
    """
    Writes the weights and the config of `model`, in full or adapter-only.

    Args:
        model (`RMTPreTrainedModel`): The model to save.
        save_directory (`str` or `os.PathLike`): Directory to write to (created if needed).
        adapter_only (`bool`, *optional*): As in `save_pretrained`; `None` picks adapter-only when no backbone
            parameter is trainable and the backbone has an id or path to be loaded from.
        is_main_process (`bool`): Only the main process writes.
        state_dict (`dict`, *optional*): State dict to save instead of `model.state_dict()`.
        save_kwargs (`dict`): Passed to transformers' `save_pretrained` (full checkpoints).

    Returns:
        `bool`: whether the checkpoint is adapter-only.
    """
    merged = getattr(model, "_merged_lora", False)
    if adapter_only and merged:
        raise ValueError(
            "adapter_only=True: this model was loaded from a LoRA checkpoint whose LoRA is merged into the "
            "backbone's weights, which an adapter-only save would drop; save it in full (adapter_only=False)."
        )
    if adapter_only is None:
        adapter_only = not merged and not model.backbone_is_trained() and bool(model.config.base_model_name_or_path)
    if adapter_only and not model.config.base_model_name_or_path:
        raise ValueError(
            "`adapter_only=True` needs `config.base_model_name_or_path` (the backbone's Hub id or path) so that "
            f"the adapter can find its backbone again, but it is {model.config.base_model_name_or_path!r}; set it, "
            "or save in full."
        )
    # The backbone's own config (saved inside ours as `base_config`) names the folder it was loaded from;
    # write the name this checkpoint records instead (a Hub id when known), never a second, local one.
    with recorded_backbone_name(model.config):
        if not adapter_only:
            if is_main_process:
                _remove(save_directory, (ADAPTER_WEIGHTS_NAME,))
            with _remote_code_exported_by_hf_rmt(model, save_directory, is_main_process):
                PreTrainedModel.save_pretrained(
                    model, save_directory, is_main_process=is_main_process, state_dict=state_dict, **save_kwargs
                )
        elif is_main_process:
            os.makedirs(save_directory, exist_ok=True)
            _remove(save_directory, FULL_WEIGHTS_PREFIXES)
            tensors = {k: v.detach().contiguous().cpu() for k, v in model.adapter_state_dict(state_dict).items()}
            model.config.architectures = [type(model).__name__]
            if getattr(model, "_auto_class", None) is not None:
                # Remote code (`register_for_auto_class`): copy the modeling files and set `auto_map`, as
                # transformers' own save_pretrained does for full checkpoints.
                save_remote_code(model, save_directory)
            model.config.save_pretrained(save_directory)
            save_file(tensors, os.path.join(save_directory, ADAPTER_WEIGHTS_NAME), metadata={"format": "pt"})
            # Trainer resumes only from model.safetensors, its index or peft files: an index whose weight map points
            # the adapter tensors at the adapter file lets a plain `Trainer(resume_from_checkpoint=...)` load them
            # (`load_sharded_checkpoint(strict=False)`; the backbone stays as loaded). from_pretrained ignores it.
            index = {
                "metadata": {"format": "hf_rmt_adapter"},
                "weight_map": dict.fromkeys(tensors, ADAPTER_WEIGHTS_NAME),
            }
            with open(os.path.join(save_directory, "model.safetensors.index.json"), "w") as handle:
                json.dump(index, handle, indent=2)
            logger.info(f"Adapter-only hf_rmt checkpoint ({len(tensors)} tensors) saved in {save_directory}")
    return adapter_only


def _remove(directory: str | os.PathLike, prefixes: tuple[str, ...]) -> None:
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.startswith(prefixes):
            os.remove(os.path.join(directory, name))


__all__ = [
    "ADAPTER_WEIGHTS_NAME",
    "FULL_WEIGHTS_PREFIXES",
    "LORA_WEIGHTS_NAME",
    "adapter_state_dict",
    "recorded_backbone_name",
    "write_checkpoint",
]
