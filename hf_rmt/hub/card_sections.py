# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The sections of an hf_rmt model card: title, checkpoint description, RMT settings, usage snippet and training."""

from __future__ import annotations

import json
import numbers
import os
import re
from importlib import metadata as importlib_metadata
from typing import Any

from ..core.backbone import max_positions
from .card_render import USERNAME_PLACEHOLDER, as_list, format_value


# Folder names that say nothing about the model (what `save_pretrained("model")`, Trainer or a run script use): a card
# in such a folder is named after the backbone and the task instead.
_GENERIC_NAMES = re.compile(
    r"(model|models|output|outputs|out|checkpoint|checkpoints|final|final_model|best|best_model|saved|saved_model|"
    r"results?|tmp|temp|adapter|run|export|hf|pretrained|checkpoint-\d+|run-\d+|\d+)",
    re.IGNORECASE,
)


_LAYOUTS = {
    "encoder": "encoder: `[CLS] memory [SEP] segment [SEP]`, memory read back from its own positions",
    "decoder": "decoder: `[read memory | segment | write memory]`, the next memory read from the write positions",
    "seq2seq": "seq2seq: `[BOS] memory segment [EOS]` in the encoder (BOS if the backbone has one), memory read back "
    "from its own positions; the decoder attends to the last segment's row",
}


_ALIGNMENTS = {
    "right": "right: the last segment is full, the first may be shorter",
    "left": "left: segments fill from the start, the last may be shorter",
}


def _is_generic(name: str) -> bool:
    return not name or _GENERIC_NAMES.fullmatch(name) is not None


def card_title(repo_id: str | None, directory: str, base_id: str | None, config: Any, task: str | None) -> str:
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


def package_version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def card_max_positions(config: Any) -> int | str:
    """The positions the backbone uses, by the model's own rule (`max_positions`), or "maximum" when unknown."""
    limit = max_positions(config.base_config) if config.base_config is not None else None
    return limit if limit is not None else "maximum"


def backbone_link(config: Any, base_id: str | None) -> str:
    model_type = f" ({config.base_config.model_type})" if config.base_config is not None else ""
    if base_id:
        return f"[`{base_id}`](https://huggingface.co/{base_id}){model_type}"
    return f"a {config.base_config.model_type if config.base_config else 'transformers'} backbone"


def checkpoint_description(kind: str, config: Any, peft_config: Any, base_id: str | None) -> str:
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


def rmt_settings(config: Any, layout: Any, class_name: str, auto_class: str, kind: str) -> list[list[str]]:
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
    checkpointing = "yes" if config.segment_checkpointing else "no"
    keep_last = getattr(config, "segment_checkpointing_keep_last", 1)
    if config.segment_checkpointing and keep_last > 1:
        checkpointing += f", the last {keep_last} segments kept (`segment_checkpointing_keep_last={keep_last}`)"
    return [
        [
            "Model class",
            f"`{class_name}` ("
            + ("built by `hf_rmt.get_rmt_model`" if kind == "peft" else f"load with `{auto_class}`")
            + ")",
        ],
        ["Memory tokens", str(config.num_memory_tokens)],
        ["Memory type", _memory_type(config)],
        ["Segment size", segment],
        ["Memory layout", _LAYOUTS.get(config.memory_layout, str(config.memory_layout))],
        ["Segment alignment", _ALIGNMENTS.get(config.resolved_segment_alignment, config.resolved_segment_alignment)],
        ["Longest input", longest],
        ["BPTT", bptt],
        ["Segment checkpointing", checkpointing],
        ["Trained with the memory", ", ".join(f"`{m}`" for m in config.modules_to_save or []) or "memory only"],
    ]


def _memory_type(config: Any) -> str:
    if getattr(config, "memory_type", "rmt") == "associative":
        return (
            f"associative (ARMT, arXiv:2407.04841): a memory in each layer, `memory_dim={config.memory_dim}`; the "
            "memory tokens are inserted again in every segment"
        )
    return "RMT: the memory tokens' outputs are the next segment's memory"


def usage_snippet(
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
    special = config.memory_layout in ("encoder", "seq2seq")
    tokens = "[CLS]/[SEP]" if config.memory_layout == "encoder" else "its EOS"
    lines += [
        f"# Any length: the input is cut into {config.segment_size}-token segments"
        + (f"; each segment gets {tokens} from hf_rmt." if special else "."),
        f'inputs = tokenizer(long_text, {"add_special_tokens=False, " if special else ""}return_tensors="pt")',
    ]
    if auto_class == "AutoModelForCausalLM":
        lines += [
            "output_ids = model.generate(**inputs, max_new_tokens=20)",
            'print(tokenizer.decode(output_ids[0, inputs["input_ids"].shape[1] :]))',
        ]
    elif auto_class == "AutoModelForSeq2SeqLM":
        lines += [
            "output_ids = model.generate(**inputs, max_new_tokens=20)  # the decoder's output: start token, answer",
            "print(tokenizer.decode(output_ids[0], skip_special_tokens=True))",
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
    if getattr(config, "memory_type", "rmt") != "rmt":
        args["memory_type"] = config.memory_type
        args["memory_dim"] = config.memory_dim
    if config.max_n_segments:
        args["max_n_segments"] = config.max_n_segments
    if config.bptt_depth != -1:
        args["bptt_depth"] = config.bptt_depth
    args["memory_layout"] = config.memory_layout
    if config.segment_alignment:
        args["segment_alignment"] = config.segment_alignment
    if config.memory_layout in ("encoder", "seq2seq"):
        args["cls_token_id"] = config.cls_token_id
        args["sep_token_id"] = config.sep_token_id
    return args


def training_section(info: dict[str, Any], segment_size: int, base_id: str | None) -> dict[str, Any] | None:
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
        [key.replace("_", " "), format_value(_public_value(key, value, base_id))]
        for key, value in info.items()
        if key not in skip
    ]
    datasets = as_list(info.get("datasets") or info.get("dataset"))
    if datasets:
        settings.insert(0, ["datasets", ", ".join(f"`{d}`" for d in datasets)])
    return {
        "description": info.get("description"),
        "curriculum_headers": ["Stage", *(titles.get(c, c.replace("_", " ")) for c in columns)],
        "curriculum": [[str(i + 1), *(format_value(s.get(c, "")) for c in columns)] for i, s in enumerate(stages)],
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


__all__ = [
    "backbone_link",
    "card_max_positions",
    "card_title",
    "checkpoint_description",
    "package_version",
    "rmt_settings",
    "training_section",
    "usage_snippet",
]
