# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Rendering a model card from its template, and merging it into an existing card: YAML fields merged, hf_rmt's
generated blocks replaced, everything else kept.
"""

from __future__ import annotations

import os
import re
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..utils.hub_ids import as_hub_id


TEMPLATE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model_card_template.md")
LIBRARY_NAME = "hf_rmt"
RMT_TAGS = ("hf_rmt", "recurrent-memory-transformer", "rmt", "long-context")
GENERATED_PLOT_NAME = "accuracy_vs_length.png"
BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")
USERNAME_PLACEHOLDER = "<your-username>"
_BLOCK = re.compile(r"<!-- hf_rmt:begin:(?P<name>[\w-]+) -->.*?<!-- hf_rmt:end:(?P=name) -->", re.DOTALL)
_BASE_MODEL_TAG = re.compile(rf"base_model:(?:{'|'.join(BASE_MODEL_RELATIONS)}):.*")


def render_card(context: dict[str, Any], data: ModelCardData) -> ModelCard:
    import jinja2  # noqa: PLC0415  (a dependency of torch, so always installed)

    with open(TEMPLATE_PATH, encoding="utf-8") as file:
        source = file.read()
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    text = environment.from_string(source).render(card_data=data.to_yaml(), **context)
    return ModelCard(re.sub(r"\n{3,}", "\n\n", text))


def merge_card_data(
    existing: ModelCard | None, generated: dict[str, Any], overrides: dict[str, Any], relation: str
) -> ModelCardData:
    """The YAML of the new card: the existing card's fields, hf_rmt's own fields (tags, datasets and metrics
    merged, the others replaced when hf_rmt has a value), then `overrides`. Finally `base_model_relation` and the
    `base_model:<relation>:<id>` tags are made to agree with `base_model`: `relation` (this checkpoint's: "adapter"
    or "finetune") unless `overrides` sets one, one tag per base model, and stale ones (e.g. `base_model:adapter:`
    from an earlier adapter-only save of a now full checkpoint) removed."""
    data = existing.data.to_dict() if existing is not None else {}
    # peft writes "" for models built from a config, or the local path a model was loaded from: not Hub ids.
    kept = [base for base in as_list(data.pop("base_model", None)) if as_hub_id(base)]
    if kept:
        data["base_model"] = kept[0] if len(kept) == 1 else kept
    eval_results = generated.pop("eval_results", None)
    model_name = generated.pop("model_name", None)
    for key, value in generated.items():
        if key in ("tags", "datasets", "metrics"):
            data[key] = merge_lists(as_list(data.get(key)), value)
        elif value is not None:
            data[key] = value
    if eval_results:
        data.pop("model-index", None)
    data.update(overrides)
    # peft also adds `base_model:adapter:` with an empty name for models built in code.
    tags = [tag for tag in as_list(data.get("tags")) if not _BASE_MODEL_TAG.fullmatch(str(tag))]
    bases = [base for base in as_list(data.get("base_model")) if base]
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


def splice_generated_blocks(existing: str, generated: str) -> str:
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


def merge_lists(*lists: Any) -> list[Any]:
    merged = []
    for items in lists:
        for item in as_list(items):
            if item not in merged:
                merged.append(item)
    return merged


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if value >= 10_000 else str(value)
    return str(value)


def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


__all__ = [
    "as_list",
    "format_percent",
    "format_value",
    "merge_card_data",
    "merge_lists",
    "render_card",
    "splice_generated_blocks",
]
