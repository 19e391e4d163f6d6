# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTForSeq2SeqLM`: an encoder-decoder (T5, BART) whose encoder reads an input of any length segment by segment."""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from ..config import RMTConfig
from ..core.backbone import BackboneCaller
from ..core.recurrence import SegmentCell
from ..mapping import MODEL_TASKS
from .base import FORWARD_ARGS_DOC, RMTPreTrainedModel
from .heads import EncoderRowHead
from .outputs import RMTSeq2SeqLMOutput


class RMTForSeq2SeqLM(RMTPreTrainedModel, GenerationMixin):
    """
    RMT around an encoder-decoder backbone with its language-model head (`AutoModelForSeq2SeqLM`: T5, mT5, BART, ...),
    as the official `RMTEncoderDecoderForConditionalGeneration`. The memory lives in the encoder: each segment runs as
    `[BOS] mem segment [EOS]` (the BOS only for backbones that have one, such as BART) and the encoder's outputs at the
    memory positions become the next segment's memory. The decoder is the backbone's own and runs once, cross-attending
    to the encoder's outputs of the last segment's row, memory included: everything before the last segment reaches it
    through memory. `labels` work as for any seq2seq model (the backbone shifts them into `decoder_input_ids` and
    computes its loss), and `generate` decodes with the backbone's own `generate`.
    """

    _backbone_auto_class = MODEL_TASKS["seq2seq-lm"].auto_class
    task = "seq2seq-lm"

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        # The segment steps run the encoder alone; its forward is what the caller inspects.
        self._backbone_caller = BackboneCaller(self.backbone.get_encoder())

    def _segment_cell(self) -> SegmentCell:
        # Looked up at each call: peft may have replaced modules inside the encoder.
        cell = super()._segment_cell()
        cell.backbone = self.backbone.get_encoder()
        return cell

    def encode(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        Runs the encoder over every segment of the input, carrying memory from segment to segment.

        Args:
            input_ids, attention_mask, inputs_embeds, memory_state: As in `forward`.

        Returns:
            `(memory_state, encoder_hidden_states, encoder_attention_mask)`: the memory after the last segment, the
            encoder's outputs of the last segment's row `(batch, row_length, hidden)` (memory included) and its mask
            `(batch, row_length)`, what the decoder attends to.
        """
        self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        inputs = input_ids if input_ids is not None else inputs_embeds
        plan = self.make_plan(inputs, attention_mask)
        memory, results = self.run_segments(plan, inputs, memory_state, EncoderRowHead(self.layout, len(plan) - 1))
        row = results[-1][1]
        mask = row.mask
        if mask is None:
            mask = torch.ones(row.hidden.shape[:2], dtype=torch.long, device=row.hidden.device)
        return memory, row.hidden, mask

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTSeq2SeqLMOutput | tuple:
        batch, _ = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        _check_decoder_inputs(batch, decoder_input_ids, decoder_attention_mask, labels)
        memory, hidden, mask = self.encode(input_ids, attention_mask, inputs_embeds, memory_state)
        output = self.backbone(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            labels=labels,
            use_cache=False,  # the decoder runs once per forward: no cache to reuse
            return_dict=True,
        )
        result = RMTSeq2SeqLMOutput(
            loss=output.loss, logits=output.logits, memory_state=memory, encoder_last_hidden_state=hidden
        )
        return result if return_dict is not False else result.to_tuple()

    forward.__doc__ = (
        FORWARD_ARGS_DOC
        + r"""            decoder_input_ids (`torch.LongTensor` of shape `(batch_size, target_length)`, *optional*): The
                decoder's input; built from `labels` by the backbone (shifted right after its decoder start token)
                when not given.
            decoder_attention_mask (`torch.Tensor` of shape `(batch_size, target_length)`, *optional*): Mask of
                `decoder_input_ids` (of the shifted `labels` when those build them).
            labels (`torch.LongTensor` of shape `(batch_size, target_length)`, *optional*): The target's token ids,
                -100 for unscored positions (padding); the loss is the backbone's mean cross-entropy over them.
"""
    )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        **generate_kwargs: Any,
    ) -> Any:
        r"""
        Generates the target of an input of any length.

        The encoder reads the input segment by segment (`encode`); the backbone's own `generate` then decodes,
        cross-attending to the last segment's row, with its KV cache and every generation option.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): The input (padding anywhere in
                `attention_mask`), without special tokens.
            attention_mask (`torch.Tensor`, *optional*): 1 for real input tokens.
            inputs_embeds (`torch.FloatTensor`, *optional*): Input embeddings instead of `input_ids`.
            memory_state (`torch.FloatTensor`, *optional*): Memory to start from.
            generate_kwargs: Passed to the backbone's `generate` (`max_new_tokens`, `num_beams`, a
                `GenerationConfig`, ...).

        Returns:
            What the backbone's `generate` returns: `torch.LongTensor` of shape `(batch_size, 1 + new_tokens)`, the
            decoder start token followed by the generated tokens (or a `GenerateOutput` when asked for one).
        """
        if input_ids is None and inputs_embeds is None:
            raise ValueError("`generate` needs `input_ids` (or `inputs_embeds`): the input to encode.")
        _, hidden, mask = self.encode(input_ids, attention_mask, inputs_embeds, memory_state)
        return self.backbone.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask, **generate_kwargs
        )


def _check_decoder_inputs(
    batch: int,
    decoder_input_ids: torch.Tensor | None,
    decoder_attention_mask: torch.Tensor | None,
    labels: torch.Tensor | None,
) -> None:
    """The decoder's inputs: `labels` or `decoder_input_ids`, `(batch, target_length)` each, and a mask of their shape."""
    if labels is None and decoder_input_ids is None:
        raise ValueError(
            "RMTForSeq2SeqLM's forward needs `labels` or `decoder_input_ids` (the decoder's input), got neither; "
            "to produce a target, call `generate`."
        )
    for name, value in (("labels", labels), ("decoder_input_ids", decoder_input_ids)):
        if value is not None and (value.dim() != 2 or value.shape[0] != batch or value.is_floating_point()):
            raise ValueError(
                f"`{name}` must be integer token ids of shape ({batch}, target_length), got {tuple(value.shape)} of "
                f"{value.dtype}."
            )
    target = decoder_input_ids if decoder_input_ids is not None else labels
    if decoder_attention_mask is not None and decoder_attention_mask.shape != target.shape:
        raise ValueError(
            f"`decoder_attention_mask` must have the decoder input's shape {tuple(target.shape)}, got "
            f"{tuple(decoder_attention_mask.shape)}."
        )


__all__ = ["RMTForSeq2SeqLM"]
