# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The step heads of the tasks: at which steps each task runs the backbone's head, and what it keeps of a step.

Each head returns a `NamedTuple`, so the model classes read what they kept by name. Everything a head keeps is
computed inside the step (`StepHead.extract`), so segment recomputation recomputes it rather than storing what leads
to it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from ..core.layouts import MemoryLayout
from ..core.lm_loss import LMHeadWeights, chunked_lm_loss
from ..core.recurrence import StepHead
from ..core.segments import SegmentPlan, SegmentStep


class HiddenStates(NamedTuple):
    hidden: torch.Tensor  # (rows, max_length, hidden): the body's last hidden states at the segment's tokens


class HiddenStatesHead(StepHead):
    """`RMTModel`: no head; keeps the hidden states of the steps that hold one of a sample's last `keep` tokens (all
    steps for `keep=0`)."""

    output_type = HiddenStates

    def __init__(self, plan: SegmentPlan, keep: int):
        self.plan, self.keep = plan, keep

    def keeps(self, t: int, head_kwargs: dict[str, Any] | None) -> bool:
        return self.plan.touches_tail(t, self.keep)

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> HiddenStates:
        return HiddenStates(content_hidden)


class Classification(NamedTuple):
    logits: torch.Tensor
    loss: torch.Tensor | None


class SequenceClassificationHead(StepHead):
    """The backbone's classification head (and its loss) on the last step, where every sample runs its last segment
    (segments are aligned at the end; the official `process_outputs` reads the last segment's output)."""

    output_type = Classification

    def __init__(self, last: int, labels: torch.Tensor | None):
        self.last, self.labels = last, labels

    def head_kwargs(self, t: int, step: SegmentStep) -> dict[str, Any] | None:
        if t != self.last:
            return None
        return {"labels": self.labels} if self.labels is not None else {}

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> Classification:
        return Classification(head_output.logits, head_output.loss)


class TokenLogits(NamedTuple):
    logits: torch.Tensor  # (rows, max_length, num_outputs) at the segment's tokens


class PerTokenHead(StepHead):
    """Token classification and masked LM: the backbone's head on every step, its outputs at the segment's tokens."""

    output_type = TokenLogits

    def __init__(self, layout: MemoryLayout):
        self.layout = layout

    def head_kwargs(self, t: int, step: SegmentStep) -> dict[str, Any] | None:
        return {}

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> TokenLogits:
        return TokenLogits(self.layout.read_content(head_output.logits, step.max_length))


class CausalLMStep(NamedTuple):
    loss: torch.Tensor | None  # this step's share of the mean next-token loss
    logits: torch.Tensor | None  # kept only on the steps that hold one of a sample's last `logits_to_keep` tokens


class CausalLMHead(StepHead):
    """
    The next-token loss of every scored step and the logits of the steps whose logits are kept; the loss is summed
    per step and divided by the whole input's denominator, so the steps' shares add up to the mean over all scored
    tokens. A step whose logits are kept runs the backbone's head; a scored step whose logits are not, with a linear
    head (`linear_head`), computes its loss by chunks from the last hidden states (`chunked_lm_loss`), never holding
    the segment's logits.

    Args:
        plan (`SegmentPlan`): The segmentation.
        layout (`MemoryLayout`): The row format (where the segment's logits are).
        targets (`torch.Tensor`, *optional*): `(batch, seq_len)` next-token targets among the valid tokens, -100
            where unscored; None without labels.
        denominator (`int` or `torch.Tensor`, *optional*): The loss's denominator.
        logits_to_keep (`int` or `None`): Keep logits for each sample's last `k` tokens (0: all; None: none).
        head_takes_logits_to_keep (`bool`): The backbone's head accepts `logits_to_keep` (positions).
        linear_head (`LMHeadWeights`, *optional*): The head as a linear map, for the chunked loss; None: the
            backbone's head on every scored step.
        chunk_size (`int`, *optional*): Rows per chunk of the chunked loss.
    """

    output_type = CausalLMStep

    def __init__(
        self,
        plan: SegmentPlan,
        layout: MemoryLayout,
        targets: torch.Tensor | None,
        denominator: int | torch.Tensor | None,
        logits_to_keep: int | None,
        head_takes_logits_to_keep: bool,
        linear_head: LMHeadWeights | None = None,
        chunk_size: int | None = None,
    ):
        self.plan, self.layout = plan, layout
        self.targets, self.denominator = targets, denominator
        self.logits_to_keep = logits_to_keep
        self.head_takes_logits_to_keep = head_takes_logits_to_keep
        self.linear_head = linear_head if chunk_size is not None else None
        self.chunk_size = chunk_size

    def _keeps_logits(self, t: int) -> bool:
        return self.logits_to_keep is not None and self.plan.touches_tail(t, self.logits_to_keep)

    def head_kwargs(self, t: int, step: SegmentStep) -> dict[str, Any] | None:
        if not self._keeps_logits(t) and (self.targets is None or self.linear_head is not None):
            return None  # the body alone: nothing kept, or the loss from the hidden states by chunks
        if self.head_takes_logits_to_keep:
            # Only the segment's positions reach the LM head, not the memory's.
            return {"logits_to_keep": self.layout.content_positions(step.max_length, self.plan.num_tokens.device)}
        return {}

    def keeps(self, t: int, head_kwargs: dict[str, Any] | None) -> bool:
        return head_kwargs is not None or self.targets is not None

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> CausalLMStep:
        logits = None
        if head_output is not None:
            logits = head_output.logits
            if not self.head_takes_logits_to_keep:
                logits = self.layout.read_content(logits, step.max_length)
        kept = logits if self._keeps_logits(t) else None
        if self.targets is None:
            return CausalLMStep(None, kept)
        index, real = step.valid_index(self.layout.padding_side)
        rows = self.targets if step.rows is None else self.targets[step.rows]
        step_targets = rows.gather(1, index.clamp(max=self.plan.seq_len - 1)).masked_fill(~real, -100)
        if logits is None:
            loss = chunked_lm_loss(content_hidden, self.linear_head, step_targets, self.chunk_size)
        else:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), step_targets.flatten(), reduction="sum")
        return CausalLMStep(loss / self.denominator, kept)


class EncoderRow(NamedTuple):
    hidden: torch.Tensor  # (batch, row_length, hidden): the encoder's outputs at every position of the row
    mask: torch.Tensor | None  # (batch, row_length) 1 at real positions; None when no row is padded


class EncoderRowHead(StepHead):
    """Seq2seq LM: keeps the encoder's whole row of the last step, memory and special tokens included, for the decoder
    to attend to (the official `RMTEncoderDecoderForConditionalGeneration` decodes from the last segment's encoder
    outputs); the steps before it only carry memory forward."""

    output_type = EncoderRow

    def __init__(self, layout: MemoryLayout, last: int):
        self.layout, self.last = layout, last

    def head_kwargs(self, t: int, step: SegmentStep) -> dict[str, Any] | None:
        # The "head" of an encoder is the encoder itself: asking for its output hands `extract` the whole row.
        return {} if t == self.last else None

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> EncoderRow:
        hidden = head_output[0]
        return EncoderRow(hidden, self.layout.row_mask(step, hidden.shape[1]))


__all__ = [
    "CausalLMHead",
    "CausalLMStep",
    "Classification",
    "EncoderRow",
    "EncoderRowHead",
    "HiddenStates",
    "HiddenStatesHead",
    "PerTokenHead",
    "SequenceClassificationHead",
    "TokenLogits",
]
