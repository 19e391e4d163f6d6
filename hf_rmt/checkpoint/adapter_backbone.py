# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The backbone an adapter attaches to: given by the caller and checked against the adapter, or loaded by the id the
adapter records (from an installed copy when there is one), with transformers' load report kept to what holds.
"""

from __future__ import annotations

import contextlib
import logging as std_logging
import threading
from collections.abc import Iterator
from typing import Any

import torch
from transformers import PreTrainedModel
from transformers.utils import logging

from ..core.backbone import backbone_task
from ..utils.hub_ids import installed_copy


logger = logging.get_logger(__name__)


# from_pretrained kwargs that describe how to load (not where from): passed on to the backbone of an adapter.
_BACKBONE_LOAD_KWARGS = (
    "dtype",
    "torch_dtype",
    "attn_implementation",
    "device_map",
    "cache_dir",
    "force_download",
    "local_files_only",
    "token",
    "proxies",
    "trust_remote_code",
)


# How to load a backbone: meaningless with `backbone=` (load that backbone with them instead).
_LOAD_ONLY_KWARGS = ("dtype", "torch_dtype", "attn_implementation", "device_map", "quantization_config")
# Backbone config fields that must agree between an adapter's snapshot and a backbone given to `from_pretrained`.
_STRUCTURE_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
)


class _HeldLoadReports(std_logging.Filter):
    """Holds back the "LOAD REPORT" records transformers logs from this thread (other threads are not touched)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.records: list[std_logging.LogRecord] = []

    def filter(self, record: std_logging.LogRecord) -> bool:
        if record.thread == self.thread and "LOAD REPORT" in str(record.msg):
            self.records.append(record)
            return False
        return True


# transformers 5.x logs the report through modeling_utils' logger (log_state_dict_report's default is its own).
_REPORT_LOGGERS = ("transformers.modeling_utils", "transformers.utils.loading_report")


@contextlib.contextmanager
def _hold_load_reports() -> Iterator[_HeldLoadReports]:
    held = _HeldLoadReports()
    loggers = [std_logging.getLogger(name) for name in _REPORT_LOGGERS]
    for item in loggers:
        item.addFilter(held)
    try:
        yield held
    finally:
        for item in loggers:
            item.removeFilter(held)


def adapter_backbone(
    cls: type,
    path: str,
    config: Any,
    tensors: dict[str, torch.Tensor],
    kwargs: dict[str, Any],
    backbone: Any,
    what: str,
):
    """The backbone an adapter attaches to: the given one, checked against the adapter, or the one it names."""
    if backbone is not None:
        given = sorted(k for k in _LOAD_ONLY_KWARGS if kwargs.get(k) is not None)
        if given:
            raise ValueError(
                f"{', '.join(f'`{k}`' for k in given)} describe how to load a backbone, but `backbone=` is already "
                "loaded: load the backbone with them, then pass it."
            )
        _check_given_backbone(cls, config, backbone, tensors, path)
        return backbone
    if not config.base_model_name_or_path:
        raise ValueError(
            f"The hf_rmt {what} at {path} does not name its backbone (`base_model_name_or_path`); pass the "
            "backbone it was trained on as `backbone=`."
        )
    # Backbone weights the adapter brings (its heads), relative to the backbone.
    restored = {key[len("backbone.") :] for key in tensors if key.startswith("backbone.")}
    return load_adapter_backbone(cls, path, config, restored, kwargs)


def load_adapter_backbone(cls: type, path: str, config: Any, restored: set[str], kwargs: dict[str, Any]):
    """Loads the backbone an adapter names, with transformers' load report left quiet about the weights that the
    adapter restores right after (its heads: "MISSING ... newly initialized" would be wrong for them)."""
    base_id = config.base_model_name_or_path
    revision = config.base_model_revision
    load_kwargs = {k: kwargs[k] for k in _BACKBONE_LOAD_KWARGS if k in kwargs}
    base_config = config.base_config
    if base_config is not None:
        base_config = type(base_config).from_dict(base_config.to_dict())
        if load_kwargs.get("attn_implementation"):
            base_config._attn_implementation = load_kwargs["attn_implementation"]
    source = base_id
    copy = installed_copy(base_id, revision)
    if copy is not None:
        # The same files as the Hub repo, installed by a pip package: no download, works offline.
        logger.info(f"Loading the backbone {base_id!r} of the hf_rmt adapter at {path} from its local copy {copy}")
        source = copy
    try:
        # The adapter's heads may differ in shape from the backbone checkpoint's (e.g. a new classifier with another
        # number of labels): accept mismatches here, then require every one to be overwritten by the adapter.
        with _hold_load_reports() as held:
            backbone, info = cls._backbone_auto_class.from_pretrained(
                source,
                revision=revision,
                config=base_config,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
                **load_kwargs,
            )
    except (OSError, ValueError) as error:
        for record in held.records:  # whatever transformers reported before failing
            std_logging.getLogger(record.name).handle(record)
        at = f" at revision {revision!r}" if revision else ""
        raise OSError(
            f"The hf_rmt adapter at {path} needs its backbone {base_id!r}{at}, which could not be loaded: {error}. "
            "If it is available locally, load it and pass it as `backbone=`."
        ) from error
    mismatched = {item[0] if isinstance(item, (tuple, list)) else item for item in info.get("mismatched_keys") or []}
    unfilled = sorted(k for k in mismatched | set(info.get("missing_keys") or []) if k not in restored)
    if unfilled:
        for record in held.records:  # the full report, then the error
            std_logging.getLogger(record.name).handle(record)
        raise ValueError(
            f"The backbone {base_id!r} of the hf_rmt adapter at {path} does not match the adapter's backbone "
            f"configuration: {unfilled[:10]} would be left randomly initialised."
        )
    unexpected = sorted(info.get("unexpected_keys") or [])
    if unexpected:
        # The part of transformers' report that still holds (checkpoint weights this backbone class has no use
        # for), on the logger transformers reports on, so that its verbosity settings apply as to the original.
        name = held.records[0].name if held.records else _REPORT_LOGGERS[0]
        std_logging.getLogger(name).warning(
            f"{type(backbone).__name__} LOAD REPORT from: {source} (backbone of the hf_rmt adapter at {path})\n"
            + "\n".join(f"{key} | UNEXPECTED" for key in unexpected[:50])
            + (f"\n... ({len(unexpected) - 50} more)" if len(unexpected) > 50 else "")
            + "\nThese checkpoint weights are not used by this backbone class (e.g. a pretraining head)."
        )
    return backbone


def _check_given_backbone(cls: type, config: Any, backbone: Any, tensors: dict[str, torch.Tensor], path: str) -> None:
    """Checks that a backbone passed to `from_pretrained(adapter, backbone=...)` is the one the adapter was trained
    on: the class's kind, the structure recorded in `config.base_config`, and the shapes of the heads the adapter
    replaces. Then gives it the adapter's label names (the heads it receives were trained with them)."""
    if not isinstance(backbone, PreTrainedModel):
        raise TypeError(f"`backbone` must be a transformers PreTrainedModel, got {type(backbone).__name__}.")
    task = backbone_task(backbone)
    if task != cls.task:
        auto = getattr(cls._backbone_auto_class, "__name__", "AutoModel")
        raise ValueError(
            f"The adapter at {path} is an {cls.__name__} checkpoint: `backbone` must be a {cls.task} model (as "
            f"{auto} loads it), got {type(backbone).__name__} ({task})."
        )
    snapshot = config.base_config
    name = config.base_model_name_or_path or "its backbone"
    if snapshot is not None:
        for field in _STRUCTURE_FIELDS:
            want, got = getattr(snapshot, field, None), getattr(backbone.config, field, None)
            if want is not None and got is not None and want != got:
                raise ValueError(
                    f"The backbone given to from_pretrained does not match the hf_rmt adapter at {path}: its "
                    f"{field} is {got!r} ({type(backbone).__name__}), the adapter's backbone ({name}, recorded in "
                    f"config.base_config) has {want!r}."
                )
    own = backbone.state_dict()
    for key, value in sorted(tensors.items()):
        if not key.startswith("backbone."):
            continue
        inner = key[len("backbone.") :]
        if inner in own and tuple(own[inner].shape) != tuple(value.shape):
            hint = ""
            if snapshot is not None and getattr(snapshot, "num_labels", None) is not None:
                hint = f" (the adapter was trained with num_labels={snapshot.num_labels}: load the backbone with it)"
            raise ValueError(
                f"The hf_rmt adapter at {path} replaces the backbone's `{inner}` with a tensor of shape "
                f"{tuple(value.shape)}, but the given backbone's has shape {tuple(own[inner].shape)}{hint}."
            )
    if snapshot is not None and config.modules_to_save:
        for field in ("id2label", "label2id", "problem_type"):
            if getattr(snapshot, field, None) is not None:
                setattr(backbone.config, field, getattr(snapshot, field))


__all__ = ["adapter_backbone", "load_adapter_backbone"]
