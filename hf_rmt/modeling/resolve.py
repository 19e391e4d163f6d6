# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`resolve_config`: an `RMTConfig` completed from the backbone it will wrap, and checked against it."""

from __future__ import annotations

import copy
from typing import Any

from transformers import PreTrainedModel

from ..config import RMTConfig
from ..core.backbone import check_supported, is_decoder_backbone, is_encoder_decoder, max_positions
from ..core.layouts import get_layout
from ..core.memory.associative import DEFAULT_MEMORY_DIM


def largest_segment_size(config: RMTConfig, base_config: Any) -> int | None:
    """The longest segment whose row fits the backbone's positions in `config`'s layout; None when the backbone
    declares no limit."""
    limit = max_positions(base_config)
    if limit is None:
        return None
    return _layout(config).largest_segment(limit)


def _layout(config: RMTConfig):
    return get_layout(config.memory_layout, config.num_memory_tokens, config.cls_token_id, config.sep_token_id)


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


def check_tokenizer_fits(tokenizer: Any, model: PreTrainedModel) -> None:
    """Refuses a tokenizer whose ids reach past the backbone's input embeddings: another model's tokenizer (a GPT-2
    tokenizer with a BERT backbone), which would feed the backbone ids it has no embedding for."""
    size = len(tokenizer) if hasattr(tokenizer, "__len__") else None
    rows = model.get_input_embeddings().num_embeddings
    if size is not None and size > rows:
        raise ValueError(
            f"`tokenizer` does not match the backbone: {type(tokenizer).__name__} has {size:,} tokens but "
            f"{type(model).__name__} ({model.config.model_type}) embeds only {rows:,} (its ids must be below the "
            "backbone's vocabulary size). Pass the tokenizer of the backbone's checkpoint."
        )


def _seq2seq_special_ids(config: RMTConfig, base_config: Any, tokenizer: Any) -> tuple[int | None, int | None]:
    """The BOS (optional: T5 has none) and EOS of the seq2seq layout: the configured ones, else the backbone's, else
    the tokenizer's EOS."""
    bos, eos = config.cls_token_id, config.sep_token_id
    if bos is None and isinstance(getattr(base_config, "bos_token_id", None), int):
        bos = base_config.bos_token_id
    for source in (base_config, tokenizer):
        if eos is None and isinstance(getattr(source, "eos_token_id", None), int):
            eos = source.eos_token_id
    return bos, eos


def resolve_config(config: RMTConfig, model: PreTrainedModel, tokenizer: Any = None) -> RMTConfig:
    """
    Fills what `config` left to the backbone (layout, segment size, special tokens, memory scale, backbone snapshot)
    and checks that it fits; returns a new config, `config` is not modified.

    Raises:
        ValueError: naming the field, the rule and the value, when the configuration cannot work on this backbone.
    """
    check_supported(model)
    if tokenizer is not None:
        check_tokenizer_fits(tokenizer, model)
    config = copy.deepcopy(config)
    base_config = model.config
    if config.base_config is not None:
        given = getattr(config.base_config, "hidden_size", None)
        actual = getattr(base_config, "hidden_size", None)
        if given is not None and actual is not None and given != actual:
            raise ValueError(
                f"`base_config.hidden_size`={given} in the RMTConfig does not match the backbone's hidden_size={actual}."
            )
    # A snapshot, not the live object: the wrapper shares the backbone's own config once built (see `RMTPreTrainedModel.__init__`).
    config.base_config = type(base_config).from_dict(base_config.to_dict())
    if config.base_model_name_or_path is None:
        config.base_model_name_or_path = getattr(base_config, "_name_or_path", None) or None
    encoder_decoder = is_encoder_decoder(model)
    if config.memory_layout is None:
        config.memory_layout = "seq2seq" if encoder_decoder else "decoder" if is_decoder_backbone(model) else "encoder"
    if (config.memory_layout == "seq2seq") != encoder_decoder:
        raise ValueError(
            f"`memory_layout`={config.memory_layout!r} does not fit the backbone {type(model).__name__}: the "
            "'seq2seq' layout is for encoder-decoder backbones (T5, BART), which need it; leave it None to choose."
        )
    if config.memory_layout == "seq2seq":
        # Before the segment size: whether the row has a BOS changes its length.
        config.cls_token_id, config.sep_token_id = _seq2seq_special_ids(config, base_config, tokenizer)
        if config.sep_token_id is None:
            raise ValueError(
                "The seq2seq layout `[BOS] mem segment [EOS]` needs an EOS id (`sep_token_id`), found neither in the "
                "backbone's config (`eos_token_id`) nor in a tokenizer: pass `tokenizer=` to `get_rmt_model` or set "
                "it in RMTConfig."
            )

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
        used = _layout(config).row_description
        hint = f"the largest segment_size that fits is {largest}" if largest >= 1 else "reduce num_memory_tokens"
        raise ValueError(
            f"`segment_size`={config.segment_size} with `num_memory_tokens`={config.num_memory_tokens} does not fit "
            f"the backbone's {limit} positions ({used}): {hint}."
        )

    if config.memory_layout == "encoder":
        config.cls_token_id, config.sep_token_id = _special_ids(config, base_config, tokenizer)
        missing = [n for n in ("cls_token_id", "sep_token_id") if getattr(config, n) is None]
        if missing:
            where = (
                f"nor in the tokenizer passed ({type(tokenizer).__name__}, which has no "
                f"{' and '.join(n.replace('_id', '') for n in missing)})"
                if tokenizer is not None
                else "and no tokenizer was passed"
            )
            raise ValueError(
                f"The encoder layout `[CLS] mem [SEP] segment [SEP]` needs {' and '.join(missing)}: not in the "
                f"backbone's config, {where}. Pass the backbone's own tokenizer as `tokenizer=` to `get_rmt_model` "
                "or set them in RMTConfig."
            )
    if config.memory_layout in ("encoder", "seq2seq"):
        vocab = model.get_input_embeddings().num_embeddings
        for name in ("cls_token_id", "sep_token_id"):
            if getattr(config, name) is not None and getattr(config, name) >= vocab:
                raise ValueError(f"`{name}`={getattr(config, name)} is outside the backbone's vocabulary of {vocab}.")

    if config.memory_type == "associative" and config.memory_dim is None:
        config.memory_dim = DEFAULT_MEMORY_DIM
    if config.memory_init_std is None:
        weight = model.get_input_embeddings().weight
        config.memory_init_std = float(weight.detach().float().std()) if weight.device.type != "meta" else 0.02
    config.validate_rmt()
    return config


__all__ = ["check_tokenizer_fits", "largest_segment_size", "resolve_config"]
