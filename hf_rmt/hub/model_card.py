# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Model cards of hf_rmt checkpoints (`README.md`): what the checkpoint is, how to load it, how it was trained and how
it does by input length. Generated blocks are marked, so a card updated later keeps everything written outside them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from huggingface_hub import ModelCard
from transformers.utils import logging

from ..config import RMTConfig
from ..core.layouts import get_layout
from ..mapping import task_entry_of_class
from ..utils.hub_ids import as_hub_id, public_backbone_id
from ..utils.validation import is_rmt_model
from .card_evaluation import evaluation_section, model_index_results
from .card_inputs import check_eval_results, check_training_info
from .card_render import (
    BASE_MODEL_RELATIONS,
    GENERATED_PLOT_NAME,
    LIBRARY_NAME,
    RMT_TAGS,
    TEMPLATE_PATH,
    USERNAME_PLACEHOLDER,
    as_list,
    merge_card_data,
    merge_lists,
    render_card,
    splice_generated_blocks,
)
from .card_sections import (
    backbone_link,
    card_max_positions,
    card_title,
    checkpoint_description,
    package_version,
    rmt_settings,
    training_section,
    usage_snippet,
)


logger = logging.get_logger(__name__)


# The relations the Hub knows between a model and its `base_model`; it shows them as `base_model:<relation>:<id>` tags.


@dataclass
class _CardSource:
    """What the card describes: the RMT config and class (of a live model or of a saved `config.json`), the memory
    layout, and the peft config (e.g. LoRA's) when the checkpoint is a peft adapter."""

    config: Any
    class_name: str
    layout: Any = None
    peft_config: Any = None


def create_or_update_model_card(
    model: Any,
    save_directory: str | os.PathLike,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    adapter_only: bool | None = None,
    training_info: Mapping[str, Any] | None = None,
    eval_results: Any = None,
    card_data: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
) -> ModelCard:
    """
    Writes `save_directory/README.md` for an hf_rmt checkpoint, or updates the card already there.

    Args:
        model (`RMTPreTrainedModel` or `peft.PeftModel`):
            The saved model: an hf_rmt model, or a peft model (e.g. LoRA + memory) wrapping one.
        save_directory (`str` or `os.PathLike`):
            The checkpoint directory; plots named in `eval_results` are copied into it.
        repo_id (`str`, *optional*):
            Hub repo id (`"namespace/name"`) used in the "How to use" snippet and, by its name, as the card title.
            Without it the snippet shows `"<your-username>/<name>"`, where `<name>` is the directory's name, or
            `rmt-<backbone>-<task>` when the directory has a generic name such as `model` or `checkpoint-500`.
        revision (`str`, *optional*):
            Branch the checkpoint is pushed to; shown in the snippet when it is not `main`.
        adapter_only (`bool`, *optional*):
            Whether the checkpoint holds only memory and new heads. `None` reads it from the files in
            `save_directory` (`rmt_adapter.safetensors`). Ignored for peft models.
        training_info (`dict`, *optional*):
            How the model was trained, all keys optional: `"task"` (str), `"dataset"`/`"datasets"` (Hub ids, added
            to the YAML), `"description"` (markdown), `"curriculum"` (list of stages, each an int number of segments
            or a dict such as `{"segments": 2, "steps": 1000}`, `max_segments` also accepted; `input_length` is
            computed from `segment_size` when missing), `"steps_per_stage"` (one int, or one per stage of an int
            curriculum: the stages' `steps`) and any other scalar (e.g. `"steps"`, `"learning_rate"`,
            `"batch_size"`), listed as is. Absolute local paths among the values are not written (the backbone's
            Hub id, or "a local folder", is shown instead).
        eval_results (`dict`, `list[dict]` or `hf_rmt.evaluation.LengthEvalResult`, *optional*):
            One entry per evaluated task: `{"task": "qa1", "accuracy_by_length": {1024: 0.9, ...}}` plus optional
            `"dataset"` (Hub id or name), `"split"`, `"metric"` (`"accuracy"` by default, or e.g. `"exact_match"`),
            `"trained_length"` (longest input trained on), `"chance"`, `"num_samples"` (or `"samples_by_length"`,
            `{length: samples}`, shown as a column), `"depth_by_length"` (`{length: LengthResult.by_depth}`, a table
            of accuracy by fact depth), `"description"` and `"plot"`
            (an image path, copied next to the card, or `False` for no plot). A `LengthEvalResult` (what `hf_rmt.evaluation.evaluate_by_length`
            returns) or its JSON form (`LengthEvalResult.to_dict()`, the file `save_json` writes) is accepted as is.
            Gives the accuracy table, `metrics` and `model-index`. Without a `"plot"`, one is drawn when matplotlib is
            installed.
        card_data (`dict`, *optional*):
            YAML fields that win over everything else, e.g. `{"license": "apache-2.0", "language": "en"}`, or
            `{"base_model": "org/name"}` when the backbone was loaded from a local path.
        tags (`list[str]`, *optional*):
            Extra tags, added to hf_rmt's own.

    Returns:
        `huggingface_hub.ModelCard`: the card written.

    Raises:
        ValueError: `training_info` or `eval_results` does not have the documented shape, or a `"plot"` file does
            not exist.
    """
    rmt, peft_model = unwrap_rmt_and_peft(model)
    peft_config = None
    if peft_model is not None:
        peft_config = peft_model.peft_config.get(getattr(peft_model, "active_adapter", "default"))
    source = _CardSource(rmt.config, type(rmt).__name__, getattr(rmt, "layout", None), peft_config)
    return _write_card(
        source,
        str(save_directory),
        repo_id=repo_id,
        revision=revision,
        adapter_only=adapter_only,
        training_info=training_info,
        eval_results=eval_results,
        card_data=card_data,
        tags=tags,
    )


def write_model_card(
    folder: str | os.PathLike,
    training_info: Mapping[str, Any] | None = None,
    eval_results: Any = None,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    card_data: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
) -> ModelCard:
    """
    Writes (or updates) the model card `folder/README.md` of an hf_rmt checkpoint already saved in `folder`, full,
    adapter-only, or a peft adapter (LoRA + memory: `adapter_config.json` next to the RMT `config.json`), e.g. once
    an evaluation has measured it. Reads the folder's configs; no weights are loaded.

    The card's generated sections come from these arguments: pass everything it should show (the training details
    and the results). Text written by hand outside the `<!-- hf_rmt:... -->` markers is kept, as on every save.

    Args:
        folder (`str` or `os.PathLike`): The checkpoint's directory (`save_pretrained`'s output).
        training_info (`dict`, *optional*): How it was trained; the curriculum and settings tables. Same keys as
            `create_or_update_model_card`, e.g. `{"task": "memorize", "curriculum": [1, 2, 4],
            "steps_per_stage": [40, 40, 80], "learning_rate": 1e-4}`.
        eval_results (`LengthEvalResult`, `dict` or `list`, *optional*): Accuracy by input length, e.g.
            `evaluate_by_length(...)`'s result; the accuracy table, plot and `model-index`.
        repo_id (`str`, *optional*): The Hub repo the folder will be pushed to; the snippet and title use it.
        revision (`str`, *optional*): Branch it will be pushed to.
        card_data (`dict`, *optional*): YAML fields that win, e.g. `{"license": "apache-2.0", "language": "en"}`.
        tags (`list[str]`, *optional*): Extra tags.

    Returns:
        `huggingface_hub.ModelCard`: the card written.

    Raises:
        ValueError: `folder` holds no hf_rmt checkpoint (no RMT `config.json`: a peft adapter folder needs the RMT
            config saved beside it, `rmt_model.config.save_pretrained(folder)`), or the arguments have the wrong
            shape.

    Example:

    ```python
    >>> result = evaluate_by_length(model, tokenizer, "memorize", [64, 256, 1024])
    >>> hf_rmt.write_model_card("outputs/main/model", training_info=info, eval_results=result)
    ```
    """
    folder = str(folder)
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        extra = (
            " It holds a peft adapter: save the hf_rmt model's config beside it (`rmt.config.save_pretrained(folder)`)"
            " or use `create_or_update_model_card(peft_model, folder)`."
            if os.path.isfile(os.path.join(folder, "adapter_config.json"))
            else ""
        )
        raise ValueError(f"{folder} holds no hf_rmt checkpoint (no config.json).{extra}")
    with open(path, encoding="utf-8") as handle:
        model_type = json.load(handle).get("model_type")
    if model_type != RMTConfig.model_type:
        raise ValueError(f"{folder} is not an hf_rmt checkpoint: its config has model_type {model_type!r}.")
    config = RMTConfig.from_pretrained(folder)

    class_name = (config.architectures or ["RMTModel"])[0]
    layout = None
    if config.memory_layout:
        layout = get_layout(config.memory_layout, config.num_memory_tokens, config.cls_token_id, config.sep_token_id)
    peft_config = None
    if os.path.isfile(os.path.join(folder, "adapter_config.json")):
        from peft import PeftConfig  # noqa: PLC0415  (only peft adapter folders need it)

        peft_config = PeftConfig.from_pretrained(folder)
    return _write_card(
        _CardSource(config, class_name, layout, peft_config),
        folder,
        repo_id=repo_id,
        revision=revision,
        adapter_only=None,
        training_info=training_info,
        eval_results=eval_results,
        card_data=card_data,
        tags=tags,
    )


def _write_card(
    source: _CardSource,
    save_directory: str,
    *,
    repo_id: str | None,
    revision: str | None,
    adapter_only: bool | None,
    training_info: Mapping[str, Any] | None,
    eval_results: Any,
    card_data: Mapping[str, Any] | None,
    tags: list[str] | None,
) -> ModelCard:
    config, class_name, peft_config = source.config, source.class_name, source.peft_config
    entry = task_entry_of_class(class_name)
    auto_class, pipeline_tag = (entry.auto_class.__name__, entry.pipeline_tag) if entry else ("AutoModel", None)
    if peft_config is not None:
        kind = "peft"
    else:
        if adapter_only is None:
            adapter_only = os.path.isfile(os.path.join(save_directory, "rmt_adapter.safetensors"))
        kind = "adapter" if adapter_only else "full"

    overrides = dict(card_data or {})
    base_id = overrides.get("base_model") or public_backbone_id(config.base_model_name_or_path)
    if not isinstance(base_id, str):  # a list of ids (merges) given in `card_data`
        base_id = None
    evaluations = check_eval_results(eval_results)
    info = check_training_info(training_info)
    model_name = overrides.pop("model_name", None) or card_title(
        repo_id, save_directory, base_id, config, info.get("task") or next((e["task"] for e in evaluations), None)
    )
    # The snippet's id: the repo when pushing. A local save shows "<your-username>/<name>": the card is written for
    # Hub readers (it becomes the repo's README once the folder is pushed), to whom a relative folder name such as
    # "model" means nothing and an absolute path would expose this machine; the placeholder is the convention of
    # sentence-transformers' generated cards ("sentence_transformers_model_id"), and pushing with hf_rmt (or
    # `write_model_card(..., repo_id=...)`) writes the real id in its place.
    model_id = repo_id or f"{USERNAME_PLACEHOLDER}/{model_name}"
    tokenizer_in_repo = os.path.isfile(os.path.join(save_directory, "tokenizer_config.json"))
    training = training_section(info, config.segment_size, base_id)

    versions = {
        "hf_rmt": package_version("hf_rmt"),
        "Transformers": package_version("transformers"),
        "PyTorch": package_version("torch"),
    }
    if kind == "peft":
        versions["PEFT"] = package_version("peft")
    context = {
        "model_name": model_name,
        "config": config,
        "backbone_link": backbone_link(config, base_id),
        "max_positions": card_max_positions(config),
        "max_input_tokens": config.max_n_segments * config.segment_size if config.max_n_segments else None,
        "checkpoint_description": checkpoint_description(kind, config, peft_config, base_id),
        "usage": usage_snippet(
            kind,
            config,
            auto_class,
            model_id,
            revision,
            base_id,
            tokenizer_in_repo,
            # A peft adapter with the RMT config beside it (`hf-rmt train`'s LoRA output) loads through the Auto class.
            auto_loadable=kind != "peft"
            or (bool(config.architectures) and os.path.isfile(os.path.join(save_directory, "config.json"))),
        ),
        "rmt_settings": rmt_settings(config, source.layout, class_name, auto_class, kind),
        "training": training,
        "evaluation": evaluation_section(evaluations, config.segment_size, save_directory, card_max_positions(config)),
        "versions": versions,
    }

    relation = "finetune" if kind == "full" else "adapter"
    data: dict[str, Any] = {
        "library_name": "peft" if kind == "peft" else LIBRARY_NAME,
        "pipeline_tag": pipeline_tag,
        "tags": merge_lists(RMT_TAGS, [config.base_config.model_type] if config.base_config else [], tags),
    }
    if base_id:
        data["base_model"] = base_id
        data["base_model_relation"] = relation
    datasets = as_list(info.get("datasets") or info.get("dataset"))
    datasets = [name for name in datasets + [e.get("dataset") for e in evaluations] if as_hub_id(name)]
    if datasets:
        data["datasets"] = merge_lists(datasets)
    if evaluations:
        data["metrics"] = merge_lists([e.get("metric") or "accuracy" for e in evaluations])
        data["model_name"] = model_name
        data["eval_results"] = model_index_results(evaluations, pipeline_tag or "text-classification")

    path = os.path.join(save_directory, "README.md")
    existing = ModelCard.load(path, ignore_metadata_errors=True) if os.path.isfile(path) else None
    card = render_card(context, merge_card_data(existing, data, overrides, relation))
    if existing is not None:
        card = ModelCard(f"---\n{card.data.to_yaml()}\n---\n{splice_generated_blocks(existing.text, card.text)}")
    os.makedirs(save_directory, exist_ok=True)
    card.save(path)
    return card


def unwrap_rmt_and_peft(model: Any) -> tuple[Any, Any]:
    """`(hf_rmt model, peft model or None)`."""
    try:
        from peft import PeftModel  # noqa: PLC0415
    except ImportError:  # peft is a dependency, but the card must not need it for plain hf_rmt models
        PeftModel = ()  # noqa: N806
    # A PeftModel forwards unknown attributes to the model it wraps, so test for it first.
    if isinstance(model, PeftModel):
        base = model.get_base_model()
        if is_rmt_model(base):
            return base, model
    elif is_rmt_model(model):
        return model, None
    raise ValueError(
        f"`model` must be an hf_rmt model or a peft model wrapping one, got {type(model).__name__}; wrap a "
        "transformers model with `hf_rmt.get_rmt_model` first."
    )


__all__ = [
    "BASE_MODEL_RELATIONS",
    "GENERATED_PLOT_NAME",
    "LIBRARY_NAME",
    "RMT_TAGS",
    "TEMPLATE_PATH",
    "create_or_update_model_card",
    "unwrap_rmt_and_peft",
    "write_model_card",
]
