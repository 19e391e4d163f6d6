# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Saving and loading hf_rmt checkpoints: full (backbone + memory) or adapter-only (memory + new heads).

- Full: `config.json` + `model.safetensors`, written and read by transformers itself (sharding, tied weights, dtype).
- Adapter-only (the default when the backbone was not trained and can be found again): `config.json` (the RMT
  config, with the backbone's id, revision and config snapshot) + `rmt_adapter.safetensors` holding the memory and
  the `modules_to_save` heads. Loading fetches the backbone by its own id and revision, never the adapter's.

Either loads through the Auto classes with no missing or unexpected keys: transformers only warns about those and
silently re-initialises weights (see shared reference, hf-integration section 1.4), so hf_rmt raises instead.

Every save writes a model card (`README.md`, see `model_card.py`). `push_to_hub` saves into a temporary directory
(on top of the repo's current card, so user-written sections survive) and uploads it in one commit, with the
tokenizer when one is given; it also pushes a peft model (LoRA + memory) wrapping an hf_rmt model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import torch
from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RevisionNotFoundError
from safetensors.torch import load_file, save_file
from transformers.dynamic_module_utils import custom_object_save
from transformers.utils import logging
from transformers.utils.hub import cached_file, hf_api

from .model_card import (
    TEMPLATE_PATH,
    _check_eval_results,
    _check_training_info,
    _hub_id,
    create_or_update_model_card,
)


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
# save_pretrained(push_to_hub=True, ...) kwargs that describe the upload, not the files.
_PUSH_KWARGS = ("repo_id", "commit_message", "commit_description", "private", "token", "create_pr", "revision", "tags")


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
                custom_object_save(self, save_directory, config=self.config)
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
        # A full save removes any adapter file, so an adapter file without model.safetensors means adapter-only (a
        # Trainer checkpoint may also hold an index that maps the adapter tensors, for resuming).
        if _find(path, "config.json", hub_kwargs) is not None and _find(path, "model.safetensors", hub_kwargs) is None:
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
            # The adapter's heads may differ in shape from the backbone checkpoint's (e.g. a new classifier with another
            # number of labels): accept mismatches here, then require every one to be overwritten by the adapter.
            backbone, info = cls._backbone_auto_class.from_pretrained(
                base_id,
                revision=config.base_model_revision,
                config=base_config,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
                **load_kwargs,
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
        replaced = {key[len("backbone.") :] for key in tensors if key.startswith("backbone.")}
        mismatched = {
            item[0] if isinstance(item, (tuple, list)) else item for item in info.get("mismatched_keys") or []
        }
        unfilled = sorted(k for k in mismatched | set(info.get("missing_keys") or []) if k not in replaced)
        if unfilled:
            raise ValueError(
                f"The backbone {base_id!r} of the hf_rmt adapter at {path} does not match the adapter's backbone "
                f"configuration: {unfilled[:10]} would be left randomly initialised."
            )
        own = model.state_dict()
        with torch.no_grad():
            for key, value in tensors.items():
                own[key].copy_(value.to(own[key].dtype))
        model.set_trainable(train_backbone=False)
        model.eval()
        return model


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


__all__ = ["ADAPTER_WEIGHTS_NAME", "RMTSavingMixin", "push_to_hub"]
