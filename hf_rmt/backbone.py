# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""What hf_rmt needs to know about a backbone, read only through public transformers surfaces.

Nothing here depends on a particular architecture's module names: the task is read from the Auto mappings, the body
from `PreTrainedModel.base_model`, embeddings from `get_input_embeddings()`, limits from the config.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from torch import nn
from transformers import PreTrainedModel
from transformers.models.auto import modeling_auto

from .config import RMTConfig


# Tested in tests/ (tiny random configs) and with the pretrained MiniLM-L6 (a BERT).
TESTED_ARCHITECTURES = (
    "bert",
    "roberta",
    "distilbert",
    "deberta-v2",
    "electra (embedding_size == hidden_size)",
    "gpt2",
    "opt",
    "llama",
    "qwen2",
    "mistral",
)

# Backbone task -> (Auto mapping of class names, hf_rmt task). Order matters: a class is matched to the first task.
_TASK_MAPPINGS = (
    ("base", "MODEL_MAPPING_NAMES"),
    ("sequence-classification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    ("token-classification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    ("masked-lm", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
    ("causal-lm", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
)
_TASK_SUFFIXES = (
    ("sequence-classification", "ForSequenceClassification"),
    ("token-classification", "ForTokenClassification"),
    ("masked-lm", "ForMaskedLM"),
    ("causal-lm", "ForCausalLM"),
    ("causal-lm", "LMHeadModel"),
)


def _class_names(mapping_name: str) -> set[str]:
    names = set()
    for value in getattr(modeling_auto, mapping_name).values():
        names.update(value if isinstance(value, (tuple, list)) else [value])
    return names


def backbone_task(model: nn.Module) -> str:
    """The hf_rmt task of a backbone: `"base"`, `"sequence-classification"`, `"token-classification"`,
    `"masked-lm"` or `"causal-lm"`; raises `ValueError` for anything else."""
    if not isinstance(model, PreTrainedModel):
        raise TypeError(
            f"`model` must be a transformers PreTrainedModel (e.g. from `AutoModel.from_pretrained`), got "
            f"{type(model).__name__}. Apply peft (LoRA) after `get_rmt_model`, not before."
        )
    name = type(model).__name__
    for task, mapping_name in _TASK_MAPPINGS:
        if name in _class_names(mapping_name):
            return task
    for task, suffix in _TASK_SUFFIXES:
        if name.endswith(suffix):
            return task
    if model.base_model is model:
        return "base"
    raise ValueError(
        f"Unsupported backbone class {name}: hf_rmt wraps bare models (AutoModel) and models for sequence "
        "classification, token classification, masked LM and causal LM."
    )


def check_supported(model: PreTrainedModel) -> None:
    """Raises a `ValueError` naming what is supported when a backbone cannot carry memory tokens."""
    config = model.config
    supported = ", ".join(TESTED_ARCHITECTURES)
    if getattr(config, "is_encoder_decoder", False):
        raise ValueError(
            f"Unsupported backbone {type(model).__name__} (model_type={config.model_type!r}): encoder-decoder "
            f"backbones are not supported yet. Supported: encoder-only or decoder-only text models such as {supported}."
        )
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if not isinstance(embeddings, nn.Embedding):
        raise ValueError(
            f"Unsupported backbone {type(model).__name__}: it has no token embedding (`get_input_embeddings()`). "
            f"Supported: text models such as {supported}."
        )
    for module in (model, model.base_model):
        if "inputs_embeds" not in inspect.signature(module.forward).parameters:
            raise ValueError(
                f"Unsupported backbone {type(module).__name__}: its forward takes no `inputs_embeds`, which memory "
                f"tokens need. Supported: {supported}."
            )
    hidden = getattr(config, "hidden_size", None)
    if (
        hidden is not None
        and embeddings.embedding_dim != hidden
        and getattr(config, "word_embed_proj_dim", None) is None
    ):
        # ALBERT/ELECTRA-small factorise embeddings: the output (hidden_size) cannot be fed back as an input embedding.
        raise ValueError(
            f"Unsupported backbone {type(model).__name__}: input embeddings have {embeddings.embedding_dim} dimensions "
            f"but hidden states have {hidden}, so a memory read from the output cannot be fed back as input. "
            f"Supported: {supported}."
        )


def is_decoder_backbone(model: PreTrainedModel) -> bool:
    """Whether the backbone attends causally: its config says so, or it has a causal-LM head and no masked-LM head."""
    config = model.config
    if getattr(config, "is_decoder", False):
        return True
    model_type = config.model_type
    masked = set(modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    causal = set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    return model_type in causal and model_type not in masked


def layer_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's repeated blocks: the children of its largest `nn.ModuleList` (BERT's `encoder.layer`, Llama's
    `model.layers`, GPT-2's `h`), or `[]` if it has none."""
    stacks = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not stacks:
        return []
    return list(max(stacks, key=lambda m: sum(p.numel() for p in m.parameters())))


def max_positions(config: Any) -> int | None:
    """Largest number of positions the backbone was built for (RoBERTa's padding offset removed)."""
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            if config.model_type in ("roberta", "xlm-roberta", "camembert", "roberta-prelayernorm", "longformer"):
                # Position ids start at padding_idx + 1 (RobertaEmbeddings.create_position_ids_from_inputs_embeds).
                value -= (config.pad_token_id or 0) + 1
            return value
    return None


def largest_segment_size(config: RMTConfig, base_config: Any) -> int | None:
    limit = max_positions(base_config)
    if limit is None:
        return None
    specials = 3 if config.memory_layout == "encoder" else 0
    memory = config.num_memory_tokens * (1 if config.memory_layout == "encoder" else 2)
    return limit - specials - memory


def _special_ids(config: RMTConfig, base_config: Any, tokenizer: Any) -> tuple[int | None, int | None]:
    cls_id, sep_id = config.cls_token_id, config.sep_token_id
    candidates = [
        (getattr(base_config, "cls_token_id", None), getattr(base_config, "sep_token_id", None)),
        (getattr(base_config, "bos_token_id", None), getattr(base_config, "eos_token_id", None)),
    ]
    if tokenizer is not None:
        candidates.append((getattr(tokenizer, "cls_token_id", None), getattr(tokenizer, "sep_token_id", None)))
    for cand_cls, cand_sep in candidates:
        cls_id = cls_id if cls_id is not None else (cand_cls if isinstance(cand_cls, int) else None)
        sep_id = sep_id if sep_id is not None else (cand_sep if isinstance(cand_sep, int) else None)
    return cls_id, sep_id


def resolve_config(config: RMTConfig, model: PreTrainedModel, tokenizer: Any = None) -> RMTConfig:
    """
    Fills what `config` left to the backbone (layout, segment size, special tokens, memory scale, backbone snapshot)
    and checks that it fits; returns a new config, `config` is not modified.

    Raises:
        ValueError: naming the field, the rule and the value, when the configuration cannot work on this backbone.
    """
    check_supported(model)
    config = copy.deepcopy(config)
    base_config = model.config
    if config.base_config is not None:
        given = getattr(config.base_config, "hidden_size", None)
        actual = getattr(base_config, "hidden_size", None)
        if given is not None and actual is not None and given != actual:
            raise ValueError(
                f"`base_config.hidden_size`={given} in the RMTConfig does not match the backbone's hidden_size={actual}."
            )
    # A snapshot, not the live object: the wrapper shares the backbone's own config once built (see modeling_rmt).
    config.base_config = type(base_config).from_dict(base_config.to_dict())
    if config.base_model_name_or_path is None:
        config.base_model_name_or_path = getattr(base_config, "_name_or_path", None) or None
    if config.memory_layout is None:
        config.memory_layout = "decoder" if is_decoder_backbone(model) else "encoder"

    limit = max_positions(base_config)
    largest = largest_segment_size(config, base_config)
    if config.segment_size is None:
        if largest is None:
            raise ValueError(
                f"`segment_size` must be set: the backbone ({base_config.model_type}) declares no maximum number of "
                "positions to derive it from."
            )
        config.segment_size = largest
    if largest is not None and (largest < 1 or config.segment_size > largest):
        used = (
            "[CLS] + memory + [SEP] + segment + [SEP]" if config.memory_layout == "encoder" else "2 x memory + segment"
        )
        hint = f"the largest segment_size that fits is {largest}" if largest >= 1 else "reduce num_memory_tokens"
        raise ValueError(
            f"`segment_size`={config.segment_size} with `num_memory_tokens`={config.num_memory_tokens} does not fit "
            f"the backbone's {limit} positions ({used}): {hint}."
        )

    if config.memory_layout == "encoder":
        config.cls_token_id, config.sep_token_id = _special_ids(config, base_config, tokenizer)
        missing = [n for n in ("cls_token_id", "sep_token_id") if getattr(config, n) is None]
        if missing:
            raise ValueError(
                f"The encoder layout `[CLS] mem [SEP] segment [SEP]` needs {' and '.join(missing)}, found neither in "
                "the backbone's config nor in a tokenizer: pass `tokenizer=` to `get_rmt_model` or set them in "
                "RMTConfig."
            )
        vocab = model.get_input_embeddings().num_embeddings
        for name in ("cls_token_id", "sep_token_id"):
            if getattr(config, name) >= vocab:
                raise ValueError(f"`{name}`={getattr(config, name)} is outside the backbone's vocabulary of {vocab}.")

    if config.memory_init_std is None:
        weight = model.get_input_embeddings().weight
        config.memory_init_std = float(weight.detach().float().std()) if weight.device.type != "meta" else 0.02
    config.validate_rmt()
    return config


__all__ = [
    "TESTED_ARCHITECTURES",
    "backbone_task",
    "check_supported",
    "is_decoder_backbone",
    "max_positions",
    "resolve_config",
]
