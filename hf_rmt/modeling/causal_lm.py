# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTForCausalLM`: next-token loss across segment boundaries, and generation after a prompt of any length."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    GenerationMixin,
    LogitsProcessorList,
    PreTrainedModel,
    StoppingCriteriaList,
)
from transformers.utils import ModelOutput

from ..config import RMTConfig
from ..core.lm_loss import lm_head_weights
from ..core.memory import MemoryState
from ..mapping import MODEL_TASKS
from .base import FORWARD_ARGS_DOC, RMTPreTrainedModel
from .generation import prepare_generation, rolling_generate, set_cache_implementation
from .heads import CausalLMHead
from .outputs import RMTTokenOutput
from .streaming import STREAM_DOC, RMTStream, open_stream


class RMTForCausalLM(RMTPreTrainedModel, GenerationMixin):
    """
    RMT around a causal-LM backbone. The loss is the ordinary shifted next-token loss over the whole input, across
    segment boundaries (the last token of a segment predicts the first of the next), a mean over all scored tokens as
    in the official `RecurrentWrapper`. It is accumulated segment by segment inside each step; the steps whose logits
    are not returned compute it by chunks of `config.loss_chunk_size` tokens without materialising their logits
    (`config.skip_logits_in_training` returns none in training).
    """

    _backbone_auto_class = MODEL_TASKS["causal-lm"].auto_class
    task = "causal-lm"
    accepts_loss_kwargs = True

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        self._head_takes_logits_to_keep = "logits_to_keep" in inspect.signature(self.backbone.forward).parameters
        self._share_backbone_generation_config()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        logits_to_keep: int = 0,
        num_items_in_batch: int | torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTTokenOutput | tuple:
        batch, seq_len = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        if labels is not None and tuple(labels.shape) != (batch, seq_len):
            raise ValueError(
                f"`labels` must have the input's shape ({batch}, {seq_len}) with -100 for unscored tokens, got "
                f"{tuple(labels.shape)}."
            )
        if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, int) or logits_to_keep < 0:
            raise ValueError(f"`logits_to_keep` must be an integer >= 0 (0 keeps all), got {logits_to_keep!r}.")
        inputs = input_ids if input_ids is not None else inputs_embeds
        plan = self.make_plan(inputs, attention_mask)

        targets = denominator = None
        if labels is not None:
            # Shift among each sample's valid tokens: valid token k predicts valid token k + 1.
            compact = plan.compact(labels.to(inputs.device))
            targets = torch.cat([compact[:, 1:], compact.new_full((batch, 1), -100)], dim=1)
            beyond = torch.arange(seq_len, device=inputs.device)[None] >= (plan.num_tokens - 1)[:, None]
            targets = targets.masked_fill(beyond, -100)
            denominator = num_items_in_batch if num_items_in_batch is not None else (targets != -100).sum()
            if isinstance(denominator, torch.Tensor):
                denominator = denominator.to(inputs.device).clamp(min=1)
            else:
                denominator = max(int(denominator), 1)

        # The training-speed option returns no logits but the last `logits_to_keep` asked for (None: none).
        skip_logits = self.config.skip_logits_in_training and self.training and labels is not None
        keep = (logits_to_keep or None) if skip_logits else logits_to_keep
        chunk_size = self.config.loss_chunk_size if labels is not None else None
        linear_head = lm_head_weights(self.backbone) if chunk_size is not None else None
        head = CausalLMHead(
            plan, self.layout, targets, denominator, keep, self._head_takes_logits_to_keep, linear_head, chunk_size
        )
        memory, results = self.run_segments(plan, inputs, memory_state, head)
        kept = [(step, out) for step, out in results if out is not None]
        loss = torch.stack([out.loss for _, out in kept]).sum() if labels is not None else None
        per_step = [(step, out.logits) for step, out in kept if out.logits is not None]
        logits = plan.scatter_to_input(per_step, self.layout.padding_side, keep or 0)
        output = RMTTokenOutput(loss=loss, logits=logits, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): Usually the
                input ids, -100 for unscored tokens; shifted inside (token k predicts token k + 1).
            logits_to_keep (`int`, *optional*, defaults to 0): Return logits only for each sample's last `k` tokens (0
                keeps all). The loss is computed over all tokens either way, by chunks on the steps whose logits are
                not kept (`config.loss_chunk_size`). With `config.skip_logits_in_training`, a training forward with
                `labels` returns no logits unless `logits_to_keep` > 0.
            num_items_in_batch (`int`, *optional*): Denominator of the loss (Trainer passes it under gradient
                accumulation); the number of scored tokens otherwise.
"""
    )

    def _share_backbone_generation_config(self) -> None:
        # The backbone's generation defaults (eos, pad, bos, ...) are the model's: one object, as `config.base_config`
        # is the backbone's config, so a setting changed on either is the one `generate` uses.
        if self.backbone.generation_config is not None:
            self.generation_config = self.backbone.generation_config

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        memory_state: MemoryState | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        stopping_criteria: StoppingCriteriaList | None = None,
        tokenizer: Any = None,
        stream: RMTStream | None = None,
        **generate_kwargs: Any,
    ) -> torch.LongTensor | ModelOutput:
        r"""
        Generates a continuation of a prompt of any length, for any number of new tokens (rolling memory).

        The prompt and then each new token are read as by `forward` over the growing sequence: tokens of the current
        segment are scored from the memory and the segment so far (with the backbone's KV cache of the segment), and
        when a segment reaches `segment_size` tokens it runs through the recurrence as in `forward`, which writes the
        next memory; generation goes on in a new segment. Greedy tokens are therefore the argmax of `forward`'s logits
        on the growing sequence, whose segment boundaries are `make_plan`'s (each sample's own: a left-padded prompt's
        boundaries count from its first real token). The backbone only ever holds one segment and its memory, so
        `max_new_tokens` has no limit. Needs `segment_alignment="left"` (the decoder default).

        Lengths and stopping count as transformers counts them for a plain model given the same `input_ids`:
        `max_length` and `min_length` include the whole prompt (padding too), `max_new_tokens`/`min_new_tokens`
        count new tokens, `model.generation_config` (the backbone's, shared) is the default, and logits processors
        (the config's, such as `repetition_penalty`, and the user's), stop strings and stopping criteria see the
        whole prompt followed by the new tokens. Greedy decoding and sampling; no beam search.

        `cache_implementation="static"` (an argument or in the generation config) keeps the current segment's KV
        cache in one preallocated `StaticCache` and, on CUDA, compiles the one-token step as transformers does for a
        plain model with a static cache (CUDA graphs; `disable_compile=True` turns it off, `compile_config` tunes
        it): the same tokens, without the host bounding each step. The default is a dynamic cache.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): The prompt (padding anywhere).
            attention_mask (`torch.Tensor`, *optional*): 1 for real prompt tokens.
            memory_state (`torch.FloatTensor`, *optional*): Memory to start from.
            generation_config (`GenerationConfig`, *optional*): As in transformers' `generate`.
            logits_processor (`LogitsProcessorList`, *optional*): Custom processors, given the whole sequence.
            stopping_criteria (`StoppingCriteriaList`, *optional*): Custom criteria, given the whole sequence.
            tokenizer (`PreTrainedTokenizerBase`, *optional*): Needed for `stop_strings`.
            stream (`RMTStream`, *optional*): A stream to continue (`model.stream()`, e.g. a conversation): the prompt
                follows what it has read, and afterwards it has read the prompt and every new token
                (`stream.memory_state` is then `forward`'s memory on the whole sequence).
            generate_kwargs: Generation options (`max_new_tokens`, `do_sample`, `eos_token_id`, ...), as for
                transformers' `generate`.

        Returns:
            `torch.LongTensor` of shape `(batch_size, sequence_length + new_tokens)`: prompt followed by the new tokens
            (with `return_dict_in_generate=True`, transformers' output with these `sequences`).
        """
        if input_ids is None:
            raise ValueError("`generate` needs `input_ids` (the prompt, a `(batch, length)` tensor of ids), got None.")
        batch, _ = self._check_inputs(input_ids, None, attention_mask, memory_state)
        config, model_kwargs = prepare_generation(self, input_ids, generation_config, generate_kwargs)
        unused = sorted(k for k, v in model_kwargs.items() if v is not None and k != "use_cache")
        if unused:
            raise ValueError(f"`generate` got arguments that are neither generation options nor used: {unused}.")
        if stream is None:
            stream = self.stream(batch, memory_state)
        elif memory_state is not None:
            raise ValueError("Pass `memory_state` or `stream` (which holds the memory), not both.")
        set_cache_implementation(self, stream, config)
        return rolling_generate(
            self, input_ids, attention_mask, stream, config, logits_processor, stopping_criteria, tokenizer
        )

    def stream(
        self, batch_size: int = 1, memory_state: MemoryState | None = None, state_dict: dict[str, Any] | None = None
    ) -> RMTStream:
        return open_stream(self, batch_size, memory_state, state_dict)

    stream.__doc__ = STREAM_DOC


__all__ = ["RMTForCausalLM"]
