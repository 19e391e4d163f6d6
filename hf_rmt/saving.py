# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Saving and loading hf_rmt checkpoints: full (backbone + memory) or adapter-only (memory + new heads).

- Full: `config.json` + `model.safetensors`, written and read by transformers itself (sharding, tied weights, dtype).
- Adapter-only (the default when the backbone was not trained and can be found again): `config.json` (the RMT
  config, with the backbone's id, revision and config snapshot) + `rmt_adapter.safetensors` holding the memory and
  the `modules_to_save` heads. Loading fetches the backbone by its own id and revision, never the adapter's.

Either loads through the Auto classes with no missing or unexpected keys: transformers only warns about those and
silently re-initialises weights (see shared reference, hf-integration section 1.4), so hf_rmt raises instead.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers.utils import logging
from transformers.utils.hub import cached_file


logger = logging.get_logger(__name__)

ADAPTER_WEIGHTS_NAME = "rmt_adapter.safetensors"
FULL_WEIGHTS_PREFIXES = ("model.safetensors", "model-0", "model.safetensors.index.json")
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
_HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "proxies", "revision", "subfolder")


class RMTSavingMixin:
    """`save_pretrained`/`from_pretrained` for hf_rmt models, full or adapter-only."""

    def adapter_state_dict(self, state_dict: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The tensors of an adapter-only checkpoint: the memory and the `modules_to_save` heads."""
        state_dict = state_dict if state_dict is not None else self.state_dict()
        prefixes = ("memory.",) + tuple(f"backbone.{name}." for name in self.config.modules_to_save or [])
        return {k: v for k, v in state_dict.items() if k.startswith(prefixes)}

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        adapter_only: bool | None = None,
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        push_to_hub: bool = False,
        **kwargs: Any,
    ) -> None:
        """
        Saves the model, in full or adapter-only.

        Args:
            save_directory (`str` or `os.PathLike`): Directory to write to (created if needed).
            adapter_only (`bool`, *optional*): `True` writes only the memory and new heads (the backbone is loaded
                from `config.base_model_name_or_path` at `config.base_model_revision`); `False` writes everything.
                `None` (default) picks adapter-only when no backbone parameter is trainable and the backbone has an
                id or path to be loaded from, full otherwise.
            is_main_process (`bool`, *optional*, defaults to `True`): Only the main process writes (distributed).
            state_dict (`dict`, *optional*): State dict to save instead of `self.state_dict()` (Trainer passes one).
            push_to_hub (`bool`, *optional*, defaults to `False`): Also upload to the Hub (`repo_id=` in kwargs).
            kwargs: Passed to transformers' `save_pretrained` (full) or `push_to_hub`.
        """
        if adapter_only is None:
            adapter_only = getattr(self, "_push_adapter_only", None)
        if adapter_only is None:
            adapter_only = not self.backbone_is_trained() and bool(self.config.base_model_name_or_path)
        if adapter_only and not self.config.base_model_name_or_path:
            raise ValueError(
                "`adapter_only=True` needs `config.base_model_name_or_path` (the backbone's Hub id or path) so that "
                "the adapter can find its backbone again; set it, or save in full."
            )
        if not adapter_only:
            if is_main_process:
                _remove(save_directory, (ADAPTER_WEIGHTS_NAME,))
            super().save_pretrained(
                save_directory,
                is_main_process=is_main_process,
                state_dict=state_dict,
                push_to_hub=push_to_hub,
                **kwargs,
            )
            return
        if is_main_process:
            os.makedirs(save_directory, exist_ok=True)
            _remove(save_directory, FULL_WEIGHTS_PREFIXES)
            tensors = {k: v.detach().contiguous().cpu() for k, v in self.adapter_state_dict(state_dict).items()}
            self.config.architectures = [type(self).__name__]
            self.config.save_pretrained(save_directory)
            save_file(tensors, os.path.join(save_directory, ADAPTER_WEIGHTS_NAME), metadata={"format": "pt"})
            logger.info(f"Adapter-only hf_rmt checkpoint ({len(tensors)} tensors) saved in {save_directory}")
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(str(save_directory))))
            self.push_to_hub(repo_id, adapter_only=True, **kwargs)

    def push_to_hub(self, repo_id: str, *args: Any, adapter_only: bool | None = None, **kwargs: Any):
        """Uploads the model (as `save_pretrained` writes it, full or adapter-only) to the Hub repo `repo_id`."""
        self._push_adapter_only = adapter_only
        try:
            return super().push_to_hub(repo_id, *args, **kwargs)
        finally:
            self._push_adapter_only = None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any):
        """
        Loads an hf_rmt checkpoint, full or adapter-only, from a directory or a Hub repo.

        An adapter-only checkpoint loads its backbone from `config.base_model_name_or_path` at
        `config.base_model_revision`; `dtype`, `attn_implementation`, `device_map` and the Hub options are passed on.
        Its backbone stays frozen (memory and heads trainable), so that saving again writes an adapter.

        Raises:
            ValueError: the directory or repo is not an hf_rmt checkpoint, holds another hf_rmt class (e.g. a causal
                LM loaded with `AutoModelForSequenceClassification`), or its weights do not match the model.
            OSError: the backbone of an adapter cannot be found (its id is named).
        """
        from .config import RMTConfig  # noqa: PLC0415  (kept local: remote-code copies resolve it relatively)

        path = str(pretrained_model_name_or_path)
        hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
        config = kwargs.pop("config", None)
        if config is None:
            config = _load_rmt_config(RMTConfig, path, hub_kwargs)
        elif not isinstance(config, RMTConfig):
            raise ValueError(f"{path} is not an hf_rmt checkpoint: its config is a {type(config).__name__}.")
        cls._check_architecture(config, path)

        adapter_file = None
        if _find(path, "config.json", hub_kwargs) is not None and _find(path, "model.safetensors", hub_kwargs) is None:
            if _find(path, "model.safetensors.index.json", hub_kwargs) is None:
                adapter_file = _find(path, ADAPTER_WEIGHTS_NAME, hub_kwargs)
        if adapter_file is None:
            output_loading_info = kwargs.pop("output_loading_info", False)
            model, info = super().from_pretrained(
                pretrained_model_name_or_path, *model_args, config=config, output_loading_info=True, **kwargs
            )
            _raise_on_key_mismatch(path, info.get("missing_keys"), info.get("unexpected_keys"))
            return (model, info) if output_loading_info else model
        return cls._from_adapter(path, config, adapter_file, kwargs)

    @classmethod
    def _check_architecture(cls, config: Any, path: str) -> None:
        saved = (config.architectures or [None])[0]
        if saved is None or saved == cls.__name__ or cls.__name__ == "RMTPreTrainedModel":
            return
        from .modeling_rmt import TASK_TO_CLASS  # noqa: PLC0415

        auto = {
            "RMTModel": "AutoModel",
            "RMTForSequenceClassification": "AutoModelForSequenceClassification",
            "RMTForTokenClassification": "AutoModelForTokenClassification",
            "RMTForMaskedLM": "AutoModelForMaskedLM",
            "RMTForCausalLM": "AutoModelForCausalLM",
        }
        if saved in {c.__name__ for c in TASK_TO_CLASS.values()}:
            raise ValueError(
                f"{path} holds an {saved} checkpoint, which {cls.__name__} cannot load without re-initialising "
                f"weights (its backbone has another structure). Load it with {auto.get(saved, saved)}.from_pretrained "
                f"or {saved}.from_pretrained."
            )

    @classmethod
    def _from_adapter(cls, path: str, config: Any, adapter_file: str, kwargs: dict[str, Any]):
        base_id = config.base_model_name_or_path
        if not base_id:
            raise ValueError(f"The hf_rmt adapter at {path} does not name its backbone (`base_model_name_or_path`).")
        load_kwargs = {k: kwargs[k] for k in _BACKBONE_LOAD_KWARGS if k in kwargs}
        base_config = config.base_config
        if base_config is not None:
            base_config = type(base_config).from_dict(base_config.to_dict())
            if load_kwargs.get("attn_implementation"):
                base_config._attn_implementation = load_kwargs["attn_implementation"]
        try:
            backbone = cls._backbone_auto_class.from_pretrained(
                base_id, revision=config.base_model_revision, config=base_config, **load_kwargs
            )
        except (OSError, ValueError) as error:
            revision = f" at revision {config.base_model_revision!r}" if config.base_model_revision else ""
            raise OSError(
                f"The hf_rmt adapter at {path} needs its backbone {base_id!r}{revision}, which could not be loaded: "
                f"{error}"
            ) from error
        model = cls(config, backbone=backbone)
        expected = set(model.adapter_state_dict())
        tensors = load_file(adapter_file)
        _raise_on_key_mismatch(path, sorted(expected - set(tensors)), sorted(set(tensors) - expected))
        own = model.state_dict()
        with torch.no_grad():
            for key, value in tensors.items():
                own[key].copy_(value.to(own[key].dtype))
        model.set_trainable(train_backbone=False)
        model.eval()
        return model


def _load_rmt_config(config_class: type, path: str, hub_kwargs: dict[str, Any]):
    from transformers import AutoConfig  # noqa: PLC0415

    config = AutoConfig.from_pretrained(path, **hub_kwargs)
    if not isinstance(config, config_class):
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


def _remove(directory: str | os.PathLike, prefixes: tuple[str, ...]) -> None:
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.startswith(prefixes):
            os.remove(os.path.join(directory, name))


def _raise_on_key_mismatch(path: str, missing: Any, unexpected: Any) -> None:
    missing, unexpected = sorted(missing or []), sorted(unexpected or [])
    if missing or unexpected:
        raise ValueError(
            f"The weights at {path} do not match the model (transformers would re-initialise the missing ones "
            f"silently): missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, unexpected keys "
            f"{unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}."
        )


__all__ = ["ADAPTER_WEIGHTS_NAME", "RMTSavingMixin"]
