# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`save_pretrained` of the hf_rmt models: the checkpoint (`hf_rmt.checkpoint`), its model card, and optionally the
upload of what was written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from transformers.utils import logging
from transformers.utils.hub import hf_api

from ..checkpoint.save import write_checkpoint
from .card_inputs import set_model_card_info
from .model_card import TEMPLATE_PATH, create_or_update_model_card
from .upload import create_hub_repo, download_card, file_times, upload_files


logger = logging.get_logger(__name__)


# save_pretrained(push_to_hub=True, ...) kwargs that describe the upload, not the files.
_PUSH_KWARGS = ("repo_id", "commit_message", "commit_description", "private", "token", "create_pr", "revision", "tags")


def save_pretrained(
    model: Any,
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
        state_dict (`dict`, *optional*): State dict to save instead of `model.state_dict()` (Trainer passes one).
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
    set_model_card_info(model, training_info, eval_results, card_data)
    push = {key: kwargs.pop(key) for key in _PUSH_KWARGS if key in kwargs}
    if not (push_to_hub and is_main_process):
        save_checkpoint(model, save_directory, adapter_only, is_main_process, state_dict, model_card, kwargs)
        return
    save_directory = str(save_directory)
    api = hf_api()
    os.makedirs(save_directory, exist_ok=True)
    try:
        repo_id = push.get("repo_id") or os.path.basename(os.path.normpath(save_directory))
        repo_id = create_hub_repo(api, repo_id, push, local_dir=save_directory)
        if model_card and not os.path.isfile(os.path.join(save_directory, "README.md")):
            download_card(api, repo_id, push, save_directory, local_dir=save_directory)
    except OSError:
        # Keep the work: save locally, then report why the push failed (the message says where the files are).
        save_checkpoint(model, save_directory, adapter_only, True, state_dict, model_card, kwargs)
        raise
    before = file_times(save_directory)
    card = {"repo_id": repo_id, "revision": push.get("revision"), "tags": push.get("tags")}
    save_checkpoint(model, save_directory, adapter_only, True, state_dict, model_card, kwargs, card)
    changed = [path for path, mtime in file_times(save_directory).items() if before.get(path) != mtime]
    upload_files(api, save_directory, changed, repo_id, push, local_dir=save_directory)


def save_checkpoint(
    model: Any,
    save_directory: str | os.PathLike,
    adapter_only: bool | None,
    is_main_process: bool,
    state_dict: dict[str, torch.Tensor] | None,
    model_card: bool,
    save_kwargs: dict[str, Any],
    card: dict[str, Any] | None = None,
) -> None:
    """Writes the checkpoint (`write_checkpoint`) and, with `model_card`, the card; `card` holds the repo id,
    revision and tags a push gives the card."""
    adapter_only = write_checkpoint(model, save_directory, adapter_only, is_main_process, state_dict, save_kwargs)
    if is_main_process and model_card and not os.path.isfile(TEMPLATE_PATH):
        # Remote-code copies of these modules (trust_remote_code=True) come without the card template.
        logger.warning_once(f"No model card written: the template {TEMPLATE_PATH} is missing.")
    elif is_main_process and model_card:
        card = dict(card or {})
        card["tags"] = [*(model.model_tags or []), *(card.get("tags") or [])]
        create_or_update_model_card(
            model,
            save_directory,
            adapter_only=adapter_only,
            **card,
            **(getattr(model, "_model_card_info", None) or {}),
        )


__all__ = ["save_checkpoint", "save_pretrained"]
