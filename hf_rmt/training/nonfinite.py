# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Skipping the optimizer updates whose gradients are not finite, instead of letting one of them ruin the run.

Backpropagation through many segments multiplies gradients segment after segment, and in bf16 without loss scaling a
rare batch can overflow: on an H200, `hf-rmt train --memory-type associative --bf16` learned Detect & Memorize to 99%
at 5 segments, then one step of the 6-segment stage had a finite loss and a NaN gradient norm
(`bench/results/session15_gpu/call3`). `Trainer` clips with that NaN norm and steps: every weight became NaN, the
stage's validation fell to chance, and the NaN model was saved and handed on to the next command. fp16's `GradScaler`
skips such steps; bf16 training has nothing that does. [`SkipNonFiniteStepsCallback`] does it for any `Trainer`: it
drops the step's gradients (`torch.optim` optimizers leave a parameter without gradient untouched, moments and step
count included), logs the step, and ends the run after `max_consecutive` such steps in a row, when training has
diverged rather than met a bad batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.utils import logging


logger = logging.get_logger(__name__)


def _total_norm(gradients: list[torch.Tensor]) -> torch.Tensor:
    # `torch.nn.utils.get_total_norm` (foreach kernels) is torch >= 2.6; hf_rmt supports torch >= 2.4, where the same
    # number comes from one norm per gradient.
    if hasattr(torch.nn.utils, "get_total_norm"):
        return torch.nn.utils.get_total_norm(gradients)
    device = gradients[0].device
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g).float().to(device) for g in gradients]))


def drop_nonfinite_gradients(parameters: Iterable[torch.nn.Parameter]) -> bool:
    """
    When any gradient of `parameters` holds NaN or inf, sets every one to `None`, so that the next `optimizer.step()`
    leaves all of them (and the optimizer's state) untouched; returns whether it did. For loops of one's own
    (accelerate): call it after `clip_grad_norm_` and before `optimizer.step()`, on the steps that sync gradients.

    Args:
        parameters (`Iterable[torch.nn.Parameter]`): The parameters the optimizer updates, e.g. `model.parameters()`.
    """
    parameters = [p for p in parameters if p.grad is not None]
    # One norm over every gradient, one sync: it is NaN or inf when any element is (or when finite gradients are too
    # large for their norm to be a float, which no update should follow either).
    if not parameters or bool(torch.isfinite(_total_norm([p.grad for p in parameters]))):
        return False
    for parameter in parameters:
        parameter.grad = None
    return True


class SkipNonFiniteStepsCallback(TrainerCallback):
    """
    Skips every optimizer update whose gradients hold NaN or inf, and ends training after `max_consecutive` of them in
    a row. The weights, the optimizer's moments and its step count stay as they were before the skipped step; the
    learning-rate schedule and `state.global_step` advance (the step counts as taken, so a curriculum's stages keep
    their lengths).

    The check runs in `on_pre_optimizer_step`, after gradients are accumulated, all-reduced and clipped, on the
    parameters' `.grad` (DDP ranks see the same gradients and skip together; DeepSpeed, whose optimizer keeps its own
    gradients, is not covered). It costs one pass over the gradients and one host sync a step.

    Args:
        max_consecutive (`int`, *optional*, defaults to 10): Skipped steps in a row that end training
            (`control.should_training_stop`); `0` never ends it.

    Attributes:
        skipped_steps (`list[int]`): The steps skipped, numbered as `state.global_step` numbers them once taken.
        stopped (`bool`): Whether this callback ended training.

    Example:

    ```python
    >>> guard = SkipNonFiniteStepsCallback()
    >>> trainer = Trainer(model, args, train_dataset=train, callbacks=[CurriculumCallback(curriculum), guard])
    >>> trainer.train()
    >>> guard.skipped_steps, guard.stopped
    ([], False)
    ```
    """

    def __init__(self, max_consecutive: int = 10):
        if isinstance(max_consecutive, bool) or not isinstance(max_consecutive, int) or max_consecutive < 0:
            raise ValueError(f"`max_consecutive` must be an integer >= 0 (0: never stop), got {max_consecutive!r}.")
        self.max_consecutive = max_consecutive
        self.skipped_steps: list[int] = []
        self.stopped = False
        self._consecutive = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.skipped_steps, self.stopped, self._consecutive = [], False, 0

    def on_pre_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ):
        if model is None or not drop_nonfinite_gradients(model.parameters()):
            self._consecutive = 0
            return control
        step = state.global_step + 1
        self.skipped_steps.append(step)
        self._consecutive += 1
        logger.warning(
            f"Step {step}: the gradient holds NaN or inf values; this update was skipped (the weights and the "
            f"optimizer state are unchanged; {len(self.skipped_steps)} skipped so far)."
        )
        if self.max_consecutive and self._consecutive >= self.max_consecutive:
            self.stopped = True
            control.should_training_stop = True
            logger.error(
                f"Training stops at step {step}: its last {self._consecutive} steps all had NaN or inf gradients, so "
                "it has diverged (first skipped step: "
                f"{self.skipped_steps[-self._consecutive]}). The weights are those from before that step; try a "
                "lower learning rate, float32, or truncated BPTT (`bptt_depth`)."
            )
        return control

    def record(self) -> dict[str, Any]:
        """What a run record keeps of the skipped steps: `nonfinite_steps_skipped` (the steps) when there were any, and
        `stopped_by` when they ended training."""
        record: dict[str, Any] = {"nonfinite_steps_skipped": list(self.skipped_steps)} if self.skipped_steps else {}
        if self.stopped:
            record["stopped_by"] = "non-finite gradients"
        return record

    def summary(self, where: str = "") -> str:
        """One line for the user: how many steps were skipped, and whether training diverged (`where`, e.g. "in the
        stage of 6 segments", says where it stopped)."""
        steps = self.skipped_steps
        shown = ", ".join(map(str, steps[:10])) + (", ..." if len(steps) > 10 else "")
        if not self.stopped:
            return f"{len(steps)} steps had NaN or inf gradients and were skipped (steps {shown})."
        return (
            f"Training DIVERGED: it stopped at step {steps[-1]}{' ' + where if where else ''}, after "
            f"{self._consecutive} steps in a row with NaN or inf gradients ({len(steps)} skipped in all: steps "
            f"{shown}). Its weights are those from before those steps (with validation, the stage's best validated "
            "state)."
        )


__all__ = ["SkipNonFiniteStepsCallback", "drop_nonfinite_gradients"]
