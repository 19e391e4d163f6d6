# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Uploading hf_rmt checkpoints to the Hub in one commit.

`push_to_hub` saves into a temporary directory (on top of the repo's current card, so user-written sections survive)
and uploads it in one commit, with the tokenizer when one is given; it also pushes a peft model (LoRA + memory)
wrapping an hf_rmt model. Weight files the new checkpoint replaces are deleted in the same commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from huggingface_hub import CommitInfo
from transformers.utils import logging
from transformers.utils.hub import hf_api

from ..utils.hub_ids import as_hub_id
from .card_inputs import check_eval_results, check_training_info, set_model_card_info
from .model_card import create_or_update_model_card, unwrap_rmt_and_peft
from .save import save_checkpoint
from .upload import create_hub_repo, download_card, file_times, upload_files


logger = logging.get_logger(__name__)


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
    rmt, peft_model = unwrap_rmt_and_peft(model)
    if peft_model is None:
        set_model_card_info(rmt, training_info, eval_results, card_data)
        card_info = getattr(rmt, "_model_card_info", None) or {}
    else:
        check_training_info(training_info)
        check_eval_results(eval_results)
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
    repo_id = create_hub_repo(api, repo_id, options)
    card = {"repo_id": repo_id, "revision": revision, "tags": [*(rmt.model_tags or []), *(tags or [])]}
    backbone = rmt.config.base_model_name_or_path
    if (adapter_only or peft_model is not None) and backbone and as_hub_id(backbone) is None:
        logger.warning(
            f"The backbone of this adapter is the local path {backbone!r}: others cannot load it from {repo_id}. "
            "Set `config.base_model_name_or_path` to the backbone's Hub id, or push in full (`adapter_only=False`)."
        )
    with tempfile.TemporaryDirectory() as work_dir:
        download_card(api, repo_id, options, work_dir)
        if tokenizer is not None:
            tokenizer.save_pretrained(work_dir)
        if peft_model is None:
            save_checkpoint(rmt, work_dir, adapter_only, True, None, True, {"max_shard_size": max_shard_size}, card)
        else:
            # Our card first so that peft updates it rather than starting from the Hub's long default template;
            # then again, because peft rewrites `tags` and may set `base_model` to the hf_rmt model's empty name.
            create_or_update_model_card(peft_model, work_dir, **card, **card_info)
            peft_model.save_pretrained(work_dir)
            create_or_update_model_card(peft_model, work_dir, **card, **card_info)
        return upload_files(api, work_dir, sorted(file_times(work_dir)), repo_id, options, local_dir=None)


__all__ = ["push_to_hub"]
