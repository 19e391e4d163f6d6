# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`Trainer` callbacks: the segment curriculum, configuration and dataset checks, a JSON loss log."""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from .checks import check_dataset_columns, check_same_config, config_fingerprint, unwrap_rmt
from .curriculum import SegmentCurriculum
from .curriculum_dataset import CurriculumDataset


logger = logging.get_logger(__name__)

# In each checkpoint of a run that keeps each stage's best state (`CurriculumCallback(keep_best=True)`).
BEST_STATE_FILE = "hf_rmt_best_state.safetensors"


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
        keep_best (`bool`, *optional*, defaults to `False`):
            Keep, in host memory, the trainable weights of the best evaluation of each stage (by the curriculum's
            `metric`, ties broken by the lower `eval_loss`) and load them into the model when the stage ends and when
            training ends: each stage starts from the previous stage's best state, as the 1M-token paper trained
            (arXiv:2304.11062, section 4.1), and a stage that degrades late (a loss spike) is not what the next stage,
            or the saved model, inherits. Needs an evaluation during each stage. Each checkpoint saves it
            (`BEST_STATE_FILE`); a run resumed by [`RMTTrainer`] gets it back (with a plain `Trainer`, call
            `resume_best_from(checkpoint)` first), so the stage keeps the best state seen before the stop too.
        chance (`float`, *optional*):
            The metric's chance level (e.g. `1 / num_labels` for accuracy). A stage whose best evaluation stays within
            0.1 of it is reported with a warning: the memory has not learned that length.
        stop_at_target (`bool`, *optional*, defaults to `False`):
            End training when an evaluation of the last stage reaches the curriculum's `target`, as earlier stages end.
        end_with_last_stage (`bool`, *optional*, defaults to `False`):
            End training once the last stage has run its own `stage_steps`. Without it, steps left by stages that
            ended early (by `metric`) all go to the last stage, up to `max_steps`.

    Example:

    ```python
    >>> curriculum = SegmentCurriculum.babilong(stage_steps=5000)
    >>> train = CurriculumDataset.from_task("qa1", tokenizer, 10_000, curriculum, model.config.segment_size)
    >>> trainer = Trainer(model, args, train_dataset=train, data_collator=RMTDataCollator(),
    ...                   callbacks=[CurriculumCallback(curriculum)])
    ```
    """

    def __init__(
        self,
        curriculum: SegmentCurriculum | None = None,
        keep_best: bool = False,
        chance: float | None = None,
        stop_at_target: bool = False,
        end_with_last_stage: bool = False,
    ):
        if curriculum is not None and not isinstance(curriculum, SegmentCurriculum):
            raise TypeError(f"`curriculum` must be a SegmentCurriculum, got {type(curriculum).__name__}.")
        if chance is not None and not 0 <= chance < 1:
            raise ValueError(f"`chance` must be a metric value in [0, 1), got {chance!r}.")
        self.curriculum = curriculum
        self.keep_best = bool(keep_best)
        self.chance = chance
        self.stop_at_target = bool(stop_at_target)
        self.end_with_last_stage = bool(end_with_last_stage)
        # Set by Trainer when it restores callbacks itself (restore_callback_states_from_checkpoint=True).
        self.saved_state: dict[str, Any] | None = None
        self._warned_metric = False
        # The best evaluation of the stage being trained: (metric, -loss) ordering key, step, value, and the weights.
        self._best_key: tuple[float, float] | None = None
        self._best_step: int | None = None
        self._best_value: float | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None
        self._resume_from: str | None = None
        self.stage_results: list[dict[str, Any]] = []

    def state(self) -> dict[str, Any]:
        saved = self.curriculum.state_dict() if self.curriculum is not None else self.saved_state
        best = None if self._best_key is None else [list(self._best_key), self._best_step, self._best_value]
        return {"args": {}, "attributes": {"saved_state": saved, "best": best}}

    def resume_best_from(self, checkpoint: str | None) -> None:
        """The checkpoint a run resumes from, whose saved best state of the stage (`keep_best`) `on_train_begin`
        loads back. `RMTTrainer.train(resume_from_checkpoint=...)` calls it."""
        self._resume_from = checkpoint

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self.keep_best and self._best_weights is not None and state.is_world_process_zero:
            folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
            save_file(self._best_weights, os.path.join(folder, BEST_STATE_FILE))

    def _restore_best(self, state: TrainerState) -> None:
        """The stage's best evaluation before the stop, and its weights from the checkpoint (`on_save`)."""
        best = (_stored_attributes(state, self) or {}).get("best")
        if not self.keep_best or best is None:
            return
        path = os.path.join(self._resume_from or "", BEST_STATE_FILE)
        if self._resume_from is None or not os.path.isfile(path):
            logger.warning(
                "The stage's best validated state before this resume is not loaded (no checkpoint given with "
                f"`resume_best_from`, or no {BEST_STATE_FILE} in it): the stage keeps the best seen from here on."
            )
            return
        self._best_key, self._best_step, self._best_value = tuple(best[0]), best[1], best[2]
        self._best_weights = load_file(path)

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
            self._restore_best(state)
        else:
            curriculum.reset()
            self.stage_results = []  # a callback reused for a new run reports that run's stages only
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

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ):
        curriculum = self.curriculum
        curriculum.on_batches_consumed(1)
        if curriculum.update(state.global_step):
            self._close_stage(curriculum.stage, state, model)  # the stage of the step just trained
            state.log_history.append(self._record(state, curriculum.stage_of_batch(curriculum.consumed_batches)))
        last = curriculum.num_stages - 1
        if self.end_with_last_stage and curriculum.stage == last and curriculum.stage_steps is not None:
            cap = curriculum._cap(last)
            trained = (curriculum.consumed_batches - curriculum.stage_start(curriculum.consumed_batches - 1)) // max(
                curriculum.gradient_accumulation_steps, 1
            )
            if cap is not None and trained >= cap:
                logger.info(
                    f"Curriculum: the last stage ran its {cap} steps; training ends at step {state.global_step}."
                )
                control.should_training_stop = True

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ):
        if self.curriculum is not None:
            self._close_stage(self.curriculum.stage, state, model)

    # ---------------------------------------------------------------- best state of each stage

    def _close_stage(self, stage: int, state: TrainerState, model: Any) -> None:
        """Ends `stage`: records its best evaluation, warns when it stayed at chance, loads its best weights."""
        if self._best_value is None:
            return  # no evaluation of this stage (nothing to report or restore)
        curriculum = self.curriculum
        result = {
            "stage": stage + 1,
            "max_segments": curriculum.schedule[stage],
            "best_metric": self._best_value,
            "best_step": self._best_step,
            "end_step": state.global_step,
        }
        self.stage_results.append(result)
        state.log_history.append(
            {f"curriculum_stage_best_{curriculum.metric}": self._best_value, **result, "step": state.global_step}
        )
        segments = curriculum.schedule[stage]
        if self.chance is not None and self._best_value < self.chance + 0.1:
            logger.warning(
                f"Curriculum stage {stage + 1} ({segments} segment{'s' if segments != 1 else ''}) ended at chance level: best {curriculum.metric} "
                f"{self._best_value:.3f} (chance {self.chance:.3f}). The memory has not learned inputs of this length; "
                "train longer stages, a higher learning rate, or more trainable weights (LoRA, --train-backbone)."
            )
        elif curriculum.target is not None and (
            self._best_value < curriculum.target
            if curriculum.greater_is_better
            else self._best_value > curriculum.target
        ):
            # Above chance but short of the target: the stage ended by its step cap, not learned to the bar set for it.
            logger.warning(
                f"Curriculum stage {stage + 1} ({segments} segment{'s' if segments != 1 else ''}) ended by its step "
                f"cap below its target: best {curriculum.metric} {self._best_value:.3f}, target {curriculum.target}. "
                "It has not learned inputs of this length to the target; train longer stages."
            )
        if self.keep_best and self._best_weights is not None and model is not None:
            _load_trainable(model, self._best_weights)
            logger.info(
                f"Curriculum stage {stage + 1} ({segments} segment{'s' if segments != 1 else ''}) ends at step {state.global_step}; its best "
                f"{curriculum.metric}={self._best_value:.4g} (step {self._best_step}) is kept."
            )
        self._best_key = self._best_step = self._best_value = self._best_weights = None

    def _track_best(self, value: float, metrics: dict[str, float], state: TrainerState, model: Any) -> None:
        loss = metrics.get("eval_loss", metrics.get("loss", 0.0))
        sign = 1.0 if self.curriculum.greater_is_better else -1.0
        key = (sign * value, -float(loss))
        if self._best_key is not None and key <= self._best_key:
            return
        self._best_key, self._best_step, self._best_value = key, state.global_step, value
        if self.keep_best and model is not None:
            self._best_weights = _trainable_state(model)

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
        # The evaluation belongs to the stage of the last step trained, unless that step closed the stage.
        if curriculum.stage_of_batch(curriculum.consumed_batches) == curriculum.stage:
            self._track_best(value, metrics or {}, state, kwargs.get("model"))
        curriculum.report_metric(value)
        last = curriculum.stage == curriculum.num_stages - 1
        if self.stop_at_target and last and curriculum.target is not None:
            reached = value >= curriculum.target if curriculum.greater_is_better else value <= curriculum.target
            if reached:
                logger.info(
                    f"Curriculum: {curriculum.metric}={value:.4g} reached {curriculum.target} in the last stage; "
                    "training ends."
                )
                control.should_training_stop = True


def _trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """A host copy of the trainable weights (what training changes; a frozen backbone is not copied)."""
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model: Any, weights: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            parameters[name].copy_(value)


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


__all__ = ["BEST_STATE_FILE", "CurriculumCallback", "JsonLogCallback", "RMTTrainerCallback"]
