# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTForSequenceClassification`: one prediction for a whole input, from the last segment."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel
from transformers.utils import logging

from ..config import RMTConfig
from ..core.memory import MemoryState
from ..mapping import MODEL_TASKS
from .base import FORWARD_ARGS_DOC, RMTPreTrainedModel
from .heads import SequenceClassificationHead
from .outputs import RMTSequenceClassifierOutput
from .streaming import STREAM_DOC, RMTStream, open_stream


logger = logging.get_logger(__name__)


class RMTForSequenceClassification(RMTPreTrainedModel):
    """
    RMT around a sequence-classification backbone: the prediction is the backbone head's output on the last segment,
    which sees the whole input through memory (arXiv:2304.11062, the official `process_outputs` uses the last
    segment's output). The head and its loss (single-label, multi-label or regression, from the backbone's config)
    are the backbone's own.
    """

    _backbone_auto_class = MODEL_TASKS["sequence-classification"].auto_class
    task = "sequence-classification"

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        backbone_config = self.backbone.config
        if self.layout.last_position_is_memory and getattr(backbone_config, "pad_token_id", None) is None:
            # Decoder classification heads refuse batches without a pad id, then read the last position of
            # `inputs_embeds`, which in the decoder layout is always the last write-memory token (never padding).
            eos = (
                backbone_config.eos_token_id if isinstance(getattr(backbone_config, "eos_token_id", None), int) else 0
            )
            backbone_config.pad_token_id = eos
            logger.info(f"Set the backbone's pad_token_id to {eos}: its classification head reads the last position.")

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.Tensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTSequenceClassifierOutput | tuple:
        batch, _ = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        if labels is not None and (labels.dim() not in (1, 2) or labels.shape[0] != batch):
            raise ValueError(
                f"`labels` must have shape ({batch},) (class ids or regression targets) or ({batch}, num_labels), got "
                f"{tuple(labels.shape)}."
            )
        inputs = input_ids if input_ids is not None else inputs_embeds
        plan = self.make_plan(inputs, attention_mask)
        head = SequenceClassificationHead(last=len(plan) - 1, labels=labels)
        memory, results = self.run_segments(plan, inputs, memory_state, head)
        final = results[-1][1]
        output = RMTSequenceClassifierOutput(loss=final.loss, logits=final.logits, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*): Class ids (or regression targets).
"""
    )

    def stream(
        self, batch_size: int = 1, memory_state: MemoryState | None = None, state_dict: dict[str, Any] | None = None
    ) -> RMTStream:
        return open_stream(self, batch_size, memory_state, state_dict)

    stream.__doc__ = STREAM_DOC


__all__ = ["RMTForSequenceClassification"]
