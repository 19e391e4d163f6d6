# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Loading hf_rmt checkpoints: full, adapter-only or LoRA + memory, from a folder or a Hub repo.

Each loads through the Auto classes with no missing or unexpected keys: transformers only warns about those and
silently re-initialises weights (see shared reference, hf-integration section 1.4), so hf_rmt raises instead.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from safetensors.torch import load_file
from transformers import AutoConfig
from transformers.utils.hub import cached_file

from ..mapping import task_entry_of_class
from ..utils.validation import is_rmt_config
from .adapter_backbone import adapter_backbone
from .save import ADAPTER_WEIGHTS_NAME, LORA_WEIGHTS_NAME


_HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "proxies", "revision", "subfolder")


def load_checkpoint(
    cls: type,
    pretrained_model_name_or_path: str | os.PathLike,
    model_args: tuple,
    backbone: Any,
    kwargs: dict[str, Any],
    load_full: Any,
):
    """
    Loads an hf_rmt checkpoint, full or adapter-only, from a directory or a Hub repo.

    An adapter-only checkpoint loads its backbone from `config.base_model_name_or_path` at
    `config.base_model_revision` (a Hub id with an installed offline copy, see `PACKAGED_BACKBONES`, loads from
    that copy); `dtype`, `attn_implementation`, `device_map` and the Hub options are passed on. Or it takes the
    already loaded `backbone`, as peft's `PeftModel.from_pretrained(base_model, adapter)` does. Its backbone
    stays frozen (memory and heads trainable), so that saving again writes an adapter.

    Args:
        cls (`type`): The hf_rmt class to load (`from_pretrained`'s class).
        pretrained_model_name_or_path (`str` or `os.PathLike`): The checkpoint's directory or Hub repo id.
        backbone (`PreTrainedModel`, *optional*): For adapter-only checkpoints: the backbone to attach the adapter
            to instead of loading `config.base_model_name_or_path`, e.g. a local copy of that Hub model when
            offline. It must be the adapter's kind of model (e.g. `*ForSequenceClassification` for
            `RMTForSequenceClassification`) and match the adapter's backbone snapshot (`config.base_config`:
            model type, hidden size, layers, heads, vocabulary, positions). It is used in place, not copied: the
            adapter's memory and heads (`modules_to_save`, with their label names) are loaded into it and it is
            frozen, as peft does with its base model. The outputs are the same, bit for bit, as loading the
            adapter with its backbone from `config.base_model_name_or_path`. Through the Auto classes
            (`AutoModelForSequenceClassification.from_pretrained(adapter, backbone=model)`), transformers deep-copies
            every keyword argument once before calling hf_rmt (`auto_factory`: `copy.deepcopy(kwargs)`), so for a
            large backbone call the hf_rmt class directly (`RMTForSequenceClassification.from_pretrained(...)`),
            which does not copy it. Refused for full checkpoints, whose own (trained) backbone weights would
            replace it.
        model_args (`tuple`): Positional arguments for transformers' `from_pretrained` (full checkpoints).
        load_full (`Callable`): transformers' `from_pretrained` for the class, which loads full checkpoints.
        kwargs: As transformers' `from_pretrained` (`dtype`, `attn_implementation`, `device_map`, `revision`,
            `token`, `cache_dir`, `local_files_only`, ...).

    Raises:
        ValueError: the directory or repo is not an hf_rmt checkpoint, holds another hf_rmt class (e.g. a causal
            LM loaded with `AutoModelForSequenceClassification`), its weights do not match the model, or
            `backbone` was given for a full checkpoint or does not match the adapter (both sides are named).
        OSError: the backbone of an adapter cannot be found (its id is named).
    """
    path = str(pretrained_model_name_or_path)
    hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
    config = kwargs.pop("config", None)
    if config is None:
        config = _load_rmt_config(path, hub_kwargs)
    elif not is_rmt_config(config):
        # By `model_type`, not `isinstance`: with remote code (`trust_remote_code=True`), transformers may load the
        # config class and the modeling code as different module copies, and an `isinstance` across them fails.
        raise ValueError(f"{path} is not an hf_rmt checkpoint: its config is a {type(config).__name__}.")
    check_architecture(cls, config, path)

    adapter_file = None
    # A full save removes any adapter file, so an adapter file without model.safetensors means adapter-only (a
    # Trainer checkpoint may also hold an index that maps the adapter tensors, for resuming).
    if _find(path, "config.json", hub_kwargs) is not None and _find(path, "model.safetensors", hub_kwargs) is None:
        adapter_file = _find(path, ADAPTER_WEIGHTS_NAME, hub_kwargs)
    if adapter_file is None and _find(path, "model.safetensors", hub_kwargs) is None:
        lora_file = _find(path, LORA_WEIGHTS_NAME, hub_kwargs)
        if lora_file is not None and _find(path, "adapter_config.json", hub_kwargs) is not None:
            return load_lora(cls, path, config, lora_file, kwargs, backbone)
    if adapter_file is None:
        if backbone is not None:
            # Refused rather than ignored: the checkpoint's backbone weights were trained and would silently
            # replace the given backbone, so a caller expecting their backbone (another revision, dtype or
            # device) to be used would get something else.
            raise ValueError(
                f"{path} is a full hf_rmt checkpoint: it holds its own (trained) backbone weights, which would "
                "replace the given `backbone`. Load it without `backbone=`; `backbone=` is for adapter-only "
                f"checkpoints ({ADAPTER_WEIGHTS_NAME})."
            )
        output_loading_info = kwargs.pop("output_loading_info", False)
        model, info = load_full(
            pretrained_model_name_or_path, *model_args, config=config, output_loading_info=True, **kwargs
        )
        _raise_on_key_mismatch(path, info.get("missing_keys"), info.get("unexpected_keys"))
        return (model, info) if output_loading_info else model
    return load_adapter(cls, path, config, adapter_file, kwargs, backbone)


def check_architecture(cls: type, config: Any, path: str) -> None:
    """Refuses a checkpoint of another hf_rmt class (e.g. a causal LM loaded with the sequence-classification class),
    naming the class and the Auto class that load it."""
    saved = (config.architectures or [None])[0]
    if saved is None or saved == cls.__name__ or cls.__name__ == "RMTPreTrainedModel":
        return
    entry = task_entry_of_class(saved)
    if entry is not None:
        raise ValueError(
            f"{path} holds an {saved} checkpoint, which {cls.__name__} cannot load without re-initialising "
            f"weights (its backbone has another structure). Load it with {entry.auto_class.__name__}.from_pretrained "
            f"or {saved}.from_pretrained."
        )


def load_adapter(cls: type, path: str, config: Any, adapter_file: str, kwargs: dict[str, Any], backbone: Any = None):
    """An adapter-only checkpoint: the backbone (given or loaded by its recorded id), then the adapter's tensors (memory
    and `modules_to_save` heads) copied in; every expected tensor must be there and nothing else. Frozen, eval mode."""
    tensors = load_file(adapter_file)
    model = cls(config, backbone=adapter_backbone(cls, path, config, tensors, kwargs, backbone, "adapter"))
    expected = set(model.adapter_state_dict())
    _raise_on_key_mismatch(path, sorted(expected - set(tensors)), sorted(set(tensors) - expected))
    own = model.state_dict()
    with torch.no_grad():
        for key, value in tensors.items():
            own[key].copy_(value.to(own[key].dtype))
    model.set_trainable(train_backbone=False)
    model.eval()
    return model


def load_lora(cls: type, path: str, config: Any, lora_file: str, kwargs: dict[str, Any], backbone: Any = None):
    """A LoRA + memory checkpoint (`hf-rmt train`'s default): peft's adapter (`adapter_config.json`,
    `adapter_model.safetensors`: LoRA, memory and heads) beside the hf_rmt config. The backbone is loaded (or
    given) as for an adapter-only checkpoint, peft attaches the adapter, and LoRA is merged into the backbone's
    weights: the result is a plain hf_rmt model, whose backbone then differs from `base_model_name_or_path`, so
    that it saves in full (an adapter-only save would drop the merged LoRA)."""
    from peft import PeftModel  # noqa: PLC0415  (peft is only needed for LoRA)

    # peft's key names (`base_model.model.<module>`) in hf_rmt's adapter terms; LoRA factors are not module weights.
    tensors = {
        key[len("base_model.model.") :]: value
        for key, value in load_file(lora_file).items()
        if key.startswith("base_model.model.") and ".lora_" not in key
    }
    model = cls(config, backbone=adapter_backbone(cls, path, config, tensors, kwargs, backbone, "LoRA checkpoint"))
    hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
    model = PeftModel.from_pretrained(model, path, **hub_kwargs).merge_and_unload()
    model._merged_lora = True
    model.set_trainable(train_backbone=False)
    model.eval()
    return model


def _load_rmt_config(path: str, hub_kwargs: dict[str, Any]):
    try:
        config = AutoConfig.from_pretrained(path, **hub_kwargs)
    except OSError as error:
        if path in str(error):
            raise
        # e.g. offline with nothing cached: transformers' message names the endpoint, not the repo.
        revision = f" at revision {hub_kwargs['revision']!r}" if hub_kwargs.get("revision") else ""
        raise OSError(f"Could not load the config of {path!r}{revision}: {error}") from error
    if not is_rmt_config(config):  # not `isinstance`: remote code may load another copy of the class
        raise ValueError(
            f"{path} is not an hf_rmt checkpoint: its config has model_type {getattr(config, 'model_type', None)!r}, "
            "not 'rmt'. Wrap a plain transformers model with `hf_rmt.get_rmt_model(model, RMTConfig(...))`."
        )
    return config


def _find(path: str, filename: str, hub_kwargs: dict[str, Any]) -> str | None:
    if os.path.isdir(path):
        subfolder = hub_kwargs.get("subfolder") or ""
        candidate = os.path.join(path, subfolder, filename)
        return candidate if os.path.isfile(candidate) else None
    return cached_file(
        path,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **hub_kwargs,
    )


def _raise_on_key_mismatch(path: str, missing: Any, unexpected: Any) -> None:
    missing, unexpected = sorted(missing or []), sorted(unexpected or [])
    if missing or unexpected:
        raise ValueError(
            f"The weights at {path} do not match the model (transformers would re-initialise the missing ones "
            f"silently): missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, unexpected keys "
            f"{unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}."
        )


__all__ = ["check_architecture", "load_adapter", "load_checkpoint", "load_lora"]
