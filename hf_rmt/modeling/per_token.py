# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Token-level heads: `RMTForTokenClassification` and `RMTForMaskedLM`, one output per input token."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..mapping import MODEL_TASKS
from .base import FORWARD_ARGS_DOC, RMTPreTrainedModel
from .heads import PerTokenHead
from .outputs import RMTTokenOutput


class _RMTPerTokenHead(RMTPreTrainedModel):
    """Token-level heads: the backbone head runs on every segment; outputs come back in the input's order."""

    def _check_labels(self, labels: torch.Tensor | None, batch: int, seq_len: int) -> None:
        if labels is not None and tuple(labels.shape) != (batch, seq_len):
            raise ValueError(
                f"`labels` must have the input's shape ({batch}, {seq_len}) with -100 for ignored tokens, got "
                f"{tuple(labels.shape)}."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTTokenOutput | tuple:
        batch, seq_len = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        self._check_labels(labels, batch, seq_len)
        inputs = input_ids if input_ids is not None else inputs_embeds
        plan = self.make_plan(inputs, attention_mask)
        memory, results = self.run_segments(plan, inputs, memory_state, PerTokenHead(self.layout))
        logits = plan.scatter_to_input([(step, kept.logits) for step, kept in results], self.layout.padding_side)
        loss = None
        if labels is not None:
            if attention_mask is not None:
                labels = labels.masked_fill(attention_mask == 0, -100)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten().to(logits.device), ignore_index=-100)
        output = RMTTokenOutput(loss=loss, logits=logits, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): Per-token targets
                (tag ids, or original ids at masked positions), -100 to ignore a token.
"""
    )


class RMTForTokenClassification(_RMTPerTokenHead):
    """RMT around a token-classification backbone: one prediction per input token, across all segments."""

    _backbone_auto_class = MODEL_TASKS["token-classification"].auto_class
    task = "token-classification"


class RMTForMaskedLM(_RMTPerTokenHead):
    """RMT around a masked-LM backbone: vocabulary logits for every input token, across all segments."""

    _backbone_auto_class = MODEL_TASKS["masked-lm"].auto_class
    task = "masked-lm"


__all__ = ["RMTForMaskedLM", "RMTForTokenClassification"]
