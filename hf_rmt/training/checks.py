# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Checks that turn silent training mistakes into clear errors: wrong dataset columns, resuming another model."""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

from torch import nn
from transformers.utils import logging

from ..modeling import RMTPreTrainedModel
from ..utils.validation import is_rmt_model


logger = logging.get_logger(__name__)

# RMTConfig fields that change what the weights mean: a checkpoint with other values belongs to another model.
STRUCTURAL_FIELDS = (
    "num_memory_tokens",
    "memory_type",
    "memory_dim",
    "segment_size",
    "memory_layout",
    "segment_alignment",
    "cls_token_id",
    "sep_token_id",
    "modules_to_save",
)
# Fields a run may change when it resumes (it trains differently from there on); a change is logged.
TRAINING_FIELDS = ("bptt_depth", "max_n_segments", "segment_checkpointing")
FINGERPRINT_FILE = "rmt_fingerprint.json"


def unwrap_rmt(model: nn.Module) -> RMTPreTrainedModel | None:
    """The hf_rmt model inside `model` (itself, a DDP/compiled wrapper's module, or a peft model's base), or None."""
    seen = 0
    while model is not None and seen < 8:
        if is_rmt_model(model):
            return model
        if hasattr(model, "get_base_model"):
            model = model.get_base_model()
        elif hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return None
        seen += 1
    return None


def config_fingerprint(model: nn.Module) -> dict[str, Any]:
    """What identifies an hf_rmt model for resuming: its class, backbone, and RMT configuration."""
    rmt = unwrap_rmt(model)
    if rmt is None:
        raise TypeError(f"Expected an hf_rmt model (or a peft/DDP wrapper of one), got {type(model).__name__}.")
    config, base = rmt.config, rmt.backbone.config
    fingerprint = {"class": type(rmt).__name__, "backbone_type": base.model_type}
    fingerprint["hidden_size"] = rmt.memory.weight.shape[1]
    for name in STRUCTURAL_FIELDS + TRAINING_FIELDS:
        value = getattr(config, name)
        fingerprint[name] = list(value) if isinstance(value, tuple) else value
    return fingerprint


def check_same_config(saved: dict[str, Any], model: nn.Module, source: str = "the checkpoint") -> None:
    """
    Raises a `ValueError` when `model` is not the model `saved` (a `config_fingerprint`) was taken from; logs changes of
    training-only fields (bptt_depth, max_n_segments, segment_checkpointing).
    """
    current = config_fingerprint(model)
    structural = [k for k in ("class", "backbone_type", "hidden_size", *STRUCTURAL_FIELDS) if k in saved]
    differences = [f"{k}: {saved[k]!r} in {source}, {current[k]!r} now" for k in structural if saved[k] != current[k]]
    if differences:
        raise ValueError(
            f"Cannot resume from {source}: it was written by another hf_rmt model configuration ("
            + "; ".join(differences)
            + "). Resume with the configuration it was trained with, or start a new run."
        )
    changed = [
        f"{k}: {saved[k]!r} -> {current[k]!r}" for k in TRAINING_FIELDS if k in saved and saved[k] != current[k]
    ]
    if changed:
        logger.warning(f"Resuming from {source} with changed training settings: {', '.join(changed)}.")


def write_fingerprint(model: nn.Module, directory: str) -> None:
    """Writes `rmt_fingerprint.json` (the `config_fingerprint`) into a checkpoint directory."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, FINGERPRINT_FILE), "w") as handle:
        json.dump(config_fingerprint(model), handle, indent=2, sort_keys=True)


def check_checkpoint_config(model: nn.Module, directory: str) -> None:
    """Compares the `rmt_fingerprint.json` (or the hf_rmt `config.json`) of a checkpoint directory with `model`."""
    path = os.path.join(directory, FINGERPRINT_FILE)
    if os.path.isfile(path):
        with open(path) as handle:
            saved = json.load(handle)
    else:
        config_path = os.path.join(directory, "config.json")
        if not os.path.isfile(config_path):
            return
        with open(config_path) as handle:
            config = json.load(handle)
        if config.get("model_type") != "rmt":
            return
        saved = {k: config[k] for k in STRUCTURAL_FIELDS + TRAINING_FIELDS if k in config}
    check_same_config(saved, model, source=directory)


def check_dataset_columns(dataset: Any, model: nn.Module | None = None, need_labels: bool = True) -> None:
    """
    Raises a `ValueError` naming what is missing when the samples of `dataset` lack the columns hf_rmt models need:
    `input_ids` (or `inputs_embeds`) and, for training, `labels` (`label`/`label_ids` are accepted too).

    Args:
        dataset: A `datasets.Dataset` (its `column_names` are read) or any map-style dataset of dicts (its first
            sample is read).
        model (*optional*): Named in the message with the arguments its forward takes.
        need_labels (`bool`, *optional*, defaults to `True`): Whether labels are required (training).
    """
    columns = getattr(dataset, "column_names", None)
    if columns is None:
        try:
            first = dataset[0]
        except (IndexError, KeyError, TypeError, NotImplementedError):
            return  # iterable or empty: nothing to read up front
        if not isinstance(first, dict):
            raise ValueError(
                f"hf_rmt training needs samples that are dicts with `input_ids` and `labels`, got {type(first).__name__}."
            )
        columns = list(first)
    missing = []
    if "input_ids" not in columns and "inputs_embeds" not in columns:
        missing.append("input_ids")
    if need_labels and not any(name in columns for name in ("labels", "label", "label_ids")):
        missing.append("labels")
    if not missing:
        return
    takes = ""
    rmt = unwrap_rmt(model) if model is not None else None
    if rmt is not None:
        params = [p for p in inspect.signature(rmt.forward).parameters if p not in ("kwargs", "return_dict")]
        takes = f" {type(rmt).__name__}.forward takes {params}."
    raise ValueError(
        f"The dataset has columns {sorted(columns)} but lacks {missing}, which the model needs.{takes} Tokenize the "
        "text into `input_ids` (no special tokens: the model adds them per segment) and name the targets `labels`."
    )


def prepare_for_trainer(model: nn.Module) -> nn.Module:
    """
    Tells `Trainer` how the loss of an hf_rmt model is normalised; returns `model`.

    `Trainer` assumes that a model whose `forward` takes `**kwargs` normalises its loss by the `num_items_in_batch` it
    passes, and then neither divides the loss by the gradient-accumulation steps nor lets DDP's averaging stand (it
    multiplies the loss by the number of processes). Only `RMTForCausalLM` uses `num_items_in_batch`; for the other
    hf_rmt models (a mean loss per batch) that gives gradients `gradient_accumulation_steps x num_processes` times too
    large and logs a loss as much too large. This sets `accepts_loss_kwargs` on the model (False for those classes,
    True for `RMTForCausalLM`), which `Trainer` reads first. A no-op when the class declares it (hf_rmt's classes do
    from this version on; the helper keeps scripts working with models built by older versions).
    """
    rmt = unwrap_rmt(model)
    if rmt is None:
        raise TypeError(f"Expected an hf_rmt model (or a peft/DDP wrapper of one), got {type(model).__name__}.")
    if not hasattr(type(rmt), "accepts_loss_kwargs"):
        forward = inspect.signature(type(rmt).forward).parameters
        rmt.accepts_loss_kwargs = "num_items_in_batch" in forward
    return model


def disable_dropout(model: nn.Module) -> None:
    """
    Sets every dropout probability in `model` to 0, for exact comparisons of runs (one GPU against several: ranks
    share the seed, so a global batch split over two GPUs draws other dropout masks than on one).

    Covers `nn.Dropout` modules, and the float probabilities that attention implementations read from module
    attributes and configs (BERT's SDPA path reads `dropout_prob`, not an `nn.Dropout`).

    Args:
        model (`nn.Module`): The model, changed in place.
    """
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for owner in (module, getattr(module, "config", None)):
            if owner is None:
                continue
            for name, value in list(vars(owner).items()):
                if "dropout" in name and isinstance(value, float):
                    setattr(owner, name, 0.0)


__all__ = [
    "FINGERPRINT_FILE",
    "STRUCTURAL_FIELDS",
    "TRAINING_FIELDS",
    "check_checkpoint_config",
    "check_dataset_columns",
    "check_same_config",
    "config_fingerprint",
    "disable_dropout",
    "prepare_for_trainer",
    "unwrap_rmt",
    "write_fingerprint",
]
