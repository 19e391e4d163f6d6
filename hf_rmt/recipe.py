# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The experiment recipes of the `hf-rmt` command: `train` (what `hf-rmt train` runs: RMT memory on a backbone,
trained on a task with a segment curriculum and validation) and the settings of `hf-rmt main` (the demo).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from .training.run_record import (
    TRAINING_INFO_FILE,
    card_training_info,
    run_environment,
    save_trained,
    write_training_info,
)


EVAL_JSON = "eval_by_length.json"
EVAL_PLOT = "accuracy_vs_length.png"

# `hf-rmt main`: the bundled MiniLM-L6 (22.7M parameters) learns `memorize` (one fact at the start of the input, the
# question at its end) on 1, 2, then 4 segments of 16 tokens with full fine-tuning, and is tested on 4, 16 and 64
# segments (up to 16x the longest training input) on samples from other books. The recipe must converge on any machine
# (CPU thread counts and GPUs change float reduction order, and a constant lr of 2e-4 with no model selection once
# diverged at step 80 on one machine and not on another): every 10 steps the model is validated on 64 validation
# samples at the stage's length, a stage ends early once it answers all of them, each stage starts from the previous
# stage's best validated state (1M-token paper, section 4.1), the learning rate warms up and decays linearly, and the
# saved model is the last stage's best. Measured over seeds and thread counts: README, "What `make main` does".
# Learning rates of `hf-rmt train` per training mode when --lr is not given (measured on MiniLM-L6 / memorize: full
# fine-tuning learns at 1e-4 and stays at chance at 3e-5; LoRA r=16 + memory learns at 1e-3 and slowly at 3e-4).
DEFAULT_LR = {"full": 1e-4, "lora": 1e-3, "memory": 1e-3}

MAIN_TASK = "memorize"
MAIN_SEGMENT_SIZE = 16
MAIN_CURRICULUM = (1, 2, 4)
MAIN_STEPS_PER_STAGE = (40, 40, 120)  # caps: the first two usually end sooner, at the validation target
MAIN_BATCH_SIZE = 8
MAIN_LR = 1e-4
MAIN_LR_SCHEDULER = "linear"
MAIN_WARMUP_STEPS = 10
MAIN_EVAL_STEPS = 10
MAIN_EVAL_SAMPLES = 64
MAIN_STAGE_TARGET = 0.99
MAIN_TEST_SEGMENTS = (4, 16, 64)
MAIN_TEST_SAMPLES = 100
# Below this test accuracy at the trained length, `hf-rmt main` reports that training did not converge and exits 1.
MAIN_MIN_ACCURACY = 0.9


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False); use cpu")
    return name


@dataclass
class TrainSettings:
    """Everything `hf-rmt train` needs; `hf-rmt main` fills it with its own defaults."""

    task: str
    model: str
    output_dir: str
    segment_size: int | None = None
    num_memory_tokens: int = 10
    memory_type: str = "rmt"
    memory_dim: int | None = None  # associative memory only; None: 64
    memory_denominator_floor: float | None = None  # associative memory only; None: the official formula
    curriculum: tuple[int, ...] = (1, 2, 4)
    steps_per_stage: tuple[int, ...] = (200,)
    sampling: str = "max"
    placement: str = "auto"  # the training samples' fact placement (hf_rmt.tasks.PLACEMENTS); validation keeps "auto"
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    lr: float | None = None  # None: DEFAULT_LR of the training mode
    lr_scheduler: str = "constant_with_warmup"
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    train_backbone: bool = False
    # LoRA + memory (PEFT-style, the default): the backbone stays frozen, LoRA adapters, memory and head train.
    # `lora_r=0` without `train_backbone` trains memory and head only.
    lora_r: int = 16
    lora_alpha: int | None = None  # None: 2 * lora_r
    lora_dropout: float = 0.0
    lora_target_modules: str = "all-linear"
    bptt_depth: int = -1
    segment_checkpointing: bool = False
    segment_checkpointing_keep_last: int = 1
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    logging_steps: int = 10
    # Validation during training: accuracy on `eval_samples` validation samples at the stage's length every
    # `eval_steps` steps. A stage ends early once it reaches `stage_target`; each stage hands its best validated state
    # to the next (1M-token paper, section 4.1), and the saved model is the last stage's best.
    eval_steps: int | None = None
    eval_samples: int = 64
    eval_batch_size: int = 32
    stage_target: float | None = None
    stop_at_target: bool = False
    init_from: str | None = None  # an earlier run's output_dir to start from (weights only)
    # Resumable checkpoints (Trainer's): every `save_steps` steps and at a stop signal; `resume` continues the run of
    # `output_dir` from a checkpoint folder (the CLI's `--resume` finds the latest), as `Trainer.train`'s
    # `resume_from_checkpoint`.
    save_steps: int | None = None
    resume: str | None = None
    # Regional compilation (`RMTTrainer` with `torch_compile`): each backbone block compiled in place, the segment
    # loop, memory and loss eager; "reduce-overhead" replays the blocks from CUDA graphs (bench/bench_training_lm.py).
    torch_compile: bool = False
    torch_compile_mode: str | None = None  # None: torch's "default"
    torch_compile_backend: str | None = None  # None: inductor

    @property
    def mode(self) -> str:
        """What trains: `"full"` (every weight), `"lora"` (LoRA + memory + head) or `"memory"` (memory + head)."""
        return "full" if self.train_backbone else ("lora" if self.lora_r > 0 else "memory")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.mode]

    @property
    def stage_steps(self) -> list[int]:
        steps = list(self.steps_per_stage)
        return steps * len(self.curriculum) if len(steps) == 1 else steps

    @property
    def max_steps(self) -> int:
        return sum(self.stage_steps)


def train(settings: TrainSettings) -> tuple[Any, Any, dict[str, Any]]:
    """Wraps the backbone with RMT memory, trains it on the task with a segment curriculum, saves model and tokenizer
    to `settings.output_dir`. Returns `(model, tokenizer, training info)`."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        TrainingArguments,
        set_seed,
    )
    from transformers.utils.logging import is_progress_bar_enabled as progress_bar_enabled

    from . import RMTConfig, get_rmt_model
    from .tasks import get_task
    from .training import CurriculumCallback, RMTDataCollator, RMTTrainer, SegmentCurriculum
    from .training.curriculum_dataset import train_and_eval_datasets
    from .training.nonfinite import SkipNonFiniteStepsCallback
    from .training.signals import StopOnSignalCallback

    spec = get_task(settings.task)
    stage_steps = settings.stage_steps
    if len(stage_steps) != len(settings.curriculum):
        raise SystemExit(
            f"hf-rmt: --steps-per-stage gives {len(stage_steps)} values for a curriculum of {len(settings.curriculum)} "
            f"stages {list(settings.curriculum)}; give one value, or one per stage."
        )
    device = resolve_device(settings.device)
    set_seed(settings.seed)
    # A local backbone is recorded by absolute path, so an adapter-only checkpoint finds it from any folder.
    source = os.path.abspath(settings.model) if os.path.isdir(settings.model) else settings.model
    tokenizer = AutoTokenizer.from_pretrained(source)
    backbone = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=spec.num_labels,
        id2label=dict(enumerate(spec.labels)),
        label2id={label: i for i, label in enumerate(spec.labels)},
        dtype=torch.float32,  # trained in float32 (or bf16 autocast with --bf16), whatever the checkpoint's dtype
        ignore_mismatched_sizes=True,  # a classifier checkpoint with another number of labels gets a new head
    )
    config = RMTConfig(
        num_memory_tokens=settings.num_memory_tokens,
        memory_type=settings.memory_type,
        memory_dim=settings.memory_dim,
        memory_denominator_floor=settings.memory_denominator_floor,
        segment_size=settings.segment_size,
        bptt_depth=settings.bptt_depth,
        segment_checkpointing=settings.segment_checkpointing,
        segment_checkpointing_keep_last=settings.segment_checkpointing_keep_last,
    )
    model = get_rmt_model(backbone, config, tokenizer=tokenizer, train_backbone=settings.train_backbone)
    rmt = model
    segment_size = model.config.segment_size
    if settings.mode == "lora":
        from peft import get_peft_model

        from .peft_utils import lora_config

        targets = settings.lora_target_modules
        model = get_peft_model(
            model,
            lora_config(
                model,
                r=settings.lora_r,
                lora_alpha=settings.lora_alpha or 2 * settings.lora_r,
                lora_dropout=settings.lora_dropout,
                target_modules=targets if targets == "all-linear" else [t for t in targets.split(",") if t],
            ),
        )
    if settings.init_from is not None:
        from .training.init_from import load_initial_state

        load_initial_state(model, rmt, settings.init_from, settings.mode)
    trainable, total = model.get_nb_trainable_parameters()
    what = {"full": "full fine-tuning", "lora": f"LoRA r={settings.lora_r} + memory + head", "memory": "memory + head"}
    print(
        f"{'ARMT' if settings.memory_type == 'associative' else 'RMT'} around {settings.model}: "
        f"{settings.num_memory_tokens} memory tokens, segments of {segment_size} tokens; "
        f"trainable params {trainable:,d} of {total:,d} ({what[settings.mode]})"
        + (f"; initialised from {settings.init_from}" if settings.init_from else "")
    )
    curriculum = SegmentCurriculum(
        list(settings.curriculum),
        stage_steps=stage_steps if len(stage_steps) > 1 else stage_steps[0],
        sampling=settings.sampling,
        metric="accuracy" if settings.eval_steps is not None else None,
        # Stages end by their step cap or by `stage_target`; a plateau alone never ends one (patience beyond any cap).
        patience=max(settings.max_steps, 1),
        target=settings.stage_target,
        seed=settings.seed,
    )
    plan = ", ".join(f"{n} x {segment_size} tokens for {s} steps" for n, s in zip(settings.curriculum, stage_steps))
    print(
        f"Task {spec.name!r} ({spec.description}); curriculum: {plan}; batch {settings.batch_size}, lr "
        f"{settings.learning_rate}"
    )
    samples = settings.max_steps * settings.batch_size * settings.gradient_accumulation_steps
    validate = settings.eval_steps is not None
    train_dataset, eval_dataset = train_and_eval_datasets(  # validation keeps the task's placement
        spec.name,
        tokenizer,
        curriculum,
        segment_size,
        samples,
        settings.eval_samples if validate else None,
        seed=settings.seed,
        placement=settings.placement,
        segment_alignment=rmt.config.resolved_segment_alignment,
    )
    args = TrainingArguments(
        output_dir=settings.output_dir,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        logging_steps=settings.logging_steps,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,
        save_total_limit=1,  # the latest checkpoint is what --resume needs; the trained model is saved apart
        report_to="none",
        dataloader_num_workers=0,
        seed=settings.seed,
        use_cpu=device == "cpu",
        bf16=settings.bf16,
        optim="adamw_torch",
        disable_tqdm=not progress_bar_enabled(),
        eval_strategy="steps" if validate else "no",
        eval_steps=settings.eval_steps,
        per_device_eval_batch_size=settings.eval_batch_size,
        torch_compile=settings.torch_compile,
        torch_compile_mode=settings.torch_compile_mode if settings.torch_compile else None,
        torch_compile_backend=settings.torch_compile_backend if settings.torch_compile else None,
    )
    curriculum_callback = CurriculumCallback(
        curriculum,
        keep_best=validate,
        chance=1 / spec.num_labels,
        stop_at_target=settings.stop_at_target,
        end_with_last_stage=True,  # --steps-per-stage caps the last stage too, whatever earlier stages left
    )
    # `timeout`, a preemption or Ctrl-C ends the run after the current step; the stage reached is saved below.
    stop_on_signal = StopOnSignalCallback()
    # bf16 backpropagation through many segments can overflow on a rare batch: skip that update rather than let
    # one NaN gradient turn every weight to NaN (hf_rmt.training.nonfinite), and stop when it keeps happening.
    skip_nonfinite = SkipNonFiniteStepsCallback()
    # RMTTrainer: with torch_compile it compiles the backbone's blocks, not the whole model (hf_rmt.training.compile).
    trainer = RMTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=RMTDataCollator(pad_token_id=tokenizer.pad_token_id or 0),
        compute_metrics=_accuracy if validate else None,
        callbacks=[curriculum_callback, stop_on_signal, skip_nonfinite],
    )
    began = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=settings.resume)
    seconds = time.perf_counter() - began
    save_trained(model, rmt, settings.output_dir)
    tokenizer.save_pretrained(settings.output_dir)
    # The longest input trained on: the last stage's, or the stage reached when a signal ended the run early.
    reached = curriculum.schedule[curriculum.stage]
    device_used = next(model.parameters()).device
    info = {
        "task": spec.name,
        "base_model": source,
        "segment_size": segment_size,
        "num_memory_tokens": settings.num_memory_tokens,
        "curriculum": list(settings.curriculum),
        "steps_per_stage": stage_steps,
        "sampling": settings.sampling,
        "placement": settings.placement,
        "trained_length": reached * segment_size,
        "batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "mode": settings.mode,
        **(
            {"lora_r": settings.lora_r, "lora_target_modules": settings.lora_target_modules}
            if settings.mode == "lora"
            else {}
        ),
        "lr": settings.learning_rate,
        "lr_scheduler": settings.lr_scheduler,
        "warmup_steps": settings.warmup_steps,
        "weight_decay": settings.weight_decay,
        "train_backbone": settings.train_backbone,
        "torch_compile": (settings.torch_compile_mode or "default") if settings.torch_compile else None,
        "init_from": settings.init_from,
        "resumed_from": settings.resume,
        "seed": settings.seed,
        "precision": "bf16 autocast" if settings.bf16 else "float32",
        "stage_target": settings.stage_target,
        "stop_at_target": settings.stop_at_target,
        "eval_steps": settings.eval_steps,
        "eval_samples": settings.eval_samples if settings.eval_steps is not None else None,
        "device": str(device_used),
        **run_environment(device_used),
        "train_seconds": round(seconds, 1),
        "steps": trainer.state.global_step,
        "stages": curriculum_callback.stage_results,
        "train_loss": result.training_loss,
        "final_losses": [log["loss"] for log in trainer.state.log_history if "loss" in log][-3:],
        "torch_threads": torch.get_num_threads(),
    }
    info.update(skip_nonfinite.record())
    if stop_on_signal.received is not None:
        info["stopped_by"] = stop_on_signal.received
    write_training_info(info, settings.output_dir)
    if skip_nonfinite.skipped_steps:
        print(skip_nonfinite.summary(f"in the stage of {reached} segments") + " Try a lower --lr, or no --bf16.")
    if stop_on_signal.received is not None:
        print(
            f"{stop_on_signal.received} ended training at step {trainer.state.global_step} of {settings.max_steps}, "
            f"in the stage of {reached} segments of {list(settings.curriculum)}."
        )
    print(f"Trained in {seconds:.0f} s (mean loss {result.training_loss:.3f}); saved to {settings.output_dir}")
    return model, tokenizer, info


def _accuracy(prediction: Any) -> dict[str, float]:
    """Trainer `compute_metrics`: accuracy of the class logits."""
    import numpy as np

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == prediction.label_ids).mean())}


__all__ = [
    "DEFAULT_LR",
    "EVAL_JSON",
    "EVAL_PLOT",
    "MAIN_BATCH_SIZE",
    "MAIN_CURRICULUM",
    "MAIN_EVAL_SAMPLES",
    "MAIN_EVAL_STEPS",
    "MAIN_LR",
    "MAIN_LR_SCHEDULER",
    "MAIN_MIN_ACCURACY",
    "MAIN_SEGMENT_SIZE",
    "MAIN_STAGE_TARGET",
    "MAIN_STEPS_PER_STAGE",
    "MAIN_TASK",
    "MAIN_TEST_SAMPLES",
    "MAIN_TEST_SEGMENTS",
    "MAIN_WARMUP_STEPS",
    "TRAINING_INFO_FILE",
    "TrainSettings",
    "card_training_info",
    "train",
]
