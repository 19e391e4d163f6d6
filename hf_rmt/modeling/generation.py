# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Generation arguments counted as transformers counts them for a plain model on the same prompt.

`RMTForCausalLM.generate` reads the prompt's earlier segments into memory and hands the backbone's `generate` only
`[read mem | last segment]` as `inputs_embeds`; the backbone's sequence then holds the new tokens alone. Every argument
that counts or reads the sequence (`max_length`, `min_length`, a `GenerationConfig` on the model, stop strings,
custom stopping criteria and logits processors) would count against that row instead of the prompt. Here they are
resolved on the whole prompt first, with transformers' own rules (`GenerationMixin`'s, which `RMTForCausalLM`
inherits), and handed on as counts of new tokens; whatever reads the sequence sees the prompt in front of it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessor, StoppingCriteria, StopStringCriteria


def _with_prompt(prompt: torch.Tensor, sequence: torch.Tensor) -> torch.Tensor:
    """`prompt` in front of `sequence` (the new tokens), its rows repeated for beams and returned sequences (which
    `generate` expands with `repeat_interleave`, each sample's copies next to each other)."""
    if prompt.shape[0] != sequence.shape[0]:
        prompt = prompt.repeat_interleave(sequence.shape[0] // prompt.shape[0], dim=0)
    return torch.cat([prompt.to(sequence.device), sequence], dim=1)


class PromptedStoppingCriteria(StoppingCriteria):
    """A stopping criterion that sees the whole prompt followed by the new tokens, as with a plain model.

    Args:
        criteria (`StoppingCriteria`): The criterion (a stop string, the user's own).
        prompt (`torch.LongTensor`): `(batch, prompt_length)` the prompt, padding included.
    """

    def __init__(self, criteria: StoppingCriteria, prompt: torch.Tensor):
        self.criteria, self.prompt = criteria, prompt

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return self.criteria(_with_prompt(self.prompt, input_ids), scores, **kwargs)


class PromptedLogitsProcessor(LogitsProcessor):
    """A logits processor that sees the whole prompt followed by the new tokens, as with a plain model.

    Args:
        processor (`LogitsProcessor`): The user's processor.
        prompt (`torch.LongTensor`): `(batch, prompt_length)` the prompt, padding included.
    """

    def __init__(self, processor: LogitsProcessor, prompt: torch.Tensor):
        self.processor, self.prompt = processor, prompt

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return self.processor(_with_prompt(self.prompt, input_ids), scores)


def backbone_generate_kwargs(
    model: Any,
    input_ids: torch.Tensor,
    generation_config: GenerationConfig | None,
    logits_processor: Any,
    stopping_criteria: Any,
    tokenizer: Any,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """
    The keyword arguments of the backbone's `generate` (which sees only the new tokens) that make it stop and
    constrain as `model.generate` would for a plain model given `input_ids`.

    Args:
        model (`RMTForCausalLM`): The model; its `generation_config` is the default, as for any transformers model.
        input_ids (`torch.LongTensor`): `(batch, prompt_length)` the whole prompt, padding included.
        generation_config (`GenerationConfig`, *optional*): Passed to `generate`.
        logits_processor, stopping_criteria: Passed to `generate`; they are given the prompt in front of the new
            tokens.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): For stop strings.
        kwargs (`dict`): The other arguments of `generate` (generation options and model kwargs).

    Returns:
        `dict`: `generation_config` (lengths as counts of new tokens, no stop strings), the wrapped criteria and
        processors, and the remaining model kwargs.

    Raises:
        ValueError: as transformers raises for a plain model, e.g. `max_length` not above the prompt's length, or
            stop strings without a tokenizer.
    """
    prompt_length = input_ids.shape[1]
    # transformers' rules, in its own order (`GenerationMixin.generate`): which lengths the user set, the merged
    # config (kwargs > `generation_config` > the model's > global defaults), then lengths on the prompt.
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

    backbone_config = copy.deepcopy(config)
    # The backbone's sequence starts empty: a length on the whole prompt is a count of new tokens.
    backbone_config.max_new_tokens = config.max_length - prompt_length
    backbone_config.min_new_tokens = max((config.min_length or 0) - prompt_length, 0)
    backbone_config.max_length = backbone_config.min_length = None
    criteria = [PromptedStoppingCriteria(c, input_ids) for c in stopping_criteria or []]
    if config.stop_strings is not None:
        if tokenizer is None:
            raise ValueError(
                f"`stop_strings`={config.stop_strings!r} (in the arguments of `generate` or the model's generation "
                "config) need the model's tokenizer: pass it as `tokenizer=` to `generate`."
            )
        # Built here, on the prompt plus the new tokens, so a stop string may end in the first new token.
        criteria.append(PromptedStoppingCriteria(StopStringCriteria(tokenizer, config.stop_strings), input_ids))
        backbone_config.stop_strings = None
    result: dict[str, Any] = {"generation_config": backbone_config, **model_kwargs}
    if criteria:
        result["stopping_criteria"] = criteria
    if logits_processor:
        result["logits_processor"] = [PromptedLogitsProcessor(p, input_ids) for p in logits_processor]
    return result


__all__ = ["PromptedLogitsProcessor", "PromptedStoppingCriteria", "backbone_generate_kwargs"]
