# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Curriculum over the number of segments, as every RMT paper trains.

- 1M-token paper (arXiv:2304.11062, section 4.1): start with one segment, add one segment per stage, a stage lasting a
  fixed number of steps or until the validation metric converges
  ([`SegmentCurriculum.one_segment_per_stage`]).
- BABILong (arXiv:2406.10149, appendix C): stages of 1, 2, 4, 6, 8, 16, 32 segments; each batch of a stage draws its
  number of segments uniformly from 1 to the stage's maximum ([`SegmentCurriculum.babilong`]).

Two parts share one [`SegmentCurriculum`]: [`CurriculumDataset`] builds each batch at its number of segments (by
regenerating a task sample at that length or by truncating a long one), and the training loop reports steps and
metrics (`CurriculumCallback` in `hf_rmt.training.callbacks` for `Trainer`; two method calls in an `accelerate` loop).

Reproducibility. Batches are numbered in the order the data pipeline builds them; the number of segments of batch `b`
is a pure function of `b`, the stage history and the seed. Stages that end after a number of steps are known in
advance; a stage ended by a metric is recorded together with the first batch it applies to, chosen after every batch
that the data loader has already prefetched. The history and the number of batches consumed are saved in checkpoints,
so a resumed run builds exactly the batches the uninterrupted run would have built, and in distributed training every
rank draws the same number of segments for the same step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers.utils import logging

from ..utils.validation import check_positive_int


logger = logging.get_logger(__name__)


SAMPLING_MODES = ("max", "uniform")
BABILONG_SCHEDULE = (1, 2, 4, 6, 8, 16, 32)
# Fields of the state that define the curriculum; a checkpoint written with other values cannot be resumed.
_DEFINING_FIELDS = ("schedule", "stage_steps", "sampling", "seed", "metric")


class SegmentCurriculum:
    r"""
    A schedule of stages, each allowing batches of up to `schedule[stage]` segments, and the state of a run through it.

    Args:
        schedule (`Sequence[int]`):
            Maximum number of segments per stage, strictly increasing, e.g. `[1, 2, 3, 4, 5]` or `[1, 2, 4, 8]`.
        stage_steps (`int` or `Sequence[int]`, *optional*):
            Optimizer steps per stage: one number for every stage, or one per stage (the last stage may be omitted:
            it lasts until training ends). With `metric`, a stage ends at whichever comes first.
        sampling (`str`, *optional*, defaults to `"max"`):
            `"max"`: every batch has the stage's number of segments (1M-token paper). `"uniform"`: each batch draws
            its number of segments uniformly from 1 to the stage's maximum (BABILong).
        metric (`str`, *optional*):
            Evaluation metric that ends a stage when it converges, e.g. `"accuracy"` (looked up as given and with
            Trainer's `eval_` prefix).
        greater_is_better (`bool`, *optional*):
            Whether larger `metric` values are better; by default `False` for names ending in `"loss"`.
        patience (`int`, *optional*, defaults to 3):
            Evaluations without an improvement larger than `min_delta` after which the metric has converged.
        min_delta (`float`, *optional*, defaults to 0.0):
            Smallest change counted as an improvement.
        target (`float`, *optional*):
            A metric value that ends the stage at once (e.g. `0.99` accuracy).
        max_n_segments (`int`, *optional*):
            The model's `config.max_n_segments`; the schedule may not exceed it.
        seed (`int`, *optional*, defaults to 0):
            Seed of the per-batch draws of `sampling="uniform"`.

    Example:

    ```python
    >>> from hf_rmt.training import SegmentCurriculum
    >>> curriculum = SegmentCurriculum.babilong(stage_steps=5000)
    >>> curriculum.schedule
    [1, 2, 4, 6, 8, 16, 32]
    ```
    """

    def __init__(
        self,
        schedule: Sequence[int],
        stage_steps: int | Sequence[int] | None = None,
        sampling: str = "max",
        metric: str | None = None,
        greater_is_better: bool | None = None,
        patience: int = 3,
        min_delta: float = 0.0,
        target: float | None = None,
        max_n_segments: int | None = None,
        seed: int = 0,
    ):
        if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Sequence) or len(schedule) == 0:
            raise ValueError(f"`schedule` must be a non-empty list of segment counts, got {schedule!r}.")
        schedule = [check_positive_int("every schedule entry", n) for n in schedule]
        if any(b <= a for a, b in zip(schedule, schedule[1:])):
            raise ValueError(
                f"`schedule` must be strictly increasing (each stage allows more segments than the last), got "
                f"{schedule}."
            )
        if max_n_segments is not None and schedule[-1] > max_n_segments:
            raise ValueError(
                f"`schedule` reaches {schedule[-1]} segments, more than the model's `max_n_segments`="
                f"{max_n_segments}. Shorten the schedule or raise `max_n_segments`."
            )
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"`sampling` must be one of {SAMPLING_MODES}, got {sampling!r}.")
        if stage_steps is not None and not isinstance(stage_steps, (int, np.integer)):
            if isinstance(stage_steps, (str, bytes)) or not isinstance(stage_steps, Sequence):
                raise ValueError(f"`stage_steps` must be an integer or a list of integers, got {stage_steps!r}.")
            if len(stage_steps) not in (len(schedule), len(schedule) - 1):
                raise ValueError(
                    f"`stage_steps` must give one length per stage ({len(schedule)}, or {len(schedule) - 1} with the "
                    f"last stage open-ended), got {len(stage_steps)}: {list(stage_steps)}."
                )
            stage_steps = [check_positive_int("every stage_steps entry", n) for n in stage_steps]
        elif stage_steps is not None:
            stage_steps = check_positive_int("stage_steps", stage_steps)
        if len(schedule) > 1 and stage_steps is None and metric is None:
            raise ValueError(
                "A schedule of several stages needs `stage_steps` or `metric` to say when a stage ends, got neither."
            )
        self.schedule = schedule
        self.stage_steps = stage_steps
        self.sampling = sampling
        self.metric = metric
        self.greater_is_better = (
            greater_is_better if greater_is_better is not None else not (metric or "").endswith("loss")
        )
        self.patience = check_positive_int("patience", patience)
        self.min_delta = float(min_delta)
        self.target = target
        self.seed = int(seed)
        # Set by the training loop (`CurriculumCallback` reads them from TrainingArguments).
        self.gradient_accumulation_steps = 1
        self.reset()

    # ---------------------------------------------------------------- presets

    @classmethod
    def one_segment_per_stage(cls, max_segments: int, start: int = 1, **kwargs: Any) -> SegmentCurriculum:
        """The 1M-token paper's curriculum: stages of `start`, `start + 1`, ..., `max_segments` segments, every batch
        at the stage's length. Pass `stage_steps` and/or `metric` (see the class arguments)."""
        start = check_positive_int("start", start)
        max_segments = check_positive_int("max_segments", max_segments)
        if max_segments < start:
            raise ValueError(f"`max_segments` must be >= `start`={start}, got {max_segments}.")
        return cls(list(range(start, max_segments + 1)), sampling=kwargs.pop("sampling", "max"), **kwargs)

    @classmethod
    def babilong(cls, schedule: Sequence[int] = BABILONG_SCHEDULE, **kwargs: Any) -> SegmentCurriculum:
        """BABILong's curriculum: stages of 1, 2, 4, 6, 8, 16, 32 segments, each batch drawing its number of segments
        uniformly from 1 to the stage's maximum. Pass `stage_steps` and/or `metric`."""
        return cls(list(schedule), sampling=kwargs.pop("sampling", "uniform"), **kwargs)

    # ---------------------------------------------------------------- state

    def reset(self) -> None:
        """Back to the first stage, nothing consumed."""
        self._starts: list[tuple[int, int]] = [(0, 0)]  # (first batch, stage) of stages started by a metric
        self.consumed_batches = 0
        self._next_batch = 0
        self._announced = 0
        self._best: float | None = None
        self._bad_evals = 0
        self._pending: int | None = None

    @property
    def num_stages(self) -> int:
        return len(self.schedule)

    def _cap(self, stage: int) -> int | None:
        if self.stage_steps is None:
            return None
        if isinstance(self.stage_steps, int):
            return self.stage_steps
        return self.stage_steps[stage] if stage < len(self.stage_steps) else None

    def stage_of_batch(self, batch: int) -> int:
        """The stage batch number `batch` (counted from 0 over the whole run, in micro-batches) belongs to."""
        return self._stage_and_start(batch)[0]

    def _stage_and_start(self, batch: int) -> tuple[int, int]:
        start, stage = 0, 0
        for first, recorded in self._starts:
            if first > batch:
                break
            start, stage = first, recorded
        while stage < self.num_stages - 1:
            cap = self._cap(stage)
            if cap is None or batch < start + cap * self.gradient_accumulation_steps:
                break
            start += cap * self.gradient_accumulation_steps
            stage += 1
        return stage, start

    def stage_start(self, batch: int) -> int:
        """The first batch number of the stage that batch number `batch` belongs to."""
        return self._stage_and_start(batch)[1]

    def num_segments_of_batch(self, batch: int) -> int:
        """How many segments batch number `batch` has: its stage's maximum, or a seeded draw below it."""
        maximum = self.schedule[self.stage_of_batch(batch)]
        if self.sampling == "max" or maximum == 1:
            return maximum
        return int(np.random.default_rng([self.seed, batch]).integers(1, maximum + 1))

    @property
    def stage(self) -> int:
        """The stage of the last consumed batch (the stage being trained; 0 before training)."""
        return self.stage_of_batch(max(self.consumed_batches - 1, 0))

    @property
    def max_segments(self) -> int:
        """The maximum number of segments of the stage being trained (what evaluation uses by default)."""
        return self.schedule[self.stage]

    # ---------------------------------------------------------------- data pipeline

    def next_batch(self) -> tuple[int, int]:
        """Numbers the next batch the data pipeline builds; returns `(batch number, number of segments)`."""
        batch = self._next_batch
        self._next_batch += 1
        return batch, self.num_segments_of_batch(batch)

    # ---------------------------------------------------------------- training loop

    def on_batches_consumed(self, count: int = 1) -> None:
        """Tells the curriculum that the training loop ran `count` more micro-batches."""
        self.consumed_batches += count

    def update(self, global_step: int | None = None) -> bool:
        """
        Call after each optimizer step (after `on_batches_consumed`). Returns `True` when the next step starts a new
        stage, and logs the change.
        """
        upcoming = self.stage_of_batch(self.consumed_batches)
        if upcoming == self._announced:
            return False
        self._announced = upcoming
        self._best, self._bad_evals, self._pending = None, 0, None
        at = f" from step {global_step + 1}" if global_step is not None else ""
        how = "exactly" if self.sampling == "max" else "from 1 to"
        logger.info(
            f"Curriculum stage {upcoming + 1}/{self.num_stages}{at}: batches have {how} "
            f"{self.schedule[upcoming]} segments."
        )
        return True

    def metric_value(self, metrics: dict[str, float]) -> float | None:
        """Reads the curriculum's metric from a metrics dict (with or without Trainer's `eval_` prefix)."""
        if self.metric is None:
            return None
        for key in (self.metric, f"eval_{self.metric}"):
            if key in metrics:
                return float(metrics[key])
        return None

    def report_metric(self, value: float) -> bool:
        """
        Reports an evaluation of the stage being trained. When the metric has converged (no improvement larger than
        `min_delta` for `patience` evaluations, or `target` reached), schedules the next stage from the first batch the
        data pipeline has not built yet and returns `True`.
        """
        if self.metric is None:
            return False
        stage = self.stage
        if self._pending is not None or stage >= self.num_stages - 1:
            return False
        if self.stage_of_batch(self.consumed_batches) != stage:
            return False  # the next step already starts another stage: this evaluation closes the old one
        if self._best is None or (
            value > self._best + self.min_delta if self.greater_is_better else value < self._best - self.min_delta
        ):
            self._best, self._bad_evals = value, 0
        else:
            self._bad_evals += 1
        reached = self.target is not None and (
            value >= self.target if self.greater_is_better else value <= self.target
        )
        if not reached and self._bad_evals < self.patience:
            return False
        consumed, accumulation = self.consumed_batches, self.gradient_accumulation_steps
        # Batches already built (prefetched) keep their stage; start at the next optimizer-step boundary after them.
        first = consumed + accumulation * math.ceil(max(self._next_batch - consumed, 0) / accumulation)
        if self.stage_of_batch(first) != stage:
            return False  # the stage ends by its step count first
        self._starts.append((first, stage + 1))
        self._pending = first
        why = f"reached {self.target}" if reached else f"did not improve for {self._bad_evals} evaluations"
        logger.info(f"Curriculum: {self.metric}={value:.4g} {why}; stage {stage + 2} is next.")
        return True

    # ---------------------------------------------------------------- checkpointing

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: the curriculum's definition and how far a run got (saved with checkpoints)."""
        return {
            "schedule": list(self.schedule),
            "stage_steps": self.stage_steps,
            "sampling": self.sampling,
            "seed": self.seed,
            "metric": self.metric,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "starts": [list(start) for start in self._starts],
            "consumed_batches": self.consumed_batches,
            "announced": self._announced,
            "best": self._best,
            "bad_evals": self._bad_evals,
            "pending": self._pending,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a run from `state_dict()`; the data pipeline continues with the first batch not consumed.

        Raises:
            ValueError: the state was written by a curriculum with another schedule, stage lengths, sampling, seed or
                metric.
        """
        differences = [
            f"{name}: checkpoint {state.get(name)!r}, now {value!r}"
            for name in _DEFINING_FIELDS
            if (value := self.state_dict()[name]) != state.get(name)
        ]
        if differences:
            raise ValueError(
                "Cannot resume: the checkpoint was written by another segment curriculum ("
                + "; ".join(differences)
                + ")."
            )
        saved_accumulation = state.get("gradient_accumulation_steps", self.gradient_accumulation_steps)
        if saved_accumulation != self.gradient_accumulation_steps:
            logger.warning(
                f"Resuming a curriculum run with gradient_accumulation_steps={self.gradient_accumulation_steps}, saved "
                f"with {saved_accumulation}: stage lengths in steps now count different batches."
            )
        self._starts = [(int(first), int(stage)) for first, stage in state["starts"]]
        self.consumed_batches = int(state["consumed_batches"])
        self._next_batch = self.consumed_batches
        self._announced = int(state["announced"])
        self._best = state["best"]
        self._bad_evals = int(state["bad_evals"])
        self._pending = state["pending"]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(schedule={self.schedule}, stage_steps={self.stage_steps}, "
            f"sampling={self.sampling!r}, metric={self.metric!r}, stage={self.stage})"
        )


__all__ = ["BABILONG_SCHEDULE", "SAMPLING_MODES", "SegmentCurriculum"]
