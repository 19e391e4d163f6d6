# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTTrainer`: a `Trainer` whose Hub pushes carry hf_rmt's model card.

transformers' `Trainer.push_to_hub` saves the model (hf_rmt writes its card, `README.md`) and then overwrites that card
with transformers' generic one (`Trainer.create_model_card`), which knows nothing of memory, segments or curricula;
its pushes during training (`push_to_hub=True`, `hub_strategy="every_save"`) copy only weights and configs from the
checkpoint. `RMTTrainer` writes hf_rmt's card in both places instead, with what the Trainer knows (the curriculum as
trained, steps, learning rate, batch size, the last evaluation) added to what was attached with
`model.set_model_card_info`. TRL's trainers replace the card the same way.

With `torch_compile=True` (`--torch_compile`, `--torch_compile_mode reduce-overhead`), `RMTTrainer` compiles the
backbone's blocks in place (`hf_rmt.training.compile`) instead of letting accelerate compile the whole model, and
marks each step's start for CUDA-graph modes.
"""

from __future__ import annotations

import glob
import os
import shutil
from typing import Any

from transformers import Trainer

from ..checkpoint.save import ADAPTER_WEIGHTS_NAME
from ..hub.model_card import create_or_update_model_card, unwrap_rmt_and_peft
from .callbacks import CurriculumCallback
from .checks import unwrap_rmt
from .compile import COMPILED_BLOCKS_ATTR, compile_backbone_blocks, mark_step_begin_if_needed


# Evaluation entries that describe the run, not the model.
_RUN_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch", "step")


def curriculum_as_trained(log_history: list[dict[str, Any]], global_step: int) -> list[dict[str, int]]:
    """The stages `CurriculumCallback` recorded in `trainer.state.log_history`, each with the steps it ran:
    `[{"segments": 1, "steps": 40}, ...]` (empty without a curriculum)."""
    records = [entry for entry in log_history if "curriculum_stage" in entry and "curriculum_from_step" in entry]
    stages = []
    for index, record in enumerate(records):
        end = records[index + 1]["curriculum_from_step"] - 1 if index + 1 < len(records) else global_step
        steps = end - record["curriculum_from_step"] + 1
        if steps > 0:
            stages.append({"segments": int(record["curriculum_max_segments"]), "steps": int(steps)})
    return stages


def trainer_training_info(trainer: Trainer) -> dict[str, Any]:
    """What a Trainer knows of its run, in the model card's `training_info` format."""
    args, state = trainer.args, trainer.state
    info: dict[str, Any] = {}
    stages = curriculum_as_trained(state.log_history, state.global_step)
    if stages:
        info["curriculum"] = stages
    info["steps"] = state.global_step
    info["learning_rate"] = args.learning_rate
    info["lr_scheduler"] = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))
    info["batch_size"] = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(args.world_size, 1)
    info["seed"] = args.seed
    evaluations = [entry for entry in state.log_history if any(key.startswith("eval_") for key in entry)]
    if evaluations:
        last = evaluations[-1]
        for key, value in last.items():
            if key.startswith("eval_") and not key.endswith(_RUN_METRICS) and isinstance(value, (int, float)):
                info[f"last {key} (step {last.get('step', state.global_step)})"] = round(float(value), 4)
    return info


class RMTTrainer(Trainer):
    """
    `transformers.Trainer` for hf_rmt models (plain, or wrapped by peft for LoRA + memory) whose Hub pushes carry
    hf_rmt's model card: Hub metadata, how to load the model, its RMT settings, the curriculum as trained and the
    results attached with `model.set_model_card_info(eval_results=...)`. Takes the same arguments as `Trainer`.

    `trainer.push_to_hub()` (and `save_model()` with `push_to_hub=True`) writes the card through `create_model_card`;
    with `push_to_hub=True`, each checkpoint pushed during training carries its card and remote code too.

    Example:

    ```python
    >>> trainer = RMTTrainer(model, TrainingArguments("out", push_to_hub=True, hub_model_id="user/rmt-bert"),
    ...                      train_dataset=train, callbacks=[CurriculumCallback(curriculum)])
    >>> trainer.train()
    >>> trainer.push_to_hub()  # README.md: hf_rmt's card, with the curriculum as trained
    ```

    `TrainingArguments(torch_compile=True, torch_compile_mode="reduce-overhead")` compiles each block of the backbone
    in place (regional compilation; `hf_rmt.training.compile_backbone_blocks`) rather than the whole model, which
    would trace the segment loop, and calls `torch.compiler.cudagraph_mark_step_begin()` before every training and
    evaluation step, as CUDA-graph trees require.
    """

    def _build_accelerator_args(self, **kwargs: Any) -> dict[str, Any]:
        # transformers hands `torch_compile` to accelerate as a dynamo plugin, which compiles the whole model when
        # it is prepared. For an hf_rmt model compile its blocks here instead and give accelerate nothing to compile.
        args = super()._build_accelerator_args(**kwargs)
        if self.args.torch_compile and unwrap_rmt(self.model) is not None:
            from accelerate.utils import TorchDynamoPlugin

            wanted = {"mode": self.args.torch_compile_mode or "default", "backend": self.args.torch_compile_backend}
            if getattr(unwrap_rmt(self.model), COMPILED_BLOCKS_ATTR, None) != wanted:
                compile_backbone_blocks(self.model, mode=wanted["mode"], backend=wanted["backend"])
            args["dynamo_plugin"] = TorchDynamoPlugin(backend="no")
        return args

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any) -> Any:
        # A resumed run also gets back each `CurriculumCallback(keep_best=True)`'s best state of the stage, which the
        # checkpoint holds beside the Trainer's own state (Trainer does not tell callbacks where it resumes from).
        if resume_from_checkpoint is True:
            from transformers.trainer_utils import get_last_checkpoint

            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"No valid checkpoint found in output directory ({self.args.output_dir})")
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, CurriculumCallback):
                callback.resume_best_from(resume_from_checkpoint or None)
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        mark_step_begin_if_needed(model)
        return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        mark_step_begin_if_needed(model)
        return super().prediction_step(model, inputs, *args, **kwargs)

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,  # noqa: A002  (Trainer's argument name)
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        finetuned_from: str | None = None,
        tasks: str | list[str] | None = None,
        dataset_tags: str | list[str] | None = None,
        dataset: str | list[str] | None = None,
        dataset_args: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Writes hf_rmt's model card to `args.output_dir/README.md` (the arguments of `Trainer.create_model_card`
        become card metadata: `language`, `license`, `tags`, `model_name`, `finetuned_from` as `base_model`,
        `dataset`/`dataset_tags` as `datasets`; `tasks` and `dataset_args` are not card fields of hf_rmt's).
        """
        if not self.is_world_process_zero():
            return
        self._write_rmt_card(
            self.args.output_dir,
            None,
            language=language,
            license=license,
            tags=tags,
            model_name=model_name,
            finetuned_from=finetuned_from,
            dataset=dataset or dataset_tags,
        )

    def _write_rmt_card(self, folder: str, adapter_only: bool | None, **fields: Any) -> None:
        model = self.accelerator.unwrap_model(self.model)
        rmt, _ = unwrap_rmt_and_peft(model)
        attached = dict(getattr(rmt, "_model_card_info", None) or {})
        training_info = {**trainer_training_info(self), **(attached.get("training_info") or {})}
        if fields.get("dataset") is not None:
            training_info.setdefault("datasets", fields["dataset"])
        card_data = {
            key: value
            for key, value in (
                ("language", fields.get("language")),
                ("license", fields.get("license")),
                ("model_name", fields.get("model_name")),
                ("base_model", fields.get("finetuned_from")),
            )
            if value is not None
        }
        card_data.update(attached.get("card_data") or {})
        tags = fields.get("tags")
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        create_or_update_model_card(
            model,
            folder,
            repo_id=self.hub_model_id,
            revision=self.args.hub_revision,
            adapter_only=adapter_only,
            training_info=training_info,
            eval_results=attached.get("eval_results"),
            card_data=card_data or None,
            tags=[*(getattr(rmt, "model_tags", None) or []), *tags],
        )

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        # Trainer copies only weights, configs and the tokenizer from the checkpoint to `output_dir` before pushing
        # it: bring the card and the remote code (`register_for_auto_class`) along.
        if self.is_world_process_zero() and self.args.hub_strategy != "end":
            os.makedirs(self.args.output_dir, exist_ok=True)
            for path in glob.glob(os.path.join(checkpoint_folder, "*.py")):
                shutil.copy(path, self.args.output_dir)
            adapter_only = os.path.isfile(os.path.join(checkpoint_folder, ADAPTER_WEIGHTS_NAME))
            self._write_rmt_card(self.args.output_dir, adapter_only if not _is_peft(self.model) else None)
        super()._push_from_checkpoint(checkpoint_folder)


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


__all__ = ["RMTTrainer", "curriculum_as_trained", "trainer_training_info"]
