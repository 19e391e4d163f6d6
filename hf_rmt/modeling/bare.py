# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTModel`: RMT around a bare backbone (`AutoModel`)."""

from __future__ import annotations

from typing import Any

import torch

from ..mapping import MODEL_TASKS
from .base import FORWARD_ARGS_DOC, RMTPreTrainedModel
from .heads import HiddenStatesHead
from .outputs import RMTModelOutput


class RMTModel(RMTPreTrainedModel):
    """RMT around a bare backbone (`AutoModel`): the last hidden states of the input's tokens, and the memory."""

    _backbone_auto_class = MODEL_TASKS["base"].auto_class
    task = "base"

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        hidden_states_to_keep: int = 0,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTModelOutput | tuple:
        batch, _ = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        inputs = input_ids if input_ids is not None else inputs_embeds
        plan = self.make_plan(inputs, attention_mask)

        memory, results = self.run_segments(plan, inputs, memory_state, HiddenStatesHead(plan, hidden_states_to_keep))
        per_step = [(step, kept.hidden) for step, kept in results if kept is not None]
        hidden = plan.scatter_to_input(per_step, self.layout.padding_side, hidden_states_to_keep)
        output = RMTModelOutput(last_hidden_state=hidden, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        FORWARD_ARGS_DOC
        + r"""            hidden_states_to_keep (`int`, *optional*, defaults to 0): Keep only each sample's last `k` hidden
                states (0 keeps all), so a long input does not materialise one vector per token.
"""
    )


__all__ = ["RMTModel"]
