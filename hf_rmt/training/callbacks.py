# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`Trainer` callbacks: the segment curriculum, configuration and dataset checks, a JSON loss log."""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ExportableState
from transformers.utils import logging

from .checks import check_dataset_columns, check_same_config, config_fingerprint, unwrap_rmt
from .curriculum import CurriculumDataset, SegmentCurriculum


logger = logging.get_logger(__name__)


def _stored_attributes(state: TrainerState, callback: TrainerCallback) -> dict[str, Any] | None:
    """The `attributes` a callback of this class saved in the TrainerState of the checkpoint being resumed."""
    stored = (state.stateful_callbacks or {}).get(type(callback).__name__)
    if isinstance(stored, list):
        stored = stored[-1] if stored else None
    return stored.get("attributes") if isinstance(stored, dict) else None


def _dataset_of(dataloader: Any) -> Any:
    dataset = getattr(dataloader, "dataset", None)
    while dataset is not None and not isinstance(dataset, CurriculumDataset) and hasattr(dataset, "dataset"):
        dataset = dataset.dataset  # torch Subset and similar wrappers
    return dataset


class CurriculumCallback(TrainerCallback, ExportableState):
    """
    Drives a [`SegmentCurriculum`] from `Trainer`: counts the batches trained, ends step-count stages, ends metric
    stages on evaluation (`on_evaluate`), logs stage changes (logger and `trainer.state.log_history`) and saves the
    curriculum's state in each checkpoint's `trainer_state.json`, from which `resume_from_checkpoint` restores it.

    Args:
        curriculum ([`SegmentCurriculum`], *optional*): The curriculum; by default the one of the training dataset
            (a [`CurriculumDataset`]).

    Example:

    ```python
    >>> curriculum = SegmentCurriculum.babilong(stage_steps=5000)
    >>> train = CurriculumDataset.from_task("qa1", tokenizer, 10_000, curriculum, model.config.segment_size)
    >>> trainer = Trainer(model, args, train_dataset=train, data_collator=RMTDataCollator(),
    ...                   callbacks=[CurriculumCallback(curriculum)])
    ```
    """

    def __init__(self, curriculum: SegmentCurriculum | None = None):
        if curriculum is not None and not isinstance(curriculum, SegmentCurriculum):
            raise TypeError(f"`curriculum` must be a SegmentCurriculum, got {type(curriculum).__name__}.")
        self.curriculum = curriculum
        # Set by Trainer when it restores callbacks itself (restore_callback_states_from_checkpoint=True).
        self.saved_state: dict[str, Any] | None = None
        self._warned_metric = False

    def state(self) -> dict[str, Any]:
        saved = self.curriculum.state_dict() if self.curriculum is not None else self.saved_state
        return {"args": {}, "attributes": {"saved_state": saved}}

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        train_dataloader: Any = None,
        **kwargs: Any,
    ):
        dataset = _dataset_of(train_dataloader)
        if self.curriculum is None:
            self.curriculum = getattr(dataset, "curriculum", None)
            if self.curriculum is None:
                raise ValueError(
                    "CurriculumCallback has no curriculum: pass `CurriculumCallback(curriculum)` or train on a "
                    "CurriculumDataset."
                )
        curriculum = self.curriculum
        if isinstance(dataset, CurriculumDataset) and dataset.train and args.dataloader_num_workers > 0:
            raise ValueError(
                f"A CurriculumDataset builds its batches in the main process; set dataloader_num_workers=0 (got "
                f"{args.dataloader_num_workers})."
            )
        rmt = unwrap_rmt(model) if model is not None else None
        if rmt is not None:
            limit = rmt.config.max_n_segments
            if limit is not None and curriculum.schedule[-1] > limit:
                raise ValueError(
                    f"The curriculum reaches {curriculum.schedule[-1]} segments, more than the model's "
                    f"`max_n_segments`={limit}. Shorten the schedule or raise `max_n_segments`."
                )
            if isinstance(dataset, CurriculumDataset) and dataset.segment_size != rmt.config.segment_size:
                raise ValueError(
                    f"The CurriculumDataset builds segments of {dataset.segment_size} tokens but the model's "
                    f"`segment_size` is {rmt.config.segment_size}; build the dataset with `model.config.segment_size`."
                )
        curriculum.gradient_accumulation_steps = args.gradient_accumulation_steps
        if state.global_step > 0:
            saved = self.saved_state or (_stored_attributes(state, self) or {}).get("saved_state")
            if saved is None:
                logger.warning(
                    "The checkpoint has no segment-curriculum state (trained without CurriculumCallback?): the "
                    "curriculum starts again from its first stage."
                )
                curriculum.reset()
            else:
                curriculum.load_state_dict(saved)
        else:
            curriculum.reset()
        stage = curriculum.stage_of_batch(curriculum.consumed_batches)
        logger.info(
            f"Segment curriculum {curriculum.schedule} ({curriculum.sampling}); step {state.global_step + 1} is in "
            f"stage {stage + 1} (up to {curriculum.schedule[stage]} segments)."
        )
        if state.global_step == 0:
            state.log_history.append(self._record(state, stage))

    def _record(self, state: TrainerState, stage: int) -> dict[str, Any]:
        # The stage applies from the next step on.
        return {
            "curriculum_stage": stage + 1,
            "curriculum_max_segments": self.curriculum.schedule[stage],
            "curriculum_from_step": state.global_step + 1,
            "step": state.global_step,
        }

    def on_substep_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.curriculum.on_batches_consumed(1)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        curriculum = self.curriculum
        curriculum.on_batches_consumed(1)
        if curriculum.update(state.global_step):
            state.log_history.append(self._record(state, curriculum.stage_of_batch(curriculum.consumed_batches)))

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ):
        curriculum = self.curriculum
        if curriculum is None or curriculum.metric is None:
            return
        value = curriculum.metric_value(metrics or {})
        if value is None:
            if not self._warned_metric:
                logger.warning(
                    f"The curriculum waits for metric {curriculum.metric!r}, which evaluation did not return "
                    f"(got {sorted(metrics or {})}); return it from `compute_metrics`."
                )
                self._warned_metric = True
            return
        curriculum.report_metric(value)


class RMTTrainerCallback(TrainerCallback, ExportableState):
    """
    Checks for training hf_rmt models with `Trainer`: at the start of training, raises a clear error when the training
    dataset lacks `input_ids` or `labels`, and, when resuming, when the checkpoint was written by another hf_rmt
    configuration (`num_memory_tokens`, `segment_size`, layout, backbone, ...; the configuration is saved in
    `trainer_state.json`). (Adapter-only checkpoints are resumable by a plain `Trainer` without it: their
    `save_pretrained` writes the index `Trainer` looks for.)
    """

    def __init__(self):
        self.fingerprint: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        return {"args": {}, "attributes": {"fingerprint": self.fingerprint}}

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        train_dataloader: Any = None,
        **kwargs: Any,
    ):
        if model is None or unwrap_rmt(model) is None:
            return
        if state.global_step > 0:
            saved = (_stored_attributes(state, self) or {}).get("fingerprint") or self.fingerprint
            if saved:
                check_same_config(saved, model, source="the checkpoint being resumed")
        self.fingerprint = config_fingerprint(model)
        dataset = getattr(train_dataloader, "dataset", None)
        if dataset is not None:
            forward = inspect.signature(type(unwrap_rmt(model)).forward).parameters
            check_dataset_columns(dataset, model, need_labels="labels" in forward)


class JsonLogCallback(TrainerCallback):
    """
    Writes the run's log history (loss, learning rate and grad norm of every logged step, evaluations, curriculum
    stages) to a JSON list on the main process, rewritten at each log, so that runs (e.g. on one and two GPUs) can be
    compared step by step. A resumed run continues the history of its checkpoint.

    Args:
        path (`str`): The JSON file.
    """

    def __init__(self, path: str):
        self.path = path

    def _write(self, state: TrainerState) -> None:
        if not state.is_world_process_zero:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "w") as handle:
            json.dump(state.log_history, handle, indent=1)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._write(state)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._write(state)


__all__ = ["CurriculumCallback", "JsonLogCallback", "RMTTrainerCallback"]
