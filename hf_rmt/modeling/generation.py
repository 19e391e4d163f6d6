# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Rolling generation: `RMTForCausalLM.generate` reads the prompt and every new token through an `RMTStream`.

The stream scores each new token from the memory and the current segment (the backbone's KV cache of that segment),
and when a segment fills up it runs that segment through the recurrence exactly as `forward` does, which writes the
next memory; generation goes on in a new segment. The new tokens thus have the same logits as a forward pass over the
growing sequence (same segment boundaries), and generation has no length limit: the backbone only ever holds one
segment and its memory.

Everything else is transformers' own: the generation config is merged and lengths are counted on the whole prompt with
`GenerationMixin`'s rules (which `RMTForCausalLM` inherits), the logits processors and stopping criteria are the
ones `generate` builds, and the decoding step is `GenerationMixin._sample`'s (greedy or multinomial sampling, finished
samples padded).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessorList, MaxLengthCriteria, StoppingCriteriaList
from transformers.generation.configuration_utils import CompileConfig
from transformers.generation.utils import GenerateDecoderOnlyOutput

from .stream_cache import StaticSegmentCache
from .streaming import RMTStream


CACHE_IMPLEMENTATIONS = (None, "dynamic", "static")


def prepare_generation(
    model: Any, input_ids: torch.Tensor, generation_config: GenerationConfig | None, kwargs: dict[str, Any]
) -> tuple[GenerationConfig, dict[str, Any]]:
    """
    The generation config of a call of `model.generate` on `input_ids`, as transformers makes it for a plain model:
    kwargs > `generation_config` > the model's > global defaults, `max_length`/`min_length` counted on the whole
    prompt (padding too), special tokens as tensors.

    Returns:
        `(generation config, model kwargs left over)`.

    Raises:
        ValueError: as transformers raises for a plain model, e.g. `max_length` not above the prompt's length.
    """
    prompt_length = input_ids.shape[1]
    has_default_max_length = (
        kwargs.get("max_length") is None
        and (generation_config is None or generation_config.max_length is None)
        and model.generation_config.max_length is None
    )
    has_default_min_length = (
        kwargs.get("min_length") is None
        and (generation_config is None or generation_config.min_length is None)
        and model.generation_config.min_length is None
    )
    config, model_kwargs = model._prepare_generation_config(generation_config, **kwargs)
    config = model._prepare_generated_length(
        config, has_default_max_length, has_default_min_length, "input_ids", prompt_length, input_ids
    )
    model._validate_generated_length(config, prompt_length, has_default_max_length)
    if config.num_beams > 1 or config.get_generation_mode().value not in ("greedy_search", "sample"):
        raise ValueError(
            "`RMTForCausalLM.generate` does greedy decoding and sampling (rolling memory across segments); got "
            f"num_beams={config.num_beams}, generation mode {config.get_generation_mode().value!r}."
        )
    return config, model_kwargs


def set_cache_implementation(model: Any, stream: RMTStream, config: GenerationConfig) -> None:
    """
    Applies `config.cache_implementation` to the stream a generation reads through, as transformers applies it to a
    plain model's cache: `"static"` keeps each segment's rows in one preallocated cache (`StaticSegmentCache`) and,
    as `generate` does for a plain model with a static cache, compiles the one-token step on CUDA (CUDA graphs)
    unless `disable_compile=True`, with `config.compile_config` if set. `None` / `"dynamic"`: a `DynamicCache`.

    Raises:
        ValueError: For another implementation, or `"static"` on a backbone with sliding-window or hybrid layers.
    """
    implementation = config.cache_implementation
    if implementation not in CACHE_IMPLEMENTATIONS:
        raise ValueError(
            f"`cache_implementation` must be one of {list(CACHE_IMPLEMENTATIONS)} for `RMTForCausalLM.generate` "
            f"(rolling memory keeps one segment's cache), got {implementation!r}."
        )
    if implementation != "static" or stream.static_cache is not None:
        return
    backbone = model._segment_cell().backbone
    if not StaticSegmentCache.supports(backbone):
        raise ValueError(
            "`cache_implementation='static'` needs a backbone whose layers all use full attention; this "
            f"{backbone.config.model_type!r} backbone has sliding-window or hybrid layers: leave `cache_implementation` "
            "unset (a dynamic cache)."
        )
    # ARMT's layers read memory through hooks added for each call, which a compiled graph would not see.
    compile_step = model.device.type == "cuda" and not config.disable_compile and model.config.memory_type == "rmt"
    compile_config = (config.compile_config or CompileConfig()) if compile_step else None
    capacity = model.config.num_memory_tokens + 2 * model.config.segment_size
    stream.static_cache = StaticSegmentCache(backbone, capacity, compile_config)


def rolling_generate(
    model: Any,
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor | None,
    stream: RMTStream,
    config: GenerationConfig,
    logits_processor: Any,
    stopping_criteria: Any,
    tokenizer: Any,
) -> torch.LongTensor | GenerateDecoderOnlyOutput:
    """
    Generates from `input_ids` (the whole prompt) read through `stream`, with transformers' processors and criteria.

    Args:
        model (`RMTForCausalLM`): The model.
        input_ids (`torch.LongTensor`): `(batch, prompt_length)`, padding anywhere (left padding as usual).
        attention_mask (`torch.Tensor`, *optional*): 1 at real prompt tokens.
        stream (`RMTStream`): The stream that reads the prompt, then each new token; after generation it has read
            the new tokens too (the last one included).
        config (`GenerationConfig`): From `prepare_generation`.
        logits_processor, stopping_criteria: The user's, merged with those the config asks for.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): For stop strings.

    Returns:
        `(batch, prompt_length + new_tokens)` ids, or `GenerateDecoderOnlyOutput` with `return_dict_in_generate`.
    """
    batch, prompt_length = input_ids.shape
    device = input_ids.device
    model._prepare_special_tokens(config, attention_mask is not None, device=device, batch_size=batch)
    if config.stop_strings is not None and tokenizer is None:
        raise ValueError(
            f"`stop_strings`={config.stop_strings!r} (in the arguments of `generate` or the model's generation "
            "config) need the model's tokenizer: pass it as `tokenizer=` to `generate`."
        )
    processors = model._get_logits_processor(
        generation_config=config,
        input_ids_seq_length=prompt_length,
        encoder_input_ids=input_ids,
        prefix_allowed_tokens_fn=None,
        logits_processor=logits_processor if logits_processor is not None else LogitsProcessorList(),
        device=device,
        model_kwargs={"attention_mask": attention_mask},
    )
    criteria = model._get_stopping_criteria(
        generation_config=config,
        stopping_criteria=stopping_criteria if stopping_criteria is not None else StoppingCriteriaList(),
        tokenizer=tokenizer,
    )
    pad = config._pad_token_tensor
    has_eos_criteria = any(hasattr(c, "eos_token_id") for c in criteria)
    stop_length = _length_only_stop(criteria)
    keep_scores = config.return_dict_in_generate and config.output_scores
    keep_logits = config.return_dict_in_generate and config.output_logits
    scores: tuple = ()
    raw_logits: tuple = ()
    unfinished = torch.ones(batch, dtype=torch.long, device=device)

    logits = stream.feed(input_ids, attention_mask, logits_to_keep=1).logits[:, -1]
    while True:
        next_logits = logits.to(dtype=torch.float32, device=device)
        next_scores = processors(input_ids, next_logits)
        if keep_scores:
            scores += (next_scores,)
        if keep_logits:
            raw_logits += (next_logits,)
        if config.do_sample:
            tokens = torch.multinomial(torch.softmax(next_scores, dim=-1), num_samples=1).squeeze(1)
        else:
            tokens = next_scores.argmax(dim=-1)
        if has_eos_criteria and pad is not None:
            tokens = tokens * unfinished + pad * (1 - unfinished)
        input_ids = torch.cat([input_ids, tokens[:, None]], dim=-1)
        if stop_length is None:
            unfinished = unfinished & ~criteria(input_ids, scores)
        # The last token is read too, so the stream (and its memory) holds the whole generated sequence.
        logits = stream.read_next_token(tokens)
        if stop_length is not None:
            if input_ids.shape[1] >= stop_length:
                break
        elif not bool(unfinished.any()):  # one host sync per token, as transformers' `StopCheck`
            break

    if not config.return_dict_in_generate:
        return input_ids
    return GenerateDecoderOnlyOutput(
        sequences=input_ids, scores=scores if keep_scores else None, logits=raw_logits if keep_logits else None
    )


def _length_only_stop(criteria: StoppingCriteriaList) -> int | None:
    """
    The sequence length at which generation stops when the only criteria are maximum lengths (no eos, stop strings,
    time limit or custom criterion), None otherwise. Every sample then stops at once, at a length known in advance,
    so the loop decides on the host: reading the criteria's result back is a host sync per token, after which the
    device idles while the host prepares the next step, instead of the two overlapping. (A criterion with
    `max_position_embeddings` may warn when called, so it is left to its call.)
    """
    lengths_only = all(type(c) is MaxLengthCriteria and c.max_position_embeddings is None for c in criteria)
    return min(c.max_length for c in criteria) if criteria and lengths_only else None


__all__ = ["prepare_generation", "rolling_generate"]
