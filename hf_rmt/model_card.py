# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Model cards for hf_rmt checkpoints: YAML metadata the Hub understands and a generated description.

`create_or_update_model_card` renders `model_card_template.md` (Jinja2, shipped in the package; the repository's
`model_cards/TEMPLATE.md` links to it) and writes `README.md`. When a card already exists, only the text between the
`<!-- hf_rmt:begin:NAME -->` / `<!-- hf_rmt:end:NAME -->` markers is replaced and the YAML is merged, so sections a
user wrote are kept (as peft's `create_or_update_model_card` keeps them). huggingface_hub's `ModelCard` and
`ModelCardData` read and write the YAML, including `model-index` for evaluation results.

`write_model_card(folder, ...)` writes the card of a checkpoint already saved in `folder` (read from its
`config.json`, without loading weights), e.g. after an evaluation has measured accuracy by input length.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id
from transformers.utils import logging


logger = logging.get_logger(__name__)

TEMPLATE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_card_template.md")
LIBRARY_NAME = "hf_rmt"
RMT_TAGS = ("hf_rmt", "recurrent-memory-transformer", "rmt", "long-context")
GENERATED_PLOT_NAME = "accuracy_vs_length.png"
_BLOCK = re.compile(r"<!-- hf_rmt:begin:(?P<name>[\w-]+) -->.*?<!-- hf_rmt:end:(?P=name) -->", re.DOTALL)
# The relations the Hub knows between a model and its `base_model`; it shows them as `base_model:<relation>:<id>` tags.
BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")
# Folder names that say nothing about the model (what `save_pretrained("model")`, Trainer or a run script use): a card
# in such a folder is named after the backbone and the task instead.
_GENERIC_NAMES = re.compile(
    r"(model|models|output|outputs|out|checkpoint|checkpoints|final|final_model|best|best_model|saved|saved_model|"
    r"results?|tmp|temp|adapter|run|export|hf|pretrained|checkpoint-\d+|run-\d+|\d+)",
    re.IGNORECASE,
)
USERNAME_PLACEHOLDER = "<your-username>"
_BASE_MODEL_TAG = re.compile(rf"base_model:(?:{'|'.join(BASE_MODEL_RELATIONS)}):.*")

# hf_rmt class -> (Auto class, Hub pipeline tag)
_CLASS_INFO = {
    "RMTModel": ("AutoModel", "feature-extraction"),
    "RMTForSequenceClassification": ("AutoModelForSequenceClassification", "text-classification"),
    "RMTForTokenClassification": ("AutoModelForTokenClassification", "token-classification"),
    "RMTForMaskedLM": ("AutoModelForMaskedLM", "fill-mask"),
    "RMTForCausalLM": ("AutoModelForCausalLM", "text-generation"),
}
_LAYOUTS = {
    "encoder": "encoder: `[CLS] memory [SEP] segment [SEP]`, memory read back from its own positions",
    "decoder": "decoder: `[read memory | segment | write memory]`, the next memory read from the write positions",
}
_ALIGNMENTS = {
    "right": "right: the last segment is full, the first may be shorter",
    "left": "left: segments fill from the start, the last may be shorter",
}


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
            `"trained_length"` (longest input trained on), `"chance"`, `"num_samples"`, `"description"` and `"plot"`
            (an image path, copied next to the card). A `LengthEvalResult` (what `hf_rmt.evaluation.evaluate_by_length`
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
    rmt, peft_model = _unwrap(model)
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
    # Local imports, as in saving.py: remote-code copies of these modules resolve them relatively.
    from .config import RMTConfig  # noqa: PLC0415
    from .core.layouts import get_layout  # noqa: PLC0415

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
    layout = get_layout(config.memory_layout, config.num_memory_tokens) if config.memory_layout else None
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
    auto_class, pipeline_tag = _CLASS_INFO.get(class_name, ("AutoModel", None))
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
    evaluations = _check_eval_results(eval_results)
    info = _check_training_info(training_info)
    model_name = overrides.pop("model_name", None) or _model_name(
        repo_id, save_directory, base_id, config, info.get("task") or next((e["task"] for e in evaluations), None)
    )
    # The snippet's id: the repo when pushing. A local save shows "<your-username>/<name>": the card is written for
    # Hub readers (it becomes the repo's README once the folder is pushed), to whom a relative folder name such as
    # "model" means nothing and an absolute path would expose this machine; the placeholder is the convention of
    # sentence-transformers' generated cards ("sentence_transformers_model_id"), and pushing with hf_rmt (or
    # `write_model_card(..., repo_id=...)`) writes the real id in its place.
    model_id = repo_id or f"{USERNAME_PLACEHOLDER}/{model_name}"
    tokenizer_in_repo = os.path.isfile(os.path.join(save_directory, "tokenizer_config.json"))
    training = _training_section(info, config.segment_size, base_id)

    versions = {"hf_rmt": _version("hf_rmt"), "Transformers": _version("transformers"), "PyTorch": _version("torch")}
    if kind == "peft":
        versions["PEFT"] = _version("peft")
    context = {
        "model_name": model_name,
        "config": config,
        "backbone_link": _backbone_link(config, base_id),
        "max_positions": _max_positions(config),
        "max_input_tokens": config.max_n_segments * config.segment_size if config.max_n_segments else None,
        "checkpoint_description": _checkpoint_description(kind, config, peft_config, base_id),
        "usage": _usage(
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
        "rmt_settings": _rmt_settings(config, source.layout, class_name, auto_class, kind),
        "training": training,
        "evaluation": _evaluation_section(evaluations, config.segment_size, save_directory, _max_positions(config)),
        "versions": versions,
    }

    relation = "finetune" if kind == "full" else "adapter"
    data: dict[str, Any] = {
        "library_name": "peft" if kind == "peft" else LIBRARY_NAME,
        "pipeline_tag": pipeline_tag,
        "tags": _merge_lists(RMT_TAGS, [config.base_config.model_type] if config.base_config else [], tags),
    }
    if base_id:
        data["base_model"] = base_id
        data["base_model_relation"] = relation
    datasets = _as_list(info.get("datasets") or info.get("dataset"))
    datasets = [name for name in datasets + [e.get("dataset") for e in evaluations] if _hub_id(name)]
    if datasets:
        data["datasets"] = _merge_lists(datasets)
    if evaluations:
        data["metrics"] = _merge_lists([e.get("metric") or "accuracy" for e in evaluations])
        data["model_name"] = model_name
        data["eval_results"] = _eval_results(evaluations, pipeline_tag or "text-classification")

    path = os.path.join(save_directory, "README.md")
    existing = ModelCard.load(path, ignore_metadata_errors=True) if os.path.isfile(path) else None
    card = _render(context, _merge_data(existing, data, overrides, relation))
    if existing is not None:
        card = ModelCard(f"---\n{card.data.to_yaml()}\n---\n{_splice(existing.text, card.text)}")
    os.makedirs(save_directory, exist_ok=True)
    card.save(path)
    return card


# ---------------------------------------------------------------------------------------------- inputs


def _unwrap(model: Any) -> tuple[Any, Any]:
    """`(hf_rmt model, peft model or None)`."""
    try:
        from peft import PeftModel  # noqa: PLC0415
    except ImportError:  # peft is a dependency, but the card must not need it for plain hf_rmt models
        PeftModel = ()  # noqa: N806
    # A PeftModel forwards unknown attributes to the model it wraps, so test for it first.
    if isinstance(model, PeftModel):
        base = model.get_base_model()
        if hasattr(base, "adapter_state_dict"):
            return base, model
    elif hasattr(model, "adapter_state_dict") and hasattr(model.config, "num_memory_tokens"):
        return model, None
    raise ValueError(
        f"`model` must be an hf_rmt model or a peft model wrapping one, got {type(model).__name__}; wrap a "
        "transformers model with `hf_rmt.get_rmt_model` first."
    )


def _check_training_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    if info is None:
        return {}
    if not isinstance(info, Mapping):
        raise ValueError(f"`training_info` must be a dict or None, got {type(info).__name__}.")
    curriculum = info.get("curriculum")
    if curriculum is not None and (
        isinstance(curriculum, (str, bytes, Mapping))
        or not all(isinstance(s, (numbers.Integral, Mapping)) for s in curriculum)
    ):
        raise ValueError(
            "`training_info['curriculum']` must be a list of stages, each a number of segments or a dict such as "
            f"{{'segments': 2, 'steps': 1000}}, got {curriculum!r}."
        )
    steps = info.get("steps_per_stage")
    if steps is not None:
        values = [steps] if isinstance(steps, numbers.Integral) else steps
        stages = len(curriculum or [])
        if (
            isinstance(values, (str, bytes, Mapping))
            or not all(isinstance(v, numbers.Integral) for v in values)
            or (len(values) not in (1, stages) and stages)
        ):
            raise ValueError(
                "`training_info['steps_per_stage']` must be an int or a list of ints, one per curriculum stage "
                f"({stages} stages), got {steps!r}."
            )
    return dict(info)


def _check_eval_results(results: Any) -> list[dict[str, Any]]:
    if results is None:
        return []
    entries = [results] if isinstance(results, Mapping) or _is_length_result(results) else results
    if not isinstance(entries, (list, tuple)):
        raise ValueError(
            f"`eval_results` must be a dict, a LengthEvalResult, a list of them or None, got {type(results).__name__}."
        )
    checked = []
    for entry in entries:
        entry = _from_length_result(entry)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("task"), str) or not entry["task"]:
            raise ValueError(
                f"Each `eval_results` entry must be a dict with a non-empty 'task' string, got {entry!r}."
            )
        by_length = entry.get("accuracy_by_length")
        if not isinstance(by_length, Mapping) or not by_length:
            raise ValueError(
                f"`eval_results` entry for task {entry['task']!r} needs 'accuracy_by_length', a non-empty dict "
                f"{{input length in tokens: accuracy}}, got {by_length!r}."
            )
        accuracy = {}
        for length, value in by_length.items():
            try:
                length = int(length)
            except (TypeError, ValueError):
                length = -1
            if length <= 0 or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(
                    f"`eval_results` entry for task {entry['task']!r}: 'accuracy_by_length' maps input lengths "
                    f"(positive integers) to accuracies in [0, 1], got {length!r}: {value!r}."
                )
            accuracy[length] = float(value)
        checked.append({**entry, "accuracy_by_length": dict(sorted(accuracy.items()))})
    return checked


def _is_length_result(value: Any) -> bool:
    """Whether `value` is an `hf_rmt.evaluation.LengthEvalResult` (duck-typed: evaluation imports the tasks)."""
    return not isinstance(value, Mapping) and hasattr(value, "to_dict") and hasattr(value, "results")


def _from_length_result(entry: Any) -> Any:
    """The card's form (`accuracy_by_length`, ...) of a `LengthEvalResult` or of its JSON form; other entries as is."""
    if _is_length_result(entry):
        entry = entry.to_dict()
    if not isinstance(entry, Mapping) or "accuracy_by_length" in entry or not isinstance(entry.get("results"), list):
        return entry
    rows = [r for r in entry["results"] if isinstance(r, Mapping)]
    card = {"task": entry.get("task"), "accuracy_by_length": {r.get("length"): r.get("accuracy") for r in rows}}
    for key in ("dataset", "split", "metric", "trained_length", "chance", "description", "plot"):
        if entry.get(key) is not None:
            card[key] = entry[key]
    samples = {r.get("num_samples") for r in rows}
    if len(samples) == 1 and None not in samples:
        card["num_samples"] = samples.pop()
    return card


# ---------------------------------------------------------------------------------------------- sections


def _hub_id(name: str | None) -> str | None:
    """`name` if it is a Hub repo id rather than a local path, else None (a path is not valid `base_model`)."""
    if not name or os.path.isabs(name) or os.path.exists(name) or name.count("/") > 1:
        return None
    try:
        validate_repo_id(name)
    except HFValidationError:
        return None
    return name


def public_backbone_id(name: str | None) -> str | None:
    """The Hub id to show for a recorded backbone `name`: `name` itself when it is a Hub id, the Hub id of the local
    folder `name` when one is known (`hf_rmt.saving.backbone_hub_id`), else None (a path is never shown)."""
    if _hub_id(name):
        return name
    from .saving import backbone_hub_id  # noqa: PLC0415  (saving imports this module)

    found = backbone_hub_id(name)
    return found[0] if found else None


def _is_generic(name: str) -> bool:
    return not name or _GENERIC_NAMES.fullmatch(name) is not None


def _model_name(repo_id: str | None, directory: str, base_id: str | None, config: Any, task: str | None) -> str:
    """The card's title: the repo's name, else the folder's, unless it is generic ("model", "checkpoint-500"):
    then `rmt-<backbone>-<task>`, e.g. `rmt-all-MiniLM-L6-v2-memorize`."""
    if repo_id:
        return repo_id.split("/")[-1]
    folder = os.path.basename(os.path.normpath(os.path.abspath(directory)))
    if not _is_generic(folder):
        return folder
    local = config.base_model_name_or_path
    local = os.path.basename(os.path.normpath(local)) if local and not base_id else None
    if base_id:
        backbone = base_id.split("/")[-1]
    elif local and not _is_generic(local):
        backbone = local
    else:
        backbone = config.base_config.model_type if config.base_config is not None else "transformer"
    name = "-".join(["rmt", backbone, *([task] if task else [])])
    return re.sub(r"[^\w.-]+", "-", name).strip("-.")


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _max_positions(config: Any) -> int | str:
    base = config.base_config
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(getattr(base, name, None), int):
            return getattr(base, name)
    return "maximum"


def _backbone_link(config: Any, base_id: str | None) -> str:
    model_type = f" ({config.base_config.model_type})" if config.base_config is not None else ""
    if base_id:
        return f"[`{base_id}`](https://huggingface.co/{base_id}){model_type}"
    return f"a {config.base_config.model_type if config.base_config else 'transformers'} backbone"


def _checkpoint_description(kind: str, config: Any, peft_config: Any, base_id: str | None) -> str:
    saved = ", ".join(f"`{name}`" for name in ["memory", *(config.modules_to_save or [])])
    revision = f" at revision `{config.base_model_revision}`" if config.base_model_revision else ""
    source = f"`{base_id}`{revision}" if base_id else "`config.base_model_name_or_path`"
    if kind == "full":
        return "This is a full checkpoint: the backbone's weights are saved together with the memory."
    if kind == "adapter":
        text = (
            f"This is an adapter-only checkpoint: it holds the trained memory and new heads ({saved}); loading it "
            f"fetches the frozen backbone {source} by its own id."
        )
        if not base_id:
            text += (
                " The backbone was loaded from a local path, so this adapter loads only where that path exists; "
                "save with `adapter_only=False` to share it."
            )
        return text
    targets = getattr(peft_config, "target_modules", None)
    targets = ", ".join(f"`{t}`" for t in sorted(targets)) if isinstance(targets, (set, list)) else f"`{targets}`"
    rank = getattr(peft_config, "r", None)
    return (
        f"This is a [peft](https://github.com/huggingface/peft) adapter: LoRA (r={rank}) on {targets} of the frozen "
        f"backbone {source}, trained together with the memory and new heads ({saved}, peft `modules_to_save`)."
    )


def _rmt_settings(config: Any, layout: Any, class_name: str, auto_class: str, kind: str) -> list[list[str]]:
    row = layout.row_length(config.segment_size) if layout is not None else None
    segment = f"{config.segment_size} tokens" + (
        f" ({row} backbone positions with memory and special tokens)" if row else ""
    )
    if config.bptt_depth == -1:
        bptt = "full: gradients flow through every memory transition (`bptt_depth=-1`)"
    else:
        bptt = f"truncated to the last {config.bptt_depth} memory transitions (`bptt_depth={config.bptt_depth}`)"
    longest = (
        f"{config.max_n_segments} segments ({config.max_n_segments * config.segment_size} tokens)"
        if config.max_n_segments
        else "unbounded"
    )
    return [
        [
            "Model class",
            f"`{class_name}` ("
            + ("built by `hf_rmt.get_rmt_model`" if kind == "peft" else f"load with `{auto_class}`")
            + ")",
        ],
        ["Memory tokens", str(config.num_memory_tokens)],
        ["Segment size", segment],
        ["Memory layout", _LAYOUTS.get(config.memory_layout, str(config.memory_layout))],
        ["Segment alignment", _ALIGNMENTS.get(config.resolved_segment_alignment, config.resolved_segment_alignment)],
        ["Longest input", longest],
        ["BPTT", bptt],
        ["Segment checkpointing", "yes" if config.segment_checkpointing else "no"],
        ["Trained with the memory", ", ".join(f"`{m}`" for m in config.modules_to_save or []) or "memory only"],
    ]


def _usage(
    kind: str,
    config: Any,
    auto_class: str,
    model_id: str,
    revision: str | None,
    base_id: str | None,
    tokenizer_in_repo: bool,
    auto_loadable: bool = True,
) -> str:
    base = base_id or "<backbone id>"  # never a local path: it exists only on the machine that saved the model
    rev = f', revision="{revision}"' if revision and revision != "main" else ""
    base_rev = f', revision="{config.base_model_revision}"' if config.base_model_revision else ""
    tokenizer_source = f'"{model_id}"{rev}' if tokenizer_in_repo else f'"{base}"{base_rev}'
    lines = ["import hf_rmt  # registers the RMT classes with transformers' Auto classes"]
    if kind == "peft" and not auto_loadable:
        lines += ["from peft import PeftModel"]
    lines += [f"from transformers import {auto_class}, AutoTokenizer", ""]
    if model_id.startswith(f"{USERNAME_PLACEHOLDER}/"):
        lines += [f"# {USERNAME_PLACEHOLDER}: the namespace this folder is pushed to (or load the folder by its path)"]
    if kind == "peft" and auto_loadable:
        lines += [
            f"# Loads the backbone ({base}), attaches LoRA, memory and head, and merges LoRA into the backbone;",
            "# an already loaded backbone can be passed as `backbone=` (e.g. offline).",
            f'model = {auto_class}.from_pretrained("{model_id}"{rev})',
        ]
    elif kind == "peft":
        backbone_auto = auto_class
        num_labels = getattr(config.base_config, "num_labels", None)
        extra = f", num_labels={num_labels}" if "Classification" in auto_class and num_labels else ""
        rmt_args = ", ".join(f"{k}={json.dumps(v)}" for k, v in _rmt_config_args(config).items())
        lines += [
            f'backbone = {backbone_auto}.from_pretrained("{base}"{base_rev}{extra})',
            f"rmt = hf_rmt.get_rmt_model(backbone, hf_rmt.RMTConfig({rmt_args}))",
        ]
        if len(lines[-1]) > 119:
            lines[-1:] = ["rmt = hf_rmt.get_rmt_model(", "    backbone,", f"    hf_rmt.RMTConfig({rmt_args}),", ")"]
        lines += [
            f'model = PeftModel.from_pretrained(rmt, "{model_id}"{rev})',
        ]
    else:
        lines += [f'model = {auto_class}.from_pretrained("{model_id}"{rev})']
    lines += [f"tokenizer = AutoTokenizer.from_pretrained({tokenizer_source})", ""]
    special = config.memory_layout == "encoder"
    lines += [
        f"# Any length: the input is cut into {config.segment_size}-token segments"
        + ("; each segment gets [CLS]/[SEP] from hf_rmt." if special else "."),
        f'inputs = tokenizer(long_text, {"add_special_tokens=False, " if special else ""}return_tensors="pt")',
    ]
    if auto_class == "AutoModelForCausalLM":
        lines += [
            "output_ids = model.generate(**inputs, max_new_tokens=20)",
            'print(tokenizer.decode(output_ids[0, inputs["input_ids"].shape[1] :]))',
        ]
    elif auto_class == "AutoModel":
        lines += [
            "outputs = model(**inputs)",
            "outputs.last_hidden_state, outputs.memory_state  # per-token states, memory after the last segment",
        ]
    else:
        lines += ["logits = model(**inputs).logits"]
        if auto_class == "AutoModelForSequenceClassification":
            lines += ["predicted_class = logits.argmax(-1).item()"]
    return "\n".join(lines)


def _rmt_config_args(config: Any) -> dict[str, Any]:
    """The `RMTConfig` arguments that rebuild the same model around a fresh backbone (for peft adapters)."""
    args = {"num_memory_tokens": config.num_memory_tokens, "segment_size": config.segment_size}
    if config.max_n_segments:
        args["max_n_segments"] = config.max_n_segments
    if config.bptt_depth != -1:
        args["bptt_depth"] = config.bptt_depth
    args["memory_layout"] = config.memory_layout
    if config.segment_alignment:
        args["segment_alignment"] = config.segment_alignment
    if config.memory_layout == "encoder":
        args["cls_token_id"] = config.cls_token_id
        args["sep_token_id"] = config.sep_token_id
    return args


def _training_section(info: dict[str, Any], segment_size: int, base_id: str | None) -> dict[str, Any] | None:
    if not info:
        return None
    curriculum = list(info.get("curriculum") or [])
    steps = info.get("steps_per_stage")
    if steps is not None:
        steps = [steps] * len(curriculum) if isinstance(steps, numbers.Integral) else list(steps)
        steps = steps * len(curriculum) if len(steps) == 1 else steps
    stages = []
    extra_keys: list[str] = []
    for i, stage in enumerate(curriculum):
        stage = {"segments": int(stage)} if isinstance(stage, numbers.Integral) else dict(stage)
        for alias in ("max_segments", "max_n_segments"):
            if "segments" not in stage and alias in stage:
                stage["segments"] = stage.pop(alias)
        if "input_length" not in stage and isinstance(stage.get("segments"), numbers.Integral):
            stage["input_length"] = int(stage["segments"]) * segment_size
        if steps is not None and "steps" not in stage:
            stage["steps"] = steps[i]
        extra_keys += [k for k in stage if k not in ("segments", "input_length", "steps") and k not in extra_keys]
        stages.append(stage)
    columns = ["segments", "input_length", "steps", *extra_keys]
    columns = [c for c in columns if any(c in s for s in stages)]
    titles = {"segments": "Segments", "input_length": "Input length (tokens)", "steps": "Steps"}
    skip = {"curriculum", "description", "dataset", "datasets"} | ({"steps_per_stage"} if stages else set())
    settings = [
        [key.replace("_", " "), _format(_public_value(key, value, base_id))]
        for key, value in info.items()
        if key not in skip
    ]
    datasets = _as_list(info.get("datasets") or info.get("dataset"))
    if datasets:
        settings.insert(0, ["datasets", ", ".join(f"`{d}`" for d in datasets)])
    return {
        "description": info.get("description"),
        "curriculum_headers": ["Stage", *(titles.get(c, c.replace("_", " ")) for c in columns)],
        "curriculum": [[str(i + 1), *(_format(s.get(c, "")) for c in columns)] for i, s in enumerate(stages)],
        "settings": settings,
    }


def _public_value(key: str, value: Any, base_id: str | None) -> Any:
    """`value`, except an absolute local path: the backbone's Hub id for the backbone's key, else "a local folder"
    (a card is published; the path exists only on the machine that trained)."""
    if not isinstance(value, str) or not (os.path.isabs(value) or value.startswith("~")):
        return value
    if base_id and key in ("base_model", "model", "backbone", "model_name_or_path", "base_model_name_or_path"):
        return f"`{base_id}`"
    return "a local folder"


def _evaluation_section(
    evaluations: list[dict[str, Any]], segment_size: int, save_directory: str, max_positions: Any
) -> dict[str, Any] | None:
    if not evaluations:
        return None
    lengths = sorted({length for e in evaluations for length in e["accuracy_by_length"]})
    trained = max((int(e["trained_length"]) for e in evaluations if e.get("trained_length")), default=None)

    def length_cell(length: int) -> str:
        if trained and length > trained:
            return f"{length:,} ({length / trained:.3g}x trained)"
        return f"{length:,}"

    headers = [
        "Input length",
        "Segments",
        *(f"{e['task']} {(e.get('metric') or 'accuracy').replace('_', ' ')}" for e in evaluations),
    ]
    rows = [
        [
            length_cell(length),
            str(math.ceil(length / segment_size)),
            *(_percent(e["accuracy_by_length"].get(length)) for e in evaluations),
        ]
        for length in lengths
    ]
    plots = [_copy_plot(e["plot"], save_directory) for e in evaluations if e.get("plot")]
    if not plots:
        drawn = _draw_plot(evaluations, save_directory, max_positions, trained)
        plots = [drawn] if drawn else []
    descriptions = [e.get("description") or _describe(e) for e in evaluations]
    if trained:
        descriptions.append(
            f"Trained on inputs of up to {trained:,} tokens: longer inputs show how far the memory carries beyond "
            "the training lengths."
        )
    return {
        "headers": headers,
        "rows": rows,
        "plots": plots,
        "description": "\n\n".join(d for d in descriptions if d) or None,
    }


def _describe(entry: dict[str, Any]) -> str | None:
    """A sentence from an evaluation's details: samples, split, chance level."""
    parts = []
    if entry.get("num_samples"):
        split = f" of the `{entry['split']}` split" if entry.get("split") else ""
        parts.append(f"{entry['task']}: {entry['num_samples']:,} samples{split} per input length")
    if isinstance(entry.get("chance"), (int, float)):
        parts.append(f"chance level {_percent(entry['chance'])}")
    return ("; ".join(parts) + ".") if parts else None


def _copy_plot(plot: str | os.PathLike, save_directory: str) -> str:
    plot = str(plot)
    name = os.path.basename(plot)
    target = os.path.join(save_directory, name)
    if os.path.isfile(plot):
        os.makedirs(save_directory, exist_ok=True)
        if not os.path.exists(target) or not os.path.samefile(plot, target):
            shutil.copyfile(plot, target)
        return name
    if not os.path.isabs(plot) and os.path.isfile(os.path.join(save_directory, plot)):
        return plot
    raise ValueError(f"`eval_results['plot']` must name an existing image file, got {plot!r} (not found).")


def _draw_plot(
    evaluations: list[dict[str, Any]], save_directory: str, max_positions: Any, trained_length: int | None = None
) -> str | None:
    """Draws accuracy against input length into `accuracy_vs_length.png`; None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415  (optional: the eval extra)
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        logger.info("matplotlib is not installed: the model card shows the accuracy table without a plot.")
        return None
    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for entry in evaluations:
        by_length = entry["accuracy_by_length"]
        axes.plot(list(by_length), list(by_length.values()), marker="o", label=entry["task"])
    if isinstance(max_positions, int):
        axes.axvline(max_positions, color="gray", linestyle="--", linewidth=1, label="backbone positions")
    if trained_length:
        axes.axvline(trained_length, color="C1", linestyle=":", linewidth=1.2, label="longest trained length")
    chances = {e["chance"] for e in evaluations if isinstance(e.get("chance"), (int, float))}
    if len(chances) == 1:
        axes.axhline(chances.pop(), color="gray", linestyle=":", linewidth=1, label="chance")
    axes.set_xscale("log", base=2)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("input length (tokens)")
    metrics = {(e.get("metric") or "accuracy").replace("_", " ") for e in evaluations}
    axes.set_ylabel(metrics.pop() if len(metrics) == 1 else "score")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    os.makedirs(save_directory, exist_ok=True)
    figure.savefig(os.path.join(save_directory, GENERATED_PLOT_NAME))
    return GENERATED_PLOT_NAME


def _eval_results(evaluations: list[dict[str, Any]], task_type: str) -> list[EvalResult]:
    """One `model-index` result per task, one accuracy metric per input length (named after the length)."""
    results = []
    for entry in evaluations:
        for length, accuracy in entry["accuracy_by_length"].items():
            results.append(
                EvalResult(
                    task_type=task_type,
                    dataset_type=entry.get("dataset") or f"hf_rmt/{entry['task']}",
                    dataset_name=entry["task"],
                    dataset_split=entry.get("split"),
                    metric_type=entry.get("metric") or "accuracy",
                    metric_value=accuracy,
                    metric_name=f"{(entry.get('metric') or 'accuracy').replace('_', ' ').capitalize()} at {length} tokens",
                    metric_args={"input_length": length},
                )
            )
    return results


# ---------------------------------------------------------------------------------------------- card text


def _render(context: dict[str, Any], data: ModelCardData) -> ModelCard:
    import jinja2  # noqa: PLC0415  (a dependency of torch, so always installed)

    with open(TEMPLATE_PATH, encoding="utf-8") as file:
        source = file.read()
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    text = environment.from_string(source).render(card_data=data.to_yaml(), **context)
    return ModelCard(re.sub(r"\n{3,}", "\n\n", text))


def _merge_data(
    existing: ModelCard | None, generated: dict[str, Any], overrides: dict[str, Any], relation: str
) -> ModelCardData:
    """The YAML of the new card: the existing card's fields, hf_rmt's own fields (tags, datasets and metrics
    merged, the others replaced when hf_rmt has a value), then `overrides`. Finally `base_model_relation` and the
    `base_model:<relation>:<id>` tags are made to agree with `base_model`: `relation` (this checkpoint's: "adapter"
    or "finetune") unless `overrides` sets one, one tag per base model, and stale ones (e.g. `base_model:adapter:`
    from an earlier adapter-only save of a now full checkpoint) removed."""
    data = existing.data.to_dict() if existing is not None else {}
    # peft writes "" for models built from a config, or the local path a model was loaded from: not Hub ids.
    kept = [base for base in _as_list(data.pop("base_model", None)) if _hub_id(base)]
    if kept:
        data["base_model"] = kept[0] if len(kept) == 1 else kept
    eval_results = generated.pop("eval_results", None)
    model_name = generated.pop("model_name", None)
    for key, value in generated.items():
        if key in ("tags", "datasets", "metrics"):
            data[key] = _merge_lists(_as_list(data.get(key)), value)
        elif value is not None:
            data[key] = value
    if eval_results:
        data.pop("model-index", None)
    data.update(overrides)
    # peft also adds `base_model:adapter:` with an empty name for models built in code.
    tags = [tag for tag in _as_list(data.get("tags")) if not _BASE_MODEL_TAG.fullmatch(str(tag))]
    bases = [base for base in _as_list(data.get("base_model")) if base]
    if bases:
        relation = overrides.get("base_model_relation") or relation
        data["base_model_relation"] = relation
        tags += [f"base_model:{relation}:{base}" for base in bases]
    else:
        data.pop("base_model_relation", None)
    data["tags"] = tags
    card_data = ModelCardData(ignore_metadata_errors=True, **data)
    if eval_results:
        card_data.eval_results = eval_results
        card_data.model_name = model_name
    return card_data


def _splice(existing: str, generated: str) -> str:
    """`existing` with each hf_rmt block replaced by the generated one. A card with no hf_rmt block at all gets
    them inserted: the summary under the title (the generated title only if the card has none), the others at the
    end. Blocks a user deleted stay deleted."""
    blocks = {match["name"]: match[0] for match in _BLOCK.finditer(generated)}
    present = {match["name"] for match in _BLOCK.finditer(existing)}
    if present:
        return _BLOCK.sub(lambda m: blocks.get(m["name"], m[0]), existing)
    text = existing.rstrip("\n")
    summary = blocks.pop("summary", "")
    generated_title = blocks.pop("title", "")
    title = re.search(r"^# .*$", text, re.MULTILINE)
    if title is None and generated_title:
        text = f"{generated_title}\n\n{text}".rstrip("\n")
        title = re.search(r"<!-- hf_rmt:end:title -->", text)
    if summary and title:
        text = f"{text[: title.end()]}\n\n{summary}\n{text[title.end() :]}"
    elif summary:
        text = f"{summary}\n\n{text}"
    for block in blocks.values():
        text = f"{text}\n\n{block}"
    return text.strip("\n") + "\n"


def _merge_lists(*lists: Any) -> list[Any]:
    merged = []
    for items in lists:
        for item in _as_list(items):
            if item not in merged:
                merged.append(item)
    return merged


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if value >= 10_000 else str(value)
    return str(value)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


__all__ = [
    "BASE_MODEL_RELATIONS",
    "GENERATED_PLOT_NAME",
    "LIBRARY_NAME",
    "RMT_TAGS",
    "TEMPLATE_PATH",
    "create_or_update_model_card",
    "public_backbone_id",
    "write_model_card",
]
